"""Read NIfTI volumes (CT, MRI, PET) from a folder with one sub-folder per class: ``root/<class>/*.nii[.gz]``.

Every volume is brought to one layout whatever the orientation it was stored in. nibabel's
``as_closest_canonical`` first reorders and flips the voxel axes so that they run towards the patient's
Right, Anterior and Superior (RAS+) as closely as the affine allows; the array is then laid out as
layerlens' ``(D, H, W)``:

* ``D`` = the superior axis, slice 0 the most inferior (the order of a DICOM series sorted by position);
* ``H`` = the anterior axis flipped, row 0 the most anterior: an axial slice shows the nose at the top;
* ``W`` = the right axis flipped, column 0 the patient's right-most: the patient's right on the viewer's left,
  the radiological convention (the way a DICOM axial slice is stored and shown).

So ``volume[D // 2]`` displays (``imshow``) as a radiologist reads an axial slice. Needs nibabel
(``pip install "layerlens[nifti]"``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.progress import Progress
from layerlens._util.skipped import SHOWN_SKIPPED
from layerlens._util.validation import check_names
from layerlens._util.warn import warn_user
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._stream import ImageStream
from layerlens.datasets._volumes import (
    Scaling,
    check_percentiles,
    check_shape,
    check_spacing,
    check_window,
    finish_volume,
)
from layerlens.exceptions import InvalidInputError, MissingDependencyError, SkippedFilesWarning
from layerlens.options import check_axes

__all__ = ["canonical_volume", "from_nifti", "nifti_source", "read_nifti", "read_nifti_source"]

#: Endings of the files read as NIfTI (compared without case); other files of a class folder are left alone.
SUFFIXES = (".nii", ".nii.gz")


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as err:
        raise MissingDependencyError(
            'from_nifti needs nibabel: install it with pip install "layerlens[nifti]" (or pip install nibabel).'
        ) from err
    return nibabel


class _Unreadable(ValueError):
    """A file that is no volume layerlens can read, and why, in words for the warning."""


def _spatial_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """The three spatial sides of a NIfTI image's shape; raises :class:`_Unreadable` unless it has exactly three
    (trailing axes of length 1, such as a single time frame, are dropped)."""
    extra = tuple(shape[3:])
    if len(shape) < 3:
        raise _Unreadable(f"not a volume: shape {tuple(shape)}")
    if any(n != 1 for n in extra):
        raise _Unreadable(f"{int(np.prod(extra))} frames of shape {tuple(shape[:3])}; one volume per file expected")
    if min(shape[:3]) < 1:
        raise _Unreadable(f"empty volume of shape {tuple(shape)}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def canonical_volume(image: Any) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A nibabel image as a float32 ``(D, H, W)`` array in layerlens' layout and its voxel spacing in mm.

    Parameters
    ----------
    image : nibabel.Nifti1Image or Nifti2Image
        A 3-D image, or 4-D and more with trailing axes of length 1.

    Returns
    -------
    (ndarray of shape (D, H, W), (float, float, float))
        The voxel values (scale slope and intercept applied) with ``D`` running inferior to superior, ``H``
        anterior to posterior and ``W`` from the patient's right to left (see the module's notes); the spacing
        ``(sd, sh, sw)`` between voxel centres along them, from the affine.
    """
    nibabel = _nibabel()
    _spatial_shape(image.shape)
    canonical = nibabel.as_closest_canonical(image)
    ras = np.asarray(canonical.get_fdata(dtype=np.float32)).reshape(canonical.shape[:3])
    # The length of each voxel axis in world mm: the header's zooms follow the affine only when it is written so.
    zooms = np.sqrt((np.asarray(canonical.affine, float)[:3, :3] ** 2).sum(axis=0))
    dhw = np.transpose(ras, (2, 1, 0))[:, ::-1, ::-1]
    return np.ascontiguousarray(dhw), (float(zooms[2]), float(zooms[1]), float(zooms[0]))


def read_nifti(
    path: str | Path,
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float] | None = None,
    scaling: Scaling = (None, (0.5, 99.5)),
    axes: str = "DHW",
) -> np.ndarray:
    """One NIfTI file as :func:`from_nifti` reads it: float32 ``(*shape in the order axes, 1)`` in [0, 1].

    Arguments are taken as checked. Raises on a file that cannot be read as one volume (a ``ValueError``
    whose message says why, for the warning, when the file itself is the problem).
    """
    nibabel = _nibabel()
    try:
        image = nibabel.load(str(path))
        volume, zooms = canonical_volume(image)
    except _Unreadable:
        raise
    except nibabel.filebasedimages.ImageFileError as err:
        raise _Unreadable("not a NIfTI file") from err
    except (EOFError, zlib.error, OSError) as err:
        raise _Unreadable(f"truncated or damaged: {type(err).__name__}") from err
    except Exception as err:  # noqa: BLE001 - a header nibabel cannot make sense of, a data block cut short ...
        raise _Unreadable(f"unreadable: {type(err).__name__}: {err}") from err
    if not np.isfinite(volume).any():
        raise _Unreadable("no finite voxel value")
    return finish_volume(volume, zooms, shape=shape, spacing=spacing, scaling=scaling, axes=axes)


def _check_header(path: Path) -> None:
    """Raise :class:`_Unreadable` unless the file's header is that of one NIfTI volume (no voxel is read)."""
    nibabel = _nibabel()
    try:
        image = nibabel.load(str(path))
    except nibabel.filebasedimages.ImageFileError as err:
        raise _Unreadable("not a NIfTI file") from err
    except Exception as err:  # noqa: BLE001 - anything else wrong with the header
        raise _Unreadable(f"truncated or damaged: {type(err).__name__}") from err
    _spatial_shape(image.shape)


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def _list_volumes(folder: Path, root: Path) -> list[str]:
    """The NIfTI files under ``folder`` (its sub-folders too; hidden files and folders left out), relative to
    ``root``, in sorted order."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and _is_nifti(p) and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _class_folders(root: Path, class_names: Sequence[str] | None) -> list[Path]:
    """The class sub-folders to read, in label order: all of them sorted by name, or those ``class_names``
    names, in its order."""
    if not root.is_dir():
        raise InvalidInputError(
            f"root: expected an existing folder of class sub-folders of NIfTI files (root/<class>/*.nii.gz); "
            f"received {str(root)!r}."
        )
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        loose = sum(1 for p in root.iterdir() if p.is_file() and _is_nifti(p))
        hint = f" (it holds {loose} NIfTI file(s) directly: put them in one folder per class)" if loose else ""
        raise InvalidInputError(
            f"root: expected one sub-folder per class (root/<class>/*.nii or *.nii.gz) in {str(root)!r}; "
            f"found none{hint}."
        )
    if class_names is None:
        return folders
    names = check_names(class_names, "class_names")
    found = {p.name for p in folders}
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidInputError(
            f"class_names: expected names of class sub-folders of {str(root)!r} ({sorted(found)}); "
            f"no folder for {missing}."
        )
    return [root / n for n in names]


def nifti_source(
    root: Path,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float] | None,
    scaling: Scaling,
    axes: str,
) -> dict[str, Any]:
    """How :func:`read_nifti_source` reads the files of a folder again, as :func:`from_nifti` read them."""
    window, percentiles = scaling
    return {
        "reader": "nifti",
        "root": str(root.resolve()),
        "shape": list(shape),
        "spacing": None if spacing is None else list(spacing),
        "window": None if window is None else list(window),
        "percentiles": list(percentiles),
        "axes": axes,
    }


def read_nifti_source(source: Mapping[str, Any], files: Sequence[str]) -> np.ndarray:
    """The volumes of ``files`` (relative to the source's root) read again as :func:`from_nifti` read them.

    Parameters
    ----------
    source : mapping
        A ``"nifti"`` source, as ``ImageSet.source`` records it.
    files : sequence of str
        Files relative to ``source["root"]``.

    Returns
    -------
    ndarray of shape (n, *shape in the order of axes, 1), float32 in [0, 1]

    Raises
    ------
    InvalidInputError
        If the source is of another kind or a file cannot be read.
    """
    if source.get("reader") != "nifti":
        raise InvalidInputError(f"source: expected a 'nifti' source; received a {source.get('reader')!r} source.")
    shape = check_shape(source["shape"], "source['shape']")
    spacing = check_spacing(source.get("spacing"), "source['spacing']")
    window = check_window(source.get("window"), "source['window']")
    percentiles = check_percentiles(source.get("percentiles", (0.5, 99.5)), "source['percentiles']")
    axes = check_axes(source.get("axes", "DHW"), name="source['axes']")
    root = Path(source["root"])
    volumes = []
    for file in files:
        try:
            volumes.append(
                read_nifti(root / file, shape=shape, spacing=spacing, scaling=(window, percentiles), axes=axes)
            )
        except _Unreadable as err:
            raise InvalidInputError(f"source: could not read {str(root / file)!r} again ({err}).") from err
    sides = tuple(shape["DHW".index(a)] for a in axes)
    return np.stack(volumes) if volumes else np.zeros((0, *sides, 1), np.float32)


def _warn_unreadable(root: Path, problems: list[str], files: list[str]) -> None:
    """One warning naming the files left out and why; its ``files`` attribute lists them all."""
    more = len(problems) - SHOWN_SKIPPED
    shown = "; ".join(problems[:SHOWN_SKIPPED]) + (f"; and {more} more (all listed in skipped)" if more > 0 else "")
    message = f"Skipped {len(problems)} NIfTI file(s) of {str(root)!r} that could not be read as volumes: {shown}."
    warn_user(SkippedFilesWarning(message, files))


def from_nifti(
    root: str | Path,
    shape: int | Sequence[int] = (64, 128, 128),
    *,
    spacing: float | Sequence[float] | None = None,
    window: Sequence[float] | None = None,
    percentiles: Sequence[float] = (0.5, 99.5),
    axes: str = "DHW",
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    stream: bool = False,
    progress: bool = False,
) -> ImageSet | ImageStream:
    """Read a folder of NIfTI volumes with one sub-folder per class: ``root/<class>/*.nii`` and ``*.nii.gz``.

    Every volume is reoriented to one layout (see Notes), its intensities scaled to [0, 1], and brought to
    ``shape``: resized, or resampled to ``spacing`` and cropped or padded around its centre.

    Parameters
    ----------
    root : str or Path
        The folder holding the class sub-folders. Files in nested folders count for their class folder; files
        not named ``*.nii`` or ``*.nii.gz`` (JSON sidecars, notes) and hidden ones are left alone.
    shape : int or (int, int, int), default=(64, 128, 128)
        ``(D, H, W)`` of every volume: depth (axial slices), height (anterior to posterior) and width
        (right to left), each at least 4; an int means a cube. Always given in this order, whatever ``axes``.
    spacing : float or (float, float, float), optional
        Voxel spacing ``(sd, sh, sw)`` in mm to resample every volume to first (trilinear, anti-aliased where it
        shrinks), from the spacing the file's affine gives; the result is then cropped or padded with 0 to
        ``shape`` around the volume's centre, so every voxel has the same size in mm. Without it, each volume
        is resized to ``shape`` whatever its field of view (trilinear, anti-aliased when shrinking).
    window : (float, float), optional
        ``(low, high)`` in the file's units (after its scale slope and intercept: Hounsfield units for CT, e.g.
        ``(-1000, 400)`` as Keras' CT tutorial): values are clipped to it and scaled to [0, 1].
    percentiles : (float, float), default=(0.5, 99.5)
        Without ``window``, each volume is clipped to these percentiles of its own values (all of its voxels,
        before cropping) and scaled to [0, 1]: a few hot voxels do not leave the tissue dark.
    axes : str, default="DHW"
        The order of the spatial axes of the returned arrays: a permutation of ``"DHW"``, e.g. ``"HWD"``, the
        ``(H, W, D)`` order Keras' CT tutorial feeds its model. Recorded in the set's ``axes``.
    class_names : sequence of str, optional
        The class sub-folders to read, in the order of the model's classes (label ``k`` for folder
        ``class_names[k]``); others are not read. By default every sub-folder, in sorted order (as
        :func:`from_directory` and Keras order them).
    name : str, optional
        Name of the set; by default the folder's name.
    stream : bool, default=False
        Check the files' headers only and return an :class:`ImageStream` that reads, reorients and resamples
        the volumes batch by batch as ``analyze`` goes: memory stays bounded for any number of files. A file
        whose voxels turn out unreadable is left out during the pass and named at its end.
    progress : bool, default=False
        Show a progress bar of the files read (with ``stream=True``: of the headers checked).

    Returns
    -------
    ImageSet or ImageStream
        float32 volumes ``(N, D, H, W, 1)`` in [0, 1] (axes in the order ``axes``), labels, class names,
        ``files`` (paths relative to ``root``, ``/``-separated), ``skipped`` (the files that could not be read)
        and ``source`` (``{"reader": "nifti", "root": ..., "shape": ..., "spacing": ..., "window": ...,
        "percentiles": ..., "axes": ...}``, which :func:`~layerlens.datasets.nifti.read_nifti_source` reads again);
        or, with ``stream=True``, the same files to be read batch by batch.

    Raises
    ------
    MissingDependencyError
        If nibabel is not installed.
    InvalidInputError
        If ``root`` is not a folder or holds no class sub-folder, a class folder holds no NIfTI file (or, read
        now, none readable), ``class_names`` names a folder that is not there, or ``shape``, ``spacing``,
        ``window``, ``percentiles`` or ``axes`` is invalid.

    Warns
    -----
    SkippedFilesWarning
        Once, naming every file that could not be read and why: not NIfTI, truncated or damaged, not a volume,
        several frames (a 4-D series: one volume per file is expected); NIfTI files directly in ``root``, which
        belong to no class. Its ``files`` attribute lists them.

    Notes
    -----
    Orientation: nibabel's ``as_closest_canonical`` brings the voxel axes to RAS+ (towards the patient's Right,
    Anterior, Superior); the array ``ras[i, j, k]`` is then laid out as ``volume[d, h, w] = ras[W-1-w, H-1-h, d]``
    (``np.transpose(ras, (2, 1, 0))[:, ::-1, ::-1]``): ``D`` runs inferior to superior, ``H`` anterior to
    posterior, ``W`` from the patient's right to left. ``volume[d]`` is thus an axial slice shown as radiologists
    read it, anterior up and the patient's right on the viewer's left, as a DICOM axial slice is stored. The same
    anatomy stored in any orientation (RAS, LPS, permuted axes) gives the same array. An oblique acquisition is
    brought to the closest canonical axes, not resampled.

    Order of the operations: reorientation, intensity scaling on the whole volume, then resampling and crop or
    pad (or resizing), then the axes' order.

    Examples
    --------
    >>> data = from_nifti("ct/", (64, 128, 128), window=(-1000, 400), axes="HWD")  # doctest: +SKIP
    >>> data.images.shape  # doctest: +SKIP
    (200, 128, 128, 64, 1)
    """
    _nibabel()
    size = check_shape(shape)
    voxel = check_spacing(spacing)
    scaling: Scaling = (check_window(window), check_percentiles(percentiles))
    order = check_axes(axes)
    folder = Path(root)
    folders = _class_folders(folder, class_names)
    listed = [_list_volumes(f, folder) for f in folders]
    for f, files in zip(folders, listed):
        if not files:
            raise InvalidInputError(
                f"root: class folder {f.name!r} of {str(folder)!r} holds no NIfTI file (*.nii or *.nii.gz); "
                "every class needs at least one."
            )
    loose = [p.name for p in sorted(folder.iterdir()) if p.is_file() and _is_nifti(p)]
    problems = [f"{n} (no class folder)" for n in loose]
    unread = list(loose)
    set_name = name if name is not None else folder.resolve().name
    source = nifti_source(folder, size, voxel, scaling, order)
    reader = partial(read_nifti, shape=size, spacing=voxel, scaling=scaling, axes=order)
    bar = Progress(sum(len(files) for files in listed), "volume") if progress else None
    volumes: list[np.ndarray] = []
    labels: list[int] = []
    kept: list[str] = []
    try:
        for label, (class_folder, files) in enumerate(zip(folders, listed)):
            found, problems_before = 0, len(problems)
            for file in files:
                try:
                    if stream:
                        _check_header(folder / file)
                    else:
                        volumes.append(reader(folder / file))
                except _Unreadable as err:
                    problems.append(f"{file} ({err})")
                    unread.append(file)
                else:
                    kept.append(file)
                    labels.append(label)
                    found += 1
                if bar is not None:
                    bar.add(1)
            if not found:
                why = "; ".join(problems[problems_before:][:SHOWN_SKIPPED])
                raise InvalidInputError(
                    f"root: class folder {class_folder.name!r} of {str(folder)!r} holds no readable NIfTI volume "
                    f"({why}); every class needs at least one."
                )
    finally:
        if bar is not None:
            bar.close()  # before any warning, so that it starts on a line of its own
    if problems:
        _warn_unreadable(folder, problems, unread)
    classes = tuple(f.name for f in folders)
    if stream:
        sides = tuple(size["DHW".index(a)] for a in order)
        return ImageStream(
            folder,
            tuple(kept),
            np.asarray(labels, dtype=np.int64),
            classes,
            (*sides, 1),
            reader,
            name=set_name,
            skipped=tuple(unread),
            source=source,
            axes=order,
        )
    return ImageSet(
        np.stack(volumes),
        np.asarray(labels, dtype=np.int64),
        classes,
        name=set_name,
        files=tuple(kept),
        skipped=tuple(unread),
        source=source,
        axes=order,
    )
