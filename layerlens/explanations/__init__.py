"""Explanations of a classifier's predictions: LIME, Grad-CAM, integrated gradients and SmoothGrad.

Every method takes the same call, :func:`explain`, and returns the same result, :class:`Explanation`: a heat
map at the image's resolution in which positive values speak for the explained class. Volumes (a model of
3-D inputs, ``(N, D, H, W, C)``) are explained alike, each by a heat map ``(D, H, W)``. One module per method,
named after it; one registry (:data:`REGISTRY`, an :class:`ExplanationMethod` per method) of where each function
lives, its defaults, title and caption, which :func:`explain`, the figures, the site and the command line read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlens._util.lazy import lazy_names

if TYPE_CHECKING:
    from layerlens.explanations._candidates import BUFFER_BYTES, Candidates
    from layerlens.explanations._choice import (
        DEFAULT_BUDGET,
        Explained,
        check_explain,
        choose_images,
        explain_images,
        explanation_note,
        images_to_choose,
        to_display,
    )
    from layerlens.explanations._explain import explain
    from layerlens.explanations._model import Scorer
    from layerlens.explanations._registry import DEFAULT_METHODS, METHODS, REGISTRY, ExplanationMethod, method_title
    from layerlens.explanations._result import Explanation
    from layerlens.explanations.gradcam import explain_gradcam
    from layerlens.explanations.integrated_gradients import explain_integrated_gradients
    from layerlens.explanations.lime import blurred, explain_lime, segment
    from layerlens.explanations.smoothgrad import explain_smoothgrad

__all__ = [
    "BUFFER_BYTES",
    "Candidates",
    "DEFAULT_BUDGET",
    "DEFAULT_METHODS",
    "Explained",
    "Explanation",
    "ExplanationMethod",
    "METHODS",
    "REGISTRY",
    "Scorer",
    "blurred",
    "check_explain",
    "choose_images",
    "explain",
    "explain_gradcam",
    "explain_images",
    "explain_integrated_gradients",
    "explain_lime",
    "explain_smoothgrad",
    "explanation_note",
    "images_to_choose",
    "method_title",
    "segment",
    "to_display",
]

# Where each public name lives; a name is imported on first use (TensorFlow only when it is needed).
_HOMES = {
    "BUFFER_BYTES": "layerlens.explanations._candidates",
    "Candidates": "layerlens.explanations._candidates",
    "DEFAULT_BUDGET": "layerlens.explanations._choice",
    "DEFAULT_METHODS": "layerlens.explanations._registry",
    "Explained": "layerlens.explanations._choice",
    "Explanation": "layerlens.explanations._result",
    "ExplanationMethod": "layerlens.explanations._registry",
    "METHODS": "layerlens.explanations._registry",
    "REGISTRY": "layerlens.explanations._registry",
    "Scorer": "layerlens.explanations._model",
    "blurred": "layerlens.explanations.lime",
    "check_explain": "layerlens.explanations._choice",
    "choose_images": "layerlens.explanations._choice",
    "explain": "layerlens.explanations._explain",
    "explain_gradcam": "layerlens.explanations.gradcam",
    "explain_images": "layerlens.explanations._choice",
    "explain_integrated_gradients": "layerlens.explanations.integrated_gradients",
    "explain_lime": "layerlens.explanations.lime",
    "explain_smoothgrad": "layerlens.explanations.smoothgrad",
    "explanation_note": "layerlens.explanations._choice",
    "images_to_choose": "layerlens.explanations._choice",
    "method_title": "layerlens.explanations._registry",
    "segment": "layerlens.explanations.lime",
    "to_display": "layerlens.explanations._choice",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
