"""Everything :func:`layerlens.analyze` does after the forward pass, on one machine: fit → assign → gather.

Per layer: fit the space, clusters and map on the fit set (the reference images when there are some, else the
analysed images), assign the analysed images (their noisy copies, and the probes) to them, and measure
separability; then gather the paths, their statistics, the metrics and doubt. Arrays only, inputs checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from layerlens._util.mapped import release
from layerlens.layers import extend_path_ids, fit_sample
from layerlens.model import short_layer_names
from layerlens.paths import FIXED_COLUMNS
from layerlens.run._analysis import Analysis
from layerlens.run._fit import FitSet, ProbeInput
from layerlens.run._gather import gather, layer_separability, metrics_of
from layerlens.run._layers import assign_layer, fit_layer, ordered
from layerlens.run._parts import AnalysisSettings
from layerlens.run._summary import ModelSummary

__all__ = ["compute_analysis"]


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
    facts: Mapping[str, Any] | None = None,
) -> Analysis:
    """Build the :class:`~layerlens.run.Analysis` of one extraction (and a reference set's and probes', if any).

    ``metadata`` is the checked table of :func:`layerlens.run._metadata.check_metadata`, or None; ``facts``
    are further fields of the Analysis (where the images came from, their display range, the date).
    """
    predictions = probabilities.argmax(axis=1)
    sample = None
    if reference is None:
        fit_classes = labels if labels is not None else predictions
        sample = fit_sample(len(predictions), settings.seed)
        if sample is None:
            fit = ordered(FitSet("", extraction.features, fit_classes, predictions))
        else:  # many images: the fit on a sample of them, every image placed in it
            sampled = tuple(np.asarray(f[sample]) for f in extraction.features)
            release(*extraction.features)
            fit = ordered(FitSet("", sampled, fit_classes[sample], predictions[sample]))
    else:
        fit = ordered(reference)
    layers, reference_places, probe_places = [], [], []
    paths_before = None
    # The clusters of one layer need the paths through the layers before it, so layers go one after
    # the other; separability and the metrics need nothing of the clusters and run beside them on a
    # second thread. Every native thread pool keeps one thread meanwhile: the two cores are used,
    # and k-means and the neighbour votes do not depend on how many cores the machine has.
    with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=1) as beside:
        metrics = beside.submit(metrics_of, labels, probabilities, class_names, settings)
        scores = []
        for i, info in enumerate(extraction.layers):
            layer_fit = fit_layer(fit, i, info.name, class_names, settings, paths_before)
            assigned = assign_layer(
                layer_fit,
                i,
                extraction,
                fit,
                has_reference=reference is not None,
                placed=sample is not None,
                probe_features=None if probes is None else probes.features[i],
            )
            # A big run's features are mapped from files: this layer's pages go once it is placed.
            release(extraction.features[i], *(features[i] for features in extraction.noisy_features.values()))
            scores.append(beside.submit(layer_separability, assigned.layer.reduced, labels, settings.seed))
            layers.append(assigned.layer)
            reference_places.append(assigned.reference)
            probe_places.append(assigned.probes)
            paths_before = extend_path_ids(paths_before, layer_fit.fitted.assignments)
        shorts = short_layer_names([info.parts for info in extraction.layers], {*FIXED_COLUMNS, "probe"})
        layers = [
            replace(layer, separability=score.result(), short_name=short)
            for layer, score, short in zip(layers, scores, shorts)
        ]
        metrics = metrics.result()
    return gather(
        layers,
        probabilities,
        labels,
        class_names,
        settings,
        summary,
        name=name,
        thumbnails=extraction.thumbnails,
        files=files,
        metrics=metrics,
        reference=reference,
        reference_places=reference_places,
        probes=probes,
        probe_places=probe_places,
        noisy_probabilities=noisy_probabilities,
        metadata=metadata,
        facts=facts,
    )
