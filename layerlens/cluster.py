"""Per-layer clusters: scale and PCA-reduce a layer's features, then group the images with k-means.

The reduced space that :func:`reduce_features` returns is shared by the clusters, the 2-D map
(:mod:`layerlens.project`) and the separability metrics, so all three look at the same geometry.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances, silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from layerlens._json import decode_float, encode_float
from layerlens._validation import check_int, check_label_vector, check_matrix, check_names, check_seed
from layerlens.exceptions import InvalidInputError

__all__ = ["AUTO_K_RANGE", "LayerClusters", "cluster_layer", "reduce_features"]

#: The numbers of clusters ``n_clusters="auto"`` tries (capped at N - 1).
AUTO_K_RANGE: tuple[int, ...] = tuple(range(2, 13))

# k-means restarts per k. A fixed number, not "auto", whose meaning changed between scikit-learn
# versions; with 4 seeded k-means++ restarts the 11 fits of "auto" on 8,000 x 50 points take
# 0.5-1.2 s on one thread (clear clusters converge fastest).
_N_INIT = 4


def reduce_features(features: np.ndarray, *, max_components: int = 50, seed: int = 0) -> np.ndarray:
    """Standardise a layer's features and keep their leading principal components.

    Parameters
    ----------
    features : ndarray of shape (N, D), real
        One feature vector per image for one layer; N >= 2, all values finite.
    max_components : int, default=50
        Upper bound on the number of components kept; the result has
        ``d = min(max_components, D, N)`` columns.
    seed : int, default=0
        Passed to the PCA as ``random_state``. The solvers used are exact, so it does not change
        the result; it is accepted so every step of the analysis takes the same ``seed``.

    Returns
    -------
    ndarray of shape (N, d), float32
        Principal-component scores, columns in decreasing order of variance. All zeros when every
        feature is constant.

    Raises
    ------
    InvalidInputError
        If ``features`` is not a finite 2-D real array with at least 2 rows and 1 column, or
        ``max_components`` / ``seed`` is not a valid integer.

    Notes
    -----
    Each column is scaled to zero mean and unit variance first, so that a few channels with large
    activations do not dominate the distances; constant columns are only centred (scikit-learn's
    ``StandardScaler`` leaves a zero scale at 1), so they become zeros, not NaN.

    The PCA is exact and deterministic: when N >= D it takes the eigenvectors of the D x D
    covariance matrix (``svd_solver="covariance_eigh"``, about 0.3 s for 10,000 x 1,000), otherwise
    a full SVD of the N x D data, which is cheaper when there are fewer images than features.
    Component signs follow scikit-learn's ``svd_flip`` convention, so they are reproducible too.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0, 5.0], [1.0, 3.0, 5.0], [2.0, 5.0, 5.0], [3.0, 7.0, 5.0]])
    >>> z = reduce_features(x, max_components=2)
    >>> z.shape, z.dtype
    ((4, 2), dtype('float32'))
    >>> np.round(z[:, 0].astype(float), 3).tolist()
    [-1.897, -0.632, 0.632, 1.897]
    >>> bool(np.abs(z[:, 1]).max() < 1e-6)  # the two varying columns are collinear: one component
    True
    """
    x = check_matrix(features, "features", min_rows=2)
    check_int(max_components, "max_components", minimum=1)
    check_seed(seed)
    n_components = min(max_components, x.shape[1], x.shape[0])
    return _compute_reduced(x, n_components, seed)


def _compute_reduced(x: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    scaled = StandardScaler().fit_transform(x)
    if not np.any(scaled):
        # PCA would divide a zero total variance by itself and emit NaN ratios with a warning.
        return np.zeros((x.shape[0], n_components), dtype=np.float32)
    solver = "covariance_eigh" if x.shape[0] >= x.shape[1] else "full"
    pca = PCA(n_components=n_components, svd_solver=solver, random_state=seed)
    return pca.fit_transform(scaled).astype(np.float32)


@dataclass(frozen=True, eq=False)
class LayerClusters:
    """The k-means clusters of one layer, named after the class that dominates each.

    Clusters are numbered ``0..k-1`` in the stable order described in :func:`cluster_layer`.

    Parameters
    ----------
    labels : ndarray of shape (N,), int64
        Cluster of each image, in ``range(k)``.
    names : tuple of str
        One per cluster, e.g. ``"c3 · 91% glioma"``: 1-based number, purity, dominant class.
    dominant : ndarray of shape (k,), int64
        Class index that dominates each cluster (ties go to the smaller class index).
    purity : ndarray of shape (k,), float64
        Share of each cluster's images that belong to its dominant class, in (0, 1].
    sizes : ndarray of shape (k,), int64
        Number of images in each cluster; every cluster has at least one.
    centers : ndarray of shape (k, d), float32
        k-means centres in the reduced space.
    silhouette : float
        Mean silhouette of the chosen clustering on the seeded subsample, in [-1, 1]; NaN when it
        is undefined (fewer than 2 clusters, or as many clusters as points, in the subsample).
    k_scores : dict of int to float
        Silhouette of every k tried, keyed by the requested k; only the chosen k when
        ``n_clusters`` was an int.
    """

    labels: np.ndarray
    names: tuple[str, ...]
    dominant: np.ndarray
    purity: np.ndarray
    sizes: np.ndarray
    centers: np.ndarray
    silhouette: float
    k_scores: dict[int, float]

    @property
    def k(self) -> int:
        """Number of clusters."""
        return len(self.names)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: everything but the per-image ``labels`` and the ``centers`` arrays."""
        return {
            "k": self.k,
            "names": list(self.names),
            "dominant": self.dominant.tolist(),
            "purity": self.purity.tolist(),
            "sizes": self.sizes.tolist(),
            "silhouette": encode_float(self.silhouette),
            "k_scores": {str(k): encode_float(v) for k, v in self.k_scores.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, labels: np.ndarray, centers: np.ndarray) -> LayerClusters:
        """Rebuild clusters from :meth:`to_dict` and the two arrays it leaves out."""
        return cls(
            labels=labels,
            names=tuple(data["names"]),
            dominant=np.asarray(data["dominant"], dtype=np.int64),
            purity=np.asarray(data["purity"], dtype=np.float64),
            sizes=np.asarray(data["sizes"], dtype=np.int64),
            centers=centers,
            silhouette=decode_float(data["silhouette"]),
            k_scores={int(k): decode_float(v) for k, v in data["k_scores"].items()},
        )

    def __repr__(self) -> str:
        return f"LayerClusters(k={self.k}, silhouette={self.silhouette:.3f}, names={self.names!r})"


def cluster_layer(
    reduced: np.ndarray,
    reference: np.ndarray,
    class_names: Sequence[str],
    *,
    n_clusters: int | str = "auto",
    seed: int = 0,
    max_silhouette_samples: int = 2000,
) -> LayerClusters:
    """Group one layer's images with k-means and name each cluster after its dominant class.

    Parameters
    ----------
    reduced : ndarray of shape (N, d), real
        The layer's reduced features (see :func:`reduce_features`); N >= 3, all values finite.
    reference : ndarray of shape (N,), int
        Class index of each image used to name the clusters, in ``range(len(class_names))``: the
        true labels when they are known, else the model's predictions.
    class_names : sequence of str
        Name of each class; ``class_names[c]`` names class index ``c``.
    n_clusters : int or "auto", default="auto"
        ``"auto"`` tries every k in :data:`AUTO_K_RANGE` (2..12, capped at N - 1 and at the number of
        distinct points) and keeps the one
        with the highest silhouette, the smaller k on a tie. An int fixes k, with 2 <= k <= N - 1.
    seed : int, default=0
        Seeds the k-means++ initialisation and the silhouette subsample.
    max_silhouette_samples : int, default=2000
        The silhouette is computed on at most this many images (at least 3), drawn once with
        ``seed`` and shared by every k, since its cost grows with the square of the count.

    Returns
    -------
    LayerClusters
        Labels, names, dominant class, purity, size and centre of each cluster, the chosen
        clustering's silhouette and the silhouette of every k tried.

    Raises
    ------
    InvalidInputError
        If ``reduced`` is not a finite 2-D real array with at least 3 rows; if ``reference`` is not
        N integers in ``range(len(class_names))``; if ``class_names`` is not a non-empty sequence
        of distinct, non-blank str; if ``n_clusters`` is neither ``"auto"`` nor an int in 2..N-1; or if ``seed`` or
        ``max_silhouette_samples`` is not a valid integer.

    Notes
    -----
    k-means is scikit-learn's exact Lloyd algorithm, started from k-means++ seeds [1]_ with 4
    seeded restarts; the silhouette [2]_ of each point compares its mean distance to its own
    cluster with that to the nearest other cluster, and its mean over the points rates the
    whole clustering.

    Clusters are then renumbered so that a path through the layers reads left to right: by
    dominant class index, then by size (largest first), then by the mean position of their
    members in the input (a deterministic final tiebreak). Cluster ``j`` is named
    ``f"c{j + 1} · {round(100 * purity)}% {class_names[dominant]}"`` (U+00B7 middle dot; Python's
    ``round``, so an exact half rounds to even).

    When the points have fewer distinct positions than k, k-means leaves some clusters empty
    (scikit-learn warns with a ``ConvergenceWarning``); empty clusters are dropped, so ``k`` can be
    smaller than requested.

    The same inputs and ``seed`` give identical labels, names and scores, whatever the number of
    cores: k-means runs on a single OpenMP thread because scikit-learn's multi-threaded sums make
    its result depend on the thread count.

    References
    ----------
    .. [1] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding",
       Proc. 18th ACM-SIAM Symposium on Discrete Algorithms (SODA), 2007, pp. 1027-1035.
    .. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
       cluster analysis", J. Comput. Appl. Math. 20, 1987, pp. 53-65.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    >>> c = cluster_layer(x, np.array([1, 1, 0, 0, 0, 0]), ["cat", "dog"])
    >>> c.k, c.names
    (2, ('c1 · 100% cat', 'c2 · 67% dog'))
    >>> c.labels.tolist()
    [1, 1, 1, 0, 0, 0]
    """
    # float32 like the output of reduce_features: k-means runs 2-3x faster than in float64 and the
    # result no longer depends on which of the two float types the caller passed.
    x = check_matrix(reduced, "reduced", min_rows=3, dtype=np.float32)
    n = x.shape[0]
    names = check_names(class_names, "class_names")
    ref = check_label_vector(
        reference, "reference", length=n, n_classes=len(names), kind="class indices", note="one per class name"
    )
    ks = _check_n_clusters(n_clusters, n)
    if n_clusters == "auto":
        # More clusters than distinct points would leave some empty (k-means warns and they are dropped).
        # Duplicated images differ in the last bits once projected (BLAS blocks rows unevenly), so
        # points count as one when they agree to 1e-5 of the data's spread.
        spread = float(x.std()) or 1.0
        distinct = len(np.unique(np.round(x / spread, 5), axis=0))
        ks = tuple(k for k in ks if k <= distinct) or ks[:1]
    check_seed(seed)
    check_int(max_silhouette_samples, "max_silhouette_samples", minimum=3)
    return _compute_clusters(x, ref, names, ks, seed, max_silhouette_samples)


def _compute_clusters(
    x: np.ndarray,
    reference: np.ndarray,
    class_names: tuple[str, ...],
    ks: tuple[int, ...],
    seed: int,
    max_silhouette_samples: int,
) -> LayerClusters:
    sample = _silhouette_sample(x.shape[0], max_silhouette_samples, seed)
    # One distance matrix for the subsample, reused by every k.
    distances = pairwise_distances(x[sample].astype(np.float64))
    best_rank, best_fit = -np.inf, None
    k_scores: dict[int, float] = {}
    for k in ks:
        fit = _fit_kmeans(x, k, seed)
        score = _silhouette(distances, fit.labels_[sample])
        k_scores[k] = score
        # Strictly greater, so ties keep the smaller k; an undefined (NaN) score ranks below all.
        rank = -np.inf if np.isnan(score) else score
        if best_fit is None or rank > best_rank:
            best_rank, best_fit = rank, fit
    return _name_clusters(
        best_fit.labels_,
        best_fit.cluster_centers_,
        reference,
        class_names,
        k_scores,
        k_scores[best_fit.n_clusters],
    )


def _fit_kmeans(x: np.ndarray, k: int, seed: int) -> KMeans:
    # One OpenMP thread. scikit-learn's Lloyd iterations sum each thread's chunks separately, so the
    # result depends on the thread count: on 5,000 float32 points, 1 and 2 threads found different
    # k=4 solutions, which would break "same inputs and seed, same analysis" across machines. Two
    # threads are also 5-10x slower when the cores are busy (OpenMP spin-waits); one costs < 1 s here.
    with threadpool_limits(limits=1, user_api="openmp"):
        return KMeans(n_clusters=k, n_init=_N_INIT, random_state=seed, algorithm="lloyd").fit(x)


def _silhouette_sample(n: int, max_samples: int, seed: int) -> np.ndarray:
    if n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    n_labels = len(np.unique(labels))
    if not 2 <= n_labels <= len(labels) - 1:
        return float("nan")
    return float(silhouette_score(distances, labels, metric="precomputed"))


def _name_clusters(
    labels: np.ndarray,
    centers: np.ndarray,
    reference: np.ndarray,
    class_names: tuple[str, ...],
    k_scores: dict[int, float],
    silhouette: float,
) -> LayerClusters:
    """Drop empty clusters, renumber the rest in the stable order and name them."""
    n_classes = len(class_names)
    used = np.unique(labels)
    counts = np.stack([np.bincount(reference[labels == c], minlength=n_classes) for c in used])
    sizes = counts.sum(axis=1)
    dominant = counts.argmax(axis=1)  # first maximum: ties go to the smaller class index
    purity = counts.max(axis=1) / sizes
    mean_index = np.bincount(labels, weights=np.arange(len(labels)))[used] / sizes
    # np.lexsort sorts by the last key first; `used` is a last-resort key for exact ties.
    order = np.lexsort((used, mean_index, -sizes, dominant))
    new_label = np.empty(labels.max() + 1, dtype=np.int64)
    new_label[used[order]] = np.arange(len(order))
    names = tuple(f"c{j + 1} · {round(100 * purity[i])}% {class_names[dominant[i]]}" for j, i in enumerate(order))
    return LayerClusters(
        labels=new_label[labels],
        names=names,
        dominant=dominant[order].astype(np.int64),
        purity=purity[order].astype(np.float64),
        sizes=sizes[order].astype(np.int64),
        centers=centers[used[order]].astype(np.float32),
        silhouette=silhouette,
        k_scores=k_scores,
    )


# -- validation ---------------------------------------------------------------------------------


def _check_n_clusters(n_clusters: int | str, n: int) -> tuple[int, ...]:
    """Return the ks to try."""
    if isinstance(n_clusters, str) and n_clusters == "auto":
        return tuple(k for k in AUTO_K_RANGE if k <= n - 1)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
        raise InvalidInputError(f'n_clusters: expected "auto" or an int; received {n_clusters!r}.')
    if not 2 <= n_clusters <= n - 1:
        raise InvalidInputError(
            f"n_clusters: expected an int in 2..{n - 1} (the number of images, {n}, minus 1); received {n_clusters!r}."
        )
    return (int(n_clusters),)
