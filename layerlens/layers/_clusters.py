"""Per-layer clusters: standardise and PCA-reduce a layer's features, then group the images with k-means.

The reduced space (a :class:`LayerSpace`) is shared by the clusters, the 2-D map
(:mod:`layerlens.layers._maps`) and the separability measures, so all three look at the same geometry. A
space and its clusters are fitted on one set of images (the analysed images, or a reference set such
as the training images) and any other set is placed in them: :meth:`LayerSpace.transform`, then
:meth:`LayerClusters.assign` to the nearest centre.

A cluster is named after a class only when that class clearly stands out in it (see
:data:`LEAD_RATIO`); the others are *mixed*. How much the clusters of a layer say about the classes
at all is :attr:`LayerClusters.class_information`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_mutual_info_score, pairwise_distances
from sklearn.preprocessing import StandardScaler

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.validation import check_int, check_label_vector, check_matrix, check_names, check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.layers._kchoice import (
    Choice,
    choose_faithful,
    choose_fixed,
    choose_silhouette,
    nearest_center,
    sample_rows,
    silhouette_of,
)
from layerlens.options import K_RULES

__all__ = [
    "AUTO_K_RANGE",
    "LEAD_P_VALUE",
    "LEAD_RATIO",
    "NO_CLASS_INFORMATION",
    "LayerClusters",
    "LayerSpace",
    "cluster_layer",
    "fit_space",
    "reduce_features",
]

#: The numbers of clusters ``"auto"`` and ``"silhouette"`` try (capped at N - 1 and the distinct points).
AUTO_K_RANGE: tuple[int, ...] = tuple(range(2, 13))
#: How ``n_clusters`` can pick k: faithful paths (``"auto"``) or the highest silhouette.
#: A cluster's most frequent class *leads* it (and names it) when its share of the cluster is at least this
#: many times its share of the whole fit set, and the excess is unlikely by chance (:data:`LEAD_P_VALUE`).
LEAD_RATIO = 1.5
#: The excess must also be unlikely by chance: a one-sided binomial test of the class's count in the cluster,
#: against its share of the fit set, must give a p-value below this. A cluster that fails either test is *mixed*.
LEAD_P_VALUE = 0.01
#: Below this adjusted mutual information with the classes, a layer's clusters carry no class information:
#: they follow something else (intensity, size, position), whatever their names would suggest.
NO_CLASS_INFORMATION = 0.02
_DESCRIPTIVE_SILHOUETTE_SAMPLES = 1000


@dataclass(frozen=True, eq=False)
class LayerSpace:
    """A layer's reduced space: per-feature standardisation, then PCA, fitted on one set of images.

    Attributes
    ----------
    scaler : sklearn.preprocessing.StandardScaler
        Fitted on the features of the fit set.
    pca : sklearn.decomposition.PCA or None
        Fitted on the standardised features; None when every feature was constant (the space is
        then all zeros).
    n_components : int
        Dimension ``d`` of the space.
    """

    scaler: StandardScaler
    pca: PCA | None
    n_components: int

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Place images in this space: ``(M, D)`` features of the same layer -> ``(M, d)`` float32."""
        x = check_matrix(features, "features", min_rows=1)
        if x.shape[1] != self.scaler.n_features_in_:
            raise InvalidInputError(
                f"features: expected {self.scaler.n_features_in_} values per image, as the space was fitted on; "
                f"received {x.shape[1]}."
            )
        if self.pca is None:
            return np.zeros((x.shape[0], self.n_components), dtype=np.float32)
        return self.pca.transform(self.scaler.transform(x)).astype(np.float32)


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
    covariance matrix (``svd_solver="covariance_eigh"``, a fraction of a second at 10,000 x 1,000), otherwise
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
    return fit_space(features, max_components=max_components, seed=seed).transform(features)


def fit_space(features: np.ndarray, *, max_components: int = 50, seed: int = 0) -> LayerSpace:
    """Fit a layer's reduced space on ``features``, to place these or other images in it later.

    Parameters and Notes as :func:`reduce_features`, which is ``fit_space(f).transform(f)``.

    Returns
    -------
    LayerSpace

    Raises
    ------
    InvalidInputError
        As :func:`reduce_features`.
    """
    x = check_matrix(features, "features", min_rows=2)
    check_int(max_components, "max_components", minimum=1)
    check_seed(seed)
    return _compute_space(x, min(max_components, x.shape[1], x.shape[0]), seed)


def _compute_space(x: np.ndarray, n_components: int, seed: int) -> LayerSpace:
    scaler = StandardScaler().fit(x)
    scaled = scaler.transform(x)
    if not np.any(scaled):
        # PCA would divide a zero total variance by itself and emit NaN ratios with a warning.
        return LayerSpace(scaler, None, n_components)
    solver = "covariance_eigh" if x.shape[0] >= x.shape[1] else "full"
    pca = PCA(n_components=n_components, svd_solver=solver, random_state=seed).fit(scaled)
    return LayerSpace(scaler, pca, n_components)


@dataclass(frozen=True, eq=False)
class LayerClusters:
    """The k-means clusters of one layer, each named after the class that leads it, or mixed.

    The clusters are fitted on one set of images (the *fit set*); names, leading and dominant
    classes, purity, sizes and class information describe that set. ``assignments`` are the clusters of
    the images at hand: the fit set's own as :func:`cluster_layer` returns them, other images' after
    :meth:`assign`. Clusters are numbered ``0..k-1`` in the stable order described in
    :func:`cluster_layer`.

    A class *leads* a cluster when it is clearly over-represented there (:data:`LEAD_RATIO`,
    :data:`LEAD_P_VALUE`); a cluster no class leads is *mixed*. ``dominant`` and ``purity`` only
    describe: the most frequent class of a mixed cluster is in ``dominant`` too.

    Parameters
    ----------
    assignments : ndarray of shape (N,), int64
        Cluster of each image, in ``range(k)``.
    names : tuple of str
        One per cluster: ``"c3 · 91% glioma"`` (1-based number, purity, leading class) for a led
        cluster, ``"c2 · mixed"`` for a mixed one.
    leading : ndarray of shape (k,), int64
        Class index that leads each cluster in the fit set, -1 for a mixed cluster. The names, the
        colours of the maps and ``layers_agreeing`` of the paths table go by it.
    dominant : ndarray of shape (k,), int64
        Most frequent class index of each cluster in the fit set (ties go to the smaller class index).
    purity : ndarray of shape (k,), float64
        Share of each cluster's fit images that belong to its dominant class, in (0, 1].
    sizes : ndarray of shape (k,), int64
        Number of fit images in each cluster; every cluster has at least one.
    centers : ndarray of shape (k, d), float32
        k-means centres in the layer's reduced space.
    silhouette : float
        Mean silhouette of the chosen clustering on a seeded sample of the fit set, in [-1, 1];
        NaN when it is undefined (fewer than 2 clusters, or as many clusters as points).
    class_information : float
        Adjusted mutual information between the fit set's clusters and the classes they are named
        by: about 0 for clusters independent of the classes (however they are named), 1 when the
        clusters are the classes. NaN when undefined (a fit set of one class) or unknown (a run
        stored before layerlens measured it). See :attr:`carries_class_information`.
    k_scores : dict of int to dict of str to float
        For every k tried: ``"decision_alignment"`` (share of fit images predicted as the majority
        prediction of their cluster), ``"paths"`` (distinct paths through this and the earlier
        layers) and ``"silhouette"``; NaN where a rule did not compute a measure.
    k_rule : str
        ``"faithful"``, ``"silhouette"`` or ``"fixed"``.
    k_reason : str
        Why this k, in a sentence for the reader.
    """

    assignments: np.ndarray
    names: tuple[str, ...]
    leading: np.ndarray
    dominant: np.ndarray
    purity: np.ndarray
    sizes: np.ndarray
    centers: np.ndarray
    silhouette: float
    class_information: float
    k_scores: dict[int, dict[str, float]] = field(default_factory=dict)
    k_rule: str = "fixed"
    k_reason: str = ""

    @property
    def k(self) -> int:
        """Number of clusters."""
        return len(self.names)

    @property
    def carries_class_information(self) -> bool:
        """False when the clusters carry no class information (:attr:`class_information` below
        :data:`NO_CLASS_INFORMATION`); True otherwise, also when it is unknown (NaN)."""
        return not self.class_information < NO_CLASS_INFORMATION

    @property
    def labels(self) -> np.ndarray:
        """Deprecated name of :attr:`assignments` (``labels`` are true classes everywhere else)."""
        warnings.warn(
            "LayerClusters.labels is deprecated: use LayerClusters.assignments (the cluster of each image).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.assignments

    def assign(self, reduced: np.ndarray) -> np.ndarray:
        """The nearest cluster (Euclidean, to the k-means centres) of each row of ``reduced`` ``(M, d)``.

        Images reduced with the same :class:`LayerSpace` land where k-means would have put them; the
        fit set's own images get their ``assignments`` back, up to points equidistant from two centres.
        """
        x = check_matrix(reduced, "reduced", min_rows=1, dtype=np.float32)
        if x.shape[1] != self.centers.shape[1]:
            raise InvalidInputError(
                f"reduced: expected {self.centers.shape[1]} columns, as the centres have; received {x.shape[1]}."
            )
        return nearest_center(x, self.centers)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: everything but the per-image ``assignments`` and the ``centers`` arrays."""
        return {
            "k": self.k,
            "names": list(self.names),
            "leading": self.leading.tolist(),
            "dominant": self.dominant.tolist(),
            "purity": self.purity.tolist(),
            "sizes": self.sizes.tolist(),
            "silhouette": encode_float(self.silhouette),
            "class_information": encode_float(self.class_information),
            "k_scores": {str(k): {m: encode_float(v) for m, v in s.items()} for k, s in self.k_scores.items()},
            "k_rule": self.k_rule,
            "k_reason": self.k_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, assignments: np.ndarray, centers: np.ndarray) -> LayerClusters:
        """Rebuild clusters from :meth:`to_dict` and the two arrays it leaves out.

        A dict written before clusters could be mixed (no ``"leading"`` key) named every cluster
        after its dominant class, so that is its leading class; its class information is unknown (NaN).
        """
        dominant = np.asarray(data["dominant"], dtype=np.int64)
        return cls(
            assignments=assignments,
            names=tuple(data["names"]),
            leading=np.asarray(data["leading"], dtype=np.int64) if "leading" in data else dominant.copy(),
            dominant=dominant,
            purity=np.asarray(data["purity"], dtype=np.float64),
            sizes=np.asarray(data["sizes"], dtype=np.int64),
            centers=centers,
            silhouette=decode_float(data["silhouette"]),
            class_information=decode_float(data.get("class_information")),
            k_scores={int(k): {m: decode_float(v) for m, v in s.items()} for k, s in data["k_scores"].items()},
            k_rule=data["k_rule"],
            k_reason=data["k_reason"],
        )

    def __repr__(self) -> str:
        names = ", ".join(map(repr, self.names[:4])) + (f", ... ({self.k - 4} more)" if self.k > 4 else "")
        return f"LayerClusters(k={self.k} ({self.k_rule}), silhouette={self.silhouette:.3f}, names=({names}))"


def cluster_layer(
    reduced: np.ndarray,
    classes: np.ndarray,
    class_names: Sequence[str],
    *,
    predictions: np.ndarray | None = None,
    n_clusters: int | str = "auto",
    paths_before: np.ndarray | None = None,
    seed: int = 0,
    max_search_samples: int = 2000,
    max_silhouette_samples: int = 2000,
) -> LayerClusters:
    """Group one layer's images with k-means and name each cluster after the class that leads it.

    Parameters
    ----------
    reduced : ndarray of shape (N, d), real
        The fit set's reduced features (see :func:`reduce_features`); N >= 3, all values finite.
    classes : ndarray of shape (N,), int
        Class index of each image used to name the clusters, in ``range(len(class_names))``: the
        true labels when they are known, else the model's predictions.
    class_names : sequence of str
        Name of each class; ``class_names[c]`` names class index ``c``.
    predictions : ndarray of shape (N,), int, optional
        The model's predicted class of each image, in ``range(len(class_names))``; the clusters of
        ``"auto"`` are chosen to follow them. Default: ``classes``.
    n_clusters : int, "auto" or "silhouette", default="auto"
        ``"auto"``: faithful paths, the smallest k in :data:`AUTO_K_RANGE` whose clusters predict
        the model's decisions about as well as any (see Notes). ``"silhouette"``: the k with the
        highest silhouette. An int fixes k, with 2 <= k <= N - 1.
    paths_before : ndarray of shape (N,), int, optional
        Id of each image's path through the layers before this one, to report how many distinct
        paths each k makes (``k_scores[k]["paths"]``); None for the first layer.
    seed : int, default=0
        Seeds the k-means++ initialisation and the samples.
    max_search_samples : int, default=2000
        ``"auto"`` fits each candidate k on a seeded sample of at most this many images (at least
        3) and scores it on all of them; the chosen k is then fitted on all.
    max_silhouette_samples : int, default=2000
        The silhouette is computed on at most this many images (at least 3), drawn once with
        ``seed``, since its cost grows with the square of the count; at most 1,000 where it only
        describes clusters chosen by another rule.

    Returns
    -------
    LayerClusters
        Labels, names, leading and dominant class, purity, size and centre of each cluster, the
        chosen clustering's silhouette and class information, the scores of every k tried and the
        reason for the choice.

    Raises
    ------
    InvalidInputError
        If ``reduced`` is not a finite 2-D real array with at least 3 rows; if ``classes`` or
        ``predictions`` is not N integers in ``range(len(class_names))``; if ``class_names`` is not a
        non-empty sequence of distinct, non-blank str; if ``n_clusters`` is none of ``"auto"``,
        ``"silhouette"`` or an int in 2..N-1; or if ``seed`` or a sample size is not a valid integer.

    Notes
    -----
    *Faithful paths* follow the cluster-paths method [1]_: a path through the layers' clusters
    should reproduce the model's decision. For each k the *decision alignment* is the share of
    images whose prediction is the majority prediction of their cluster. The largest k is tried
    first; when even it gets right less than half of the images that the most common prediction
    alone gets wrong (the early layers of a CNN, which see edges and intensity, not decisions), the
    layer gets the smallest k so it does not multiply the paths. Otherwise every k is tried and the
    smallest one within 0.02 of the best alignment is kept.

    k-means is scikit-learn's exact Lloyd algorithm, started from k-means++ seeds [2]_ with 4
    seeded restarts, on a single OpenMP thread (its multi-threaded sums make the result depend on
    the thread count); the silhouette [3]_ of each point compares its mean distance to its own
    cluster with that to the nearest other cluster.

    Clusters are then renumbered so that a path through the layers reads left to right: by
    dominant class index, then by size (largest first), then by the mean position of their
    members in the input (a deterministic final tiebreak).

    A cluster's dominant class *leads* it when it is clearly over-represented there against its
    share of the whole fit set: its share in the cluster is at least :data:`LEAD_RATIO` (1.5) times
    its share of the set, and a one-sided binomial test of its count in the cluster gives a p-value
    below :data:`LEAD_P_VALUE` (0.01): ``scipy.stats.binomtest(count, size, p=share of the set,
    alternative="greater")``. A class that makes up 25 % of the set must make up at least 37.5 % of
    a cluster, and a cluster of 3 images all of it is still mixed (p = 0.25³ = 1/64). Only the
    dominant class is tested, once per cluster, with no correction for the k tests.

    Cluster ``j`` led by class ``c`` is named ``f"c{j + 1} · {round(100 * purity)}% {class_names[c]}"``
    (U+00B7 middle dot; Python's ``round``, so an exact half rounds to even); a mixed cluster is
    named ``f"c{j + 1} · mixed"``. Without the rule, clusters at chance purity (27 % of a class that
    makes up 25 %) would be named after a class they say nothing about.

    ``class_information`` is the adjusted mutual information [4]_ between the clusters and
    ``classes`` on the fit set: mutual information corrected for what clusterings of the same sizes
    share by chance, so about 0 for clusters that follow something else than the classes, however
    many, and 1 when they are the classes.

    Automatic rules never try more clusters than the points have distinct positions; an int k
    above that leaves clusters empty (scikit-learn warns with a ``ConvergenceWarning``), and empty
    clusters are dropped, so ``k`` can be smaller than requested.

    References
    ----------
    .. [1] N. M. Kroeger and V. Bindschaedler, "Cluster Paths: Navigating Interpretability in
       Neural Networks", arXiv:2510.06541, 2025.
    .. [2] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding",
       Proc. 18th ACM-SIAM Symposium on Discrete Algorithms (SODA), 2007, pp. 1027-1035.
    .. [3] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
       cluster analysis", J. Comput. Appl. Math. 20, 1987, pp. 53-65.
    .. [4] N. X. Vinh, J. Epps and J. Bailey, "Information Theoretic Measures for Clusterings
       Comparison: Variants, Properties, Normalization and Correction for Chance", J. Mach. Learn.
       Res. 11, 2010, pp. 2837-2854.

    Examples
    --------
    >>> import numpy as np

    Three groups of 8 images: all cats, all dogs, half and half. Cats and dogs each make up half
    of the set; 8 cats of 8 is twice that share and has p = 0.5⁸ ≈ 0.004, the even group is mixed.

    >>> x = np.repeat([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]], 8, axis=0)
    >>> classes = np.repeat([0, 1, 0, 1], [8, 8, 4, 4])
    >>> c = cluster_layer(x, classes, ["cat", "dog"], n_clusters=3)
    >>> c.names
    ('c1 · 100% cat', 'c2 · mixed', 'c3 · 100% dog')
    >>> c.leading.tolist(), c.dominant.tolist()
    ([0, -1, 1], [0, 0, 1])
    >>> c.assignments[::4].tolist()
    [0, 0, 2, 2, 1, 1]
    >>> round(c.class_information, 2), c.carries_class_information
    (0.49, True)
    """
    # float32 like the output of reduce_features: k-means runs 2-3x faster than in float64 and the
    # result no longer depends on which of the two float types the caller passed.
    x = check_matrix(reduced, "reduced", min_rows=3, dtype=np.float32)
    n = x.shape[0]
    names = check_names(class_names, "class_names")
    named_by = check_label_vector(
        classes, "classes", length=n, n_classes=len(names), kind="class indices", note="one per class name"
    )
    predicted = named_by
    if predictions is not None:
        predicted = check_label_vector(
            predictions, "predictions", length=n, n_classes=len(names), kind="class indices", note="one per class name"
        )
    before = (
        None if paths_before is None else check_label_vector(paths_before, "paths_before", length=n, n_classes=None)
    )
    ks = _check_n_clusters(n_clusters, n)
    check_seed(seed)
    check_int(max_search_samples, "max_search_samples", minimum=3)
    check_int(max_silhouette_samples, "max_silhouette_samples", minimum=3)
    if isinstance(n_clusters, str):
        # Never more clusters than distinct points where the candidates are fitted (else some stay empty).
        rows = sample_rows(n, max_search_samples, seed) if n_clusters == "auto" else np.arange(n)
        distinct = _distinct_points(x[rows], ks[-1], seed)
        ks = tuple(k for k in ks if k <= distinct) or (min(distinct, ks[0]),)
    if n_clusters == "auto":
        choice = choose_faithful(x, predicted, ks, seed, max_search_samples=max_search_samples, paths_before=before)
    elif n_clusters == "silhouette":
        choice = choose_silhouette(
            x, predicted, ks, seed, max_silhouette_samples=max_silhouette_samples, paths_before=before
        )
    else:
        choice = choose_fixed(x, predicted, ks[0], seed, paths_before=before)
    return _name_clusters(x, choice, named_by, names, seed, max_silhouette_samples)


def _distinct_points(x: np.ndarray, enough: int, seed: int) -> int:
    """Distinct rows (at least ``enough`` of them, or all), counting as one the rows that agree to 1e-5 of the spread.

    Duplicated images differ in the last bits once projected (BLAS blocks rows unevenly). A sample of
    rows is looked at first: sorting every row of a large set costs more than the clustering.
    """
    spread = float(x.std()) or 1.0

    def count(rows: np.ndarray) -> int:
        return len(np.unique(np.round(x[rows] / spread, 5), axis=0))

    sample = sample_rows(len(x), 4 * enough, seed)
    distinct = count(sample)
    return distinct if distinct >= enough or len(sample) == len(x) else count(np.arange(len(x)))


def _name_clusters(
    x: np.ndarray,
    choice: Choice,
    classes: np.ndarray,
    class_names: tuple[str, ...],
    seed: int,
    max_silhouette_samples: int,
) -> LayerClusters:
    """Drop empty clusters, renumber the rest in the stable order, name them and rate the clustering."""
    labels = choice.labels
    n_classes = len(class_names)
    used = np.unique(labels)
    counts = np.stack([np.bincount(classes[labels == c], minlength=n_classes) for c in used])
    sizes = counts.sum(axis=1)
    dominant = counts.argmax(axis=1)  # first maximum: ties go to the smaller class index
    purity = counts.max(axis=1) / sizes
    mean_index = np.bincount(labels, weights=np.arange(len(labels)))[used] / sizes
    # np.lexsort sorts by the last key first; `used` is a last-resort key for exact ties.
    order = np.lexsort((used, mean_index, -sizes, dominant))
    new_label = np.empty(labels.max() + 1, dtype=np.int64)
    new_label[used[order]] = np.arange(len(order))
    renumbered = new_label[labels]
    scores = {k: dict(s) for k, s in choice.scores.items()}
    chosen = scores[int(choice.centers.shape[0])]
    if choice.rule != "silhouette":  # the silhouette rule scored its choice already, on the same sample
        # Here the silhouette only describes the clusters: a smaller sample reads it well enough.
        sample = sample_rows(len(x), min(max_silhouette_samples, _DESCRIPTIVE_SILHOUETTE_SAMPLES), seed)
        chosen["silhouette"] = silhouette_of(pairwise_distances(x[sample].astype(np.float64)), renumbered[sample])
    silhouette = chosen["silhouette"]
    leading = _leading_classes(counts)
    names = tuple(
        f"c{j + 1} · mixed" if leading[i] < 0 else f"c{j + 1} · {round(100 * purity[i])}% {class_names[leading[i]]}"
        for j, i in enumerate(order)
    )
    return LayerClusters(
        assignments=renumbered,
        names=names,
        leading=leading[order],
        dominant=dominant[order].astype(np.int64),
        purity=purity[order].astype(np.float64),
        sizes=sizes[order].astype(np.int64),
        centers=choice.centers[used[order]].astype(np.float32),
        silhouette=silhouette,
        class_information=_class_information(classes, renumbered),
        k_scores=scores,
        k_rule=choice.rule,
        k_reason=choice.reason,
    )


def _leading_classes(counts: np.ndarray) -> np.ndarray:
    """The class that leads each cluster, -1 for a mixed one, from the ``(k, K)`` class counts of the clusters.

    Only a cluster's most frequent class (ties: the smaller index) is a candidate; see :func:`cluster_layer`.
    """
    sizes = counts.sum(axis=1)
    totals = counts.sum(axis=0)
    n = int(totals.sum())
    leading = np.full(len(counts), -1, dtype=np.int64)
    for i, (row, size) in enumerate(zip(counts, sizes, strict=True)):
        c = int(row.argmax())
        # share >= LEAD_RATIO * set share, compared as counts: exact for a ratio like 1.5, so a share of
        # exactly 1.5 times counts. A class that is the whole set never qualifies (its ratio is 1).
        if row[c] * n < LEAD_RATIO * size * totals[c]:
            continue
        test = binomtest(int(row[c]), int(size), p=float(totals[c] / n), alternative="greater")
        if test.pvalue < LEAD_P_VALUE:
            leading[i] = c
    return leading


def _class_information(classes: np.ndarray, labels: np.ndarray) -> float:
    """Adjusted mutual information between clusters and classes; NaN when the set holds a single class."""
    if len(np.unique(classes)) < 2:
        # scikit-learn calls one class against one cluster a perfect match (1.0); there is nothing to inform about.
        return float("nan")
    return float(adjusted_mutual_info_score(classes, labels))


# -- validation ---------------------------------------------------------------------------------


def _check_n_clusters(n_clusters: int | str, n: int) -> tuple[int, ...]:
    """Return the ks to try."""
    if isinstance(n_clusters, str) and n_clusters in K_RULES:
        return tuple(k for k in AUTO_K_RANGE if k <= n - 1)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
        raise InvalidInputError(f'n_clusters: expected "auto", "silhouette" or an int; received {n_clusters!r}.')
    if not 2 <= n_clusters <= n - 1:
        raise InvalidInputError(
            f"n_clusters: expected an int in 2..{n - 1} (the number of images, {n}, minus 1); received {n_clusters!r}."
        )
    return (int(n_clusters),)
