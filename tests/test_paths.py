"""The per-image paths table (hand-computed oracle in tests/_toy_paths.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _toy_paths import CLASSES, CONF, LABELS, LAYERS, LEADING, NAMES, PRED, TRUE, _build

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.paths._table import FIXED_COLUMNS, build_paths


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
        (dict(cluster_classes=LEADING * 2), r"cluster_classes: expected 2 entries .*; received 4"),
        (dict(confidence=CONF[:5]), r"confidence: expected real numbers of shape \(6,\)"),
        (dict(true=TRUE[:4]), r"true: expected integers of shape \(6,\); received int64 of shape \(4,\)"),
        (dict(cluster_labels=[LABELS[0], LABELS[1][:5]]), r"cluster_labels\[1\]: expected integers of shape \(6,\)"),
        (
            dict(cluster_classes=[np.array([0, 1, 1]), LEADING[1]]),
            r"cluster_classes\[0\]: expected integers of shape \(2,\)",
        ),
        (dict(files=["a.png"] * 5), r"files: expected 6 file names \(one str per image in predicted\); received list"),
        (dict(files="scans"), r"files: expected 6 file names .*; received a str"),
    ],
    ids=[
        "layers-labels",
        "layers-names",
        "layers-cluster-classes",
        "confidence",
        "true",
        "labels-of-a-layer",
        "cluster-classes-of-a-layer",
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
        (
            dict(cluster_classes=[np.array([0, 5]), LEADING[1]]),
            r"cluster_classes\[0\]: expected class indices in -1\.\.1 \(one per cluster, -1 for a mixed cluster\); "
            r"received range 0\.\.5",
        ),
        (
            dict(cluster_classes=[np.array([-2, 1]), LEADING[1]]),
            r"cluster_classes\[0\]: expected class indices in -1\.\.1 .*; received range -2\.\.1",
        ),
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
        "cluster-class-out-of-range",
        "cluster-class-below-mixed",
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


# Mixed clusters (-1) in the toy: layer A's c2 and layer B's c1. Images and their predictions:
#
#   image  pred  layer A      layer B      layers agreeing
#   0      0     c1 (0) ✓     c1 (mixed)   1
#   1      1     c1 (0) ✗     c1 (mixed)   0
#   2      0     c1 (0) ✓     c2 (1) ✗     1
#   3      0     c2 (mixed)   c3 (1) ✗     0
#   4      1     c2 (mixed)   c2 (1) ✓     1
#   5      1     c2 (mixed)   c2 (1) ✓     1
@pytest.mark.parametrize(
    ("leading", "expected"),
    [
        (LEADING, [2, 0, 1, 0, 2, 2]),
        ([np.array([0, -1]), np.array([-1, 1, 1])], [1, 0, 1, 0, 1, 1]),
        ([np.array([-1, -1]), np.array([-1, -1, -1])], [0, 0, 0, 0, 0, 0]),
    ],
    ids=["all-led", "some-mixed", "all-mixed"],
)
def test_a_mixed_cluster_never_agrees(leading, expected):
    paths = _build(cluster_classes=leading)
    assert paths["layers_agreeing"].tolist() == expected
    assert paths["path"].tolist() == ["c1-c1", "c1-c1", "c1-c2", "c2-c3", "c2-c2", "c2-c2"]  # paths unchanged


def test_cluster_classes_is_the_third_positional_argument():
    leading = [np.array([0, -1]), np.array([-1, 1, 1])]
    positional = build_paths(
        LABELS, NAMES, leading, LAYERS, predicted=PRED, confidence=CONF, class_names=CLASSES, true=TRUE
    )
    keyword = _build(cluster_classes=leading)
    pd.testing.assert_frame_equal(positional, keyword)


def test_the_old_keyword_cluster_dominant_still_works_with_a_deprecation_warning():
    kwargs = dict(predicted=PRED, confidence=CONF, class_names=CLASSES, true=TRUE)
    with pytest.warns(DeprecationWarning, match=r"build_paths: cluster_dominant= is renamed cluster_classes="):
        old = build_paths(LABELS, NAMES, cluster_dominant=LEADING, layer_names=LAYERS, **kwargs)
    pd.testing.assert_frame_equal(old, _build())
    with pytest.raises(InvalidTypeError, match=r"cluster_classes: expected it once; received both"):
        build_paths(LABELS, NAMES, cluster_dominant=LEADING, cluster_classes=LEADING, layer_names=LAYERS, **kwargs)
