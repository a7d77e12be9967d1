"""How well a classifier does: scores of its predictions against the true labels.

:func:`classification_metrics` gives accuracy and balanced accuracy with
bootstrap intervals, per-class precision, recall, F1, ROC AUC and average
precision, the confusion matrix and, for medical data sets, the clinicians'
sensitivity and specificity of "lesion present" against a negative class.
:func:`best_class_matching` tells whether the class names may be in another
order than the model's outputs. How far apart the classes are inside the
network is :mod:`layerlens.layers._separability`'s question.

The result is a frozen dataclass with ``to_dict`` / ``from_dict`` for storing a
run as JSON. The module needs only numpy, pandas and scikit-learn, so stored
runs are read without TensorFlow.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
)

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.validation import check_int, check_label_vector, check_names, check_seed, require_keys
from layerlens.exceptions import InvalidInputError

__all__ = ["Calibration", "ClassificationMetrics", "best_class_matching", "calibration", "classification_metrics"]

_PER_CLASS_FLOAT = ("precision", "recall", "f1")
_PER_CLASS_SCORES = ("roc_auc", "average_precision")
_PER_CLASS_COLUMNS = (*_PER_CLASS_FLOAT, "support", *_PER_CLASS_SCORES)
# Rows sum to 1 up to float32 rounding of a softmax; 1e-3 also forgives outputs stored with few digits.
_ROW_SUM_TOLERANCE = 1e-3
# Elements of the (resamples x images) index matrix drawn at once: bounds bootstrap memory (~16 MB).
_BOOTSTRAP_CHUNK = 2_000_000


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


@dataclass(frozen=True, eq=False)
class ClassificationMetrics:
    """Scores of a classifier's predictions on a set of images.

    Attributes
    ----------
    class_names : tuple of str
        Name of each class, in label order.
    n_images : int
        Number of images scored.
    accuracy, balanced_accuracy : float
        Share of correct predictions; mean per-class recall over the classes
        present in ``y_true``.
    accuracy_ci, balanced_accuracy_ci : tuple of (float, float)
        95 % bootstrap percentile intervals (2.5th and 97.5th percentiles).
    per_class : DataFrame
        Index ``class`` (the class names); columns ``precision``, ``recall``,
        ``f1`` (float64), ``support`` (int64, true images of the class),
        ``roc_auc`` and ``average_precision`` (float64, one-vs-rest from the
        class's probability column; NaN when the class is absent from ``y_true``
        or is the class of every image).
    confusion : ndarray of shape (K, K), int64
        ``confusion[i, j]`` counts images of true class ``i`` predicted as ``j``.
    roc_auc_macro, average_precision_macro : float or None
        Unweighted mean over the classes whose score is defined; ``None`` if
        no class has one.
    negative_class : str or None
        The class meaning "no lesion", if one was given.
    sensitivity : float or None
        Share of images with a lesion (true class not ``negative_class``)
        predicted as some lesion class, right type or not. ``None`` without a
        negative class or without such images.
    specificity : float or None
        Share of ``negative_class`` images predicted as ``negative_class``.
        ``None`` without a negative class or without such images.
    sensitivity_ci, specificity_ci : tuple of (float, float) or None
        95 % bootstrap percentile intervals, ``None`` when the rate is.
    calibration : Calibration or None
        The softmax confidence against the accuracy (reliability diagram, expected calibration error);
        ``None`` for metrics stored before layerlens measured it.
    """

    class_names: tuple[str, ...]
    n_images: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    balanced_accuracy: float
    balanced_accuracy_ci: tuple[float, float]
    per_class: pd.DataFrame
    confusion: np.ndarray
    roc_auc_macro: float | None
    average_precision_macro: float | None
    negative_class: str | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    sensitivity_ci: tuple[float, float] | None = None
    specificity_ci: tuple[float, float] | None = None
    calibration: Calibration | None = None

    def __repr__(self) -> str:
        lines = [
            f"ClassificationMetrics: {self.n_images} images, {len(self.class_names)} classes",
            f"  accuracy            {_with_interval(self.accuracy, self.accuracy_ci)}",
            f"  balanced accuracy   {_with_interval(self.balanced_accuracy, self.balanced_accuracy_ci)}",
            f"  macro ROC AUC       {_number(self.roc_auc_macro)}",
            f"  macro avg precision {_number(self.average_precision_macro)}",
        ]
        if self.negative_class is not None:
            lines += [
                f"  sensitivity         {_with_interval(self.sensitivity, self.sensitivity_ci)}"
                f"  (any lesion against {self.negative_class!r})",
                f"  specificity         {_with_interval(self.specificity, self.specificity_ci)}",
            ]
        if self.calibration is not None:
            lines.append(
                f"  calibration error   {_with_interval(self.calibration.ece, self.calibration.ece_ci)}"
                "  (confidence against accuracy)"
            )
        table = self.per_class.to_string(float_format=lambda v: f"{v:.3f}")
        return "\n".join(lines + ["  per class:"] + ["    " + row for row in table.splitlines()])

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics as plain JSON-ready data (NaN becomes ``None``).

        Returns
        -------
        dict
            Strings, ints, floats, lists and ``None`` only; ``per_class`` maps
            each column name to a list in class order. :meth:`from_dict`
            rebuilds the same metrics.
        """
        table = self.per_class
        per_class: dict[str, list[Any]] = {
            col: [encode_float(v) for v in table[col].to_numpy()] for col in (*_PER_CLASS_FLOAT, *_PER_CLASS_SCORES)
        }
        per_class["support"] = [int(v) for v in table["support"].to_numpy()]
        return {
            "class_names": list(self.class_names),
            "n_images": int(self.n_images),
            "accuracy": float(self.accuracy),
            "accuracy_ci": _encode_pair(self.accuracy_ci),
            "balanced_accuracy": float(self.balanced_accuracy),
            "balanced_accuracy_ci": _encode_pair(self.balanced_accuracy_ci),
            "per_class": {col: per_class[col] for col in _PER_CLASS_COLUMNS},
            "confusion": self.confusion.tolist(),
            "roc_auc_macro": encode_float(self.roc_auc_macro),
            "average_precision_macro": encode_float(self.average_precision_macro),
            "negative_class": self.negative_class,
            "sensitivity": encode_float(self.sensitivity),
            "specificity": encode_float(self.specificity),
            "sensitivity_ci": _encode_pair(self.sensitivity_ci),
            "specificity_ci": _encode_pair(self.specificity_ci),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationMetrics:
        """Rebuild metrics stored by :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            The output of :meth:`to_dict`, possibly after a JSON round trip.

        Returns
        -------
        ClassificationMetrics
            Equal field by field to the metrics that were stored, with the same
            dtypes (``support`` and ``confusion`` int64, scores float64 with NaN).

        Raises
        ------
        InvalidInputError
            If keys are missing.
        """
        require_keys("data", data, (*_CLASSIFICATION_KEYS, "per_class"))
        names = tuple(str(n) for n in data["class_names"])
        stored = data["per_class"]
        require_keys("data['per_class']", stored, _PER_CLASS_COLUMNS)
        columns: dict[str, np.ndarray] = {
            col: np.array([math.nan if v is None else float(v) for v in stored[col]], dtype=np.float64)
            for col in (*_PER_CLASS_FLOAT, *_PER_CLASS_SCORES)
        }
        columns["support"] = np.array(stored["support"], dtype=np.int64)
        per_class = pd.DataFrame({col: columns[col] for col in _PER_CLASS_COLUMNS}, index=pd.Index(names, name="class"))
        k = len(names)
        return cls(
            class_names=names,
            n_images=int(data["n_images"]),
            accuracy=float(data["accuracy"]),
            accuracy_ci=_decode_pair(data["accuracy_ci"]),
            balanced_accuracy=float(data["balanced_accuracy"]),
            balanced_accuracy_ci=_decode_pair(data["balanced_accuracy_ci"]),
            per_class=per_class,
            confusion=np.array(data["confusion"], dtype=np.int64).reshape(k, k),
            roc_auc_macro=_decode_optional(data["roc_auc_macro"]),
            average_precision_macro=_decode_optional(data["average_precision_macro"]),
            negative_class=data["negative_class"],
            sensitivity=_decode_optional(data["sensitivity"]),
            specificity=_decode_optional(data["specificity"]),
            sensitivity_ci=_decode_pair(data["sensitivity_ci"]),
            specificity_ci=_decode_pair(data["specificity_ci"]),
            calibration=Calibration.from_dict(data["calibration"]) if data.get("calibration") else None,
        )


_CLASSIFICATION_KEYS = (
    "class_names", "n_images", "accuracy", "accuracy_ci", "balanced_accuracy", "balanced_accuracy_ci",
    "confusion", "roc_auc_macro", "average_precision_macro", "negative_class", "sensitivity",
    "specificity", "sensitivity_ci", "specificity_ci",
)  # fmt: skip


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    negative_class: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> ClassificationMetrics:
    """Score predictions against true labels, with bootstrap confidence intervals.

    Parameters
    ----------
    y_true : array-like of shape (N,), int
        True class of each image, in ``range(K)``.
    y_pred : array-like of shape (N,), int
        Predicted class of each image, in ``range(K)``.
    probabilities : array-like of shape (N, K), float
        Predicted class probabilities; values in [0, 1], rows summing to 1
        (within 1e-3). A single-unit sigmoid output must first be written as
        the two columns ``(1 - p, p)``.
    class_names : sequence of str
        Distinct names of the ``K >= 2`` classes, in label order.
    negative_class : str, optional
        The class meaning "no lesion" (e.g. ``"no_tumor"``). When given,
        sensitivity and specificity of "any lesion" against it are computed.
    n_bootstrap : int, default=1000
        Number of bootstrap resamples of the images for the intervals.
    seed : int, default=0
        Seed of the bootstrap resampling, in ``0 .. 2**32 - 1``.

    Returns
    -------
    ClassificationMetrics
        Point estimates, 95 % intervals, per-class table and confusion matrix.

    Raises
    ------
    InvalidInputError
        If the arrays disagree in length, labels are not integers in
        ``range(K)``, ``probabilities`` has the wrong shape or rows that are
        not probabilities, ``class_names`` has fewer than two, repeated or
        blank names, ``negative_class`` is not one of them, ``n_bootstrap < 1``
        or ``seed`` is not an integer in ``0 .. 2**32 - 1``.

    Notes
    -----
    Precision, recall and F1 use ``zero_division=0``. ROC AUC and average
    precision are one-vs-rest per class; the macro means skip the classes where
    they are undefined instead of failing. The intervals are percentile
    bootstrap intervals [1]_: the images are resampled with replacement
    ``n_bootstrap`` times and each metric is recomputed on every resample.
    Sensitivity and specificity follow the clinical reading of a screening test
    [2]_: any lesion class counts as positive.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*,
       Chapman & Hall, 1993, ch. 13.
    .. [2] D. G. Altman and J. M. Bland, "Diagnostic tests 1: sensitivity and
       specificity", BMJ 308:1552, 1994.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([0, 0, 1, 1, 2, 2])
    >>> y_pred = np.array([0, 1, 1, 1, 2, 0])
    >>> probs = np.eye(3)[y_pred] * 0.7 + 0.1
    >>> m = classification_metrics(y_true, y_pred, probs, ["glioma", "none", "pituitary"],
    ...                            negative_class="none", n_bootstrap=200)
    >>> round(m.accuracy, 3), m.confusion[0].tolist(), m.specificity
    (0.667, [1, 1, 0], 1.0)
    """
    names = check_names(class_names, "class_names")
    if len(names) < 2:
        raise InvalidInputError(f"class_names: expected at least 2 classes; received {list(names)}.")
    k = len(names)
    t = check_label_vector(y_true, "y_true", n_classes=k, kind="labels", note="one per class name")
    p = check_label_vector(y_pred, "y_pred", n_classes=k, kind="labels", note="one per class name")
    if len(p) != len(t):
        raise InvalidInputError(
            f"y_true and y_pred: expected the same length; received y_true of length {len(t)} "
            f"and y_pred of length {len(p)}."
        )
    probs = _check_probabilities(probabilities, len(t), k)
    negative = None
    if negative_class is not None:
        if negative_class not in names:
            raise InvalidInputError(
                f"negative_class: expected one of the class names {list(names)}; received {negative_class!r}."
            )
        negative = names.index(negative_class)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=1)
    seed = check_seed(seed)
    return _compute_classification(t, p, probs, names, negative, n_bootstrap, seed)


def best_class_matching(confusion: np.ndarray) -> tuple[np.ndarray, float]:
    """The naming of predicted classes that agrees best with the true ones, and its accuracy.

    Parameters
    ----------
    confusion : array-like of shape (K, K), int
        ``confusion[i, j]`` counts images of true class ``i`` predicted as ``j`` (as in
        :class:`ClassificationMetrics`); at least one image.

    Returns
    -------
    matched : ndarray of shape (K,), int64
        ``matched[i]`` is the predicted class paired with true class ``i``; a permutation of
        ``0..K-1``, the identity when the given order is already best (ties keep it).
    accuracy : float
        Share of images on the paired cells, the accuracy the predictions would have if each
        predicted class ``matched[i]`` were renamed ``i``.

    Raises
    ------
    InvalidInputError
        If ``confusion`` is not a square array of non-negative counts with at least one image.

    Notes
    -----
    The pairing maximises the matched count with the Hungarian algorithm (scipy's
    ``linear_sum_assignment``) [1]_. A model whose class names are listed in another order than its
    outputs shows a far higher accuracy under its best pairing than under the identity.

    References
    ----------
    .. [1] H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Research Logistics
       Quarterly 2, 1955, pp. 83-97.

    Examples
    --------
    >>> matched, accuracy = best_class_matching(np.array([[1, 9], [8, 2]]))
    >>> matched.tolist(), accuracy
    ([1, 0], 0.85)
    """
    counts = np.asarray(confusion)
    valid = counts.ndim == 2 and counts.shape[0] == counts.shape[1] and np.issubdtype(counts.dtype, np.integer)
    if not valid or counts.size == 0 or counts.min() < 0 or counts.sum() == 0:
        raise InvalidInputError(
            f"confusion: expected a square array of non-negative integer counts with at least one image; "
            f"received {counts.dtype} of shape {counts.shape}."
        )
    from scipy.optimize import linear_sum_assignment

    k = counts.shape[0]
    # A bonus below one image on the diagonal makes the identity win every tie without changing any
    # strict preference between pairings.
    gain = counts.astype(np.float64) + np.eye(k) * 0.5 / k
    rows, cols = linear_sum_assignment(gain, maximize=True)
    matched = cols[np.argsort(rows)].astype(np.int64)
    return matched, float(counts[np.arange(k), matched].sum() / counts.sum())


# ---------------------------------------------------------------------------------------------- kernels


def _compute_classification(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probs: np.ndarray,
    names: tuple[str, ...],
    negative: int | None,
    n_bootstrap: int,
    seed: int,
) -> ClassificationMetrics:
    k = len(names)
    labels = np.arange(k)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    roc, ap = _one_vs_rest_scores(y_true, probs)
    per_class = pd.DataFrame(
        {
            "precision": precision.astype(np.float64),
            "recall": recall.astype(np.float64),
            "f1": f1.astype(np.float64),
            "support": support.astype(np.int64),
            "roc_auc": roc,
            "average_precision": ap,
        },
        index=pd.Index(names, name="class"),
    )
    with warnings.catch_warnings():
        # Absent classes are expected here (their recall is undefined and skipped); sklearn's confusion
        # matrix inside balanced_accuracy_score is built without `labels` and warns about them.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        balanced = float(balanced_accuracy_score(y_true, y_pred))

    rates = _bootstrap_rates(y_true, y_pred, k, negative, _bootstrap_indices(len(y_true), n_bootstrap, seed))
    sensitivity = specificity = None
    if negative is not None:
        lesion_true, lesion_pred = y_true != negative, y_pred != negative
        if lesion_true.any():
            sensitivity = float(recall_score(lesion_true, lesion_pred, pos_label=True))
        if not lesion_true.all():
            specificity = float(recall_score(lesion_true, lesion_pred, pos_label=False))
    return ClassificationMetrics(
        class_names=names,
        n_images=len(y_true),
        accuracy=float(accuracy_score(y_true, y_pred)),
        accuracy_ci=_percentile_interval(rates["accuracy"]),
        balanced_accuracy=balanced,
        balanced_accuracy_ci=_percentile_interval(rates["balanced_accuracy"]),
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=labels).astype(np.int64),
        roc_auc_macro=_defined_mean(roc),
        average_precision_macro=_defined_mean(ap),
        negative_class=None if negative is None else names[negative],
        sensitivity=sensitivity,
        specificity=specificity,
        sensitivity_ci=None if sensitivity is None else _percentile_interval(rates["sensitivity"]),
        specificity_ci=None if specificity is None else _percentile_interval(rates["specificity"]),
        calibration=calibration(y_true == y_pred, probs.max(axis=1), n_bootstrap=n_bootstrap, seed=seed),
    )


def _one_vs_rest_scores(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class ROC AUC and average precision of ``probs[:, k]`` for ``y_true == k``; NaN if undefined."""
    k = probs.shape[1]
    roc = np.full(k, np.nan)
    ap = np.full(k, np.nan)
    for c in range(k):
        positive = y_true == c
        # Both scores need positives and negatives; sklearn would raise or warn, we record "undefined".
        if positive.any() and not positive.all():
            roc[c] = roc_auc_score(positive, probs[:, c])
            ap[c] = average_precision_score(positive, probs[:, c])
    return roc, ap


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
