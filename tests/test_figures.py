"""Structure, escaping and determinism of the plotly figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.figures import _style as figures_style
from layerlens.figures import layer_figure, paths_figure, separability_figure
from layerlens.figures import maps as figure_maps
from layerlens.paths._table import build_paths

CLASSES = ["glioma", "meningioma", "pituitary"]
HOSTILE = "<img src=x onerror=alert(1)>"
LAYERS = ["block1", "block2", "dense"]
N = 60


def _toy(classes=CLASSES, labelled=True, n=N, seed=0):
    """Seeded toy analysis: 3 layers with 3, 4 and 3 clusters, about 15 % misclassified."""
    rng = np.random.default_rng(seed)
    k_classes = len(classes)
    true = np.arange(n) % k_classes
    pred = np.where(rng.random(n) < 0.15, (true + 1) % k_classes, true)
    labels, names, dominant = [], [], []
    for k in (3, 4, 3):
        lab = np.where(rng.random(n) < 0.8, pred % k, rng.integers(0, k, n))
        labels.append(lab)
        names.append([f"c{c + 1} · {classes[c % k_classes]}" for c in range(k)])
        dominant.append(np.arange(k) % k_classes)
    df = build_paths(
        labels,
        names,
        dominant,
        LAYERS,
        predicted=pred,
        confidence=rng.uniform(0.4, 1.0, n),
        class_names=classes,
        true=true if labelled else None,
    )
    coords = rng.normal(size=(n, 2)) + labels[-1][:, None] * 3.0
    return df, names, coords


@pytest.fixture
def toy():
    return _toy()


def _strings(obj):
    """Every string inside a decoded JSON document."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def _colour_of(trace, value):
    """The colour a stepped colorscale gives an integer colour value."""
    n = len(trace.line.colorscale) // 2
    return trace.line.colorscale[2 * int(value)][1] if 0 <= value < n else None


def _lightness(hex_colour):
    return sum(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


# --------------------------------------------------------------------------------------------- paths_figure


def _all_paths(df, layers=LAYERS, classes=CLASSES):
    """The paths figure with no path folded."""
    return paths_figure(df, layers, classes, min_share=0.0, max_ribbons=10_000)


def test_paths_figure_has_a_dimension_per_layer_plus_prediction(toy):
    df, names, _ = toy
    trace = _all_paths(df).data[0]
    assert isinstance(trace, go.Parcats)
    assert [d.label for d in trace.dimensions] == ["block1 (k=3)", "block2 (k=4)", "dense (k=3)", "prediction"]
    for dim, layer_names in zip(trace.dimensions, names + [CLASSES], strict=True):
        assert dim.categoryorder == "array"
        assert sorted(dim.categoryarray) == sorted(set(dim.values))  # every category that occurs, once
        assert list(dim.ticktext) == [layer_names[c] for c in dim.categoryarray]
    assert list(trace.dimensions[-1].categoryarray) == [0, 1, 2]  # predictions stay in class order


def test_paths_figure_aggregates_identical_paths(toy):
    df, _, _ = toy
    trace = _all_paths(df).data[0]
    counts = np.asarray(trace.counts)
    assert counts.sum() == N
    assert len(counts) < N  # grouped, not one entry per image
    assert all(len(d.values) == len(counts) for d in trace.dimensions)
    # Every dimension's values reproduce the per-image counts of its categories.
    for dim, layer in zip(trace.dimensions[:-1], LAYERS, strict=True):
        per_cluster = np.bincount(np.asarray(dim.values), weights=counts, minlength=4)
        expected = np.bincount(df[layer].cat.codes, minlength=4)
        np.testing.assert_array_equal(per_cluster, expected)


def test_paths_figure_gives_each_class_its_own_colour_and_emphasises_errors(toy):
    df, _, _ = toy
    trace = _all_paths(df).data[0]
    k = len(CLASSES)
    values = np.asarray(trace.line.color)
    counts = np.asarray(trace.counts)
    # Colour value = true class, plus K when misclassified.
    assert counts[values >= k].sum() == (~df["correct"].astype(bool)).sum()
    pale = [_colour_of(trace, c) for c in range(k)]
    strong = [_colour_of(trace, c + k) for c in range(k)]
    assert len(set(pale)) == k and len(set(strong)) == k
    assert all(_lightness(p) > _lightness(s) for p, s in zip(pale, strong, strict=True))


def test_paths_figure_legend_names_classes_and_misclassified(toy):
    df, _, _ = toy
    fig = paths_figure(df, LAYERS, CLASSES)
    legend = [t for t in fig.data[1:] if t.showlegend is not False]
    names = [t.name for t in legend]
    assert names[: len(CLASSES)] == CLASSES
    assert any("misclassified" in n for n in names)
    assert len({t.marker.color for t in legend[: len(CLASSES)]}) == len(CLASSES)
    assert "misclassified" in fig.layout.title.text


def test_paths_figure_without_labels_colours_by_prediction():
    df, _, _ = _toy(labelled=False)
    fig = _all_paths(df)
    trace = fig.data[0]
    assert "no true labels" in fig.layout.title.text
    assert len(trace.line.colorscale) == 2 * len(CLASSES)  # one colour per class, no shades
    assert fig.data[1].legendgrouptitle.text.startswith("predicted class")


def test_paths_figure_draws_a_subset_of_layers_in_the_given_order(toy):
    df, _, _ = toy
    trace = paths_figure(df, ["dense", "block1"], CLASSES).data[0]
    assert [d.label for d in trace.dimensions] == ["dense (k=3)", "block1 (k=3)", "prediction"]


def test_paths_figure_supports_many_classes():
    classes = [f"class {i}" for i in range(30)]
    df, _, _ = _toy(classes=classes, n=90)
    trace = _all_paths(df, classes=classes).data[0]
    pale = [_colour_of(trace, c) for c in range(30)]
    assert len(set(pale)) == 30


def test_paths_figure_shortens_labels_between_many_dimensions():
    n, layers = 40, [f"block{i}" for i in range(8)]
    rng = np.random.default_rng(1)
    long_name = "c{} · 93% <pituitary & more>"
    df = build_paths(
        [rng.integers(0, 3, n) for _ in layers],
        [[long_name.format(c + 1) for c in range(3)]] * 8,
        [np.zeros(3, dtype=int)] * 8,
        layers,
        predicted=rng.integers(0, 2, n),
        confidence=np.full(n, 0.9),
        class_names=["a", "b"],
        true=rng.integers(0, 2, n),
    )
    dims = _all_paths(df, layers, ["a", "b"]).data[0].dimensions
    assert "c1 · 93% &lt;pituitary &amp; more&gt;" in dims[0].ticktext  # in the margin: room to spare
    for inner in dims[3].ticktext:
        assert inner.endswith("…") and inner.startswith("c") and "93%" in inner
        assert "&" not in inner.replace("&lt;", "").replace("&amp;", "")  # no entity cut in half


def _ribbons(trace):
    """Ribbons drawn between each pair of neighbouring axes: distinct (category, next category) pairs."""
    dims = [np.asarray(d.values) for d in trace.dimensions]
    return [len(set(zip(x, y, strict=True))) for x, y in zip(dims[:-1], dims[1:])]


def _many_paths(n=600, k=12, n_layers=5, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.9, true, rng.integers(0, 3, n))
    # The first path is common, the rest scatter over k clusters per layer.
    labels = [np.where(np.arange(n) < n // 2, 0, rng.integers(0, k, n)) for _ in range(n_layers)]
    names = [[f"c{c + 1}" for c in range(k)]] * n_layers
    layers = [f"layer{i}" for i in range(n_layers)]
    df = build_paths(labels, names, [np.arange(k) % 3] * n_layers, layers, predicted=pred,
                     confidence=np.full(n, 0.9), class_names=CLASSES, true=true)  # fmt: skip
    return df, layers


def test_rare_paths_are_folded_until_the_ribbons_fit():
    df, layers = _many_paths()
    assert max(_ribbons(_all_paths(df, layers).data[0])) > 60  # unreadable as it is
    fig = paths_figure(df, layers, CLASSES)
    trace = fig.data[0]
    assert max(_ribbons(trace)) <= 30
    assert int(np.asarray(trace.counts).sum()) == 600  # no image is dropped
    for dim in trace.dimensions[:-1]:
        assert dim.ticktext[-1].startswith("other: ") and dim.categoryarray[-1] == 12
    folded = int(np.asarray(trace.counts)[np.asarray(trace.dimensions[0].values) == 12].sum())
    assert f"grey = {folded} images on" in fig.layout.title.text
    assert any(t.name == f"grey: rare paths ({folded})" for t in fig.data[1:])
    # Predictions stay true: the prediction axis counts every image's own prediction.
    per_class = np.bincount(np.asarray(trace.dimensions[-1].values), weights=np.asarray(trace.counts), minlength=3)
    np.testing.assert_array_equal(per_class, np.bincount(df["predicted"].cat.codes, minlength=3))


def test_min_share_folds_the_rare_paths_but_keeps_errors_in_sight():
    df, layers = _many_paths()
    trace = paths_figure(df, layers, CLASSES, min_share=0.4).data[0]
    dims = np.stack([np.asarray(d.values) for d in trace.dimensions[:-1]], axis=1)
    counts = np.asarray(trace.counts)
    common = (dims == 0).all(axis=1)
    assert counts[common].sum() == 300  # the one path of more than 40 % of the images
    rare = ~common & (dims[:, 0] != 12)
    # Besides it, only paths that carry misclassified images (colour value >= K) are drawn.
    codes = {tuple(row) for row in df[layers].apply(lambda c: c.cat.codes).to_numpy()[~df["correct"].to_numpy(bool)]}
    assert rare.any() and all(tuple(row) in codes for row in dims[rare])
    assert max(_ribbons(trace)) <= 30


def test_categories_are_ordered_to_reduce_crossings():
    # Layer b numbers its clusters against layer a: a's c1 feeds b's c3, a's c3 feeds b's c1.
    a = np.repeat([0, 1, 2], 20)
    b = 2 - a
    df = build_paths([a, b], [["c1", "c2", "c3"]] * 2, [np.arange(3)] * 2, ["a", "b"], predicted=a,
                     confidence=np.full(60, 0.9), class_names=CLASSES, true=a)  # fmt: skip
    dims = paths_figure(df, ["a", "b"], CLASSES).data[0].dimensions
    assert list(dims[0].categoryarray) == [0, 1, 2] and list(dims[1].categoryarray) == [2, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_share": 1.0}, r"min_share: expected a share in \[0, 1\); received 1.0"),
        ({"min_share": "1%"}, r"min_share: expected a share in \[0, 1\); received '1%'"),
        ({"max_ribbons": 1}, r"max_ribbons: expected an integer >= 2; received 1"),
    ],
    ids=["share-one", "share-text", "one-ribbon"],
)
def test_paths_figure_folding_options_are_checked(toy, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        paths_figure(toy[0], LAYERS, CLASSES, **kwargs)


@pytest.mark.parametrize(
    ("layer_names", "class_names", "message"),
    [
        (
            ["block1", "nope"],
            CLASSES,
            r"layer_names: expected one of the layers in paths \['block1', 'block2', 'dense'\]; "
            r"received 'nope'",
        ),
        (["block1", "path"], CLASSES, r"layer_names: expected one of the layers"),
        ([], CLASSES, r"layer_names: expected a non-empty sequence"),
        (LAYERS, ["glioma", "meningioma"], r"class_names: expected the classes of paths\['predicted'\]"),
    ],
    ids=["unknown-layer", "fixed-column", "no-layers", "wrong-classes"],
)
def test_paths_figure_errors(toy, layer_names, class_names, message):
    with pytest.raises(InvalidInputError, match=message):
        paths_figure(toy[0], layer_names, class_names)


@pytest.mark.parametrize(
    ("uninformative", "parallel", "labels"),
    [
        ([True, False, False], None, ["block1 (k=3) ○", "block2 (k=4)", "dense (k=3)"]),
        ([False, True, True], [False, True, False], ["block1 (k=3)", "block2 (k=4) ○ ∥", "dense (k=3) ○"]),
    ],
    ids=["first-layer", "beside-a-parallel-mark"],
)
def test_paths_figure_marks_layers_whose_clusters_carry_no_class_information(toy, uninformative, parallel, labels):
    df, _, _ = toy
    marked = paths_figure(df, LAYERS, CLASSES, uninformative=uninformative, parallel=parallel)
    assert [d.label for d in marked.data[0].dimensions] == [*labels, "prediction"]
    assert (
        "<br>○ = the layer's clusters carry no class information: they follow something else, such as intensity"
        in marked.layout.title.text
    )
    # The layers keep their axes and the ribbons stay as they were: only the labels and the subtitle change.
    plain = paths_figure(df, LAYERS, CLASSES, parallel=parallel)
    np.testing.assert_array_equal(marked.data[0].counts, plain.data[0].counts)
    for a, b in zip(marked.data[0].dimensions, plain.data[0].dimensions, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
        assert list(a.ticktext) == list(b.ticktext)


@pytest.mark.parametrize("uninformative", [None, [False, False, False]], ids=["default", "none-marked"])
def test_paths_figure_without_uninformative_layers_explains_no_mark(toy, uninformative):
    fig = paths_figure(toy[0], LAYERS, CLASSES, uninformative=uninformative)
    assert "○" not in fig.layout.title.text
    assert not any("○" in d.label for d in fig.data[0].dimensions)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"uninformative": [True, False]},
            r"uninformative: expected 3 bools \(one per layer in layer_names\); received \[True, False\]",
        ),
        ({"uninformative": [1, 0, 0]}, r"uninformative: expected 3 bools .*; received \[1, 0, 0\]"),
        ({"uninformative": "yes"}, r"uninformative: expected 3 bools .*; received 'yes'"),
        ({"uninformative": True}, r"uninformative: expected 3 bools .*; received True"),
        ({"parallel": [False] * 4}, r"parallel: expected 3 bools \(one per layer in layer_names\)"),
    ],
    ids=[
        "uninformative-too-few",
        "uninformative-ints",
        "uninformative-str",
        "uninformative-scalar",
        "parallel-too-many",
    ],
)
def test_paths_figure_layer_marks_are_checked(toy, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        paths_figure(toy[0], LAYERS, CLASSES, **kwargs)


# --------------------------------------------------------------------------------------------- layer_figure


def test_layer_figure_hover_names_image_true_predicted_and_cluster(toy):
    df, names, coords = toy
    fig = layer_figure(coords, df, "dense", CLASSES)
    hover = {}
    for trace in fig.data:
        if trace.hovertext is not None and trace.name != "cluster centres":
            for text in trace.hovertext:
                hover[int(text.split("image ")[1].split("<")[0])] = text
    assert sorted(hover) == list(range(N))
    row = df.loc[7]
    assert f"true: {row['true']}" in hover[7]
    assert f"predicted: {row['predicted']} ({row['confidence']:.0%})" in hover[7]
    assert f"cluster: {row['dense']}" in hover[7]


def test_layer_figure_colours_points_by_cluster_and_marks_misclassified(toy):
    df, names, coords = toy
    fig = layer_figure(coords, df, "dense", CLASSES)
    clusters = [t for t in fig.data if t.name in names[2]]
    assert [t.name for t in clusters] == names[2]
    assert len({t.marker.color for t in clusters}) == 3
    wrong = [t for t in fig.data if t.name.endswith(" misclassified")]
    assert sum(len(t.x) for t in wrong) == (~df["correct"].astype(bool)).sum()
    assert sum(len(t.x) for t in clusters) == df["correct"].astype(bool).sum()
    assert all(t.marker.symbol == "diamond" and t.marker.line.width > 1 for t in wrong)
    # Misclassified points are drawn after (on top of) every cluster trace.
    order = [t.name for t in fig.data]
    assert max(order.index(t.name) for t in clusters) < min(order.index(t.name) for t in wrong)


def test_layer_figure_draws_given_centres_with_their_names(toy):
    df, names, coords = toy
    centers = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    fig = layer_figure(coords, df, "dense", CLASSES, centers=centers)
    (centre,) = [t for t in fig.data if t.name == "cluster centres"]
    np.testing.assert_array_equal(np.c_[centre.x, centre.y], centers)
    assert [a.text for a in fig.layout.annotations] == names[2]
    assert [(a.x, a.y) for a in fig.layout.annotations] == [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]


def test_layer_figure_centres_default_to_cluster_means(toy):
    df, _, coords = toy
    fig = layer_figure(coords, df, "block2", CLASSES)
    (centre,) = [t for t in fig.data if t.name == "cluster centres"]
    codes = df["block2"].cat.codes.to_numpy()
    expected = np.array([coords[codes == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(np.c_[centre.x, centre.y], expected)


def test_layer_figure_gives_clusters_the_hue_of_their_dominant_class():
    # Four classes but three clusters in "dense": one class dominates no cluster.
    classes = CLASSES + ["no_tumor"]
    df, names, coords = _toy(classes=classes, n=80)
    fig = layer_figure(coords, df, "dense", classes)
    colours = [t.marker.color for t in fig.data if t.name in names[2]]
    assert len(set(colours)) == 3
    # Three classes, four clusters in block2: two clusters share a dominant class, in two shades.
    df, names, coords = _toy()
    fig = layer_figure(coords, df, "block2", CLASSES)
    assert len({t.marker.color for t in fig.data if t.name in names[1]}) == 4


def test_layer_figure_without_labels_marks_nothing():
    df, names, coords = _toy(labelled=False)
    fig = layer_figure(coords, df, "dense", CLASSES)
    assert not [t for t in fig.data if "misclassified" in (t.name or "")]
    assert sum(len(t.x) for t in fig.data if t.name in names[2]) == N


def _named_map(cluster_classes=None):
    """Three clusters of 10 images; cluster 0 holds mostly class-0 images (8 of 10), clusters 1 and 2 class 2."""
    true = np.concatenate([[0] * 8 + [1] * 2, [2] * 10, [2] * 10])
    df = build_paths([np.repeat([0, 1, 2], 10)], [["c1 · 40% meningioma", "c2 · mixed", "c3 · mixed"]],
                     [np.array([1, -1, -1])], ["dense"], predicted=true, confidence=np.full(30, 0.9),
                     class_names=CLASSES, true=true)  # fmt: skip
    coords = np.c_[np.repeat([0.0, 5.0, 10.0], 10), np.zeros(30)]
    fig = layer_figure(coords, df, "dense", CLASSES, cluster_classes=cluster_classes)
    colours = [next(t.marker.color for t in fig.data if t.name == name) for name in df["dense"].cat.categories]
    return fig, colours


def _is_grey(colour):
    return len({colour[1:3], colour[3:5], colour[5:7]}) == 1


def test_layer_figure_colours_clusters_by_the_class_they_are_named_after():
    fig, colours = _named_map(np.array([1, -1, -1]))
    base = figures_style.class_colours(len(CLASSES))
    # Named after meningioma (fitted on another set), drawn in meningioma's colour, though 8 of its 10 images
    # drawn here are gliomas.
    assert colours[0] == base[1]
    # The two mixed clusters: greys, in two shades, neither a class colour.
    assert _is_grey(colours[1]) and _is_grey(colours[2]) and colours[1] != colours[2]
    assert not set(colours[1:]) & set(base)
    assert "grey = mixed cluster" in fig.layout.title.text
    assert "in the hue of the class it is named after" in fig.layout.title.text


def test_layer_figure_with_one_mixed_cluster_draws_the_mixed_grey():
    _, colours = _named_map(np.array([1, -1, 0]))
    assert colours == [figures_style.class_colours(3)[1], figures_style.MIXED_COLOUR, figures_style.class_colours(3)[0]]


@pytest.mark.parametrize(
    ("cluster_classes", "subtitle", "first"),
    [
        (np.array([1, 2, 0]), "in the hue of the class it is named after", 1),
        (None, "in the hue of its dominant class", 0),
    ],
    ids=["all-led", "without-cluster-classes"],
)
def test_layer_figure_says_grey_only_when_a_mixed_cluster_is_drawn(cluster_classes, subtitle, first):
    fig, colours = _named_map(cluster_classes)
    assert subtitle in fig.layout.title.text and "grey" not in fig.layout.title.text
    # Without cluster_classes, as before: the most frequent class among the images drawn (glioma for cluster 0).
    assert colours[0] == figures_style.class_colours(3)[first]
    assert not any(_is_grey(c) for c in colours)


@pytest.mark.parametrize(
    ("cluster_classes", "message"),
    [
        (np.array([0, 1]), r"cluster_classes: expected integers of shape \(3,\); received int64 of shape \(2,\)"),
        (np.array([0.0, 1.0, 2.0]), r"cluster_classes: expected integers of shape \(3,\); received float64"),
        (
            np.array([0, 1, 3]),
            r"cluster_classes: expected class indices in -1\.\.2 \(one per cluster, -1 for a mixed cluster\); "
            r"received range 0\.\.3",
        ),
        (np.array([-2, 1, 0]), r"cluster_classes: expected class indices in -1\.\.2 .*received range -2\.\.1"),
    ],
    ids=["too-few", "floats", "class-out-of-range", "below-mixed"],
)
def test_layer_figure_cluster_classes_are_checked(toy, cluster_classes, message):
    df, _, coords = toy
    with pytest.raises(InvalidInputError, match=message):
        layer_figure(coords, df, "dense", CLASSES, cluster_classes=cluster_classes)


@pytest.mark.parametrize(("threshold", "kind"), [(10_000, go.Scatter), (10, go.Scattergl)], ids=["svg", "webgl"])
def test_layer_figure_switches_to_webgl_for_many_points(toy, monkeypatch, threshold, kind):
    monkeypatch.setattr(figure_maps, "WEBGL_THRESHOLD", threshold)
    df, _, coords = toy
    fig = layer_figure(coords, df, "dense", CLASSES)
    assert all(isinstance(t, kind) for t in fig.data if t.x is not None and t.x[0] is not None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(layer_name="conv9"),
            r"layer_name: expected one of the layers in paths \['block1', 'block2', "
            r"'dense'\]; received 'conv9'",
        ),
        (dict(coords=np.zeros((N - 1, 2))), rf"coords: expected finite numbers of shape \({N}, 2\)"),
        (dict(coords=np.full((N, 2), np.nan)), rf"coords: expected finite numbers of shape \({N}, 2\)"),
        (dict(centers=np.zeros((4, 2))), r"centers: expected finite numbers of shape \(3, 2\) .*'dense'"),
        (dict(class_names=["a", "b", "c"]), r"class_names: expected the classes of paths"),
    ],
    ids=["unknown-layer", "coords-length", "coords-nan", "centers-shape", "wrong-classes"],
)
def test_layer_figure_errors(toy, kwargs, message):
    df, _, coords = toy
    args = dict(coords=coords, paths=df, layer_name="dense", class_names=CLASSES) | kwargs
    with pytest.raises(InvalidInputError, match=message):
        layer_figure(args.pop("coords"), args.pop("paths"), args.pop("layer_name"), args.pop("class_names"), **args)


# --------------------------------------------------------------------------------------------- escaping


@pytest.fixture
def hostile():
    classes = [HOSTILE, "a & b", "pituitary"]
    df, names, coords = _toy(classes=classes)
    return df, names, coords, classes


def test_layer_figure_escapes_user_strings_in_hover(hostile):
    df, _, coords, classes = hostile
    fig = layer_figure(coords, df, "dense", classes)
    decoded = json.loads(fig.to_json())
    hovertexts = [h for t in decoded["data"] for h in (t.get("hovertext") or [])]
    assert any("true: &lt;img src=x onerror=alert(1)&gt;" in h for h in hovertexts)
    assert any("a &amp; b" in h for h in hovertexts)
    assert not any("<img" in s for s in _strings(decoded))
    assert any("&lt;img" in a["text"] for a in decoded["layout"]["annotations"])


def test_paths_figure_escapes_user_strings(hostile):
    df, _, _, classes = hostile
    decoded = json.loads(paths_figure(df, LAYERS, classes, title="<b>run</b>").to_json())
    assert not any("<img" in s or "<b>run" in s for s in _strings(decoded))
    prediction = decoded["data"][0]["dimensions"][-1]
    assert "&lt;img src=x onerror=alert(1)&gt;" in prediction["ticktext"]
    assert decoded["data"][1]["name"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert decoded["layout"]["title"]["text"].startswith("&lt;b&gt;run&lt;/b&gt;")


def test_separability_figure_escapes_layer_names():
    fig = separability_figure(["<i>conv</i>", "dense"], [0.1, 0.2], [0.5, 0.6], [0.1, 0.2])
    assert list(fig.data[0].x) == ["&lt;i&gt;conv&lt;/i&gt;", "dense"]


# --------------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("kind", ["paths", "layer", "separability"])
def test_figures_are_deterministic_and_carry_no_uids(kind):
    def build():
        df, _, coords = _toy()
        if kind == "paths":
            return paths_figure(df, LAYERS, CLASSES)
        if kind == "layer":
            return layer_figure(coords, df, "block2", CLASSES)
        return separability_figure(LAYERS, [0.1, 0.3, 0.5], [0.6, 0.8, 0.9], [0.1, 0.3, 0.9])

    first, second = build().to_json(), build().to_json()
    assert first == second
    assert '"uid"' not in first


def test_figures_ignore_plotly_global_template(toy, monkeypatch):
    import plotly.io as pio

    df, _, _ = toy
    before = paths_figure(df, LAYERS, CLASSES).to_json()
    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    assert paths_figure(df, LAYERS, CLASSES).to_json() == before


# --------------------------------------------------------------------------------------------- separability


def test_separability_figure_plots_three_measures():
    sil, knn, var = [0.05, 0.2, 0.6], [0.5, 0.7, 0.95], [0.2, 0.6, 0.9]
    fig = separability_figure(LAYERS, sil, knn, var)
    assert [t.name for t in fig.data] == ["silhouette", "k-NN accuracy", "variance explained"]
    for trace, values in zip(fig.data, (sil, knn, var), strict=True):
        assert list(trace.x) == LAYERS
        np.testing.assert_array_equal(trace.y, values)
        assert trace.mode == "lines+markers"
    assert {t.yaxis for t in fig.data} == {None}  # bounded measures share one axis
    assert fig.layout.yaxis.range[0] == pytest.approx(-0.05)
    assert list(fig.layout.xaxis.categoryarray) == LAYERS


def test_separability_axis_reaches_minus_one_for_negative_silhouettes():
    fig = separability_figure(LAYERS, [-0.2, 0.1, np.nan], [0.5, 0.7, 0.9], [0.1, 0.2, 0.3])
    assert fig.layout.yaxis.range[0] == pytest.approx(-1.05)
    assert np.isnan(fig.data[0].y[2])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((LAYERS, [0.1, 0.2], [0.5, 0.6, 0.7], [0.1, 0.2, 0.3]), r"silhouette: expected 3 numbers in \[-1, 1\]"),
        (
            (LAYERS, [0.1, 0.2, 0.3], [0.5, 0.6, 0.7], [0.1, np.inf, 0.3]),
            r"variance_explained: expected numbers in \[-1, 1\] or NaN .*; received \[inf\]",
        ),
        (
            (LAYERS, [0.1, 0.2, 0.3], [0.5, 1.6, 0.7], [0.1, 0.2, 0.3]),
            r"knn_accuracy: expected numbers in \[-1, 1\] or NaN .*; received \[1.6\]",
        ),
        (([], [], [], []), r"layer_names: expected a non-empty sequence"),
        ((["a", "a"], [0.1, 0.2], [0.5, 0.6], [0.1, 0.2]), r"layer_names: expected unique names"),
        ((["a", "b"], ["x", "y"], [0.5, 0.6], [0.1, 0.2]), r"silhouette: expected real numbers; received"),
    ],
    ids=["length", "infinite", "above-one", "no-layers", "repeated-layer", "not-numbers"],
)
def test_separability_figure_errors(args, message):
    with pytest.raises(InvalidInputError, match=message):
        separability_figure(*args)


def test_palette_has_distinct_colours_for_large_counts():
    assert len(set(figures_style.palette(40, plotly.colors.qualitative.D3))) == 40


def test_many_classes_still_leave_room_for_paths():
    rng = np.random.default_rng(2)
    n, classes = 2000, [f"class {i}" for i in range(40)]
    true = rng.integers(0, 40, n)
    labels = [np.zeros(n, np.int64), true % 3, true]  # the last layer follows the class
    names = [["c1"], ["c1", "c2", "c3"], [f"c{i + 1}" for i in range(40)]]
    df = build_paths(labels, names, [np.zeros(1, int), np.arange(3), np.arange(40)], ["a", "b", "c"],
                     predicted=true, confidence=np.full(n, 0.9), class_names=classes, true=true)  # fmt: skip
    trace = paths_figure(df, ["a", "b", "c"], classes).data[0]
    kept = np.asarray(trace.counts)[np.asarray(trace.dimensions[0].values) != 1].sum()
    assert kept > n / 2  # the common paths are drawn, not all folded
    ribbons = _ribbons(trace)
    assert max(ribbons[:-1]) <= 30 and ribbons[-1] <= 30 + (40 - 15)


def test_the_last_layer_is_ordered_against_the_predictions():
    from layerlens.figures import _ribbons as ribbons_module

    # Layer "b" follows the prediction but numbers its clusters in reverse; layer "a" is noise.
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, 300)
    a, b = rng.integers(0, 2, 300), 2 - pred
    df = build_paths([a, b], [["c1", "c2"], ["c1", "c2", "c3"]], [np.zeros(2, int), 2 - np.arange(3)], ["a", "b"],
                     predicted=pred, confidence=np.full(300, 0.9), class_names=CLASSES, true=pred)  # fmt: skip
    trace = paths_figure(df, ["a", "b"], CLASSES).data[0]
    assert list(trace.dimensions[1].categoryarray) == [2, 1, 0]  # aligned with predictions 0, 1, 2
    grouped = pd.DataFrame({"d0": a, "d1": b, "prediction": pred, "colour": pred, "count": 1})
    dims = ["d0", "d1", "prediction"]
    plain = ribbons_module._crossings(grouped, dims, [[0, 1], [0, 1, 2], [0, 1, 2]])
    chosen = ribbons_module._crossings(grouped, dims, [[0, 1], [2, 1, 0], [0, 1, 2]])
    assert chosen < plain


@pytest.mark.parametrize("min_share", [0.0, 0.02, 0.2], ids=["few-folded", "some-folded", "most-folded"])
def test_paths_figure_rows_say_which_images_each_row_draws(min_share):
    """Each image is counted in exactly the row paths_figure_rows names, and that row shows its clusters."""
    from layerlens.figures import paths_figure_rows

    paths, layers = _many_paths()
    classes = list(paths["predicted"].cat.categories)
    trace = paths_figure(paths, layers, classes, min_share=min_share).data[0]
    rows = paths_figure_rows(paths, layers, classes, min_share=min_share)
    assert rows.shape == (len(paths),) and rows.min() >= 0
    np.testing.assert_array_equal(np.bincount(rows, minlength=len(trace.counts)), trace.counts)
    np.testing.assert_array_equal(np.asarray(trace.dimensions[-1].values)[rows], paths["predicted"].cat.codes)
    n_folded = 0
    for dimension, layer in zip(trace.dimensions[:-1], layers):
        drawn = np.asarray(dimension.values)[rows]
        folded = drawn == len(paths[layer].cat.categories)  # the "other" category
        np.testing.assert_array_equal(drawn[~folded], paths[layer].cat.codes.to_numpy()[~folded])
        n_folded = int(folded.sum())
    assert n_folded > 0  # the rows of folded images were checked too


def test_layer_figure_rings_the_doubtful_images(toy):
    df, _, coords = toy
    df = df.copy()
    doubt = np.zeros(len(df))
    doubt[[1, 3]] = [0.9, 0.5]
    df["doubt"] = doubt
    fig = layer_figure(coords, df, "dense", CLASSES)
    (rings,) = [t for t in fig.data if t.name.startswith("doubt ≥ 50%")]
    assert rings.name == "doubt ≥ 50% (2)"
    np.testing.assert_allclose(np.c_[rings.x, rings.y], np.asarray(coords, np.float32)[[1, 3]])
    df["doubt"] = 0.1
    assert not [t for t in layer_figure(coords, df, "dense", CLASSES).data if t.name.startswith("doubt")]


def _with_probes(df, n_probes=6, seed=1):
    """``df`` (labelled) with its last ``n_probes`` rows turned into probes: no true class, ``probe`` True."""
    df = df.copy()
    probe = np.zeros(len(df), dtype=bool)
    probe[-n_probes:] = True
    df.loc[probe, "true"] = None
    df.loc[probe, "correct"] = pd.NA
    df["probe"] = probe
    df["doubt"] = np.where(probe, 0.95, np.random.default_rng(seed).uniform(0, 0.6, len(df)))
    return df


def test_paths_figure_draws_probes_in_their_own_colour_and_counts_no_probe_as_a_mistake(toy):
    df, _, _ = toy
    probed = _with_probes(df)
    trace = _all_paths(probed).data[0]
    colours = np.asarray(trace.line.color)
    probe_value = 2 * len(CLASSES)  # after the pale and the strong class colours
    assert _colour_of(trace, probe_value) == "#262626"
    assert int(np.asarray(trace.counts)[colours == probe_value].sum()) == 6
    fig = _all_paths(probed)
    wrong = int((~df["correct"].astype(bool)).iloc[:-6].sum())
    assert f"misclassified ({wrong} of {N - 6})" in fig.layout.title.text
    assert "near black = probes (6)" in fig.layout.title.text
    assert "near black: probes (6)" in [t.name for t in fig.data[1:]]
    # Without probes the colours are what they were.
    plain = _all_paths(df).data[0]
    assert len(plain.line.colorscale) == 2 * (2 * len(CLASSES))


def test_paths_figure_coloured_by_doubt_bands_every_image_probes_included(toy):
    from layerlens.figures import DOUBT_BANDS, paths_figure_rows

    df, _, _ = toy
    probed = _with_probes(df)
    fig = paths_figure(probed, LAYERS, CLASSES, min_share=0.0, max_ribbons=10_000, colour_by="doubt")
    trace = fig.data[0]
    rows = paths_figure_rows(probed, LAYERS, CLASSES, min_share=0.0, max_ribbons=10_000, colour_by="doubt")
    band = np.asarray(trace.line.color)[rows]
    np.testing.assert_array_equal(band, np.digitize(probed["doubt"].to_numpy(), DOUBT_BANDS))
    in_doubt = int((probed["doubt"] >= 0.5).sum())
    assert f"{in_doubt} of {N} in doubt" in fig.layout.title.text
    assert [t.name for t in fig.data[1:]] == ["0%–25%", "25%–50%", "50%–75%", "75%–100%"]


@pytest.mark.parametrize(
    "colour_by, drop, message",
    [("truth", False, r"colour_by: expected one of \('class', 'doubt'\); received 'truth'"),
     ("doubt", True, r"colour_by: 'doubt' needs a doubt column")],
)  # fmt: skip
def test_paths_figure_colour_by_is_checked(toy, colour_by, drop, message):
    df = _with_probes(toy[0])
    with pytest.raises(InvalidInputError, match=message):
        paths_figure(df.drop(columns="doubt") if drop else df, LAYERS, CLASSES, colour_by=colour_by)


def test_layer_figure_marks_probes_as_stars_apart_from_the_clusters(toy):
    df, _, coords = toy
    probed = _with_probes(df)
    far = coords.copy()
    far[-6:] += 100.0  # the probes far away: they must not drag the cluster centres along
    fig = layer_figure(far, probed, "dense", CLASSES)
    (stars,) = [t for t in fig.data if t.name == "probes (6)"]
    assert stars.marker.symbol == "star"
    assert list(stars.customdata) == list(range(N - 6, N))
    assert all("probe (image" in text and "doubt: 95%" in text for text in stars.hovertext)
    shown = [i for t in fig.data if t.customdata is not None and t is not stars for i in t.customdata]
    assert sorted(shown) == list(range(N - 6))  # every image once, no probe among the cluster points
    centres = next(t for t in fig.data if t.name == "cluster centres")
    assert np.abs(np.c_[centres.x, centres.y]).max() < 50
    assert "54 images and 6 probes" in fig.layout.title.text
    misclassified = next(t for t in fig.data if t.name.startswith("misclassified ("))
    assert misclassified.name == f"misclassified ({int((~df['correct'].astype(bool)).iloc[:-6].sum())})"


def test_layer_figure_colours_points_by_a_metadata_column(toy):
    df, names, coords = toy
    df = df.assign(scanner=[("GE", "Siemens", HOSTILE)[i % 3] if i % 10 else None for i in range(N)])
    fig = layer_figure(coords, df, "dense", CLASSES, colour_by="scanner")
    groups = [t for t in fig.data if t.legendgroup and t.showlegend and t.marker.symbol == "circle"]
    assert sorted(t.name for t in groups) == sorted(["GE", "Siemens", "(missing)", figures_style.esc(HOSTILE)])
    assert len({t.marker.color for t in groups}) == 4
    # Every image once, by its value; misclassified ones still diamonds, now in their group's colour.
    shown = {}
    for trace in fig.data:
        if trace.customdata is not None and trace.marker.symbol in ("circle", "diamond"):
            colour = {t.legendgroup: t.marker.color for t in groups}[trace.legendgroup]
            assert trace.marker.color == colour
            for i in trace.customdata:
                shown[int(i)] = trace.name.removesuffix(" misclassified")
    assert sorted(shown) == list(range(N))
    expected = df["scanner"].fillna("(missing)").map(lambda v: figures_style.esc(v) if v == HOSTILE else v)
    assert all(shown[i] == expected.iloc[i] for i in range(N))
    assert "cluster centres" in [t.name for t in fig.data]  # the clusters stay named on the map
    assert fig.layout.legend.title.text == "scanner"
    hovers = [h for t in fig.data if t.hovertext is not None for h in np.atleast_1d(t.hovertext)]
    assert any("scanner: Siemens" in h for h in hovers) and all(HOSTILE not in h for h in hovers)


def test_colour_groups_keep_the_most_frequent_values_and_pool_the_rest():
    most = figure_maps.MAX_COLOUR_GROUPS
    values = [f"site {i}" for i in range(14) for _ in range(14 - i)] + [None, None]
    codes, names, colours = figure_maps.colour_groups(values)
    assert names == [f"site {i}" for i in range(most - 1)] + [f"({14 - most + 1} other values)", "(missing)"]
    assert len(set(colours[:-2])) == most - 1 and colours[-2:] == [figure_maps.OTHER_COLOUR, figure_maps.MISSING_COLOUR]
    assert (
        names[codes[0]] == "site 0" and names[codes[-1]] == "(missing)" and names[codes[-3]].endswith("other values)")
    )
    # Up to MAX_COLOUR_GROUPS values each keep their colour: no "other" group of a single value.
    _, names, _ = figure_maps.colour_groups([f"v{i}" for i in range(most)])
    assert names == sorted(f"v{i}" for i in range(most))
    _, names, _ = figure_maps.colour_groups([f"v{i}" for i in range(most + 1)])
    assert len(names) == most and names[-1] == "(2 other values)"
    # Numbers become text; a column of one value or of missing values only still colours.
    codes, names, _ = figure_maps.colour_groups([3, 3.5, 3])
    assert names == ["3", "3.5"] and codes.tolist() == [0, 1, 0]
    assert figure_maps.colour_groups([None, np.nan])[1] == ["(missing)"]


def test_colour_by_must_be_a_metadata_column(toy):
    df, _, coords = toy
    df = df.assign(site=["a", "b"] * (N // 2))
    with pytest.raises(InvalidInputError, match=r"colour_by: expected one of the metadata columns of paths \['site'\]"):
        layer_figure(coords, df, "dense", CLASSES, colour_by="dense")
