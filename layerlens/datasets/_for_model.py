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
from layerlens.options import BUNDLED_DATA, SPLITS, VOLUME_AXES, check_axes

__all__ = ["load_data_for", "load_probes_for"]

# The demo's phantoms model is trained on make_phantoms(3200, seed=seed); its test split is the held-out quarter.
PHANTOM_COUNT = 3200
# The demo's volume model is trained on make_volume_phantoms(400, seed=seed); its test split is the held-out quarter.
VOLUME_PHANTOM_COUNT = 400


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
    volume: Mapping[str, Any] | None = None,
) -> ImageSet | ImageStream:
    """Images for a model with ``input_shape`` ``(H, W, C)``, or volumes for one with ``(D, H, W, C)``: a bundled
    data set, a folder or a DICOM tree.

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
    volume : mapping, optional
        For a model that takes volumes: ``axes`` (the order of its input's spatial axes, default ``"DHW"``),
        ``window`` and ``spacing`` (see :func:`layerlens.datasets.from_nifti`). Its data is then a folder of
        NIfTI class folders (:func:`~layerlens.datasets.from_nifti`), a DICOM tree read a series per volume
        (``from_dicom(..., slices="volume")``), or ``"phantoms"``
        (:func:`~layerlens.datasets.make_volume_phantoms`).

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
    if len(input_shape) == 4:
        return _volumes_for(data, input_shape, seed, split, test_size, class_names, dicom, stream, progress, volume)
    if dicom is not None and dicom.get("slices") == "volume":
        raise InvalidInputError(
            f"slices: 'volume' reads each series as one volume, but the model takes 2-D images {tuple(input_shape)}."
        )
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


def _volumes_for(
    data: str,
    input_shape: Sequence[int | None],
    seed: int,
    split: str | None,
    test_size: float,
    class_names: Sequence[str] | None,
    dicom: Mapping[str, Any] | None,
    stream: bool,
    progress: bool,
    volume: Mapping[str, Any] | None,
) -> ImageSet | ImageStream:
    """Volumes at the model's input shape: NIfTI class folders, DICOM series or the volume phantoms."""
    from layerlens.datasets.nifti import from_nifti
    from layerlens.datasets.phantoms.volumes import make_volume_phantoms

    options = dict(volume or {})
    axes = check_axes(options.pop("axes", None) or VOLUME_AXES)
    spatial = dict(zip(axes, input_shape[:3]))
    if any(size is None for size in spatial.values()):
        raise InvalidInputError(
            f"model: expected a volume input of fixed size to read volumes for; received {tuple(input_shape)}."
        )
    shape = tuple(int(spatial[axis]) for axis in "DHW")  # type: ignore[arg-type]
    channels = input_shape[3]
    if channels not in (1, None):
        raise InvalidInputError(
            f"model: the volume readers give one channel; the model takes {channels} (pass the volumes as arrays)."
        )
    if dicom is not None:
        from layerlens.datasets.dicom import from_dicom

        asked = {**dicom, "slices": "volume"}
        images = from_dicom(
            data, shape=shape, axes=axes, class_names=class_names, stream=stream, progress=progress, **asked, **options
        )
    elif data == "phantoms":
        if len(set(shape)) != 1:
            raise InvalidInputError(f"data: volume phantoms are cubes; the model takes {shape} volumes (D, H, W).")
        images = make_volume_phantoms(VOLUME_PHANTOM_COUNT, size=shape[0], seed=seed)
        if axes != VOLUME_AXES:
            masks = None if images.masks is None else _to_axes(images.masks[..., np.newaxis], axes)[..., 0]
            images = replace(images, images=_to_axes(images.images, axes), masks=masks, axes=axes)
        split = split or "test"
    elif data in BUNDLED_DATA:
        raise InvalidInputError(
            f"data: {data!r} holds 2-D images; the model takes volumes {tuple(input_shape)} (use 'phantoms', a "
            "folder of NIfTI class folders, or a DICOM tree with --labels)."
        )
    elif Path(data).is_dir():
        images = from_nifti(
            data, shape, axes=axes, class_names=class_names, stream=stream, progress=progress, **options
        )
    else:
        raise InvalidInputError(
            f"data: expected 'phantoms', a folder of NIfTI class folders or a DICOM tree; received {data!r}."
        )
    return images if split in (None, "all") else getattr(images.split(test_size, seed=seed), split)


def _to_axes(volumes: np.ndarray, axes: str) -> np.ndarray:
    """``(N, D, H, W, C)`` volumes with their spatial axes put in the order ``axes``."""
    return volumes.transpose(0, *(1 + VOLUME_AXES.index(axis) for axis in axes), 4)


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
