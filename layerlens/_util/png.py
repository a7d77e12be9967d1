"""PNG files from uint8 arrays, byte for byte the same for the same array."""

from __future__ import annotations

import base64
import io

import numpy as np

__all__ = ["png_bytes", "png_data_uri"]


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of a uint8 image ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``."""
    from PIL import Image  # pillow comes with scikit-image (through imageio)

    picture = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def png_data_uri(image: np.ndarray) -> str:
    """The PNG of :func:`png_bytes` as a ``data:`` URI, for an ``<img>`` or a plotly image."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
