"""How well a classifier does: scores of its predictions against the true labels.

:func:`classification_metrics` gives accuracy and balanced accuracy with
bootstrap intervals, per-class precision, recall, F1, ROC AUC and average
precision, the confusion matrix and, for medical data sets, the clinicians'
sensitivity and specificity of "lesion present" against a negative class.
Whether the class names may be in another order than the model's outputs is
:func:`~layerlens.scores.best_class_matching`'s question; how far apart the
classes are inside the network is :mod:`layerlens.layers._separability`'s.

The result is a frozen dataclass with ``to_dict`` / ``from_dict`` for storing a
run as JSON. The module needs only numpy, pandas and scikit-learn, so stored
runs are read without TensorFlow.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
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

from layerlens._util.display import frame_html
from layerlens._util.jsonfloats import encode_float
from layerlens._util.validation import check_int, check_label_vector, check_names, check_seed, require_keys
from layerlens.exceptions import InvalidInputError
from layerlens.scores._calibration import Calibration, calibration
from layerlens.scores._numbers import (
    _bootstrap_indices,
    _bootstrap_rates,
    _check_probabilities,
    _decode_optional,
    _decode_pair,
    _defined_mean,
    _encode_pair,
    _number,
    _percentile_interval,
    _with_interval,
)

__all__ = ["ClassificationMetrics", "classification_metrics"]

_PER_CLASS_FLOAT = ("precision", "recall", "f1")
_PER_CLASS_SCORES = ("roc_auc", "average_precision")
_PER_CLASS_COLUMNS = (*_PER_CLASS_FLOAT, "support", *_PER_CLASS_SCORES)


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

    def _repr_html_(self) -> str:
        # The text repr's summary lines above the per-class table, which a notebook draws as a table.
        lines = [line.strip() for line in repr(self).split("\n  per class:")[0].splitlines()]
        return frame_html(lines[0], self.per_class, lines=lines[1:])

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
