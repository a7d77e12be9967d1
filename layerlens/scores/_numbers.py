"""The numbers the scores share: bootstrap resamples and intervals, checked probabilities, JSON pairs, text."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens.exceptions import InvalidInputError

__all__: list[str] = []

# Rows sum to 1 up to float32 rounding of a softmax; 1e-3 also forgives outputs stored with few digits.
_ROW_SUM_TOLERANCE = 1e-3
# Elements of the (resamples x images) index matrix drawn at once: bounds bootstrap memory (~16 MB).
_BOOTSTRAP_CHUNK = 2_000_000


def _bootstrap_indices(n: int, n_bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """Yield resampled image indices, shape (B, n) in row chunks drawn lazily to bound memory.

    The chunks are consecutive draws from one generator, so they equal a single (B, n) draw.
    """
    rng = np.random.default_rng(seed)
    rows = max(1, _BOOTSTRAP_CHUNK // n)
    for start in range(0, n_bootstrap, rows):
        yield rng.integers(0, n, size=(min(rows, n_bootstrap - start), n))


def _bootstrap_rates(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int,
    negative: int | None,
    index_chunks: Iterable[np.ndarray],
) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy, sensitivity and specificity of each resample (row of indices).

    Every image gets a code ``4 * true + 2 * correct + predicted_negative``; one ``bincount`` of
    ``code + 4 * K * row`` then gives, for every resample, the per-class counts all four rates need.
    Undefined rates (no image of the class in a resample) are NaN.
    """
    pred_negative = np.zeros(len(y_true), bool) if negative is None else y_pred == negative
    code = 4 * y_true.astype(np.int64) + 2 * (y_true == y_pred) + pred_negative
    stride = 4 * n_classes
    parts: dict[str, list[np.ndarray]] = {
        name: [] for name in ("accuracy", "balanced_accuracy", "sensitivity", "specificity")
    }
    for idx in index_chunks:
        b = idx.shape[0]
        keys = code[idx] + (stride * np.arange(b, dtype=np.int64))[:, None]
        counts = np.bincount(keys.ravel(), minlength=b * stride).reshape(b, n_classes, 2, 2)
        total = counts.sum(axis=(2, 3))  # (b, K) true images per class
        hits = counts[:, :, 1, :].sum(axis=2)  # correctly predicted
        to_negative = counts[:, :, :, 1].sum(axis=2)  # predicted as the negative class
        present = total > 0
        recall = np.divide(hits, total, out=np.zeros(hits.shape), where=present)
        parts["accuracy"].append(hits.sum(axis=1) / idx.shape[1])
        parts["balanced_accuracy"].append(recall.sum(axis=1) / present.sum(axis=1))
        if negative is not None:
            lesion = np.arange(n_classes) != negative
            n_lesion = total[:, lesion].sum(axis=1)
            found = n_lesion - to_negative[:, lesion].sum(axis=1)
            parts["sensitivity"].append(_ratio_or_nan(found, n_lesion))
            parts["specificity"].append(_ratio_or_nan(to_negative[:, negative], total[:, negative]))
    return {name: np.concatenate(v) if v else np.full(0, np.nan) for name, v in parts.items()}


def _ratio_or_nan(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]  # resamples where the rate is undefined do not count
    if values.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _defined_mean(values: np.ndarray) -> float | None:
    defined = values[np.isfinite(values)]
    return float(defined.mean()) if defined.size else None


# ---------------------------------------------------------------------------------------------- validation


def _check_probabilities(values: Any, n: int, k: int) -> np.ndarray:
    probs = np.asarray(values)
    if probs.shape != (n, k) or not np.issubdtype(probs.dtype, np.number):
        raise InvalidInputError(
            f"probabilities: expected a numeric array of shape ({n}, {k}) (images x classes); "
            f"received {probs.dtype} of shape {probs.shape}."
        )
    probs = probs.astype(np.float64, copy=False)
    finite = np.isfinite(probs)
    if not finite.all():
        raise InvalidInputError(
            f"probabilities: expected finite values; received {int((~finite).sum())} NaN or infinite values."
        )
    if probs.min() < -_ROW_SUM_TOLERANCE or probs.max() > 1 + _ROW_SUM_TOLERANCE:
        raise InvalidInputError(
            f"probabilities: expected values in [0, 1]; received range [{probs.min():.3g}, {probs.max():.3g}]."
        )
    error = np.abs(probs.sum(axis=1) - 1.0)
    worst = int(np.argmax(error))
    if error[worst] > _ROW_SUM_TOLERANCE:
        raise InvalidInputError(
            f"probabilities: expected rows summing to 1 (within {_ROW_SUM_TOLERANCE:g}); "
            f"received row {worst} summing to {probs[worst].sum():.6g}."
        )
    return probs


# ---------------------------------------------------------------------------------------------- JSON codec


def _number(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def _with_interval(value: float | None, interval: tuple[float, float] | None) -> str:
    """``0.949 (95% CI 0.933-0.963)``, or ``n/a`` for an undefined rate."""
    if value is None or math.isnan(value):
        return "n/a"
    if interval is None or not all(math.isfinite(v) for v in interval):
        return f"{value:.3f}"
    return f"{value:.3f} (95% CI {interval[0]:.3f}–{interval[1]:.3f})"


def _decode_optional(value: float | str | None) -> float | None:
    return None if value is None else float(value)


def _encode_pair(pair: tuple[float, float] | None) -> list[float | str | None] | None:
    return None if pair is None else [encode_float(pair[0]), encode_float(pair[1])]


def _decode_pair(pair: Sequence[float | str | None] | None) -> tuple[float, float] | None:
    return None if pair is None else (decode_float(pair[0]), decode_float(pair[1]))
