"""Images for a model: a bundled data set, a folder or a DICOM tree at the model's input shape.

What the command line and :func:`layerlens.explain_run` read when they are given a data set's name or a folder
rather than arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._stream import ImageStream
from layerlens.exceptions import InvalidInputError
from layerlens.options import BUNDLED_DATA, SPLITS

__all__ = ["load_data_for", "load_probes_for"]

# The demo's phantoms model is trained on make_phantoms(3200, seed=seed); its test split is the held-out quarter.
PHANTOM_COUNT = 3200


def load_data_for(
    data: str,
    input_shape: Sequence[int | None],
    *,
    seed: int = 0,
    split: str | None = None,
    test_size: float = 0.25,
    class_names: Sequence[str] | None = None,
    dicom: Mapping[str, Any] | None = None,
    stream: bool = False,
    progress: bool = False,
) -> ImageSet | ImageStream:
    """Images for a model with ``input_shape`` ``(H, W, C)``: a bundled data set or a folder.

    Parameters
    ----------
    data : str
        ``"phantoms"``, ``"mnist"``, ``"digits"`` or ``"faces"`` (resized to
        the model's input), or a folder in the class-per-folder layout.
    input_shape : sequence of int
        The model's input shape for one image.
    seed : int, default=0
        Seed of the train/test split (the demo trains with the same).
    split : {"all", "train", "test"}, optional
        Which images to return: all, or one side of a stratified split of
        ``test_size``. Default: ``"test"`` for a bundled data set (the
        images its example model never saw), ``"all"`` for a folder.
    test_size : float, default=0.25
        Share of the images in the test side of the split.
    class_names : sequence of str, optional
        For a folder: its class sub-folders in the order of the model's
        outputs (see :func:`layerlens.datasets.from_directory`).
    dicom : mapping, optional
        ``data`` is a DICOM tree: the options of
        :func:`layerlens.datasets.from_dicom` (``labels_csv``, ``sequence``,
        ``slices``); its grayscale slices are repeated into three channels for
        an RGB model.
    stream : bool, default=False
        For a folder or a DICOM tree: list the files now and read them batch
        by batch as the analysis goes (an
        :class:`~layerlens.datasets.ImageStream`), so memory stays bounded.
    progress : bool, default=False
        For a folder or a DICOM tree: show a progress bar of the files read.

    Returns
    -------
    ImageSet or ImageStream

    Raises
    ------
    InvalidInputError
        If ``data`` is neither a bundled name nor a folder, the model's input
        does not fit the data (e.g. RGB input for grayscale digits), or
        ``split`` / ``test_size`` are invalid.
    """
    from layerlens.datasets.folder import from_directory

    if split is not None and split not in SPLITS:
        raise InvalidInputError(f"split: expected one of {SPLITS}; received {split!r}.")
    if not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size: expected a share in (0, 1); received {test_size!r}.")
    height, width, channels = input_shape
    size = (height or 64, width or 64)
    if dicom is not None:
        from layerlens.datasets.dicom import from_dicom
        from layerlens.datasets.probes import match_shape

        images = from_dicom(data, image_size=size, class_names=class_names, stream=stream, progress=progress, **dicom)
        if channels not in (1, None) and isinstance(images, ImageStream):
            images = images.with_channels(channels)
        elif channels not in (1, None):
            images = replace(images, images=match_shape(images.images, np.zeros((1, *size, channels), np.float32)))
        return images if split in (None, "all") else getattr(images.split(test_size, seed=seed), split)
    if data not in BUNDLED_DATA:
        if not Path(data).is_dir():
            raise InvalidInputError(
                f"data: expected one of {BUNDLED_DATA} or a folder of class sub-folders; received {data!r}."
            )
        mode = "grayscale" if channels == 1 else "rgb"
        images = from_directory(
            data, image_size=size, color_mode=mode, class_names=class_names, stream=stream, progress=progress
        )
        if split in (None, "all"):
            return images
        return getattr(images.split(test_size, seed=seed), split)
    parts = _bundled(data, size, channels, seed, test_size)
    if split == "all":
        train, test = parts
        metadata = None
        if train.metadata is not None and test.metadata is not None:
            import pandas as pd

            metadata = pd.concat([train.metadata, test.metadata], ignore_index=True)
        return ImageSet(
            np.concatenate([train.images, test.images]),
            np.concatenate([train.labels, test.labels]),
            train.class_names,
            name=train.name,
            metadata=metadata,
        )
    return getattr(parts, split or "test")


def _bundled(data: str, size: tuple[int, int], channels: int | None, seed: int, test_size: float) -> Any:
    from layerlens.datasets.bundled import load_digits, load_faces, load_mnist
    from layerlens.datasets.phantoms import make_phantoms

    if channels not in (1, 3, None):  # a colour model gets the gray images repeated (analyze warns)
        raise InvalidInputError(
            f"data: the bundled data set {data!r} is grayscale, but the model expects {channels} channels."
        )
    if data == "phantoms":
        if size[0] != size[1]:
            raise InvalidInputError(f"data: phantoms are square; the model expects {size[0]}x{size[1]} images.")
        return make_phantoms(PHANTOM_COUNT, size=size[0], seed=seed, test_size=test_size)
    loader = {"mnist": load_mnist, "digits": load_digits, "faces": load_faces}[data]
    return loader(image_size=size, seed=seed, test_size=test_size)


def load_probes_for(
    probes: str, shape: tuple[int | None, ...], *, seed: int = 0, test_size: float = 0.25
) -> tuple[Any, tuple[str, ...] | None]:
    """The images of ``--probes`` and their files: a bundled data set's test split at the model's shape (no
    files), or every image of a folder."""
    from layerlens.datasets.folder import read_images
    from layerlens.datasets.probes import match_shape

    height, width, channels = (tuple(shape) + (None, None, None))[:3]
    size = (height or 64, width or 64)
    if probes in BUNDLED_DATA:
        images = _bundled(probes, size, 1, seed, test_size).test.images
        return match_shape(images, np.zeros((1, *size, channels or 1), np.float32)), None
    mode = "grayscale" if channels in (1, None) else "rgb"
    return read_images(probes, image_size=size, color_mode=mode)
