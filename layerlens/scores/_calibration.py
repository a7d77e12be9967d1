"""Calibration: how well a classifier's confidence matches its accuracy (expected calibration error, the
reliability diagram's bins)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.display import frame_html
from layerlens._util.jsonfloats import encode_float
from layerlens._util.validation import check_int, check_seed, require_keys
from layerlens.exceptions import InvalidInputError
from layerlens.scores._numbers import (
    _bootstrap_indices,
    _decode_pair,
    _encode_pair,
    _percentile_interval,
    _with_interval,
)

__all__ = ["CALIBRATION_BINS", "Calibration", "calibration"]

#: Equal-width confidence bins of the reliability diagram.
CALIBRATION_BINS = 10


@dataclass(frozen=True, eq=False)
class Calibration:
    """How far the softmax confidence reads as a probability: accuracy against confidence, in bins.

    Attributes
    ----------
    bin_edges : ndarray of shape (B + 1,), float64
        Edges of the equal-width confidence bins over [0, 1].
    confidence : ndarray of shape (B,), float64
        Mean confidence (highest class probability) of the images in each bin; NaN for an empty bin.
    accuracy : ndarray of shape (B,), float64
        Share of those images predicted right; NaN for an empty bin.
    counts : ndarray of shape (B,), int64
        Images per bin.
    ece : float
        Expected calibration error: the mean over images of ``|accuracy - confidence|`` of their bin
        (0 for a model whose confidence is its accuracy).
    ece_ci : tuple of (float, float)
        95 % bootstrap percentile interval of the ECE.
    """

    bin_edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float
    ece_ci: tuple[float, float]

    def __repr__(self) -> str:
        return (
            f"<Calibration: expected calibration error {_with_interval(self.ece, self.ece_ci)}, "
            f"{len(self.counts)} bins, {int(self.counts.sum()):,} images>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per bin: its confidence range, images, mean confidence, accuracy and their gap (NaN when empty)."""
        return pd.DataFrame(
            {
                "from": self.bin_edges[:-1],
                "to": self.bin_edges[1:],
                "images": self.counts,
                "confidence": self.confidence,
                "accuracy": self.accuracy,
                "gap": self.accuracy - self.confidence,
            }
        )

    def _repr_html_(self) -> str:
        title = f"Calibration: expected calibration error {_with_interval(self.ece, self.ece_ci)}"
        return frame_html(title, self.to_frame())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN as ``None``); :meth:`from_dict` reads it back."""
        return {
            "bin_edges": [float(v) for v in self.bin_edges],
            "confidence": [encode_float(v) for v in self.confidence],
            "accuracy": [encode_float(v) for v in self.accuracy],
            "counts": [int(v) for v in self.counts],
            "ece": float(self.ece),
            "ece_ci": _encode_pair(self.ece_ci),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Rebuild a calibration stored by :meth:`to_dict`."""
        require_keys("data", data, ("bin_edges", "confidence", "accuracy", "counts", "ece", "ece_ci"))
        return cls(
            bin_edges=np.array(data["bin_edges"], dtype=np.float64),
            confidence=np.array([math.nan if v is None else float(v) for v in data["confidence"]], np.float64),
            accuracy=np.array([math.nan if v is None else float(v) for v in data["accuracy"]], np.float64),
            counts=np.array(data["counts"], dtype=np.int64),
            ece=float(data["ece"]),
            ece_ci=_decode_pair(data["ece_ci"]),
        )


def calibration(
    correct: np.ndarray,
    confidence: np.ndarray,
    *,
    n_bins: int = CALIBRATION_BINS,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Bin the predictions by confidence and compare each bin's accuracy with its confidence.

    Parameters
    ----------
    correct : array-like of shape (N,), bool
        Whether each prediction was right.
    confidence : array-like of shape (N,), float
        The probability the model gave its prediction, in [0, 1].
    n_bins : int, default=10
        Equal-width bins over [0, 1].
    n_bootstrap : int, default=1000
        Resamples of the images for the interval of the expected calibration error.
    seed : int, default=0
        Seed of the resampling.

    Returns
    -------
    Calibration

    Raises
    ------
    InvalidInputError
        If the arrays are empty or differ in length, or a confidence lies outside [0, 1].

    Notes
    -----
    The expected calibration error follows Guo et al., "On calibration of modern neural networks",
    ICML 2017: the bins' gaps between accuracy and confidence, weighted by their share of the images.

    Examples
    --------
    >>> c = calibration(np.array([True, True, False, True]), np.array([0.95, 0.92, 0.85, 0.65]), n_bootstrap=50)
    >>> c.counts[-2:].tolist(), round(c.ece, 2)
    ([1, 2], 0.33)
    """
    hit = np.asarray(correct)
    conf = np.asarray(confidence, dtype=np.float64)
    if hit.ndim != 1 or conf.shape != hit.shape or len(hit) == 0:
        raise InvalidInputError(
            "correct and confidence: expected two 1-D arrays of the same length, at least 1; received shapes "
            f"{hit.shape} and {conf.shape}."
        )
    if not np.isfinite(conf).all() or conf.min() < 0 or conf.max() > 1 + 1e-6:
        raise InvalidInputError("confidence: expected probabilities in [0, 1].")
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds confidences in (edges[b], edges[b + 1]]; a confidence of 0 joins the first bin.
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    hit = hit.astype(np.float64)
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    mean_conf = np.divide(np.bincount(bins, conf, n_bins), counts, out=np.full(n_bins, np.nan), where=filled)
    accuracy = np.divide(np.bincount(bins, hit, n_bins), counts, out=np.full(n_bins, np.nan), where=filled)
    ece = float(np.nansum(counts * np.abs(accuracy - mean_conf)) / len(conf))
    resampled = []
    chunks = _bootstrap_indices(len(conf), check_int(n_bootstrap, "n_bootstrap", minimum=1), check_seed(seed))
    for idx in chunks:
        rows = idx.shape[0]
        keys = (bins[idx] + n_bins * np.arange(rows)[:, None]).ravel()
        gap = np.bincount(keys, hit[idx].ravel() - conf[idx].ravel(), rows * n_bins).reshape(rows, n_bins)
        resampled.append(np.abs(gap).sum(axis=1) / idx.shape[1])
    interval = _percentile_interval(np.concatenate(resampled))
    return Calibration(edges, mean_conf, accuracy, counts.astype(np.int64), ece, interval)
