"""Images made up for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def blurred_noise(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` images of smooth random blobs in [0, 1]: like no class of any test model, but not white noise."""
    from scipy.ndimage import gaussian_filter

    fields = np.random.default_rng(seed).random((n, *shape))
    smooth = np.stack([gaussian_filter(field, sigma=(1.5, 1.5, 0)[: field.ndim]) for field in fields])
    low, high = smooth.min(axis=(1, 2, 3), keepdims=True), smooth.max(axis=(1, 2, 3), keepdims=True)
    return ((smooth - low) / (high - low)).astype(np.float32)


def write_class_folders(root: Path, images: Any, count: int, name: str = "{:04d}.png") -> Path:
    """The first ``count`` images of an ImageSet (one channel, [0, 1]) as 8-bit PNGs in one folder per class."""
    from skimage import io

    for i in range(count):
        folder = root / images.class_names[images.labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(images.images[i, ..., 0] * 255).astype(np.uint8)
        io.imsave(folder / name.format(i), pixels, check_contrast=False)
    return root
