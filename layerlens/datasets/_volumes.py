"""What the volume loaders share: their arguments' checks, intensity scaling, resampling and the axes' order.

A volume arrives here as a float array in layerlens' own layout ``(D, H, W)`` (see
:data:`~layerlens.options.VOLUME_AXES`) with its voxel spacing in mm, and leaves as float32 in [0, 1]
at the requested shape, its axes in the requested order, with one channel.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from layerlens.exceptions import InvalidInputError
from layerlens.options import VOLUME_AXES, check_axes

__all__ = [
    "MIN_SIDE",
    "Scaling",
    "check_percentiles",
    "check_shape",
    "check_spacing",
    "check_window",
    "crop_or_pad",
    "finish_volume",
    "reorder",
    "resample",
    "resize_volume",
    "scale_intensities",
]

#: Smallest side of a requested volume, as ``image_size`` asks at least 4 pixels of an image.
MIN_SIDE = 4

#: How intensities are brought to [0, 1]: a fixed window ``(lo, hi)`` in the file's units, or else the
#: volume's own percentiles ``(low, high)``.
Scaling = tuple[tuple[float, float] | None, tuple[float, float]]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _triple(value: Any) -> tuple | None:
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str) and len(value) == 3:
        return tuple(value)
    return None


def check_shape(shape: Any, name: str = "shape") -> tuple[int, int, int]:
    """``shape`` as ``(D, H, W)`` (an int means a cube), or raise unless each side is an int >= 4."""
    sides = (shape,) * 3 if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) else _triple(shape)
    if sides is None or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= MIN_SIDE for s in sides
    ):
        raise InvalidInputError(
            f"{name}: expected (depth, height, width) as three ints >= {MIN_SIDE}, or one int for a cube; "
            f"received {shape!r}."
        )
    return int(sides[0]), int(sides[1]), int(sides[2])


def check_spacing(spacing: Any, name: str = "spacing") -> tuple[float, float, float] | None:
    """``spacing`` as ``(sd, sh, sw)`` in mm (a number means isotropic), None kept; raise unless each is > 0."""
    if spacing is None:
        return None
    sides = (spacing,) * 3 if _is_number(spacing) else _triple(spacing)
    if sides is None or not all(_is_number(s) and s > 0 for s in sides):
        raise InvalidInputError(
            f"{name}: expected the voxel spacing (depth, height, width) in mm as three positive numbers, or one for "
            f"isotropic voxels; received {spacing!r}."
        )
    return float(sides[0]), float(sides[1]), float(sides[2])


def check_window(window: Any, name: str = "window") -> tuple[float, float] | None:
    """``window`` as ``(lo, hi)`` with ``lo < hi``, None kept; raise on anything else."""
    if window is None:
        return None
    pair = tuple(window) if isinstance(window, (Sequence, np.ndarray)) and not isinstance(window, str) else ()
    if len(pair) != 2 or not all(_is_number(v) for v in pair) or not pair[0] < pair[1]:
        raise InvalidInputError(
            f"{name}: expected (low, high), two numbers in the file's units with low < high (e.g. (-1000, 400) "
            f"Hounsfield units for CT); received {window!r}."
        )
    return float(pair[0]), float(pair[1])


def check_percentiles(percentiles: Any, name: str = "percentiles") -> tuple[float, float]:
    """``percentiles`` as ``(low, high)`` with ``0 <= low < high <= 100``; raise on anything else."""
    pair = (
        tuple(percentiles)
        if isinstance(percentiles, (Sequence, np.ndarray)) and not isinstance(percentiles, str)
        else ()
    )
    if len(pair) != 2 or not all(_is_number(v) for v in pair) or not 0 <= pair[0] < pair[1] <= 100:
        raise InvalidInputError(
            f"{name}: expected (low, high) percentiles with 0 <= low < high <= 100, e.g. (0.5, 99.5); "
            f"received {percentiles!r}."
        )
    return float(pair[0]), float(pair[1])


def scale_intensities(
    volume: np.ndarray, window: tuple[float, float] | None, percentiles: tuple[float, float]
) -> np.ndarray:
    """``volume`` clipped to ``window`` (else to its own ``percentiles``) and scaled to [0, 1], float32.

    A volume of one value (or a window it lies outside of on one side) scales to all zeros or all ones, never
    to NaN.
    """
    values = np.asarray(volume, dtype=np.float32)
    if window is not None:
        low, high = window
    else:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ValueError("no finite voxel value")
        low, high = (float(v) for v in np.percentile(finite, percentiles))
    if high <= low:
        return np.zeros(values.shape, np.float32)
    scaled = (values - np.float32(low)) / np.float32(high - low)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0, out=scaled).astype(np.float32, copy=False)


def resize_volume(volume: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``volume`` (3-D) resized to ``shape`` by trilinear interpolation, anti-aliased along the axes it shrinks.

    skimage's Gaussian pre-filter has a width of ``(factor - 1) / 2`` along each axis, so an axis that is
    enlarged is not blurred.
    """
    from skimage.transform import resize

    target = tuple(int(s) for s in shape)
    if volume.shape == target:
        return volume.astype(np.float32, copy=False)
    shrinking = any(t < s for t, s in zip(target, volume.shape))
    out = resize(
        volume.astype(np.float32, copy=False),
        target,
        order=1,
        mode="edge",
        anti_aliasing=shrinking,
        preserve_range=True,
    )
    return out.astype(np.float32, copy=False)


def resample(volume: np.ndarray, zooms: Sequence[float], spacing: Sequence[float]) -> np.ndarray:
    """``volume`` with voxels of ``zooms`` mm resampled to voxels of ``spacing`` mm (the same field of view)."""
    target = [max(1, round(n * z / s)) for n, z, s in zip(volume.shape, zooms, spacing)]
    return resize_volume(volume, target)


def crop_or_pad(volume: np.ndarray, shape: Sequence[int], fill: float = 0.0) -> np.ndarray:
    """``volume`` cropped or padded with ``fill`` to ``shape``, centred: of an odd difference, the extra voxel
    is cut from (or added at) the end of the axis."""
    out = np.full(tuple(shape), fill, dtype=volume.dtype)
    source, target = [], []
    for have, want in zip(volume.shape, shape):
        if have >= want:
            start = (have - want) // 2
            source.append(slice(start, start + want))
            target.append(slice(0, want))
        else:
            start = (want - have) // 2
            source.append(slice(0, have))
            target.append(slice(start, start + have))
    out[tuple(target)] = volume[tuple(source)]
    return out


def reorder(volume: np.ndarray, axes: str) -> np.ndarray:
    """A ``(D, H, W, ...)`` array with its first three axes put in the order ``axes`` names."""
    check_axes(axes)
    order = [VOLUME_AXES.index(letter) for letter in axes]
    return np.transpose(volume, (*order, *range(3, volume.ndim)))


def finish_volume(
    volume: np.ndarray,
    zooms: Sequence[float],
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float] | None,
    scaling: Scaling,
    axes: str,
) -> np.ndarray:
    """A ``(D, H, W)`` volume of voxels ``zooms`` mm as the loaders return it: intensities scaled to [0, 1] (on the
    whole volume, before any cropping), resampled to ``spacing`` and cropped or padded (with 0) to ``shape``, or
    else resized to ``shape``; axes in the order ``axes``, one channel last; float32, contiguous."""
    window, percentiles = scaling
    scaled = scale_intensities(volume, window, percentiles)
    if spacing is not None:
        sized = crop_or_pad(resample(scaled, zooms, spacing), shape)
    else:
        sized = resize_volume(scaled, shape)
    out = reorder(np.clip(sized, 0.0, 1.0), axes)[..., np.newaxis]
    return np.ascontiguousarray(out, dtype=np.float32)
