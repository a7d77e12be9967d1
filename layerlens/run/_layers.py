"""The two per-layer stages of an analysis: fit a layer on the fit set, then assign the images to it.

:func:`fit_layers` fits every layer's space, clusters and map (a :class:`~layerlens.layers.LayerFit` each) on the
fit set, taken in the order of its content; :func:`assign_layer` places the analysed images, their noisy copies
and the probes in one fitted layer. Both work on the arrays of the pass (:class:`~layerlens.model.Extraction`)
and know nothing of the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from layerlens.layers import LayerFit, Placement, extend_path_ids
from layerlens.run._fit import FitSet, content_order
from layerlens.run._parts import AnalysisSettings, LayerAnalysis

__all__ = ["Assigned", "OrderedFitSet", "assign_layer", "fit_layer", "fit_layers", "k_for_layer", "ordered"]


@dataclass(frozen=True, eq=False)
class OrderedFitSet:
    """A fit set in the order of its content (see :func:`~layerlens.run._fit.content_order`), and the way back.

    The fit works on its images in an order of their content, so the clusters do not depend on the order the
    images came in (a shuffled tf.data set, a reference listed another way); ``inverse`` takes results back to
    the order they came in.
    """

    fit: FitSet
    inverse: np.ndarray

    def __repr__(self) -> str:
        return f"<OrderedFitSet of {self.fit!r}>"


@dataclass(frozen=True, eq=False)
class Assigned:
    """One layer's results for the analysed images (separability still to measure), and where the fit set (when
    it is a reference, in its own order) and the probes landed."""

    layer: LayerAnalysis
    reference: Placement | None
    probes: Placement | None

    def __repr__(self) -> str:
        placed = [name for name, part in (("reference", self.reference), ("probes", self.probes)) if part is not None]
        return f"<Assigned {self.layer.name!r}{' with ' + ' and '.join(placed) + ' placed' if placed else ''}>"


def ordered(fit: FitSet) -> OrderedFitSet:
    """``fit`` in the order of its content."""
    order = content_order(fit.features)
    features = tuple(f[order] for f in fit.features)
    moved = replace(fit, features=features, labels=fit.labels[order], predictions=fit.predictions[order])
    return OrderedFitSet(moved, np.argsort(order))


def k_for_layer(n_clusters: int | str | Mapping[str, int | str], layer: str) -> int | str:
    """The k rule of one layer: ``n_clusters`` itself, or its entry for the layer ("auto" when it has none)."""
    if isinstance(n_clusters, Mapping):
        return n_clusters.get(layer, "auto")
    return n_clusters


def fit_layer(
    fit: OrderedFitSet,
    i: int,
    name: str,
    class_names: tuple[str, ...],
    settings: AnalysisSettings,
    paths_before: np.ndarray | None,
) -> LayerFit:
    """Layer ``i`` (named ``name``) fitted on the fit set; ``paths_before`` are the fit set's paths through the
    layers before it (None for the first), which the faithful k choice reads."""
    return LayerFit.fit(
        fit.fit.features[i],
        fit.fit.labels,
        class_names,
        predictions=fit.fit.predictions,
        n_clusters=k_for_layer(settings.n_clusters, name),
        paths_before=paths_before,
        projection=settings.projection,
        seed=settings.seed,
    )


def fit_layers(
    fit: OrderedFitSet, names: Sequence[str], class_names: tuple[str, ...], settings: AnalysisSettings
) -> tuple[LayerFit, ...]:
    """Every layer fitted on the fit set, one after the other (a layer's k choice reads the paths before it)."""
    fits: list[LayerFit] = []
    paths_before = None
    for i, name in enumerate(names):
        fits.append(fit_layer(fit, i, name, class_names, settings, paths_before))
        paths_before = extend_path_ids(paths_before, fits[-1].fitted.assignments)
    return tuple(fits)


def assign_layer(
    layer_fit: LayerFit,
    i: int,
    extraction: Any,
    fit: OrderedFitSet,
    *,
    has_reference: bool,
    probe_features: np.ndarray | None = None,
    placed: bool = False,
) -> Assigned:
    """Layer ``i`` of ``extraction``: the analysed images, their noisy copies and the probes placed in its fit.

    Without a reference the analysed images are the fit set: they keep the places the fit gave them, unless the
    fit was on a sample of them (``placed``: every image is then placed in it).
    """
    info = extraction.layers[i]
    if has_reference or placed:
        own, probes = layer_fit.place(extraction.features[i], probe_features)
        reference = layer_fit.fitted.take(fit.inverse) if has_reference else None
    else:
        own = layer_fit.fitted.take(fit.inverse)
        (probes,) = layer_fit.place(probe_features)
        reference = None
    noisy = {
        level: layer_fit.clusters.assign(layer_fit.space.transform(features[i]))
        for level, features in extraction.noisy_features.items()
    }
    layer = LayerAnalysis(
        name=info.name,
        kind=info.kind,
        output_shape=info.output_shape,
        reduction=extraction.reductions[i],
        features=extraction.features[i],
        reduced=own.reduced,
        clusters=replace(layer_fit.clusters, assignments=own.assignments),
        coords=own.coords,
        map_centers=layer_fit.map_centers,
        separability=None,
        parallel_to_previous=extraction.parallel[i],
        noisy_clusters=noisy,
    )
    return Assigned(layer, reference, probes)
