"""Read the files of one DICOM series: which are slices, their headers, their order, and one slice's pixels.

The per-file half of :func:`~layerlens.datasets.dicom.from_dicom`: a series folder's files are sorted into slices
(parsed headers) and stray files (hidden ones ignored; files without the ``DICM`` signature, or DICOM objects that
are not images, skipped with why), a slice is placed along the series by its position on the slice normal (else
its instance number), and one slice is decoded to a 2-D image in [0, 1]. Also the one warning that names the
patients and files left out. Needs pydicom, imported only when a reader calls :func:`_pydicom`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.skipped import SHOWN_SKIPPED
from layerlens._util.warn import warn_user
from layerlens.exceptions import MissingDependencyError, SkippedFilesWarning

#: Only underscore names, for the other DICOM modules of :mod:`layerlens.datasets`.
__all__: list[str] = []

# Share of the darkest and of the brightest pixels of a slice clipped before scaling it to [0, 1]: a few hot
# pixels must not leave the tissue dark.
_CLIP_PERCENT = 0.5
#: Names of files that are meant as slices, whatever their content.
_SLICE_SUFFIXES = (".dcm", ".dicom")
#: The DICOM file format's signature (PS3.10 7.1): ``DICM`` after a 128-byte preamble.
_SIGNATURE_AT, _SIGNATURE = 128, b"DICM"


@dataclass(frozen=True)
class _Slice:
    """One slice of a series: its file, its place along the series and, once listed, its patient, series and label."""

    path: Path
    place: float
    patient: str = ""
    series: str = ""
    label: int = -1


def _pydicom() -> Any:
    """pydicom, or an error saying how to install it."""
    try:
        import pydicom
    except ImportError as err:
        raise MissingDependencyError(
            'from_dicom needs pydicom: install it with pip install "layerlens[dicom]" (or pip install pydicom).'
        ) from err
    return pydicom


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
