"""The site's plots: figures of :mod:`layerlens.figures` made ready for a page (JSON, smaller, quieter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
import plotly.io

from layerlens.figures import (
    confusion_figure,
    paths_figure,
    paths_figure_rows,
    reliability_figure,
    separability_figure,
)
from layerlens.figures import layer_figure as _layer_figure

if TYPE_CHECKING:
    from layerlens.run import Analysis

__all__ = [
    "PATHS_OPTIONS", "confusion_json", "figure_json", "map_json", "paths_jsons", "paths_rows",
    "reliability_json", "separability_json",
]  # fmt: skip

#: How the site draws paths diagrams; the rows that ``paths_rows`` reports must come from the same options.
PATHS_OPTIONS = {"min_share": 0.005, "max_ribbons": 30}


def figure_json(figure: go.Figure | dict) -> str:
    """The figure (or a plain ``{"data", "layout"}`` dict) as JSON for ``Plotly.react``.

    A figure's numeric arrays are packed as typed arrays, which plotly.js unpacks.
    """
    return plotly.io.to_json(figure, validate=False, pretty=False, engine="json")


def _paths(analysis: Analysis) -> go.Figure:
    parallel = [layer.parallel_to_previous for layer in analysis.layers]
    uninformative = [not layer.clusters.carries_class_information for layer in analysis.layers]
    return paths_figure(
        analysis.paths,
        analysis.layer_names,
        analysis.class_names,
        parallel=parallel,
        uninformative=uninformative,
        **PATHS_OPTIONS,
    )


def paths_jsons(analysis: Analysis) -> tuple[str, str]:
    """The run's paths diagram as the model page draws it, and as the still picture on the run's card.

    One figure (its rare paths folded once) gives both. On the page a box reacts to the mouse as a
    whole (not stripe by stripe), so that a click on it reports all the rows that pass through it and
    the page can list their images; the card's copy has no labels, legend or hover.
    """
    figure = _paths(analysis)
    diagram = go.Parcats(figure.data[0])  # a copy; the legend's marker traces are left out
    figure.update_traces(
        hoveron="category",
        hovertemplate="<b>%{category}</b><br>%{categorycount} images (click to list them)<extra></extra>",
        selector=dict(type="parcats"),
    )
    for dimension in diagram.dimensions:
        dimension.label = ""
        dimension.ticktext = [""] * len(dimension.ticktext or dimension.categoryarray or ())
    diagram.update(hoverinfo="none", arrangement="fixed")
    mini = go.Figure(diagram)
    mini.update_layout(
        width=300, height=150, margin=dict(l=6, r=6, t=6, b=6), title=None, annotations=[], showlegend=False
    )
    return figure_json(figure), figure_json(mini)


def paths_rows(analysis: Analysis) -> np.ndarray:
    """For each image, the row of the paths diagram's trace that draws it (what a click reports)."""
    return paths_figure_rows(analysis.paths, analysis.layer_names, analysis.class_names, **PATHS_OPTIONS)


def confusion_json(analysis: Analysis) -> str | None:
    """The confusion matrix as a heat map; None without labels."""
    if analysis.metrics is None:
        return None
    figure = confusion_figure(analysis.metrics.confusion, analysis.class_names)
    figure.update_layout(width=None, autosize=True)  # as wide as the page leaves beside the per-class table
    return figure_json(figure)


def reliability_json(analysis: Analysis) -> str | None:
    """The reliability diagram of the softmax confidence; None without labels or for runs stored before it."""
    if analysis.metrics is None or analysis.metrics.calibration is None:
        return None
    figure = reliability_figure(analysis.metrics.calibration)
    figure.update_layout(width=None, autosize=True)
    return figure_json(figure)


def separability_json(analysis: Analysis) -> str | None:
    """Separability of the classes by depth; None when it was not measured (no labels, one class)."""
    table = analysis.separability
    if table is None:
        return None
    figure = separability_figure(
        analysis.layer_names,
        table["silhouette"].to_numpy(),
        table["knn_accuracy"].to_numpy(),
        table["variance_explained"].to_numpy(),
    )
    # Below the plot, the legend cannot cover the title when a phone wraps it onto several rows.
    figure.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top", x=0, xanchor="left"))
    return figure_json(figure)


def map_json(
    analysis: Analysis,
    index: int,
    rows: np.ndarray | None = None,
    webgl: bool | None = None,
    total: int | None = None,
) -> str:
    """One layer's 2-D map, its points hovered by the page (thumbnail and label) instead of by plotly.

    Each image's own hover text is dropped (the page has every label already), which keeps a map of
    10,000 images small; ``customdata`` still names each point's image. ``rows`` draws only those rows of
    the paths table (a big run's sample of ``total`` rows, which the title states); ``webgl`` draws the points
    with WebGL (None: when they are many, see :func:`~layerlens.figures.maps.layer_figure`).
    """
    layer = analysis.layers[index]
    coords = layer.coords
    if analysis.probes is not None:
        coords = np.concatenate([coords, analysis.probes.coords[index]])
    paths = analysis.paths
    title = None
    if rows is not None:
        coords, paths = coords[rows], paths.iloc[rows]
        if total is not None and len(rows) < total:
            title = (
                f"Layer {analysis.layer_names[index]}: a sample of {len(rows):,} of {total:,} images "
                f"in {len(layer.clusters.names)} clusters"
            )
    figure = _layer_figure(
        coords,
        paths,
        analysis.layer_names[index],
        analysis.class_names,
        centers=layer.map_centers,
        cluster_classes=layer.clusters.leading,
        title=title,
        webgl=webgl,
    )
    for trace in figure.data:
        if trace.customdata is not None and len(trace.customdata) and np.ndim(trace.customdata) == 1:
            trace.customdata = np.asarray(trace.customdata).astype(np.int32)
            trace.hovertext = None
            trace.hoverinfo = "none"
    figure.update_layout(width=None, autosize=True)
    return figure_json(figure)
