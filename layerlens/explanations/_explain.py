"""The one calling convention of the explanation methods: check the call once, then run the method's function."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens._util.validation import check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.explanations._registry import REGISTRY, ExplanationMethod
from layerlens.explanations._result import Explanation

if TYPE_CHECKING:
    import keras

__all__ = ["explain", "method_options", "run_method"]


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
    """Explain a classifier's predictions for some images, by one of the registered methods.

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional classifier with one image input ``(batch, H, W, C)`` or one volume input
        ``(batch, D, H, W, C)`` (a Conv3D network of CT, MRI or PET volumes): softmax, one sigmoid unit
        (explained as two classes) or logits; nested models (a base network inside a Sequential) are entered.
    images : ndarray of shape (N, H, W, C) or (H, W, C); or (N, D, H, W, C) or (D, H, W, C)
        The images, as the model expects them; a single image gives a single :class:`Explanation`. A
        model of volumes takes volumes of its input's shape, and each heat map is then ``(D, H, W)``
        (Grad-CAM's read from the last 3-D convolution, LIME's over supervoxels).
    method : str, default="lime"
        A name of :data:`~layerlens.explanations.REGISTRY`: "lime", "gradcam", "integrated_gradients" or
        "smoothgrad". See the method's module for what it does and its options.
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
        Options of the method, each defaulting to its value in the method's registry entry (``defaults``):
        LIME ``num_samples``, ``n_segments`` (default: 100 for an image, one supervoxel per 64 voxels,
        100 to 600, for a volume); Grad-CAM ``layer`` (default: found); integrated gradients
        ``steps``; SmoothGrad ``samples`` and ``noise`` (a share of the pixel range).

    Returns
    -------
    list of Explanation, or Explanation
        One per image, in order; a single one for a single image.

    Raises
    ------
    InvalidInputError
        If ``method`` is unknown, an option is not the method's, a target is outside the classes, the
        images do not fit the model (such as 2-D images for a model of volumes, volumes for a 2-D model or
        volumes of another size), or Grad-CAM finds no convolution layer.

    Examples
    --------
    >>> es = ll.explain(model, test.images[:4], method="gradcam")     # doctest: +SKIP
    >>> es[0].heatmap.shape                                            # doctest: +SKIP
    (64, 64)
    """
    from layerlens.explanations._model import Scorer, check_images, check_targets
    from layerlens.model import check_model

    entry, chosen_options = method_options(method, options)
    seed = check_seed(seed)
    check_model(model)
    x, single = check_images(images, tuple(model.inputs[0].shape[1:]))
    integer_pixels = np.issubdtype(np.asarray(images).dtype, np.integer)
    scorer = Scorer(model, x, pixel_scale, integer_pixels=integer_pixels, preprocess=preprocess)
    predicted = scorer.probabilities(x).argmax(axis=1)
    chosen = check_targets(targets, len(x), scorer.n_classes, predicted)
    explanations = run_method(entry, scorer, x, chosen, seed, chosen_options)
    return explanations[0] if single else explanations


def method_options(method: Any, options: Mapping[str, Any]) -> tuple[ExplanationMethod, dict[str, Any]]:
    """The registry entry of ``method`` and its options (the entry's defaults updated by ``options``).

    Raises
    ------
    InvalidInputError
        If ``method`` is not registered (naming the registered ones) or an option is not the method's.
    """
    if not isinstance(method, str) or method not in REGISTRY:
        raise InvalidInputError(f"method: expected one of {tuple(REGISTRY)}; received {method!r}.")
    entry = REGISTRY[method]
    unknown = sorted(set(options) - set(entry.defaults))
    if unknown:
        raise InvalidInputError(
            f"options: {method} takes {sorted(entry.defaults)}; received unknown {unknown}."
            if entry.defaults
            else f"options: {method} takes none; received {unknown}."
        )
    return entry, {**entry.defaults, **options}


def run_method(
    entry: ExplanationMethod,
    scorer: Any,
    images: np.ndarray,
    targets: np.ndarray,
    seed: int,
    options: Mapping[str, Any],
) -> list[Explanation]:
    """Explanations of checked ``images`` for ``targets`` by the method of ``entry``, each with the seconds it took."""
    run = entry.load()  # before the clock starts: the first call imports the method's module
    start = time.perf_counter()
    explanations = run(scorer, images, targets, seed, **options)
    if explanations and not entry.times_each_image:
        share = (time.perf_counter() - start) / len(images)
        explanations = [replace(e, seconds=share) for e in explanations]
    return explanations
