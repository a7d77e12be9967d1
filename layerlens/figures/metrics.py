"""Figures of the predictions: the confusion matrix, the reliability diagram, one image's class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from layerlens.exceptions import InvalidInputError
from layerlens.figures._style import class_colours, esc, layout, mix_white
from layerlens.scores import Calibration

__all__ = ["confusion_figure", "probabilities_figure", "probabilities_spec", "reliability_figure"]


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], *, title: str | None = None) -> go.Figure:
    """Draw the confusion matrix as a heat map: rows the true classes, columns the predictions.

    Parameters
    ----------
    confusion : ndarray of shape (K, K), int
        ``confusion[i, j]`` counts the images of true class ``i`` predicted as ``j`` (as
        :attr:`layerlens.scores.ClassificationMetrics.confusion`).
    class_names : sequence of K str
        Names of the classes (escaped).
    title : str, optional
        Plain-text title (escaped).

    Returns
    -------
    Figure
        One ``go.Heatmap``: the colour is the share of the true class's images in each cell (so a
        small class's errors show as clearly as a large one's), the text the count; hovering gives
        both.

    Examples
    --------
    >>> fig = confusion_figure(np.array([[5, 1], [0, 4]]), ["cat", "dog"])
    >>> fig.data[0].z[0]
    (0.8333333333333334, 0.16666666666666666)
    """
    matrix = np.asarray(confusion)
    k = len(class_names)
    if matrix.shape != (k, k) or not np.issubdtype(matrix.dtype, np.number) or (matrix < 0).any():
        raise InvalidInputError(
            f"confusion: expected a ({k}, {k}) matrix of counts, one row and column per class; received shape "
            f"{matrix.shape}."
        )
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    names = [esc(n) for n in class_names]
    counts = matrix.astype(np.int64)
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=names,
            y=names,
            text=counts,
            texttemplate="%{text}",
            customdata=counts,
            colorscale=[[0.0, "#ffffff"], [1.0, "#1f4e99"]],
            zmin=0.0,
            zmax=1.0,
            colorbar=dict(title=dict(text="share of the<br>true class"), thickness=12),
            hovertemplate="true %{y}, predicted %{x}<br>%{customdata} images, %{z:.1%} of the class<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    side = max(320, 60 + 48 * k)
    figure.update_layout(
        **layout(
            esc(title) if title is not None else "Confusion matrix",
            width=side + 200,
            height=side + 80,
            xaxis=dict(title=dict(text="predicted"), side="bottom", type="category", tickangle=-30 if k > 4 else 0),
            yaxis=dict(title=dict(text="true"), autorange="reversed", type="category"),
            margin=dict(l=110, r=20, t=60, b=90),
        )
    )
    return figure


def probabilities_figure(
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    true: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """Draw one image's class probabilities as horizontal bars, the predicted class in its colour.

    Parameters
    ----------
    probabilities : ndarray of shape (K,)
        The image's probability for each class.
    class_names : sequence of K str
        Names of the classes (escaped).
    true : int, optional
        The image's true class, marked "(true)" on its bar.
    title : str, optional
        Plain-text title (escaped).

    Returns
    -------
    Figure
        One ``go.Bar`` with a bar per class, in class order from the top.
    """
    return go.Figure(probabilities_spec(probabilities, class_names, true=true, title=title))


def probabilities_spec(
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    true: int | None = None,
    title: str | None = None,
) -> dict:
    """The figure of :func:`probabilities_figure` as a plain ``{"data", "layout"}`` dict.

    A page of every misclassified image needs thousands of these; plotly's ``Figure`` checks each
    property on the way in, which adds up over thousands; a plain dict costs nothing to build.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    k = len(class_names)
    if p.shape != (k,) or not np.isfinite(p).all():
        raise InvalidInputError(f"probabilities: expected {k} finite values, one per class; received shape {p.shape}.")
    if true is not None and not 0 <= int(true) < k:
        raise InvalidInputError(f"true: expected a class index in 0..{k - 1}; received {true!r}.")
    predicted = int(p.argmax())
    colours = class_colours(k)
    labels = [
        esc(name) + (" (true)" if true is not None and i == int(true) else "") for i, name in enumerate(class_names)
    ]
    bars = dict(
        type="bar",
        x=p.tolist(),
        y=labels,
        orientation="h",
        marker=dict(color=[colours[i] if i == predicted else mix_white(colours[i], 0.6) for i in range(k)]),
        text=[f"{v:.1%}" for v in p],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    )
    page = layout(
        esc(title) if title is not None else "Class probabilities",
        height=90 + 28 * k,
        xaxis=dict(range=[0, 1.12], tickformat=".0%", title=dict(text="probability")),
        yaxis=dict(autorange="reversed", type="category"),
        margin=dict(l=120, r=30, t=50, b=50),
    )
    return {"data": [bars], "layout": page}


def reliability_figure(calibration: Calibration, *, title: str | None = None) -> go.Figure:
    """Draw the reliability diagram: in each confidence bin, how often the model was right.

    Parameters
    ----------
    calibration : Calibration
        As :func:`layerlens.scores.calibration` returns it (``metrics.calibration`` of an analysis).
    title : str, optional
        Plain-text title (escaped); by default it gives the expected calibration error and its interval.

    Returns
    -------
    Figure
        Bars of each bin's accuracy at its mean confidence's bin, the diagonal a calibrated model would
        follow, and the gap to it shaded; hovering a bar gives its images, confidence and accuracy.
    """
    if not isinstance(calibration, Calibration):
        raise InvalidInputError(f"calibration: expected a Calibration; received {type(calibration).__name__}.")
    edges = calibration.bin_edges
    centres = (edges[:-1] + edges[1:]) / 2
    width = float(edges[1] - edges[0])
    filled = calibration.counts > 0
    low, high = calibration.ece_ci
    label = (
        esc(title)
        if title is not None
        else f"Reliability: expected calibration error {calibration.ece:.3f} ({low:.3f}–{high:.3f})"
    )
    custom = np.stack([calibration.counts, np.nan_to_num(calibration.confidence)], axis=1)[filled]
    figure = go.Figure(
        [
            go.Bar(
                x=centres[filled],
                y=calibration.accuracy[filled],
                width=width * 0.92,
                name="accuracy",
                marker_color="#1f4e99",
                customdata=custom,
                hovertemplate=(
                    "confidence %{customdata[1]:.1%}<br>accuracy %{y:.1%}<br>%{customdata[0]} images<extra></extra>"
                ),
            ),
            go.Scatter(
                x=calibration.confidence[filled],
                y=calibration.confidence[filled],
                mode="markers",
                name="mean confidence",
                marker=dict(symbol="line-ew-open", size=16, color="#c0392b", line=dict(width=2)),
                hoverinfo="skip",
            ),
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="calibrated",
                line=dict(color="#888888", dash="dot"),
                hoverinfo="skip",
            ),
        ]
    )
    figure.update_layout(
        **layout(
            label,
            height=380,
            xaxis=dict(range=[0, 1], tickformat=".0%", title=dict(text="confidence (highest class probability)")),
            yaxis=dict(range=[0, 1.02], tickformat=".0%", title=dict(text="accuracy")),
            legend=dict(orientation="h", y=-0.25, yanchor="top", x=0),
            margin=dict(l=60, r=20, t=50, b=90),
            bargap=0,
        )
    )
    return figure
