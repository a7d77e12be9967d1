"""Read DICOM series: one folder per patient, one sub-folder per MR sequence, and a CSV of labels.

The layout of the RSNA-MICCAI brain tumour radiogenomic challenge::

    train/00000/FLAIR/Image-1.dcm ... Image-n.dcm
    train/00000/T1w/...
    train_labels.csv        BraTS21ID,MGMT_value

Slices are put in anatomical order by their position along the slice normal (``ImagePositionPatient``
projected on the cross product of ``ImageOrientationPatient``), else by ``InstanceNumber``, never by file
name. Pixels get the modality LUT (rescale slope and intercept) and, where present, the window or VOI LUT,
then a robust scaling to [0, 1]. Needs pydicom (``pip install "layerlens[dicom]"``).

A series folder may hold other files, as DICOM readers such as GDCM and SimpleITK allow: hidden ones
(``.DS_Store``) are ignored, as :func:`~layerlens.datasets.from_directory` ignores them; files that are not DICOM
(no ``DICM`` signature at byte 128: ``notes.txt``, ``Thumbs.db``, a JPEG preview) and DICOM objects that are not
images (a structured report, a presentation state) are skipped and named in the warning, and the series is read
from its slices. A file named ``*.dcm`` (or ``*.dicom``) that cannot be read is a slice gone bad, not a stray
file, and leaves its patient out: reading the series without it would move its middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.progress import Progress
from layerlens._util.skipped import SHOWN_SKIPPED
from layerlens._util.validation import check_int, check_names
from layerlens._util.warn import warn_user
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._resize import check_image_size
from layerlens.datasets._stream import ImageStream
from layerlens.exceptions import InvalidInputError, MissingDependencyError, SkippedFilesWarning

__all__ = ["from_dicom"]

# Share of the darkest and of the brightest pixels of a slice clipped before scaling it to [0, 1]: a few hot
# pixels must not leave the tissue dark.
_CLIP_PERCENT = 0.5
#: Names of files that are meant as slices, whatever their content.
_SLICE_SUFFIXES = (".dcm", ".dicom")
#: The DICOM file format's signature (PS3.10 7.1): ``DICM`` after a 128-byte preamble.
_SIGNATURE_AT, _SIGNATURE = 128, b"DICM"


@dataclass(frozen=True)
class _Slice:
    path: Path
    place: float
    patient: str = ""
    series: str = ""
    label: int = -1


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as err:
        raise MissingDependencyError(
            'from_dicom needs pydicom: install it with pip install "layerlens[dicom]" (or pip install pydicom).'
        ) from err
    return pydicom


def from_dicom(
    root: str | Path,
    labels_csv: str | Path,
    *,
    sequence: str = "FLAIR",
    slices: str | int = "middle",
    image_size: int | Sequence[int] = 128,
    id_column: str | None = None,
    label_column: str | None = None,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    stream: bool = False,
    progress: bool = False,
) -> ImageSet | ImageStream:
    """Read one sequence of every labelled patient as 2-D images: the middle slice, or ``slices`` central ones.

    Parameters
    ----------
    root : str or Path
        A folder with one sub-folder per patient, each with one sub-folder per sequence of ``.dcm`` slices.
    labels_csv : str or Path
        A CSV with a patient id column and a label column. Ids match folder names as text, or as numbers when
        both are digits (``"00012"`` is patient ``12``).
    sequence : str, default="FLAIR"
        The sequence sub-folder to read (its case ignored): e.g. ``"FLAIR"``, ``"T1w"``, ``"T1wCE"``, ``"T2w"``.
    slices : "middle" or int, default="middle"
        The slice in the middle of the series (slice ``n // 2`` of ``n`` in position order: of two middle
        ones, the upper), or that many central slices around it, each its own image (with the patient's
        label).
    image_size : int or (height, width), default=128
        Every slice is resized to this (bilinear, anti-aliased when shrinking).
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
        decoded.

    Returns
    -------
    ImageSet or ImageStream
        Grayscale float32 images ``(N, H, W, 1)`` in [0, 1], patient by patient in the order of their folders;
        ``files`` holds ``patient/sequence/file.dcm`` of each image, ``metadata`` its ``patient``, ``series`` and
        slice ``position`` (along the slice normal, mm), and ``skipped`` one line per patient left out, then one
        per file of a series skipped as not a DICOM image. With ``stream=True``, the same slices to be read
        batch by batch.

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
    """
    pydicom = _pydicom()
    size = check_image_size(image_size)
    if isinstance(slices, str) and slices != "middle":
        raise InvalidInputError(f"slices: expected 'middle' or a number of central slices; received {slices!r}.")
    count = 1 if slices == "middle" else check_int(slices, "slices", minimum=1)
    folder = Path(root)
    if not folder.is_dir():
        raise InvalidInputError(f"root: expected a folder of patient folders; received {str(folder)!r}.")
    labels_by_id, classes = _read_labels(labels_csv, id_column, label_column, class_names)
    listed, skipped, strays = _list_slices(
        pydicom, folder, Path(labels_csv).name, labels_by_id, sequence, count, progress=progress
    )
    set_name = name if name is not None else f"{folder.resolve().name} {sequence}"
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
    count: int,
    *,
    progress: bool = False,
) -> tuple[list[_Slice], list[str], list[str]]:
    """The chosen slices of every labelled patient, from their headers only; one line per patient left out; and
    one per file of the series read that is not a DICOM image."""
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


def _warn_left_out(folder: Path, skipped: list[str], strays: list[str]) -> None:
    """One warning for the patients left out and the files skipped, each list shortened to its first few."""
    parts = []
    if skipped:
        parts.append(f"Left out {len(skipped)} patient(s) of {str(folder)!r}: {_first_few(skipped)}.")
    if strays:
        where = "" if skipped else f" in {str(folder)!r}"
        parts.append(f"Skipped {len(strays)} file(s) that are not DICOM images{where}: {_first_few(strays)}.")
    if parts:
        warn_user(SkippedFilesWarning(" ".join(parts), [*skipped, *strays]))


def _first_few(lines: list[str]) -> str:
    more = len(lines) - SHOWN_SKIPPED
    return "; ".join(lines[:SHOWN_SKIPPED]) + (f"; and {more} more" if more > 0 else "")


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


def _central_slices(pydicom: Any, series: Path, count: int) -> tuple[list[_Slice], list[tuple[Path, str]], str]:
    """The ``count`` central slices of a series in anatomical order and the files that are not slices (with why),
    or the reason there are none."""
    ordered, others, problem = _read_headers(pydicom, series)
    if problem:
        return [], [], problem
    if len(ordered) < count:
        besides = f" (besides {len(others)} file(s) that are not DICOM images)" if others else ""
        return [], [], f"{len(ordered)} slice(s), {count} asked for{besides}"
    places = [_place(header) for _, header in ordered]
    if any(p is None for p in places):
        return [], [], "slices without a position or instance number"
    # Sorted by place, ties by file name only so the order is the same everywhere.
    slices = sorted(
        (_Slice(path, float(place)) for (path, _), place in zip(ordered, places)), key=lambda s: (s.place, s.path.name)
    )
    # The middle of n slices is slice n // 2 (of two middle ones, the upper); k slices are centred on it.
    start = len(slices) // 2 - count // 2
    return slices[start : start + count], others, ""


def _read_headers(pydicom: Any, series: Path) -> tuple[list[tuple[Path, Any]], list[tuple[Path, str]], str]:
    """The header of each slice of a series folder, the files that are not slices (with why), or the reason the
    series cannot be read: a file named as a slice, or with the DICOM signature, that does not parse.

    Hidden files are ignored. A file without the DICOM signature is not a slice unless its name says it is one
    (``*.dcm``: then it is a slice cut short or overwritten, which must not silently leave a gap in the series).
    A DICOM object whose SOP class is known and not an image storage class is not a slice either.
    """
    headers: list[tuple[Path, Any]] = []
    others: list[tuple[Path, str]] = []
    for path in sorted(p for p in series.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - any failure to parse means "unreadable", unless it is no DICOM at all
            if path.suffix.lower() in _SLICE_SUFFIXES or _has_signature(path):
                return [], [], f"unreadable slice {path.name}"
            others.append((path, "not a DICOM file"))
            continue
        kind = _non_image_kind(pydicom, header)
        if kind:
            others.append((path, f"not a DICOM image: {kind}"))
        else:
            headers.append((path, header))
    return headers, others, ""


def _has_signature(path: Path) -> bool:
    """Whether the file starts as a DICOM file does: ``DICM`` after the 128-byte preamble."""
    try:
        with open(path, "rb") as file:
            return file.read(_SIGNATURE_AT + len(_SIGNATURE))[_SIGNATURE_AT:] == _SIGNATURE
    except OSError:
        return True  # cannot tell: taken for a slice gone bad, the cautious reading


def _non_image_kind(pydicom: Any, header: Any) -> str:
    """The name of a DICOM object's SOP class when it is known and not an image (``Basic Text SR Storage``), else "".

    The SOP class comes first in the file (its meta information), so a slice cut short still names it; a header
    without Rows or a position may just be such a slice, and is not taken for a stray object.
    """
    meta = getattr(header, "file_meta", None)
    value = header.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else None)
    if not value:
        return ""
    sop_class = pydicom.uid.UID(str(value))
    # Every image storage class of the standard is named "... Image Storage" (MR, Enhanced MR, Secondary
    # Capture, ...); unknown and private classes are given the benefit of the doubt.
    if sop_class.type != "SOP Class" or "Image Storage" in sop_class.name:
        return ""
    return sop_class.name


def _place(header: Any) -> float | None:
    """Where a slice lies along the series: its position on the slice normal, else its instance number."""
    position = header.get("ImagePositionPatient")
    orientation = header.get("ImageOrientationPatient")
    if position is not None and len(position) == 3:
        if orientation is not None and len(orientation) == 6:
            normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
        else:
            normal = np.array([0.0, 0.0, 1.0])
        return float(np.dot(np.asarray(position, float), normal))
    number = header.get("InstanceNumber")
    return None if number is None or number == "" else float(number)


def _slice_image(pydicom: Any, path: Path, size: tuple[int, int]) -> np.ndarray:
    """One slice as a float32 (H, W, 1) image in [0, 1]: modality LUT, window, robust scaling, resize."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut
    from skimage.transform import resize

    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected one 2-D frame, found shape {pixels.shape}")
    values = apply_voi_lut(apply_modality_lut(pixels, dataset), dataset).astype(np.float64)
    if str(dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        values = values.max() - values  # MONOCHROME1 shows low values white
    low, high = np.percentile(values, [_CLIP_PERCENT, 100 - _CLIP_PERCENT])
    scaled = np.zeros_like(values) if high <= low else np.clip((values - low) / (high - low), 0.0, 1.0)
    shrinking = size[0] < scaled.shape[0] or size[1] < scaled.shape[1]
    image = resize(scaled, size, order=1, anti_aliasing=shrinking, preserve_range=True)
    return np.clip(image, 0.0, 1.0).astype(np.float32)[..., np.newaxis]
