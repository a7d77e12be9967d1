"""The one result type and the one calling convention of the explanation methods."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.validation import check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.explanations._registry import METHODS

if TYPE_CHECKING:
    import keras

__all__ = ["METHODS", "Explanation", "explain"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why a classifier gave an image a class, as a heat map over the image.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    target : int
        The class explained (by default the predicted one).
    heatmap : ndarray of shape (H, W), float32
        At the image's resolution; positive values speak for ``target``, negative ones against it (LIME,
        integrated gradients, SmoothGrad; Grad-CAM keeps only the positive part, as its authors do).
    seconds : float
        Wall time spent on this image (a batch's time shared evenly among its images); NaN for an
        explanation read from a run folder, which does not store timings.
    segments : ndarray of shape (H, W), int32, or None
        LIME only: the superpixel of every pixel, ``0 .. S - 1``.
    segment_weights : ndarray of shape (S,), float32, or None
        LIME only: each superpixel's weight for ``target`` in LIME's local linear model.
    layer : str or None
        Grad-CAM only: the layer whose maps were weighted.
    image_index : int or None
        Position of the image in the analysed set, for explanations stored with an analysis.
    """

    method: str
    target: int
    heatmap: np.ndarray
    seconds: float
    segments: np.ndarray | None = None
    segment_weights: np.ndarray | None = None
    layer: str | None = None
    image_index: int | None = None

    def __repr__(self) -> str:
        where = "" if self.image_index is None else f" image {self.image_index},"
        extra = "" if self.segments is None else f", {len(self.segment_weights)} segments"
        return (
            f"<Explanation {self.method}:{where} class {self.target}, heat map {self.heatmap.shape[0]}x"
            f"{self.heatmap.shape[1]} in [{self.heatmap.min():.3g}, {self.heatmap.max():.3g}]{extra}, "
            f"{self.seconds:.3f} s>"
        )

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """JSON-ready description; the heat map and segments are stored as arrays beside it.

        ``timing=False`` leaves ``seconds`` out (a run folder does, so that the same analysis always
        saves to the same bytes); :meth:`from_dict` then gives NaN seconds.
        """
        return {
            "method": self.method,
            "target": int(self.target),
            **({"seconds": encode_float(self.seconds)} if timing else {}),
            "layer": self.layer,
            "image_index": self.image_index,
            "segment_weights": None
            if self.segment_weights is None
            else [encode_float(float(w)) for w in self.segment_weights],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, heatmap: np.ndarray, segments: np.ndarray | None = None
    ) -> Explanation:
        """Rebuild an explanation from :meth:`to_dict` and its arrays."""
        weights = data["segment_weights"]
        return cls(
            method=data["method"],
            target=int(data["target"]),
            heatmap=heatmap,
            seconds=decode_float(data["seconds"]) if "seconds" in data else float("nan"),
            segments=segments,
            segment_weights=None if weights is None else np.array([decode_float(w) for w in weights], np.float32),
            layer=data["layer"],
            image_index=data["image_index"],
        )


def explain(
    model: keras.Model,
    images: Any,
    *,
    method: str = "lime",
    targets: Any = None,
    seed: int = 0,
    pixel_scale: float | str = "auto",
    preprocess: Any = None,
    **options: Any,
) -> list[Explanation] | Explanation:
    """Explain a classifier's predictions for some images, by one of four methods.

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional classifier with one image input: softmax, one sigmoid unit (explained as
        two classes) or logits; nested models (a base network inside a Sequential) are entered.
    images : ndarray of shape (N, H, W, C) or (H, W, C)
        The images, as the model expects them; a single image gives a single :class:`Explanation`.
    method : {"lime", "gradcam", "integrated_gradients", "smoothgrad"}, default="lime"
        See the method's module for what it does and its options.
    targets : int or sequence of int, optional
        The class to explain for each image (one int for all); default: the predicted class.
    seed : int, default=0
        Seed of every random choice (LIME's samples, SmoothGrad's noise; SLIC is deterministic): the same call
        gives the same heat maps.
    pixel_scale : float or "auto", default="auto"
        Factor applied to the images on their way into the model, as in :func:`layerlens.analyze`.
    preprocess : callable or str, optional
        Applied after ``pixel_scale``, as in :func:`layerlens.analyze` (a ``keras.applications`` family name
        or a tensor function); gradients are taken through it.
    **options
        Options of the method: LIME ``num_samples`` (1000), ``n_segments`` (100); Grad-CAM ``layer``
        (default: found); integrated gradients ``steps`` (32); SmoothGrad ``samples`` (25) and ``noise``
        (0.15 of the pixel range).

    Returns
    -------
    list of Explanation, or Explanation
        One per image, in order; a single one for a single image.

    Raises
    ------
    InvalidInputError
        If ``method`` is unknown, an option is not the method's, a target is outside the classes, the
        images do not fit the model, or Grad-CAM finds no convolution layer.

    Examples
    --------
    >>> es = ll.explain(model, test.images[:4], method="gradcam")     # doctest: +SKIP
    >>> es[0].heatmap.shape                                            # doctest: +SKIP
    (64, 64)
    """
    from layerlens.explanations._model import Scorer, check_images, check_targets
    from layerlens.model import check_model

    run, chosen_options = method_options(method, options)
    seed = check_seed(seed)
    check_model(model)
    x, single = check_images(images, tuple(model.inputs[0].shape[1:]))
    integer_pixels = np.issubdtype(np.asarray(images).dtype, np.integer)
    scorer = Scorer(model, x, pixel_scale, integer_pixels=integer_pixels, preprocess=preprocess)
    predicted = scorer.probabilities(x).argmax(axis=1)
    chosen = check_targets(targets, len(x), scorer.n_classes, predicted)
    explanations = run_method(run, scorer, x, chosen, seed, chosen_options)
    return explanations[0] if single else explanations


def method_options(method: Any, options: Mapping[str, Any]) -> tuple[Callable[..., list[Explanation]], dict[str, Any]]:
    """The function of ``method`` and its options (the defaults updated by ``options``), or an error naming them."""
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidInputError(f"method: expected one of {METHODS}; received {method!r}.")
    run, defaults = _method(method)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise InvalidInputError(
            f"options: {method} takes {sorted(defaults)}; received unknown {unknown}."
            if defaults
            else f"options: {method} takes none; received {unknown}."
        )
    return run, {**defaults, **options}


def run_method(
    run: Callable[..., list[Explanation]],
    scorer: Any,
    images: np.ndarray,
    targets: np.ndarray,
    seed: int,
    options: Mapping[str, Any],
) -> list[Explanation]:
    """Explanations of checked ``images`` for ``targets`` by ``run``, each with the seconds it took."""
    start = time.perf_counter()
    explanations = run(scorer, images, targets, seed, **options)
    if explanations and explanations[0].method != "lime":  # LIME times each image itself
        share = (time.perf_counter() - start) / len(images)
        explanations = [_with_seconds(e, share) for e in explanations]
    return explanations


def _with_seconds(explanation: Explanation, seconds: float) -> Explanation:
    from dataclasses import replace

    return replace(explanation, seconds=seconds)


def _method(method: str) -> tuple[Callable[..., list[Explanation]], dict[str, Any]]:
    """The method's function and its options' defaults."""
    if method == "lime":
        from layerlens.explanations import lime

        return lime.explain_lime, dict(lime.DEFAULTS)
    if method == "gradcam":
        from layerlens.explanations import gradcam

        return gradcam.explain_gradcam, dict(gradcam.DEFAULTS)
    if method == "integrated_gradients":
        from layerlens.explanations import integrated_gradients

        return integrated_gradients.explain_integrated_gradients, dict(integrated_gradients.DEFAULTS)
    from layerlens.explanations import smoothgrad

    return smoothgrad.explain_smoothgrad, dict(smoothgrad.DEFAULTS)
