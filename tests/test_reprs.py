"""Results print as one short line and show as a table (or a picture) in a notebook, whatever their size."""

import io

import numpy as np
import pytest

from layerlens.explanations import Explanation
from layerlens.layers import LayerFit, Separability
from layerlens.layers._clusters import cluster_layer
from layerlens.model._extraction import Extraction, LayerInfo
from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet
from layerlens.run._summary import LayerRow, ModelSummary
from layerlens.scores import Doubt, calibration, classification_metrics
from layerlens.scores._doubt import Familiarity

N = 10_000
NAMES = ("glioma", "meningioma", "notumor", "pituitary")


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def doubt(rng):
    mistake = rng.beta(1, 6, N)
    unfamiliar = np.where(rng.random(N) < 0.02, rng.random(N), 0.0)
    return Doubt(1 - (1 - mistake) * (1 - unfamiliar), mistake, rng.random(N), unfamiliar)


@pytest.fixture(scope="module")
def blobs(rng):
    labels = np.repeat(np.arange(4), N // 4)
    return rng.normal(0, 1, (N, 5)) + 6 * np.eye(5)[labels], labels


def _short(text: str) -> str:
    assert "\n" not in text and len(text) < 400, text
    assert "array(" not in text and "..." not in text.replace(", ... (", ""), text
    return text


def test_doubt_gives_its_median_and_a_summary_table(doubt):
    text = _short(repr(doubt))
    assert text.startswith("<Doubt of 10,000 images: median doubt ")
    assert f"{np.median(doubt.doubt):.3f}" in text and f"{int((doubt.doubt > 0.5).sum()):,} above 0.5" in text
    assert f"{int((doubt.unfamiliarity > 0).sum()):,} unfamiliar" in text
    assert doubt.to_frame().shape == (N, 4)
    table = doubt._repr_html_()
    assert "<table" in table and "unfamiliarity" in table and "50%" in table


def test_familiarity():
    summary = Familiarity(np.zeros((4, 50)), np.eye(50), 1.25, 0.5)
    assert _short(repr(summary)) == (
        "<Familiarity: 4 class means in 50 dimensions, log distance median 1.250, spread 0.500>"
    )


def test_calibration_gives_its_error_with_the_interval_and_the_bins(rng):
    confidence = rng.uniform(0.3, 1.0, N)
    result = calibration(rng.random(N) < confidence - 0.05, confidence, n_bootstrap=50)
    text = _short(repr(result))
    low, high = result.ece_ci
    assert f"{result.ece:.3f} (95% CI {low:.3f}–{high:.3f})" in text and "10 bins, 10,000 images" in text
    frame = result.to_frame()
    assert frame["images"].sum() == N and len(frame) == 10
    table = result._repr_html_()
    assert "<table" in table and f"{result.ece:.3f}" in table and table.count("<tr") == 11


def test_metrics_show_their_summary_above_the_per_class_table(rng):
    y_true = rng.integers(0, 4, N)
    y_pred = np.where(rng.random(N) < 0.8, y_true, rng.integers(0, 4, N))
    probabilities = np.full((N, 4), 0.1)
    probabilities[np.arange(N), y_pred] = 0.7
    metrics = classification_metrics(y_true, y_pred, probabilities, NAMES, n_bootstrap=50)
    table = metrics._repr_html_()
    assert "<table" in table and "meningioma" in table and f"{metrics.accuracy:.3f}" in table
    assert "calibration error" in table


def test_clusters_and_separability(blobs):
    x, labels = blobs
    clusters = cluster_layer(x, labels, NAMES, n_clusters=4)
    text = _short(repr(clusters))
    assert text.startswith("LayerClusters(k=4 (fixed), silhouette=") and clusters.names[0] in text
    many = cluster_layer(x, labels, NAMES, n_clusters=12)
    assert "(8 more)" in _short(repr(many))

    scores = Separability(np.float64(0.41234), np.float64(0.95321), np.float64(2.3456), np.float64(0.70111))
    assert _short(repr(scores)) == (
        "Separability(silhouette=0.412, knn_accuracy=0.953, variance_ratio=2.35, variance_explained=0.701)"
    )


def test_a_layer_fit_and_its_placement(blobs):
    x, labels = blobs
    fit = LayerFit.fit(x, labels, NAMES, n_clusters=4)
    assert _short(repr(fit)) == "<LayerFit: k=4 (fixed) on 10,000 fit images, 5-dimensional space, pca map>"
    assert _short(repr(fit.fitted)) == "<Placement of 10,000 images in 5 dimensions, in 4 clusters>"


def test_the_parts_of_an_analysis(rng, doubt, blobs):
    x, labels = blobs
    settings = AnalysisSettings(
        n_clusters="auto",
        projection="umap",
        batch_size=64,
        seed=0,
        conv_features="mean",
        negative_class="notumor",
        pixel_scale=1 / 255,
        explain=8,
        explain_methods=("gradcam", "lime"),
        pixel_scale_reason="a long sentence " * 40,
        explain_note="another long sentence " * 40,
    )
    text = _short(repr(settings))
    assert "pixel_scale=0.00392157" in text and "explain=8 by gradcam/lime" in text
    assert "negative_class='notumor'" in text

    probabilities = rng.dirichlet(np.ones(4), N).astype(np.float32)
    per_layer = (x.astype(np.float32),) * 3
    probes = ProbeSet("mnist", probabilities, np.zeros((N, 8, 8, 1), np.uint8), None, per_layer, (labels,) * 3,
                      (x[:, :2],) * 3, doubt)  # fmt: skip
    assert f"median doubt {np.median(doubt.doubt):.2f}" in _short(repr(probes))
    reference = ReferenceSet("train", labels, labels, per_layer, (labels,) * 3, (x[:, :2],) * 3)
    assert _short(repr(reference)) == "<ReferenceSet 'train': 10,000 images, 3 layers>"

    clusters = cluster_layer(x, labels, NAMES, n_clusters=4)
    layer = LayerAnalysis("conv1", "Conv2D", (32, 32, 8), "channel mean", x, x, clusters, x[:, :2], np.zeros((4, 2)),
                          Separability(0.5, 0.9, 2.0, 0.6))  # fmt: skip
    assert "k-NN accuracy 0.900" in _short(repr(layer))


def test_an_extraction(rng):
    layers = tuple(LayerInfo(f"conv{i}", "Conv2D", (32, 32, 8 * i), True, False) for i in range(1, 7))
    features = tuple(rng.random((N, 8 * i), dtype=np.float32) for i in range(1, 7))
    extraction = Extraction(
        layers, features, ("channel mean",) * 6, (False,) * 6, rng.random((N, 4), dtype=np.float32), "softmax",
        None, np.zeros((N, 8, 8, 1), np.uint8), 1.0, image_shape=(64, 64, 1), seconds=12.34,
    )  # fmt: skip
    text = _short(repr(extraction))
    assert text.startswith("<Extraction of 10,000 images (64x64x1), 6 layers: conv1 (8), conv2 (16)")
    assert "(2 more)" in text and "4 outputs" in text and "12.3 s" in text


def test_a_model_summary_lists_its_layers_as_a_table():
    rows = tuple(LayerRow(f"block{i}_conv", "Conv2D", (None, 16, 16, 32), 9248) for i in range(300))
    summary = ModelSummary("resnet", "softmax", (None, 224, 224, 3), 23_587_712, rows)
    assert _short(repr(summary)) == (
        "<ModelSummary 'resnet': softmax output, input ?x224x224x3, 23,587,712 parameters, 300 layers>"
    )
    assert summary.to_frame().shape == (300, 4)
    assert "<table" in summary._repr_html_() and "block299_conv" in summary._repr_html_()


def test_an_explanation_shows_its_heat_map():
    from PIL import Image

    heatmap = np.zeros((100, 100), np.float32)
    heatmap[10:40, 10:40] = 1.0  # for the class
    heatmap[60:90, 60:90] = -0.5  # against it
    explanation = Explanation("integrated_gradients", 2, heatmap, 0.5, image_index=7)
    assert "image 7" in _short(repr(explanation))
    png = explanation._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert picture.shape == (200, 200, 3) and picture.std() > 0  # enlarged to at least 128 pixels
    red, blue, blank = picture[50, 50], picture[150, 150], picture[100, 100]
    assert red[0] > red[2] and blue[2] > blue[0] and blank.tolist() == [255, 255, 255]
