"""Tests of layerlens.layers._clusters: scale + PCA reduction, k-means clusters, their names and order."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning

from layerlens.exceptions import InvalidInputError
from layerlens.layers import _kchoice as _kchoice
from layerlens.layers._clusters import (
    AUTO_K_RANGE,
    LEAD_P_VALUE,
    LEAD_RATIO,
    NO_CLASS_INFORMATION,
    LayerClusters,
    cluster_layer,
    reduce_features,
)

CLASSES = ("alpha", "beta", "gamma")


def _blobs(centers, sizes, *, dim=5, spread=0.1, seed=0):
    """Points around ``centers`` (first coordinates; the rest 0), ``sizes[i]`` of them each, in order."""
    rng = np.random.default_rng(seed)
    parts = []
    for center, size in zip(centers, sizes):
        mean = np.zeros(dim)
        mean[: len(center)] = center
        parts.append(mean + spread * rng.normal(size=(size, dim)))
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture(scope="module")
def three_blobs():
    """30 points each at x = 0, 10, 20; in data order they belong to classes 2, 0, 1."""
    x = _blobs([(0.0,), (10.0,), (20.0,)], [30, 30, 30])
    reference = np.repeat([2, 0, 1], 30)
    return x, reference


# -- reduce_features ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "max_components", "expected"),
    [((40, 10), 50, (40, 10)), ((40, 10), 3, (40, 3)), ((5, 20), 50, (5, 5)), ((60, 80), 50, (60, 50))],
    ids=["D<50", "max_components caps", "N<D", "default cap"],
)
def test_reduce_features_shape_and_dtype(shape, max_components, expected):
    x = np.random.default_rng(0).normal(size=shape)
    z = reduce_features(x, max_components=max_components)
    assert z.shape == expected
    assert z.dtype == np.float32
    assert np.isfinite(z).all()


def test_reduce_features_oracle_collinear_columns():
    # Two collinear columns standardise to the same column s; PC1 = sqrt(2) * s, PC2 = 0.
    x = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0], [3.0, 7.0]])
    s = (x[:, 0] - 1.5) / np.sqrt(1.25)
    z = reduce_features(x)
    np.testing.assert_allclose(np.abs(z[:, 0]), np.abs(np.sqrt(2) * s), rtol=1e-6)
    np.testing.assert_allclose(z[:, 1], 0.0, atol=1e-6)


def test_reduce_features_constant_columns_change_nothing():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4))
    with_constants = np.column_stack([x[:, :2], np.full(30, 7.0), x[:, 2:], np.zeros(30)])
    z = reduce_features(with_constants)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[:, :4], reduce_features(x), atol=1e-5)
    np.testing.assert_allclose(z[:, 4:], 0.0, atol=1e-5)


def test_reduce_features_all_constant_gives_zeros():
    z = reduce_features(np.full((6, 3), 2.5))
    np.testing.assert_array_equal(z, np.zeros((6, 3), np.float32))


def test_reduce_features_is_scale_invariant_and_ordered_by_variance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    z = reduce_features(x)
    np.testing.assert_allclose(reduce_features(x * [1, 1000, 1, 1e-3, 1, 1]), z, atol=1e-4)
    variances = z.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-6)


def test_reduce_features_is_deterministic_and_leaves_input_alone():
    x = np.random.default_rng(3).normal(size=(100, 20)).astype(np.float32)
    copy = x.copy()
    np.testing.assert_array_equal(reduce_features(x, seed=4), reduce_features(x, seed=4))
    np.testing.assert_array_equal(x, copy)


@pytest.mark.parametrize(
    ("features", "kwargs", "match"),
    [
        (np.zeros(5), {}, r"features: expected a 2-D array .* received shape \(5,\)"),
        (np.zeros((1, 4)), {}, r"features: .*N >= 2.*received shape \(1, 4\)"),
        (np.zeros((4, 0)), {}, r"features: .*D >= 1.*received shape \(4, 0\)"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, r"features: expected finite values; received 1 NaN"),
        (np.array([["a", "b"], ["c", "d"]]), {}, r"features: expected real numbers; received dtype <U1"),
        (np.ones((4, 2)), {"max_components": 0}, r"max_components: expected an integer >= 1; received 0"),
        (np.ones((4, 2)), {"max_components": 2.5}, r"max_components: .*received 2\.5"),
        (np.ones((4, 2)), {"seed": -1}, r"seed: expected an integer in 0\.\.2\*\*32-1; received -1"),
    ],
    ids=["1-D", "one row", "no columns", "NaN", "strings", "zero components", "float components", "negative seed"],
)
def test_reduce_features_rejects_bad_input(features, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        reduce_features(features, **kwargs)


# -- cluster_layer: oracles -----------------------------------------------------------------------


def test_auto_finds_three_blobs_named_and_ordered_by_class(three_blobs):
    x, classes = three_blobs
    c = cluster_layer(x, classes, CLASSES)
    assert isinstance(c, LayerClusters)
    assert c.k == 3 and c.k_rule == "faithful"
    assert sorted(c.k_scores) == list(AUTO_K_RANGE)  # the blobs follow the decisions: every k is tried
    assert c.k_scores[3]["decision_alignment"] == 1.0 and c.k_scores[2]["decision_alignment"] < 0.7
    assert c.silhouette == c.k_scores[3]["silhouette"]
    assert "smallest k whose decision alignment (100.0%)" in c.k_reason
    assert c.names == ("c1 · 100% alpha", "c2 · 100% beta", "c3 · 100% gamma")
    np.testing.assert_array_equal(c.dominant, [0, 1, 2])
    np.testing.assert_array_equal(c.purity, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(c.sizes, [30, 30, 30])
    # Data order is class 2, 0, 1: cluster numbers follow the class, not the data order.
    np.testing.assert_array_equal(c.assignments, np.repeat([2, 0, 1], 30))


@pytest.mark.parametrize("groups", [2, 4, 6, 9], ids=lambda g: f"{g}-groups")
def test_faithful_k_finds_a_known_number_of_decision_groups(groups):
    # Groups on a circle, each predicted as its own class, spread wide enough to touch.
    angles = np.linspace(0, 2 * np.pi, groups, endpoint=False)
    x = _blobs([(10 * np.cos(t), 10 * np.sin(t)) for t in angles], [60] * groups, spread=1.0, seed=groups)
    predicted = np.repeat(np.arange(groups), 60)
    names = [f"class {i}" for i in range(groups)]
    c = cluster_layer(x, predicted, names, predictions=predicted, seed=3)
    assert c.k == groups
    assert c.k_scores[groups]["decision_alignment"] > 0.98


def test_faithful_k_gives_a_layer_blind_to_decisions_the_smallest_k():
    # Three clear blobs, but the model's decisions are unrelated to them: the layer does not separate decisions.
    x = _blobs([(0.0,), (10.0,), (20.0,)], [40, 40, 40])
    predictions = np.random.default_rng(0).integers(0, 3, 120)
    c = cluster_layer(x, predictions, CLASSES, predictions=predictions)
    assert c.k == 2 and sorted(c.k_scores) == [2, 12]  # only the largest and the smallest k were fitted
    assert c.k_reason.startswith("does not separate decisions")


def test_faithful_k_on_a_sample_is_seeded_and_still_finds_the_groups():
    x = _blobs([(0.0,), (10.0,), (20.0,), (30.0,)], [300] * 4, spread=1.0)
    predicted = np.repeat([0, 1, 2, 3], 300)
    names = ["a", "b", "c", "d"]
    a = cluster_layer(x, predicted, names, predictions=predicted, seed=4, max_search_samples=100)
    b = cluster_layer(x, predicted, names, predictions=predicted, seed=4, max_search_samples=100)
    assert a.k == 4 and a.k_scores[4]["decision_alignment"] == 1.0
    np.testing.assert_array_equal(a.assignments, b.assignments)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_equal(a.k_scores, b.k_scores)  # NaN equals NaN here


def test_paths_are_counted_beside_each_k(three_blobs):
    x, classes = three_blobs
    first_split = (np.arange(90) % 2).astype(np.int64)  # an earlier layer that split every blob in two
    c = cluster_layer(x, classes, CLASSES, n_clusters=3, paths_before=first_split)
    assert c.k_scores[3]["paths"] == 6
    assert cluster_layer(x, classes, CLASSES, n_clusters=3).k_scores[3]["paths"] == 3


def test_assign_places_other_images_in_the_nearest_cluster(three_blobs):
    x, classes = three_blobs
    c = cluster_layer(x, classes, CLASSES)
    np.testing.assert_array_equal(c.assign(x), c.assignments)
    others = np.zeros((3, x.shape[1]), np.float32)
    others[:, 0] = [19.0, 1.0, 11.0]  # near the class-1, class-2 and class-0 blobs
    assert c.assign(others).tolist() == [1, 2, 0]
    with pytest.raises(InvalidInputError, match="reduced: expected 5 columns, as the centres have; received 2"):
        c.assign(np.zeros((1, 2)))


def test_silhouette_rule_finds_three_blobs(three_blobs):
    x, classes = three_blobs
    c = cluster_layer(x, classes, CLASSES, n_clusters="silhouette")
    assert c.k == 3 and c.k_rule == "silhouette"
    scores = {k: s["silhouette"] for k, s in c.k_scores.items()}
    assert sorted(scores) == list(AUTO_K_RANGE) and max(scores, key=scores.get) == 3
    assert c.silhouette == scores[3]


def test_result_types_and_centres(three_blobs):
    x, reference = three_blobs
    c = cluster_layer(x, reference, CLASSES)
    assert c.assignments.dtype == np.int64 and c.dominant.dtype == np.int64 and c.sizes.dtype == np.int64
    assert c.purity.dtype == np.float64
    assert c.centers.dtype == np.float32 and c.centers.shape == (3, x.shape[1])
    assert isinstance(c.silhouette, float)
    member_means = np.stack([x[c.assignments == j].mean(axis=0) for j in range(3)])
    np.testing.assert_allclose(c.centers, member_means, atol=1e-5)
    assert "k=3" in repr(c)


def test_purity_and_name_of_impure_cluster(three_blobs):
    x, reference = three_blobs
    reference = reference.copy()
    reference[30:33] = 1  # 3 of the 30 class-0 images now count as class 1: purity 27/30
    c = cluster_layer(x, reference, CLASSES)
    assert c.names == ("c1 · 90% alpha", "c2 · 100% beta", "c3 · 100% gamma")
    np.testing.assert_allclose(c.purity, [0.9, 1.0, 1.0])


def test_dominant_tie_goes_to_smaller_class_index():
    x = _blobs([(0.0,), (10.0,)], [4, 4])
    reference = np.array([2, 1, 2, 1, 0, 0, 0, 0])
    c = cluster_layer(x, reference, CLASSES, n_clusters=2)
    np.testing.assert_array_equal(c.dominant, [0, 1])
    np.testing.assert_allclose(c.purity, [1.0, 0.5])
    # Too few images for either class to lead: 4 of 4 alpha (half the set) has p = 0.5^4 = 0.0625.
    assert c.names == ("c1 · mixed", "c2 · mixed")


def test_same_dominant_class_orders_by_size():
    x = _blobs([(0.0,), (10.0,)], [10, 20])  # the smaller cluster comes first in the data
    c = cluster_layer(x, np.zeros(30, np.int64), CLASSES, n_clusters=2)
    np.testing.assert_array_equal(c.sizes, [20, 10])
    np.testing.assert_array_equal(c.assignments, np.repeat([1, 0], [10, 20]))
    # A class that is the whole set stands out nowhere.
    assert c.names == ("c1 · mixed", "c2 · mixed")
    np.testing.assert_array_equal(c.leading, [-1, -1])


@pytest.mark.parametrize(
    ("centers", "expected_labels"),
    [([(0.0,), (10.0,)], [0] * 10 + [1] * 10), ([(10.0,), (0.0,)], [0] * 10 + [1] * 10)],
    ids=["left blob first", "right blob first"],
)
def test_same_class_and_size_orders_by_position_in_input(centers, expected_labels):
    # Whichever blob the first images belong to becomes c1, wherever it lies in space.
    x = _blobs(centers, [10, 10])
    c = cluster_layer(x, np.ones(20, np.int64), CLASSES, n_clusters=2)
    np.testing.assert_array_equal(c.assignments, expected_labels)


def test_silhouette_oracle_on_four_points():
    # Points 0, 1 | 10, 11: s = 1 - 1/10.5 for the outer points, 1 - 1/9.5 for the inner ones.
    x = np.array([[0.0], [1.0], [10.0], [11.0]])
    c = cluster_layer(x, np.array([0, 0, 1, 1]), CLASSES, n_clusters=2)
    expected = ((1 - 1 / 10.5) + (1 - 1 / 9.5)) / 2
    assert c.silhouette == pytest.approx(expected, rel=1e-6)
    assert list(c.k_scores) == [2] and c.k_scores[2]["silhouette"] == c.silhouette


@pytest.mark.parametrize("k", [4, np.int64(4)], ids=["int", "numpy int"])
def test_fixed_k(three_blobs, k):
    x, reference = three_blobs
    c = cluster_layer(x, reference, CLASSES, n_clusters=k)
    assert c.k == 4 and c.k_rule == "fixed"
    assert list(c.k_scores) == [4]
    assert c.silhouette == c.k_scores[4]["silhouette"]
    assert c.sizes.sum() == 90


def test_auto_caps_k_at_n_minus_one():
    x = np.array([[0.0], [1.0], [5.0], [9.0], [10.0]])
    c = cluster_layer(x, np.zeros(5, np.int64), CLASSES, n_clusters="silhouette")
    assert sorted(c.k_scores) == [2, 3, 4]


def test_silhouette_ties_keep_the_smaller_k(three_blobs, monkeypatch):
    monkeypatch.setattr(_kchoice, "silhouette_of", lambda distances, labels: 0.25)
    x, reference = three_blobs
    c = cluster_layer(x, reference, CLASSES, n_clusters="silhouette")
    assert c.k == 2
    assert {s["silhouette"] for k, s in c.k_scores.items() if k != 2} == {0.25}


@pytest.mark.parametrize(
    ("scores", "expected_k", "expected_silhouette"),
    [({2: np.nan, 3: 0.4, 4: 0.6}, 4, 0.6), ({}, 2, np.nan)],
    ids=["undefined k=2 is skipped", "all undefined keeps k=2"],
)
def test_undefined_silhouettes_rank_last(three_blobs, monkeypatch, scores, expected_k, expected_silhouette):
    # Scores keyed by the number of clusters found; k not listed scores 0.1 (NaN when none is listed).
    default = 0.1 if scores else np.nan
    monkeypatch.setattr(
        _kchoice, "silhouette_of", lambda distances, labels: scores.get(len(np.unique(labels)), default)
    )
    x, reference = three_blobs
    c = cluster_layer(x, reference, CLASSES, n_clusters="silhouette")
    assert c.k == expected_k
    np.testing.assert_equal(c.k_scores[expected_k]["silhouette"], expected_silhouette)
    if expected_k != 2:
        assert np.isnan(c.k_scores[2]["silhouette"])


def test_samples_are_seeded_sorted_and_capped():
    a = _kchoice.sample_rows(1000, 50, seed=3)
    assert len(a) == 50 and len(np.unique(a)) == 50 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, _kchoice.sample_rows(1000, 50, seed=3))
    assert not np.array_equal(a, _kchoice.sample_rows(1000, 50, seed=4))
    np.testing.assert_array_equal(_kchoice.sample_rows(40, 50, seed=3), np.arange(40))


def test_subsampled_silhouette_still_finds_the_blobs(three_blobs):
    x, reference = three_blobs
    c = cluster_layer(x, reference, CLASSES, n_clusters="silhouette", max_silhouette_samples=20, seed=1)
    assert c.k == 3
    assert all(-1.0 <= s["silhouette"] <= 1.0 for s in c.k_scores.values())


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 8)).astype(np.float32)  # no structure: the hardest case for repeatability
    reference = rng.integers(0, 3, 300)
    a = cluster_layer(x, reference, CLASSES, seed=7, max_silhouette_samples=100, max_search_samples=150)
    b = cluster_layer(x, reference, CLASSES, seed=7, max_silhouette_samples=100, max_search_samples=150)
    np.testing.assert_array_equal(a.assignments, b.assignments)
    np.testing.assert_array_equal(a.centers, b.centers)
    assert a.names == b.names
    np.testing.assert_equal(a.k_scores, b.k_scores)


def test_kmeans_runs_on_one_openmp_thread(three_blobs, monkeypatch):
    # scikit-learn's k-means result depends on the OpenMP thread count; one thread keeps runs
    # identical across machines.
    seen = []
    original_fit = _kchoice.KMeans.fit

    def spy(self, *args, **kwargs):
        seen.extend(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp")
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(_kchoice.KMeans, "fit", spy)
    x, reference = three_blobs
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        cluster_layer(x, reference, CLASSES, n_clusters=3)
    assert seen and set(seen) == {1}


def test_float64_and_float32_input_agree(three_blobs):
    x, reference = three_blobs
    a = cluster_layer(x, reference, CLASSES)
    b = cluster_layer(x.astype(np.float64), reference, CLASSES)
    np.testing.assert_array_equal(a.assignments, b.assignments)
    np.testing.assert_equal(a.k_scores, b.k_scores)


def test_input_is_not_mutated(three_blobs):
    x, reference = three_blobs
    x_copy, ref_copy = x.copy(), reference.copy()
    cluster_layer(x, reference, CLASSES)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(reference, ref_copy)


def test_empty_clusters_are_dropped():
    x = np.array([[0.0], [0.0], [0.0], [5.0], [5.0], [5.0]])  # two distinct points, k = 4
    with pytest.warns(ConvergenceWarning):
        c = cluster_layer(x, np.array([0, 0, 0, 1, 1, 1]), CLASSES, n_clusters=4)
    assert c.k == 2
    assert c.names == ("c1 · mixed", "c2 · mixed")  # 3 of 3 images of a half-share class: p = 0.125
    np.testing.assert_array_equal(c.dominant, [0, 1])
    np.testing.assert_array_equal(c.assignments, [0, 0, 0, 1, 1, 1])
    assert c.centers.shape == (2, 1)


# -- cluster_layer: which class leads a cluster, how much the clusters say about the classes -------

FOUR = ("glioma", "meningioma", "no_tumor", "pituitary")


def _upper_tail(count, size, share):
    """P(X >= count) for X ~ Binomial(size, share), summed term by term: the p-value the lead rule tests."""
    return sum(math.comb(size, j) * share**j * (1 - share) ** (size - j) for j in range(count, size + 1))


def _composed(counts):
    """Clusters of blobs far apart, blob ``b`` holding ``counts[b][c]`` images of class ``c``; each blob's cluster."""
    counts = np.asarray(counts)
    sizes = counts.sum(axis=1)
    x = _blobs([(10.0 * b,) for b in range(len(counts))], sizes, dim=2)
    classes = np.concatenate([np.repeat(np.arange(counts.shape[1]), row) for row in counts])
    c = cluster_layer(x, classes, FOUR, n_clusters=len(counts))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return c, c.assignments[starts]


@pytest.mark.parametrize(
    ("counts", "share", "p_value", "leads"),
    [
        # 27 of 100 glioma, a class that makes up 25 % of the set: 1.08 times its share.
        ([[27, 25, 24, 24], [23, 25, 26, 26]], 0.25, 0.35826, False),
        # 12 of 20 glioma (60 %) against 25 %: 2.4 times, p = P(X >= 12 | 20, 0.25) = 0.000935.
        ([[12, 3, 3, 2], [8, 17, 17, 18]], 0.25, 0.000935, True),
        # 6 of 10 glioma (60 %) against 25 %: 2.4 times too, but p = 0.0197 on so few images.
        ([[6, 2, 1, 1], [14, 18, 19, 19]], 0.25, 0.019728, False),
        # 3 of 3 glioma (100 %) against 25 %: 4 times, p = 0.25^3 = 1/64 = 0.015625.
        ([[3, 0, 0, 0], [0, 3, 3, 3]], 0.25, 1 / 64, False),
        # 30 of 40 (75 %) of a half-share class: exactly 1.5 times, p = 0.00111.
        ([[30, 10, 0, 0], [10, 30, 0, 0]], 0.5, 0.001111, True),
        # 29 of 40 (72.5 %): p = 0.00321 is small, but the share is short of 1.5 times.
        ([[29, 11, 0, 0], [11, 29, 0, 0]], 0.5, 0.003213, False),
    ],
    ids=["27-of-25-percent", "60-percent-of-20", "60-percent-of-10", "3-of-3", "exactly-1.5-times", "just-short"],
)
def test_a_class_leads_a_cluster_only_when_clearly_over_represented(counts, share, p_value, leads):
    count, size = counts[0][0], sum(counts[0])
    assert _upper_tail(count, size, share) == pytest.approx(p_value, rel=1e-3)
    assert leads == (count / size >= LEAD_RATIO * share and p_value < LEAD_P_VALUE)
    c, cluster = _composed(counts)
    first = cluster[0]
    assert c.dominant[first] == 0 and c.purity[first] == pytest.approx(count / size)  # descriptive, either way
    assert c.leading[first] == (0 if leads else -1)
    expected = f"c{first + 1} · {round(100 * count / size)}% glioma" if leads else f"c{first + 1} · mixed"
    assert c.names[first] == expected


def test_only_the_most_frequent_class_is_a_candidate():
    # Blob 0: 40 no_tumor (a third of the set: 0.89 times) and 35 pituitary (a tenth: 4.7 times). Mixed.
    c, cluster = _composed([[0, 0, 40, 35], [0, 0, 80, 0], [40, 0, 0, 0], [0, 70, 0, 0]])
    assert c.dominant[cluster[0]] == 2
    assert c.leading[cluster[0]] == -1 and c.names[cluster[0]].endswith(" · mixed")


def test_mixed_clusters_keep_their_place_in_the_numbering():
    # Ordered by dominant class, then size, as before: the mixed blob (dominant glioma on a tie, 20 images)
    # comes after the 30 gliomas and before the meningiomas.
    c, cluster = _composed([[0, 30, 0, 0], [10, 10, 0, 0], [30, 0, 0, 0]])
    assert cluster.tolist() == [2, 1, 0]
    assert c.names == ("c1 · 100% glioma", "c2 · mixed", "c3 · 100% meningioma")
    np.testing.assert_array_equal(c.leading, [0, -1, 1])
    np.testing.assert_array_equal(c.dominant, [0, 0, 1])
    assert c.leading.dtype == np.int64


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (np.repeat([2, 0, 1], 30), 1.0),  # the clusters are the classes
        # Every blob holds 10 images of each class: no mutual information, and the correction for chance
        # takes AMI a little below 0 (-0.021 on 90 images).
        (np.tile([0, 1, 2], 30), 0.0),
    ],
    ids=["identical", "independent"],
)
def test_class_information_is_the_adjusted_mutual_information(three_blobs, classes, expected):
    x, _ = three_blobs
    c = cluster_layer(x, classes, CLASSES, n_clusters=3)
    assert c.class_information == pytest.approx(expected, abs=0.03)
    assert c.carries_class_information == (expected == 1.0)
    assert (c.leading >= 0).all() == (expected == 1.0)


def test_class_information_of_a_single_class_is_undefined_and_not_marked(three_blobs):
    x, _ = three_blobs
    c = cluster_layer(x, np.zeros(90, np.int64), CLASSES, n_clusters=3)
    assert np.isnan(c.class_information)
    assert c.carries_class_information
    np.testing.assert_array_equal(c.leading, [-1, -1, -1])


@pytest.mark.parametrize(
    ("class_information", "carries"),
    [(0.0, False), (NO_CLASS_INFORMATION - 1e-9, False), (NO_CLASS_INFORMATION, True), (0.6, True), (np.nan, True)],
    ids=["none", "just-below", "at-the-threshold", "high", "unknown"],
)
def test_carries_class_information_from_the_threshold(class_information, carries):
    assert NO_CLASS_INFORMATION == 0.02
    assert _stored_clusters(class_information).carries_class_information is carries


# -- cluster_layer: errors ------------------------------------------------------------------------

_X = np.array([[0.0], [1.0], [5.0], [6.0]])
_REF = np.array([0, 0, 1, 1])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"reduced": np.zeros(4)}, r"reduced: expected a 2-D array .* received shape \(4,\)"),
        ({"reduced": np.zeros((2, 1)), "classes": np.zeros(2, int)}, r"reduced: .*N >= 3.*\(2, 1\)"),
        ({"reduced": np.array([[0.0], [np.inf], [1.0], [2.0]])}, r"reduced: expected finite values"),
        ({"reduced": _X.astype(complex)}, r"reduced: expected real numbers; received dtype complex"),
        ({"classes": np.array([0, 1, 1])}, r"classes: expected integers of shape \(4,\).*\(3,\)"),
        ({"classes": _REF.astype(float)}, r"classes: expected integers .* received float64"),
        ({"classes": np.array([0, 1, 3, 1])}, r"classes: expected class indices in 0\.\.2 .*0\.\.3"),
        ({"classes": np.array([0, -1, 1, 1])}, r"classes: expected class indices .*-1\.\.1"),
        ({"predictions": np.array([0, 1, 5, 1])}, r"predictions: expected class indices in 0\.\.2"),
        ({"paths_before": np.array([0, 1])}, r"paths_before: expected integers of shape \(4,\)"),
        ({"class_names": "abc"}, r"class_names: expected a non-empty sequence of str; received 'abc'"),
        ({"class_names": []}, r"class_names: expected a non-empty sequence of str; received \[\]"),
        ({"class_names": ["a", 2, "c"]}, r"class_names: .*received \['a', 2, 'c'\]"),
        ({"n_clusters": "AUTO"}, r"n_clusters: expected \"auto\", \"silhouette\" or an int; received 'AUTO'"),
        ({"n_clusters": 1.5}, r"n_clusters: expected \"auto\", \"silhouette\" or an int; received 1\.5"),
        ({"n_clusters": True}, r"n_clusters: expected \"auto\", \"silhouette\" or an int; received True"),
        ({"n_clusters": 1}, r"n_clusters: expected an int in 2\.\.3 \(the number of images, 4, minus 1\)"),
        ({"n_clusters": 4}, r"n_clusters: expected an int in 2\.\.3 .*received 4"),
        ({"seed": 1.0}, r"seed: expected an integer in 0\.\.2\*\*32-1; received 1\.0"),
        ({"seed": 2**32}, r"seed: expected an integer .*received 4294967296"),
        ({"max_silhouette_samples": 2}, r"max_silhouette_samples: expected an integer >= 3; received 2"),
        ({"max_search_samples": 0}, r"max_search_samples: expected an integer >= 3; received 0"),
    ],
    ids=[
        "1-D reduced",
        "too few images",
        "inf",
        "complex",
        "classes length",
        "float classes",
        "classes too large",
        "negative classes",
        "predictions too large",
        "paths_before length",
        "str class_names",
        "no class names",
        "non-str class name",
        "AUTO",
        "float k",
        "bool k",
        "k=1",
        "k=N",
        "float seed",
        "huge seed",
        "tiny subsample",
        "tiny search sample",
    ],
)
def test_cluster_layer_rejects_bad_input(overrides, match):
    args = {"reduced": _X, "classes": _REF, "class_names": CLASSES, **overrides}
    reduced, classes, class_names = args.pop("reduced"), args.pop("classes"), args.pop("class_names")
    with pytest.raises(InvalidInputError, match=match):
        cluster_layer(reduced, classes, class_names, **args)


def test_module_imports_neither_umap_nor_tensorflow():
    code = "import sys, layerlens.layers._clusters; print(*(m in sys.modules for m in ('umap', 'tensorflow', 'keras')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def _stored_clusters(class_information=0.25):
    return LayerClusters(
        assignments=np.array([0, 1, 1]),
        names=("c1 · 100% a", "c2 · mixed"),
        leading=np.array([0, -1]),
        dominant=np.array([0, 1]),
        purity=np.array([1.0, 1.0]),
        sizes=np.array([1, 2]),
        centers=np.zeros((2, 3), np.float32),
        silhouette=float("nan"),
        class_information=class_information,
        k_scores={2: {"decision_alignment": 0.5, "silhouette": float("nan")}, 3: {"decision_alignment": 0.25}},
        k_rule="faithful",
        k_reason="because <it> said so",
    )


@pytest.mark.parametrize("class_information", [0.25, float("nan")], ids=["measured", "undefined"])
def test_to_dict_round_trips_through_strict_json(class_information):
    clusters = _stored_clusters(class_information)
    text = json.dumps(clusters.to_dict(), allow_nan=False)
    back = LayerClusters.from_dict(json.loads(text), assignments=clusters.assignments, centers=clusters.centers)
    assert back.names == clusters.names and back.k == 2 and back.k_scores[3] == {"decision_alignment": 0.25}
    assert (back.k_rule, back.k_reason) == (clusters.k_rule, clusters.k_reason)
    np.testing.assert_array_equal(back.sizes, clusters.sizes)
    np.testing.assert_array_equal(back.leading, [0, -1])
    assert back.leading.dtype == np.int64
    np.testing.assert_equal(back.class_information, class_information)
    assert np.isnan(back.silhouette) and np.isnan(back.k_scores[2]["silhouette"])


def test_from_dict_reads_clusters_stored_before_they_could_be_mixed():
    # An older layerlens named every cluster after its dominant class and measured no class information.
    stored = _stored_clusters().to_dict()
    del stored["leading"], stored["class_information"]
    stored["names"] = ["c1 · 100% a", "c2 · 100% b"]
    back = LayerClusters.from_dict(stored, assignments=np.array([0, 1, 1]), centers=np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(back.leading, back.dominant)
    np.testing.assert_array_equal(back.leading, [0, 1])
    assert back.leading.dtype == np.int64
    assert np.isnan(back.class_information)
    assert back.carries_class_information  # unknown is not marked


def test_a_gap_of_exactly_the_tolerance_counts_as_within(monkeypatch):
    # Decision alignment 0.98 at k = 3 against 1.00 at k = 4: k = 3 is within 0.02 of the best.
    scores = {2: 0.5, 3: 0.98, 4: 1.0}

    def fake_alignment(labels, predictions):
        return scores.get(len(np.unique(labels)), 1.0)

    monkeypatch.setattr(_kchoice, "decision_alignment", fake_alignment)
    x = _blobs([(0.0,), (10.0,), (20.0,), (30.0,)], [25] * 4)
    c = cluster_layer(x, np.repeat([0, 1, 2, 0], 25), CLASSES, n_clusters="auto")
    assert c.k == 3


@pytest.mark.parametrize(
    ("points", "k", "reason"),
    [
        (np.zeros((30, 4)), 1, "the only k possible: the images take 1 distinct position(s) here"),
        (np.repeat([[0.0, 0.0], [5.0, 5.0]], 15, axis=0), 2, "the only k possible: the images take 2 distinct"),
    ],
    ids=["constant", "two-points"],
)
def test_layers_with_few_distinct_points(points, k, reason):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning about empty clusters
        c = cluster_layer(points, np.repeat([0, 1], 15), CLASSES)
    assert c.k == k and c.k_reason.startswith(reason) and list(c.k_scores) == [k]



def test_the_old_names_of_renamed_attributes_warn_and_still_answer():
    """Renamed in the redesign; the old names answer for one release, with a DeprecationWarning."""
    from layerlens.run import LayerAnalysis

    clusters = _stored_clusters()
    with pytest.warns(DeprecationWarning, match="use LayerClusters.assignments"):
        np.testing.assert_array_equal(clusters.labels, clusters.assignments)
    layer = LayerAnalysis(
        name="conv",
        kind="Conv2D",
        output_shape=(4, 4, 2),
        reduction="channel mean",
        features=np.zeros((3, 2), np.float32),
        reduced=np.zeros((3, 2), np.float32),
        clusters=clusters,
        coords=np.zeros((3, 2), np.float32),
        map_centers=np.ones((2, 2), np.float32),
        separability=None,
        noisy_clusters={0.02: np.array([0, 1, 1])},
    )
    with pytest.warns(DeprecationWarning, match="use LayerAnalysis.map_centers"):
        np.testing.assert_array_equal(layer.centers, layer.map_centers)
    with pytest.warns(DeprecationWarning, match="use LayerAnalysis.noisy_clusters"):
        assert layer.noisy_labels is layer.noisy_clusters
