"""Images of no class, to show a model as probes (``analyze(..., probes=...)``).

A model trained on one kind of image still names one of its classes for anything it is shown. Probes check
whether its doubt notices: another data set brought to the model's image shape (:func:`match_shape`), or
structured noise with the intensities of the model's own images (:func:`structured_noise`).
"""

from __future__ import annotations

import numpy as np

from layerlens._util.validation import check_int, check_seed
from layerlens.datasets._resize import resize_images
from layerlens.exceptions import InvalidInputError

__all__ = ["match_shape", "structured_noise"]


def _images(array: np.ndarray, argument: str, *, unit_range: bool = True) -> np.ndarray:
    """``array`` as float (N, H, W, C) images, one channel added to (N, H, W), with at least one image (and,
    with ``unit_range``, pixel values in [0, 1])."""
    images = np.asarray(array)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or len(images) == 0 or not np.issubdtype(images.dtype, np.number):
        raise InvalidInputError(
            f"{argument}: expected numeric images (N, H, W, C) or (N, H, W), at least one; received an array of "
            f"shape {images.shape} and dtype {images.dtype}."
        )
    low, high = float(images.min()), float(images.max())
    if unit_range and (low < -1e-6 or high > 1 + 1e-6 or not np.isfinite([low, high]).all()):
        raise InvalidInputError(
            f"{argument}: expected pixel values in [0, 1] (divide 0..255 images by 255); received values in "
            f"[{low:.4g}, {high:.4g}]."
        )
    return images.astype(np.float32, copy=False)


def match_shape(images: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``images`` brought to the height, width and channels of ``like`` (e.g. faces for an MRI model).

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, H, W)
        Images in [0, 1].
    like : ndarray of shape (M, H2, W2, C2) or (M, H2, W2)
        Images of the shape wanted (only their shape is read).

    Returns
    -------
    ndarray of shape (N, H2, W2, C2), float32, in [0, 1]
        Resized bilinearly (anti-aliased when shrinking); colour becomes gray as the channel mean, and gray is
        repeated into every channel of ``like``.

    Raises
    ------
    InvalidInputError
        If either array is not a stack of images in [0, 1], or ``images`` and ``like`` have different channel
        counts of which neither is 1.
    """
    source, target = _images(images, "images"), _images(like, "like", unit_range=False)
    channels, wanted = source.shape[3], target.shape[3]
    if channels != wanted:
        if wanted == 1:
            source = source.mean(axis=3, keepdims=True)
        elif channels == 1:
            source = np.repeat(source, wanted, axis=3)
        else:
            raise InvalidInputError(
                f"like: expected images of 1 channel or of the {channels} of images; received {wanted} channels."
            )
    return resize_images(np.clip(source, 0.0, 1.0), target.shape[1:3])


def structured_noise(n: int, like: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Blurred random fields with the intensities of ``like``'s images: smooth blobs that belong to no class.

    Each field is white noise blurred by a Gaussian of a random width (0.5 to 4 pixels per 28 of the image's
    side), then, channel by channel, given the mean and standard deviation of a randomly drawn image of
    ``like`` and clipped to [0, 1]. Unlike white noise, it cannot be told from the model's images by its
    brightness or its fine grain alone.

    Parameters
    ----------
    n : int
        Number of images, at least 1.
    like : ndarray of shape (M, H, W, C) or (M, H, W)
        Images in [0, 1] of the shape and intensities wanted (e.g. the model's test images).
    seed : int, default=0
        Seed of the fields, their widths and the images drawn.

    Returns
    -------
    ndarray of shape (n, H, W, C), float32, in [0, 1]
    """
    from scipy.ndimage import gaussian_filter

    count = check_int(n, "n", minimum=1)
    reference = _images(like, "like")
    rng = np.random.default_rng(check_seed(seed))
    height, width, channels = reference.shape[1:]
    out = np.empty((count, height, width, channels), np.float32)
    for i in range(count):
        sigma = rng.uniform(0.5, 4.0) * min(height, width) / 28
        field = gaussian_filter(rng.standard_normal((height, width, channels)), (sigma, sigma, 0))
        field = (field - field.mean(axis=(0, 1))) / (field.std(axis=(0, 1)) + 1e-12)
        model_image = reference[rng.integers(len(reference))]
        mean, spread = model_image.mean(axis=(0, 1)), model_image.std(axis=(0, 1))
        out[i] = np.clip(field * spread + mean, 0.0, 1.0)
    return out
