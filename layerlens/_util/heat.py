"""A heat map alone as a picture: red where it speaks for the class, blue where against, white where silent.

The colours and the saturation are those of :mod:`layerlens.figures._overlay`, which draws the same maps over
their images; this module sits below the explanations, so that an explanation can draw itself.
"""

from __future__ import annotations

import numpy as np

__all__ = ["heat_picture"]

_FOR_COLOUR = (220, 38, 38)
_AGAINST_COLOUR = (37, 99, 235)
# The colour saturates at this quantile of |heat map|: a few extreme pixels must not wash out the rest.
_SATURATION_QUANTILE = 0.99
# Maps smaller than this (pixels on the longer side) are enlarged by a whole factor.
_MIN_DISPLAY = 128


def heat_picture(heatmap: np.ndarray) -> np.ndarray:
    """The heat map ``(H, W)`` as a uint8 RGB picture, enlarged (pixel blocks) to at least 128 pixels."""
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32))
    magnitude = np.abs(heat)
    limit = float(np.quantile(magnitude, _SATURATION_QUANTILE)) if heat.size else 0.0
    if limit <= 0.0:  # mostly zero (LIME's few weighted segments): saturate at the largest value instead
        limit = float(magnitude.max(initial=0.0)) or 1.0
    strength = np.clip(magnitude / limit, 0.0, 1.0)[..., np.newaxis]
    colour = np.where(heat[..., np.newaxis] >= 0, np.float32(_FOR_COLOUR), np.float32(_AGAINST_COLOUR))
    picture = np.round(255.0 * (1.0 - strength) + colour * strength).astype(np.uint8)
    factor = max(1, int(np.ceil(_MIN_DISPLAY / max(*heat.shape, 1))))
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
