"""Simple properties of each image, measured during the pass: what a layer's clusters may follow instead of the
classes (the brightest images apart from the darker ones, the sharp from the flat)."""

from __future__ import annotations

import numpy as np

__all__ = ["IMAGE_PROPERTIES", "image_properties"]

#: The properties measured of each image, and what each is, on the displayed scale (0 black, 1 white).
IMAGE_PROPERTIES = {
    "mean_intensity": "mean intensity",
    "contrast": "contrast (standard deviation of the intensities)",
    "bright_area": "share of the image brighter than half of full white",
}


def image_properties(images: np.ndarray, display_range: tuple[float, float]) -> np.ndarray:
    """The :data:`IMAGE_PROPERTIES` of a batch, one row per image.

    Parameters
    ----------
    images : ndarray of shape (B, ...spatial, C)
        The images as they reached layerlens (before any pixel scale), any number of spatial axes.
    display_range : (float, float)
        The values shown as black and white: the intensities are put on [0, 1] by it first.

    Returns
    -------
    ndarray of shape (B, 3), float32
        Mean intensity, contrast and bright area of each image, in the order of :data:`IMAGE_PROPERTIES`.
    """
    low, high = float(display_range[0]), float(display_range[1])
    span = high - low if high > low else 1.0
    batch = np.asarray(images, dtype=np.float32)
    grey = batch.reshape(len(batch), -1, batch.shape[-1]).mean(axis=2)  # channels averaged: an intensity
    grey = np.clip((grey - low) / span, 0.0, 1.0)
    return np.stack([grey.mean(axis=1), grey.std(axis=1), (grey > 0.5).mean(axis=1)], axis=1).astype(np.float32)
