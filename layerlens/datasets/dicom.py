"""Read DICOM series: one folder per patient, one sub-folder per MR sequence, and a CSV of labels.

The layout of the RSNA-MICCAI brain tumour radiogenomic challenge::

    train/00000/FLAIR/Image-1.dcm ... Image-n.dcm
    train/00000/T1w/...
    train_labels.csv        BraTS21ID,MGMT_value

Slices are put in anatomical order by their position along the slice normal (``ImagePositionPatient``
projected on the cross product of ``ImageOrientationPatient``), else by ``InstanceNumber``, never by file
name. Pixels get the modality LUT (rescale slope and intercept) and, where present, the window or VOI LUT,
then a robust scaling to [0, 1]. With ``slices="volume"`` the whole series is stacked in that order into one
volume per patient, laid out as :func:`~layerlens.datasets.from_nifti` lays out its volumes. Needs pydicom
(``pip install "layerlens[dicom]"``).

A series folder may hold other files, as DICOM readers such as GDCM and SimpleITK allow: hidden ones
(``.DS_Store``) are ignored, as :func:`~layerlens.datasets.from_directory` ignores them; files that are not DICOM
(no ``DICM`` signature at byte 128: ``notes.txt``, ``Thumbs.db``, a JPEG preview) and DICOM objects that are not
images (a structured report, a presentation state) are skipped and named in the warning, and the series is read
from its slices. A file named ``*.dcm`` (or ``*.dicom``) that cannot be read is a slice gone bad, not a stray
file, and leaves its patient out: reading the series without it would move its middle.
"""

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.progress import Progress
from layerlens._util.skipped import SHOWN_SKIPPED
from layerlens._util.validation import check_int, check_names
from layerlens.datasets._dicom_files import _place, _pydicom, _read_headers, _Slice, _slice_image, _warn_left_out
from layerlens.datasets._dicom_volume import _DEPTH, _PERCENTILES, _only_for_volumes, _VolumeReading, _volumes
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._resize import check_image_size
from layerlens.datasets._stream import ImageStream
from layerlens.datasets._volumes import check_percentiles, check_shape, check_spacing, check_window
from layerlens.exceptions import InvalidInputError
from layerlens.options import VOLUME_AXES, check_axes

__all__ = ["from_dicom"]


def from_dicom(
    root: str | Path,
    labels_csv: str | Path,
    *,
    sequence: str = "FLAIR",
    slices: str | int = "middle",
    image_size: int | Sequence[int] = 128,
    shape: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    window: Sequence[float] | None = None,
    percentiles: Sequence[float] = _PERCENTILES,
    axes: str = VOLUME_AXES,
    id_column: str | None = None,
    label_column: str | None = None,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    stream: bool = False,
    progress: bool = False,
) -> ImageSet | ImageStream:
    """Read one sequence of every labelled patient as 2-D images (the middle slice, or ``slices`` central ones), or
    as one volume (``slices="volume"``).

    Parameters
    ----------
    root : str or Path
        A folder with one sub-folder per patient, each with one sub-folder per sequence of ``.dcm`` slices.
    labels_csv : str or Path
        A CSV with a patient id column and a label column. Ids match folder names as text, or as numbers when
        both are digits (``"00012"`` is patient ``12``).
    sequence : str, default="FLAIR"
        The sequence sub-folder to read (its case ignored): e.g. ``"FLAIR"``, ``"T1w"``, ``"T1wCE"``, ``"T2w"``.
    slices : "middle", int or "volume", default="middle"
        The slice in the middle of the series (slice ``n // 2`` of ``n`` in position order: of two middle
        ones, the upper), or that many central slices around it, each its own image (with the patient's
        label), or every slice of the series stacked in position order into one volume (at least 2 slices).
    image_size : int or (height, width), default=128
        Every slice is resized to this (bilinear, anti-aliased when shrinking); with ``slices="volume"``, the
        height and width of the volumes unless ``shape`` is given.
    shape : int or (int, int, int), optional
        Only with ``slices="volume"``: ``(D, H, W)`` of every volume (an int means a cube), as
        :func:`~layerlens.datasets.from_nifti` takes it; by default ``(64, *image_size)``.
    spacing : float or (float, float, float), optional
        Only with ``slices="volume"``: voxel spacing ``(sd, sh, sw)`` in mm to resample to first, then crop or pad
        (centred, with 0) to ``shape``, as :func:`~layerlens.datasets.from_nifti` does. The series' own spacing
        comes from its headers: ``PixelSpacing`` in plane, the median distance between slice positions across
        (else ``SpacingBetweenSlices``, ``SliceThickness``, 1 mm). Without it, every volume is resized to ``shape``.
    window : (float, float), optional
        Only with ``slices="volume"``: ``(low, high)`` in the modality's units after the rescale slope and
        intercept (Hounsfield units for CT) to clip to and scale to [0, 1], in place of the header's window and
        the percentiles.
    percentiles : (float, float), default=(0.5, 99.5)
        Only with ``slices="volume"``: without ``window``, each volume (after the header's window or VOI LUT,
        slice by slice) is clipped to these percentiles of its voxels and scaled to [0, 1], as each slice is in
        the other modes.
    axes : str, default="DHW"
        Only with ``slices="volume"``: the order of the volumes' spatial axes, a permutation of ``"DHW"`` (e.g.
        ``"HWD"``), recorded in the set's ``axes``.
    id_column, label_column : str, optional
        Columns of the CSV; by default its first column and, when it has exactly two, the other.
    class_names : sequence of str, optional
        The labels' values in the order of the model's classes; by default the values found, sorted (as
        numbers when they all are).
    name : str, optional
        Name of the set; by default ``"<root folder> <sequence>"``.
    stream : bool, default=False
        Read only the headers now (to order the slices) and return an :class:`ImageStream` whose pixels are
        decoded batch by batch as ``analyze`` goes: memory stays bounded for any number of patients. A slice
        whose pixels cannot be decoded is then left out alone (and named in a warning at the end of the pass),
        where without streaming its patient is left out.
    progress : bool, default=False
        Show progress bars: of the patients whose headers are read, then (without ``stream``) of the slices
        (volumes) decoded.

    Returns
    -------
    ImageSet or ImageStream
        Grayscale float32 images ``(N, H, W, 1)`` in [0, 1], patient by patient in the order of their folders;
        ``files`` holds ``patient/sequence/file.dcm`` of each image, ``metadata`` its ``patient``, ``series`` and
        slice ``position`` (along the slice normal, mm), and ``skipped`` one line per patient left out, then one
        per file of a series skipped as not a DICOM image. With ``stream=True``, the same slices to be read
        batch by batch.

        With ``slices="volume"``: float32 volumes ``(N, D, H, W, 1)`` in [0, 1] (spatial axes in the order
        ``axes``), one per patient; ``files`` holds the series folder ``patient/sequence`` of each, ``metadata``
        its ``patient``, ``series`` and number of ``slices``. With ``stream=True`` the series are read (and
        resampled) batch by batch.

    Raises
    ------
    MissingDependencyError
        If pydicom is not installed.
    InvalidInputError
        If a path, column, option or label is wrong, or no patient could be read.

    Warns
    -----
    SkippedFilesWarning
        Once, naming every patient left out and why: no label, no such sequence, an unreadable slice, no slice
        position, fewer slices than asked for; and every file of a series read that is not a DICOM image
        (``00012/FLAIR/notes.txt (not a DICOM file)``). Its ``files`` attribute lists them.

    Notes
    -----
    Layout of a volume (``slices="volume"``): the slices are stacked in position order, then the stack's axes
    (the slice normal, the column and row directions of ``ImageOrientationPatient``) are permuted and flipped
    to the patient axes closest to them, so that ``D`` runs inferior to superior, ``H`` anterior to posterior
    and ``W`` from the patient's right to left: the layout of :func:`~layerlens.datasets.from_nifti`. An axial
    series stored the usual way (orientation ``[1, 0, 0, 0, 1, 0]``) is kept as stored, its slices ordered
    from the feet up; a sagittal or coronal one is brought to axial slices. A series without
    ``ImageOrientationPatient`` is taken as axial.
    """
    pydicom = _pydicom()
    size = check_image_size(image_size)
    if isinstance(slices, str) and slices not in ("middle", "volume"):
        raise InvalidInputError(
            f"slices: expected 'middle' or a number of central slices, or 'volume' for the whole series; "
            f"received {slices!r}."
        )
    volume = slices == "volume"
    if volume:
        reading = _VolumeReading(
            check_shape((_DEPTH, *size) if shape is None else shape),
            check_spacing(spacing),
            (check_window(window), check_percentiles(percentiles)),
            check_axes(axes),
        )
    else:
        _only_for_volumes(shape=shape, spacing=spacing, window=window, percentiles=percentiles, axes=axes)
    count = None if volume else 1 if slices == "middle" else check_int(slices, "slices", minimum=1)
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidInputError(f"root: expected a folder of patient folders; received {str(folder)!r}.")
    labels_by_id, classes = _read_labels(labels_csv, id_column, label_column, class_names)
    listed, skipped, strays = _list_slices(
        pydicom, folder, Path(labels_csv).name, labels_by_id, sequence, count, progress=progress
    )
    set_name = name if name is not None else f"{folder.resolve().name} {sequence}"
    if volume:
        return _volumes(
            pydicom, folder, sequence, listed, (skipped, strays), classes, set_name, reading, stream, progress
        )
    if stream:
        _warn_left_out(folder, skipped, strays)
        if not listed:
            raise InvalidInputError(
                f"root: expected patients with a {sequence} series and a label; found none in {str(folder)!r}."
            )
        return ImageStream(
            folder,
            tuple(s.path.relative_to(folder).as_posix() for s in listed),
            np.asarray([s.label for s in listed], dtype=np.int64),
            classes,
            (*size, 1),
            partial(_slice_image, pydicom, size=size),
            name=set_name,
            skipped=(*skipped, *strays),
            metadata=_metadata(listed),
        )
    images: list[np.ndarray] = []
    kept: list[_Slice] = []
    bar = Progress(len(listed), "slice") if progress else None
    for patient, slices in groupby(listed, key=lambda s: s.patient):
        chosen = list(slices)
        try:
            pictures = [_slice_image(pydicom, s.path, size) for s in chosen]
        except Exception as err:  # noqa: BLE001 - any failure to decode the pixels means "unreadable"
            skipped.append(f"{patient} (unreadable pixels: {type(err).__name__})")
        else:
            images += pictures
            kept += chosen
        if bar is not None:
            bar.add(len(chosen))
    if bar is not None:
        bar.close()
    _warn_left_out(folder, skipped, strays)
    if not images:
        raise InvalidInputError(
            f"root: expected patients with a readable {sequence} series and a label; found none in {str(folder)!r}."
        )
    return ImageSet(
        np.stack(images),
        np.asarray([s.label for s in kept], dtype=np.int64),
        classes,
        name=set_name,
        files=tuple(s.path.relative_to(folder).as_posix() for s in kept),
        skipped=(*skipped, *strays),
        metadata=_metadata(kept),
    )


def _list_slices(
    pydicom: Any,
    folder: Path,
    csv_name: str,
    labels_by_id: dict[str, int],
    sequence: str,
    count: int | None,
    *,
    progress: bool = False,
) -> tuple[list[_Slice], list[str], list[str]]:
    """The chosen slices (``count`` central ones, or all with None) of every labelled patient, from their headers
    only; one line per patient left out; and one per file of the series read that is not a DICOM image."""
    listed: list[_Slice] = []
    skipped: list[str] = []
    strays: list[str] = []
    patients = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    seen = set()
    bar = Progress(len(patients), "patient") if progress else None
    for patient in patients:
        if bar is not None:
            bar.add(1)
        key = _patient_key(patient.name)
        if key not in labels_by_id:
            skipped.append(f"{patient.name} (no label in {csv_name})")
            continue
        seen.add(key)
        series = _series_folder(patient, sequence)
        if series is None:
            skipped.append(f"{patient.name} (no {sequence} series)")
            continue
        chosen, others, problem = _central_slices(pydicom, series, count)
        if problem:
            skipped.append(f"{patient.name} ({problem})")
            continue
        listed += [replace(s, patient=patient.name, series=series.name, label=labels_by_id[key]) for s in chosen]
        strays += [f"{path.relative_to(folder).as_posix()} ({why})" for path, why in others]
    if bar is not None:
        bar.close()
    missing = sorted(set(labels_by_id) - seen)
    if missing:
        skipped.append(f"{len(missing)} labelled patient(s) without a folder: {', '.join(missing[:SHOWN_SKIPPED])}")
    return listed, skipped, strays


def _metadata(slices: list[_Slice]) -> pd.DataFrame:
    """Each slice's patient, series and position along the slice normal."""
    return pd.DataFrame(
        [{"patient": s.patient, "series": s.series, "position": f"{s.place:g}"} for s in slices],
        columns=["patient", "series", "position"],
    )


def _patient_key(text: str) -> str:
    """A patient id as the folders and the CSV may both spell it: digits compared as numbers."""
    text = str(text).strip()
    return str(int(text)) if text.isdigit() else text


def _read_labels(
    path: str | Path, id_column: str | None, label_column: str | None, class_names: Sequence[str] | None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Patient id -> class index, and the class names."""
    import pandas as pd

    csv = Path(path)
    if not csv.is_file():
        raise InvalidInputError(f"labels_csv: expected a CSV file of patient ids and labels; received {str(csv)!r}.")
    try:
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InvalidInputError(f"labels_csv: expected a readable CSV file; {str(csv)!r} is not ({err}).") from err
    columns = list(table.columns)
    ids = id_column if id_column is not None else (columns[0] if columns else None)
    if ids not in columns:
        raise InvalidInputError(f"id_column: expected one of the CSV's columns {columns}; received {ids!r}.")
    if label_column is None:
        others = [c for c in columns if c != ids]
        if len(others) != 1:
            raise InvalidInputError(
                f"label_column: expected the name of the label column among {others} (the CSV has more than two)."
            )
        label_column = others[0]
    if label_column not in columns:
        raise InvalidInputError(
            f"label_column: expected one of the CSV's columns {columns}; received {label_column!r}."
        )
    values = table[label_column].str.strip()
    keys = table[ids].map(_patient_key)
    if (values == "").any() or (keys == "").any():
        rows = [int(i) + 2 for i in np.flatnonzero(((values == "") | (keys == "")).to_numpy())][:5]
        raise InvalidInputError(f"labels_csv: expected an id and a label on every row; lines {rows} miss one.")
    repeated = sorted(set(keys[keys.duplicated()]))
    if repeated:
        raise InvalidInputError(f"labels_csv: expected each patient once; {repeated[:5]} appear more than once.")
    found = sorted(set(values), key=lambda v: (0, float(v), v) if _is_number(v) else (1, 0.0, v))
    classes = tuple(found) if class_names is None else check_names(class_names, "class_names")
    unknown = sorted(set(values) - set(classes))
    if unknown:
        raise InvalidInputError(
            f"class_names: expected every label of the CSV among {list(classes)}; {unknown} are not."
        )
    index = {c: i for i, c in enumerate(classes)}
    return dict(zip(keys, (index[v] for v in values))), classes


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _series_folder(patient: Path, sequence: str) -> Path | None:
    wanted = sequence.lower()
    matches = [p for p in patient.iterdir() if p.is_dir() and p.name.lower() == wanted]
    return matches[0] if matches else None


def _central_slices(pydicom: Any, series: Path, count: int | None) -> tuple[list[_Slice], list[tuple[Path, str]], str]:
    """The ``count`` central slices of a series in anatomical order (all of them with None, at least 2) and the
    files that are not slices (with why), or the reason there are none."""
    ordered, others, problem = _read_headers(pydicom, series)
    if problem:
        return [], [], problem
    if len(ordered) < (count or 2):
        besides = f" (besides {len(others)} file(s) that are not DICOM images)" if others else ""
        wanted = f"{count} asked for" if count else "a volume needs at least 2"
        return [], [], f"{len(ordered)} slice(s), {wanted}{besides}"
    places = [_place(header) for _, header in ordered]
    if any(p is None for p in places):
        return [], [], "slices without a position or instance number"
    # Sorted by place, ties by file name only so the order is the same everywhere.
    slices = sorted(
        (_Slice(path, float(place)) for (path, _), place in zip(ordered, places)), key=lambda s: (s.place, s.path.name)
    )
    if count is None:
        return slices, others, ""
    # The middle of n slices is slice n // 2 (of two middle ones, the upper); k slices are centred on it.
    start = len(slices) // 2 - count // 2
    return slices[start : start + count], others, ""
