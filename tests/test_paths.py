"""Paths through the per-layer clusters and their summary measures (hand-computed oracles)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.paths import FIXED_COLUMNS, PathStatistics, _majority, build_paths, path_statistics

# Six images, two classes, two layers; every number below is worked out by hand.
#
#   image  true  pred  layer A  layer B  path    correct  layers agreeing (dominant == pred)
#   0      0     0     c1 (0)   c1 (0)   c1-c1   yes      A ✓ B ✓ -> 2
#   1      0     1     c1 (0)   c1 (0)   c1-c1   no       A ✗ B ✗ -> 0
#   2      1     0     c1 (0)   c2 (1)   c1-c2   no       A ✓ B ✗ -> 1
#   3      1     0     c2 (1)   c3 (1)   c2-c3   no       A ✗ B ✗ -> 0
#   4      1     1     c2 (1)   c2 (1)   c2-c2   yes      A ✓ B ✓ -> 2
#   5      0     1     c2 (1)   c2 (1)   c2-c2   no       A ✓ B ✓ -> 2
#
# (dominant class of each cluster in brackets.) Paths: c1-c1 {0, 1}, c1-c2 {2}, c2-c3 {3}, c2-c2 {4, 5}.
# Weighted purity: c1-c1 true {0, 0} -> 2 agree; c1-c2 -> 1; c2-c3 -> 1; c2-c2 true {1, 0} is a tie,
# majority 0 (lowest index) -> 1 agrees. 5 / 6.
# Decision alignment: c1-c1 pred {0, 1} tie -> 0, 1 agrees; c1-c2 -> 1; c2-c3 -> 1; c2-c2 {1, 1} -> 2. 5 / 6.
CLASSES = ["glioma", "meningioma"]
LAYERS = ["conv", "dense"]
LABELS = [np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 2, 1, 1])]
NAMES = [
    ["c1 · 67% glioma", "c2 · 67% meningioma"],
    ["c1 · 100% glioma", "c2 · 67% meningioma", "c3 · 100% x"],
]
DOMINANT = [np.array([0, 1]), np.array([0, 1, 1])]
TRUE = np.array([0, 0, 1, 1, 1, 0])
PRED = np.array([0, 1, 0, 0, 1, 1])
CONF = np.array([0.9, 0.6, 0.7, 0.55, 0.8, 0.65])


def _build(**changes):
    args = dict(
        cluster_labels=LABELS,
        cluster_names=NAMES,
        cluster_dominant=DOMINANT,
        layer_names=LAYERS,
        predicted=PRED,
        confidence=CONF,
        class_names=CLASSES,
        true=TRUE,
    )
    args.update(changes)
    positional = [args.pop(k) for k in ("cluster_labels", "cluster_names", "cluster_dominant", "layer_names")]
    return build_paths(*positional, **args)


@pytest.fixture
def paths():
    return _build()


@pytest.fixture
def unlabelled():
    return _build(true=None)


def test_columns_index_and_dtypes(paths):
    assert list(paths.columns) == [
        "file",
        "true",
        "predicted",
        "confidence",
        "correct",
        "conv",
        "dense",
        "path",
        "layers_agreeing",
    ]
    assert paths.index.name == "image"
    assert paths.index.tolist() == list(range(6))
    assert isinstance(paths["true"].dtype, pd.CategoricalDtype)
    assert list(paths["predicted"].cat.categories) == CLASSES
    assert paths["confidence"].dtype == np.float64
    assert paths["correct"].dtype == "boolean"
    assert paths["layers_agreeing"].dtype == np.int64
    assert paths["file"].dtype == "string" and paths["file"].isna().all()


def test_files_name_each_row():
    files = [f"Testing/glioma/scan_{i}.jpg" for i in range(6)]
    assert _build(files=files)["file"].tolist() == files


def test_hand_computed_paths(paths):
    assert paths["path"].tolist() == ["c1-c1", "c1-c1", "c1-c2", "c2-c3", "c2-c2", "c2-c2"]
    assert paths["correct"].tolist() == [True, False, False, False, True, False]
    assert paths["layers_agreeing"].tolist() == [2, 0, 1, 0, 2, 2]
    assert paths["true"].tolist() == ["glioma", "glioma", "meningioma", "meningioma", "meningioma", "glioma"]
    np.testing.assert_array_equal(paths["confidence"].to_numpy(), CONF)


@pytest.mark.parametrize("layer", [0, 1], ids=LAYERS)
def test_layer_columns_are_categoricals_whose_codes_are_the_labels(paths, layer):
    column = paths[LAYERS[layer]]
    assert list(column.cat.categories) == NAMES[layer]
    np.testing.assert_array_equal(column.cat.codes.to_numpy(), LABELS[layer])


def test_unlabelled_images_have_missing_truth(unlabelled):
    assert unlabelled["true"].isna().all()
    assert list(unlabelled["true"].cat.categories) == CLASSES
    assert unlabelled["correct"].isna().all()
    assert unlabelled["correct"].dtype == "boolean"
    assert unlabelled["layers_agreeing"].tolist() == [2, 0, 1, 0, 2, 2]


def test_hand_computed_statistics(paths):
    s = path_statistics(paths)
    assert (s.n_images, s.n_distinct) == (6, 4)
    assert s.complexity == pytest.approx(4 / 6)
    assert s.weighted_purity == pytest.approx(5 / 6)
    assert s.decision_alignment == pytest.approx(5 / 6)


def test_top_paths_by_true_class(paths):
    # glioma (images 0, 1, 5): c1-c1 twice, c2-c2 once. meningioma (2, 3, 4): three paths once each,
    # tied, so ordered by their cluster numbers.
    top = path_statistics(paths).top_paths
    assert list(top.columns) == ["class", "path", "count", "share_of_class", "rank"]
    assert top["class"].tolist() == ["glioma", "glioma", "meningioma", "meningioma", "meningioma"]
    assert top["path"].tolist() == ["c1-c1", "c2-c2", "c1-c2", "c2-c2", "c2-c3"]
    assert top["count"].tolist() == [2, 1, 1, 1, 1]
    np.testing.assert_allclose(top["share_of_class"], [2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert top["rank"].tolist() == [1, 2, 1, 2, 3]


def test_top_limits_paths_per_class(paths):
    top = path_statistics(paths, top=1).top_paths
    assert top["path"].tolist() == ["c1-c1", "c1-c2"]
    assert top["rank"].tolist() == [1, 1]


def test_unlabelled_statistics_group_by_prediction(unlabelled):
    s = path_statistics(unlabelled)
    assert s.weighted_purity is None
    assert s.decision_alignment == pytest.approx(5 / 6)
    # predicted glioma: images 0, 2, 3 on three different paths; meningioma: 1 (c1-c1), 4 and 5 (c2-c2).
    assert s.top_paths["class"].tolist() == ["glioma"] * 3 + ["meningioma"] * 2
    assert s.top_paths["path"].tolist() == ["c1-c1", "c1-c2", "c2-c3", "c2-c2", "c1-c1"]
    assert s.top_paths["count"].tolist() == [1, 1, 1, 2, 1]


def test_ties_order_cluster_numbers_numerically():
    # "c10" sorts before "c2" as text; as cluster numbers c2 comes first.
    names = [[f"c{i + 1}" for i in range(10)]]
    df = build_paths(
        [np.array([9, 1])],
        names,
        [np.zeros(10, dtype=int)],
        ["dense"],
        predicted=np.array([0, 0]),
        confidence=np.array([1.0, 1.0]),
        class_names=["a"],
    )
    assert path_statistics(df).top_paths["path"].tolist() == ["c2", "c10"]


@pytest.mark.parametrize(
    ("groups", "labels", "expected"),
    [
        ([0, 0, 0], [1, 1, 0], [1]),
        ([0, 0, 1, 1], [2, 1, 0, 1], [1, 0]),
        ([1, 1, 0], [3, 3, 2], [2, 3]),
    ],
    ids=["clear-majority", "ties-go-to-lowest-label", "groups-out-of-order"],
)
def test_majority_kernel(groups, labels, expected):
    assert _majority(np.array(groups), np.array(labels)).tolist() == expected


@pytest.mark.parametrize("labelled", [True, False], ids=["labelled", "unlabelled"])
def test_statistics_round_trip_through_json(paths, unlabelled, labelled):
    s = path_statistics(paths if labelled else unlabelled)
    back = PathStatistics.from_dict(json.loads(json.dumps(s.to_dict())))
    for field in ("n_images", "n_distinct", "complexity", "weighted_purity", "decision_alignment"):
        assert getattr(back, field) == getattr(s, field)
    pd.testing.assert_frame_equal(back.top_paths, s.top_paths, check_exact=True)


def test_from_dict_names_missing_keys(paths):
    d = path_statistics(paths).to_dict()
    del d["complexity"]
    with pytest.raises(InvalidInputError, match=r"d: expected the keys .* missing \['complexity'\]"):
        PathStatistics.from_dict(d)


@pytest.mark.parametrize("name", ["path", "true", "layers_agreeing"], ids=lambda n: f"layer-called-{n}")
def test_layer_names_clashing_with_fixed_columns(name):
    assert name in FIXED_COLUMNS
    with pytest.raises(InvalidInputError, match=rf"layer_names: expected names other than .*\['{name}'\]"):
        _build(layer_names=["conv", name])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(cluster_labels=LABELS[:1]), r"cluster_labels: expected 2 entries \(one per layer"),
        (dict(cluster_names=NAMES[:1]), r"cluster_names: expected 2 entries"),
        (dict(cluster_dominant=DOMINANT * 2), r"cluster_dominant: expected 2 entries .*; received 4"),
        (dict(confidence=CONF[:5]), r"confidence: expected real numbers of shape \(6,\)"),
        (dict(true=TRUE[:4]), r"true: expected integers of shape \(6,\); received int64 of shape \(4,\)"),
        (dict(cluster_labels=[LABELS[0], LABELS[1][:5]]), r"cluster_labels\[1\]: expected integers of shape \(6,\)"),
        (
            dict(cluster_dominant=[np.array([0, 1, 1]), DOMINANT[1]]),
            r"cluster_dominant\[0\]: expected integers of shape \(2,\)",
        ),
        (dict(files=["a.png"] * 5), r"files: expected 6 file names \(one str per image in predicted\); received list"),
        (dict(files="scans"), r"files: expected 6 file names .*; received a str"),
    ],
    ids=[
        "layers-labels",
        "layers-names",
        "layers-dominant",
        "confidence",
        "true",
        "labels-of-a-layer",
        "dominant-of-a-layer",
        "files",
        "files-string",
    ],
)
def test_length_errors_name_argument_and_expected_length(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        _build(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            dict(cluster_labels=[np.array([0, 0, 0, 1, 1, 2]), LABELS[1]]),
            r"cluster_labels\[0\]: expected values in 0..1; received range 0..2",
        ),
        (dict(predicted=np.array([0, 1, 0, 0, 1, 2])), r"predicted: expected values in 0..1"),
        (dict(cluster_dominant=[np.array([0, 5]), DOMINANT[1]]), r"cluster_dominant\[0\]: expected values in 0..1"),
        (dict(confidence=CONF + 0.5), r"confidence: expected probabilities in \[0, 1\]"),
        (dict(cluster_labels=[LABELS[0].astype(float), LABELS[1]]), r"cluster_labels\[0\]: expected integers"),
        (dict(cluster_names=[["a", "a"], NAMES[1]]), r"cluster_names\[0\]: expected distinct, .*\['a'\]"),
        (dict(class_names=["x", "x"]), r"class_names: expected distinct, non-empty names"),
        (dict(layer_names=["conv", "conv"]), r"layer_names: expected distinct, non-empty names"),
        (dict(layer_names=[]), r"layer_names: expected a non-empty sequence of str; received \[\]"),
    ],
    ids=[
        "label-out-of-range",
        "prediction-out-of-range",
        "dominant-out-of-range",
        "confidence-above-1",
        "float-labels",
        "repeated-cluster-names",
        "repeated-class-names",
        "repeated-layer-names",
        "no-layers",
    ],
)
def test_value_errors(changes, message):
    with pytest.raises(InvalidInputError, match=message):
        _build(**changes)


@pytest.mark.parametrize(
    ("mutate", "top", "message"),
    [
        (lambda df: df, 0, r"top: expected an integer >= 1; received 0"),
        (lambda df: df.drop(columns="path"), 5, r"paths: expected the columns .* missing \['path'\]"),
        (lambda df: df.iloc[:0], 5, r"paths: expected at least one image"),
        (
            lambda df: df.assign(true=df["true"].where(df.index != 2)),
            5,
            r"paths: expected 'true' known for all images or for none; 1 of 6 missing",
        ),
        (
            lambda df: df.assign(path=["c1-c1", "x", "c1", "c1", "c1", "c1"]),
            5,
            r"paths: expected path ids like 'c1-c3-c2' in 'path'; received \['x'\]",
        ),
    ],
    ids=["top-zero", "missing-column", "empty", "partly-labelled", "bad-path-id"],
)
def test_statistics_errors(paths, mutate, top, message):
    with pytest.raises(InvalidInputError, match=message):
        path_statistics(mutate(paths), top=top)
