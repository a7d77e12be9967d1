"""What the analysed data says of itself before the pass: class names, file names, metadata, where to read it again.

An :class:`~layerlens.datasets.ImageSet` or :class:`~layerlens.datasets.ImageStream` carries its class names,
files, metadata and the folder it came from; a ``tf.data.Dataset`` made by Keras'
``image_dataset_from_directory`` carries its class names and file paths (see
:func:`layerlens.model._inputs.dataset_origin`); arrays and other batches carry nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.warn import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import DatasetWarning, InvalidInputError
from layerlens.run._labels import renumber_by_name, resolve_class_names

__all__ = ["DataFacts", "FILE_COLUMN", "data_facts", "split_file_column"]

#: A metadata column of this name is taken as the images' file names.
FILE_COLUMN = "file"


@dataclass(frozen=True)
class DataFacts:
    """What is known of the analysed images before the pass.

    Attributes
    ----------
    class_names : tuple of str
        The model's classes, as given or as the data names them.
    renumber : ndarray or None
        How labels found in the data become indices of ``class_names`` (None: as they are).
    files : tuple of str or None
        The file of each image, in order, when known.
    count : int or None
        How many images the data holds, when known before the pass.
    name : str or None
        The data set's name (an ImageSet's, a folder's).
    metadata : DataFrame or None
        The data's own metadata (one row per image).
    source : dict or None
        How to read the images again from their files (see :func:`layerlens.explain_run`).
    axes : str or None
        The order of the spatial axes of the data's volumes, when its reader says (None: images, or not said).
    """

    class_names: tuple[str, ...]
    renumber: np.ndarray | None
    files: tuple[str, ...] | None
    count: int | None
    name: str | None
    metadata: Any
    source: dict[str, Any] | None
    axes: str | None = None


def data_facts(images: Any, class_names: Sequence[str] | None, n_classes: int) -> DataFacts:
    """The :class:`DataFacts` of ``images``; a dataset whose file order cannot be trusted says why, once."""
    from layerlens.model import dataset_origin

    if isinstance(images, (ImageSet, ImageStream)):
        names, renumber = resolve_class_names(class_names, images.class_names, n_classes)
        return DataFacts(
            names,
            renumber,
            images.files,
            len(images),
            images.name,
            images.metadata,
            getattr(images, "source", None),
            _volume_axes(images),
        )
    origin = dataset_origin(images)
    names, renumber = resolve_class_names(class_names, origin.class_names, n_classes)
    if origin.why_no_files:
        warn_user(f"images: {origin.why_no_files}.", DatasetWarning)
    count = None if isinstance(images, (str, bytes)) else _count(images)
    source = None
    if origin.files is not None:
        spec = images.element_spec[0] if isinstance(images.element_spec, tuple) else images.element_spec
        shape = tuple(spec.shape)
        source = {
            "reader": "keras",
            "root": origin.root,
            "image_size": [int(d) for d in shape[1:3] if d],
            "channels": int(shape[3]) if len(shape) == 4 and shape[3] else None,
        }
        count = len(origin.files)
    name = None if origin.root is None else origin.root.rstrip("/").rsplit("/", 1)[-1]
    return DataFacts(names, renumber, origin.files, count, name, None, source)


def _volume_axes(images: ImageSet | ImageStream) -> str | None:
    """The axes an ImageSet or ImageStream of volumes records; None for images."""
    shape = images.image_shape if isinstance(images, ImageStream) else images.images.shape[1:]
    return getattr(images, "axes", None) if len(shape) == 4 else None


def _count(images: Any) -> int | None:
    if isinstance(images, np.ndarray):
        return len(images)
    if isinstance(images, tuple) and len(images) == 2 and isinstance(images[0], np.ndarray):
        return len(images[0])
    return None


def split_file_column(metadata: Any) -> tuple[Any, tuple[str, ...] | None]:
    """``metadata`` without its ``file`` column, and that column as the images' file names (None without one)."""
    if isinstance(metadata, pd.DataFrame) and FILE_COLUMN in metadata.columns:
        files = tuple(str(f) for f in metadata[FILE_COLUMN].tolist())
        rest = metadata.drop(columns=[FILE_COLUMN])
        return (rest if len(rest.columns) else None), files
    if isinstance(metadata, Mapping) and FILE_COLUMN in metadata:
        files = tuple(str(f) for f in np.asarray(metadata[FILE_COLUMN], dtype=object).tolist())
        rest = {k: v for k, v in metadata.items() if k != FILE_COLUMN}
        return (rest or None), files
    return metadata, None


def check_files(files: Sequence[str] | None, count: int, argument: str) -> tuple[str, ...] | None:
    """``files`` as one str per image, or an error naming ``argument``."""
    if files is None:
        return None
    if len(files) != count:
        raise InvalidInputError(f"{argument}: expected {count} file names, one per image; received {len(files)}.")
    return tuple(str(f) for f in files)


def renumbered(own: tuple[str, ...] | None, names: tuple[str, ...]) -> np.ndarray | None:
    """How labels over ``own`` become labels over ``names`` (see :func:`layerlens.run._labels.renumber_by_name`)."""
    return None if own is None else renumber_by_name(own, names, "class_names")
