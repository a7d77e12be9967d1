"""Grad-CAM: which places of a convolution layer's maps the class score depends on, scaled up to the image.

Volumes too: for a model of 3-D inputs the layer is the last one with 3-D maps (a ``Conv3D``, or a residual
``Add`` of them), and its map is resized trilinearly to the volume's depth, height and width.

Each channel of the layer's maps is weighted by the mean gradient of the class score (the logit before
the final softmax or sigmoid) over its positions; the weighted sum, negative parts cut off, is resized
to the image. The layer is the last convolution (or block output, such as a residual ``Add``) with a
spatial map, on the network's trunk when there is one, also inside a nested base model, followed through
the normalisation and activation layers right after it (``out_relu`` of a MobileNetV2,
``conv5_block3_out`` of a ResNet50).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from layerlens.explanations._result import Explanation

__all__ = ["explain_gradcam"]


def explain_gradcam(
    scorer: Any, images: np.ndarray, targets: np.ndarray, seed: int, *, layer: str | None
) -> list[Explanation]:
    """Grad-CAM heat maps of ``images`` ``(N, H, W, C)`` or volumes ``(N, D, H, W, C)`` for ``targets``, in batches.

    Notes
    -----
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh and D. Batra, "Grad-CAM: Visual
    Explanations from Deep Networks via Gradient-based Localization", ICCV 2017. The maps are resized
    bilinearly (trilinearly for volumes: 3-D maps, each channel weighted by its gradient averaged over
    depth, height and width); ``seed`` is unused (the method has no randomness).
    """
    name = scorer.last_convolution() if layer is None else scorer.check_layer(layer)
    size = images.shape[1:-1]
    heatmaps = []
    step = scorer.gradient_rows
    for start in range(0, len(images), step):
        _, maps, grads = scorer.scores_and_maps(images[start : start + step], targets[start : start + step], name)
        weights = grads.mean(axis=tuple(range(1, grads.ndim - 1)), keepdims=True)  # (n, 1, 1, channels)
        cam = np.maximum((weights * maps).sum(axis=-1), 0.0)  # (n, h, w) or (n, d, h, w)
        if len(size) == 2:
            resized = tf.image.resize(cam[..., np.newaxis], size, method="bilinear").numpy()[..., 0]
        else:
            resized = _trilinear(cam, size)
        heatmaps.extend(resized.astype(np.float32))
    return [
        Explanation(method="gradcam", target=int(t), heatmap=h, seconds=0.0, layer=name)
        for h, t in zip(heatmaps, targets)
    ]


def _trilinear(cams: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """3-D maps ``(n, d, h, w)`` resized to ``(n, *size)`` by linear interpolation along each axis.

    Trilinear interpolation is bilinear in each plane, then linear along the depth: two calls of the 2-D
    resize, so the pixel centres line up as they do for images (``half_pixel_centers``). The second call
    leaves the planes' axis at its size, where the resize is the identity.
    """
    n, d, h, w = cams.shape
    depth, height, width = (int(s) for s in size)
    planes = tf.image.resize(cams.reshape(n * d, h, w, 1), (height, width), method="bilinear")
    stacked = tf.reshape(planes, (n, d, height * width, 1))
    return tf.image.resize(stacked, (depth, height * width), method="bilinear").numpy().reshape(n, depth, height, width)
