"""Findings along the depth of the network: where the classes come apart, what the layers' clusters follow when
it is not the classes, and which images were decided only at the end."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import adjusted_mutual_info_score

from layerlens.findings._evidence import Evidence
from layerlens.findings._finding import Finding
from layerlens.findings._neighbours import neighbour_classes
from layerlens.findings._statistics import ALPHA, groups_of, share_interval

__all__ = [
    "APART_SHARE",
    "FOLLOWS_AMI",
    "LATE_MIN",
    "LATE_NEIGHBOURS",
    "LATE_SHARE",
    "LATE_WITHOUT_LABELS",
    "PROPERTY_SHARE",
    "SEPARATION_MARGIN",
    "confounders",
    "late_decisions",
    "separation",
    "separation_layer",
]

#: The classes are apart in a layer once its k-NN accuracy has made this share of its way from chance to the
#: best of any layer.
APART_SHARE = 0.9
#: ... and only when the best layer's interval lies this far above chance at least.
SEPARATION_MARGIN = 0.1
#: A layer's clusters follow a column (or the classes) when their adjusted mutual information with it is at
#: least this.
FOLLOWS_AMI = 0.05
#: A layer's clusters follow an image property when the clusters explain at least this share of its
#: variance (the lower end of its interval).
PROPERTY_SHARE = 0.4
#: Images decided late are said when there are at least this many of them.
LATE_MIN = 5
#: How many nearest neighbours say what a layer shows of an image ...
LATE_NEIGHBOURS = 10
#: ... and the share of them of one other class that makes the layer show that class.
LATE_SHARE = 0.7
#: Without labels, late decisions are said when they are at least this share of the images.
LATE_WITHOUT_LABELS = 0.02
_RESAMPLES = 200


def separation_layer(evidence: Evidence) -> int | None:
    """Index of the first layer where the classes come apart (see :func:`separation`); None if none does."""
    found = _separation(evidence)
    return None if found is None else found[0]


def _separation(evidence: Evidence) -> tuple[int, float, float] | None:
    if evidence.labels is None or any(layer.knn_accuracy is None for layer in evidence.layers):
        return None
    accuracy = np.array([layer.knn_accuracy for layer in evidence.layers], dtype=np.float64)
    if not accuracy.size or not np.isfinite(accuracy).all():
        return None
    chance = float(np.bincount(evidence.labels).max() / len(evidence.labels))
    best = int(accuracy.argmax())
    low, _ = share_interval(round(accuracy[best] * evidence.knn_samples), evidence.knn_samples)
    if low < chance + SEPARATION_MARGIN:
        return None
    first = int(np.flatnonzero(accuracy >= chance + APART_SHARE * (accuracy[best] - chance))[0])
    return first, chance, float(accuracy[best])


def separation(evidence: Evidence) -> list[Finding]:
    """``separation``: the first layer where the classes come apart, and by how much.

    The first layer whose leave-one-out k-NN accuracy of the true classes has come :data:`APART_SHARE` of
    the way from chance (the largest class's share) to the best layer's; said when the best layer's 95 %
    interval lies at least :data:`SEPARATION_MARGIN` above chance.
    """
    found = _separation(evidence)
    if found is None:
        return []
    first, chance, best = found
    layers, n = evidence.layers, evidence.knn_samples
    value = float(layers[first].knn_accuracy)
    low, high = share_interval(round(value * n), n)
    before = chance if first == 0 else float(layers[first - 1].knn_accuracy)
    where_before = "by chance" if first == 0 else f"at the layer before it ({layers[first - 1].name})"
    position = "the last layer" if first == len(layers) - 1 else f"layer {first + 1} of {len(layers)}"
    text = (
        f"The classes come apart at {layers[first].name} ({position}): k-NN accuracy {value:.2f} there "
        f"(95 % interval {low:.2f}–{high:.2f}), against {before:.2f} {where_before} and {chance:.2f} by chance."
    )
    if first == 0:
        text = (
            f"The classes are apart from the first analysed layer, {layers[0].name}, on: k-NN accuracy "
            f"{value:.2f} there (95 % interval {low:.2f}–{high:.2f}), against {chance:.2f} by chance."
        )
    return [
        Finding(
            kind="separation",
            text=text,
            value=value,
            interval=(low, high),
            threshold=float(chance + SEPARATION_MARGIN),
            where={"layer": layers[first].name},
            effect=float(max(value - before, 0.0)),
        )
    ]


def confounders(evidence: Evidence) -> list[Finding]:
    """``confounder``: what a layer's clusters follow, when it is not the classes.

    A metadata column the clusters follow more closely than the classes: adjusted mutual information (AMI)
    with the column at least :data:`FOLLOWS_AMI` and above the AMI with the classes (the true ones, else
    the predicted), the bootstrap interval of the difference above zero (its level Bonferroni-corrected
    for the layers and columns tested). Layers whose clusters follow neither the classes nor any column:
    the image property they follow (the clusters explain at least :data:`PROPERTY_SHARE` of its variance,
    the lower end of the bootstrap interval), or that it is unknown.
    """
    if not evidence.layers:
        return []
    classes = evidence.labels if evidence.labels is not None else evidence.predictions
    columns = {}
    if evidence.metadata is not None:
        for column in evidence.metadata.columns:
            groups = groups_of(evidence.metadata[column])
            if groups is not None:
                columns[str(column)] = groups
    class_ami = [_ami(layer.clusters, classes) for layer in evidence.layers]
    tests = [(i, c) for i in range(len(evidence.layers)) for c in columns]
    rng = np.random.default_rng(evidence.seed)
    level = ALPHA / max(len(tests), 1)
    by_column: dict[str, list[tuple[int, float, float, tuple[float, float]]]] = {}
    follows_column = set()
    for i, column in tests:
        groups = columns[column]
        present = groups.notna().to_numpy()
        codes = pd.factorize(groups[present])[0]
        clusters = evidence.layers[i].clusters[present]
        ami = _ami(clusters, codes)
        if ami >= FOLLOWS_AMI:
            follows_column.add(i)
        if ami < FOLLOWS_AMI or ami <= class_ami[i]:
            continue
        own_classes = classes[present]
        differences = []
        for _ in range(_RESAMPLES):
            pick = rng.integers(0, len(codes), len(codes))
            differences.append(_ami(clusters[pick], codes[pick]) - _ami(clusters[pick], own_classes[pick]))
        low, high = np.quantile(differences, [level / 2, 1 - level / 2])
        if low > 0:
            by_column.setdefault(column, []).append((i, ami, ami - class_ami[i], (float(low), float(high))))
    found = []
    for column, rows in by_column.items():
        i, ami, difference, interval = max(rows, key=lambda row: row[2])
        names = [evidence.layers[r[0]].name for r in rows]
        found.append(
            Finding(
                kind="confounder",
                text=(
                    f"The clusters of {_layers_text(names)} follow {column} more closely than the classes: "
                    f"adjusted mutual information {ami:.2f} with {column} against {class_ami[i]:.2f} with the "
                    f"classes at {evidence.layers[i].name} (difference {difference:.2f}, 95 % interval "
                    f"{interval[0]:.2f}–{interval[1]:.2f}). The network may have learnt to tell {column} apart."
                ),
                value=float(difference),
                interval=interval,
                threshold=0.0,
                where={"layer": evidence.layers[i].name, "layers": names, "column": column},
                effect=float(difference),
            )
        )
    unexplained = [
        i
        for i, layer in enumerate(evidence.layers)
        if class_ami[i] < FOLLOWS_AMI and i not in follows_column and len(np.unique(layer.clusters)) > 1
    ]
    return found + _properties_followed(evidence, unexplained, class_ami, list(columns), rng)


def _properties_followed(
    evidence: Evidence, layers: list[int], class_ami: list[float], columns: list[str], rng: np.random.Generator
) -> list[Finding]:
    """What the clusters of ``layers`` follow among the image properties, one finding per property (or unknown)."""
    if not layers:
        return []
    neither = "neither the classes" + "".join(f" nor {column}" for column in columns)
    follow = f"follow {neither}" if columns else "do not follow the classes"
    classes_text = f"adjusted mutual information with the classes at most {max(class_ami[i] for i in layers):.2f}"
    properties = evidence.properties
    followed: dict[str, list[tuple[int, float, tuple[float, float]]]] = {}
    unknown = []
    for i in layers:
        codes = np.unique(evidence.layers[i].clusters, return_inverse=True)[1]
        best = None
        for name in [] if properties is None else properties.columns:
            values = properties[name].to_numpy(np.float64)
            share = _explained(codes, values)
            shares = [_explained(codes[p], values[p]) for p in rng.integers(0, len(values), (100, len(values)))]
            low, high = np.quantile(shares, [0.025, 0.975])
            if low >= PROPERTY_SHARE and (best is None or share > best[1]):
                best = (str(name), share, (float(low), float(high)))
        if best is None:
            unknown.append(i)
        else:
            followed.setdefault(best[0], []).append((i, best[1], best[2]))
    found = []
    for name, rows in followed.items():
        names = [evidence.layers[r[0]].name for r in rows]
        i, share, interval = max(rows, key=lambda row: row[1])
        spoken = name.replace("_", " ")
        found.append(
            Finding(
                kind="confounder",
                text=(
                    f"The clusters of {_layers_text(names)} {follow} ({classes_text}): they follow the "
                    f"images' {spoken}, of which they explain {share:.0%} of the variance at "
                    f"{evidence.layers[i].name} (95 % interval {interval[0]:.0%}–{interval[1]:.0%})."
                ),
                value=float(share),
                interval=interval,
                threshold=PROPERTY_SHARE,
                where={"layer": evidence.layers[i].name, "layers": names, "column": name},
                effect=float(share) * 0.5,  # a property explains a split; a confounding column is worse
            )
        )
    if unknown:
        names = [evidence.layers[i].name for i in unknown]
        if properties is not None:
            said = f"follow {neither} nor mean intensity, contrast or bright area ({classes_text})"
        elif columns:
            said = f"follow {neither} ({classes_text}); this run did not measure image properties"
        else:
            said = f"do not follow the classes ({classes_text}); this run did not measure image properties"
        found.append(
            Finding(
                kind="confounder",
                text=f"The clusters of {_layers_text(names)} {said}: what splits them is unknown.",
                value=float(max(class_ami[i] for i in unknown)),
                interval=None,
                threshold=FOLLOWS_AMI,
                where={"layer": names[0], "layers": names},
                effect=0.0,
            )
        )
    return found


def late_decisions(evidence: Evidence) -> list[Finding]:
    """``late_decision``: images decided only at the last layer, against what the layers before it showed.

    An image whose :data:`LATE_NEIGHBOURS` nearest neighbours (reference images, else the other analysed
    images) in each of the two layers before the last are, for at least :data:`LATE_SHARE` of them, of one
    and the same class other than the one it was predicted as, while in the last layer most of them carry
    the predicted class. Said when at least :data:`LATE_MIN` images are such, with the share of mistakes
    among them.
    """
    layers = evidence.layers
    if len(layers) < 3:
        return []
    predicted = evidence.predictions
    late = np.ones(len(predicted), dtype=bool)
    other = None
    # The layer before the last first: few images pass it, and only they are searched in the others.
    for layer in (layers[-2], layers[-3]):
        images = np.flatnonzero(late)
        found = neighbour_classes(evidence, layer, images, LATE_NEIGHBOURS)
        counts = np.stack([(found == c).sum(axis=1) for c in range(len(evidence.class_names))], axis=1)
        counts[np.arange(len(images)), predicted[images]] = -1
        top = counts.argmax(axis=1)
        keep = counts[np.arange(len(images)), top] >= LATE_SHARE * max(found.shape[1], 1)
        if other is not None:
            keep &= top == other[images]
        late[images[~keep]] = False
        other = np.full(len(predicted), -1)
        other[images] = top
    images = np.flatnonzero(late)
    if images.size < LATE_MIN:
        return []
    last = neighbour_classes(evidence, layers[-1], images, LATE_NEIGHBOURS)
    late[images[(last == predicted[images][:, None]).mean(axis=1) <= 0.5]] = False
    count, n = int(late.sum()), len(late)
    if count < LATE_MIN:
        return []
    low, high = share_interval(count, n)
    images = np.flatnonzero(late)
    text = (
        f"{count} images ({count / n:.1%}, 95 % interval {low:.1%}–{high:.1%}) were decided only at the last "
        f"layer, {layers[-1].name}: in the two layers before it, at least {LATE_SHARE:.0%} of their nearest "
        f"neighbours were of one other class."
    )
    wrong = evidence.wrong
    if wrong is not None:
        # With labels, said only when such decisions go wrong more often than the others.
        errors, rest = int(wrong[late].sum()), int(wrong[~late].sum())
        table = [[errors, count - errors], [rest, n - count - rest]]
        if (~late).any() and stats.fisher_exact(table, alternative="greater").pvalue >= ALPHA:
            return []
        others = float(wrong[~late].mean()) if (~late).any() else 0.0
        w_low, w_high = share_interval(errors, count)
        text += (
            f" {errors} of them are misclassified ({errors / count:.0%}, 95 % interval {w_low:.0%}–{w_high:.0%}, "
            f"against {others:.1%} of the other images)."
        )
    elif count / n < LATE_WITHOUT_LABELS:
        return []
    order = np.argsort(-evidence.confidence[images], kind="stable")
    return [
        Finding(
            kind="late_decision",
            text=text,
            value=float(count / n),
            interval=(low, high),
            threshold=float(LATE_MIN / n),
            where={"layer": layers[-1].name, "images": [int(i) for i in images[order]]},
            effect=float(count / n),
        )
    ]


def _ami(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return 0.0
    return float(adjusted_mutual_info_score(a, b))


def _explained(codes: np.ndarray, values: np.ndarray) -> float:
    """Share of the variance of ``values`` between the means of the groups ``codes`` (0..k-1): eta²."""
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    sizes = np.bincount(codes)
    means = np.bincount(codes, weights=values) / np.maximum(sizes, 1)
    return float((sizes * (means - values.mean()) ** 2).sum() / total)


def _layers_text(names: list[str]) -> str:
    if len(names) == 1:
        return f"layer {names[0]}"
    if len(names) <= 4:
        return f"layers {', '.join(names[:-1])} and {names[-1]}"
    return f"{len(names)} layers ({names[0]} to {names[-1]})"
