"""How many clusters a layer gets: for faithful paths (the default), by silhouette, or as given.

Every rule returns the fitted k-means of its choice and the scores of every k it tried, so the choice
can be shown and explained. k-means always runs on one OpenMP thread (see :func:`fit_kmeans`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, silhouette_score
from threadpoolctl import threadpool_limits

from layerlens.layers._alignment import decision_alignment, extend_path_ids

__all__ = [
    "ALIGNMENT_TOLERANCE",
    "DECISION_GAIN",
    "Choice",
    "choose_faithful",
    "choose_fixed",
    "choose_silhouette",
    "fit_kmeans",
    "nearest_center",
    "sample_rows",
]

#: Faithful k: the smallest k whose decision alignment is within this of the best k's.
ALIGNMENT_TOLERANCE = 0.02
#: A layer separates decisions when its clusters, at the largest k tried, get right at least this share of
#: the images that the most common prediction alone gets wrong.
DECISION_GAIN = 0.5

# k-means restarts. A fixed number, not "auto", whose meaning changed between scikit-learn versions.
_N_INIT = 4
_SEARCH_N_INIT = 2
# Shares are ratios of counts: a gap of exactly the tolerance must count as within it, whatever the rounding.
_EPSILON = 1e-9


@dataclass(frozen=True, eq=False)
class Choice:
    """A chosen clustering of the fit set, before its clusters are numbered and named."""

    labels: np.ndarray
    centers: np.ndarray
    scores: dict[int, dict[str, float]]
    rule: str
    reason: str


def fit_kmeans(x: np.ndarray, k: int, seed: int, *, n_init: int = _N_INIT) -> KMeans:
    """Exact Lloyd k-means with k-means++ seeds (or the given centres), on one OpenMP thread.

    scikit-learn's Lloyd iterations sum each thread's chunks separately, so the result depends on the
    thread count: on 5,000 float32 points, 1 and 2 threads found different k=4 solutions, which would
    break "same inputs and seed, same analysis" across machines. Two threads are also 5-10x slower
    when the cores are busy (OpenMP spin-waits).
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed, algorithm="lloyd").fit(x)


def nearest_center(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of every row of ``x``; ties go to the lower index."""
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every centre of a row, so it is left out.
    scores = (centers.astype(np.float64) ** 2).sum(axis=1) - 2.0 * (x.astype(np.float64) @ centers.T.astype(np.float64))
    return np.argmin(scores, axis=1).astype(np.int64)


def sample_rows(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``max_rows`` rows out of ``n`` (all of them when ``n <= max_rows``)."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _distinct_paths(paths_before: np.ndarray | None, labels: np.ndarray) -> float:
    return float(extend_path_ids(paths_before, labels).max() + 1)


def _scores(x_labels: np.ndarray, predictions: np.ndarray, paths_before: np.ndarray | None) -> dict[str, float]:
    return {
        "decision_alignment": decision_alignment(x_labels, predictions),
        "paths": _distinct_paths(paths_before, x_labels),
        "silhouette": float("nan"),
    }


def choose_faithful(
    x: np.ndarray,
    predictions: np.ndarray,
    ks: tuple[int, ...],
    seed: int,
    *,
    max_search_samples: int,
    paths_before: np.ndarray | None,
) -> Choice:
    """The smallest k whose clusters predict the model's decisions about as well as the best k's.

    Each k tried is fitted on a seeded sample of at most ``max_search_samples`` rows and scored on
    every row of ``x`` by nearest centre: its decision alignment (share of images predicted as the
    majority prediction of their cluster) and the distinct paths it makes with ``paths_before``.
    The largest k is tried first. When even it gets right less than :data:`DECISION_GAIN` of the
    images that the most common prediction alone gets wrong, the layer does not separate decisions
    and gets the smallest k, so it does not multiply the paths; otherwise every k is tried and the
    smallest within :data:`ALIGNMENT_TOLERANCE` of the best wins. The winner is fitted again on all
    rows.
    """
    sample = sample_rows(len(x), max_search_samples, seed)
    fits: dict[int, np.ndarray] = {}
    scores: dict[int, dict[str, float]] = {}

    def evaluate(k: int) -> float:
        # Two restarts are enough to rank the candidates; the chosen k gets the full four below.
        centers = fit_kmeans(x[sample], k, seed, n_init=_SEARCH_N_INIT).cluster_centers_
        labels = nearest_center(x, centers)
        fits[k] = centers
        scores[k] = _scores(labels, predictions, paths_before)
        return scores[k]["decision_alignment"]

    base = float(np.bincount(predictions).max() / len(predictions))
    top = evaluate(ks[-1])
    gain = (top - base) / (1.0 - base) if base < 1.0 else 0.0
    if len(ks) == 1:
        chosen = ks[0]
        reason = f"the only k possible: the images take {chosen} distinct position(s) here"
    elif gain < DECISION_GAIN - _EPSILON:
        chosen = ks[0]
        evaluate(chosen)
        reason = (
            f"does not separate decisions: with {ks[-1]} clusters {top:.1%} of the images are predicted as their "
            f"cluster's majority, against {base:.1%} for the most common prediction alone; the smallest k keeps "
            "the paths few"
        )
    else:
        for k in ks[:-1]:
            evaluate(k)
        best = max(s["decision_alignment"] for s in scores.values())
        within = ALIGNMENT_TOLERANCE + _EPSILON
        chosen = min(k for k, s in scores.items() if s["decision_alignment"] >= best - within)
        reason = (
            f"smallest k whose decision alignment ({scores[chosen]['decision_alignment']:.1%}) is within "
            f"{ALIGNMENT_TOLERANCE:.0%} of the best ({best:.1%}); the most common prediction alone gives {base:.1%}"
        )
    # The chosen k fitted on every row with all its k-means++ restarts, whatever sample chose it: refining
    # the sample's centres instead was cheaper but settled in worse optima.
    final = fit_kmeans(x, chosen, seed)
    labels, centers = final.labels_.astype(np.int64), final.cluster_centers_
    scores[chosen] = _scores(labels, predictions, paths_before)
    return Choice(labels, centers, dict(sorted(scores.items())), "faithful", reason)


def choose_silhouette(
    x: np.ndarray,
    predictions: np.ndarray,
    ks: tuple[int, ...],
    seed: int,
    *,
    max_silhouette_samples: int,
    paths_before: np.ndarray | None,
) -> Choice:
    """The k with the highest silhouette on a seeded sample (the smaller k on a tie), each k fitted on all rows."""
    sample = sample_rows(len(x), max_silhouette_samples, seed)
    # One distance matrix for the sample, reused by every k.
    distances = pairwise_distances(x[sample].astype(np.float64))
    best_rank, best = -np.inf, None
    scores: dict[int, dict[str, float]] = {}
    for k in ks:
        fit = fit_kmeans(x, k, seed)
        scores[k] = _scores(fit.labels_, predictions, paths_before)
        scores[k]["silhouette"] = silhouette_of(distances, fit.labels_[sample])
        # Strictly greater, so ties keep the smaller k; an undefined (NaN) score ranks below all.
        rank = -np.inf if np.isnan(scores[k]["silhouette"]) else scores[k]["silhouette"]
        if best is None or rank > best_rank:
            best_rank, best = rank, fit
    reason = f"highest silhouette ({scores[best.n_clusters]['silhouette']:.3f}) of k in {ks[0]}..{ks[-1]}"
    return Choice(best.labels_.astype(np.int64), best.cluster_centers_, scores, "silhouette", reason)


def choose_fixed(
    x: np.ndarray, predictions: np.ndarray, k: int, seed: int, *, paths_before: np.ndarray | None
) -> Choice:
    """k as given."""
    fit = fit_kmeans(x, k, seed)
    scores = {k: _scores(fit.labels_, predictions, paths_before)}
    return Choice(fit.labels_.astype(np.int64), fit.cluster_centers_, scores, "fixed", f"k = {k}, as given")


def silhouette_of(distances: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette of ``labels`` from a precomputed distance matrix; NaN where it is undefined."""
    n_labels = len(np.unique(labels))
    if not 2 <= n_labels <= len(labels) - 1:
        return float("nan")
    return float(silhouette_score(distances, labels, metric="precomputed"))
