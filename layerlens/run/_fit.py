"""The images the layers are fitted on: the reference set (or the analysed images) and the probes, as extracted.

The fit set is taken in an order of its content (:func:`content_order`), so that the fit does not depend on
the order the images came in.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlens._util.warn import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import InvalidInputError, InvalidTypeError, SkippedFilesWarning
from layerlens.model import to_probabilities
from layerlens.run._labels import check_labels, renumber_by_name

__all__ = ["FitSet", "ProbeInput", "content_order", "probe_input", "reference_fit_set"]



@dataclass(frozen=True, eq=False)
class FitSet:
    """The reference images' extraction, as far as the analysis needs it."""

    name: str
    features: tuple[np.ndarray, ...]
    labels: np.ndarray
    predictions: np.ndarray
    thumbnails: np.ndarray | None = None
    files: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return f"<FitSet {self.name!r}: {len(self.labels):,} images, {len(self.features)} layers>"


@dataclass(frozen=True, eq=False)
class ProbeInput:
    """The probes' extraction, as far as the analysis needs it."""

    name: str
    features: tuple[np.ndarray, ...]
    probabilities: np.ndarray
    thumbnails: np.ndarray
    files: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return f"<ProbeInput {self.name!r}: {len(self.probabilities):,} probes, {len(self.features)} layers>"


def reference_fit_set(
    model: Any,
    reference: Any,
    extraction: Any,
    class_names: tuple[str, ...],
    head: str,
    pixel_scale: float | str,
    options: dict[str, Any],
) -> Any:
    """The reference images through the same layers and reductions, with their labels in the model's class order."""
    from layerlens.model import extract

    reference_set = reference if isinstance(reference, (ImageSet, ImageStream)) else None
    renumber = None
    if reference_set is not None:
        renumber = renumber_by_name(reference_set.class_names, class_names, "reference")
    layer_names = [info.name for info in extraction.layers]
    fitted = extract(model, reference, layers=layer_names, pixel_scale=pixel_scale, **options)
    if fitted.labels is None:
        raise InvalidInputError(
            "reference: expected labelled images (the images the model was trained on, as an ImageSet, "
            "(images, labels) or (x, y) batches); received images without labels."
        )
    if len(fitted.labels) < 3:
        raise InvalidInputError(f"reference: expected at least 3 images to cluster; received {len(fitted.labels)}.")
    found = fitted.labels if renumber is None else renumber[fitted.labels]
    labels = check_labels(found, class_names, len(fitted.labels), "reference (its labels)")
    predictions = to_probabilities(fitted.outputs, head).argmax(axis=1).astype(np.int64)
    name = reference_set.name if reference_set is not None else "reference"
    files = None
    if reference_set is not None and reference_set.files is not None:
        rows = fitted.source_rows if fitted.source_rows is not None else np.arange(len(fitted.labels))
        files = tuple(reference_set.files[i] for i in rows)
    return FitSet(name, fitted.features, labels, predictions, fitted.thumbnails, files)


def probe_input(
    model: Any,
    probes: Any,
    extraction: Any,
    head: str,
    pixel_scale: float | str,
    options: dict[str, Any],
    files: Sequence[str] | None = None,
) -> ProbeInput:
    """The probes through the analysed layers; they must carry no labels.

    ``pixel_scale`` is resolved on the probes' own pixel range, as for the reference: probes in [0, 1]
    beside analysed images in 0..255 (or the reverse) still reach the model as it expects.
    """
    from layerlens.model import extract

    with _errors_named("probes"):
        layers = [info.name for info in extraction.layers]
        found = extract(model, probes, layers=layers, pixel_scale=pixel_scale, **options)
    if found.labels is not None:
        raise InvalidInputError(
            "probes: expected images without labels (an array (P, H, W, C) or batches x), since probes belong "
            "to no class; received batches (x, y)."
        )
    if found.image_shape != extraction.image_shape:
        raise InvalidInputError(
            f"probes: expected images of the analysed images' shape {extraction.image_shape}; received images of "
            f"shape {found.image_shape}."
        )
    if files is not None and len(files) != len(found.outputs):
        raise InvalidInputError(
            f"probe_files: expected {len(found.outputs)} file names, one per probe; received {len(files)}."
        )
    names = None if files is None else tuple(str(f) for f in files)
    return ProbeInput("probes", found.features, to_probabilities(found.outputs, head), found.thumbnails, names)


@contextmanager
def _errors_named(argument: str) -> Iterator[None]:
    """Errors and warnings about the ``images`` of :func:`~layerlens.model.extract` renamed for the argument
    they came from."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except (InvalidInputError, InvalidTypeError) as error:
            text = str(error)
            if not text.startswith("images"):
                raise
            raise type(error)(argument + text[len("images") :]) from error
    for record in caught:
        warn_user(_renamed(record.message, argument), record.category)


def _renamed(message: Warning | str, argument: str) -> Warning | str:
    """A warning about "images" said of ``argument``; a warning class that takes other arguments than its text
    (such as :class:`SkippedFilesWarning`) is given its own ``files`` again."""
    text = str(message)
    if not isinstance(message, Warning) or not text.startswith("images"):
        return message
    renamed = argument + text[len("images") :]
    if isinstance(message, SkippedFilesWarning):
        return SkippedFilesWarning(renamed, message.files)
    return type(message)(renamed)


def content_order(features: Sequence[np.ndarray], columns: int = 4) -> np.ndarray:
    """An order of images that follows their content, whatever order they came in.

    Sorted by the first ``columns`` features of every layer, each rounded to a thousandth of its spread:
    float32 sums that differ in their last bits between batch sizes seldom cross a rounding step, and
    images that tie on every key are alike enough that their order does not move the clusters.

    Examples
    --------
    >>> f = np.array([[3.0], [1.0], [2.0]])
    >>> content_order([f]).tolist(), content_order([f[::-1]]).tolist()
    ([1, 2, 0], [0, 1, 2])
    """
    keys = []
    for layer in features:
        part = np.asarray(layer[:, :columns], dtype=np.float64)
        spread = part.std(axis=0)
        spread[~(spread > 0)] = 1.0
        keys.append(np.round((part - part.mean(axis=0)) / spread, 3))
    table = np.concatenate(keys, axis=1)
    return np.lexsort(table.T[::-1]) if table.shape[1] else np.arange(len(table))
