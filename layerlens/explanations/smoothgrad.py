"""SmoothGrad: the gradient of the class score, averaged over noisy copies of the image.

A single gradient of a deep network is noisy from pixel to pixel; averaged over ``samples`` copies with
Gaussian noise of ``noise`` times the image's pixel range, it shows the regions the class score is
sensitive to.
The heat map is the mean gradient of the score (the logit before the final softmax or sigmoid), summed
over the channels: positive where brightening the image would raise the class.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from layerlens.explanations._result import Explanation

__all__ = ["explain_smoothgrad"]


def explain_smoothgrad(
    scorer: Any, images: np.ndarray, targets: np.ndarray, seed: int, *, samples: int, noise: float
) -> list[Explanation]:
    """SmoothGrad heat maps of ``images`` ``(N, H, W, C)`` or volumes ``(N, D, H, W, C)``.

    The noisy copies of every image go through the model in large batches; they are made as they are
    needed, a bounded chunk at a time (see :meth:`~layerlens.explanations.Scorer.mean_input_gradients`).

    Notes
    -----
    D. Smilkov, N. Thorat, B. Kim, F. Viégas and M. Wattenberg, "SmoothGrad: removing noise by adding
    noise", arXiv:1706.03825, 2017. The noise's standard deviation is ``noise`` times the image's own
    range (its largest minus its smallest value, over all its pixels or voxels and channels), as in the
    paper; every image's noise is drawn from a generator seeded with ``seed`` alone, so its explanation
    does not depend on the other images of the call.
    """
    from layerlens._util.validation import check_int
    from layerlens.exceptions import InvalidInputError

    samples = check_int(samples, "samples", minimum=1)
    if not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not 0.0 <= noise <= 1.0:
        raise InvalidInputError(f"noise: expected a share of the pixel range in [0, 1]; received {noise!r}.")
    every_axis = tuple(range(1, images.ndim))
    spread = (images.max(axis=every_axis) - images.min(axis=every_axis)).astype(np.float32)
    sigmas = np.float32(noise) * spread

    def noisy() -> Iterator[np.ndarray]:
        for image, sigma in zip(images, sigmas):
            draws = np.random.default_rng(seed)  # the same draws for every image, one copy after another
            for _ in range(samples):
                yield image + sigma * draws.standard_normal(image.shape, np.float32)

    heatmaps = scorer.mean_input_gradients(noisy(), targets, samples).sum(axis=-1)
    return [
        Explanation(method="smoothgrad", target=int(t), heatmap=h.astype(np.float32), seconds=0.0)
        for h, t in zip(heatmaps, targets)
    ]
