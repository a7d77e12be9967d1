"""Separability of the true classes in a layer's features (hand-computed oracles and scikit-learn cross-checks)."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from layerlens.exceptions import InvalidInputError
from layerlens.layers import _separability as separability_module
from layerlens.layers._separability import Separability, separability


def blobs(n_per_class=50, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    y = np.repeat(np.arange(3), n_per_class)
    return centres[y] + spread * rng.normal(size=(len(y), 3)), y


def test_well_separated_blobs():
    x, y = blobs()
    s = separability(x, y)
    assert s.knn_accuracy == 1.0
    assert s.silhouette > 0.8
    assert s.variance_explained > 0.98 and s.variance_ratio > 50


def test_random_labels_are_at_chance():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 5)), rng.integers(0, 3, 600)
    s = separability(x, y)
    assert abs(s.knn_accuracy - 1 / 3) < 0.08
    assert abs(s.silhouette) < 0.05
    assert s.variance_explained < 0.02 and s.variance_ratio < 0.02


def test_leave_one_out_excludes_self():
    # Points 0..9 on a line with alternating labels: each point's nearest other points have the other label.
    x, y = np.arange(10.0)[:, None], np.arange(10) % 2
    assert KNeighborsClassifier(n_neighbors=1).fit(x, y).score(x, y) == 1.0  # self included: perfect
    assert separability(x, y, n_neighbors=1).knn_accuracy == 0.0


def test_duplicate_points_of_different_classes_do_not_vote_for_themselves():
    # Each location holds two identical points labelled 0 and 1; locations are far apart.
    x = np.repeat(np.arange(0.0, 500.0, 100.0), 2)[:, None]
    y = np.tile([0, 1], 5)
    assert separability(x, y, n_neighbors=1).knn_accuracy == 0.0
    # Four copies labelled 0, 0, 0, 1 and k=3: the 1 sees three 0s, each 0 sees two 0s and the 1.
    assert separability(np.zeros((4, 2)), np.array([0, 0, 0, 1]), n_neighbors=3).knn_accuracy == 0.75


def test_more_duplicates_than_neighbours():
    # Six copies per location and k=2: the query itself may be missing from its 3 returned neighbours.
    x = np.repeat([[0.0, 0.0], [10.0, 0.0]], 6, axis=0)
    y = np.repeat([0, 1], 6)
    codes = separability_module.loo_knn_predict(x, y, np.arange(12), 2)
    np.testing.assert_array_equal(codes, y)


def test_leave_one_out_matches_sklearn_without_ties():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(80, 4)), rng.integers(0, 3, 80)
    neighbours = NearestNeighbors(n_neighbors=1).fit(x).kneighbors(return_distance=False)  # excludes self
    predicted = separability_module.loo_knn_predict(x, y, np.arange(80), 1)
    np.testing.assert_array_equal(predicted, y[neighbours[:, 0]])


@pytest.mark.parametrize(
    ("positions", "expected"),
    [([0.0, 1.0, -2.0], 1), ([0.0, 2.0, -1.0], 2)],
    ids=["nearer-on-right", "nearer-on-left"],
)
def test_vote_tie_goes_to_the_nearest_neighbour(positions, expected):
    # The query (label 0) has one neighbour of class 1 and one of class 2: a 1-1 tie.
    x = np.array(positions)[:, None]
    assert separability_module.loo_knn_predict(x, np.array([0, 1, 2]), np.array([0]), 2).tolist() == [expected]


def test_majority_beats_nearest():
    x = np.array([0.0, 1.0, 2.0, 2.5])[:, None]
    assert separability_module.loo_knn_predict(x, np.array([0, 1, 2, 2]), np.array([0]), 3).tolist() == [2]


@pytest.mark.parametrize(
    ("points", "labels", "ratio", "share"),
    [
        # Means 1 and 5 around 3: B = 2*4 + 2*4 = 16; W = 1+1+1+1 = 4.
        ([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1], 4.0, 0.8),
        # Means (1, 0) and (1, 4) around (1, 2.4): B = 2*2.4^2 + 3*1.6^2 = 19.2; W = 2 + 8 = 10.
        ([[0, 0], [2, 0], [0, 3], [2, 3], [1, 6]], [0, 0, 1, 1, 1], 1.92, 19.2 / 29.2),
    ],
    ids=["1d-equal-sizes", "2d-unequal-sizes"],
)
def test_variance_ratio_and_share_oracle(points, labels, ratio, share):
    x, y = np.array(points, float), np.array(labels)
    assert separability_module._variance_ratio_and_share(x, y) == pytest.approx((ratio, share))
    # B / W is the Calinski-Harabasz index without its degrees-of-freedom factor.
    n, c = len(y), len(set(labels))
    assert ratio == pytest.approx(calinski_harabasz_score(x, y) * (c - 1) / (n - c))


@pytest.mark.parametrize(
    ("points", "expected"),
    [([[0.0], [0.0], [3.0], [3.0]], (math.inf, 1.0)), ([[1.0], [1.0], [1.0], [1.0]], (math.nan, math.nan))],
    ids=["classes-collapsed", "all-identical"],
)
def test_variance_degenerate(points, expected):
    values = separability_module._variance_ratio_and_share(np.array(points), np.array([0, 0, 1, 1]))
    np.testing.assert_array_equal(values, expected)  # NaN equals NaN here


def test_labels_need_not_be_contiguous():
    x, y = blobs()
    assert separability(x, y * 7 + 3) == separability(x, y)


def test_subsample_is_seeded_and_bounded():
    x, y = blobs(n_per_class=200, spread=8.0)
    first = separability(x, y, max_samples=100, seed=1)
    assert first == separability(x, y, max_samples=100, seed=1)
    assert first != separability(x, y, max_samples=100, seed=2)
    assert (first.knn_accuracy * 100) == pytest.approx(round(first.knn_accuracy * 100))  # 100 queries
    # The variance explained always uses every image.
    assert first.variance_explained == separability(x, y).variance_explained


def test_silhouette_is_nan_when_every_class_has_one_image():
    s = separability(np.array([[0.0], [1.0], [5.0]]), np.array([0, 1, 2]), n_neighbors=1)
    assert math.isnan(s.silhouette)


@pytest.mark.parametrize(
    "scores",
    [Separability(0.25, 0.75, 1.0, 0.5), Separability(math.nan, 1.0, math.inf, 1.0)],
    ids=["finite", "nan"],
)
def test_separability_round_trips_through_strict_json(scores):
    text = json.dumps(scores.to_dict(), allow_nan=False)
    back = Separability.from_dict(json.loads(text))
    for name in ("silhouette", "knn_accuracy", "variance_ratio", "variance_explained"):
        a, b = getattr(scores, name), getattr(back, name)
        assert a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"features": np.arange(6.0)}, r"features: expected a 2-D array of shape \(N, D\) with N >= 2 and D >= 1; "
         r"received shape \(6,\)"),
        ({"features": np.full((6, 2), np.nan)}, "features: expected finite values; received 12 NaN"),
        ({"y_true": np.array([0, 1, 0])}, "features and y_true: expected the same number of images; received "
         "features with 6 rows and y_true of length 3"),
        ({"y_true": np.zeros(6, int)}, r"y_true: expected at least 2 distinct classes; received only "
         r"class \[0\]"),
        ({"y_true": np.array(["a", "b"] * 3)}, r"y_true: expected integers of shape \(N,\); received <U1"),
        ({"n_neighbors": 0}, r"n_neighbors: expected an integer in 1..5; received 0"),
        ({"n_neighbors": 6}, r"n_neighbors: expected an integer in 1..5; received 6"),
        ({"max_samples": 1}, "max_samples: expected an integer >= 2; received 1"),
    ],
    ids=["features-1d", "features-nan", "length-mismatch", "one-class", "string-labels", "k-zero",
         "k-too-large", "max-samples"],
)  # fmt: skip
def test_separability_rejects_bad_input(override, match):
    args = {"features": np.arange(12.0).reshape(6, 2), "y_true": np.array([0, 1] * 3)}
    args.update(override)
    with pytest.raises(InvalidInputError, match=match):
        separability(**args)


def test_separability_from_dict_names_missing_keys():
    with pytest.raises(InvalidInputError, match=r"missing \['variance_ratio', 'variance_explained'\]"):
        Separability.from_dict({"silhouette": 0.1, "knn_accuracy": 0.5})


def test_importing_separability_does_not_import_tensorflow():
    code = "import sys, layerlens.layers._separability; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
