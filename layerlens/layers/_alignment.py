"""Path measures that look beyond the images at hand: held-out decision alignment and agreement under noise.

Pure numpy on path ids and cluster codes; :func:`layerlens.paths._statistics.path_statistics` validates and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["agreement", "decision_alignment", "extend_path_ids", "heldout_alignment", "majority"]


def majority(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Most frequent label of each group ``0 .. groups.max()``; ties go to the lowest label.

    >>> majority(np.array([0, 0, 1, 1, 1]), np.array([2, 1, 0, 1, 1])).tolist()
    [1, 1]
    """
    n_groups, n_labels = int(groups.max()) + 1, int(labels.max()) + 1
    # One integer per (group, label) pair: a 1-D unique is far faster than a unique over pairs of rows.
    pairs, counts = np.unique(groups.astype(np.int64) * n_labels + labels, return_counts=True)
    g, lab = np.divmod(pairs, n_labels)
    # Sort by group, then count descending, then label ascending; the first row of each group wins.
    order = np.lexsort((lab, -counts, g))
    g, lab = g[order], lab[order]
    first = np.r_[True, g[1:] != g[:-1]]
    out = np.empty(n_groups, dtype=np.int64)
    out[g[first]] = lab[first]
    return out


def extend_path_ids(paths_before: np.ndarray | None, labels: np.ndarray) -> np.ndarray:
    """Compact ids ``0 .. P - 1`` of the paths through the layers so far, one more layer's clusters appended."""
    if paths_before is None:
        return np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)
    # paths_before holds compact ids (< N), so one integer per pair cannot overflow.
    _, ids = np.unique(paths_before * (int(labels.max()) + 1) + labels, return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


def _judge(
    fit_paths: np.ndarray, fit_predictions: np.ndarray, paths: np.ndarray, predictions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per judged image: is its path among the fit paths, and is that path's majority prediction its own."""
    groups, _ = pd.factorize(np.concatenate([fit_paths, paths]))
    learnt_groups, judged_groups = groups[: len(fit_paths)], groups[len(fit_paths) :]
    learnt = np.full(int(groups.max()) + 1, -1, dtype=np.int64)  # -1: a path the fit set never took
    seen = np.unique(learnt_groups)
    learnt[seen] = majority(learnt_groups, fit_predictions)[seen]
    return learnt[judged_groups] >= 0, learnt[judged_groups] == predictions


def heldout_alignment(
    paths: np.ndarray,
    predictions: np.ndarray,
    *,
    fit_paths: np.ndarray | None,
    fit_predictions: np.ndarray | None,
    seed: int,
) -> tuple[float, float, str]:
    """Whole-path decision alignment on images whose paths' majority predictions were learnt elsewhere.

    With a fit set (the reference images), each path's majority prediction is learnt there and
    applied to ``paths``. Without one, the images are split in two seeded halves and each half is
    judged by what the other learnt. An image whose path the learning side never took counts as not
    aligned. Returns the alignment, the share of images whose path was known, and the basis
    (``"reference"`` or ``"halves"``).
    """
    if fit_paths is not None:
        known, hit = _judge(fit_paths, fit_predictions, paths, predictions)
        return float(hit.mean()), float(known.mean()), "reference"
    order = np.random.default_rng(seed).permutation(len(paths))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    known = np.zeros(len(paths), dtype=bool)
    hit = np.zeros(len(paths), dtype=bool)
    for learn, judge in (halves, halves[::-1]):
        if len(learn) == 0:
            continue
        k, h = _judge(paths[learn], predictions[learn], paths[judge], predictions[judge])
        known[judge], hit[judge] = k, h
    return float(hit.mean()), float(known.mean()), "halves"


def agreement(
    clusters: np.ndarray,
    noisy_clusters: Mapping[float, np.ndarray],
    predictions: np.ndarray,
    noisy_predictions: Mapping[float, np.ndarray],
) -> tuple[dict[float, float], dict[float, tuple[float, ...]], dict[float, float]]:
    """Per noise level: share of images whose whole path, whose cluster in each layer, and whose prediction stay.

    ``clusters`` is ``(N, L)``: the cluster of every image in every layer; ``noisy_clusters[level]``
    the same for the noisy copies.
    """
    whole, per_layer, decided = {}, {}, {}
    for level, noisy in sorted(noisy_clusters.items()):
        same = noisy == clusters
        whole[level] = float(same.all(axis=1).mean())
        per_layer[level] = tuple(float(v) for v in same.mean(axis=0))
        decided[level] = float((noisy_predictions[level] == predictions).mean())
    return whole, per_layer, decided


def decision_alignment(groups: np.ndarray, predictions: np.ndarray) -> float:
    """Share of images whose prediction is the majority prediction of their group (cluster or path).

    Parameters
    ----------
    groups : ndarray of shape (N,), int
        Group of each image, in ``0 .. G - 1`` (N >= 1).
    predictions : ndarray of shape (N,), int
        Predicted class of each image, >= 0.

    Returns
    -------
    float
        In (0, 1]; ties for the majority go to the lowest class index (any of them gives the same share).

    Examples
    --------
    >>> decision_alignment(np.array([0, 0, 0, 1]), np.array([2, 2, 1, 0]))
    0.75
    """
    return float(np.mean(majority(groups, predictions)[groups] == predictions))
