"""Whether the class names may be in another order than the model's outputs: the best pairing of
predicted with true classes in a confusion matrix.

A model whose class names are listed in another order than its outputs scores far higher under its best
pairing than under the identity; an analysis compares the two.
"""

from __future__ import annotations

import numpy as np

from layerlens.exceptions import InvalidInputError

__all__ = ["best_class_matching"]


def best_class_matching(confusion: np.ndarray) -> tuple[np.ndarray, float]:
    """The naming of predicted classes that agrees best with the true ones, and its accuracy.

    Parameters
    ----------
    confusion : array-like of shape (K, K), int
        ``confusion[i, j]`` counts images of true class ``i`` predicted as ``j`` (as in
        :class:`~layerlens.scores.ClassificationMetrics`); at least one image.

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
