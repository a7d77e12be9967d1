"""Explanations of a classifier's predictions: LIME, Grad-CAM, integrated gradients and SmoothGrad.

Every method takes the same call, :func:`explain`, and returns the same result, :class:`Explanation`: a
heat map at the image's resolution in which positive values speak for the explained class. One module
per method: :mod:`layerlens.explain.lime`, :mod:`layerlens.explain.gradcam`,
:mod:`layerlens.explain.integrated_gradients`, :mod:`layerlens.explain.smoothgrad`.

``layerlens.explain`` is this package and also the function: ``ll.explain(model, images, method="lime")``
calls :func:`explain`.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from layerlens.explain._methods import METHODS

if TYPE_CHECKING:
    from layerlens.explain._explanation import Explanation, explain

__all__ = ["METHODS", "Explanation", "explain"]


def __getattr__(name: str) -> Any:
    # numpy and the rest load on first use: the command line reads METHODS before anything heavy.
    if name not in ("Explanation", "explain"):
        raise AttributeError(f"module 'layerlens.explain' has no attribute {name!r}")
    value = getattr(importlib.import_module("layerlens.explain._explanation"), name)
    globals()[name] = value
    return value


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`explain`.

    Importing a submodule (``layerlens.explain.lime``) makes Python set ``layerlens.explain`` to the
    package, whatever the attribute held before; a callable package keeps ``ll.explain(...)`` working
    however the names were imported.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from layerlens.explain._explanation import explain

        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
