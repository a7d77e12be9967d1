"""layerlens: see what happens inside a trained Keras image classifier.

Importing ``layerlens`` stays light: TensorFlow and Keras are imported only by
the modules that run models (``layerlens.zoo`` and, later, the analysis), so
loading a stored run and building its site never pays for them.
"""

from layerlens import datasets
from layerlens._version import __version__

__all__ = ["__version__", "datasets"]
