"""The last stage of an analysis: from each layer's results to the paths, their statistics, metrics and doubt.

Everything here reads the small per-image columns the stages before produced (clusters, map positions,
reduced features, probabilities) and builds the :class:`~layerlens.run.Analysis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from layerlens.layers import SEPARABILITY_SAMPLES, Placement, Separability, fit_sample, own_rows, separability
from layerlens.paths import path_ids, path_statistics
from layerlens.run._analysis import Analysis
from layerlens.run._findings import findings_of
from layerlens.run._fit import FitSet, ProbeInput
from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet
from layerlens.run._summary import ModelSummary
from layerlens.run._table import paths_table
from layerlens.scores import (
    ClassificationMetrics,
    Doubt,
    classification_metrics,
    doubt_scores,
    familiarity,
    layer_weights,
    mistake_calibration,
    separation,
)
from layerlens.scores import disagreement as neighbour_disagreement

__all__ = ["gather", "layer_separability", "metrics_of"]


def layer_separability(reduced: np.ndarray, labels: np.ndarray | None, seed: int) -> Separability | None:
    """How far apart the true classes are in one layer; None without labels of two classes at least."""
    if labels is None or len(np.unique(labels)) < 2:
        return None
    return separability(
        reduced, labels, n_neighbors=min(5, len(labels) - 1), max_samples=SEPARABILITY_SAMPLES, seed=seed
    )


def metrics_of(
    labels: np.ndarray | None, probabilities: np.ndarray, class_names: tuple[str, ...], settings: AnalysisSettings
) -> ClassificationMetrics | None:
    """The metrics of the predictions against the labels; None without labels."""
    if labels is None:
        return None
    return classification_metrics(
        labels,
        probabilities.argmax(axis=1),
        probabilities,
        class_names,
        negative_class=settings.negative_class,
        seed=settings.seed,
    )


def gather(
    layers: Sequence[LayerAnalysis],
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    settings: AnalysisSettings,
    summary: ModelSummary,
    *,
    name: str,
    thumbnails: np.ndarray,
    files: tuple[str, ...] | None,
    metrics: ClassificationMetrics | None,
    reference: FitSet | None = None,
    reference_places: Sequence[Placement] | None = None,
    probes: ProbeInput | None = None,
    probe_places: Sequence[Placement] | None = None,
    noisy_probabilities: Mapping[float, np.ndarray] | None = None,
    metadata: Any = None,
    facts: Mapping[str, Any] | None = None,
) -> Analysis:
    """The :class:`~layerlens.run.Analysis` of the layers' results: doubt, the paths table and its statistics.

    ``layers`` carry their separability already (see :func:`layer_separability`); ``reference_places`` and
    ``probe_places`` say where the reference images (in their own order) and the probes landed in each layer;
    ``facts`` are further fields of the Analysis (``source``, ``display_range``, ``created``).
    """
    reference_space = None
    if reference is not None:
        reference_space = ([p.reduced for p in reference_places], reference.labels)
    probe_spaces = None if probes is None else ([p.reduced for p in probe_places], probes.probabilities)
    doubt, probe_doubt = _doubt(list(layers), reference_space, probabilities, labels, settings.seed, probe_spaces)
    probe_set = None
    if probes is not None:
        probe_set = ProbeSet(
            name=probes.name,
            probabilities=probes.probabilities,
            thumbnails=probes.thumbnails,
            files=probes.files,
            reduced=tuple(p.reduced for p in probe_places),
            clusters=tuple(p.assignments for p in probe_places),
            coords=tuple(p.coords for p in probe_places),
            doubt=probe_doubt,
        )
    paths = paths_table(layers, probabilities, labels, class_names, files, doubt, probe_set, metadata)
    kept_reference = None
    if reference is not None:
        kept_reference = ReferenceSet(
            name=reference.name,
            labels=reference.labels,
            predictions=reference.predictions,
            reduced=tuple(p.reduced for p in reference_places),
            clusters=tuple(p.assignments for p in reference_places),
            coords=tuple(p.coords for p in reference_places),
        )
    noisy_predictions = {level: p.argmax(axis=1).astype(np.int64) for level, p in (noisy_probabilities or {}).items()}
    statistics = path_statistics(
        paths,
        fit_paths=None
        if kept_reference is None
        else path_ids(kept_reference.clusters, [la.clusters.k for la in layers]),
        fit_predictions=None if kept_reference is None else kept_reference.predictions,
        noisy_clusters={
            level: np.stack([layer.noisy_clusters[level] for layer in layers], axis=1) for level in noisy_predictions
        },
        noisy_predictions=noisy_predictions,
        seed=settings.seed,
    )
    analysis = Analysis(
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
        thumbnails=thumbnails,
        files=files,
        reference=kept_reference,
        noisy_predictions=noisy_predictions,
        doubt=doubt,
        probes=probe_set,
        metadata=metadata,
        **(facts or {}),
    )
    return replace(analysis, findings=findings_of(analysis))


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
    sample = None
    if reference is None:
        spaces, space_labels = [layer.reduced for layer in layers], labels if labels is not None else predictions
        sample = fit_sample(len(predictions), seed)
        if sample is not None:  # many images: their neighbours among the sample the layers were fitted on
            spaces, space_labels = [np.asarray(space[sample]) for space in spaces], space_labels[sample]
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
        if reference is None and sample is None and all(layer.separability is not None for layer in layers):
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

    own = None if sample is None else own_rows(sample, np.arange(len(predictions)))

    def scores(reduced: Sequence[np.ndarray], probs: np.ndarray, among_themselves: bool) -> Doubt:
        unfamiliar = np.zeros((len(probs), 0))
        if early:
            unfamiliar = np.stack([summary.z(x) for summary, x in zip(early, reduced)], axis=1)
        disagreement = np.zeros(len(probs))
        for i in searched:
            disagreement += weights[i] * neighbour_disagreement(
                spaces[i], space_labels, reduced[i], probs.argmax(axis=1),
                leave_one_out=among_themselves and own is None, seed=seed, own=own if among_themselves else None,
            )  # fmt: skip
        if searched.size:
            disagreement /= weights[searched].sum()
        return doubt_scores(mistake(probs.max(axis=1)), unfamiliar, disagreement)

    images = scores([layer.reduced for layer in layers], probabilities, reference is None)
    return images, None if probes is None else scores(probes[0], probes[1], False)
