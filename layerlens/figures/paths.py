"""The paths diagram: every image's path through the per-layer clusters, as parallel categories."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from layerlens._util.validation import check_int
from layerlens.exceptions import InvalidInputError
from layerlens.figures._ribbons import Folded, fold_rare_paths, order_categories
from layerlens.figures._style import (
    DARK,
    FONT,
    PALE,
    check_paths,
    class_colours,
    esc,
    is_labelled,
    layer_column,
    layout,
    misclassified_mask,
    mix_black,
    mix_white,
    probe_mask,
)

__all__ = ["COLOUR_BY", "DOUBT_BANDS", "PATHS_WIDTH", "paths_figure", "paths_figure_rows"]

#: What the ribbons of :func:`paths_figure` can be coloured by.
COLOUR_BY: tuple[str, ...] = ("class", "doubt")
#: Upper edges of the doubt bands of ``colour_by="doubt"`` (the last band reaches 1).
DOUBT_BANDS: tuple[float, ...] = (0.25, 0.5, 0.75)

#: Category labels of the paths figure are shortened to fit this width (px), a typical page width;
#: narrower pages may overlap long labels, wider ones have room to spare (exports use it).
PATHS_WIDTH = 1200
_CHAR_PX = 6.3  # mean width of a character of the 11 px label font
_MAX_MARGIN = 260
# Appended to the label of a layer that runs beside the previous one instead of after it.
_PARALLEL_MARK = " ∥"
# Appended to the label of a layer whose clusters carry no class information (LayerClusters.carries_class_information).
_UNINFORMATIVE_MARK = " ○"
# The ribbon of the images on rare paths: a grey that no class colour takes.
_OTHER_COLOUR = "#9e9e9e"
# The ribbon of the probes (images of no class): near black, far from every class colour.
_PROBE_COLOUR = "#262626"
# One colour per doubt band, from trusted (blue) to doubtful (dark red).
_DOUBT_COLOURS = ("#9ecae1", "#fdd49e", "#fc8d59", "#b30000")


def paths_figure(
    paths: pd.DataFrame,
    layer_names: Sequence[str],
    class_names: Sequence[str],
    *,
    parallel: Sequence[bool] | None = None,
    uninformative: Sequence[bool] | None = None,
    min_share: float = 0.005,
    max_ribbons: int = 30,
    colour_by: str = "class",
    title: str | None = None,
) -> go.Figure:
    """Draw every image's path through the per-layer clusters as a parallel-categories diagram.

    Parameters
    ----------
    paths : DataFrame
        As returned by :func:`layerlens.paths._table.build_paths` (N rows).
    layer_names : sequence of str
        Layers to draw, left to right; each a layer column of ``paths``.
    class_names : sequence of K str
        Names of the classes, equal to the categories of ``paths["predicted"]``.
    parallel : sequence of bool, optional
        One per layer: True when the layer does not receive the output of the layer drawn before it
        (the two sit in parallel branches of the network). Such a layer's label ends in " ∥" and the
        subtitle says what the mark means, so the ribbons into it are not read as one layer feeding
        the next. Default: no layer is parallel.
    uninformative : sequence of bool, optional
        One per layer: True when the layer's clusters carry no class information (``not
        LayerClusters.carries_class_information``). Such a layer keeps its axis, but its label ends
        in " ○" and the subtitle says the mark means its clusters follow something else than the
        classes (such as intensity), so its splits are not read as steps towards the decision.
        Default: no layer is marked.
    min_share : float, default=0.005
        Paths that hold fewer than this share of the images are folded into one grey "other"
        category per layer, so the diagram stays readable at any number of clusters; 0 keeps every
        path that fits ``max_ribbons``.
    max_ribbons : int, default=30
        Most ribbons drawn between two neighbouring axes (a ribbon per pair of categories, striped by
        the colours of its images); common paths are kept until it is reached, the "other" ribbons
        included. With more than ``max_ribbons // 2`` predicted classes, the ribbons into the
        prediction axis may exceed it by the classes beyond that.
    colour_by : {"class", "doubt"}, default="class"
        ``"class"``: ribbons in the colour of the true class (see Notes), probes (rows whose
        ``probe`` is True) in near black. ``"doubt"``: in the colour of the image's doubt (a
        ``doubt`` column, as an analysis' paths table has), in the bands of :data:`DOUBT_BANDS`
        from blue (trusted) to dark red; the paths of doubtful images (0.5 or more) are then kept
        from folding as misclassified ones are.
    title : str, optional
        Plain-text title (escaped); by default one that says how many images and layers are drawn.

    Returns
    -------
    Figure
        One ``go.Parcats`` trace with a dimension per layer, titled with its number of clusters
        (categories: the clusters, ordered to reduce crossings, and "other" last when paths were
        folded) and a last dimension ``"prediction"`` (the predicted classes, in class order), plus
        empty scatter traces that only provide the legend.

    Raises
    ------
    InvalidInputError
        If ``paths`` lacks a column, ``layer_names`` is empty or names a column that is not a layer,
        ``parallel`` or ``uninformative`` does not hold one bool per layer, ``min_share`` is not in
        [0, 1), ``max_ribbons`` is below 2, ``class_names`` differs from the classes of ``paths``,
        or ``colour_by`` is unknown or ``"doubt"`` for a table without a ``doubt`` column.

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
    figure's size grows with the number of distinct paths, not with N. Rare paths are folded into
    "other" (see ``min_share``), and the categories of each axis are ordered by the barycentre
    heuristic of layered graph drawing (K. Sugiyama, S. Tagawa and M. Toda, "Methods for Visual
    Understanding of Hierarchical System Structures", IEEE SMC 11(2), 1981), which lets ribbons
    cross less than cluster order does.

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
    >>> from layerlens.paths._table import build_paths
    >>> df = build_paths([np.array([0, 1, 1])], [["c1", "c2"]], [np.array([0, 1])], ["dense"],
    ...                  predicted=np.array([0, 1, 0]), confidence=np.array([0.9, 0.8, 0.7]),
    ...                  class_names=["a", "b"], true=np.array([0, 1, 1]))
    >>> fig = paths_figure(df, ["dense"], ["a", "b"])
    >>> len(fig.data[0].dimensions)
    2
    """
    classes = check_paths(paths, class_names)
    if isinstance(layer_names, str) or len(layer_names) == 0:
        raise InvalidInputError(f"layer_names: expected a non-empty sequence of layer names; received {layer_names!r}.")
    layers = {name: layer_column(paths, name, "layer_names") for name in layer_names}
    marks = _Marks(
        _layer_flags(parallel, "parallel", len(layers)), _layer_flags(uninformative, "uninformative", len(layers))
    )
    real = isinstance(min_share, (int, float, np.floating, np.integer)) and not isinstance(min_share, bool)
    if not real or not 0.0 <= float(min_share) < 1.0:
        raise InvalidInputError(f"min_share: expected a share in [0, 1); received {min_share!r}.")
    max_ribbons = check_int(max_ribbons, "max_ribbons", minimum=2)
    folding = (float(min_share), max_ribbons)
    scheme = _colour_scheme(paths, classes, colour_by)
    return _compute_paths_figure(paths, layers, classes, marks, folding, scheme, title)


def _layer_flags(flags: Sequence[bool] | None, name: str, n_layers: int) -> tuple[bool, ...]:
    """One bool per layer (all False by default), or an error naming ``name``."""
    values = [False] * n_layers if flags is None else list(flags) if isinstance(flags, Iterable) else []
    if len(values) != n_layers or not all(isinstance(f, (bool, np.bool_)) for f in values):
        raise InvalidInputError(
            f"{name}: expected {n_layers} bools (one per layer in layer_names); received {flags!r}."
        )
    return tuple(bool(f) for f in values)


def paths_figure_rows(
    paths: pd.DataFrame,
    layer_names: Sequence[str],
    class_names: Sequence[str],
    *,
    min_share: float = 0.005,
    max_ribbons: int = 30,
    colour_by: str = "class",
) -> np.ndarray:
    """The row of the paths diagram's ``Parcats`` trace that draws each image.

    The diagram groups images with the same path, prediction and colour into one row of its trace
    (with their ``counts``), and folds rare paths into "other". Click and hover events on the
    diagram report rows (``points[].pointNumber``); this says which images those rows hold.

    Parameters
    ----------
    paths, layer_names, class_names, min_share, max_ribbons, colour_by
        As for :func:`paths_figure`, which must be called with the same values. Its ``parallel``
        and ``uninformative`` marks only change labels, not rows, so they are not needed here.

    Returns
    -------
    ndarray of shape (N,), int64
        For each image (row of ``paths``), the index of its row in ``fig.data[0]``.
    """
    classes = check_paths(paths, class_names)
    layers = {name: layer_column(paths, name, "layer_names") for name in layer_names}
    folded, keys = _folded_paths(
        layers,
        _colour_scheme(paths, classes, colour_by),
        paths["predicted"].cat.codes.to_numpy(np.int64),
        (float(min_share), check_int(max_ribbons, "max_ribbons", minimum=2)),
    )
    drawn = pd.MultiIndex.from_frame(folded.grouped.drop(columns="count"))
    layer_cols = [f"d{i}" for i in range(len(layers))]
    kept = pd.MultiIndex.from_frame(keys).isin(drawn)
    keys.loc[~kept, layer_cols] = np.array(folded.other_code, dtype=np.int64)
    keys.loc[~kept, "colour"] = folded.other_colour
    return drawn.get_indexer(pd.MultiIndex.from_frame(keys)).astype(np.int64)


def _compute_paths_figure(
    paths: pd.DataFrame,
    layers: dict[str, pd.Series],
    classes: tuple[str, ...],
    marks: _Marks,
    folding: tuple[float, int],
    scheme: _Scheme,
    title: str | None,
) -> go.Figure:
    """Build the parallel-categories figure from validated input (see :func:`paths_figure`)."""
    n_classes = len(classes)
    colours = list(scheme.colours)
    folded, _ = _folded_paths(layers, scheme, paths["predicted"].cat.codes.to_numpy(np.int64), folding)
    grouped = folded.grouped
    if folded.n_images:
        colours = [*colours, _OTHER_COLOUR]
    order = order_categories(grouped, len(layers), folded.other_code)
    dimensions = _paths_dimensions(grouped, layers, classes, marks, order, folded)
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
        labelfont=dict(size=13, family=FONT),
        tickfont=dict(size=11, family=FONT),
        domain=dict(x=[0.0, 1.0], y=[0.0, 1.0]),
    )
    fig = go.Figure(data=[trace, *_paths_legend(classes, scheme, folded.n_images)])
    heading = _paths_title(title, scheme, len(layers), marks, folded)
    legend_rows = 22 * min(n_classes, 8)
    fig.update_layout(
        **layout(
            heading,
            margin=dict(
                l=_label_width(dimensions[0].ticktext),
                r=_label_width(dimensions[-1].ticktext) + 30,
                t=74 + 16 * heading.count("<br>"),
                b=40 + legend_rows,
            ),
            height=max(460, 60 + 40 * max(len(d.ticktext) for d in dimensions)) + legend_rows,
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


@dataclass(frozen=True)
class _Marks:
    """Per layer: does it run beside the layer before (``parallel``), do its clusters carry no class information."""

    parallel: tuple[bool, ...]
    uninformative: tuple[bool, ...]


@dataclass(frozen=True)
class _Scheme:
    """How the ribbons are coloured: a colour per colour value, and each image's value."""

    mode: str
    colours: tuple[str, ...]
    values: np.ndarray  # colour value of each image
    flagged: np.ndarray  # per colour value: its paths are offered to folding as misclassified ones are
    labelled: bool
    n_flagged: int  # images misclassified ("class") or in doubt ("doubt")
    n_images: int
    n_probes: int


def _colour_scheme(paths: pd.DataFrame, classes: tuple[str, ...], colour_by: object) -> _Scheme:
    """The colours of :func:`paths_figure`'s ``colour_by`` (checked here)."""
    if not isinstance(colour_by, str) or colour_by not in COLOUR_BY:
        raise InvalidInputError(f"colour_by: expected one of {COLOUR_BY}; received {colour_by!r}.")
    labelled = is_labelled(paths)
    probes = probe_mask(paths)
    n_probes = int(probes.sum())
    if colour_by == "doubt":
        if "doubt" not in paths.columns:
            raise InvalidInputError(
                "colour_by: 'doubt' needs a doubt column in paths (an analysis' paths table has one); "
                f"the columns are {list(paths.columns)}."
            )
        doubt = paths["doubt"].to_numpy(np.float64, na_value=0.0)
        values = np.digitize(doubt, DOUBT_BANDS).astype(np.int64)
        flagged = np.arange(len(_DOUBT_COLOURS)) >= np.searchsorted(DOUBT_BANDS, 0.5) + 1
        n_flagged = int(flagged[values].sum())
        return _Scheme("doubt", _DOUBT_COLOURS, values, flagged, labelled, n_flagged, len(paths) - n_probes, n_probes)
    n_classes = len(classes)
    base = class_colours(n_classes)
    wrong = misclassified_mask(paths, labelled)
    if labelled:
        # Misclassified ribbons are also darkened a little: plotly draws every ribbon at 60 % opacity,
        # which would otherwise bring the strong colours too close to the pale ones.
        colours = [mix_white(c, PALE) for c in base] + [mix_black(c, DARK) for c in base]
        values = np.where(probes, 0, paths["true"].cat.codes.to_numpy(np.int64) + n_classes * wrong)
    else:
        colours = list(base)
        values = paths["predicted"].cat.codes.to_numpy(np.int64).copy()
    flagged = np.arange(len(colours)) >= n_classes if labelled else np.zeros(len(colours), dtype=bool)
    if n_probes:
        values[probes] = len(colours)
        colours.append(_PROBE_COLOUR)
        flagged = np.append(flagged, True)  # the few probes' paths are what the diagram is read for too
    n_images = len(paths) - n_probes
    return _Scheme("class", tuple(colours), values, flagged, labelled, int(wrong.sum()), n_images, n_probes)


def _folded_paths(
    layers: dict[str, pd.Series], scheme: _Scheme, predicted: np.ndarray, folding: tuple[float, int]
) -> tuple[Folded, pd.DataFrame]:
    """The rows the diagram draws (rare paths folded into "other"), and every image's row key before folding.

    A row key is an image's cluster in each layer (``d0`` ...), its prediction and its colour value.
    """
    columns = {f"d{i}": col.cat.codes.to_numpy(np.int64) for i, col in enumerate(layers.values())}
    keys = pd.DataFrame({**columns, "prediction": predicted, "colour": scheme.values})
    grouped = keys.groupby(list(keys.columns), sort=True).size().reset_index(name="count")
    folded = fold_rare_paths(
        grouped,
        len(layers),
        n_categories=[len(col.cat.categories) for col in layers.values()],
        other_colour=len(scheme.colours),
        wrong_colours=np.append(scheme.flagged, False),
        min_share=folding[0],
        max_ribbons=folding[1],
    )
    return folded, keys


def _paths_dimensions(
    grouped: pd.DataFrame,
    layers: dict[str, pd.Series],
    classes: tuple[str, ...],
    marks: _Marks,
    order: list[list[int]],
    folded: Folded,
) -> list[go.parcats.Dimension]:
    """One dimension per layer, then ``"prediction"``; inner labels shortened to fit between dimensions."""
    other = f"other: {folded.n_images} on rare paths"
    names = [[*col.cat.categories, other] for col in layers.values()] + [list(classes)]
    codes = [grouped[f"d{i}"].to_numpy() for i in range(len(layers))] + [grouped["prediction"].to_numpy()]
    orders = [*order, sorted(int(c) for c in np.unique(codes[-1]))]
    # The labels of dimension i sit between dimensions i - 1 and i; the first and last ones in the margins.
    edge_chars = int((_MAX_MARGIN - 16) / _CHAR_PX)
    outer = _label_width([esc(n) for n in names[0]]) + _label_width([esc(n) for n in names[-1]]) + 30
    gap = (PATHS_WIDTH - outer) / max(len(layers), 1)
    inner_chars = max(8, int((gap - 34) / _CHAR_PX))
    # Dimension titles are centred over their bar in a 13 px font (about 7.4 px a character).
    title_chars = max(8, int(gap / 7.4))
    labels = []
    for name, col, side_by_side, no_information in zip(
        layers, layers.values(), marks.parallel, marks.uninformative, strict=True
    ):
        k = f" (k={len(col.cat.categories)})"
        mark = (_UNINFORMATIVE_MARK if no_information else "") + (_PARALLEL_MARK if side_by_side else "")
        labels.append(_shorten(str(name), title_chars - len(k) - len(mark)) + k + mark)
    labels.append("prediction")
    return [
        _parcats_dimension(label, c, o, n, edge_chars if i in (0, len(labels) - 1) else inner_chars)
        for i, (label, c, o, n) in enumerate(zip(labels, codes, orders, names, strict=True))
    ]


def _parcats_dimension(
    label: str, codes: np.ndarray, order: list[int], names: list[str], max_chars: int
) -> go.parcats.Dimension:
    """A dimension listing the categories that occur, in the given order, labelled with escaped names.

    ``label`` stays raw: plotly writes dimension labels as plain text, so escaping would show.
    """
    return go.parcats.Dimension(
        label=label,
        values=codes.astype(np.int32),
        categoryorder="array",
        categoryarray=[int(c) for c in order],
        ticktext=[esc(_shorten(str(names[c]), max_chars)) for c in order],
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


def _paths_legend(classes: tuple[str, ...], scheme: _Scheme, n_folded: int) -> list[go.Scatter]:
    """Empty scatter traces whose only job is a legend: parcats traces have none."""
    if scheme.mode == "doubt":
        edges = (0.0, *DOUBT_BANDS, 1.0)
        groups = [
            (
                "doubt of the prediction",
                [(f"{lo:.0%}–{hi:.0%}", colour) for lo, hi, colour in zip(edges[:-1], edges[1:], scheme.colours)],
            )
        ]
    else:
        group_title = "true class" if scheme.labelled else "predicted class (no true labels)"
        groups = [(group_title, [(esc(name), colour) for name, colour in zip(classes, class_colours(len(classes)))])]
    shades = []
    if scheme.mode == "class" and scheme.labelled:
        shades = [
            ("pale: correct", mix_white("#555555", PALE)),
            (f"strong: misclassified ({scheme.n_flagged})", "#555555"),
        ]
    if scheme.mode == "class" and scheme.n_probes:
        shades.append((f"near black: probes ({scheme.n_probes})", _PROBE_COLOUR))
    if n_folded:
        shades.append((f"grey: rare paths ({n_folded})", _OTHER_COLOUR))
    if shades:
        groups.append(("ribbon shade", shades))
    return [
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=name,
            hoverinfo="skip",
            marker=dict(symbol="square", size=13, color=colour),
            legendgroup=f"group-{g}",
            legendgrouptitle=dict(text=group) if i == 0 else None,
        )
        for g, (group, entries) in enumerate(groups)
        for i, (name, colour) in enumerate(entries)
    ]


def _paths_title(title: str | None, scheme: _Scheme, n_layers: int, marks: _Marks, folded: Folded) -> str:
    """Escaped title with a subtitle that says what the colours, the grey ribbon and the layer marks mean."""
    n = scheme.n_images
    probes = f" and {scheme.n_probes} probes" if scheme.n_probes else ""
    main = esc(title) if title is not None else f"Paths of {n} images{probes} through {n_layers} layers"
    if scheme.mode == "doubt":
        sub = f"colour = doubt of the prediction; {scheme.n_flagged} of {n + scheme.n_probes} in doubt (50% or more)"
    elif scheme.labelled:
        sub = f"colour = true class; strong colour = misclassified ({scheme.n_flagged} of {n})"
    else:
        sub = "colour = predicted class (no true labels, so misclassified images are unknown)"
    if scheme.mode == "class" and scheme.n_probes:
        sub += f"; near black = probes ({scheme.n_probes})"
    if folded.n_images:
        marked = " in doubt" if scheme.mode == "doubt" else " misclassified" + (" or probes" if scheme.n_probes else "")
        wrong = f", {folded.n_wrong} of them{marked}" if scheme.mode == "doubt" or scheme.labelled else ""
        sub += f"<br>grey = {folded.n_images} images on {folded.n_paths} rare paths, folded into 'other'{wrong}"
    if any(marks.parallel):
        sub += f"<br>{_PARALLEL_MARK.strip()} = a parallel branch: it runs beside the layer to its left, not after it"
    if any(marks.uninformative):
        sub += (
            f"<br>{_UNINFORMATIVE_MARK.strip()} = the layer's clusters carry no class information: "
            "they follow something else, such as intensity"
        )
    return f"{main}<br><span style='font-size:12px;color:#555555'>{sub}</span>"


def _label_width(labels: Sequence[str]) -> int:
    """Margin in pixels wide enough for the longest (unescaped) label at 11 px, at most ``_MAX_MARGIN``."""
    longest = max((len(html.unescape(t)) for t in labels), default=0)
    return int(min(_MAX_MARGIN, max(40, 16 + _CHAR_PX * longest)))
