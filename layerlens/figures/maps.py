"""The 2-D map of one layer: images coloured by cluster, misclassified ones marked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from layerlens.exceptions import InvalidInputError
from layerlens.figures._style import (
    MISCLASSIFIED_EDGE,
    MIXED_COLOUR,
    check_paths,
    class_colours,
    esc,
    is_labelled,
    layer_column,
    layout,
    misclassified_mask,
    mix_black,
    mix_white,
    palette,
    probe_mask,
)
from layerlens.paths import check_cluster_classes

__all__ = ["DOUBT_MARKED", "MAX_COLOUR_GROUPS", "WEBGL_THRESHOLD", "colour_groups", "layer_figure", "metadata_columns"]

#: Above this many images :func:`layer_figure` draws points with WebGL (``go.Scattergl``).
WEBGL_THRESHOLD = 5000
#: A map coloured by a metadata column gives this many values a colour of their own at most.
MAX_COLOUR_GROUPS = 10
#: Colour-blind-safe qualitative colours (CARTO's "Safe", as plotly ships it, without its grey).
GROUP_COLOURS = tuple(plotly.colors.qualitative.Safe[:-1])
OTHER_COLOUR = "#888888"
MISSING_COLOUR = "#c8c8c8"
#: Images whose doubt (a ``doubt`` column of the paths table) is at least this get a ring on the map.
DOUBT_MARKED = 0.5


def layer_figure(
    coords: np.ndarray,
    paths: pd.DataFrame,
    layer_name: str,
    class_names: Sequence[str],
    *,
    centers: np.ndarray | None = None,
    title: str | None = None,
    colour_by: str | None = None,
    cluster_classes: np.ndarray | None = None,
    webgl: bool | None = None,
) -> go.Figure:
    """Draw the 2-D map of one layer, points coloured by cluster, misclassified and doubtful images marked.

    Images whose ``doubt`` (when ``paths`` has the column, as an analysis' paths table does) is at
    least :data:`DOUBT_MARKED` get an orange ring. Probes (rows whose ``probe`` is True) are drawn
    as black stars above the images; they take no part in the cluster colours and centres.

    Parameters
    ----------
    coords : ndarray of shape (N, 2), float
        Map position of every image in this layer (row ``i`` is image ``i`` of ``paths``).
    paths : DataFrame
        As returned by :func:`layerlens.paths._table.build_paths` (N rows).
    layer_name : str
        The layer to draw; a layer column of ``paths``.
    class_names : sequence of K str
        Names of the classes, equal to the categories of ``paths["predicted"]``.
    centers : ndarray of shape (k, 2), float, optional
        Map position of each of the layer's k clusters (e.g. the k-means centres projected with the
        same map). By default the mean position of the cluster's images.
    title : str, optional
        Plain-text title (escaped); by default ``"Layer <name>: N images in k clusters"``.
    colour_by : str, optional
        A metadata column of ``paths`` (scanner, site, sex, ...) to colour the points by instead of
        their cluster: one colour per value (:func:`colour_groups`: the most frequent
        :data:`MAX_COLOUR_GROUPS` values, the rest together as "other"); misclassified images stay
        diamonds with a dark outline, the cluster centres and names stay. A site whose images sit
        apart from the others in a layer shows as a patch of one colour.
    cluster_classes : ndarray of shape (k,), int, optional
        The class each of the layer's k clusters is named after, in ``-1 .. K - 1``: the class that
        leads it (``LayerClusters.leading``), -1 for a mixed cluster. Each cluster is then drawn in
        the colour of its name, whatever images this map shows (see Notes). Default: the class that
        dominates the cluster among the images drawn, as before clusters could be mixed.
    webgl : bool, optional
        Draw the points with WebGL (``go.Scattergl``) or SVG (``go.Scatter``); by default WebGL above
        :data:`WEBGL_THRESHOLD` points (see Notes).

    Returns
    -------
    Figure
        One points trace per cluster (named after the cluster, toggled in the legend), one trace per
        cluster holding its misclassified images, drawn last so they stay on top, one trace of cluster
        centres whose names are layout annotations, and (with labels) an empty trace whose legend
        entry explains the misclassified marker. Every point carries its image's number (the index
        of ``paths``) as ``customdata``, for pages that show the image on hover.

    Raises
    ------
    InvalidInputError
        If ``coords`` or ``centers`` has the wrong shape or non-finite values, ``layer_name`` is not a
        layer of ``paths`` (the message lists the layers), ``class_names`` differs from the classes
        of ``paths``, ``colour_by`` is not a metadata column of ``paths`` (the message lists them), or
        ``cluster_classes`` is not k integers in -1..K-1.

    Notes
    -----
    Each cluster gets the colour of its class (clusters sharing one get darker and lighter shades
    of it), so a colour means the same class here as in :func:`paths_figure`. With
    ``cluster_classes`` that is the class the cluster is named after; mixed clusters are grey
    (several in distinct shades of grey), and the subtitle says so. The names come from the set the
    clusters were fitted on (a reference set, say), which need not be the images drawn, so only
    ``cluster_classes`` keeps colour and name in agreement: a cluster named after glioma is drawn in
    glioma's colour even where the analysed images in it are mostly of another class. Without it a
    cluster takes the colour of its most frequent class among the images drawn (true class, or
    predicted class without labels). Misclassified images
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
    >>> from layerlens.paths._table import build_paths
    >>> df = build_paths([np.array([0, 1, 1])], [["c1", "c2"]], [np.array([0, 1])], ["dense"],
    ...                  predicted=np.array([0, 1, 0]), confidence=np.array([0.9, 0.8, 0.7]),
    ...                  class_names=["a", "b"], true=np.array([0, 1, 1]))
    >>> fig = layer_figure(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), df, "dense", ["a", "b"])
    >>> [t.name for t in fig.data]
    ['c1', 'c2', 'c2 misclassified', 'cluster centres', 'misclassified (1)']
    >>> fig = layer_figure(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), df, "dense", ["a", "b"],
    ...                    cluster_classes=np.array([0, -1]))
    >>> [t.marker.color for t in fig.data[:2]]
    ['#1f77b4', '#8c8c8c']
    """
    classes = check_paths(paths, class_names)
    column = layer_column(paths, layer_name)
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
    if colour_by is not None:
        columns = metadata_columns(paths)
        if colour_by not in columns:
            raise InvalidInputError(
                f"colour_by: expected one of the metadata columns of paths {columns}; received {colour_by!r}."
            )
    if cluster_classes is not None:
        cluster_classes = check_cluster_classes(
            cluster_classes, "cluster_classes", n_clusters=n_clusters, n_classes=len(classes)
        )
    # float32 halves the figure's coordinate payload; a map needs no more precision.
    return _compute_layer_figure(
        xy.astype(np.float32), paths, layer_name, column, classes, centers, title, colour_by, cluster_classes, webgl
    )


def metadata_columns(paths: pd.DataFrame) -> list[str]:
    """The columns of a paths table that came from the images' metadata (not layers nor fixed columns)."""
    from layerlens.paths import FIXED_COLUMNS, layer_columns

    taken = {*FIXED_COLUMNS, *layer_columns(paths), "probe"}
    return [str(c) for c in paths.columns if c not in taken]


def colour_groups(values: pd.Series | Sequence) -> tuple[np.ndarray, list[str], list[str]]:
    """The groups a metadata column colours a map by: each row's group, the groups' names and colours.

    Up to :data:`MAX_COLOUR_GROUPS` values each keep a colour of their own, in order of frequency (ties by
    name); with more, the ``MAX_COLOUR_GROUPS - 1`` most frequent do and the rest share "(n other values)";
    missing values are "(missing)". Those two are grey and come last.
    """
    series = pd.Series(values, dtype=object).reset_index(drop=True)
    missing = series.isna().to_numpy()
    text = series.where(~missing, "").astype(str)
    counts = text[~missing].value_counts()
    ranked = sorted(counts.index, key=lambda v: (-counts[v], v))
    own = ranked if len(ranked) <= MAX_COLOUR_GROUPS else ranked[: MAX_COLOUR_GROUPS - 1]
    names = list(own)
    colours = palette(len(own), GROUP_COLOURS)
    position = {value: i for i, value in enumerate(own)}
    codes = np.array([position.get(v, -1) for v in text], dtype=np.int64)
    rest = (codes == -1) & ~missing
    if rest.any():
        codes[rest] = len(names)
        names.append(f"({len(ranked) - len(own)} other values)")
        colours.append(OTHER_COLOUR)
    if missing.any():
        codes[missing] = len(names)
        names.append("(missing)")
        colours.append(MISSING_COLOUR)
    return codes, names, colours


def _compute_layer_figure(
    xy: np.ndarray,
    paths: pd.DataFrame,
    layer_name: str,
    column: pd.Series,
    classes: tuple[str, ...],
    centers: np.ndarray | None,
    title: str | None,
    colour_by: str | None = None,
    cluster_classes: np.ndarray | None = None,
    webgl: bool | None = None,
) -> go.Figure:
    """Build the map figure from validated input (see :func:`layer_figure`)."""
    all_codes = column.cat.codes.to_numpy(np.int64)
    names = [str(c) for c in column.cat.categories]
    labelled = is_labelled(paths)
    probes = probe_mask(paths)
    images = ~probes
    codes = all_codes[images]
    wrong = misclassified_mask(paths, labelled)[images]
    reference = paths["true" if labelled else "predicted"].cat.codes.to_numpy(np.int64)[images]
    cluster_given = cluster_classes is not None
    if cluster_classes is None:
        cluster_classes = _dominant_classes(codes, reference, len(names), len(classes))
    colours = _cluster_colours(cluster_classes, len(classes))
    if webgl is None:
        webgl = len(all_codes) > WEBGL_THRESHOLD
    scatter = go.Scattergl if webgl else go.Scatter
    if centers is None:
        own = xy[images]
        centers = np.array(
            [own[codes == k].mean(axis=0) if (codes == k).any() else [np.nan, np.nan] for k in range(len(names))]
        )
    hover = _point_hover(paths[images], names, codes, classes, labelled)
    if colour_by is None:
        groups, group_names, group_colours = codes, names, colours
    else:
        values = paths[colour_by][images]
        groups, group_names, group_colours = colour_groups(values)
        said = ["(missing)" if pd.isna(v) else esc(str(v)) for v in values]  # the value itself, also in "other"
        hover = np.array([f"{h}<br>{esc(colour_by)}: {v}" for h, v in zip(hover, said, strict=True)], dtype=object)
    traces = _point_traces(
        xy[images], paths[images], groups, group_names, group_colours, wrong, classes, hover, scatter,
        fill_wrong_by_class=colour_by is None,
    )  # fmt: skip
    if probes.any():
        traces.append(_probe_trace(xy[probes], paths[probes], all_codes[probes], names, classes, scatter))
    if "doubt" in paths.columns:
        traces.extend(_doubt_rings(xy, paths["doubt"].to_numpy(np.float64), scatter))
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
    probed = f" and {int(probes.sum())} probes" if probes.any() else ""
    main = (
        esc(title)
        if title is not None
        else f"Layer {esc(layer_name)}: {len(codes)} images{probed} in {len(names)} clusters"
    )
    sub = _colour_note(labelled, named=cluster_given, mixed=bool((cluster_classes < 0).any()))
    if colour_by is not None:
        sub = f"colour = {esc(colour_by)}; × = cluster centre" + ("; ◆ = misclassified image" if labelled else "")
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
        **layout(
            f"{main}<br><span style='font-size:12px;color:#555555'>{sub}</span>",
            margin=dict(l=50, r=20, t=80, b=50),
            height=600,
            hovermode="closest",
            legend=dict(
                title=dict(text="cluster" if colour_by is None else esc(colour_by)),
                itemsizing="constant",
                x=1.01,
                y=1.0,
            ),
            xaxis=dict(title=dict(text="map dimension 1"), **axis),
            yaxis=dict(title=dict(text="map dimension 2"), **axis),
            annotations=annotations,
        )
    )
    return fig


def _doubt_rings(xy: np.ndarray, doubt: np.ndarray, scatter: type) -> list:
    """A ring around every image in doubt (:data:`DOUBT_MARKED` or more), or nothing when there is none."""
    doubtful = doubt >= DOUBT_MARKED
    if not doubtful.any():
        return []
    return [
        scatter(
            x=xy[doubtful, 0],
            y=xy[doubtful, 1],
            mode="markers",
            name=f"doubt ≥ {DOUBT_MARKED:.0%} ({int(doubtful.sum())})",
            marker=dict(symbol="circle-open", size=15, color="#f5a623", line=dict(width=2)),
            hoverinfo="skip",
        )
    ]


def _colour_note(labelled: bool, *, named: bool, mixed: bool) -> str:
    """The subtitle's account of the cluster colours and markers (no metadata colouring)."""
    if named:
        hue = "colour = cluster, in the hue of the class it is named after"
        if mixed:
            hue += "; grey = mixed cluster (no class stands out in it)"
    else:
        hue = f"colour = cluster, in the hue of its dominant {'' if labelled else 'predicted '}class"
    if labelled:
        return f"{hue}; ◆ = misclassified image, filled with the colour of its true class"
    return hue if named else f"{hue} (no true labels)"


def _dominant_classes(codes: np.ndarray, reference: np.ndarray, n_clusters: int, n_classes: int) -> np.ndarray:
    """The most frequent ``reference`` class of each cluster among the images drawn (ties: lowest index)."""
    return np.array(
        [int(np.bincount(reference[codes == k], minlength=n_classes).argmax()) for k in range(n_clusters)],
        dtype=np.int64,
    )


def _cluster_colours(cluster_classes: np.ndarray, n_classes: int) -> list[str]:
    """One colour per cluster, in the hue of its class (``cluster_classes``), grey for a mixed one (-1).

    Cluster colours reuse the class colours of :func:`paths_figure`, so blue means the same class
    in every figure of a run; clusters sharing a class get darker and lighter shades of it, and
    several mixed clusters shades of grey.
    """
    bases = {c: colour for c, colour in enumerate(class_colours(n_classes))} | {-1: MIXED_COLOUR}
    colours = [""] * len(cluster_classes)
    for c, base in bases.items():
        members = [k for k, owner in enumerate(cluster_classes) if owner == c]
        shades = np.linspace(-0.35, 0.45, len(members)) if len(members) > 1 else [0.0] * len(members)
        for k, t in zip(members, shades, strict=True):
            colours[k] = mix_black(base, -t) if t < 0 else mix_white(base, t)
    return colours


def _point_traces(
    xy: np.ndarray,
    paths: pd.DataFrame,
    codes: np.ndarray,
    names: list[str],
    colours: list[str],
    wrong: np.ndarray,
    classes: tuple[str, ...],
    hover: np.ndarray,
    scatter: type,
    *,
    fill_wrong_by_class: bool = True,
) -> list:
    """One trace of correctly classified (or unlabelled) points per group (cluster or metadata value),
    then one of misclassified points per group, so the misclassified ones are drawn on top; each pair
    shares a legend entry. Misclassified points are filled with their true class's colour, or with
    their group's when ``fill_wrong_by_class`` is False."""
    n = len(codes)
    # Smaller markers as the map fills up, so clusters stay readable at thousands of points.
    size = 7 if n <= 1000 else 5 if n <= 3000 else 4
    true_colours = np.array(class_colours(len(classes)), dtype=object)
    true = paths["true"].cat.codes.to_numpy(np.int64)
    image_ids = paths.index.to_numpy(np.int64)
    points, misclassified = [], []
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        for is_wrong, bucket in ((False, points), (True, misclassified)):
            idx = np.flatnonzero((codes == k) & (wrong == is_wrong))
            if is_wrong and idx.size == 0:
                continue
            fill = list(true_colours[true[idx]]) if fill_wrong_by_class else colour
            marker = (
                _misclassified_marker(fill, size + (4 if n <= 3000 else 3))
                if is_wrong
                else dict(symbol="circle", size=size, color=colour, opacity=0.8, line=dict(width=0.5, color="white"))
            )
            bucket.append(
                scatter(
                    x=xy[idx, 0],
                    y=xy[idx, 1],
                    mode="markers",
                    name=esc(name) + (" misclassified" if is_wrong else ""),
                    legendgroup=f"cluster-{k}",
                    showlegend=not is_wrong,
                    hovertext=hover[idx],
                    hoverinfo="text",
                    customdata=image_ids[idx],  # the image number: pages look up its thumbnail
                    marker=marker,
                )
            )
    return points + misclassified


def _probe_trace(
    xy: np.ndarray,
    paths: pd.DataFrame,
    codes: np.ndarray,
    names: list[str],
    classes: tuple[str, ...],
    scatter: type,
) -> go.Scatter | go.Scattergl:
    """The probes as black stars, hover naming what the model said of them and the cluster they were placed in."""
    esc_classes = [esc(c) for c in classes]
    predicted = paths["predicted"].cat.codes.to_numpy(np.int64)
    confidence = paths["confidence"].to_numpy(np.float64)
    doubt = paths["doubt"].to_numpy(np.float64) if "doubt" in paths.columns else np.full(len(paths), np.nan)
    hover = [
        f"<b>probe (image {i})</b><br>predicted: {esc_classes[p]} ({c:.0%})<br>cluster: {esc(names[k])}"
        + ("" if np.isnan(d) else f"<br>doubt: {d:.0%}")
        for i, p, c, k, d in zip(paths.index, predicted, confidence, codes, doubt, strict=True)
    ]
    return scatter(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers",
        name=f"probes ({len(codes)})",
        hovertext=hover,
        hoverinfo="text",
        customdata=paths.index.to_numpy(np.int64),
        marker=dict(symbol="star", size=12, color="#262626", opacity=0.9, line=dict(width=0.8, color="white")),
    )


def _misclassified_marker(colour: str | list[str], size: int) -> dict:
    """Marker of a misclassified image: a diamond with a dark outline."""
    return dict(symbol="diamond", size=size, color=colour, opacity=1.0, line=dict(width=1.2, color=MISCLASSIFIED_EDGE))


def _centre_trace(centers: np.ndarray, names: list[str], scatter: type) -> go.Scatter | go.Scattergl:
    """Cluster centres as crosses; their names are annotations (see :func:`_centre_labels`)."""
    return scatter(
        x=centers[:, 0],
        y=centers[:, 1],
        mode="markers",
        name="cluster centres",
        hovertext=[f"centre of {esc(n)}" for n in names],
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
            text=esc(name),
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
    esc_classes = np.array([esc(c) for c in classes] + ["unknown"], dtype=object)
    esc_clusters = np.array([esc(n) for n in names], dtype=object)
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
