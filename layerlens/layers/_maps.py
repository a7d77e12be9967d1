"""2-D maps of a layer's reduced features, and where each cluster sits on the map.

``umap-learn`` is imported only when a UMAP map is asked for: importing it also imports TensorFlow
(for its parametric variant) and compiles its kernels with numba, which costs seconds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlens._util.validation import check_int, check_label_vector, check_matrix, check_seed
from layerlens.exceptions import InvalidInputError, LayerlensWarning
from layerlens.options import PROJECTIONS

__all__ = ["LayerMap", "ProjectionFallbackWarning", "map_centers", "project_2d", "project_with_fit"]


# UMAP's spectral initialisation needs more points than n_components + 1; with 3 points
# scipy refuses the eigen-decomposition, so smaller sets get the PCA map.
_UMAP_MIN_POINTS = 4


class ProjectionFallbackWarning(LayerlensWarning):
    """The requested 2-D map could not be computed (too few points); the PCA map was returned."""


def project_2d(reduced: np.ndarray, *, method: str = "pca", seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """Place every image of one layer on a 2-D map.

    Parameters
    ----------
    reduced : ndarray of shape (N, d), real
        The layer's PCA-reduced features (see :func:`layerlens.layers._clusters.reduce_features`), columns
        in decreasing order of variance; N >= 1, d >= 1, all values finite.
    method : {"pca", "umap"}, default="pca"
        ``"pca"`` keeps the first two columns, the two leading principal components, with no refit
        (a zero second column when d == 1). ``"umap"`` runs UMAP [1]_ on all d columns.
    seed : int, default=0
        UMAP's ``random_state``; it makes UMAP deterministic (and single-threaded). Unused by PCA.
    n_neighbors : int, default=15
        UMAP's neighbourhood size (at least 2), capped at N - 1. Unused by PCA.

    Returns
    -------
    ndarray of shape (N, 2), float32
        Map position of each image.

    Raises
    ------
    InvalidInputError
        If ``reduced`` is not a finite 2-D real array with at least one row and one column, if
        ``method`` is not one of :data:`PROJECTIONS`, or if ``seed`` or ``n_neighbors`` is not a
        valid integer.

    Warns
    -----
    ProjectionFallbackWarning
        If ``method="umap"`` and there are fewer than 4 images, too few for UMAP; the PCA map is
        returned instead.

    Notes
    -----
    UMAP is called with ``n_components=2``, ``random_state=seed``, ``n_jobs=1`` and its defaults
    otherwise (``min_dist=0.1``, euclidean metric, spectral initialisation). Its first call in a
    process imports umap-learn, which also imports TensorFlow, and may compile numba kernels.

    References
    ----------
    .. [1] L. McInnes, J. Healy and J. Melville, "UMAP: Uniform Manifold Approximation and
       Projection for Dimension Reduction", arXiv:1802.03426, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> project_2d(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).tolist()
    [[1.0, 2.0], [4.0, 5.0]]
    >>> project_2d(np.array([[1.0], [-1.0]])).tolist()
    [[1.0, 0.0], [-1.0, 0.0]]
    """
    x = check_matrix(reduced, "reduced", min_rows=1)
    if not isinstance(method, str) or method not in PROJECTIONS:
        raise InvalidInputError(f"method: expected one of {PROJECTIONS}; received {method!r}.")
    seed = check_seed(seed)
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=2)
    if method == "umap":
        if x.shape[0] >= _UMAP_MIN_POINTS:
            return _compute_umap(x, seed, min(n_neighbors, x.shape[0] - 1))
        warnings.warn(
            f"project_2d: UMAP needs at least {_UMAP_MIN_POINTS} images; received {x.shape[0]}, "
            "so the PCA map is returned instead.",
            ProjectionFallbackWarning,
            stacklevel=2,
        )
    return _compute_pca_map(x)


def project_with_fit(
    fit_reduced: np.ndarray, reduced: np.ndarray, *, method: str = "pca", seed: int = 0, n_neighbors: int = 15
) -> tuple[np.ndarray, np.ndarray]:
    """Map a fit set (e.g. the training images) and place other images on the same map.

    Parameters
    ----------
    fit_reduced : ndarray of shape (M, d), real
        The fit set in the layer's reduced space; the map is learnt from it.
    reduced : ndarray of shape (N, d), real
        Other images in the same space, placed on that map.
    method, seed, n_neighbors
        As :func:`project_2d`.

    Returns
    -------
    (ndarray of shape (M, 2), ndarray of shape (N, 2)), float32
        Map positions of the fit set and of the other images.

    Raises
    ------
    InvalidInputError
        As :func:`project_2d`, and if the two sets differ in their number of columns.

    Notes
    -----
    The PCA map is the first two columns of either set (the space's leading components). UMAP
    learns its embedding from the fit set and places the others with ``UMAP.transform``, which
    puts each near its nearest neighbours in the fit set.
    """
    fit = check_matrix(fit_reduced, "fit_reduced", min_rows=1)
    other = check_matrix(reduced, "reduced", min_rows=1)
    if fit.shape[1] != other.shape[1]:
        raise InvalidInputError(
            f"reduced: expected {fit.shape[1]} columns, as fit_reduced has; received {other.shape[1]}."
        )
    if not isinstance(method, str) or method not in PROJECTIONS:
        raise InvalidInputError(f"method: expected one of {PROJECTIONS}; received {method!r}.")
    seed = check_seed(seed)
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=2)
    if method == "umap" and fit.shape[0] >= _UMAP_MIN_POINTS:
        reducer = _umap_reducer(seed, min(n_neighbors, fit.shape[0] - 1))
        fit_coords = np.asarray(reducer.fit_transform(fit.astype(np.float32)), dtype=np.float32)
        return fit_coords, np.asarray(reducer.transform(other.astype(np.float32)), dtype=np.float32)
    if method == "umap":
        warnings.warn(
            f"project_with_fit: UMAP needs at least {_UMAP_MIN_POINTS} fit images; received {fit.shape[0]}, "
            "so the PCA map is returned instead.",
            ProjectionFallbackWarning,
            stacklevel=2,
        )
    return _compute_pca_map(fit), _compute_pca_map(other)


@dataclass(frozen=True, eq=False)
class LayerMap:
    """A layer's 2-D map, learnt from a fit set, to place any other images of the layer on.

    Made by :meth:`fit`; picklable, so a map fitted in one process places images in another.

    Attributes
    ----------
    method : {"pca", "umap"}
        How the map was made (``"pca"`` also when UMAP had too few fit images).
    reducer : umap.UMAP or None
        The fitted UMAP model; None for the PCA map, which needs no fit (the first two columns of the
        reduced space, its leading principal components).
    """

    method: str
    reducer: Any = None

    @classmethod
    def fit(
        cls, fit_reduced: np.ndarray, *, method: str = "pca", seed: int = 0, n_neighbors: int = 15
    ) -> tuple[LayerMap, np.ndarray]:
        """Learn the map from ``fit_reduced`` ``(M, d)``; returns the map and the fit set's positions ``(M, 2)``.

        The same map and positions as :func:`project_with_fit` gives (see there for ``method``, ``seed`` and
        ``n_neighbors``); fewer than 4 fit images get the PCA map, with a :class:`ProjectionFallbackWarning`.
        """
        fit = check_matrix(fit_reduced, "fit_reduced", min_rows=1)
        if not isinstance(method, str) or method not in PROJECTIONS:
            raise InvalidInputError(f"method: expected one of {PROJECTIONS}; received {method!r}.")
        seed = check_seed(seed)
        n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=2)
        if method == "umap" and fit.shape[0] >= _UMAP_MIN_POINTS:
            reducer = _umap_reducer(seed, min(n_neighbors, fit.shape[0] - 1))
            coords = np.asarray(reducer.fit_transform(fit.astype(np.float32)), dtype=np.float32)
            return cls("umap", reducer), coords
        if method == "umap":
            warnings.warn(
                f"LayerMap.fit: UMAP needs at least {_UMAP_MIN_POINTS} fit images; received {fit.shape[0]}, "
                "so the PCA map is used instead.",
                ProjectionFallbackWarning,
                stacklevel=2,
            )
        return cls("pca"), _compute_pca_map(fit)

    def transform(self, reduced: np.ndarray) -> np.ndarray:
        """Positions ``(N, 2)`` float32 of other images ``(N, d)`` of the same reduced space on this map.

        UMAP places each image near its nearest neighbours in the fit set; its result for one image can depend
        on the others of the same call, so images placed together keep the same positions only when placed
        together again.
        """
        x = check_matrix(reduced, "reduced", min_rows=1)
        if self.reducer is None:
            return _compute_pca_map(x)
        return np.asarray(self.reducer.transform(x.astype(np.float32)), dtype=np.float32)


def _compute_pca_map(x: np.ndarray) -> np.ndarray:
    coords = np.zeros((x.shape[0], 2), dtype=np.float32)
    coords[:, : min(2, x.shape[1])] = x[:, :2]
    return coords


def _umap_reducer(seed: int, n_neighbors: int) -> Any:
    from layerlens._util.quiet_tqdm import import_quietly

    umap = import_quietly("umap")  # lazy: pulls in TensorFlow and numba, seconds to import

    return umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed, n_jobs=1)


def _compute_umap(x: np.ndarray, seed: int, n_neighbors: int) -> np.ndarray:
    return np.asarray(_umap_reducer(seed, n_neighbors).fit_transform(x.astype(np.float32)), dtype=np.float32)


def map_centers(coords: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean map position of each cluster's members, to mark the cluster centres on a 2-D map.

    Parameters
    ----------
    coords : ndarray of shape (N, 2), real
        Map position of each image (see :func:`project_2d`); all values finite.
    labels : ndarray of shape (N,), int
        Cluster of each image, in ``range(k)``; every cluster has at least one member.
    k : int
        Number of clusters, at least 1.

    Returns
    -------
    ndarray of shape (k, 2), float32
        Row ``j`` is the mean of ``coords`` over the images with label ``j``.

    Raises
    ------
    InvalidInputError
        If ``coords`` is not a finite (N, 2) real array, ``k`` is not an int >= 1, or ``labels``
        is not N integers in ``range(k)`` that use every cluster.

    Notes
    -----
    The mean map position is not the image of the k-means centre: neither a UMAP map nor a PCA
    map that drops components sends the centre of a cluster to the centre of its points' images.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0]])
    >>> map_centers(xy, np.array([0, 0, 1]), 2).tolist()
    [[1.0, 2.0], [10.0, 10.0]]
    """
    xy = check_matrix(coords, "coords", min_rows=1)
    if xy.shape[1] != 2:
        raise InvalidInputError(f"coords: expected shape (N, 2); received shape {xy.shape}.")
    k = check_int(k, "k", minimum=1)
    lab = check_label_vector(labels, "labels", length=xy.shape[0], n_classes=k, kind="cluster indices")
    counts = np.bincount(lab, minlength=k)
    if not counts.all():
        empty = np.flatnonzero(counts == 0).tolist()
        raise InvalidInputError(
            f"labels: expected every cluster in 0..{k - 1} to have members; clusters {empty} have none."
        )
    return _compute_centers(xy, lab, k, counts)


def _compute_centers(xy: np.ndarray, labels: np.ndarray, k: int, counts: np.ndarray) -> np.ndarray:
    sums = np.stack([np.bincount(labels, weights=xy[:, i], minlength=k) for i in range(2)], axis=1)
    return (sums / counts[:, None]).astype(np.float32)
