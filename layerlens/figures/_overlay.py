"""Heat maps drawn over their image: red where the map speaks for the class, blue where against.

Pure numpy: a site or a figure draws overlays from a stored run without TensorFlow.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FOR_COLOUR", "AGAINST_COLOUR", "display_size", "heat_limit", "overlay", "overlay_on", "through_maximum", "to_rgb",
    "upscale",
]  # fmt: skip

#: Colours of attribution for the class and against it (RGB).
FOR_COLOUR = (220, 38, 38)
AGAINST_COLOUR = (37, 99, 235)
# Images smaller than this (pixels on the longer side) are enlarged by a whole factor for display.
_MIN_DISPLAY = 128
# Share of the heat map's magnitude that saturates the colour: a few extreme pixels (common in
# gradient maps) must not leave the rest of the map invisible.
_SATURATION_QUANTILE = 0.99


def heat_limit(heatmap: np.ndarray) -> float:
    """The magnitude at which the overlay's colour saturates: the 99th percentile of ``|heatmap|``.

    Falls back to the largest magnitude when most of the map is zero (LIME's few weighted segments,
    Grad-CAM's cut-off negatives), and to 1 for an all-zero map.
    """
    magnitude = np.abs(np.asarray(heatmap, dtype=np.float64))
    limit = float(np.quantile(magnitude, _SATURATION_QUANTILE))
    if limit <= 0.0:
        limit = float(magnitude.max())
    return limit if limit > 0.0 else 1.0


def to_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 image ``(H, W, 1 or 3)`` or ``(H, W)`` as ``(H, W, 3)``."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def display_size(height: int, width: int) -> int:
    """The whole factor by which an image of this size is enlarged for display (1 for 128 pixels and more)."""
    return max(1, int(np.ceil(_MIN_DISPLAY / max(height, width, 1))))


def upscale(array: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge the first two axes by a whole factor, each pixel a block (no smoothing that would invent detail)."""
    if factor == 1:
        return array
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def overlay(image: np.ndarray, heatmap: np.ndarray, *, opacity: float = 0.65, limit: float | None = None) -> np.ndarray:
    """The image, in gray or colour, with the heat map blended over it.

    Parameters
    ----------
    image : ndarray of shape (H, W, C) or (H, W), uint8
        The image as displayed.
    heatmap : ndarray of shape (H, W)
        Positive values for the class (red), negative against it (blue).
    opacity : float, default=0.65
        Opacity of the colour where the map saturates; weaker values are blended in proportion.
    limit : float, optional
        Magnitude that saturates the colour; default :func:`heat_limit` of the map.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
    """
    base = to_rgb(image).astype(np.float32)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != base.shape[:2]:
        raise ValueError(f"heatmap: expected shape {base.shape[:2]} to match the image; received {heat.shape}.")
    strength = np.clip(np.abs(heat) / (heat_limit(heat) if limit is None else limit), 0.0, 1.0) * opacity
    colour = np.where(heat[..., np.newaxis] >= 0, np.float32(FOR_COLOUR), np.float32(AGAINST_COLOUR))
    blended = base * (1.0 - strength[..., np.newaxis]) + colour * strength[..., np.newaxis]
    return np.round(blended).astype(np.uint8)


def overlay_on(picture: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The heat map over a picture of the same image at another size (its own, up to 512 pixels).

    The map is resized bilinearly to the picture (the model's input and the picture show the same field of
    view); its colour saturates where the map at its own size would, so both sizes read alike.
    """
    from skimage.transform import resize

    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != picture.shape[:2]:
        heat = resize(heat, picture.shape[:2], order=1, preserve_range=True, anti_aliasing=False).astype(np.float32)
    return overlay(picture, heat, limit=heat_limit(heatmap))


def through_maximum(volume: np.ndarray, heatmap: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """The slice of a volume and of its heat map through the map's maximum, and that slice's index.

    A place that shows one picture of a 3-D explanation shows this slice: where the map speaks most for
    the class (its first maximum, NaN never counting as one).

    Parameters
    ----------
    volume : ndarray of shape (D, H, W, C) or (D, H, W)
        The volume (as displayed or as the model takes it); its spatial axes are those of ``heatmap``.
    heatmap : ndarray of shape (D, H, W)
        Its heat map.
    axis : int, default=0
        The spatial axis across which to slice: 0, the first (depth, the axial slices of a volume stored
        depth first), 1 or 2.

    Returns
    -------
    slice_image : ndarray of shape (H, W, C) or (H, W)
        The volume's slice (axes other than ``axis``, in order; channels kept).
    slice_heat : ndarray of shape (H, W)
        The heat map's slice.
    index : int
        Its position along ``axis``.
    """
    heat = np.asarray(heatmap)
    volume = np.asarray(volume)
    if heat.ndim != 3 or volume.shape[:3] != heat.shape or volume.ndim not in (3, 4):
        raise ValueError(f"heatmap: expected a 3-D map of the volume's shape; received {heat.shape}, {volume.shape}.")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis: expected a spatial axis, 0, 1 or 2; received {axis!r}.")
    flat = np.nan_to_num(heat.astype(np.float64), nan=-np.inf).argmax()
    index = int(np.unravel_index(flat, heat.shape)[axis])
    return np.take(volume, index, axis=axis), np.take(heat, index, axis=axis), index
