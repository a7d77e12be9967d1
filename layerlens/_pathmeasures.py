"""Path measures that look beyond the images at hand: held-out decision alignment and agreement under noise.

Pure numpy on path ids and cluster codes; :func:`layerlens.pathstats.path_statistics` validates and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["agreement", "heldout_alignment"]


def _learnt_majority(fit_paths: np.ndarray, fit_predictions: np.ndarray) -> dict[str, int]:
    """The majority prediction of each path of the fit set (ties: the lowest class index)."""
    frame = pd.DataFrame({"path": fit_paths, "predicted": fit_predictions})
    counts = frame.groupby(["path", "predicted"], sort=True).size().reset_index(name="n")
    # Sorted by path, then class; the first row with the largest count per path wins.
    best = counts.sort_values(["path", "n", "predicted"], ascending=[True, False, True], kind="stable")
    return dict(best.drop_duplicates("path")[["path", "predicted"]].itertuples(index=False, name=None))


def _apply(majority: dict[str, int], paths: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: is its path known to the fit set, and does the path's learnt majority match its prediction."""
    learnt = np.array([majority.get(p, -1) for p in paths], dtype=np.int64)
    return learnt >= 0, learnt == predictions


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
        known, hit = _apply(_learnt_majority(fit_paths, fit_predictions), paths, predictions)
        return float(hit.mean()), float(known.mean()), "reference"
    order = np.random.default_rng(seed).permutation(len(paths))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    known = np.zeros(len(paths), dtype=bool)
    hit = np.zeros(len(paths), dtype=bool)
    for learn, judge in (halves, halves[::-1]):
        if len(learn) == 0:
            continue
        k, h = _apply(_learnt_majority(paths[learn], predictions[learn]), paths[judge], predictions[judge])
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
