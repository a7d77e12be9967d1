"""Load images from a folder with one sub-folder per class (the layout of the Kaggle MRI data sets), or every image
of a folder without labels (e.g. probes)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.progress import Progress
from layerlens._util.skipped import warn_skipped
from layerlens._util.validation import check_names
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._resize import check_image_size
from layerlens.datasets._stream import ImageStream
from layerlens.datasets.probes import match_shape
from layerlens.exceptions import InvalidInputError

__all__ = ["folder_source", "from_directory", "read_images", "read_picture", "read_source"]

COLOR_MODES = ("grayscale", "rgb")


def _read_image(path: Path, size: tuple[int, int] | None, color_mode: str) -> np.ndarray:
    """Read one file as a float32 (H, W, C) image in [0, 1] (at ``size``, or its own); raises on anything unreadable."""
    from skimage import io
    from skimage.color import gray2rgb, rgb2gray, rgba2rgb
    from skimage.transform import resize
    from skimage.util import img_as_float32

    with warnings.catch_warnings():
        # imageio probes its plugins in turn; on a non-image file its legacy DICOM plugin
        # warns about its own deprecation, which says nothing useful to our users.
        warnings.simplefilter("ignore", DeprecationWarning)
        image = io.imread(path)
    if image.ndim == 4 or (image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)):
        image = image[0]  # first frame of an animated GIF or multi-page TIFF
    image = img_as_float32(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    elif image.ndim == 3 and image.shape[-1] in (1, 2):
        image = image[..., 0]  # grayscale, possibly with an alpha channel
    if image.ndim not in (2, 3):
        raise ValueError(f"unexpected image shape {image.shape}")
    if color_mode == "grayscale":
        image = (rgb2gray(image) if image.ndim == 3 else image)[..., np.newaxis]
    elif image.ndim == 2:
        image = gray2rgb(image)
    if size is not None and image.shape[:2] != tuple(size):
        shrinking = size[0] < image.shape[0] or size[1] < image.shape[1]
        image = resize(image, size, order=1, anti_aliasing=shrinking, preserve_range=True)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _hidden(path: Path, root: Path) -> bool:
    """True for a file that is hidden or inside a hidden folder below ``root`` (``.ipynb_checkpoints``, ``.git``)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _check_reading(image_size: int | Sequence[int], color_mode: str) -> tuple[int, int]:
    """The ``(height, width)`` to read images at, with ``color_mode`` checked."""
    if color_mode not in COLOR_MODES:
        raise InvalidInputError(f"color_mode: expected one of {COLOR_MODES}; received {color_mode!r}.")
    return check_image_size(image_size)


def _read_tree(
    folder: Path, root: Path, size: tuple[int, int], color_mode: str
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Every readable image under ``folder`` (hidden ones left alone), in sorted order: the images, their paths
    relative to ``root``, and the paths of the files that could not be read."""
    return _read_listed(_list_tree(folder, root), root, size, color_mode)


def _read_listed(
    listed: list[str], root: Path, size: tuple[int, int], color_mode: str, bar: Progress | None = None
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """The readable images of the files ``listed`` (relative to ``root``), their paths and the unreadable ones."""
    images: list[np.ndarray] = []
    files: list[str] = []
    skipped: list[str] = []
    for relative in listed:
        image = _read_or_none(root / relative, size, color_mode)
        if image is None:
            skipped.append(relative)
        else:
            images.append(image)
            files.append(relative)
        if bar is not None:
            bar.add(1)
    return images, files, skipped


def _list_tree(folder: Path, root: Path) -> list[str]:
    """Every file under ``folder`` that is not hidden, relative to ``root``, in sorted order."""
    return sorted(p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file() and not _hidden(p, root))


def _read_quietly(path: Path, size: tuple[int, int] | None, color_mode: str) -> np.ndarray:
    """:func:`_read_image` without the ResourceWarnings a non-image file can cause."""
    with warnings.catch_warnings():
        # The image readers tried in turn may leave a file object of a non-image file to the garbage
        # collector, which then warns about it: noise for our users, who are told of the file as skipped.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return _read_image(path, size, color_mode)
        except Exception as err:  # noqa: BLE001 - re-raised below, once the readers' file objects are gone
            problem = f"{type(err).__name__}: {err}"
    raise ValueError(f"{path.name} is not a readable image ({problem})")


def _read_or_none(path: Path, size: tuple[int, int], color_mode: str) -> np.ndarray | None:
    """:func:`_read_image`, or None for a file that is not a readable image."""
    try:
        return _read_quietly(path, size, color_mode)
    except Exception:  # noqa: BLE001 - any failure to decode means "not a readable image"
        return None


def _class_folders(root: Path, class_names: Sequence[str] | None) -> list[Path]:
    if not root.is_dir():
        raise InvalidInputError(f"path: expected an existing folder of class sub-folders; received {str(root)!r}.")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        found = [p.name for p in folders]
        raise InvalidInputError(
            f"path: expected at least 2 class sub-folders (one per class, e.g. Training/glioma/*.jpg) in "
            f"{str(root)!r}; found {len(found)}: {found}."
        )
    if class_names is None:
        return folders
    names = check_names(class_names, "class_names")
    found = [p.name for p in folders]
    if sorted(names) != sorted(found):
        missing = sorted(set(names) - set(found))
        extra = sorted(set(found) - set(names))
        raise InvalidInputError(
            f"class_names: expected the names of the class sub-folders of {str(root)!r}, in any order: {found}; "
            f"received {list(names)} (no folder for {missing}, no name for {extra})."
        )
    return [root / name for name in names]


def from_directory(
    path: str | Path,
    *,
    image_size: int | Sequence[int] = (128, 128),
    color_mode: str = "rgb",
    name: str | None = None,
    class_names: Sequence[str] | None = None,
    stream: bool = False,
    progress: bool = False,
) -> ImageSet | ImageStream:
    """Read a folder with one sub-folder of images per class.

    Class names are the sub-folder names in sorted order (the order Keras'
    ``image_dataset_from_directory`` uses), so
    ``Training/{glioma,meningioma,notumor,pituitary}/*.jpg`` gives labels 0-3;
    pass ``class_names`` when the model was trained with another order.
    Files in nested folders count for their class folder. Files that cannot be
    read as images (corrupt files, text files, ...) are skipped and reported
    with a :class:`~layerlens.exceptions.SkippedFilesWarning`, and listed in
    ``ImageSet.skipped``. To get a train/test split call
    :meth:`ImageSet.split`; for data sets that ship separate
    ``Training/`` and ``Testing/`` folders, read each.

    With ``stream=True`` the files are only listed: an :class:`ImageStream`
    reads them batch by batch as ``analyze`` goes, so a folder of 50,000
    images never sits in memory. Files that are no images are told from
    their headers and skipped now, so the stream lists (and splits) the
    files this function would read; a file whose pixels turn out damaged
    is left out during the pass and named at its end.

    Parameters
    ----------
    path : str or Path
        The folder holding the class sub-folders.
    image_size : int or (int, int), default=(128, 128)
        Every image is resized to this ``(H, W)`` (bilinear, anti-aliased
        when shrinking); an int means square.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        Channels of the result: 3 (grayscale images are repeated) or 1 (colour
        images are converted by luminance).
    name : str, optional
        Name of the data set; defaults to the folder's name.
    class_names : sequence of str, optional
        The class sub-folders' names in the order of the model's outputs:
        label ``k`` is given to the images of folder ``class_names[k]``. Must
        name every class sub-folder exactly once.
    stream : bool, default=False
        Return an :class:`ImageStream` of the listed files instead of reading
        them all now.
    progress : bool, default=False
        Show a progress bar of the files read (with ``stream=True``: of the
        files whose headers are checked).

    Returns
    -------
    ImageSet or ImageStream
        float32 images ``(N, H, W, C)`` in [0, 1], labels, class names,
        ``files`` (paths relative to ``path``) and ``skipped``; or, with
        ``stream=True``, the same files to be read batch by batch.

    Raises
    ------
    InvalidInputError
        If ``path`` is not a folder, holds fewer than two class sub-folders,
        a class sub-folder holds no readable image (with ``stream=True``: no
        file), ``class_names`` does not
        name the class sub-folders, or ``image_size`` / ``color_mode`` are
        invalid.

    Warns
    -----
    SkippedFilesWarning
        If some files could not be read; its ``files`` attribute lists them.
    """
    size = _check_reading(image_size, color_mode)
    root = Path(path)
    folders = _class_folders(root, class_names)
    listed = [_list_tree(folder, root) for folder in folders]
    bar = Progress(sum(len(files) for files in listed), "file") if progress else None
    if stream:
        return _listed_stream(root, folders, listed, size, color_mode, name, bar)
    images: list[np.ndarray] = []
    labels: list[int] = []
    files: list[str] = []
    skipped: list[str] = [p.name for p in sorted(root.iterdir()) if p.is_file()]
    try:
        for label, (folder, listed_here) in enumerate(zip(folders, listed)):
            read, names, unread = _read_listed(listed_here, root, size, color_mode, bar)
            images += read
            labels += [label] * len(read)
            files += names
            skipped += unread
            if not read:
                raise InvalidInputError(
                    f"path: class folder {folder.name!r} in {str(root)!r} holds no readable image; "
                    "every class needs at least one."
                )
    finally:
        if bar is not None:
            bar.close()  # before any warning, so that it starts on a line of its own
    if skipped:
        warn_skipped(skipped)
    return ImageSet(
        np.stack(images),
        np.asarray(labels, dtype=np.int64),
        tuple(p.name for p in folders),
        name=name if name is not None else root.resolve().name,
        files=tuple(files),
        skipped=tuple(skipped),
        source=folder_source(root, size, color_mode),
    )


def _listed_stream(
    root: Path,
    folders: list[Path],
    listed: list[list[str]],
    size: tuple[int, int],
    color_mode: str,
    name: str | None,
    bar: Progress | None = None,
) -> ImageStream:
    """The image files ``listed`` of the class folders as an :class:`ImageStream`: each file's header is read now
    (what is no image is skipped and warned about, as when the folder is read whole), the pixels during the pass."""
    files: list[str] = []
    labels: list[int] = []
    skipped: list[str] = [p.name for p in sorted(root.iterdir()) if p.is_file()]
    try:
        for label, (folder, listed_here) in enumerate(zip(folders, listed)):
            images = []
            for file in listed_here:
                if _looks_like_image(root / file, size, color_mode):
                    images.append(file)
                if bar is not None:
                    bar.add(1)
            skipped += sorted(set(listed_here) - set(images))
            if not images:
                raise InvalidInputError(
                    f"path: class folder {folder.name!r} in {str(root)!r} holds no readable image; "
                    "every class needs at least one."
                )
            files += images
            labels += [label] * len(images)
    finally:
        if bar is not None:
            bar.close()
    if skipped:
        warn_skipped(skipped)
    return ImageStream(
        root,
        tuple(files),
        np.asarray(labels, dtype=np.int64),
        tuple(p.name for p in folders),
        (*size, 1 if color_mode == "grayscale" else 3),
        partial(_read_quietly, size=size, color_mode=color_mode),
        name=name if name is not None else root.resolve().name,
        skipped=tuple(skipped),
        source=folder_source(root, size, color_mode),
    )


def folder_source(root: Path, size: tuple[int, int], color_mode: str) -> dict[str, Any]:
    """How :func:`read_source` reads the files of a folder again, as :func:`from_directory` read them."""
    return {"reader": "folder", "root": str(root.resolve()), "image_size": list(size), "color_mode": color_mode}


def read_source(source: Mapping[str, Any], files: Sequence[str]) -> np.ndarray:
    """The images of ``files`` (relative to the source's root) read again as the analysis read them.

    ``"folder"`` sources (:func:`from_directory`) are read by its reader; ``"keras"`` sources (Keras'
    ``image_dataset_from_directory``) as Keras reads them: decoded, resized bilinearly without
    anti-aliasing, pixel values 0..255; ``"nifti"`` sources (:func:`~layerlens.datasets.from_nifti`) as it
    read them: reoriented, scaled and resampled volumes.

    Raises
    ------
    InvalidInputError
        If the source is of another kind or a file cannot be read.
    """
    if source.get("reader") == "nifti":
        from layerlens.datasets.nifti import read_nifti_source

        return read_nifti_source(source, files)
    root = Path(source["root"])
    size = tuple(source["image_size"])
    images = []
    for file in files:
        path = root / file
        try:
            if source["reader"] == "folder":
                image = _read_quietly(path, size, source["color_mode"])
            elif source["reader"] == "keras":
                image = _read_as_keras(path, size, source.get("channels"))
            else:
                raise InvalidInputError(f"source: cannot read images of a {source['reader']!r} source again.")
        except (OSError, ValueError) as err:
            if isinstance(err, InvalidInputError):
                raise
            raise InvalidInputError(f"source: could not read {str(path)!r} again ({err}).") from err
        images.append(image)
    stacked = np.stack(images) if images else np.zeros((0, *size, 1), np.float32)
    channels = source.get("channels")
    if channels and stacked.shape[-1] != channels:
        stacked = match_shape(stacked, np.zeros((1, *size, channels), np.float32))
    return stacked


def _read_as_keras(path: Path, size: tuple[int, ...], channels: int | None) -> np.ndarray:
    import tensorflow as tf

    data = tf.io.read_file(str(path))
    image = tf.io.decode_image(data, channels=channels or 0, expand_animations=False)
    return tf.image.resize(image, size, method="bilinear").numpy().astype(np.float32)


def read_picture(path: Path, longest: int, color_mode: str) -> np.ndarray:
    """An image file as uint8 ``(h, w, C)`` at its own size, shrunk (anti-aliased) so its longer side is at most
    ``longest``: what a page shows large. Raises on a file that cannot be read."""
    from skimage.transform import resize

    image = _read_quietly(path, None, color_mode)
    scale = min(1.0, longest / max(image.shape[:2]))
    if scale < 1.0:
        shape = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
        image = resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _looks_like_image(path: Path, size: tuple[int, int], color_mode: str) -> bool:
    """Whether a file is an image, from its header when Pillow knows the format (it reads no pixels to
    say so), else by reading it whole as the in-memory loader does. So a stream lists the files the
    in-memory loader reads (and splits them alike), but for files whose pixels turn out to be damaged."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return _read_or_none(path, size, color_mode) is not None


def read_images(
    path: str | Path, *, image_size: int | Sequence[int] = (64, 64), color_mode: str = "grayscale"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read every image under a folder (its sub-folders included), without labels.

    For images that belong to no class of a model, such as probes (``analyze(..., probes=...)``).

    Parameters
    ----------
    path : str or Path
        The folder; files are read in sorted order of their path.
    image_size : int or (height, width), default=(64, 64)
        Every image is resized to this (bilinear, anti-aliased when shrinking).
    color_mode : {"grayscale", "rgb"}, default="grayscale"
        One channel or three.

    Returns
    -------
    (ndarray of shape (N, H, W, C), float32 in [0, 1], tuple of str)
        The images and their paths relative to ``path``.

    Raises
    ------
    InvalidInputError
        If ``path`` is not a folder or holds no readable image, or an option is invalid.

    Warns
    -----
    SkippedFilesWarning
        If some files could not be read; its ``files`` attribute lists them.
    """
    size = _check_reading(image_size, color_mode)
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"path: expected an existing folder of images; received {str(root)!r}.")
    images, files, skipped = _read_tree(root, root, size, color_mode)
    if not images:
        unread = f" ({len(skipped)} file{'s' if len(skipped) != 1 else ''} could not be read: {', '.join(skipped[:3])}"
        unread = unread + (", ...)" if len(skipped) > 3 else ")") if skipped else ""
        raise InvalidInputError(f"path: expected images in {str(root)!r}; found no readable image{unread}.")
    if skipped:
        warn_skipped(skipped, "the warning's files")
    return np.stack(images), tuple(files)
