"""Findings about the mistakes: which classes they confuse, where in the layers they gather, how sure the model
was when it made them, and whether its confidence can be read as a probability."""

from __future__ import annotations

import numpy as np

from layerlens.findings._evidence import Evidence
from layerlens.findings._finding import Finding
from layerlens.findings._statistics import ALPHA, excess_p, holm, share_interval

__all__ = [
    "CONFIDENT",
    "ECE_AT",
    "MIN_MISTAKES",
    "MIN_SHARE",
    "MISTAKE_LIFT",
    "MIXED_SHARE",
    "calibration_findings",
    "confident_mistakes",
    "confusions",
    "mistake_paths",
    "mixed_clusters",
]

#: Fewer mistakes than this in a class pair, path or cluster say nothing about it.
MIN_MISTAKES = 5
#: A class pair is said to make many of the mistakes when it makes at least this share of them.
MIN_SHARE = 0.15
#: A path or cluster gathers mistakes when its images are misclassified at least this many times as often
#: as all images.
MISTAKE_LIFT = 2.0
#: A cluster mixes two classes when the second most frequent one makes at least this share of it.
MIXED_SHARE = 0.2
#: Predictions at least this confident are "sure".
CONFIDENT = 0.9
#: An expected calibration error whose interval lies above this is said.
ECE_AT = 0.05
#: At most this many findings of one kind are said.
MOST = 3


def confusions(evidence: Evidence) -> list[Finding]:
    """``confusion``: class pairs (true → predicted) that make a clear share of all mistakes.

    Against the share each pair would make if the mistakes were spread over the images and, within a class,
    evenly over the other classes; binomial test, Holm-corrected over all K(K-1) pairs; at least
    :data:`MIN_MISTAKES` mistakes and :data:`MIN_SHARE` of all.
    """
    wrong = evidence.wrong
    if wrong is None or wrong.sum() < MIN_MISTAKES:
        return []
    labels, predicted, k = evidence.labels, evidence.predictions, len(evidence.class_names)
    total = int(wrong.sum())
    class_share = np.bincount(labels, minlength=k) / len(labels)
    pairs = [(i, j) for i in range(k) for j in range(k) if i != j]
    counts = np.array([int((wrong & (labels == i) & (predicted == j)).sum()) for i, j in pairs])
    expected = np.array([class_share[i] / (k - 1) for i, _ in pairs])
    adjusted = holm(np.array([excess_p(c, total, e) for c, e in zip(counts, expected)]))
    found = []
    for (i, j), count, share_expected, p in zip(pairs, counts, expected, adjusted):
        share = count / total
        if count < MIN_MISTAKES or share < MIN_SHARE or p >= ALPHA:
            continue
        low, high = share_interval(count, total)
        true, taken = evidence.class_names[i], evidence.class_names[j]
        images = np.flatnonzero(wrong & (labels == i) & (predicted == j))
        found.append(
            Finding(
                kind="confusion",
                text=(
                    f"{share:.0%} of the mistakes ({count} of {total}) are {true} images taken for {taken} "
                    f"(95 % interval {low:.0%}–{high:.0%}; {share_expected:.0%} if mistakes were spread evenly)."
                ),
                value=float(share),
                interval=(low, high),
                threshold=MIN_SHARE,
                where={"true": true, "predicted": taken, "images": _surest_first(evidence, images)},
                effect=float(share - share_expected),
            )
        )
    return _most(found)


def mistake_paths(evidence: Evidence) -> list[Finding]:
    """``mistake_path``: paths through the layers whose images are misclassified far more often than the rest.

    A path with at least :data:`MIN_MISTAKES` mistakes whose mistake rate is at least :data:`MISTAKE_LIFT`
    times the overall one, and unlikely by chance (binomial test against the overall rate, Holm-corrected
    over the paths tested).
    """
    wrong = evidence.wrong
    if wrong is None or wrong.sum() < MIN_MISTAKES or not len(evidence.layers):
        return []
    n, total = len(wrong), int(wrong.sum())
    overall = total / n
    ids, inverse = np.unique(evidence.paths.astype(str), return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(ids))
    mistakes = np.bincount(inverse, weights=wrong, minlength=len(ids)).astype(np.int64)
    tested = np.flatnonzero((mistakes >= MIN_MISTAKES) & (sizes < n))
    if not tested.size:
        return []
    adjusted = holm(np.array([excess_p(mistakes[t], sizes[t], overall) for t in tested]))
    found = []
    for t, p in zip(tested, adjusted):
        rate = mistakes[t] / sizes[t]
        if p >= ALPHA or rate < MISTAKE_LIFT * overall:
            continue
        low, high = share_interval(mistakes[t], sizes[t])
        images = np.flatnonzero((inverse == t) & wrong)
        found.append(
            Finding(
                kind="mistake_path",
                text=(
                    f"{mistakes[t]} of the {total} mistakes ({mistakes[t] / total:.0%}) follow the path {ids[t]}, "
                    f"which holds {sizes[t] / n:.1%} of the images: {rate:.0%} of its {sizes[t]} images are "
                    f"misclassified (95 % interval {low:.0%}–{high:.0%}) against {overall:.1%} of all."
                ),
                value=float(rate),
                interval=(low, high),
                threshold=float(MISTAKE_LIFT * overall),
                where={"path": str(ids[t]), "images": _surest_first(evidence, images)},
                effect=float(rate - overall),
            )
        )
    return _most(found)


def mixed_clusters(evidence: Evidence, from_layer: int = 0) -> list[Finding]:
    """``mixed_cluster``: clusters, from layer ``from_layer`` on, that mix two classes and gather mistakes.

    The second most frequent class makes at least :data:`MIXED_SHARE` of the cluster, which holds at
    least :data:`MIN_MISTAKES` mistakes at a rate at least :data:`MISTAKE_LIFT` times the overall one,
    unlikely by chance (binomial test, Holm-corrected over the clusters tested).
    """
    wrong = evidence.wrong
    if wrong is None or wrong.sum() < MIN_MISTAKES:
        return []
    labels, n, k = evidence.labels, len(wrong), len(evidence.class_names)
    overall = wrong.sum() / n
    candidates = []
    for layer in evidence.layers[from_layer:]:
        for cluster in np.unique(layer.clusters):
            members = layer.clusters == cluster
            counts = np.bincount(labels[members], minlength=k)
            first, second = np.argsort(-counts, kind="stable")[:2]
            size, errors = int(members.sum()), int(wrong[members].sum())
            if counts[second] / size >= MIXED_SHARE and errors >= MIN_MISTAKES and size < n:
                candidates.append((layer.name, int(cluster), int(first), int(second), counts, size, errors))
    if not candidates:
        return []
    adjusted = holm(np.array([excess_p(c[6], c[5], overall) for c in candidates]))
    found = []
    for (name, cluster, first, second, counts, size, errors), p in zip(candidates, adjusted):
        rate = errors / size
        if p >= ALPHA or rate < MISTAKE_LIFT * overall:
            continue
        low, high = share_interval(errors, size)
        a, b = evidence.class_names[first], evidence.class_names[second]
        members = np.flatnonzero((evidence.layers[_index(evidence, name)].clusters == cluster) & wrong)
        found.append(
            Finding(
                kind="mixed_cluster",
                text=(
                    f"Cluster c{cluster + 1} of layer {name} mixes {a} ({counts[first] / size:.0%}) and {b} "
                    f"({counts[second] / size:.0%}) and holds {errors} mistakes: {rate:.0%} of its {size} images "
                    f"are misclassified (95 % interval {low:.0%}–{high:.0%}) against {overall:.1%} of all."
                ),
                value=float(rate),
                interval=(low, high),
                threshold=float(MISTAKE_LIFT * overall),
                where={"layer": name, "cluster": cluster, "images": _surest_first(evidence, members)},
                effect=float(rate - overall),
            )
        )
    # The same mixed images seen in several layers: the deepest layers' clusters are the telling ones.
    return _most(found)


def confident_mistakes(evidence: Evidence) -> list[Finding]:
    """``confident_mistakes``: more mistakes among the sure predictions than their confidence allows.

    Among predictions at least :data:`CONFIDENT` sure, the share that is wrong, when it holds at least three
    mistakes and its 95 % interval lies above what the confidence claims (the mean of one minus it).
    """
    wrong = evidence.wrong
    if wrong is None:
        return []
    sure = evidence.confidence >= CONFIDENT
    count, total = int((sure & wrong).sum()), int(sure.sum())
    if count < 3:
        return []
    claimed = float(np.mean(1.0 - evidence.confidence[sure]))
    low, high = share_interval(count, total)
    if low <= claimed:
        return []
    images = np.flatnonzero(sure & wrong)
    pairs = _pair_counts(evidence, images)
    rate = count / total
    return [
        Finding(
            kind="confident_mistakes",
            text=(
                f"{count} mistakes were made with confidence {CONFIDENT:.2f} or more ({pairs}): {rate:.1%} of the "
                f"{total} predictions that sure are wrong (95 % interval {low:.1%}–{high:.1%}), where their "
                f"confidence claims {claimed:.1%}."
            ),
            value=float(rate),
            interval=(low, high),
            threshold=claimed,
            where={"images": _surest_first(evidence, images)},
            effect=float(rate - claimed),
        )
    ]


def calibration_findings(evidence: Evidence) -> list[Finding]:
    """``calibration``: confidence that over- or understates accuracy (ECE interval above :data:`ECE_AT`)."""
    cal, wrong = evidence.calibration, evidence.wrong
    if cal is None or wrong is None or not np.isfinite(cal.ece_ci[0]) or cal.ece_ci[0] <= ECE_AT:
        return []
    confidence, accuracy = float(evidence.confidence.mean()), float(1.0 - wrong.mean())
    says = "overstates" if confidence > accuracy else "understates"
    return [
        Finding(
            kind="calibration",
            text=(
                f"The confidence {says} the accuracy: mean confidence {confidence:.2f} against accuracy "
                f"{accuracy:.2f}; the expected calibration error is {cal.ece:.3f} (95 % interval "
                f"{cal.ece_ci[0]:.3f}–{cal.ece_ci[1]:.3f})."
            ),
            value=float(cal.ece),
            interval=(float(cal.ece_ci[0]), float(cal.ece_ci[1])),
            threshold=ECE_AT,
            where={},
            effect=float(cal.ece),
        )
    ]


def _pair_counts(evidence: Evidence, images: np.ndarray, most: int = 3) -> str:
    """``"5 A taken for B, 2 C taken for A"``: the commonest class pairs among ``images``."""
    pairs: dict[tuple[int, int], int] = {}
    for i in images:
        key = (int(evidence.labels[i]), int(evidence.predictions[i]))
        pairs[key] = pairs.get(key, 0) + 1
    common = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:most]
    names = evidence.class_names
    text = ", ".join(f"{count} {names[t]} taken for {names[p]}" for (t, p), count in common)
    return text + (", ..." if len(pairs) > most else "")


def _surest_first(evidence: Evidence, images: np.ndarray) -> list[int]:
    """Positions of ``images``, the most confident prediction first."""
    order = np.argsort(-evidence.confidence[images], kind="stable")
    return [int(i) for i in np.asarray(images)[order]]


def _index(evidence: Evidence, name: str) -> int:
    return [layer.name for layer in evidence.layers].index(name)


def _most(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=lambda f: -f.effect)[:MOST]
