"""The few tests the findings share: Holm's correction, binomial excess, shares with intervals, groups of a column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from layerlens._util.intervals import wilson_interval

__all__ = [
    "ALPHA",
    "MAX_GROUP_VALUES",
    "MIN_GROUP",
    "excess_p",
    "groups_of",
    "holm",
    "share_interval",
]

#: The level every finding's test must pass, after Holm's correction within its kind.
ALPHA = 0.01
#: A metadata column with at most this many distinct values is judged by value; a numeric one with more, by
#: quintile; any other is not judged (patient ids, file names).
MAX_GROUP_VALUES = 20
#: Groups with fewer images than this are not judged.
MIN_GROUP = 30


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` for the number of them (family-wise error).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def excess_p(count: int, total: int, expected_share: float) -> float:
    """One-sided binomial p-value of at least ``count`` of ``total`` when each has ``expected_share`` chance."""
    if total == 0:
        return 1.0
    return float(stats.binom.sf(count - 1, total, min(max(expected_share, 0.0), 1.0)))


def share_interval(count: int, total: int) -> tuple[float, float]:
    """95% Wilson interval of ``count / total``."""
    low, high = wilson_interval(count, total)
    return float(low), float(high)


def groups_of(values: pd.Series) -> pd.Series | None:
    """The groups a metadata column is judged by, as text (missing where the image has no value); None if none.

    At most :data:`MAX_GROUP_VALUES` distinct values: the values themselves. Numbers with more: their
    quintiles, named by their range (``"0.12–0.31"``). Anything else (ids, free text): None.
    """
    text = values.astype("string")
    present = text.dropna()
    if present.nunique() < 2:
        return None
    if present.nunique() <= MAX_GROUP_VALUES:
        return text
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return None
    bins = pd.qcut(numbers.astype(np.float64), 5, duplicates="drop")
    if len(bins.cat.categories) < 2:
        return None
    names = {c: f"{_short(c.left)}–{_short(c.right)}" for c in bins.cat.categories}
    grouped = pd.Series(pd.NA, index=values.index, dtype="string")
    grouped[present.index] = [names[c] for c in bins]
    return grouped


def _short(value: float) -> str:
    return f"{value:.3g}"
