"""An explained image: the image, its heat map over it, and for LIME its weightiest segments and their weights.

An explained volume is drawn by its axial slice through the heat map's maximum (see
:func:`~layerlens.figures._overlay.through_maximum`), which the figure names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from layerlens._util.png import png_data_uri
from layerlens.exceptions import InvalidInputError
from layerlens.explanations import Explanation, method_title
from layerlens.figures._overlay import (
    AGAINST_COLOUR,
    FOR_COLOUR,
    display_size,
    heat_limit,
    through_maximum,
    to_rgb,
    upscale,
)
from layerlens.figures._style import esc, layout

__all__ = ["explanation_figure", "outlined_segments", "segment_weights_figure", "segment_weights_spec", "top_segments"]

# Opacity of the heat map's colour where it saturates (as the overlay PNGs of a run folder).
_HEAT_OPACITY = 0.65
# Heat maps larger than this (pixels on a side) are averaged down in the figure, to keep it small.
_MAX_HEAT_SIDE = 128


def _rgb(colour: tuple[int, int, int], alpha: float = 1.0) -> str:
    return f"rgba({colour[0]}, {colour[1]}, {colour[2]}, {alpha:g})"


def top_segments(explanation: Explanation, n: int = 8) -> np.ndarray:
    """The ids of LIME's ``n`` segments of largest absolute weight, heaviest first (zero weights left out)."""
    weights = explanation.segment_weights
    order = np.argsort(-np.abs(weights), kind="stable")[:n]
    return order[weights[order] != 0]


def outlined_segments(
    image: np.ndarray, segments: np.ndarray, weights: np.ndarray, top: np.ndarray, factor: int, *, axis: int = 0
) -> np.ndarray:
    """The image enlarged by ``factor`` with the ``top`` segments outlined, red for the class and blue against.

    Parameters
    ----------
    image : ndarray of shape (H, W, C) or (H, W), uint8; or a volume (D, H, W, C) or (D, H, W)
    segments : ndarray of shape (H, W), int; or (D, H, W) for a volume
        LIME's superpixels (supervoxels).
    weights : ndarray of shape (S,)
        Their weights.
    top : ndarray of int
        The superpixels to outline (see :func:`top_segments`).
    factor : int
        Whole enlargement (outlines one enlarged pixel wide).
    axis : int, default=0
        A volume: the axis across which it is sliced, through the maximum of LIME's heat map
        (``weights[segments]``; see :func:`~layerlens.figures._overlay.through_maximum`).

    Returns
    -------
    ndarray of shape (H * factor, W * factor, 3), uint8
        For a volume, its slice enlarged.
    """
    from skimage.segmentation import find_boundaries

    if np.ndim(segments) == 3:
        _, _, index = through_maximum(segments, np.asarray(weights)[segments], axis)
        image, segments = np.take(image, index, axis=axis), np.take(segments, index, axis=axis)

    big = upscale(to_rgb(image), factor).copy()
    labels = upscale(np.where(np.isin(segments, top), segments, -1), factor)
    edge = find_boundaries(labels, mode="inner") & (labels >= 0)
    positive = np.zeros(len(weights), bool)
    positive[top] = weights[top] > 0
    big[edge & positive[np.maximum(labels, 0)]] = FOR_COLOUR
    big[edge & ~positive[np.maximum(labels, 0)]] = AGAINST_COLOUR
    return big


def _coarse(heatmap: np.ndarray) -> tuple[np.ndarray, int]:
    """The heat map averaged over blocks so that no side exceeds ``_MAX_HEAT_SIDE``, and the block size."""
    block = max(1, int(np.ceil(max(heatmap.shape) / _MAX_HEAT_SIDE)))
    if block == 1:
        return heatmap, 1
    h, w = (heatmap.shape[0] // block) * block, (heatmap.shape[1] // block) * block
    return heatmap[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3)), block


def _image_trace(picture: np.ndarray, factor: int) -> go.Image:
    """An image enlarged by ``factor``, placed so that one axis unit is one pixel of the original."""
    return go.Image(
        source=png_data_uri(picture),
        x0=(1 / factor - 1) / 2,
        y0=(1 / factor - 1) / 2,
        dx=1 / factor,
        dy=1 / factor,
        hoverinfo="skip",
    )


def explanation_figure(
    image: np.ndarray,
    explanation: Explanation,
    *,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    n_segments: int = 8,
) -> go.Figure:
    """Draw an explanation: the image with its heat map over it; for LIME also its top segments and their weights.

    Parameters
    ----------
    image : ndarray of shape (H, W, 1 or 3) or (H, W), uint8; or a volume (D, H, W, 1 or 3) or (D, H, W)
        The image as displayed (an analysis keeps them in ``explained_images``).
    explanation : Explanation
        Its explanation; the heat map must have the image's height and width (a volume's depth, height
        and width: the figure then shows the axial slice through the heat map's maximum, and says which).
    class_names : sequence of str, optional
        Names of the classes, to name the explained class.
    title : str, optional
        Plain-text title (escaped); by default the method's registered title and the class.
    n_segments : int, default=8
        LIME: how many segments (of the largest absolute weight) to outline and chart.

    Returns
    -------
    Figure
        Left: the image; middle: the heat map over it (red for the class, blue against, hover shows the
        value). For LIME the left panel outlines and numbers the top segments and a third panel charts
        their weights, numbered alike (of a volume, the top supervoxels that the slice crosses are numbered).
    """
    image = np.asarray(image)
    volume = isinstance(explanation, Explanation) and explanation.heatmap.ndim == 3
    if image.dtype != np.uint8 or image.ndim not in ((3, 4) if volume else (2, 3)):
        expected = "a uint8 volume (D, H, W) or (D, H, W, C)" if volume else "a uint8 image (H, W) or (H, W, C)"
        raise InvalidInputError(f"image: expected {expected}; received {image.dtype} {image.shape}.")
    if not isinstance(explanation, Explanation):
        raise InvalidInputError(f"explanation: expected an Explanation; received {type(explanation).__name__}.")
    spatial = image.shape[: explanation.heatmap.ndim]
    if explanation.heatmap.shape != spatial:
        kind = "volume" if volume else "image"
        raise InvalidInputError(
            f"explanation: its heat map has shape {explanation.heatmap.shape}; expected the {kind}'s {spatial}."
        )
    where, index = "", 0
    if volume:
        image, heat, index = through_maximum(image, explanation.heatmap)
        segments = None if explanation.segments is None else explanation.segments[index]
        explanation = replace(explanation, heatmap=heat, segments=segments)
        where = f"axial slice {index} of 0–{spatial[0] - 1} (the heat map's maximum)"
    target = str(explanation.target)
    if class_names is not None and 0 <= explanation.target < len(class_names):
        target = class_names[explanation.target]
    method = method_title(explanation.method)
    lime = explanation.segments is not None and explanation.segment_weights is not None
    factor = display_size(*image.shape[:2])
    top = top_segments(explanation, n_segments) if lime else np.array([], dtype=np.int64)

    titles = [
        (where or "image") + (": top segments" if lime else ""),
        f"{method}: red for {esc(target)}, blue against",
    ]
    if lime:
        titles.append("segment weights")
    figure = make_subplots(
        rows=1,
        cols=len(titles),
        subplot_titles=titles,
        column_widths=[0.36, 0.36, 0.28][: len(titles)],
        horizontal_spacing=0.06,
    )
    left = (
        outlined_segments(image, explanation.segments, explanation.segment_weights, top, factor)
        if lime
        else upscale(to_rgb(image), factor)
    )
    figure.add_trace(_image_trace(left, factor), row=1, col=1)
    figure.add_trace(_image_trace(upscale(to_rgb(image), factor), factor), row=1, col=2)

    left_edge, right_edge = figure.layout.xaxis2.domain
    heat, block = _coarse(explanation.heatmap.astype(np.float64))
    limit = heat_limit(explanation.heatmap)
    figure.add_trace(
        go.Heatmap(
            z=np.round(heat, max(0, 3 - int(np.floor(np.log10(limit))))),  # four significant digits of the scale
            x0=(block - 1) / 2,
            dx=block,
            y0=(block - 1) / 2,
            dy=block,
            zmin=-limit,
            zmax=limit,
            colorscale=[
                [0.0, _rgb(AGAINST_COLOUR, _HEAT_OPACITY)],
                [0.5, _rgb((255, 255, 255), 0)],
                [1.0, _rgb(FOR_COLOUR, _HEAT_OPACITY)],
            ],
            colorbar=dict(
                title=dict(text="attribution", side="top"),
                orientation="h",
                thickness=10,
                x=(left_edge + right_edge) / 2,
                len=right_edge - left_edge,
                y=-0.02,
                yanchor="top",
            ),
            hovertemplate="x %{x}, y %{y}<br>attribution %{z:.3g}<extra></extra>",
            name=method,
        ),
        row=1,
        col=2,
    )
    if lime:
        _add_segment_chart(figure, explanation, top)
    height, width = image.shape[:2]
    for col in (1, 2):
        figure.update_xaxes(range=[-0.5, width - 0.5], visible=False, row=1, col=col)
        figure.update_yaxes(
            range=[height - 0.5, -0.5], visible=False, scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col
        )
    slice_named = f", axial slice {index}" if volume else ""
    heading = title if title is not None else f"{method} explanation of class {target}{slice_named}"
    figure.update_layout(
        **layout(esc(heading), height=430, width=1000 if lime else 760, margin=dict(l=20, r=30, t=80, b=80)),
        showlegend=False,
    )
    return figure


def _add_segment_chart(figure: go.Figure, explanation: Explanation, top: np.ndarray) -> None:
    """Number the top segments on the image (panel 1) and chart their weights (panel 3), heaviest on top."""
    weights = explanation.segment_weights
    labels = [f"#{rank + 1}" for rank in range(len(top))]
    for label, segment in zip(labels, top):
        rows, cols = np.nonzero(explanation.segments == segment)
        if not len(rows):
            continue  # a supervoxel that the volume's slice does not cross
        figure.add_annotation(
            x=float(cols.mean()),
            y=float(rows.mean()),
            text=label,
            showarrow=False,
            row=1,
            col=1,
            font=dict(size=11, color="white"),
            bgcolor="rgba(0, 0, 0, 0.55)",
            borderpad=1,
        )
    figure.add_trace(_weights_bar(weights, top), row=1, col=3)
    figure.update_yaxes(type="category", autorange="reversed", row=1, col=3)
    figure.update_xaxes(
        title_text="weight (change in probability)", zeroline=True, zerolinecolor="#888888", row=1, col=3
    )


def _weights_bar(weights: np.ndarray, top: np.ndarray) -> dict:
    """Bars of the ``top`` segments' weights, numbered #1, #2, ... as on the image, red for and blue against."""
    return dict(
        type="bar",
        x=weights[top].astype(np.float64).tolist(),
        y=[f"#{rank + 1}" for rank in range(len(top))],
        orientation="h",
        marker=dict(color=[_rgb(FOR_COLOUR) if w > 0 else _rgb(AGAINST_COLOUR) for w in weights[top]]),
        customdata=top.tolist(),
        hovertemplate="%{y}: segment %{customdata}<br>weight %{x:.3g}<extra></extra>",
    )


def segment_weights_figure(
    explanation: Explanation, *, class_names: Sequence[str] | None = None, n_segments: int = 8, title: str | None = None
) -> go.Figure:
    """Chart the weights of LIME's weightiest segments alone, numbered as :func:`top_segments` ranks them.

    Parameters
    ----------
    explanation : Explanation
        A LIME explanation (with ``segments`` and ``segment_weights``).
    class_names : sequence of str, optional
        Names of the classes, to name the explained class.
    n_segments : int, default=8
        How many segments, of the largest absolute weight.
    title : str, optional
        Plain-text title (escaped).

    Returns
    -------
    Figure
        One ``go.Bar``, heaviest segment on top; a page shows the outlined segments beside it.
    """
    return go.Figure(segment_weights_spec(explanation, class_names=class_names, n_segments=n_segments, title=title))


def segment_weights_spec(
    explanation: Explanation, *, class_names: Sequence[str] | None = None, n_segments: int = 8, title: str | None = None
) -> dict:
    """The figure of :func:`segment_weights_figure` as a plain ``{"data", "layout"}`` dict (cheap to build)."""
    if not isinstance(explanation, Explanation) or explanation.segment_weights is None:
        raise InvalidInputError("explanation: expected a LIME explanation, with segments and their weights.")
    target = str(explanation.target)
    if class_names is not None and 0 <= explanation.target < len(class_names):
        target = class_names[explanation.target]
    top = top_segments(explanation, n_segments)
    page = layout(
        esc(title) if title is not None else f"{method_title(explanation.method)}: segment weights for {esc(target)}",
        height=110 + 30 * max(len(top), 1),
        xaxis=dict(title=dict(text="weight (change in probability)"), zeroline=True, zerolinecolor="#888888"),
        yaxis=dict(type="category", autorange="reversed"),
        margin=dict(l=50, r=20, t=50, b=50),
    )
    return {"data": [_weights_bar(explanation.segment_weights, top)], "layout": page}
