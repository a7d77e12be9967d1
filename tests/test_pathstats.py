"""Path statistics: complexity, purity, decision alignment in-sample and held out, agreement under noise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _toy_paths import _build

from layerlens.exceptions import InvalidInputError
from layerlens.paths import build_paths
from layerlens.pathstats import PathStatistics, _majority, path_statistics


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
