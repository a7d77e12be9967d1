"""Which images of an analysis to explain, and their explanations, for ``analyze(..., explain=N)``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens._progress import Progress
from layerlens._warnings import warn_user
from layerlens.exceptions import ExplanationWarning, InvalidInputError, PixelScaleWarning
from layerlens.explain._explanation import METHODS, Explanation, method_options, run_method

if TYPE_CHECKING:
    import keras

__all__ = ["DEFAULT_METHODS", "check_explain", "choose_images", "explain_images", "to_display"]

#: The methods ``analyze`` explains by unless told otherwise.
DEFAULT_METHODS: tuple[str, ...] = ("lime", "gradcam")

# Two passes over the same images give the same probabilities up to float32 rounding; a stream that
# differs by more gave other images (shuffled or augmented on the fly).
_SAME_PROBABILITY = 1e-3


def check_explain(explain: Any, methods: Any) -> tuple[int, tuple[str, ...]]:
    """``explain`` as a count and ``methods`` as distinct known method names, or an error naming the argument."""
    from layerlens._validation import check_int

    count = check_int(explain, "explain", minimum=0)
    if isinstance(methods, str):
        methods = (methods,)
    try:
        chosen = tuple(dict.fromkeys(methods))
    except TypeError:
        chosen = ()
    if not chosen or any(not isinstance(m, str) or m not in METHODS for m in chosen):
        raise InvalidInputError(f"explain_methods: expected one or more of {METHODS}; received {methods!r}.")
    return count, chosen if count else ()


def choose_images(
    predictions: np.ndarray,
    confidence: np.ndarray,
    labels: np.ndarray | None,
    count: int,
    doubt: np.ndarray | None = None,
) -> np.ndarray:
    """The images to explain, in the order to show them.

    With labels: the misclassified images, most confident mistakes first; then the most doubtful correct
    ones (by ``doubt``, else the least confident); then, for comparison, the most confident correct image
    of every class, for which up to half of ``count`` is kept free. Without labels: the most doubtful
    images, then the most confident image of every predicted class.
    """
    n_images = len(predictions)
    count = min(count, n_images)
    sure_first = np.argsort(-confidence, kind="stable")
    correct = np.ones(n_images, bool) if labels is None else predictions == labels
    typical: list[int] = []
    for image in sure_first:
        if correct[image] and predictions[image] not in {predictions[t] for t in typical}:
            typical.append(int(image))
    typical = typical[: count // 2]
    mistakes = [int(i) for i in sure_first if not correct[i]]
    # Most doubtful first; without a doubt, the least confident (ties keep the order of the confidence).
    doubtful_first = sure_first[::-1] if doubt is None else np.argsort(-np.asarray(doubt), kind="stable")
    unsure = [int(i) for i in doubtful_first if correct[i] and i not in typical]
    rest = (mistakes + unsure)[: count - len(typical)]
    return np.array(rest + typical, dtype=np.int64)


def to_display(images: np.ndarray, display_range: tuple[float, float]) -> np.ndarray:
    """Images as uint8 ``(n, H, W, 1 or 3)`` for showing, ``display_range`` mapped to black..white."""
    lo, hi = display_range
    scaled = np.clip((images - lo) / (hi - lo), 0.0, 1.0)
    if scaled.shape[-1] not in (1, 3):
        scaled = scaled[..., :1]  # as the thumbnails: the first channel of other channel counts
    return np.round(scaled * 255.0).astype(np.uint8)


def explain_images(
    model: keras.Model,
    images: Any,
    *,
    chosen: np.ndarray,
    probabilities: np.ndarray,
    methods: Sequence[str],
    head: str,
    pixel_scale: float,
    batch_size: int,
    seed: int,
    progress: bool,
) -> tuple[list[Explanation], np.ndarray | None]:
    """Explanations of the analysed images at positions ``chosen``, for their predicted classes.

    ``images`` is what was analysed; it is read again for the chosen images. Returns the explanations
    (by image, then by method) and the chosen images as read, or nothing, with an
    :class:`ExplanationWarning`, when they cannot be read again as they were (a generator, or a stream
    that shuffles or augments). Grad-CAM is left out for a model without a convolution layer, with a
    warning when it was asked for by name (``methods`` other than :data:`DEFAULT_METHODS`).
    """
    from layerlens._inputs import fetch_rows
    from layerlens.explain._model import Scorer

    input_shape = tuple(model.inputs[0].shape[1:])
    x = fetch_rows(images, chosen, batch_size, input_shape)
    if x is None:
        warn_user(
            "explain: the images to explain could not be read a second time (they came as a one-shot iterator, a "
            "stream that ended early the second time, or files that went away during the analysis); no "
            "explanations were made. Pass an array, an ImageSet, an ImageStream or a tf.data.Dataset, or call "
            "layerlens.explain on the images.",
            ExplanationWarning,
        )
        return [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelScaleWarning)  # analyze has already said so, about all the images
        scorer = Scorer(model, x, pixel_scale, head=head)
    if np.abs(scorer.probabilities(x) - probabilities[chosen]).max() > _SAME_PROBABILITY:
        warn_user(
            "explain: the images read a second time are not the ones analysed (the stream shuffles or augments "
            "them), so no explanations were made. Pass a stream without shuffling or random augmentation.",
            ExplanationWarning,
        )
        return [], None

    if "gradcam" in methods and not scorer.has_convolution():
        if tuple(methods) != DEFAULT_METHODS:
            warn_user(
                "explain_methods: Grad-CAM needs a convolution layer with a spatial output and this model has none; "
                "its explanations were left out.",
                ExplanationWarning,
            )
        methods = [m for m in methods if m != "gradcam"]
    bar = Progress(len(chosen) * len(methods), "explanation") if progress else None
    targets = probabilities[chosen].argmax(axis=1)
    by_method = []
    for method in methods:
        run, options = method_options(method, {})
        # LIME runs the model a thousand times per image: the bar moves image by image.
        step = 1 if method == "lime" else len(chosen)
        made: list[Explanation] = []
        for start in range(0, len(chosen), step):
            made += run_method(run, scorer, x[start : start + step], targets[start : start + step], seed, options)
            if bar is not None:
                bar.add(len(x[start : start + step]))
        by_method.append(made)
    if bar is not None:
        bar.close()
    explanations = [_at(e, int(image)) for image, per_image in zip(chosen, zip(*by_method)) for e in per_image]
    return explanations, x


def _at(explanation: Explanation, image: int) -> Explanation:
    from dataclasses import replace

    return replace(explanation, image_index=image)
