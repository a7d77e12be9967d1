"""Grad-CAM: which places of a convolution layer's maps the class score depends on, scaled up to the image.

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
    """Grad-CAM heat maps of ``images`` ``(N, H, W, C)`` for ``targets``, in batches.

    Notes
    -----
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh and D. Batra, "Grad-CAM: Visual
    Explanations from Deep Networks via Gradient-based Localization", ICCV 2017. The maps are resized
    bilinearly; ``seed`` is unused (the method has no randomness).
    """
    name = scorer.last_convolution() if layer is None else scorer.check_layer(layer)
    height, width = images.shape[1:3]
    heatmaps = []
    step = scorer.gradient_rows
    for start in range(0, len(images), step):
        _, maps, grads = scorer.scores_and_maps(images[start : start + step], targets[start : start + step], name)
        weights = grads.mean(axis=(1, 2), keepdims=True)  # (n, 1, 1, channels)
        cam = np.maximum((weights * maps).sum(axis=-1), 0.0)  # (n, h, w)
        resized = tf.image.resize(cam[..., np.newaxis], (height, width), method="bilinear").numpy()[..., 0]
        heatmaps.extend(resized.astype(np.float32))
    return [
        Explanation(method="gradcam", target=int(t), heatmap=h, seconds=0.0, layer=name)
        for h, t in zip(heatmaps, targets)
    ]
