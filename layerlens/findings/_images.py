"""Findings about particular images and groups: labels that are likely wrong, probes the model is sure of, and
metadata groups the model classifies less well."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from layerlens.findings._evidence import Evidence
from layerlens.findings._finding import Finding
from layerlens.findings._mistakes import CONFIDENT
from layerlens.findings._neighbours import neighbour_classes
from layerlens.findings._statistics import ALPHA, MIN_GROUP, groups_of, holm, share_interval

__all__ = [
    "LABEL_NEIGHBOURS",
    "NEIGHBOUR_SHARE",
    "PROBE_SHARE",
    "label_issues",
    "sure_probes",
    "weak_groups",
]

#: How many nearest neighbours judge an image's label.
LABEL_NEIGHBOURS = 10
#: A label is likely wrong when at least this share of the image's nearest neighbours carry the predicted
#: class, in each of the last layers.
NEIGHBOUR_SHARE = 0.8
#: Probes are said to be taken for a class when the lower end of the interval of the share the model is sure
#: of lies above this.
PROBE_SHARE = 0.05


def label_issues(evidence: Evidence, last_layers: int = 2) -> list[Finding]:
    """``label_issues``: images whose given label is likely wrong.

    The confident-learning signal (Northcutt et al. 2021) joined with the deep-kNN one (Papernot and
    McDaniel 2018): predicted as another class with at least that class's mean confidence on its own
    images (and at least 0.5), and in each of the last ``last_layers`` layers at least
    :data:`NEIGHBOUR_SHARE` of the image's :data:`LABEL_NEIGHBOURS` nearest reference images (without a
    reference: the other analysed images, each left out of its own neighbours) carry the predicted class.
    ``where["images"]`` lists them most likely first (confidence times neighbour share).
    """
    labels = evidence.labels
    if labels is None or not evidence.layers:
        return []
    predicted, confidence, k = evidence.predictions, evidence.confidence, len(evidence.class_names)
    own = evidence.probabilities[np.arange(len(labels)), labels]
    thresholds = np.array([own[labels == c].mean() if (labels == c).any() else 1.0 for c in range(k)])
    candidates = np.flatnonzero(
        (predicted != labels) & (confidence >= np.maximum(thresholds[predicted], 0.5))
    )
    if not candidates.size:
        return []
    shares = np.ones(candidates.size)
    for layer in evidence.layers[-last_layers:]:
        found = neighbour_classes(evidence, layer, candidates, LABEL_NEIGHBOURS)
        if not found.shape[1]:
            return []  # no neighbour to ask (a set of one image)
        shares = np.minimum(shares, (found == predicted[candidates][:, None]).mean(axis=1))
    chosen = shares >= NEIGHBOUR_SHARE
    if not chosen.any():
        return []
    images, scores = candidates[chosen], (confidence[candidates] * shares)[chosen]
    images = images[np.argsort(-scores, kind="stable")]
    first = int(images[0])
    names = evidence.class_names
    among = "reference images" if evidence.layers[-1].reference is not None else "other images"
    count = len(images)
    text = (
        f"{count} image{'s are' if count > 1 else ' is'} likely labelled wrong: predicted as another class with "
        f"at least that class's usual confidence, and at least {NEIGHBOUR_SHARE:.0%} of the "
        f"{LABEL_NEIGHBOURS} nearest {among} in the last layers carry the predicted class. Most likely: image "
        f"{first} (labelled {names[labels[first]]}, predicted {names[predicted[first]]} with confidence "
        f"{confidence[first]:.2f})."
    )
    return [
        Finding(
            kind="label_issues",
            text=text,
            value=float(count),
            interval=None,
            threshold=NEIGHBOUR_SHARE,
            where={"images": [int(i) for i in images]},
            effect=float(count / max(int((predicted != labels).sum()), 1)),
        )
    ]


def sure_probes(evidence: Evidence) -> list[Finding]:
    """``probes``: probe images (of no class) the model is sure of: it does not know what it does not know.

    Said when at least two probes are predicted with confidence :data:`~layerlens.findings._mistakes.CONFIDENT`
    or more and the lower end of the 95 % interval of their share lies above :data:`PROBE_SHARE`.
    """
    probs = evidence.probe_probabilities
    if probs is None or not len(probs):
        return []
    confidence = probs.max(axis=1)
    sure = np.flatnonzero(confidence >= CONFIDENT)
    low, high = share_interval(len(sure), len(probs))
    if len(sure) < 2 or low <= PROBE_SHARE:
        return []
    called = np.bincount(probs[sure].argmax(axis=1), minlength=len(evidence.class_names))
    top = int(called.argmax())
    share = len(sure) / len(probs)
    return [
        Finding(
            kind="probes",
            text=(
                f"The model is sure (confidence {CONFIDENT:.2f} or more) of {len(sure)} of the {len(probs)} probes, "
                f"images of no class it knows ({share:.0%}, 95 % interval {low:.0%}–{high:.0%}); "
                f"{called[top]} of them it calls {evidence.class_names[top]}. It does not know what it does "
                f"not know."
            ),
            value=float(share),
            interval=(low, high),
            threshold=PROBE_SHARE,
            where={"probes": [int(i) for i in sure[np.argsort(-confidence[sure], kind="stable")]]},
            effect=float(share),
        )
    ]


def weak_groups(evidence: Evidence) -> list[Finding]:
    """``weak_group``: metadata groups (scanner, site, ...) classified clearly less well than the rest.

    Every group of every column (see :func:`~layerlens.findings._statistics.groups_of`) of at least
    :data:`~layerlens.findings._statistics.MIN_GROUP` images against the other images with a value:
    Fisher's exact test (one-sided), Holm-corrected over all groups tested, and the group's 95 % interval
    entirely below the rest's.
    """
    wrong = evidence.wrong
    if wrong is None or evidence.metadata is None:
        return []
    correct = ~wrong
    tests = []
    for column in evidence.metadata.columns:
        groups = groups_of(evidence.metadata[column])
        if groups is None:
            continue
        present = groups.notna().to_numpy(dtype=bool)
        for group in pd.unique(groups.dropna()):
            inside = (groups == group).fillna(False).to_numpy(dtype=bool)
            rest = present & ~inside
            if inside.sum() < MIN_GROUP or rest.sum() < MIN_GROUP:
                continue
            table = [
                [int(correct[inside].sum()), int((~correct[inside]).sum())],
                [int(correct[rest].sum()), int((~correct[rest]).sum())],
            ]
            p = stats.fisher_exact(table, alternative="less").pvalue
            tests.append((str(column), str(group), inside, rest, float(p)))
    if not tests:
        return []
    adjusted = holm(np.array([t[4] for t in tests]))
    found = []
    for (column, group, inside, rest, _), p in zip(tests, adjusted):
        n_in, n_rest = int(inside.sum()), int(rest.sum())
        accuracy, accuracy_rest = correct[inside].mean(), correct[rest].mean()
        low, high = share_interval(int(correct[inside].sum()), n_in)
        rest_low, rest_high = share_interval(int(correct[rest].sum()), n_rest)
        if p >= ALPHA or high >= rest_low:
            continue
        found.append(
            Finding(
                kind="weak_group",
                text=(
                    f"Images with {column} = {group} are classified less well: accuracy {accuracy:.2f} (95 % "
                    f"interval {low:.2f}–{high:.2f}, {n_in} images) against {accuracy_rest:.2f} "
                    f"({rest_low:.2f}–{rest_high:.2f}, {n_rest} images) for the rest."
                ),
                value=float(accuracy),
                interval=(low, high),
                threshold=float(rest_low),
                where={"column": column, "group": group, "images": [int(i) for i in np.flatnonzero(inside & wrong)]},
                effect=float(accuracy_rest - accuracy),
            )
        )
    return sorted(found, key=lambda f: -f.effect)
