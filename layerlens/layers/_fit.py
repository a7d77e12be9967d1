"""A layer's fitted transforms in one object: its space, its clusters and its map, fitted once, applied to any batch.

The fit needs the whole fit set (k-means and the k choice see every image); placing images needs only the fitted
object and the images' features, one batch at a time. The object is picklable, so one process can fit and others
place (the forward pass and the placing of a large set may run on other machines).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from layerlens._util.display import count
from layerlens.layers._clusters import LayerClusters, LayerSpace, cluster_layer, fit_space
from layerlens.layers._maps import LayerMap, map_centers

__all__ = ["FIT_SAMPLE_MAX", "LayerFit", "Placement", "fit_sample", "own_rows"]

#: Above this many analysed images (and no reference), the layers are fitted on a seeded sample of this many, every
#: image is placed in that fit, and the sample is the reference of the neighbour searches (doubt, findings).
#: Measured here (64 features, 10 classes): one layer's fit takes 0.2 s on 10,000 images, 0.5 s on 50,000 and
#: 1.0 s on 100,000, and holds a copy of the fit set's features; the neighbour searches grow faster (at 50,000
#: images, 76 s of doubt and 35 s of findings on the driver, most of an analysis), while 20,000 reference images
#: give each image its 50 neighbours as well.
FIT_SAMPLE_MAX = 20_000


#: Images placed in a layer's space at a time: the float64 copies that standardising and projecting make of a
#: million images' features (memory-mapped, perhaps) never exist at once (64 MB at 128 features).
PLACE_ROWS = 65_536


def _in_parts(transform: Callable[[np.ndarray], np.ndarray], features: np.ndarray) -> np.ndarray:
    """``transform(features)``, :data:`PLACE_ROWS` rows at a time when there are more."""
    if len(features) <= PLACE_ROWS:
        return transform(features)
    return np.concatenate([transform(features[i : i + PLACE_ROWS]) for i in range(0, len(features), PLACE_ROWS)])


def fit_sample(n: int, seed: int, most: int | None = None) -> np.ndarray | None:
    """The positions (sorted) of the analysed images the layers are fitted on when there are more than ``most``
    (default :data:`FIT_SAMPLE_MAX`); None: all of them. Chosen by position in the whole set and ``seed`` alone,
    so both engines, and the findings of a stored run, find the same sample."""
    most = FIT_SAMPLE_MAX if most is None else most
    if n <= most:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def own_rows(sample: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query (a position among all images), its row in ``sample`` (sorted), or -1 when it is not in it."""
    rows = np.searchsorted(sample, queries)
    inside = rows < len(sample)
    found = np.full(len(queries), -1, dtype=np.int64)
    found[inside] = np.where(sample[rows[inside]] == queries[inside], rows[inside], -1)
    return found


@dataclass(frozen=True, eq=False)
class Placement:
    """Where a set of images lands in one layer.

    Attributes
    ----------
    reduced : ndarray of shape (N, d), float32
        The images in the layer's reduced space.
    assignments : ndarray of shape (N,), int64
        The cluster of each image.
    coords : ndarray of shape (N, 2), float32
        The images' positions on the layer's map.
    """

    reduced: np.ndarray
    assignments: np.ndarray
    coords: np.ndarray

    def __len__(self) -> int:
        return len(self.assignments)

    def __repr__(self) -> str:
        used = len(np.unique(self.assignments))
        return (
            f"<Placement of {count(len(self), 'image')} in {self.reduced.shape[1]} dimensions, "
            f"in {count(used, 'cluster')}>"
        )

    def take(self, rows: np.ndarray) -> Placement:
        """The placement of the images at ``rows``, in that order."""
        return Placement(self.reduced[rows], self.assignments[rows], self.coords[rows])


@dataclass(frozen=True, eq=False)
class LayerFit:
    """One layer's space (standardisation + PCA), clusters (k-means) and 2-D map, fitted on a fit set.

    Attributes
    ----------
    space : LayerSpace
        The reduced space.
    clusters : LayerClusters
        The clusters, named from the fit set's classes; their ``labels`` are the fit set's assignments.
    layer_map : LayerMap
        The 2-D map.
    fitted : Placement
        The fit set itself as the fit placed it (its k-means assignments and its positions on the map as learnt).
    map_centers : ndarray of shape (k, 2), float32
        Where each cluster sits on the map: the mean position of the fit images in it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (20, 5)), rng.normal(6, 1, (20, 5))])
    >>> fit = LayerFit.fit(x, np.repeat([0, 1], 20), ("a", "b"), n_clusters=2)
    >>> fit.clusters.k, fit.transform(x[:3]).assignments.tolist() == fit.fitted.assignments[:3].tolist()
    (2, True)
    """

    space: LayerSpace
    clusters: LayerClusters
    layer_map: LayerMap
    fitted: Placement
    map_centers: np.ndarray

    def __repr__(self) -> str:
        return (
            f"<LayerFit: k={self.clusters.k} ({self.clusters.k_rule}) on {count(len(self.fitted), 'fit image')}, "
            f"{self.space.n_components}-dimensional space, {self.layer_map.method} map>"
        )

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        class_names: Sequence[str],
        *,
        predictions: np.ndarray | None = None,
        n_clusters: int | str = "auto",
        paths_before: np.ndarray | None = None,
        projection: str = "pca",
        seed: int = 0,
    ) -> LayerFit:
        """Fit the space, the clusters and the map of one layer on the fit set's ``features`` ``(M, D)``.

        ``labels``, ``class_names``, ``predictions``, ``n_clusters``, ``paths_before`` and ``seed`` are those of
        :func:`~layerlens.layers.cluster_layer`; ``projection`` and ``seed`` those of :meth:`LayerMap.fit`.
        """
        space = fit_space(features, seed=seed)
        reduced = space.transform(features)
        clusters = cluster_layer(
            reduced,
            labels,
            class_names,
            predictions=predictions,
            n_clusters=n_clusters,
            paths_before=paths_before,
            seed=seed,
        )
        layer_map, coords = LayerMap.fit(reduced, method=projection, seed=seed)
        centers = map_centers(coords, clusters.assignments, clusters.k)
        return cls(space, clusters, layer_map, Placement(reduced, clusters.assignments, coords), centers)

    def transform(self, features: np.ndarray) -> Placement:
        """Place images of this layer, ``features`` ``(N, D)`` as the pass reduced them, in the fitted space,
        clusters and map."""
        return self.place(features)[0]

    def place(self, *feature_sets: np.ndarray | None) -> tuple[Placement | None, ...]:
        """Place several sets at once: each reduced and assigned apart, all mapped in one call (None stays None).

        A UMAP map places the images of one call together; placing the same sets together again gives the same
        positions.
        """
        reduced = [None if f is None else _in_parts(self.space.transform, f) for f in feature_sets]
        present = [r for r in reduced if r is not None]
        coords = self.layer_map.transform(np.concatenate(present)) if present else None
        placed: list[Placement | None] = []
        start = 0
        for r in reduced:
            if r is None:
                placed.append(None)
                continue
            placed.append(Placement(r, self.clusters.assign(r), coords[start : start + len(r)]))
            start += len(r)
        return tuple(placed)
