"""Path statistics: complexity, purity, decision alignment in-sample and held out, agreement under noise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _toy_paths import _build

from layerlens.exceptions import InvalidInputError
from layerlens.layers._alignment import majority
from layerlens.paths._statistics import PathStatistics, path_statistics
from layerlens.paths._table import build_paths


@pytest.fixture
def paths():
    return _build()


@pytest.fixture
def unlabelled():
    return _build(true=None)


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
    assert majority(np.array(groups), np.array(labels)).tolist() == expected


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


def test_heldout_alignment_learnt_on_a_reference(paths):
    # Reference paths c1-c1 (predicted 0, 0, 1), c2-c2 (1) and c2-c3 (0): majorities 0, 1, 0.
    # The six images: c1-c1/0 hit, c1-c1/1 miss, c1-c2 never seen (miss), c2-c3/0 hit, c2-c2/1 hit twice.
    s = path_statistics(
        paths,
        fit_paths=["c1-c1", "c1-c1", "c1-c1", "c2-c2", "c2-c3"],
        fit_predictions=np.array([0, 0, 1, 1, 0]),
    )
    assert (s.heldout_alignment, s.heldout_known, s.heldout_basis) == (4 / 6, 5 / 6, "reference")


def test_heldout_alignment_across_halves_is_seeded():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 3, 200)
    df = _build_random(groups)
    a, b = path_statistics(df, seed=1), path_statistics(df, seed=1)
    assert a.heldout_basis == "halves" and a.heldout_alignment == b.heldout_alignment
    assert a.heldout_known == 1.0  # 3 paths and 100 images a half: each half has every path
    assert a.heldout_alignment == pytest.approx(a.decision_alignment, abs=0.05)


def test_agreement_under_noise(paths):
    # Clean clusters per image: (0,0) (0,0) (0,1) (1,2) (1,1) (1,1); the noise moves image 2 in layer 2
    # and image 5 in layer 1, and changes image 4's prediction.
    noisy = np.array([[0, 0], [0, 0], [0, 0], [1, 2], [1, 1], [0, 1]])
    s = path_statistics(paths, noisy_clusters={0.1: noisy}, noisy_predictions={0.1: np.array([0, 1, 0, 0, 0, 1])})
    assert s.agreement == {0.1: 4 / 6}
    assert s.layer_agreement == {0.1: (5 / 6, 5 / 6)}
    assert s.prediction_agreement == {0.1: 5 / 6}
    back = PathStatistics.from_dict(json.loads(json.dumps(s.to_dict())))
    assert (back.agreement, back.layer_agreement, back.prediction_agreement) == (
        s.agreement,
        s.layer_agreement,
        s.prediction_agreement,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fit_paths": ["c1-c1"]}, "fit_paths and fit_predictions: expected both or neither"),
        ({"noisy_clusters": {0.1: np.zeros((6, 2), int)}}, "noisy_predictions: expected one array per noise level"),
        (
            {"noisy_clusters": {0.1: np.zeros((6, 3), int)}, "noisy_predictions": {0.1: np.zeros(6, int)}},
            r"noisy_clusters\[0.1\]: expected integers of shape \(6, 2\)",
        ),
    ],
    ids=["fit-half", "noise-without-predictions", "noise-wrong-shape"],
)
def test_heldout_and_noise_inputs_are_checked(paths, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        path_statistics(paths, **kwargs)


def _build_random(groups):
    n = len(groups)
    return build_paths(
        [groups], [["c1", "c2", "c3"]], [np.arange(3) % 2], ["dense"],
        predicted=groups % 2, confidence=np.full(n, 0.9), class_names=["a", "b"], true=groups % 2,
    )  # fmt: skip
