"""Train the example Conv3D on synthetic head volumes (cystic, enhancing, no_tumor, ring_enhancing) at 32x32x32.

Saves the model as MODELS/volumes.keras (default: models/) and prints its test accuracy.
Run: python examples/train_volumes.py [MODELS]
"""

import sys

from layerlens.app import zoo as zoo

if __name__ == "__main__":
    trained = zoo.train_example("volumes", seed=0, verbose=2)
    path = zoo.save_example(trained, sys.argv[1] if len(sys.argv) > 1 else "models")
    seconds = trained.train_seconds
    print(f"volumes: test accuracy {trained.test_accuracy:.3f}, trained in {seconds:.0f} s, saved to {path}")
