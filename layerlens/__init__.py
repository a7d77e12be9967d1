"""layerlens: see what happens inside a trained Keras image classifier.

``layerlens.analyze(model, images)`` runs the images through the model once
and returns an :class:`Analysis`: per-layer clusters and 2-D maps, every
image's path through the clusters, metrics and separability by depth, and
explanations of the most telling images. ``layerlens.explanations(model, images,
method=...)`` explains any images by LIME, Grad-CAM, integrated gradients or
SmoothGrad.
``Analysis.save(dir)`` writes a run folder and ``layerlens.load(dir)`` reads it
back; ``layerlens.build_site(runs, out="output_site")`` turns runs into a static
website to browse offline. Importing ``layerlens`` stays light: each public name is imported on
first use, TensorFlow and Keras only when a model is analysed, so loading a
stored run never pays for them and the command line answers a bad argument at
once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlens._util.lazy import lazy_names
from layerlens._version import __version__

if TYPE_CHECKING:
    from layerlens import datasets
    from layerlens.explanations import Explanation, explain
    from layerlens.run import Analysis, analyze, explain_run, load
    from layerlens.site import build_site

__all__ = [
    "Analysis", "Explanation", "__version__", "analyze", "build_site", "datasets", "explain", "explain_run", "load",
]  # fmt: skip

# Where each public name lives. pandas and scikit-learn alone take over a second to import.
_HOMES = {
    "Analysis": "layerlens.run",
    "analyze": "layerlens.run",
    "build_site": "layerlens.site",
    "datasets": "layerlens.datasets",
    "explain": "layerlens.explanations",
    "explain_run": "layerlens.run",
    "Explanation": "layerlens.explanations",
    "load": "layerlens.run",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__, modules=("datasets",))
