"""Turn any classifier's raw outputs into class probabilities.

Three heads are common in Keras image classifiers: ``K`` softmax units, one
sigmoid unit for a binary task, and linear units (logits, trained with
``from_logits=True``). This module is pure numpy so stored runs never need
TensorFlow.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax

from layerlens.exceptions import InvalidInputError

__all__ = ["HEAD_KINDS", "detect_head", "to_probabilities"]

HEAD_KINDS = ("softmax", "sigmoid", "logits", "binary_logit")
_ACTIVATION_NAMES = {
    "softmax": "softmax",
    "softmax_v2": "softmax",
    "log_softmax": None,
    "sigmoid": "sigmoid",
    "linear": "linear",
}


def detect_head(activation: str | None, sample: np.ndarray) -> str:
    """Name the kind of classifier head from its activation, or from its values when unknown.

    Parameters
    ----------
    activation : str or None
        Name of the activation of the layer that produces the output
        (``"softmax"``, ``"sigmoid"``, ``"linear"``, ...). None, or a name
        not among these, lets the values decide: rows in [0, 1] summing to
        1 are softmax outputs, a single unit in [0, 1] is a sigmoid, anything
        else is logits.
    sample : ndarray of shape (n, K)
        Raw outputs for a few images, used when ``activation`` says nothing.

    Returns
    -------
    str
        One of :data:`HEAD_KINDS`.

    Raises
    ------
    InvalidInputError
        If the output is not ``(n, K)``, is ``K > 1`` sigmoid units (a
        multi-label head, not a single-label classifier) or a single softmax
        unit.

    Examples
    --------
    >>> detect_head("softmax", np.array([[0.2, 0.8]]))
    'softmax'
    >>> detect_head(None, np.array([[2.5, -1.0, 0.3]]))
    'logits'
    """
    if sample.ndim != 2:
        raise InvalidInputError(
            f"model: expected a classifier whose output has shape (batch, classes); received an output of "
            f"shape {(None, *sample.shape[1:])}."
        )
    n_units = sample.shape[1]
    # Only names we understand decide; anything else (a custom activation, tf.nn.softmax's "softmax_v2"
    # in some versions) is judged by the values, never silently taken for logits.
    known = _ACTIVATION_NAMES.get(activation or "")
    if n_units == 1 and known == "softmax":
        raise InvalidInputError(
            "model: its output is a single softmax unit, which always outputs 1.0; a binary classifier needs "
            "one sigmoid unit or two softmax units."
        )
    finite = bool(np.isfinite(sample).all())
    in_unit_range = finite and sample.size > 0 and sample.min() >= 0.0 and sample.max() <= 1.0
    if n_units == 1:
        if known == "sigmoid" or (known is None and in_unit_range):
            return "sigmoid"
        return "binary_logit"
    if known == "sigmoid":
        raise InvalidInputError(
            f"model: its output has {n_units} sigmoid units, a multi-label head; layerlens needs a single-label "
            "classifier (softmax, logits, or one sigmoid unit)."
        )
    if known == "softmax":
        return "softmax"
    if known is None and in_unit_range and np.allclose(sample.sum(axis=1), 1.0, atol=1e-3):
        return "softmax"
    return "logits"


def to_probabilities(raw: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities ``(N, K)`` from raw outputs; a binary head gives ``K = 2``.

    Parameters
    ----------
    raw : ndarray of shape (N, K) or (N, 1)
        Raw model outputs.
    kind : str
        Head kind from :func:`detect_head`.

    Returns
    -------
    ndarray of shape (N, K), float32
        Rows sum to 1. For one sigmoid unit the columns are
        ``[P(class 0), P(class 1)]``.

    Examples
    --------
    >>> to_probabilities(np.array([[0.0]]), "binary_logit").tolist()
    [[0.5, 0.5]]
    """
    if kind not in HEAD_KINDS:
        raise InvalidInputError(f"kind: expected one of {HEAD_KINDS}; received {kind!r}.")
    raw = raw.astype(np.float64)
    if kind in ("sigmoid", "binary_logit"):
        positive = np.clip(raw[:, 0], 0.0, 1.0) if kind == "sigmoid" else expit(raw[:, 0])
        probabilities = np.stack([1.0 - positive, positive], axis=1)
    elif kind == "logits":
        probabilities = softmax(raw, axis=1)
    else:
        # Softmax outputs already sum to 1 up to float32 round-off; renormalise so metrics can rely on it.
        clipped = np.clip(raw, 0.0, None)
        probabilities = clipped / np.maximum(clipped.sum(axis=1, keepdims=True), 1e-12)
    return probabilities.astype(np.float32)
