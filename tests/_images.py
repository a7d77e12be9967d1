"""Images made up for tests."""

from __future__ import annotations

import numpy as np


def blurred_noise(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` images of smooth random blobs in [0, 1]: like no class of any test model, but not white noise."""
    from scipy.ndimage import gaussian_filter

    fields = np.random.default_rng(seed).random((n, *shape))
    smooth = np.stack([gaussian_filter(field, sigma=(1.5, 1.5, 0)[: field.ndim]) for field in fields])
    low, high = smooth.min(axis=(1, 2, 3), keepdims=True), smooth.max(axis=(1, 2, 3), keepdims=True)
    return ((smooth - low) / (high - low)).astype(np.float32)
