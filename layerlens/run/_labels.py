"""Class names and true labels: their checks, the order of the classes, and a check of that order.

A model's outputs have an order and the class names must follow it; labels come as indices, one-hot
rows, booleans, whole floats or class names. An ImageSet whose classes are the same names in another
order (class folders are read in sorted order) has its labels renumbered to the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerlens._util.validation import check_names
from layerlens._util.warn import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import ClassOrderWarning, InvalidInputError, InvalidTypeError
from layerlens.scores import ClassificationMetrics, best_class_matching

__all__ = ["check_labels", "precheck_reference", "renumber_by_name", "resolve_class_names", "warn_about_class_order"]

# A renaming of the classes must beat the given order by this much accuracy before we call the order
# suspect: far above what chance reshuffles of a weak model's confusions reach, far below what a
# swapped pair of classes costs (on the faces example, 0.96 against 0.04).
_CLASS_ORDER_MARGIN = 0.2
_CLASS_ORDER_MIN_IMAGES = 20


def warn_about_class_order(metrics: ClassificationMetrics) -> None:
    """Warn when the predictions fit the labels far better under another naming of the classes.

    Only the classes present among the labels are renamed among themselves: pairing a class with one
    that has no images would "explain" every error towards an absent class as a naming mistake.
    """
    present = np.flatnonzero(metrics.confusion.sum(axis=1) > 0)
    if metrics.n_images < _CLASS_ORDER_MIN_IMAGES or len(present) < 2:
        return
    among_present = metrics.confusion[np.ix_(present, present)]
    if among_present.sum() == 0:
        return  # every image predicted as a class absent from the labels: nothing to rename
    matched, share = best_class_matching(among_present)
    accuracy = share * among_present.sum() / metrics.n_images  # over all images, not only those on present classes
    if accuracy - metrics.accuracy < _CLASS_ORDER_MARGIN:
        return
    names = [metrics.class_names[c] for c in present]
    moved = ", ".join(f"{names[t]!r} as {names[p]!r}" for t, p in enumerate(matched) if t != p)
    warn_user(
        f"labels: the model predicts most images of {moved}. Read that way its accuracy would be "
        f"{accuracy:.3f} instead of {metrics.accuracy:.3f}: class_names (or the class folders, read in sorted "
        "order) are most likely not in the order of the model's outputs. Pass class_names in the order the "
        "model was trained with.",
        ClassOrderWarning,
    )


def resolve_class_names(
    class_names: Sequence[str] | None, own: Sequence[str] | None, n_classes: int
) -> tuple[tuple[str, ...], np.ndarray | None]:
    """The class names to use, and how to renumber the data's labels (over its ``own`` class names) to them."""
    if class_names is None:
        class_names = own if own is not None else [f"class {k}" for k in range(n_classes)]
        source = "the data's class names list"
    else:
        source = "class_names"
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise InvalidTypeError(f"class_names: expected a list of strings; received {class_names!r}.")
    names = tuple(class_names)
    if len(names) != n_classes:
        hint = " (name all of them with class_names=...)" if source != "class_names" and len(names) < n_classes else ""
        raise InvalidInputError(
            f"class_names: the model predicts {n_classes} classes, so {source} needs {n_classes} names{hint}; "
            f"received {len(names)}: {list(names)}."
        )
    names = check_names(names, "class_names")
    if own is None:
        return names, None
    return names, renumber_by_name(tuple(own), names, "class_names")


def renumber_by_name(own: tuple[str, ...], names: tuple[str, ...], argument: str) -> np.ndarray | None:
    """How labels over the class names ``own`` become labels over ``names``; None when they stay as they are.

    ``own`` may be ``names`` in another order, or some of them (a test folder without one class):
    each class then keeps its name. Names that share nothing with ``names``, as many of them, are new
    names for the same classes in the same order. Anything else is an error naming ``argument``.
    """
    if own == names:
        return None
    if set(own) <= set(names):
        return np.array([names.index(name) for name in own], dtype=np.int64)
    if not set(own) & set(names) and len(own) == len(names):
        return None  # new names for the same classes, in their order
    unknown = sorted(set(own) - set(names))
    raise InvalidInputError(
        f"{argument}: expected the ImageSet's class names {list(own)} to be among the model's classes {list(names)} "
        f"(in any order), or as many new names; {unknown} are not."
    )


def check_labels(labels: Any, class_names: tuple[str, ...], n_images: int | None, argument: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim == 1 and array.dtype.kind in "USO":
        if any(isinstance(v, (str, bytes)) for v in array.tolist()):
            array = _labels_from_names(array, class_names, argument)
        elif array.dtype.kind == "O":
            array = np.asarray(array.tolist())  # e.g. an object column of ints from a spreadsheet
    if array.dtype == bool:
        array = array.astype(np.int64)  # e.g. labels = df.diagnosis == "tumour" for a binary model
    if array.ndim == 2 and array.shape[1] == len(class_names) and array.shape[1] > 1:
        array = array.argmax(axis=1)  # one-hot labels, as used with categorical_crossentropy
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or _is_whole(array)):
        raise InvalidInputError(
            f"{argument}: expected class indices or class names of shape (N,); received {array.dtype} of shape "
            f"{array.shape}."
        )
    array = array.astype(np.int64)
    if n_images is not None and len(array) != n_images:
        raise InvalidInputError(f"{argument}: expected {n_images} labels, one per image; received {len(array)}.")
    if array.size and (array.min() < 0 or array.max() >= len(class_names)):
        raise InvalidInputError(
            f"{argument}: expected values in 0..{len(class_names) - 1} (one per class name); received "
            f"range {array.min()}..{array.max()}."
        )
    return array


def _labels_from_names(array: np.ndarray, class_names: tuple[str, ...], argument: str) -> np.ndarray:
    """Class names (e.g. ``["glioma", "no_tumor", ...]``) as class indices; unknown names are an error."""
    values = [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]
    if not all(isinstance(v, str) for v in values):
        kinds = sorted({type(v).__name__ for v in values})
        raise InvalidInputError(f"{argument}: expected class indices or class names; received a mix of {kinds}.")
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(values) - set(index))
    if unknown:
        raise InvalidInputError(
            f"{argument}: expected class names from {list(class_names)} (pass class_names to name the model's "
            f"classes); received unknown {unknown[:10]}{' ...' if len(unknown) > 10 else ''}."
        )
    return np.array([index[v] for v in values], dtype=np.int64)


def _is_whole(array: np.ndarray) -> bool:
    """Float labels such as 0.0/1.0 (binary models are often trained on them) count as integers."""
    return np.issubdtype(array.dtype, np.floating) and bool(np.all(np.isfinite(array) & (array == np.round(array))))


def precheck_reference(reference: Any) -> None:
    """What can be told of a reference set before any image goes through the model: labels, size."""
    if isinstance(reference, (ImageSet, ImageStream)):
        if len(reference) < 3:
            raise InvalidInputError(f"reference: expected at least 3 images to cluster; received {len(reference)}.")
        return
    if isinstance(reference, np.ndarray) or hasattr(reference, "numpy"):
        raise InvalidInputError(
            "reference: expected labelled images (the images the model was trained on, as an ImageSet, "
            "(images, labels) or (x, y) batches); received an array of images without labels."
        )
    if isinstance(reference, tuple) and len(reference) == 2 and isinstance(reference[0], np.ndarray):
        if len(np.asarray(reference[1])) != len(reference[0]):
            raise InvalidInputError(
                f"reference: expected one label per image; received {len(reference[0])} images and "
                f"{len(np.asarray(reference[1]))} labels."
            )


def precheck_probes(probes: Any, images: Any) -> None:
    """What can be told of probes before the pass: that they carry no labels, and their image shape."""
    expected = "images without labels (an array (P, H, W, C) or batches x), since probes belong to no class"
    if isinstance(probes, (ImageSet, ImageStream)):
        kind = type(probes).__name__
        raise InvalidInputError(
            f"probes: expected {expected}; received an {kind}, which labels its images"
            f"{' (pass its .images)' if kind == 'ImageSet' else ' (read the folder with datasets.read_images)'}."
        )
    if isinstance(probes, tuple) and len(probes) == 2 and all(hasattr(part, "shape") for part in probes):
        if len(np.shape(probes[1])) <= 2:
            raise InvalidInputError(f"probes: expected {expected}; received (images, labels).")
    if isinstance(probes, np.ndarray) and isinstance(images, (np.ndarray, ImageSet)):
        analysed = images.images if isinstance(images, ImageSet) else images
        wanted = _image_shape(analysed)
        if probes.ndim < 3 or probes.size == 0:
            raise InvalidInputError(
                f"probes: expected images (P, H, W, C) like the analysed images {wanted}; received an array of "
                f"shape {probes.shape}."
            )
        if probes.ndim == analysed.ndim - 1 and _image_shape(probes[np.newaxis]) == wanted:
            raise InvalidInputError(
                f"probes: expected a batch of images (P, {', '.join(map(str, wanted))}); received one image of "
                f"shape {probes.shape}: pass probes[np.newaxis]."
            )
        found = _image_shape(probes)
        if found != wanted:
            raise InvalidInputError(
                f"probes: expected images of the analysed images' shape {wanted}; received images of shape {found}."
            )


def _image_shape(images: np.ndarray) -> tuple[int, ...]:
    """(H, W, C) of a stack of images, one channel counted whether its axis is there or not."""
    shape = tuple(int(d) for d in images.shape[1:])
    return shape + (1,) if len(shape) == 2 else shape
