"""Tests of layerlens.layers._maps: PCA and UMAP maps, cluster centres on a map."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.layers._clusters import cluster_layer
from layerlens.layers._maps import ProjectionFallbackWarning, map_centers, project_2d
from layerlens.options import PROJECTIONS


def _blobs(n_per=20, dim=10, seed=0):
    """Three tight blobs far apart in ``dim`` dimensions, ``n_per`` points each, with their labels."""
    rng = np.random.default_rng(seed)
    centers = 10.0 * np.eye(3, dim)
    labels = np.repeat(np.arange(3), n_per)
    return (centers[labels] + 0.3 * rng.normal(size=(3 * n_per, dim))).astype(np.float32), labels


# -- PCA ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 50], ids=["d=2", "d=3", "d=50"])
def test_pca_map_is_the_first_two_columns(d):
    x = np.random.default_rng(0).normal(size=(7, d))
    coords = project_2d(x)
    assert coords.shape == (7, 2)
    assert coords.dtype == np.float32
    np.testing.assert_array_equal(coords, x[:, :2].astype(np.float32))


def test_pca_map_pads_a_single_column_with_zeros():
    coords = project_2d(np.array([[1.5], [-2.0], [0.25]]))
    np.testing.assert_array_equal(coords, [[1.5, 0.0], [-2.0, 0.0], [0.25, 0.0]])
    assert coords.dtype == np.float32


def test_pca_map_ignores_umap_settings_and_copies():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    coords = project_2d(x, seed=9, n_neighbors=3)
    np.testing.assert_array_equal(coords, x[:, :2])
    coords[0, 0] = 100.0
    assert x[0, 0] == 0.0  # the map is a new array, not a view of the input


def test_pca_map_of_a_single_image():
    np.testing.assert_array_equal(project_2d(np.array([[3.0, 4.0, 5.0]])), [[3.0, 4.0]])


# -- UMAP -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def umap_blobs():
    """The UMAP map of three blobs, computed twice with the same seed (the first call pays the imports)."""
    x, labels = _blobs()
    first = project_2d(x, method="umap", seed=0)
    second = project_2d(x, method="umap", seed=0)
    return x, labels, first, second


def test_umap_is_deterministic_for_a_seed(umap_blobs):
    _, _, first, second = umap_blobs
    assert first.shape == (60, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)


def test_umap_separates_blobs(umap_blobs):
    _, labels, coords, _ = umap_blobs
    centres = map_centers(coords, labels, 3)
    spread = max(np.linalg.norm(coords[labels == j] - centres[j], axis=1).max() for j in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert min(gaps) > 2 * spread


def test_umap_caps_n_neighbors_for_few_images(umap_blobs):
    x, _, _, _ = umap_blobs
    coords = project_2d(x[:6], method="umap", n_neighbors=15)
    assert coords.shape == (6, 2) and np.isfinite(coords).all()


@pytest.mark.parametrize("n", [1, 3], ids=["one image", "three images"])
def test_umap_on_too_few_images_falls_back_to_pca(n):
    x = np.arange(3 * n, dtype=np.float32).reshape(n, 3)
    with pytest.warns(ProjectionFallbackWarning, match=rf"UMAP needs at least 4 images; received {n}"):
        coords = project_2d(x, method="umap")
    np.testing.assert_array_equal(coords, x[:, :2])


# -- map_centers ----------------------------------------------------------------------------------


def test_map_centers_oracle():
    coords = np.array([[0.0, 0.0], [2.0, 4.0], [10.0, -1.0], [-3.0, 3.0], [1.0, 1.0]])
    labels = np.array([0, 0, 2, 1, 2])
    centres = map_centers(coords, labels, 3)
    np.testing.assert_array_equal(centres, [[1.0, 2.0], [-3.0, 3.0], [5.5, 0.0]])
    assert centres.dtype == np.float32


def test_map_centers_on_the_pca_map_are_the_kmeans_centres():
    # k-means centres are the means of their members, and the PCA map is a linear projection.
    x, labels = _blobs(n_per=15, dim=4)
    clusters = cluster_layer(x, labels, ["a", "b", "c"], n_clusters=3)
    centres = map_centers(project_2d(x), clusters.assignments, clusters.k)
    np.testing.assert_allclose(centres, clusters.centers[:, :2], atol=1e-5)


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reduced", "kwargs", "match"),
    [
        (np.ones((4, 2)), {"method": "PCA"}, r"method: expected one of \('pca', 'umap'\); received 'PCA'"),
        (np.ones((4, 2)), {"method": "tsne"}, r"method: expected one of \('pca', 'umap'\); received 'tsne'"),
        (np.ones((4, 2)), {"method": None}, r"method: expected one of .*received None"),
        (np.ones(4), {}, r"reduced: expected a 2-D array .*received shape \(4,\)"),
        (np.ones((0, 2)), {}, r"reduced: .*N >= 1.*received shape \(0, 2\)"),
        (np.ones((3, 0)), {}, r"reduced: .*D >= 1.*received shape \(3, 0\)"),
        (np.array([[np.nan, 1.0]]), {}, r"reduced: expected finite values; received 1 NaN"),
        (np.ones((3, 2), bool), {}, r"reduced: expected real numbers; received dtype bool"),
        (np.ones((4, 2)), {"seed": -3}, r"seed: expected an integer in 0\.\.2\*\*32-1; received -3"),
        (np.ones((4, 2)), {"n_neighbors": 1}, r"n_neighbors: expected an integer >= 2; received 1"),
        (np.ones((4, 2)), {"n_neighbors": 5.0}, r"n_neighbors: expected an integer >= 2; received 5\.0"),
    ],
    ids=[
        "upper-case method",
        "unknown method",
        "no method",
        "1-D",
        "no images",
        "no columns",
        "NaN",
        "bool",
        "negative seed",
        "one neighbour",
        "float neighbours",
    ],
)
def test_project_2d_rejects_bad_input(reduced, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        project_2d(reduced, **kwargs)


def test_projections_lists_the_methods():
    assert PROJECTIONS == ("pca", "umap")


_XY = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])


@pytest.mark.parametrize(
    ("coords", "labels", "k", "match"),
    [
        (np.ones((3, 3)), [0, 1, 1], 2, r"coords: expected shape \(N, 2\); received shape \(3, 3\)"),
        (np.array([[np.inf, 0.0]]), [0], 1, r"coords: expected finite values"),
        (_XY, np.array([0, 1]), 2, r"labels: expected integers of shape \(3,\); received int64 .*\(2,\)"),
        (_XY, np.array([0.0, 1.0, 1.0]), 2, r"labels: expected integers .*received float64"),
        (_XY, np.array([0, 2, 1]), 2, r"labels: expected cluster indices in 0\.\.1; received range 0\.\.2"),
        (_XY, np.array([0, 2, 2]), 3, r"labels: expected every cluster .* clusters \[1\] have none"),
        (_XY, np.array([0, 0, 0]), 0, r"k: expected an integer >= 1; received 0"),
        (_XY, np.array([0, 0, 0]), True, r"k: expected an integer >= 1; received True"),
    ],
    ids=[
        "three columns",
        "inf",
        "labels length",
        "float labels",
        "label out of range",
        "empty cluster",
        "k=0",
        "bool k",
    ],
)
def test_map_centers_rejects_bad_input(coords, labels, k, match):
    with pytest.raises(InvalidInputError, match=match):
        map_centers(coords, np.asarray(labels), k)


def test_module_imports_neither_umap_nor_tensorflow():
    code = "import sys, layerlens.layers._maps; print(*(m in sys.modules for m in ('umap', 'tensorflow', 'keras')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_pca_map_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project_2d(np.ones((2, 2)), method="pca")
