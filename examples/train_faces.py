"""Train the example CNN on scikit-image's LFW subset (face / non_face) with a single sigmoid output.

Saves the model as MODELS/faces.keras (default: models/) and prints its test accuracy.
Run: python examples/train_faces.py [MODELS]
"""

import sys

from layerlens.app import zoo as zoo

if __name__ == "__main__":
    trained = zoo.train_example("faces", seed=0, verbose=2)
    path = zoo.save_example(trained, sys.argv[1] if len(sys.argv) > 1 else "models")
    seconds = trained.train_seconds
    print(f"faces: test accuracy {trained.test_accuracy:.3f}, trained in {seconds:.0f} s, saved to {path}")
