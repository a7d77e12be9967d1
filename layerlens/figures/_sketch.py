"""A small picture of the paths, as an inline SVG string: what a notebook shows beside an analysis' summary.

The same paths as :func:`layerlens.figures.paths_figure` (rare paths folded into "other" by the same rules,
the same colours, the categories in the same order), drawn without plotly so the notebook output stays a
few kilobytes of self-contained markup: one vertical axis per layer and one for the prediction, each
cluster a bar as tall as its share of the images, each kept path a band through its clusters.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from layerlens._util.validation import check_int
from layerlens.exceptions import InvalidInputError
from layerlens.figures._ribbons import Folded, order_categories
from layerlens.figures._style import FONT, check_paths, class_colours, layer_column
from layerlens.figures.paths import _OTHER_COLOUR, _PROBE_COLOUR, _colour_scheme, _folded_paths, _Scheme

__all__ = ["paths_sketch"]

_GAP = 3.0  # px between two bars of an axis
_TOP = 36.0  # the caption's two lines
_BOTTOM = 46.0  # the band of the (slanted) axis labels
_LEFT = 56.0  # room for the first slanted label
_LEGEND = 128.0  # the legend column on the right
_LABEL_CHARS = 11
_LEGEND_CHARS = 18
_ROW = 13.0  # px per legend row
# The bands' share of the SVG's size, and what one band costs: its markup, and each point of its line.
_BUDGET = 40_000
_BAND_BYTES = 130
_POINT_BYTES = 10


def paths_sketch(
    paths: pd.DataFrame,
    layer_names: Sequence[str],
    class_names: Sequence[str],
    *,
    min_share: float = 0.005,
    max_ribbons: int = 20,
    width: int = 600,
    height: int = 220,
) -> str:
    """Draw the common paths through the layers' clusters as a small inline SVG.

    Parameters
    ----------
    paths : DataFrame
        As returned by :func:`layerlens.paths._table.build_paths` (an analysis' ``paths``).
    layer_names : sequence of str
        Layers to draw, left to right; each a layer column of ``paths``.
    class_names : sequence of str
        Names of the classes, equal to the categories of ``paths["predicted"]``.
    min_share : float, default=0.005
        Paths holding less than this share of the images are folded into a grey "other" bar per
        layer (as in :func:`layerlens.figures.paths_figure`).
    max_ribbons : int, default=20
        Most ribbons between two neighbouring axes, the "other" ribbons included (fewer than the
        figure's 30: the sketch is small). Fewer still when the bands of many layers would make the
        SVG larger than about 40 kB.
    width, height : int, default=600, 220
        Size of the picture in pixels.

    Returns
    -------
    str
        One ``<svg>`` element, with no script and nothing fetched: every user string escaped, the
        counts of each bar and band in a ``<title>`` (the browser shows it on hover). Bands take
        the colour of the true class, pale when the image was classified right and strong when not
        (of the predicted class without true labels); probes are near black, the folded images grey.

    Notes
    -----
    Unlike the figure, the sketch keeps only the common paths: it does not also keep the rarer paths of
    misclassified images, which takes a search over every such path (seconds to a minute when most
    images of a deep network take a path of their own) that a notebook's summary cannot wait for.

    Raises
    ------
    InvalidInputError
        If ``paths`` lacks a column, ``layer_names`` is empty or names no layer column, ``class_names``
        differs from the classes of ``paths``, or a number is out of range.
    """
    classes = check_paths(paths, class_names)
    if isinstance(layer_names, str) or len(layer_names) == 0:
        raise InvalidInputError(f"layer_names: expected a non-empty sequence of layer names; received {layer_names!r}.")
    if not isinstance(min_share, (int, float)) or isinstance(min_share, bool) or not 0.0 <= min_share < 1.0:
        raise InvalidInputError(f"min_share: expected a share in [0, 1); received {min_share!r}.")
    max_ribbons = check_int(max_ribbons, "max_ribbons", minimum=2)
    width = check_int(width, "width", minimum=300)
    height = check_int(height, "height", minimum=160)
    layers = {name: layer_column(paths, name, "layer_names") for name in layer_names}
    scheme = _colour_scheme(paths, classes, "class")
    predicted = paths["predicted"].cat.codes.to_numpy(np.int64)
    folded = _fold(layers, scheme, predicted, float(min_share), max_ribbons)
    grouped = folded.grouped.reset_index(drop=True)
    n_layers = len(layers)
    order = [*order_categories(grouped, n_layers, folded.other_code), sorted(set(grouped["prediction"].tolist()))]
    other = f"other: {folded.n_images} images on rare paths"
    names = [[*map(str, column.cat.categories), other] for column in layers.values()] + [list(classes)]
    fills = [["#4d4d4d"] * (len(n) - 1) + ["#bdbdbd"] for n in names[:-1]] + [class_colours(len(classes))]

    plot_right = width - _LEGEND
    xs = np.linspace(_LEFT, plot_right - 14.0, n_layers + 1)
    spacing = float(xs[1] - xs[0])
    plot = (_TOP, height - _TOP - _BOTTOM)
    counts = grouped["count"].to_numpy(np.float64)
    scale = (plot[1] - _GAP * (max(len(o) for o in order) - 1)) / max(counts.sum(), 1.0)
    slots, bars = _stack(grouped, order, scale, plot)
    colours = [*scheme.colours, _OTHER_COLOUR]
    width_of_bar = max(2.0, min(10.0, spacing * 0.3))
    share = counts / max(counts.sum(), 1.0)
    heading, key = _caption(scheme, n_layers, folded.n_images)
    colour_of = grouped["colour"].to_numpy(np.int64)
    # The folded images underneath, the misclassified ones (and probes) on top, as in the figure; larger bands later.
    tier = np.where(colour_of == len(scheme.colours), 0, 1 + np.append(scheme.flagged, False)[colour_of])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="{html.escape(FONT)}" '
        f'style="background:#ffffff;max-width:100%;height:auto">'
        f"<title>{html.escape(heading)}</title>"
        f'<text x="4" y="13" font-size="12" fill="#222222">{html.escape(heading)}</text>'
        f'<text x="4" y="27" font-size="10" fill="#555555">{html.escape(key)}</text>'
        + "".join(
            _band(
                xs,
                slots[r],
                counts[r] * scale,
                colours[colour_of[r]],
                f"{int(counts[r])} images ({share[r]:.1%})",
            )
            for r in np.lexsort((counts, tier))
        )
        + "".join(
            _rect(
                float(xs[a]) - width_of_bar / 2,
                top,
                width_of_bar,
                count * scale,
                fills[a][c],
                f"{names[a][c]}: {int(count)} images ({count / max(counts.sum(), 1.0):.1%})",
            )
            for a, c, top, count in bars
        )
        + _axis_labels([*layers, "prediction"], xs, height, spacing)
        + _legend(classes, scheme, folded.n_images, plot_right + 6.0, height)
        + "</svg>"
    )


def _fold(
    layers: dict[str, pd.Series], scheme: _Scheme, predicted: np.ndarray, min_share: float, max_ribbons: int
) -> Folded:
    """The common paths, folded as the figure folds them, with fewer ribbons until the bands fit the size budget."""
    common_only = replace(scheme, flagged=np.zeros_like(scheme.flagged))
    while True:
        folded, _ = _folded_paths(layers, common_only, predicted, (min_share, max_ribbons))
        if len(folded.grouped) * (_BAND_BYTES + _POINT_BYTES * (len(layers) + 1)) <= _BUDGET or max_ribbons <= 4:
            return folded
        max_ribbons = max(4, max_ribbons * 2 // 3)


def _stack(
    grouped: pd.DataFrame, order: list[list[int]], scale: float, plot: tuple[float, float]
) -> tuple[np.ndarray, list[tuple[int, int, float, float]]]:
    """Where each band crosses each axis (the top of its slot) and each bar: (axis, category, top, images).

    The bars of an axis are stacked in ``order`` and centred in ``plot`` (its top and height); in its
    bar a band keeps its place from the axis before (on the first axis: where it goes next), so the
    bands leaving one bar for another never cross each other.
    """
    columns = [f"d{i}" for i in range(len(order) - 1)] + ["prediction"]
    counts = grouped["count"].to_numpy(np.float64)
    positions = [
        grouped[c].map({code: p for p, code in enumerate(o)}).to_numpy(np.int64) for c, o in zip(columns, order)
    ]
    slots = np.zeros((len(grouped), len(columns)))
    bars = []
    rank = np.zeros(len(grouped))
    for a, categories in enumerate(order):
        keys = (rank, positions[a]) if a else (grouped["colour"].to_numpy(), *reversed(positions))
        rows = np.lexsort(keys)
        codes = grouped[columns[a]].to_numpy(np.int64)
        sums = [float(counts[codes == c].sum()) for c in categories]
        top = plot[0] + (plot[1] - sum(sums) * scale - _GAP * (len(categories) - 1)) / 2
        filled = {}
        for c, count in zip(categories, sums):
            filled[c] = top
            bars.append((a, c, top, count))
            top += count * scale + _GAP
        for r in rows:
            slots[r, a] = filled[codes[r]]
            filled[codes[r]] += counts[r] * scale
        rank = np.empty(len(grouped))
        rank[rows] = np.arange(len(grouped))
    return slots, bars


def _band(xs: np.ndarray, tops: np.ndarray, thickness: float, colour: str, tip: str) -> str:
    """One path as a thick line through the middle of its slots."""
    points = " ".join(f"{x:.0f},{y + thickness / 2:.1f}" for x, y in zip(xs, tops))
    return (
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{max(thickness, 0.6):.1f}" '
        f'stroke-opacity="0.7"><title>{html.escape(tip)}</title></polyline>'
    )


def _rect(x: float, y: float, width: float, height: float, fill: str, tip: str) -> str:
    """A bar with an escaped hover title."""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(height, 0.8):.1f}" fill="{fill}">'
        f"<title>{html.escape(tip)}</title></rect>"
    )


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _axis_labels(names: list[str], xs: np.ndarray, height: int, spacing: float) -> str:
    """Slanted names under the axes; with many layers, every few axes are named (always the prediction)."""
    step = max(1, int(np.ceil(16.0 / spacing)))
    shown = [i for i in range(len(names)) if i % step == 0 or i == len(names) - 1]
    if len(shown) > 1 and shown[-1] - shown[-2] < step:
        shown.pop(-2)  # the prediction's label wins over its crowded neighbour
    y = height - _BOTTOM + 12
    return "".join(
        f'<text x="{xs[i]:.1f}" y="{y:.1f}" font-size="10" fill="#333333" text-anchor="end" '
        f'transform="rotate(-40 {xs[i]:.1f} {y:.1f})"><title>{html.escape(names[i])}</title>'
        f"{html.escape(_shorten(names[i], _LABEL_CHARS))}</text>"
        for i in shown
    )


def _caption(scheme: _Scheme, n_layers: int, n_folded: int) -> tuple[str, str]:
    """What is drawn, and what the colours mean."""
    probes = f" and {scheme.n_probes} probes" if scheme.n_probes else ""
    colour = (
        f"colour = true class, strong = misclassified ({scheme.n_flagged})"
        if scheme.labelled
        else "colour = predicted class"
    )
    folded = f"; grey = {n_folded:,} images on rare paths" if n_folded else ""
    layers = "1 layer" if n_layers == 1 else f"{n_layers} layers"
    return f"Paths of {scheme.n_images:,} images{probes} through {layers}", colour + folded


def _legend(classes: tuple[str, ...], scheme: _Scheme, n_folded: int, x: float, height: int) -> str:
    """The class colours (and probes, rare paths) in a column on the right, as many rows as fit."""
    entries = list(zip(classes, class_colours(len(classes))))
    if scheme.n_probes:
        entries.append((f"probes ({scheme.n_probes})", _PROBE_COLOUR))
    if n_folded:
        entries.append(("rare paths", _OTHER_COLOUR))
    room = int((height - _TOP - 14) // _ROW)
    if len(entries) > room:
        entries = [*entries[: room - 1], (f"… {len(entries) - room + 1} more", "#ffffff")]
    heading = "true class" if scheme.labelled else "predicted class"
    parts = [f'<text x="{x:.1f}" y="{_TOP + 8:.1f}" font-size="10" fill="#555555">{heading}</text>']
    for i, (name, colour) in enumerate(entries):
        y = _TOP + 14 + i * _ROW
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="9" height="9" fill="{colour}"/>'
            f'<text x="{x + 13:.1f}" y="{y + 8:.1f}" font-size="10" fill="#222222"><title>{html.escape(name)}</title>'
            f"{html.escape(_shorten(name, _LEGEND_CHARS))}</text>"
        )
    return "".join(parts)
