"""The findings of an :class:`~layerlens.run.Analysis`, from what it holds (see :mod:`layerlens.findings`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlens.findings import Evidence, Finding, LayerEvidence, find
from layerlens.layers import SEPARABILITY_SAMPLES

if TYPE_CHECKING:
    from layerlens.run._analysis import Analysis

__all__ = ["findings_of"]


def findings_of(analysis: Analysis) -> tuple[Finding, ...]:
    """Every finding of ``analysis`` that passes its threshold, most telling first."""
    reference = analysis.reference
    layers = tuple(
        LayerEvidence(
            name=name,
            clusters=layer.clusters.assignments,
            leading=layer.clusters.leading,
            knn_accuracy=None if layer.separability is None else float(layer.separability.knn_accuracy),
            reduced=layer.reduced,
            reference=None if reference is None else reference.reduced[i],
        )
        for i, (name, layer) in enumerate(zip(analysis.layer_names, analysis.layers))
    )
    rows = analysis.paths
    if "probe" in rows.columns:
        rows = rows[~rows["probe"].astype(bool)]
    return find(
        Evidence(
            class_names=analysis.class_names,
            probabilities=analysis.probabilities,
            labels=analysis.labels,
            layers=layers,
            paths=rows["path"].to_numpy(dtype=object),
            knn_samples=min(analysis.n_images, SEPARABILITY_SAMPLES),
            metadata=analysis.metadata,
            properties=analysis.image_properties,
            calibration=None if analysis.metrics is None else analysis.metrics.calibration,
            reference_labels=None if reference is None else reference.labels,
            probe_probabilities=None if analysis.probes is None else analysis.probes.probabilities,
            seed=analysis.settings.seed,
        )
    )
