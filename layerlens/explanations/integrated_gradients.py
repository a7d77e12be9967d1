"""Integrated gradients: the gradient of the class score along the straight path from a black image, times the image.

For each pixel, the average gradient of the class score (the logit before the final softmax or sigmoid)
over ``steps`` images between the black baseline and the image, multiplied by the pixel's difference from
the baseline; summed over the channels. The attributions add up (approximately) to the score of the
image minus the score of the black image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerlens.explanations._result import Explanation

__all__ = ["explain_integrated_gradients"]


def explain_integrated_gradients(
    scorer: Any, images: np.ndarray, targets: np.ndarray, seed: int, *, steps: int
) -> list[Explanation]:
    """Integrated-gradient heat maps of ``images`` ``(N, H, W, C)`` or volumes ``(N, D, H, W, C)``.

    The steps of every image go through the model in large batches; the path is made as it is needed, a
    bounded chunk at a time (see :meth:`~layerlens.explanations.Scorer.mean_input_gradients`), so 64 steps
    of a large volume never sit in memory at once.

    Notes
    -----
    M. Sundararajan, A. Taly and Q. Yan, "Axiomatic Attribution for Deep Networks", ICML 2017. The
    path integral is the midpoint rule with ``steps`` points; the baseline is a black image (all zeros
    in the images' units). ``seed`` is unused.
    """
    from layerlens._util.validation import check_int

    steps = check_int(steps, "steps", minimum=1)
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    path = (alpha * image for image in images for alpha in alphas)
    mean_grads = scorer.mean_input_gradients(path, targets, steps)
    attributions = (mean_grads * images).sum(axis=-1)  # baseline 0: (x - baseline) is x
    return [
        Explanation(method="integrated_gradients", target=int(t), heatmap=a.astype(np.float32), seconds=0.0)
        for a, t in zip(attributions, targets)
    ]
