"""Train the example CNN on synthetic brain-MRI phantoms (glioma, meningioma, no_tumor, pituitary) at 64x64.

Saves the model as MODELS/phantoms.keras (default: models/) and prints its test accuracy.
Run: python examples/train_phantoms.py [MODELS]
"""

import sys

from layerlens.app import zoo as zoo

if __name__ == "__main__":
    trained = zoo.train_example("phantoms", seed=0, verbose=2)
    path = zoo.save_example(trained, sys.argv[1] if len(sys.argv) > 1 else "models")
    seconds = trained.train_seconds
    print(f"phantoms: test accuracy {trained.test_accuracy:.3f}, trained in {seconds:.0f} s, saved to {path}")
