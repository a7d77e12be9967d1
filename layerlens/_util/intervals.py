"""Confidence intervals of a share: the Wilson score interval, shared by every place that compares accuracies."""

from __future__ import annotations

import numpy as np

__all__ = ["Z_95", "wilson_interval"]

#: The two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054


def wilson_interval(successes: np.ndarray | float, trials: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of ``successes / trials`` (elementwise); ``trials`` must be positive.

    Notes
    -----
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22,
    1927. Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or all successes.

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 3), round(float(high), 3)
    (0.49, 0.943)
    """
    n = np.asarray(trials, dtype=np.float64)
    share = np.asarray(successes, dtype=np.float64) / n
    z2 = Z_95**2
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * np.sqrt(share * (1 - share) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    return centre - half, centre + half
