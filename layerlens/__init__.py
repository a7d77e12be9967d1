"""layerlens: see what happens inside a trained Keras image classifier.

``layerlens.analyze(model, images)`` runs the images through the model once
and returns an :class:`Analysis`: per-layer clusters and 2-D maps, every
image's path through the clusters, metrics and separability by depth.
``Analysis.save(dir)`` writes a run folder and ``layerlens.load(dir)`` reads it
back. Importing ``layerlens`` stays light: TensorFlow and Keras are imported
only when a model is analysed, so loading a stored run never pays for them.
"""

from layerlens import datasets
from layerlens._version import __version__
from layerlens.analysis import Analysis, analyze
from layerlens.store import load

__all__ = ["Analysis", "__version__", "analyze", "datasets", "load"]
