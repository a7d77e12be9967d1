"""SmoothGrad: the gradient of the class score, averaged over noisy copies of the image.

A single gradient of a deep network is noisy from pixel to pixel; averaged over ``samples`` copies with
Gaussian noise of ``noise`` times the image's pixel range, it shows the regions the class score is
sensitive to.
The heat map is the mean gradient of the score (the logit before the final softmax or sigmoid), summed
over the channels: positive where brightening the image would raise the class.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from layerlens.explanations._result import Explanation

__all__ = ["explain_smoothgrad"]


def explain_smoothgrad(
    scorer: Any, images: np.ndarray, targets: np.ndarray, seed: int, *, samples: int, noise: float
) -> list[Explanation]:
    """SmoothGrad heat maps of ``images`` ``(N, H, W, C)``; every noisy copy of every image in one batched pass.

    Notes
    -----
    D. Smilkov, N. Thorat, B. Kim, F. Viégas and M. Wattenberg, "SmoothGrad: removing noise by adding
    noise", arXiv:1706.03825, 2017. The noise's standard deviation is ``noise`` times the image's own
    range (its largest minus its smallest pixel value), as in the paper; every image's noise is drawn
    from a generator seeded with ``seed`` alone, so its explanation does not depend on the other
    images of the call.
    """
    from layerlens._util.validation import check_int
    from layerlens.exceptions import InvalidInputError

    samples = check_int(samples, "samples", minimum=1)
    if not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not 0.0 <= noise <= 1.0:
        raise InvalidInputError(f"noise: expected a share of the pixel range in [0, 1]; received {noise!r}.")
    spread = (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))).astype(np.float32)
    sigma = (np.float32(noise) * spread)[:, None, None, None, None]
    draws = np.random.default_rng(seed).standard_normal((1, samples, *images.shape[1:]), np.float32)
    copies = (images[:, np.newaxis] + sigma * draws).reshape(-1, *images.shape[1:])
    grads = scorer.input_gradients(copies, np.repeat(targets, samples))
    heatmaps = grads.reshape(len(images), samples, *images.shape[1:]).mean(axis=1).sum(axis=-1)
    return [
        Explanation(method="smoothgrad", target=int(t), heatmap=h.astype(np.float32), seconds=0.0)
        for h, t in zip(heatmaps, targets)
    ]
