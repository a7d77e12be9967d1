"""Separability of the true classes against depth: silhouette, k-NN accuracy, variance explained."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from layerlens.exceptions import InvalidInputError
from layerlens.figures._style import (
    esc,
    layout,
)

__all__ = ["separability_figure"]


def separability_figure(
    layer_names: Sequence[str],
    silhouette: Sequence[float],
    knn_accuracy: Sequence[float],
    variance_explained: Sequence[float],
    *,
    title: str | None = None,
) -> go.Figure:
    """Plot how well the classes separate, layer by layer.

    Parameters
    ----------
    layer_names : sequence of L str
        Layers in depth order (the x axis).
    silhouette : sequence of L float
        Silhouette of the classes in each layer, in [-1, 1]; NaN leaves a gap.
    knn_accuracy : sequence of L float
        k-nearest-neighbour accuracy of the classes in each layer, in [0, 1]; NaN leaves a gap.
    variance_explained : sequence of L float
        Share of the variance that lies between the class means in each layer, in [0, 1]; NaN
        leaves a gap.
    title : str, optional
        Plain-text title (escaped); default ``"Class separability by depth"``.

    Returns
    -------
    Figure
        Three lines with markers on one axis, in this order: silhouette, k-NN accuracy and
        variance explained; the axis runs from 0 (or from -1 when a silhouette is negative) to 1.

    Raises
    ------
    InvalidInputError
        If ``layer_names`` is empty or repeats a name, or a measure's length differs from it or
        holds a value outside [-1, 1].

    Examples
    --------
    >>> fig = separability_figure(["conv", "dense"], [0.1, 0.5], [0.6, 0.9], [0.3, 0.8])
    >>> [t.name for t in fig.data]
    ['silhouette', 'k-NN accuracy', 'variance explained']
    """
    if isinstance(layer_names, str) or len(layer_names) == 0:
        raise InvalidInputError(f"layer_names: expected a non-empty sequence of layer names; received {layer_names!r}.")
    layers = [str(n) for n in layer_names]
    if len(set(layers)) != len(layers):
        raise InvalidInputError(f"layer_names: expected unique names; received {layers}.")
    measures = {}
    given = (("silhouette", silhouette), ("knn_accuracy", knn_accuracy), ("variance_explained", variance_explained))
    for arg, values in given:
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"{arg}: expected real numbers; received {values!r}.") from err
        if arr.shape != (len(layers),):
            raise InvalidInputError(
                f"{arg}: expected {len(layers)} numbers in [-1, 1] or NaN (one per layer in layer_names); "
                f"received shape {arr.shape}."
            )
        outside = arr[(arr < -1.0) | (arr > 1.0)]  # NaN compares False: it stays, as a gap
        if outside.size:
            raise InvalidInputError(
                f"{arg}: expected numbers in [-1, 1] or NaN (one per layer in layer_names); received "
                f"{outside.tolist()}."
            )
        measures[arg] = arr
    return _compute_separability_figure(layers, measures, title)


def _compute_separability_figure(layers: list[str], measures: dict[str, np.ndarray], title: str | None) -> go.Figure:
    """Build the separability figure from validated input (see :func:`separability_figure`)."""
    x = [esc(n) for n in layers]
    styles = (
        ("silhouette", "silhouette", "#1f77b4", "circle", "solid"),
        ("knn_accuracy", "k-NN accuracy", "#2ca02c", "square", "solid"),
        ("variance_explained", "variance explained", "#d62728", "diamond", "dot"),
    )
    traces = [
        go.Scatter(
            x=x,
            y=measures[key],
            name=name,
            mode="lines+markers",
            line=dict(color=colour, width=2, dash=dash),
            marker=dict(symbol=symbol, size=8, color=colour),
            hovertemplate=f"{name}: %{{y:.3f}}<extra></extra>",
        )
        for key, name, colour, symbol, dash in styles
    ]
    values = np.concatenate(list(measures.values()))
    low = -1.0 if np.nanmin(values, initial=0.0) < 0 else 0.0
    axis_style = dict(showline=True, linecolor="#999999", ticks="outside", zeroline=False, automargin=True)
    fig = go.Figure(data=traces)
    fig.update_layout(
        **layout(
            esc(title) if title is not None else "Class separability by depth",
            margin=dict(l=60, r=30, t=90, b=60),
            height=420,
            hovermode="x unified",
            legend=dict(orientation="h", x=0.0, y=1.02, yanchor="bottom"),
            xaxis=dict(
                title=dict(text="layer (input → output)"),
                type="category",
                categoryorder="array",
                categoryarray=x,
                **axis_style,
            ),
            yaxis=dict(
                title=dict(text="separability of the true classes"),
                range=[low - 0.05, 1.05],
                showgrid=True,
                gridcolor="#eeeeee",
                **axis_style,
            ),
        )
    )
    return fig
