"""When an analysis cannot be right: predictions collapsed onto one class, or accuracy at chance level.

A wrong pixel scale or preprocessing makes a model answer one class for every image, and nothing
errs: the numbers look like any others. These checks read only what every run stores (probabilities,
labels, metrics), so a stored run says so too, on every surface (the repr, the command line, the
index card and the model page).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from layerlens.scores._metrics import ClassificationMetrics

__all__ = ["COLLAPSE_SHARE", "MIN_IMAGES", "problems"]

#: Predictions of one class for at least this share of the images have collapsed (unless the labels say
#: most images really are of that class: see :data:`TRUE_SHARE`).
COLLAPSE_SHARE = 0.95
#: A collapse is not one when at least this share of the images truly belongs to the predicted class.
TRUE_SHARE = 0.8
#: Fewer images than this say too little for either check.
MIN_IMAGES = 20


def problems(
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: Sequence[str],
    metrics: ClassificationMetrics | None,
) -> tuple[str, ...]:
    """Sentences saying why an analysis cannot be right; empty when nothing is wrong that way.

    Parameters
    ----------
    probabilities : ndarray of shape (N, K)
        Class probabilities of the analysed images.
    labels : ndarray of shape (N,), optional
        Their true classes.
    class_names : sequence of K str
    metrics : ClassificationMetrics, optional
        The metrics of the labelled images (their balanced accuracy interval is read).

    Returns
    -------
    tuple of str
        A collapse onto one class (with or without labels); with labels, a balanced accuracy whose 95%
        interval reaches down to chance (one over the number of classes present).

    Examples
    --------
    >>> p = np.tile([[0.9, 0.1]], (30, 1))
    >>> problems(p, None, ["glioma", "no_tumor"], None)[0][:45]
    "the model predicted 'glioma' for 30 of 30 ima"
    """
    n = len(probabilities)
    if n < MIN_IMAGES:
        return ()
    found = []
    predicted = probabilities.argmax(axis=1)
    counts = np.bincount(predicted, minlength=len(class_names))
    top = int(counts.argmax())
    share = counts[top] / n
    true_share = None if labels is None else float(np.mean(labels == top))
    if share >= COLLAPSE_SHARE and (true_share is None or true_share < TRUE_SHARE):
        truth = "" if true_share is None else f", though {true_share:.0%} of them are labelled so"
        found.append(
            f"the model predicted {class_names[top]!r} for {counts[top]:,} of {n:,} images ({share:.0%}){truth}: "
            "its predictions have collapsed onto one class"
        )
    if labels is not None and metrics is not None:
        present = len(np.unique(labels))
        chance = 1.0 / present
        low, high = metrics.balanced_accuracy_ci
        if present >= 2 and np.isfinite(low) and low <= chance:
            found.append(
                f"its balanced accuracy {metrics.balanced_accuracy:.2f} (95% interval {low:.2f}–{high:.2f}) is at "
                f"or below chance level ({chance:.2f} for {present} classes): it does no better than guessing"
            )
    return tuple(found)
