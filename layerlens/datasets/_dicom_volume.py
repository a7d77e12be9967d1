"""Read a whole DICOM series as one volume: ``from_dicom(..., slices="volume")``.

The slices of a series (listed by :mod:`~layerlens.datasets._dicom_files`) are decoded and stacked in position
order, their spacing taken from the headers, the stack's axes permuted and flipped to layerlens' ``(D, H, W)``
layout (the layout of :func:`~layerlens.datasets.from_nifti`), then resampled, scaled and reordered as every
volume loader does (:func:`~layerlens.datasets._volumes.finish_volume`): now, or batch by batch as an
:class:`~layerlens.datasets.ImageStream` of series folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.progress import Progress
from layerlens.datasets._dicom_files import _CLIP_PERCENT, _place, _read_headers, _Slice, _warn_left_out
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets._stream import ImageStream
from layerlens.datasets._volumes import Scaling, finish_volume
from layerlens.exceptions import InvalidInputError
from layerlens.options import VOLUME_AXES

#: Only underscore names, for :mod:`layerlens.datasets.dicom`.
__all__: list[str] = []

#: Depth of a volume (``slices="volume"``) when no ``shape`` is given: the depth of Keras' CT tutorial.
_DEPTH = 64
#: Percentiles a volume is clipped to without a ``window``, as each slice is clipped to ``_CLIP_PERCENT``.
_PERCENTILES = (_CLIP_PERCENT, 100 - _CLIP_PERCENT)


@dataclass(frozen=True)
class _VolumeReading:
    """How ``slices="volume"`` brings a series to a volume: its ``(D, H, W)`` shape, spacing to resample to,
    intensity scaling and the order of the axes returned."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] | None
    scaling: Scaling
    axes: str


def _only_for_volumes(**given: Any) -> None:
    """Raise naming the first argument given a value of its own that only ``slices="volume"`` reads."""
    defaults = {"percentiles": _PERCENTILES, "axes": VOLUME_AXES}
    for key, value in given.items():
        default = defaults.get(key)
        if value is None or (default is not None and _same(value, default)):
            continue
        raise InvalidInputError(
            f"{key}: only read with slices='volume' (the whole series as one volume); received {value!r} with "
            "2-D slices."
        )


def _same(value: Any, default: Any) -> bool:
    try:
        return tuple(value) == tuple(default) if not isinstance(default, str) else value == default
    except TypeError:
        return False


def _volumes(
    pydicom: Any,
    folder: Path,
    sequence: str,
    listed: list[_Slice],
    left_out: tuple[list[str], list[str]],
    classes: tuple[str, ...],
    set_name: str,
    reading: _VolumeReading,
    stream: bool,
    progress: bool,
) -> ImageSet | ImageStream:
    """One volume per listed series: read now, or as an :class:`ImageStream` of series folders. ``left_out`` holds
    the lines of the patients left out so far and of the stray files, for the one warning."""
    skipped, strays = left_out
    series = [list(group) for _, group in groupby(listed, key=lambda s: s.patient)]
    reader = partial(
        _series_volume,
        pydicom,
        shape=reading.shape,
        spacing=reading.spacing,
        scaling=reading.scaling,
        axes=reading.axes,
    )
    if stream:
        _warn_left_out(folder, skipped, strays)
        if not series:
            raise InvalidInputError(
                f"root: expected patients with a {sequence} series and a label; found none in {str(folder)!r}."
            )
        return ImageStream(
            folder,
            tuple(_series_file(folder, chosen) for chosen in series),
            np.asarray([chosen[0].label for chosen in series], dtype=np.int64),
            classes,
            (*(reading.shape[VOLUME_AXES.index(a)] for a in reading.axes), 1),
            reader,
            name=set_name,
            skipped=(*skipped, *strays),
            metadata=_volume_metadata(series),
            axes=reading.axes,
        )
    volumes: list[np.ndarray] = []
    kept: list[list[_Slice]] = []
    bar = Progress(len(series), "volume") if progress else None
    for chosen in series:
        try:
            volumes.append(reader(chosen[0].path.parent))
        except Exception as err:  # noqa: BLE001 - any failure to decode the series means "unreadable"
            skipped.append(f"{chosen[0].patient} (unreadable series: {type(err).__name__}: {err})")
        else:
            kept.append(chosen)
        if bar is not None:
            bar.add(1)
    if bar is not None:
        bar.close()
    _warn_left_out(folder, skipped, strays)
    if not volumes:
        raise InvalidInputError(
            f"root: expected patients with a readable {sequence} series and a label; found none in {str(folder)!r}."
        )
    return ImageSet(
        np.stack(volumes),
        np.asarray([chosen[0].label for chosen in kept], dtype=np.int64),
        classes,
        name=set_name,
        files=tuple(_series_file(folder, chosen) for chosen in kept),
        skipped=(*skipped, *strays),
        metadata=_volume_metadata(kept),
        axes=reading.axes,
    )


def _series_file(folder: Path, chosen: list[_Slice]) -> str:
    """The series folder of a volume, relative to the root: ``patient/sequence``."""
    return chosen[0].path.parent.relative_to(folder).as_posix()


def _volume_metadata(series: list[list[_Slice]]) -> pd.DataFrame:
    """Each volume's patient, series and number of slices."""
    return pd.DataFrame(
        [{"patient": c[0].patient, "series": c[0].series, "slices": str(len(c))} for c in series],
        columns=["patient", "series", "slices"],
    )


def _series_volume(
    pydicom: Any,
    series: Path,
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float] | None,
    scaling: Scaling,
    axes: str,
) -> np.ndarray:
    """A series folder as one volume: float32 ``(*shape in the order axes, 1)`` in [0, 1]; raises on a series that
    cannot be read whole."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ordered, _, problem = _read_headers(pydicom, series)
    if problem:
        raise ValueError(problem)
    if len(ordered) < 2:
        raise ValueError(f"{len(ordered)} slice(s), a volume needs at least 2")
    places = [_place(header) for _, header in ordered]
    if any(p is None for p in places):
        raise ValueError("slices without a position or instance number")
    order = sorted(range(len(ordered)), key=lambda i: (places[i], ordered[i][0].name))
    window = scaling[0]
    planes, inverted = [], False
    for i in order:
        dataset = pydicom.dcmread(ordered[i][0])
        pixels = dataset.pixel_array
        if pixels.ndim != 2 or (planes and pixels.shape != planes[0].shape):
            raise ValueError(f"{ordered[i][0].name}: expected one 2-D frame like the others, found {pixels.shape}")
        values = apply_modality_lut(pixels, dataset)
        if window is None:
            values = apply_voi_lut(values, dataset)
            inverted = inverted or str(dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1"
        planes.append(np.asarray(values, dtype=np.float32))
    volume = np.stack(planes)
    if inverted:
        volume = volume.max() - volume  # MONOCHROME1 shows low values white
    headers = [ordered[i][1] for i in order]
    zooms = _series_spacing(headers, [float(places[i]) for i in order])
    volume, zooms = _to_layout(volume, zooms, headers[0])
    return finish_volume(volume, zooms, shape=shape, spacing=spacing, scaling=scaling, axes=axes)


def _series_spacing(headers: list[Any], places: list[float]) -> tuple[float, float, float]:
    """Spacing in mm between the slices (the median step of their positions), the rows and the columns."""
    row, column = 1.0, 1.0
    pixel_spacing = headers[0].get("PixelSpacing")
    if pixel_spacing is not None and len(pixel_spacing) == 2 and all(float(v) > 0 for v in pixel_spacing):
        row, column = (float(v) for v in pixel_spacing)
    step = 0.0
    if all(h.get("ImagePositionPatient") is not None for h in headers):
        step = float(np.median(np.diff(places)))
    if not step > 0:
        for key in ("SpacingBetweenSlices", "SliceThickness"):
            value = headers[0].get(key)
            if value not in (None, "") and float(value) > 0:
                step = float(value)
                break
        else:
            step = 1.0
    return step, row, column


def _to_layout(
    volume: np.ndarray, zooms: tuple[float, float, float], header: Any
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A stack ``(slice, row, column)`` brought to layerlens' ``(D, H, W)`` layout (inferior to superior, anterior to
    posterior, the patient's right to left) by permuting and flipping its axes to the closest patient axes."""
    orientation = header.get("ImageOrientationPatient")
    if orientation is None or len(orientation) != 6:
        return volume, zooms
    along_row = np.asarray(orientation[:3], float)  # the direction of increasing column index
    along_column = np.asarray(orientation[3:], float)  # the direction of increasing row index
    # Directions of the stack's axes in the patient's LPS coordinates: slices go up the normal (sorted by it).
    directions = np.stack([np.cross(along_row, along_column), along_column, along_row])
    # Output axis t is LPS axis 2 - t (D = S, H = P, W = L); each stack axis takes the closest one, largest first.
    weights = np.abs(directions)
    target = [-1, -1, -1]
    for _ in range(3):
        axis, world = np.unravel_index(np.argmax(weights), weights.shape)
        target[axis] = 2 - int(world)
        weights[axis, :] = -1.0
        weights[:, world] = -1.0
    flips = [a for a in range(3) if directions[a, 2 - target[a]] < 0]
    if flips:
        volume = np.flip(volume, axis=flips)
    permutation = [target.index(t) for t in range(3)]
    return np.transpose(volume, permutation), tuple(zooms[a] for a in permutation)
