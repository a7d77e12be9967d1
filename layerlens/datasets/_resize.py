"""Resizing helpers shared by the loaders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.transform import resize

from layerlens.exceptions import InvalidInputError


def check_image_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """Normalise ``image_size`` to ``(H, W)`` or None, raising on anything else."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)):
        size: tuple = (image_size, image_size)
    else:
        size = tuple(image_size) if isinstance(image_size, Sequence) and not isinstance(image_size, str) else ()
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 4 for s in size):
        raise InvalidInputError(
            f"image_size: expected an int or a pair (height, width) of ints >= 4; received {image_size!r}."
        )
    return int(size[0]), int(size[1])


def resize_images(images: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize (N, H, W, C) images to ``size`` with bilinear interpolation; float32 in [0, 1] out.

    Anti-aliasing is applied only when shrinking, where it prevents moiré; when
    enlarging (8x8 digits to 32x32) it would only blur.
    """
    if size is None or images.shape[1:3] == size:
        return images.astype(np.float32, copy=False)
    shrinking = size[0] < images.shape[1] or size[1] < images.shape[2]
    out = np.empty((len(images), *size, images.shape[3]), dtype=np.float32)
    for i, image in enumerate(images):
        out[i] = resize(image, size, order=1, anti_aliasing=shrinking, preserve_range=True)
    return np.clip(out, 0.0, 1.0, out=out)
