"""layerlens: see what happens inside a trained Keras image classifier.

``layerlens.analyze(model, images)`` runs the images through the model once
and returns an :class:`Analysis`: per-layer clusters and 2-D maps, every
image's path through the clusters, metrics and separability by depth, and
explanations of the most telling images. ``layerlens.explain(model, images,
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

import importlib
from typing import TYPE_CHECKING, Any

from layerlens._version import __version__

if TYPE_CHECKING:
    from layerlens import datasets, explain
    from layerlens._explain_run import explain_run
    from layerlens.analysis import Analysis, analyze
    from layerlens.explain import Explanation
    from layerlens.site import build_site
    from layerlens.store import load

__all__ = [
    "Analysis", "Explanation", "__version__", "analyze", "build_site", "datasets", "explain", "explain_run", "load",
]  # fmt: skip

# Where each public name lives. pandas and scikit-learn alone take over a second to import.
_HOMES = {
    "Analysis": "layerlens.analysis",
    "analyze": "layerlens.analysis",
    "build_site": "layerlens.site",
    "datasets": "layerlens.datasets",
    "explain": "layerlens.explain",
    "explain_run": "layerlens._explain_run",
    "Explanation": "layerlens.explain",
    "load": "layerlens.store",
}
# Packages that are themselves the public name (``layerlens.explain`` is callable as the function).
_PACKAGES = ("datasets", "explain")


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'layerlens' has no attribute {name!r}")
    module = importlib.import_module(_HOMES[name])
    value = module if name in _PACKAGES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
