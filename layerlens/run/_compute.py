"""Everything :func:`layerlens.analyze` does after the forward pass; arrays only, inputs already checked.

Per layer: fit the reduced space and the clusters on the fit set (the reference images when there are
some, else the analysed images), place the analysed images (their noisy copies, and the probes) in
them, map them to 2-D and measure separability; then paths, their statistics, the metrics and doubt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from layerlens.layers import (
    LayerClusters,
    Separability,
    cluster_layer,
    extend_path_ids,
    fit_space,
    map_centers,
    project_2d,
    project_with_fit,
    separability,
)
from layerlens.model import short_layer_names
from layerlens.paths import FIXED_COLUMNS, path_ids, path_statistics
from layerlens.run._analysis import Analysis
from layerlens.run._fit import FitSet, ProbeInput, content_order
from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet
from layerlens.run._summary import ModelSummary
from layerlens.run._table import paths_table
from layerlens.scores import (
    Doubt,
    classification_metrics,
    doubt_scores,
    familiarity,
    layer_weights,
    mistake_calibration,
    separation,
)
from layerlens.scores import disagreement as neighbour_disagreement

__all__ = ["compute_analysis", "k_for_layer"]

# Images whose leave-one-out neighbours and silhouette are measured per layer: a binomial standard error
# under 0.016 on the k-NN accuracy, at half the cost of 2,000 (the largest cost of analyze after the pass).
_SEPARABILITY_SAMPLES = 1000


def compute_analysis(
    extraction: Any,
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    settings: AnalysisSettings,
    summary: ModelSummary,
    *,
    name: str,
    files: tuple[str, ...] | None,
    reference: FitSet | None,
    noisy_probabilities: Mapping[float, np.ndarray],
    probes: ProbeInput | None = None,
    metadata: Any = None,
) -> Analysis:
    """Build the :class:`~layerlens.run.Analysis` of one extraction (and a reference set's and probes', if any).

    ``metadata`` is the checked table of :func:`layerlens.run._metadata.check_metadata`, or None.
    """
    predictions = probabilities.argmax(axis=1)
    if reference is None:
        fit_classes = labels if labels is not None else predictions
        fit = FitSet("", extraction.features, fit_classes, predictions)
    else:
        fit = reference
    # The fit works on its images in an order of their content, so the clusters do not depend on the order
    # the images came in (a shuffled tf.data set, a reference listed another way); results go back after.
    order = content_order(fit.features)
    inverse = np.argsort(order)
    features = tuple(f[order] for f in fit.features)
    fit = replace(fit, features=features, labels=fit.labels[order], predictions=fit.predictions[order])
    layers: list[LayerAnalysis] = []
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # reference: reduced, clusters, coords per layer
    placed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # probes: reduced, clusters, coords per layer
    paths_before = None
    # The clusters of one layer need the paths through the layers before it, so layers go one after
    # the other; separability and the metrics need nothing of the clusters and run beside them on a
    # second thread. Every native thread pool keeps one thread meanwhile: the two cores are used,
    # and k-means and the neighbour votes do not depend on how many cores the machine has.
    with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=1) as beside:
        metrics = None
        if labels is not None:
            metrics = beside.submit(
                classification_metrics,
                labels,
                predictions,
                probabilities,
                class_names,
                negative_class=settings.negative_class,
                seed=settings.seed,
            )
        scores = []
        for i, info in enumerate(extraction.layers):
            layer, fit_part, probe_part = _analyse_layer(
                i,
                info,
                extraction,
                fit,
                inverse,
                reference is not None,
                class_names,
                settings,
                paths_before,
                None if probes is None else probes.features[i],
            )
            scores.append(beside.submit(_separability, layer.reduced, labels, settings.seed))
            layers.append(layer)
            kept.append(tuple(part[inverse] for part in fit_part))
            placed.append(probe_part)
            paths_before = extend_path_ids(paths_before, fit_part[1])
        shorts = short_layer_names([info.parts for info in extraction.layers], {*FIXED_COLUMNS, "probe"})
        layers = [
            replace(layer, separability=score.result(), short_name=short)
            for layer, score, short in zip(layers, scores, shorts)
        ]
        metrics = None if metrics is None else metrics.result()
    reference_space = None
    if reference is not None:
        reference_space = ([part[0] for part in kept], reference.labels)
    probe_spaces = None if probes is None else ([part[0] for part in placed], probes.probabilities)
    doubt, probe_doubt = _doubt(layers, reference_space, probabilities, labels, settings.seed, probe_spaces)
    probe_set = None
    if probes is not None:
        probe_set = ProbeSet(
            name=probes.name,
            probabilities=probes.probabilities,
            thumbnails=probes.thumbnails,
            files=probes.files,
            reduced=tuple(part[0] for part in placed),
            clusters=tuple(part[1] for part in placed),
            coords=tuple(part[2] for part in placed),
            doubt=probe_doubt,
        )
    paths = paths_table(layers, probabilities, labels, class_names, files, doubt, probe_set, metadata)
    kept_reference = None
    if reference is not None:
        kept_reference = ReferenceSet(
            name=reference.name,
            labels=reference.labels,
            predictions=reference.predictions,
            reduced=tuple(part[0] for part in kept),
            clusters=tuple(part[1] for part in kept),
            coords=tuple(part[2] for part in kept),
        )
    noisy_predictions = {level: p.argmax(axis=1).astype(np.int64) for level, p in noisy_probabilities.items()}
    statistics = path_statistics(
        paths,
        fit_paths=None
        if kept_reference is None
        else path_ids(kept_reference.clusters, [la.clusters.k for la in layers]),
        fit_predictions=None if kept_reference is None else kept_reference.predictions,
        noisy_clusters={
            level: np.stack([layer.noisy_labels[level] for layer in layers], axis=1) for level in noisy_predictions
        },
        noisy_predictions=noisy_predictions,
        seed=settings.seed,
    )
    return Analysis(
        name=name,
        class_names=class_names,
        model=summary,
        settings=settings,
        labels=labels,
        probabilities=probabilities,
        layers=tuple(layers),
        paths=paths,
        path_statistics=statistics,
        metrics=metrics,
        thumbnails=extraction.thumbnails,
        files=files,
        reference=kept_reference,
        noisy_predictions=noisy_predictions,
        doubt=doubt,
        probes=probe_set,
        metadata=metadata,
    )


def _doubt(
    layers: list[LayerAnalysis],
    reference: tuple[list[np.ndarray], np.ndarray] | None,
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    seed: int,
    probes: tuple[list[np.ndarray], np.ndarray] | None = None,
) -> tuple[Doubt, Doubt | None]:
    """The doubt of every analysed image and of every probe (see :mod:`layerlens.scores._doubt`).

    Neighbours and familiarity come from the reference images when there are some; else from the analysed
    images themselves, each left out of its own neighbours, with their labels (their predictions when
    they have none). The chance of a mistake is calibrated on the labelled analysed images and read the
    same way for the probes. ``probes`` holds their reduced features per layer and their probabilities.
    """
    predictions = probabilities.argmax(axis=1)
    if reference is None:
        spaces, space_labels = [layer.reduced for layer in layers], labels if labels is not None else predictions
    else:
        spaces, space_labels = reference
    confidence = probabilities.max(axis=1)
    mistake = mistake_calibration(confidence, None if labels is None else predictions == labels)
    early = []
    if len(space_labels) >= 3 and len(layers) > 1:
        early = [familiarity(space, space_labels) for space in spaces[:-1]]
    weights = np.zeros(len(layers))
    if len(space_labels) >= 2:
        # Each layer's weight from how well the reference's own classes separate in it (the same with or
        # without labels on the analysed images).
        if reference is None and all(layer.separability is not None for layer in layers):
            accuracy = np.array([layer.separability.knn_accuracy for layer in layers])  # measured already
        else:
            accuracy = np.array([separation(space, space_labels, seed=seed) for space in spaces])
        chance = float(np.bincount(space_labels).max() / len(space_labels))
        weights = layer_weights(accuracy, chance)
        # The neighbours of a layer that barely separates the classes are not worth the search; when none
        # does, the last layer's, where the classes are most apart.
        if not (weights > 0.01).any():
            weights[-1] = 1.0
    searched = np.flatnonzero(weights > 0.01)

    def scores(reduced: Sequence[np.ndarray], probs: np.ndarray, among_themselves: bool) -> Doubt:
        unfamiliar = np.zeros((len(probs), 0))
        if early:
            unfamiliar = np.stack([summary.z(x) for summary, x in zip(early, reduced)], axis=1)
        disagreement = np.zeros(len(probs))
        for i in searched:
            disagreement += weights[i] * neighbour_disagreement(
                spaces[i], space_labels, reduced[i], probs.argmax(axis=1), leave_one_out=among_themselves, seed=seed
            )
        if searched.size:
            disagreement /= weights[searched].sum()
        return doubt_scores(mistake(probs.max(axis=1)), unfamiliar, disagreement)

    images = scores([layer.reduced for layer in layers], probabilities, reference is None)
    return images, None if probes is None else scores(probes[0], probes[1], False)


def _analyse_layer(
    i: int,
    info: Any,
    extraction: Any,
    fit: FitSet,
    inverse: np.ndarray,
    has_reference: bool,
    class_names: tuple[str, ...],
    settings: AnalysisSettings,
    paths_before: np.ndarray | None,
    probe_features: np.ndarray | None = None,
) -> tuple[LayerAnalysis, tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One layer: space and clusters fitted on the fit set, the analysed images placed in them (separability later).

    ``fit`` holds its images in their content order; ``inverse`` takes them back to the order they came
    in (for the analysed images themselves, when they are the fit set). Returns the layer and, of the fit
    set (in its content order) and of the probes (empty without), their reduced features, clusters and
    map positions.
    """
    seed = settings.seed
    space = fit_space(fit.features[i], seed=seed)
    fit_reduced = space.transform(fit.features[i])
    reduced = space.transform(extraction.features[i]) if has_reference else fit_reduced
    clusters: LayerClusters = cluster_layer(
        fit_reduced,
        fit.labels,
        class_names,
        predictions=fit.predictions,
        n_clusters=k_for_layer(settings.n_clusters, info.name),
        paths_before=paths_before,
        seed=seed,
    )
    probe_reduced = space.transform(probe_features) if probe_features is not None else reduced[:0]
    placed = np.concatenate([reduced, probe_reduced]) if has_reference else probe_reduced
    if has_reference or len(probe_reduced):
        # The map learnt from the fit set; the others placed on it (the same for PCA, a transform for UMAP).
        fit_coords, placed_coords = project_with_fit(fit_reduced, placed, method=settings.projection, seed=seed)
    else:
        fit_coords = project_2d(reduced, method=settings.projection, seed=seed)
        placed_coords = fit_coords[:0]
    if has_reference:
        coords, probe_coords = placed_coords[: len(reduced)], placed_coords[len(reduced) :]
        own = clusters.assign(reduced)
    else:
        reduced, coords, own = reduced[inverse], fit_coords[inverse], clusters.labels[inverse]
        probe_coords = placed_coords
    noisy = {
        level: clusters.assign(space.transform(features[i])) for level, features in extraction.noisy_features.items()
    }
    layer = LayerAnalysis(
        name=info.name,
        kind=info.kind,
        output_shape=info.output_shape,
        reduction=extraction.reductions[i],
        features=extraction.features[i],
        reduced=reduced,
        clusters=replace(clusters, labels=own),
        coords=coords,
        # Where the clusters sit on the map: the mean position of the images they were fitted on.
        centers=map_centers(fit_coords, clusters.labels, clusters.k),
        separability=None,
        parallel_to_previous=extraction.parallel[i],
        noisy_labels=noisy,
    )
    probe_clusters = clusters.assign(probe_reduced) if len(probe_reduced) else np.zeros(0, dtype=np.int64)
    return layer, (fit_reduced, clusters.labels, fit_coords), (probe_reduced, probe_clusters, probe_coords)


def _separability(reduced: np.ndarray, labels: np.ndarray | None, seed: int) -> Separability | None:
    """How far apart the true classes are in one layer; None without labels of two classes at least."""
    if labels is None or len(np.unique(labels)) < 2:
        return None
    return separability(
        reduced, labels, n_neighbors=min(5, len(labels) - 1), max_samples=_SEPARABILITY_SAMPLES, seed=seed
    )


def k_for_layer(n_clusters: int | str | Mapping[str, int | str], layer: str) -> int | str:
    """The k rule of one layer: ``n_clusters`` itself, or its entry for the layer ("auto" when it has none)."""
    if isinstance(n_clusters, Mapping):
        return n_clusters.get(layer, "auto")
    return n_clusters
