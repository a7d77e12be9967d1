"""Plotly figures of an analysis: image paths through the layers, per-layer maps, separability by depth.

Every function returns a :class:`plotly.graph_objects.Figure` and never shows it; the
same inputs give the same ``fig.to_json()`` byte for byte (no random colours, no trace
uids, an explicit template instead of plotly's global default). Nothing here needs the
network: no CDN, no map tiles, no TensorFlow.

Strings from users (class, cluster and layer names) reach plotly's text renderer, which
reads a small subset of HTML; they are passed through :func:`html.escape` wherever
plotly would interpret them (hover text, tick and category labels, legend entries,
annotations, titles) so a class called ``<b>`` shows as ``<b>``. The one exception is
a parallel-categories dimension label, which plotly writes as plain text; it gets the
raw layer name.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from layerlens.exceptions import InvalidInputError
from layerlens.paths import FIXED_COLUMNS

__all__ = ["WEBGL_THRESHOLD", "layer_figure", "paths_figure", "separability_figure"]

#: Above this many images :func:`layer_figure` draws points with WebGL (``go.Scattergl``).
WEBGL_THRESHOLD = 5000

_FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"
_MISCLASSIFIED_EDGE = "#1a1a1a"
# Share of white mixed into a class colour for correctly classified paths (see paths_figure).
_PALE = 0.62
# Share of black mixed into a class colour for misclassified paths.
_DARK = 0.2
# Category labels of the paths figure are shortened to fit this width (px), a typical page width;
# narrower pages may overlap long labels, wider ones have room to spare.
_PATHS_WIDTH = 1200
_CHAR_PX = 6.3  # mean width of a character of the 11 px label font
_MAX_MARGIN = 260
# Appended to the label of a layer that runs beside the previous one instead of after it.
_PARALLEL_MARK = " ∥"


def _esc(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` for plotly's pseudo-HTML text.

    Quotes stay as they are: plotly decodes only a few named entities (``&amp;``,
    ``&lt;``, ``&gt;`` …), so an escaped quote would be shown as ``&quot;``.
    """
    return html.escape(str(text), quote=False)


def _palette(n: int, base: Sequence[str]) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours: ``base`` if long enough, else Dark24, else evenly spaced hues."""
    if n <= len(base):
        colours = list(base[:n])
    elif n <= len(plotly.colors.qualitative.Dark24):
        colours = list(plotly.colors.qualitative.Dark24[:n])
    else:
        colours = [
            "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in colorsys.hls_to_rgb(i / n, 0.45, 0.65)))
            for i in range(n)
        ]
    return [_hex(c) for c in colours]


def _hex(colour: str) -> str:
    """Normalise ``#RRGGBB`` or ``rgb(r, g, b)`` to lower-case ``#rrggbb``."""
    if colour.startswith("#"):
        return colour.lower()
    r, g, b = plotly.colors.unlabel_rgb(colour)
    return "#{:02x}{:02x}{:02x}".format(round(r), round(g), round(b))


def _mix_white(colour: str, share: float) -> str:
    """Blend ``#rrggbb`` with white; ``share`` = 0 keeps the colour, 1 gives white."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * share) for c in rgb))


def _mix_black(colour: str, share: float) -> str:
    """Blend ``#rrggbb`` with black; ``share`` = 0 keeps the colour, 1 gives black."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c * (1 - share)) for c in rgb))


def _class_colours(n_classes: int) -> list[str]:
    """Colour of each class (D3 Category10, then Dark24, then evenly spaced hues)."""
    return _palette(n_classes, plotly.colors.qualitative.D3)


def _layout(title: str, **extra) -> dict:
    """Layout shared by all figures.

    The explicit ``"none"`` template keeps the output independent of plotly's global default
    template (and about 6 kB smaller than embedding plotly's own).
    """
    layout = dict(
        template="none",
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16)),
        font=dict(family=_FONT, size=12, color="#222222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel=dict(font=dict(family=_FONT, size=12)),
    )
    layout.update(extra)
    return layout


# --------------------------------------------------------------------------------------------- validation


def _check_paths(paths: pd.DataFrame, class_names: Sequence[str]) -> tuple[str, ...]:
    """Check the columns every figure reads from ``paths``; return the class names as a tuple."""
    if not isinstance(paths, pd.DataFrame):
        raise InvalidInputError(
            f"paths: expected the DataFrame of layerlens.paths.build_paths; received {type(paths).__name__}."
        )
    missing = [c for c in ("true", "predicted", "confidence", "correct") if c not in paths.columns]
    if missing:
        raise InvalidInputError(f"paths: expected the columns of build_paths; missing {missing}.")
    if isinstance(class_names, str):
        raise InvalidInputError(f"class_names: expected a sequence of str; received the str {class_names!r}.")
    classes = tuple(class_names)
    categories = (
        tuple(paths["predicted"].cat.categories) if isinstance(paths["predicted"].dtype, pd.CategoricalDtype) else ()
    )
    if classes != categories:
        raise InvalidInputError(
            f"class_names: expected the classes of paths['predicted'] {list(categories)}; received {list(classes)}."
        )
    return classes


def _layer_column(paths: pd.DataFrame, layer_name: str, arg: str = "layer_name") -> pd.Series:
    """The Categorical column of one layer, or an error listing the layers ``paths`` holds."""
    available = [c for c in paths.columns if c not in FIXED_COLUMNS]
    if layer_name not in available or not isinstance(paths[layer_name].dtype, pd.CategoricalDtype):
        raise InvalidInputError(f"{arg}: expected one of the layers in paths {available}; received {layer_name!r}.")
    return paths[layer_name]


def _labelled(paths: pd.DataFrame) -> bool:
    """True when every image has a true class (build_paths gives all or none)."""
    return bool(paths["true"].notna().all()) and len(paths) > 0


def _misclassified(paths: pd.DataFrame, labelled: bool) -> np.ndarray:
    """Boolean mask of misclassified images; all False without labels."""
    if not labelled:
        return np.zeros(len(paths), dtype=bool)
    return ~paths["correct"].to_numpy(dtype=bool, na_value=True)


# --------------------------------------------------------------------------------------------- paths


def paths_figure(
    paths: pd.DataFrame,
    layer_names: Sequence[str],
    class_names: Sequence[str],
    *,
    parallel: Sequence[bool] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Draw every image's path through the per-layer clusters as a parallel-categories diagram.

    Parameters
    ----------
    paths : DataFrame
        As returned by :func:`layerlens.paths.build_paths` (N rows).
    layer_names : sequence of str
        Layers to draw, left to right; each a layer column of ``paths``.
    class_names : sequence of K str
        Names of the classes, equal to the categories of ``paths["predicted"]``.
    parallel : sequence of bool, optional
        One per layer: True when the layer does not receive the output of the layer drawn before it
        (the two sit in parallel branches of the network). Such a layer's label ends in " ∥" and the
        subtitle says what the mark means, so the ribbons into it are not read as one layer feeding
        the next. Default: no layer is parallel.
    title : str, optional
        Plain-text title (escaped); by default one that says how many images and layers are drawn.

    Returns
    -------
    Figure
        One ``go.Parcats`` trace with a dimension per layer (categories: the clusters, in cluster
        order) and a last dimension ``"prediction"`` (the predicted classes, in class order), plus
        empty scatter traces that only provide the legend.

    Raises
    ------
    InvalidInputError
        If ``paths`` lacks a column, ``layer_names`` is empty or names a column that is not a layer,
        ``parallel`` does not hold one bool per layer, or ``class_names`` differs from the classes of
        ``paths``.

    Notes
    -----
    Ribbons are coloured by true class. Correctly classified images get a pale tint of their
    class colour and misclassified ones a strong, slightly darkened one; plotly stacks ribbons by
    colour value, and the misclassified values come last, so the few misclassified ribbons are
    drawn on top of the pale bulk instead of being buried in it. The eye goes straight to where the
    errors leave their class's main path, which is the question the diagram is there to answer,
    while the pale ribbons still show each class's usual route. Without true labels the ribbons
    take the colour of the predicted class, all at full strength, and the title says so. Parcats
    traces have no legend of their own, so empty scatter traces provide one (classes and shades),
    placed below the diagram.

    Identical rows (same clusters, prediction and colour) are aggregated with ``counts``, so the
    figure's size grows with the number of distinct paths, not with N.

    Categories are passed as integer codes (``categoryarray`` is the cluster indices in cluster
    order) with the escaped names as ``ticktext``: the figure JSON stays small, and plotly's click
    events report the cluster index. Only categories that hold at least one image are listed,
    because plotly.js does not draw empty ones. Labels between two dimensions are shortened with
    an ellipsis to the room they have in a 1,200 px wide figure; hover a category for its count.

    The diagram is a parallel-sets display: R. Kosara, F. Bendix and H. Hauser, "Parallel Sets:
    Interactive Exploration and Visual Analysis of Categorical Data", IEEE TVCG 12(4), 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from layerlens.paths import build_paths
    >>> df = build_paths([np.array([0, 1, 1])], [["c1", "c2"]], [np.array([0, 1])], ["dense"],
    ...                  predicted=np.array([0, 1, 0]), confidence=np.array([0.9, 0.8, 0.7]),
    ...                  class_names=["a", "b"], true=np.array([0, 1, 1]))
    >>> fig = paths_figure(df, ["dense"], ["a", "b"])
    >>> len(fig.data[0].dimensions)
    2
    """
    classes = _check_paths(paths, class_names)
    if isinstance(layer_names, str) or len(layer_names) == 0:
        raise InvalidInputError(f"layer_names: expected a non-empty sequence of layer names; received {layer_names!r}.")
    layers = {name: _layer_column(paths, name, "layer_names") for name in layer_names}
    flags = [False] * len(layers) if parallel is None else list(parallel)
    if len(flags) != len(layers) or not all(isinstance(f, (bool, np.bool_)) for f in flags):
        raise InvalidInputError(
            f"parallel: expected {len(layers)} bools (one per layer in layer_names); received {parallel!r}."
        )
    return _compute_paths_figure(paths, layers, classes, [bool(f) for f in flags], title)


def _compute_paths_figure(
    paths: pd.DataFrame,
    layers: dict[str, pd.Series],
    classes: tuple[str, ...],
    parallel: list[bool],
    title: str | None,
) -> go.Figure:
    """Build the parallel-categories figure from validated input (see :func:`paths_figure`)."""
    n_classes = len(classes)
    labelled = _labelled(paths)
    grouped, n_wrong = _group_paths(paths, layers, labelled)
    dimensions = _paths_dimensions(grouped, layers, classes, parallel)
    base = _class_colours(n_classes)
    # Misclassified ribbons are also darkened a little: plotly draws every ribbon at 60 % opacity,
    # which would otherwise bring the strong colours too close to the pale ones.
    colours = base
    if labelled:
        colours = [_mix_white(c, _PALE) for c in base] + [_mix_black(c, _DARK) for c in base]
    trace = go.Parcats(
        dimensions=dimensions,
        counts=grouped["count"].to_numpy(np.int64),
        line=dict(
            color=grouped["colour"].to_numpy(np.int64),
            colorscale=_stepped_colorscale(colours),
            cmin=-0.5,
            cmax=len(colours) - 0.5,
            showscale=False,
            hovertemplate="%{count} images take this whole path (%{probability:.1%})<extra></extra>",
        ),
        hoveron="color",
        hovertemplate=(
            "<b>%{category}</b><br>%{bandcolorcount} of the %{categorycount} images here"
            "<br>have this colour<extra></extra>"
        ),
        arrangement="perpendicular",
        bundlecolors=True,
        sortpaths="forward",
        labelfont=dict(size=13, family=_FONT),
        tickfont=dict(size=11, family=_FONT),
        domain=dict(x=[0.0, 1.0], y=[0.0, 1.0]),
    )
    fig = go.Figure(data=[trace, *_paths_legend(classes, base, labelled, n_wrong)])
    legend_rows = 22 * min(n_classes, 8)
    fig.update_layout(
        **_layout(
            _paths_title(title, len(paths), len(layers), labelled, n_wrong, any(parallel)),
            margin=dict(
                l=_label_width(dimensions[0].ticktext),
                r=_label_width(dimensions[-1].ticktext) + 30,
                t=90,
                b=40 + legend_rows,
            ),
            height=max(420, 40 + 34 * max(len(d.ticktext) for d in dimensions)) + legend_rows,
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            showlegend=True,
            # Below the diagram: above it the legend would collide with the dimension labels.
            legend=dict(
                orientation="h",
                x=0.0,
                xanchor="left",
                y=-0.02,
                yanchor="top",
                font=dict(size=12),
                itemclick=False,
                itemdoubleclick=False,
            ),
        )
    )
    return fig


def _group_paths(paths: pd.DataFrame, layers: dict[str, pd.Series], labelled: bool) -> tuple[pd.DataFrame, int]:
    """Count images per distinct (clusters, prediction, colour value), in a fixed order.

    The colour value is the true class, plus K when the image is misclassified; without labels
    it is the predicted class. Returns the counts and the number of misclassified images.
    """
    n_classes = len(paths["predicted"].cat.categories)
    predicted = paths["predicted"].cat.codes.to_numpy(np.int64)
    wrong = _misclassified(paths, labelled)
    columns = {f"d{i}": col.cat.codes.to_numpy(np.int64) for i, col in enumerate(layers.values())}
    columns["prediction"] = predicted
    true = paths["true"].cat.codes.to_numpy(np.int64)
    columns["colour"] = true + n_classes * wrong if labelled else predicted
    grouped = pd.DataFrame(columns).groupby(list(columns), sort=True).size().reset_index(name="count")
    return grouped, int(wrong.sum())


def _paths_dimensions(
    grouped: pd.DataFrame, layers: dict[str, pd.Series], classes: tuple[str, ...], parallel: list[bool]
) -> list[go.parcats.Dimension]:
    """One dimension per layer, then ``"prediction"``; inner labels shortened to fit between dimensions."""
    names = [list(col.cat.categories) for col in layers.values()] + [list(classes)]
    codes = [grouped[f"d{i}"].to_numpy() for i in range(len(layers))] + [grouped["prediction"].to_numpy()]
    # The labels of dimension i sit between dimensions i - 1 and i; the first and last ones in the margins.
    edge_chars = int((_MAX_MARGIN - 16) / _CHAR_PX)
    outer = _label_width([_esc(n) for n in names[0]]) + _label_width([_esc(n) for n in names[-1]]) + 30
    gap = (_PATHS_WIDTH - outer) / max(len(layers), 1)
    inner_chars = max(8, int((gap - 34) / _CHAR_PX))
    # Dimension titles are centred over their bar in a 13 px font (about 7.4 px a character).
    title_chars = max(8, int(gap / 7.4))
    labels = [
        _shorten(str(name), title_chars - 2) + _PARALLEL_MARK if side_by_side else _shorten(str(name), title_chars)
        for name, side_by_side in zip(layers, parallel, strict=True)
    ] + ["prediction"]
    return [
        _parcats_dimension(label, c, n, edge_chars if i in (0, len(labels) - 1) else inner_chars)
        for i, (label, c, n) in enumerate(zip(labels, codes, names, strict=True))
    ]


def _parcats_dimension(label: str, codes: np.ndarray, names: list[str], max_chars: int) -> go.parcats.Dimension:
    """A dimension listing the categories that occur, in their given order, labelled with escaped names.

    ``label`` stays raw: plotly writes dimension labels as plain text, so escaping would show.
    """
    present = np.unique(codes)
    return go.parcats.Dimension(
        label=label,
        values=codes.astype(np.int32),
        categoryorder="array",
        categoryarray=[int(c) for c in present],
        ticktext=[_esc(_shorten(str(names[c]), max_chars)) for c in present],
    )


def _shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _stepped_colorscale(colours: list[str]) -> list[list]:
    """A colorscale with one flat band per colour, so integer value ``i`` maps to ``colours[i]``
    when ``cmin = -0.5`` and ``cmax = len(colours) - 0.5``."""
    n = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def _paths_legend(classes: tuple[str, ...], colours: list[str], labelled: bool, n_wrong: int) -> list[go.Scatter]:
    """Empty scatter traces whose only job is a legend: parcats traces have none."""
    group_title = "true class" if labelled else "predicted class (no true labels)"
    entries = [
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=_esc(name),
            hoverinfo="skip",
            marker=dict(symbol="square", size=13, color=colour),
            legendgroup="classes",
            legendgrouptitle=dict(text=group_title) if i == 0 else None,
        )
        for i, (name, colour) in enumerate(zip(classes, colours, strict=True))
    ]
    if labelled:
        shades = [("pale: correct", _mix_white("#555555", _PALE)), (f"strong: misclassified ({n_wrong})", "#555555")]
        entries += [
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=name,
                hoverinfo="skip",
                marker=dict(symbol="square", size=13, color=colour),
                legendgroup="shades",
                legendgrouptitle=dict(text="ribbon shade") if i == 0 else None,
            )
            for i, (name, colour) in enumerate(shades)
        ]
    return entries


def _paths_title(title: str | None, n: int, n_layers: int, labelled: bool, n_wrong: int, parallel: bool) -> str:
    """Escaped title with a subtitle that says what the colours (and the parallel mark) mean."""
    main = _esc(title) if title is not None else f"Paths of {n} images through {n_layers} layers"
    if labelled:
        sub = f"colour = true class; strong colour = misclassified ({n_wrong} of {n})"
    else:
        sub = "colour = predicted class (no true labels, so misclassified images are unknown)"
    if parallel:
        sub += f";{_PARALLEL_MARK} = a parallel branch: it runs beside the layer to its left, not after it"
    return f"{main}<br><span style='font-size:12px;color:#555555'>{sub}</span>"


def _label_width(labels: Sequence[str]) -> int:
    """Margin in pixels wide enough for the longest (unescaped) label at 11 px, at most ``_MAX_MARGIN``."""
    longest = max((len(html.unescape(t)) for t in labels), default=0)
    return int(min(_MAX_MARGIN, max(40, 16 + _CHAR_PX * longest)))


# --------------------------------------------------------------------------------------------- layer map


def layer_figure(
    coords: np.ndarray,
    paths: pd.DataFrame,
    layer_name: str,
    class_names: Sequence[str],
    *,
    centers: np.ndarray | None = None,
    title: str | None = None,
) -> go.Figure:
    """Draw the 2-D map of one layer, points coloured by cluster, misclassified images marked.

    Parameters
    ----------
    coords : ndarray of shape (N, 2), float
        Map position of every image in this layer (row ``i`` is image ``i`` of ``paths``).
    paths : DataFrame
        As returned by :func:`layerlens.paths.build_paths` (N rows).
    layer_name : str
        The layer to draw; a layer column of ``paths``.
    class_names : sequence of K str
        Names of the classes, equal to the categories of ``paths["predicted"]``.
    centers : ndarray of shape (k, 2), float, optional
        Map position of each of the layer's k clusters (e.g. the k-means centres projected with the
        same map). By default the mean position of the cluster's images.
    title : str, optional
        Plain-text title (escaped); by default ``"Layer <name>: N images in k clusters"``.

    Returns
    -------
    Figure
        One points trace per cluster (named after the cluster, toggled in the legend), one trace per
        cluster holding its misclassified images, drawn last so they stay on top, one trace of cluster
        centres whose names are layout annotations, and (with labels) an empty trace whose legend
        entry explains the misclassified marker.

    Raises
    ------
    InvalidInputError
        If ``coords`` or ``centers`` has the wrong shape or non-finite values, ``layer_name`` is not a
        layer of ``paths`` (the message lists the layers), or ``class_names`` differs from the classes
        of ``paths``.

    Notes
    -----
    Each cluster gets the colour of the class that dominates it (the most frequent true class, or
    predicted class without labels; clusters sharing a dominant class get darker and lighter shades
    of it), so a colour means the same class here as in :func:`paths_figure`. Misclassified images
    are larger diamonds with a dark outline, drawn on top, and filled with the colour of their
    *true* class: an orange diamond inside a blue cluster is a meningioma image that the layer
    files among gliomas. Shape and outline mark them whatever the colours, also for colour-blind
    readers. Without true labels no point is marked.

    Up to :data:`WEBGL_THRESHOLD` images every trace is ``go.Scatter`` (SVG): it renders
    everywhere, including headless browsers started with ``--disable-gpu`` that may lack WebGL.
    Above it SVG gets slow to draw and to hover, so the points and centres become ``go.Scattergl``
    (a WebGL canvas covers SVG traces, so the centres must switch too); the centre names are
    annotations, which stay on top either way.

    Examples
    --------
    >>> import numpy as np
    >>> from layerlens.paths import build_paths
    >>> df = build_paths([np.array([0, 1, 1])], [["c1", "c2"]], [np.array([0, 1])], ["dense"],
    ...                  predicted=np.array([0, 1, 0]), confidence=np.array([0.9, 0.8, 0.7]),
    ...                  class_names=["a", "b"], true=np.array([0, 1, 1]))
    >>> fig = layer_figure(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), df, "dense", ["a", "b"])
    >>> [t.name for t in fig.data]
    ['c1', 'c2', 'c2 misclassified', 'cluster centres', 'misclassified (1)']
    """
    classes = _check_paths(paths, class_names)
    column = _layer_column(paths, layer_name)
    xy = np.asarray(coords)
    if xy.shape != (len(paths), 2) or not np.issubdtype(xy.dtype, np.number) or not np.isfinite(xy).all():
        raise InvalidInputError(
            f"coords: expected finite numbers of shape ({len(paths)}, 2) (one row per image in paths); "
            f"received {xy.dtype} of shape {xy.shape}."
        )
    n_clusters = len(column.cat.categories)
    if centers is not None:
        ctr = np.asarray(centers)
        numeric = np.issubdtype(ctr.dtype, np.number)
        if ctr.shape != (n_clusters, 2) or not numeric or not np.isfinite(ctr).all():
            raise InvalidInputError(
                f"centers: expected finite numbers of shape ({n_clusters}, 2) (one row per cluster of "
                f"{layer_name!r}); received {ctr.dtype} of shape {ctr.shape}."
            )
        centers = ctr.astype(np.float64)
    # float32 halves the figure's coordinate payload; a map needs no more precision.
    return _compute_layer_figure(xy.astype(np.float32), paths, layer_name, column, classes, centers, title)


def _compute_layer_figure(
    xy: np.ndarray,
    paths: pd.DataFrame,
    layer_name: str,
    column: pd.Series,
    classes: tuple[str, ...],
    centers: np.ndarray | None,
    title: str | None,
) -> go.Figure:
    """Build the map figure from validated input (see :func:`layer_figure`)."""
    codes = column.cat.codes.to_numpy(np.int64)
    names = [str(c) for c in column.cat.categories]
    labelled = _labelled(paths)
    wrong = _misclassified(paths, labelled)
    reference = paths["true" if labelled else "predicted"].cat.codes.to_numpy(np.int64)
    colours = _cluster_colours(codes, reference, len(names), len(classes))
    scatter = go.Scattergl if len(codes) > WEBGL_THRESHOLD else go.Scatter
    if centers is None:
        centers = np.array(
            [xy[codes == k].mean(axis=0) if (codes == k).any() else [np.nan, np.nan] for k in range(len(names))]
        )
    traces = _point_traces(xy, paths, codes, names, colours, wrong, classes, labelled, scatter)
    # WebGL points are drawn on a canvas above every SVG trace, so the centres must then be WebGL too.
    traces.append(_centre_trace(centers, names, scatter))
    annotations = _centre_labels(centers, names)
    if labelled:
        # An empty trace that only explains the diamonds in the legend.
        traces.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                hoverinfo="skip",
                name=f"misclassified ({int(wrong.sum())})",
                marker=_misclassified_marker("#ffffff", 10),
            )
        )
    main = (
        _esc(title)
        if title is not None
        else (f"Layer {_esc(layer_name)}: {len(codes)} images in {len(names)} clusters")
    )
    sub = (
        "colour = cluster, in the hue of its dominant class; ◆ = misclassified image, "
        "filled with the colour of its true class"
        if labelled
        else "colour = cluster, in the hue of its dominant predicted class (no true labels)"
    )
    axis = dict(
        zeroline=False,
        showgrid=True,
        gridcolor="#eeeeee",
        showline=True,
        linecolor="#999999",
        ticks="outside",
        automargin=True,
    )
    fig = go.Figure(data=traces)
    fig.update_layout(
        **_layout(
            f"{main}<br><span style='font-size:12px;color:#555555'>{sub}</span>",
            margin=dict(l=50, r=20, t=80, b=50),
            height=600,
            hovermode="closest",
            legend=dict(title=dict(text="cluster"), itemsizing="constant", x=1.01, y=1.0),
            xaxis=dict(title=dict(text="map dimension 1"), **axis),
            yaxis=dict(title=dict(text="map dimension 2"), **axis),
            annotations=annotations,
        )
    )
    return fig


def _cluster_colours(codes: np.ndarray, reference: np.ndarray, n_clusters: int, n_classes: int) -> list[str]:
    """One colour per cluster, in the hue of the class that dominates it.

    Cluster colours reuse the class colours of :func:`paths_figure`, so blue means the same class
    in every figure of a run; clusters sharing a dominant class get darker and lighter shades of it.
    The dominant class is the most frequent ``reference`` class in the cluster (ties: lowest index).
    """
    base = _class_colours(n_classes)
    dominant = [int(np.bincount(reference[codes == k], minlength=n_classes).argmax()) for k in range(n_clusters)]
    colours = [""] * n_clusters
    for c in range(n_classes):
        members = [k for k in range(n_clusters) if dominant[k] == c]
        shades = np.linspace(-0.35, 0.45, len(members)) if len(members) > 1 else [0.0] * len(members)
        for k, t in zip(members, shades, strict=True):
            colours[k] = _mix_black(base[c], -t) if t < 0 else _mix_white(base[c], t)
    return colours


def _point_traces(
    xy: np.ndarray,
    paths: pd.DataFrame,
    codes: np.ndarray,
    names: list[str],
    colours: list[str],
    wrong: np.ndarray,
    classes: tuple[str, ...],
    labelled: bool,
    scatter: type,
) -> list:
    """One trace of correctly classified (or unlabelled) points per cluster, then one of misclassified
    points per cluster, so the misclassified ones are drawn on top; each pair shares a legend entry."""
    hover = _point_hover(paths, names, codes, classes, labelled)
    n = len(codes)
    # Smaller markers as the map fills up, so clusters stay readable at thousands of points.
    size = 7 if n <= 1000 else 5 if n <= 3000 else 4
    true_colours = np.array(_class_colours(len(classes)), dtype=object)
    true = paths["true"].cat.codes.to_numpy(np.int64)
    points, misclassified = [], []
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        for is_wrong, bucket in ((False, points), (True, misclassified)):
            idx = np.flatnonzero((codes == k) & (wrong == is_wrong))
            if is_wrong and idx.size == 0:
                continue
            marker = (
                _misclassified_marker(list(true_colours[true[idx]]), size + (4 if n <= 3000 else 3))
                if is_wrong
                else dict(symbol="circle", size=size, color=colour, opacity=0.8, line=dict(width=0.5, color="white"))
            )
            bucket.append(
                scatter(
                    x=xy[idx, 0],
                    y=xy[idx, 1],
                    mode="markers",
                    name=_esc(name) + (" misclassified" if is_wrong else ""),
                    legendgroup=f"cluster-{k}",
                    showlegend=not is_wrong,
                    hovertext=hover[idx],
                    hoverinfo="text",
                    marker=marker,
                )
            )
    return points + misclassified


def _misclassified_marker(colour: str | list[str], size: int) -> dict:
    """Marker of a misclassified image: a diamond with a dark outline."""
    return dict(symbol="diamond", size=size, color=colour, opacity=1.0, line=dict(width=1.2, color=_MISCLASSIFIED_EDGE))


def _centre_trace(centers: np.ndarray, names: list[str], scatter: type) -> go.Scatter | go.Scattergl:
    """Cluster centres as crosses; their names are annotations (see :func:`_centre_labels`)."""
    return scatter(
        x=centers[:, 0],
        y=centers[:, 1],
        mode="markers",
        name="cluster centres",
        hovertext=[f"centre of {_esc(n)}" for n in names],
        hoverinfo="text",
        marker=dict(symbol="x", size=12, color="#111111", line=dict(width=1, color="white")),
    )


def _centre_labels(centers: np.ndarray, names: list[str]) -> list[dict]:
    """Escaped cluster names above their centres; annotations stay on top of SVG and WebGL points alike,
    and their white box keeps them readable over a dense cluster."""
    return [
        dict(
            x=float(x),
            y=float(y),
            text=_esc(name),
            showarrow=False,
            yshift=16,
            font=dict(size=12, color="#111111"),
            bgcolor="rgba(255,255,255,0.8)",
            borderpad=2,
        )
        for (x, y), name in zip(centers, names, strict=True)
        if np.isfinite([x, y]).all()
    ]


def _point_hover(
    paths: pd.DataFrame, names: list[str], codes: np.ndarray, classes: tuple[str, ...], labelled: bool
) -> np.ndarray:
    """Hover text of every image: index, true and predicted class, confidence, cluster (all escaped)."""
    esc_classes = np.array([_esc(c) for c in classes] + ["unknown"], dtype=object)
    esc_clusters = np.array([_esc(n) for n in names], dtype=object)
    true = paths["true"].cat.codes.to_numpy(np.int64)  # -1 (unknown) picks "unknown"
    pred = paths["predicted"].cat.codes.to_numpy(np.int64)
    conf = paths["confidence"].to_numpy(np.float64)
    correct = paths["correct"].to_numpy(dtype=bool, na_value=True)
    return np.array(
        [
            f"<b>image {i}</b>{'' if ok or not labelled else ' · misclassified'}<br>"
            f"true: {esc_classes[t]}<br>predicted: {esc_classes[p]} ({c:.0%})<br>cluster: {esc_clusters[k]}"
            for i, t, p, c, k, ok in zip(paths.index, true, pred, conf, codes, correct, strict=True)
        ],
        dtype=object,
    )


# --------------------------------------------------------------------------------------------- separability


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
    x = [_esc(n) for n in layers]
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
        **_layout(
            _esc(title) if title is not None else "Class separability by depth",
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
