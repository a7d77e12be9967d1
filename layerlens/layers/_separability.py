"""How far apart the true classes are in one layer's feature space.

:func:`separability` gives the silhouette of the true classes, their
leave-one-out k-NN accuracy, and two views of the between-class variance: its
ratio to the within-class variance, and its share of the total. The three
bounded ones share one axis in the separability figure; computed layer after
layer they show *where* inside the network the classes come apart. The module needs only numpy and
scikit-learn, so stored runs are read without TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.validation import check_int, check_label_vector, check_matrix, check_seed, require_keys
from layerlens.exceptions import InvalidInputError

#: Images whose leave-one-out neighbours and silhouette an analysis measures per layer: a binomial standard
#: error under 0.016 on the k-NN accuracy, at half the cost of 2,000 (the largest cost of analyze after the pass).
SEPARABILITY_SAMPLES = 1000

__all__ = ["SEPARABILITY_SAMPLES", "Separability", "loo_knn_predict", "separability", "without_self"]


@dataclass(frozen=True)
class Separability:
    """How far apart the true classes are in one layer's feature space.

    Attributes
    ----------
    silhouette : float
        Mean silhouette coefficient (Euclidean) of the true labels, in [-1, 1];
        near 1 for tight, distant classes, near 0 for mixed ones. NaN when the
        sample holds a single class or only one image per class.
    knn_accuracy : float
        Leave-one-out k-NN accuracy of the true labels, in [0, 1].
    variance_ratio : float
        Between-class over within-class sum of squares, ``B / W`` (see
        :func:`separability`), >= 0 and unbounded: ``inf`` when every image
        sits on its class mean, NaN when all images coincide.
    variance_explained : float
        Share of the total sum of squares that lies between the class means,
        ``B / (B + W)`` in [0, 1]: the same information as the ratio on a
        bounded scale, 1 where the ratio is infinite; NaN when all images
        coincide.
    """

    silhouette: float
    knn_accuracy: float
    variance_ratio: float
    variance_explained: float

    def __repr__(self) -> str:
        return (
            f"Separability(silhouette={self.silhouette:.3f}, knn_accuracy={self.knn_accuracy:.3f}, "
            f"variance_ratio={self.variance_ratio:.3g}, variance_explained={self.variance_explained:.3f})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the scores as JSON-ready data (NaN becomes ``None``, infinity ``"inf"``).

        Returns
        -------
        dict
            Keys ``silhouette``, ``knn_accuracy``, ``variance_ratio``, ``variance_explained``.
        """
        return {name: encode_float(value) for name, value in self.as_floats().items()}

    def as_floats(self) -> dict[str, float]:
        """The scores by name, as plain floats (NaN where undefined): one row of a table."""
        return {
            "silhouette": float(self.silhouette),
            "knn_accuracy": float(self.knn_accuracy),
            "variance_ratio": float(self.variance_ratio),
            "variance_explained": float(self.variance_explained),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Separability:
        """Rebuild scores stored by :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            The output of :meth:`to_dict`, possibly after a JSON round trip.

        Returns
        -------
        Separability
            The stored scores (``None`` read back as NaN).

        Raises
        ------
        InvalidInputError
            If keys are missing.
        """
        require_keys("data", data, ("silhouette", "knn_accuracy", "variance_ratio", "variance_explained"))
        return cls(
            silhouette=decode_float(data["silhouette"]),
            knn_accuracy=decode_float(data["knn_accuracy"]),
            variance_ratio=decode_float(data["variance_ratio"]),
            variance_explained=decode_float(data["variance_explained"]),
        )


def separability(
    features: np.ndarray,
    y_true: np.ndarray,
    *,
    n_neighbors: int = 5,
    max_samples: int = 2000,
    seed: int = 0,
) -> Separability:
    """Measure how well the true classes separate in one layer's feature space.

    Parameters
    ----------
    features : array-like of shape (N, D), float
        One layer's (reduced) features, one row per image; finite values.
    y_true : array-like of shape (N,), int
        True class of each image; at least two distinct classes.
    n_neighbors : int, default=5
        ``k`` of the k-NN vote, in ``1 .. N - 1``.
    max_samples : int, default=2000
        When ``N`` exceeds it, silhouette and the k-NN queries use a seeded
        random subsample of this many images (neighbours are still searched
        among all ``N`` images). Must be at least 2.
    seed : int, default=0
        Seed of that subsample, in ``0 .. 2**32 - 1``.

    Returns
    -------
    Separability
        Silhouette, leave-one-out k-NN accuracy and share of variance between the classes.

    Raises
    ------
    InvalidInputError
        If ``features`` is not a finite 2-D real array, the lengths differ,
        labels are not integers, fewer than two classes are present, or
        ``n_neighbors`` / ``max_samples`` / ``seed`` are out of range.

    Notes
    -----
    *Silhouette* [1]_ is scikit-learn's ``silhouette_score`` of the true labels.

    *k-NN accuracy* is exact leave-one-out: each query image's ``k`` nearest
    other images (Euclidean) vote; the image itself is removed from its own
    neighbour list by index, so duplicated points of another class still count.
    A tie between classes goes to the class of the nearest of the tied
    neighbours.

    *Variance ratio* and *variance explained* are, with :math:`\\mu` the mean
    of all images, :math:`\\mu_c` and :math:`n_c` the mean and size of class
    :math:`c`, :math:`B = \\sum_c n_c \\lVert \\mu_c - \\mu \\rVert^2` (between
    classes) and :math:`W = \\sum_i \\lVert x_i - \\mu_{y_i} \\rVert^2` (within
    classes),

    .. math:: \\frac{B}{W} \\quad\\text{and}\\quad \\frac{B}{B + W},

    the first the Calinski–Harabasz index [2]_ without its degrees-of-freedom
    factor :math:`(N - C) / (C - 1)`, the second the :math:`\\eta^2` of a
    one-way analysis of variance, summed over the feature dimensions. Both use
    all ``N`` images. The ratio is unbounded (infinite once every image sits
    on its class mean); the share carries the same information on [0, 1], so
    it can be drawn beside the other measures.

    References
    ----------
    .. [1] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation
       and validation of cluster analysis", J. Comput. Appl. Math. 20, 1987.
    .. [2] T. Calinski and J. Harabasz, "A dendrite method for cluster
       analysis", Communications in Statistics 3(1), 1974.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [5.0], [6.0]])
    >>> s = separability(x, np.array([0, 0, 1, 1]), n_neighbors=1)
    >>> s.variance_ratio, round(s.variance_explained, 4), s.knn_accuracy
    (25.0, 0.9615, 1.0)
    """
    x = check_matrix(features, "features", min_rows=2)
    y = check_label_vector(y_true, "y_true", n_classes=None)
    if len(y) != len(x):
        raise InvalidInputError(
            f"features and y_true: expected the same number of images; received features with "
            f"{len(x)} rows and y_true of length {len(y)}."
        )
    present = np.unique(y)
    if len(present) < 2:
        raise InvalidInputError(
            f"y_true: expected at least 2 distinct classes; received only class {present.tolist()}."
        )
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1, maximum=len(x) - 1)
    max_samples = check_int(max_samples, "max_samples", minimum=2)
    seed = check_seed(seed)
    return _compute_separability(x, y, n_neighbors, max_samples, seed)


# ---------------------------------------------------------------------------------------------- kernels


def _compute_separability(x: np.ndarray, y: np.ndarray, n_neighbors: int, max_samples: int, seed: int) -> Separability:
    n = len(x)
    if n > max_samples:
        sample = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
    else:
        sample = np.arange(n)
    _, codes = np.unique(y, return_inverse=True)
    predicted = loo_knn_predict(x, codes, sample, n_neighbors)
    ratio, explained = _variance_ratio_and_share(x, codes)
    return Separability(
        silhouette=_silhouette(x[sample], codes[sample]),
        knn_accuracy=float(np.mean(predicted == codes[sample])),
        variance_ratio=ratio,
        variance_explained=explained,
    )


def _silhouette(x: np.ndarray, codes: np.ndarray) -> float:
    n_labels = len(np.unique(codes))
    # sklearn requires 2 <= n_labels <= n_samples - 1; outside that the silhouette is undefined.
    if not 2 <= n_labels <= len(x) - 1:
        return math.nan
    return float(silhouette_score(x, codes))


def without_self(neighbours: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's ``k + 1`` neighbours (rows of ``neighbours``) less the query itself: ``(Q, k)``, nearest first.

    A query is usually its own first neighbour, but with more than ``k + 1`` copies of a point it may be
    missing from its list: the farthest neighbour is dropped instead, so one column goes from every row.
    """
    k = neighbours.shape[1] - 1
    is_self = neighbours == np.asarray(queries)[:, None]
    is_self[~is_self.any(axis=1), k] = True
    return neighbours[~is_self].reshape(len(neighbours), k)


def loo_knn_predict(x: np.ndarray, codes: np.ndarray, queries: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Leave-one-out k-NN vote for the images ``queries``, among all rows of ``x``.

    ``codes`` are labels in ``0..C-1``; each query's own row is left out (see :func:`without_self`).
    Ties between classes go to the class of the nearest tied neighbour.
    """
    k = n_neighbors
    _, found = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x[queries])
    neighbours = without_self(found, queries)
    labels = codes[neighbours]  # (Q, k), nearest first
    n_classes = int(codes.max()) + 1
    rows = np.arange(len(queries))
    votes = np.zeros((len(queries), n_classes), np.int64)
    first_seen = np.full((len(queries), n_classes), k, np.int64)
    for j in range(k - 1, -1, -1):  # backwards, so the nearest position of each class is kept
        votes[rows, labels[:, j]] += 1
        first_seen[rows, labels[:, j]] = j
    # Majority first; among equal votes the smaller first position wins (its term stays below k + 1).
    return np.argmax(votes * (k + 1) + (k - first_seen), axis=1)


def _variance_ratio_and_share(x: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    """``B / W`` and ``B / (B + W)`` of the between- and within-class sums of squares (see :func:`separability`)."""
    counts = np.bincount(codes)
    means = np.zeros((len(counts), x.shape[1]))
    np.add.at(means, codes, x)
    means /= counts[:, None]
    between = float(counts @ ((means - x.mean(axis=0)) ** 2).sum(axis=1))
    within = float(((x - means[codes]) ** 2).sum())
    if between + within == 0.0:
        return math.nan, math.nan  # every image at the same point
    ratio = math.inf if within == 0.0 else between / within
    return ratio, between / (between + within)
