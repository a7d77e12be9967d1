import warnings

import numpy as np
import pandas as pd
import pytest
from _compare import FLOAT_TOLERANCE, assert_same_accuracy, assert_same_clustering, assert_same_predictions
from _images import blurred_noise
from scipy.special import softmax

import layerlens as ll
from layerlens.datasets import ImageSet
from layerlens.exceptions import (
    ClassOrderWarning,
    InvalidInputError,
    InvalidTypeError,
    PixelScaleWarning,
    UnreliableAnalysisWarning,
)
from layerlens.scores._doubt import DEFAULT_NEIGHBOURS


@pytest.fixture(scope="module")
def analysis(sequential_model, digits):
    return ll.analyze(sequential_model, digits[1], progress=False, explain=0)


def test_analysis_contents(analysis, digits):
    test = digits[1]
    n = len(test)
    assert analysis.name == "digits" and analysis.class_names == test.class_names
    assert analysis.layer_names == ("conv1", "pool1", "conv2", "pool2", "dense")
    assert analysis.probabilities.shape == (n, 10)
    np.testing.assert_allclose(analysis.probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(analysis.labels, test.labels)
    for layer in analysis.layers:
        assert layer.features.shape[0] == layer.reduced.shape[0] == layer.coords.shape[0] == n
        assert layer.coords.shape[1] == 2 and layer.map_centers.shape == (layer.clusters.k, 2)
        assert 2 <= layer.clusters.k <= 12
        assert layer.separability is not None
    assert list(analysis.paths.columns[:6]) == ["file", "true", "predicted", "confidence", "correct", "conv1"]
    assert analysis.paths["file"].isna().all()  # an ImageSet of bundled images has no files
    assert analysis.metrics.accuracy == pytest.approx(np.mean(analysis.predictions == test.labels))
    assert analysis.thumbnails.shape == (n, 16, 16, 1)
    assert "accuracy" in repr(analysis) and "conv1(k=" in repr(analysis)


def test_separability_rises_to_the_last_layer(analysis):
    table = analysis.separability
    assert list(table.index) == list(analysis.layer_names)
    # A trained classifier separates its classes best at its last layer.
    assert table["knn_accuracy"].iloc[-1] == table["knn_accuracy"].max()
    assert table["knn_accuracy"].iloc[-1] > table["knn_accuracy"].iloc[0]


def test_same_inputs_and_seed_give_identical_results(sequential_model, digits, analysis):
    again = ll.analyze(sequential_model, digits[1], progress=False, explain=0)
    np.testing.assert_array_equal(again.probabilities, analysis.probabilities)
    for a, b in zip(again.layers, analysis.layers):
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.clusters.assignments, b.clusters.assignments)
        np.testing.assert_array_equal(a.coords, b.coords)
        assert a.clusters.names == b.clusters.names
    assert again.paths.equals(analysis.paths)
    assert again.metrics.to_dict() == analysis.metrics.to_dict()


def test_fixed_k(sequential_model, images):
    result = ll.analyze(sequential_model, images, n_clusters=4, layers=["conv2", "dense"], progress=False, explain=0)
    assert [layer.clusters.k for layer in result.layers] == [4, 4]
    assert [len(layer.clusters.k_scores) for layer in result.layers] == [1, 1]


def test_unlabelled_images(sequential_model, images):
    result = ll.analyze(sequential_model, images, layers=["dense"], progress=False, explain=0)
    assert result.labels is None and result.metrics is None and result.separability is None
    assert result.class_names == tuple(f"class {k}" for k in range(10))
    assert result.paths["correct"].isna().all()
    # Without labels, clusters are named after the predicted classes they hold.
    dense = result.layer("dense").clusters
    for j in range(dense.k):
        members = result.predictions[dense.assignments == j]
        assert np.bincount(members, minlength=10).argmax() == dense.dominant[j]
    with pytest.raises(InvalidInputError, match="separability needs true labels"):
        result.separability_figure()


def test_sigmoid_head_gives_two_classes(faces_model):
    test = faces_model.data.test
    result = ll.analyze(faces_model.model, test, progress=False, explain=0)
    assert result.model.head == "sigmoid" and result.class_names == ("non_face", "face")
    # Keras' predict runs batches of 32, layerlens 64: the same model computed two ways.
    p = faces_model.model.predict(test.images, verbose=0)[:, 0]
    reference = np.stack([1 - p, p], axis=1)
    assert_same_predictions(result.probabilities, reference)
    assert_same_accuracy(result.metrics.accuracy, result.probabilities, reference, test.labels)


def test_logits_become_probabilities(logits_model, images):
    result = ll.analyze(logits_model, images, layers=["dense"], progress=False, explain=0)
    assert result.model.head == "logits"
    expected = softmax(logits_model.predict(images, verbose=0).astype(np.float64), axis=1)
    assert_same_predictions(result.probabilities, expected)


@pytest.mark.parametrize("fixture", ["branch_model", "nested_model"], ids=["functional-add", "nested"])
def test_other_architectures(request, fixture, digits):
    model = request.getfixturevalue(fixture)
    result = ll.analyze(model, digits[1], progress=False, explain=0)
    assert result.metrics.accuracy > 0.3  # trained for three epochs: well above chance (0.1)
    assert len(result.layers) >= 4


def test_negative_class_reading(sequential_model, digits):
    result = ll.analyze(sequential_model, digits[1], layers=["dense"], negative_class="0", progress=False, explain=0)
    assert result.metrics.negative_class == "0"
    assert 0.0 <= result.metrics.sensitivity <= 1.0 and 0.0 <= result.metrics.specificity <= 1.0


def test_array_and_dataset_inputs_agree(sequential_model, digits):
    import tensorflow as tf

    test = digits[1]
    from_array = ll.analyze(
        sequential_model, test.images, test.labels, class_names=test.class_names, progress=False, explain=0
    )
    stream = tf.data.Dataset.from_tensor_slices((test.images, test.labels)).batch(32)
    from_stream = ll.analyze(sequential_model, stream, class_names=test.class_names, progress=False, explain=0)
    # Batches of 64 against batches of 32: the same numbers up to float32 rounding (see tests/_compare.py),
    # not bit for bit; the discrete results built on them (predictions, clusters) agree but for near-ties.
    assert_same_predictions(from_array.probabilities, from_stream.probabilities)
    for a, b in zip(from_array.layers, from_stream.layers):
        np.testing.assert_allclose(a.features, b.features, atol=FLOAT_TOLERANCE)
        assert_same_clustering(a.clusters, b.clusters)
    exact = ["file", "true"]  # taken from the input, not computed
    assert from_array.paths[exact].equals(from_stream.paths[exact])
    np.testing.assert_allclose(from_array.paths["confidence"], from_stream.paths["confidence"], atol=FLOAT_TOLERANCE)


def test_figures(analysis):
    assert len(analysis.paths_figure().data[0].dimensions) == len(analysis.layers) + 1
    assert "digits: pool2 (PCA)" in analysis.layer_figure("pool2").layout.title.text
    assert len(analysis.separability_figure().data) == 3
    with pytest.raises(InvalidInputError, match=r"layer_name: expected one of \['conv1'"):
        analysis.layer_figure("conv9")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"class_names": ["a", "b"]},
            InvalidInputError,
            r"model predicts 10 classes, so class_names needs 10",
        ),
        ({"class_names": "abcdefghij"}, InvalidTypeError, "class_names: expected a list of strings"),
        ({"class_names": ["x"] * 10}, InvalidInputError, "expected distinct, non-empty names"),
        (
            {"labels": np.zeros(7, int)},
            InvalidInputError,
            r"labels: expected 300 labels, one per image; received 7",
        ),
        ({"labels": np.full(300, 10)}, InvalidInputError, r"labels: expected values in 0..9"),
        ({"labels": np.full(300, 0.5)}, InvalidInputError, "labels: expected class indices or class names"),
        ({"labels": ["cat"] * 300}, InvalidInputError, r"labels: expected class names from \['class 0'"),
        ({"n_clusters": 1}, InvalidInputError, "n_clusters: expected 'auto', 'silhouette', an integer.*received 1"),
        ({"n_clusters": "many"}, InvalidInputError, "n_clusters: expected 'auto'"),
        ({"projection": "tsne"}, InvalidInputError, r"projection: expected one of \('pca', 'umap'\)"),
        ({"seed": -1}, InvalidInputError, r"seed: expected an integer in 0..2\*\*32-1; received -1"),
        ({"seed": 2**32}, InvalidInputError, r"seed: expected an integer in 0..2\*\*32-1"),
        ({"n_clusters": 300}, InvalidInputError, r"n_clusters: expected fewer clusters than images \(300\)"),
        ({"negative_class": "healthy"}, InvalidInputError, "negative_class: expected one of"),
    ],
    ids=[
        "class-count",
        "class-string",
        "class-duplicates",
        "label-count",
        "label-range",
        "label-fractions",
        "label-unknown-name",
        "k-one",
        "k-word",
        "projection",
        "seed-negative",
        "seed-too-big",
        "k-above-images",
        "negative-class",
    ],
)
def test_bad_arguments(sequential_model, images, kwargs, error, match):
    with pytest.raises(error, match=match):
        ll.analyze(sequential_model, images, progress=False, **kwargs, explain=0)


def test_imageset_class_names_must_fit_the_model(faces_model):
    wrong = ImageSet(np.zeros((4, 25, 25, 1), np.float32), np.array([0, 1, 2, 0]), ("a", "b", "c"))
    with pytest.raises(InvalidInputError, match="so the data's class names list needs 2 names; received 3"):
        ll.analyze(faces_model.model, wrong, progress=False, explain=0)


@pytest.mark.parametrize("n", [1, 2], ids=["one", "two"])
def test_too_few_images(sequential_model, images, n):
    with pytest.raises(InvalidInputError, match=f"images: expected at least 3 images to cluster; received {n}"):
        ll.analyze(sequential_model, images[:n], progress=False, explain=0)


def test_a_handful_of_images_still_works(sequential_model, digits):
    few = digits[1].subset(range(5))
    result = ll.analyze(sequential_model, few, layers=["dense"], progress=False, explain=0)
    assert result.n_images == 5 and result.layers[0].clusters.k <= 4


def test_labels_of_one_class(sequential_model, images):
    result = ll.analyze(sequential_model, images[:30], np.zeros(30, int), layers=["dense"], progress=False, explain=0)
    assert result.separability is None
    assert result.metrics.accuracy == pytest.approx(np.mean(result.predictions == 0))
    with pytest.raises(InvalidInputError, match="at least two classes"):
        result.separability_figure()


def test_numpy_and_bool_options(faces_model, tmp_path):
    test = faces_model.data.test
    result = ll.analyze(
        faces_model.model,
        test.images,
        test.labels.astype(bool),
        n_clusters=np.int64(3),
        seed=np.int64(1),
        progress=False,
        explain=0,
    )
    assert result.settings.n_clusters == 3 and type(result.settings.n_clusters) is int
    assert ll.load(result.save(tmp_path / "run")).settings == result.settings


# -- pixel scale ---------------------------------------------------------------------------------


def test_a_model_that_divides_by_255_gets_byte_pixels(byte_model, digits, tmp_path):
    test = digits[1]
    result = ll.analyze(byte_model, test, layers=["dense"], progress=False, explain=0)
    assert result.settings.pixel_scale == 255.0
    as_bytes = byte_model.predict(test.images * 255, verbose=0)
    assert_same_predictions(result.probabilities, as_bytes)
    # What the images as given would have produced: far worse, which is what went unnoticed before.
    as_given = np.mean(byte_model.predict(test.images, verbose=0).argmax(axis=1) == test.labels)
    assert result.metrics.accuracy > as_given + 0.3
    assert ll.load(result.save(tmp_path / "run")).settings.pixel_scale == 255.0


def test_forcing_unit_pixels_into_a_byte_model_warns(byte_model, images):
    with (
        pytest.warns(PixelScaleWarning, match="expects pixel values 0..255"),
        pytest.warns(UnreliableAnalysisWarning, match=r"predicted 'class \d' for 300 of 300 images"),
    ):
        result = ll.analyze(byte_model, images, layers=["dense"], pixel_scale=1.0, progress=False, explain=0)
    assert result.settings.pixel_scale == 1.0
    assert "as given (pixel_scale=1)" in result.settings.pixel_scale_reason
    assert "collapsed onto one class" in result.problems[0] and "cannot be right" in repr(result)


def test_byte_images_for_a_model_without_rescaling_warn(sequential_model, images):
    with pytest.warns(PixelScaleWarning, match="pass pixel_scale=1/255"):
        ll.analyze(sequential_model, images * 255, layers=["dense"], progress=False, explain=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = ll.analyze(
            sequential_model, images * 255, layers=["dense"], pixel_scale=1 / 255, progress=False, explain=0
        )
    assert scaled.settings.pixel_scale == pytest.approx(1 / 255)


# -- separability --------------------------------------------------------------------------------


def test_separability_stays_finite_when_classes_collapse(sequential_model, digits):
    # Ten copies of one image per class: every layer maps each class to a single point.
    test = digits[1]
    picks = [int(np.flatnonzero(test.labels == c)[0]) for c in range(3)]
    images = np.repeat(test.images[picks], 10, axis=0)
    labels = np.repeat(np.arange(3), 10)
    result = ll.analyze(sequential_model, images, labels, layers=["conv1", "dense"], progress=False, explain=0)
    table = result.separability
    assert all(dtype == np.float64 for dtype in table.dtypes)  # numbers, never the string "inf"
    np.testing.assert_array_equal(table["variance_explained"], [1.0, 1.0])
    assert (table["variance_ratio"] > 1e6).all()  # infinite, or as good as (float rounding of duplicates)
    figure = result.separability_figure()  # draws the bounded measures
    assert [trace.name for trace in figure.data] == ["silhouette", "k-NN accuracy", "variance explained"]


# -- class names and their order -----------------------------------------------------------------


@pytest.fixture(scope="module")
def faces_as_folders(faces_model):
    """The faces test images as a folder would give them: classes in sorted order, ("face", "non_face")."""
    test = faces_model.data.test
    return ImageSet(test.images, 1 - test.labels, ("face", "non_face"), name="faces", files=None)


def test_class_names_in_the_model_order_renumber_the_labels(faces_model, faces_as_folders):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassOrderWarning)
        result = ll.analyze(
            faces_model.model, faces_as_folders, class_names=["non_face", "face"], progress=False, explain=0
        )
    assert result.class_names == ("non_face", "face")
    np.testing.assert_array_equal(result.labels, faces_model.data.test.labels)
    assert result.metrics.accuracy > 0.8


def test_swapped_class_order_is_detected(faces_model, faces_as_folders):
    with (
        pytest.warns(ClassOrderWarning, match="predicts most images of 'face' as 'non_face'"),
        pytest.warns(UnreliableAnalysisWarning, match="at or below chance level"),
    ):
        result = ll.analyze(faces_model.model, faces_as_folders, progress=False, explain=0)
    assert result.metrics.accuracy < 0.2


def test_string_labels_are_looked_up_in_the_class_names(faces_model):
    test = faces_model.data.test
    names = np.array(["non_face", "face"])[test.labels]
    result = ll.analyze(
        faces_model.model, test.images, names.tolist(), class_names=["non_face", "face"], progress=False, explain=0
    )
    np.testing.assert_array_equal(result.labels, test.labels)


def test_class_names_that_half_match_the_imageset_are_refused(faces_model, faces_as_folders):
    with pytest.raises(
        InvalidInputError, match=r"class_names: expected the ImageSet's class names .*\['non_face'\] are not"
    ):
        ll.analyze(faces_model.model, faces_as_folders, class_names=["face", "background"], progress=False, explain=0)


# -- reading the results -------------------------------------------------------------------------


def test_files_reach_the_paths_table(sequential_model, digits):
    test = digits[1].subset(range(12))
    named = ImageSet(test.images, test.labels, test.class_names, files=tuple(f"scan_{i:02d}.png" for i in range(12)))
    result = ll.analyze(sequential_model, named, layers=["dense"], n_clusters=2, progress=False, explain=0)
    assert result.paths["file"].tolist() == list(named.files)


def test_printing_layers_and_metrics_is_short(analysis):
    text = repr(analysis.layers)
    assert len(text.splitlines()) == 1 and len(text) < 200 * len(analysis.layers)
    assert repr(analysis.layers[0]).startswith("<LayerAnalysis 'conv1' (Conv2D, output 16x16x8): 8 features")
    metrics = repr(analysis.metrics).splitlines()
    assert metrics[1].startswith("  accuracy") and "95% CI" in metrics[1]
    assert max(len(line) for line in metrics) < 120
    assert "decision alignment" in repr(analysis.path_stats)


def test_parallel_branches_are_marked_in_the_paths_figure(branch_model, digits):
    result = ll.analyze(branch_model, digits[1], layers=["narrow", "wide", "join"], progress=False, explain=0)
    assert [layer.parallel_to_previous for layer in result.layers] == [False, True, False]
    figure = result.paths_figure()
    labels = [d.label.replace(" ○", "") for d in figure.data[0].dimensions]  # ○: no class information
    assert labels[:3] == ["narrow (k=2)", "wide (k=2) ∥", "join (k=2)"]
    assert "∥ = a parallel branch" in figure.layout.title.text
    default = ll.analyze(branch_model, digits[1], progress=False, explain=0)
    assert not any(layer.parallel_to_previous for layer in default.layers)
    assert "parallel branch" not in default.paths_figure().layout.title.text


# -- reference set, faithful clusters, stability ---------------------------------------------------


@pytest.fixture(scope="module")
def with_reference(sequential_model, digits):
    train, test = digits
    return ll.analyze(sequential_model, test, reference=train, stability=True, progress=False, explain=0)


def test_a_reference_set_fits_the_clusters_and_places_the_images(with_reference, digits):
    train, test = digits
    a = with_reference
    assert a.settings.reference == "digits" and a.reference.n_images == len(train)
    np.testing.assert_array_equal(a.reference.labels, train.labels)
    for i, layer in enumerate(a.layers):
        # Names, purity and sizes describe the training images the clusters were fitted on ...
        assert layer.clusters.sizes.sum() == len(train)
        np.testing.assert_array_equal(
            np.bincount(a.reference.clusters[i], minlength=layer.clusters.k), layer.clusters.sizes
        )
        # ... and every test image sits in the cluster of the nearest centre.
        np.testing.assert_array_equal(layer.clusters.assignments, layer.clusters.assign(layer.reduced))
        assert a.reference.reduced[i].shape == (len(train), layer.reduced.shape[1])
    assert a.path_statistics.heldout_basis == "reference"
    assert 0.9 < a.path_statistics.heldout_known <= 1.0


def test_faithful_paths_follow_the_decisions(with_reference):
    dense = with_reference.layer("dense").clusters
    assert dense.k_rule == "faithful" and dense.k >= 6  # a 10-class model's last hidden layer
    assert dense.k_scores[dense.k]["decision_alignment"] > 0.8
    assert with_reference.path_statistics.heldout_alignment > 0.75


def test_stability_measures_paths_under_noise(with_reference):
    stats = with_reference.path_statistics
    assert sorted(stats.agreement) == [0.02, 0.05]
    assert 0.0 < stats.agreement[0.05] <= stats.agreement[0.02] <= 1.0  # more noise moves more images
    for level, per_layer in stats.layer_agreement.items():
        assert len(per_layer) == len(with_reference.layers)
        assert stats.agreement[level] <= min(per_layer)  # the whole path is kept less often than any part
    assert stats.prediction_agreement[0.02] > 0.8
    layer = with_reference.layers[0]
    assert set(layer.noisy_clusters) == {0.02, 0.05} and len(layer.noisy_clusters[0.02]) == with_reference.n_images


def test_stability_leaves_the_clean_analysis_as_it_was(sequential_model, digits, with_reference):
    train, test = digits
    plain = ll.analyze(sequential_model, test, reference=train, progress=False, explain=0)
    for a, b in zip(plain.layers, with_reference.layers):
        # The clean images take the same operations, but in another graph: equal up to float rounding.
        np.testing.assert_allclose(a.features, b.features, atol=FLOAT_TOLERANCE)
        assert_same_clustering(a.clusters, b.clusters)
    assert plain.path_statistics.agreement == {} and plain.noisy_predictions == {}


def test_reference_and_stability_survive_save_and_load(with_reference, tmp_path):
    back = ll.load(with_reference.save(tmp_path / "run"))
    assert back.settings == with_reference.settings
    for i in range(len(back.layers)):
        np.testing.assert_array_equal(back.reference.reduced[i], with_reference.reference.reduced[i])
        np.testing.assert_array_equal(back.reference.clusters[i], with_reference.reference.clusters[i])
        np.testing.assert_array_equal(
            back.layers[i].noisy_clusters[0.05], with_reference.layers[i].noisy_clusters[0.05]
        )
    assert back.path_statistics.to_dict() == with_reference.path_statistics.to_dict()
    np.testing.assert_array_equal(back.noisy_predictions[0.02], with_reference.noisy_predictions[0.02])
    assert back.layers[-1].clusters.k_reason == with_reference.layers[-1].clusters.k_reason


def test_k_rules_per_layer(sequential_model, images):
    result = ll.analyze(
        sequential_model, images, n_clusters={"conv1": 3, "dense": "silhouette"}, layers=["conv1", "pool2", "dense"],
        progress=False,
        explain=0,
    )  # fmt: skip
    rules = [layer.clusters.k_rule for layer in result.layers]
    assert rules == ["fixed", "faithful", "silhouette"] and result.layers[0].clusters.k == 3
    with pytest.raises(InvalidInputError, match=r"n_clusters: expected layer names among the analysed layers"):
        ll.analyze(sequential_model, images, n_clusters={"conv9": 3}, layers=["conv1"], progress=False, explain=0)


def test_held_out_alignment_without_a_reference_uses_two_halves(analysis):
    stats = analysis.path_statistics
    assert stats.heldout_basis == "halves" and stats.heldout_alignment <= stats.decision_alignment + 0.05


@pytest.mark.parametrize(
    ("reference", "match"),
    [
        ("unlabelled", "reference: expected labelled images"),
        ("few", "reference: expected at least 3 images"),
        ("wrong-size", r"images: expected shape \(N, 16, 16, 1\)"),
    ],
    ids=["unlabelled", "too-few", "wrong-size"],
)
def test_bad_reference_sets(sequential_model, digits, reference, match):
    train, test = digits
    bad = {
        "unlabelled": train.images[:50],
        "few": train.subset(range(2)),
        "wrong-size": (np.zeros((10, 8, 8, 1), np.float32), np.zeros(10, int)),
    }[reference]
    with pytest.raises(InvalidInputError, match=match):
        ll.analyze(sequential_model, test.subset(range(30)), reference=bad, progress=False, explain=0)


def test_an_imageset_with_some_of_the_classes_keeps_their_names(sequential_model, digits):
    test = digits[1]
    keep = np.flatnonzero(test.labels >= 7)  # a test folder with only the digits 7, 8 and 9
    few = ImageSet(test.images[keep], test.labels[keep] - 7, ("7", "8", "9"), name="late digits")
    result = ll.analyze(
        sequential_model, few, class_names=test.class_names, layers=["dense"], progress=False, explain=0
    )
    np.testing.assert_array_equal(result.labels, test.labels[keep])
    with pytest.raises(InvalidInputError, match=r"needs 10 names \(name all of them with class_names=...\)"):
        ll.analyze(sequential_model, few, layers=["dense"], progress=False, explain=0)


def test_a_reference_with_some_of_the_classes(sequential_model, digits):
    train, test = digits
    keep = np.flatnonzero(train.labels < 8)
    partial = ImageSet(train.images[keep], train.labels[keep], tuple(str(d) for d in range(8)), name="first eight")
    result = ll.analyze(sequential_model, test, reference=partial, layers=["dense"], progress=False, explain=0)
    np.testing.assert_array_equal(result.reference.labels, train.labels[keep])


def test_a_reference_places_even_a_single_image(sequential_model, digits):
    train, test = digits
    result = ll.analyze(
        sequential_model, test.subset([0]), reference=train, layers=["dense"], progress=False, explain=0
    )
    assert result.n_images == 1 and result.paths["path"].iloc[0].startswith("c")


def test_an_unlabelled_reference_is_refused_before_any_pass(sequential_model, digits, monkeypatch):
    import layerlens.model

    monkeypatch.setattr(layerlens.model, "extract", lambda *a, **k: pytest.fail("the images were read"))
    with pytest.raises(InvalidInputError, match="reference: expected labelled images"):
        ll.analyze(sequential_model, digits[1], reference=digits[0].images, progress=False, explain=0)


# ------------------------------------------------------------------------------------------ explanations


@pytest.fixture(scope="module")
def explained(sequential_model, digits):
    test = digits[1].subset(range(150))
    methods = ("gradcam", "integrated_gradients")
    return ll.analyze(sequential_model, test, layers=["dense"], progress=False, explain=6, explain_methods=methods)


def test_mistakes_are_explained_first(explained):
    chosen = list(explained.explained_images)
    assert len(chosen) == 6 and explained.settings.explain == 6
    assert [e.image_index for e in explained.explanations] == [i for i in chosen for _ in range(2)]
    assert [e.method for e in explained.explanations] == ["gradcam", "integrated_gradients"] * 6
    wrong = explained.paths.index[~explained.paths["correct"].astype(bool)]
    confidence = explained.confidence
    expected_mistakes = sorted(wrong, key=lambda i: -confidence[i])[: 6 - 3]  # half is kept for one per class
    assert chosen[: len(expected_mistakes)] == expected_mistakes
    for explanation in explained.explanations:
        assert explanation.target == explained.predictions[explanation.image_index]
        assert explanation.heatmap.shape == (16, 16) and explanation.layer in (None, "conv2")


def test_explained_images_are_shown_as_their_thumbnails(explained):
    for index, image in explained.explained_images.items():
        # Both map the same pixel range to 0..255, one in TensorFlow and one in numpy: rounding may differ by 1.
        assert image.dtype == np.uint8 and image.shape == (16, 16, 1)
        assert np.abs(image.astype(int) - explained.thumbnails[index]).max() <= 1


def test_explanation_figure_of_an_analysis(explained):
    image = next(iter(explained.explained_images))
    figure = explained.explanation_figure(image, "integrated_gradients")
    assert f"image {image}: predicted" in figure.layout.title.text
    with pytest.raises(InvalidInputError, match="method: image .* was explained by"):
        explained.explanation_figure(image, "lime")
    unexplained = next(i for i in range(explained.n_images) if i not in explained.explained_images)
    with pytest.raises(InvalidInputError, match="image: expected the index of an explained image"):
        explained.explanation_figure(unexplained)


def test_a_generator_is_explained_from_what_the_pass_kept(sequential_model, images):
    batches = (images[i : i + 50] for i in range(0, 150, 50))
    result = ll.analyze(sequential_model, batches, layers=["dense"], progress=False, explain=3)
    assert len(result.explanations) == 3
    for index, image in result.explained_images.items():
        assert np.abs(image.astype(int) - result.thumbnails[index]).max() <= 1


def test_a_shuffling_dataset_is_explained_image_by_image_as_analysed(sequential_model, images):
    import tensorflow as tf

    stream = tf.data.Dataset.from_tensor_slices(images[:128]).shuffle(128, seed=1).batch(32)
    result = ll.analyze(sequential_model, stream, layers=["dense"], progress=False, explain=3)
    assert len(result.explanations) == 3 and "explained 3 images" in result.settings.explain_note
    for explanation in result.explanations:
        index = explanation.image_index
        # The image explained is the one analysed at that row, whatever order the dataset gave it in.
        assert np.abs(result.explained_images[index].astype(int) - result.thumbnails[index]).max() <= 1
        again = ll.explain(sequential_model, result.explained_images[index][np.newaxis] / 255.0,
                           method="integrated_gradients")[0]
        assert again.target == int(result.predictions[index])


def test_a_stream_that_repeats_itself_is_explained(sequential_model, images):
    import tensorflow as tf

    stream = tf.data.Dataset.from_tensor_slices(images[:100]).batch(32)
    result = ll.analyze(
        sequential_model, stream, layers=["dense"], progress=False, explain=3, explain_methods=["smoothgrad"]
    )
    assert len(result.explanations) == 3
    for index, image in result.explained_images.items():
        assert np.abs(image.astype(int) - result.thumbnails[index]).max() <= 1


# The model is untrained: whether its guesses collapse onto one class depends on its random weights.
@pytest.mark.filterwarnings("ignore::layerlens.exceptions.UnreliableAnalysisWarning")
def test_a_model_without_convolutions_is_explained_without_grad_cam(digits):
    """Grad-CAM asked for by name is left out for a model without convolutions, and its absence reported."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    test = digits[1].images[:40]  # no labels: the untrained model's guesses must not raise a class-order warning
    result = ll.analyze(model, test, progress=False, n_clusters=2, explain=2)
    assert [e.method for e in result.explanations] == ["integrated_gradients"] * 2
    with pytest.warns(ll.exceptions.ExplanationWarning, match="Grad-CAM needs a convolution layer"):
        result = ll.analyze(
            model, test, progress=False, n_clusters=2, explain=2, explain_methods=["gradcam", "smoothgrad"]
        )
    assert [e.method for e in result.explanations] == ["smoothgrad", "smoothgrad"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"explain": -1}, "explain: expected an integer >= 0"),
        ({"explain": 2.5}, "explain: expected an integer >= 0"),
        ({"explain": True}, "explain: expected an integer >= 0"),
        ({"explain_methods": ("lime", "shap")}, "explain_methods: expected one or more of"),
        ({"explain_methods": ()}, "explain_methods: expected one or more of"),
        ({"explain_methods": 3}, "explain_methods: expected one or more of"),
    ],
)
def test_explain_options_are_checked_first(sequential_model, options, message):
    with pytest.raises(InvalidInputError, match=message):
        ll.analyze(sequential_model, "not even images", progress=False, **options)


def test_the_architecture_and_the_day_are_recorded(nested_model, digits):
    import datetime

    # Without labels: this weakly trained model's 30 predictions can look like swapped classes on some CPUs (a
    # ClassOrderWarning, an error in the suite), and the architecture does not depend on them.
    result = ll.analyze(nested_model, digits[1].images[:30], n_clusters=2, progress=False, explain=0)
    rows = {row.name: row for row in result.model.layers}
    assert "base/block1_conv" in rows and "base" not in rows  # a nested model is its layers
    conv = nested_model.get_layer("base").get_layer("block1_conv")
    assert rows["base/block1_conv"].kind == "Conv2D" and rows["base/block1_conv"].n_parameters == conv.count_params()
    assert sum(row.n_parameters for row in result.model.layers) == result.model.n_parameters
    assert rows["output"].output_shape == (10,)
    assert result.created == datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def test_neighbours_are_the_nearest_other_images_of_a_layer(analysis):
    found = analysis.neighbours([0, 5, 7], 4)
    assert found.shape == (3, 4) and found.dtype == np.int64
    for image, near in zip([0, 5, 7], found):
        space = analysis.layers[-1].reduced.astype(np.float64)
        distances = ((space - space[image]) ** 2).sum(axis=1)
        distances[image] = np.inf
        assert image not in near
        assert np.all(np.diff(distances[near]) >= 0)  # nearest first
        assert distances[near].max() <= np.sort(distances)[3] * (1 + 1e-9)
    first = analysis.layer_names[0]
    assert analysis.neighbours([3], 2, layer=first).shape == (1, 2)
    assert analysis.neighbours([], 2).shape == (0, 2)


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        ([-1], {}, r"images: expected positions in 0\.\.299"),
        ([300], {}, r"images: expected positions in 0\.\.299"),
        ([0.5], {}, "images: expected positions of analysed images"),
        ([0], {"n": 0}, "n: "),
        ([0], {"layer": "nope"}, "nope"),
    ],
)
def test_neighbours_name_a_bad_argument(analysis, images, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        analysis.neighbours(images, **kwargs)


@pytest.fixture(scope="module")
def referenced(sequential_model, digits):
    train, test = digits
    return ll.analyze(sequential_model, test, reference=train, progress=False, explain=0)


def test_every_image_gets_a_doubt_in_the_analysis_and_its_paths(referenced, analysis):
    for result in (referenced, analysis):  # with a reference, and among the analysed images themselves
        doubt = result.doubt
        n = len(result.paths)
        for part in (doubt.doubt, doubt.mistake, doubt.disagreement, doubt.unfamiliarity):
            assert part.shape == (n,) and ((part >= 0) & (part <= 1)).all()
        assert (doubt.doubt >= doubt.mistake - 1e-12).all()
        np.testing.assert_array_equal(result.paths["doubt"].to_numpy(), doubt.doubt)
        np.testing.assert_array_equal(result.paths["unfamiliarity"].to_numpy(), doubt.unfamiliarity)
        wrong = ~result.paths["correct"].to_numpy()
        assert doubt.doubt[wrong].mean() > doubt.doubt[~wrong].mean()
        assert doubt.disagreement[wrong].mean() > doubt.disagreement[~wrong].mean()


N_FAR = 30  # probes of blurred noise, before the copies of test images in the probe set


@pytest.fixture(scope="module")
def probe_images(digits):
    """Blurred noise (like no digit), then copies of the first 10 test images (inside their classes)."""
    test = digits[1]
    return np.concatenate([blurred_noise(N_FAR, test.images.shape[1:]), test.images[:10]])


@pytest.fixture(scope="module")
def probed(sequential_model, digits, probe_images):
    train, test = digits
    return ll.analyze(sequential_model, test, reference=train, probes=probe_images, progress=False, explain=0)


def test_probes_get_predictions_paths_and_doubt_and_stay_out_of_every_metric(probed, referenced, probe_images):
    n, p = probed.n_images, len(probe_images)
    probes = probed.probes
    assert probes.n_images == p and probes.probabilities.shape == (p, 10) and probes.thumbnails.shape[0] == p
    for i in range(len(probed.layers)):
        assert probes.reduced[i].shape == (p, probed.layers[i].reduced.shape[1])
        assert probes.clusters[i].shape == (p,) and probes.coords[i].shape == (p, 2)
    paths = probed.paths
    assert len(paths) == n + p and list(paths.index) == list(range(n + p))
    assert paths["probe"].tolist() == [False] * n + [True] * p
    rows = paths[paths["probe"]]
    assert rows["true"].isna().all() and rows["correct"].isna().all()
    assert isinstance(paths["true"].dtype, pd.CategoricalDtype)
    np.testing.assert_array_equal(rows["doubt"].to_numpy(), probes.doubt.doubt)
    np.testing.assert_array_equal(rows["predicted"].cat.codes.to_numpy(), probes.predictions)
    np.testing.assert_array_equal(rows["conv1"].cat.codes.to_numpy(), probes.clusters[0])
    # Nothing the analysed images were measured by moved: metrics, clusters, maps, path statistics, doubt.
    assert probed.metrics.to_dict() == referenced.metrics.to_dict()
    assert probed.path_statistics.to_dict() == referenced.path_statistics.to_dict()
    for mine, theirs in zip(probed.layers, referenced.layers):
        np.testing.assert_array_equal(mine.clusters.assignments, theirs.clusters.assignments)
        np.testing.assert_array_equal(mine.coords, theirs.coords)
    np.testing.assert_array_equal(probed.doubt.doubt, referenced.doubt.doubt)
    assert "probes" in repr(probes) and repr(probed).endswith("; 40 probes>")


def test_a_probe_far_from_every_class_is_doubted_and_one_inside_its_class_is_not(probed):
    doubt = probed.probes.doubt
    assert np.median(doubt.doubt[:N_FAR]) > 0.9 and np.median(doubt.unfamiliarity[:N_FAR]) > 0.9
    # Every far probe is doubted more than 90% of the test images (of which 12% are misclassified).
    assert doubt.doubt[:N_FAR].min() > np.quantile(probed.doubt.doubt, 0.9)
    inside = probed.probes.predictions[N_FAR:] == probed.labels[:10]
    assert inside.sum() >= 8
    assert (doubt.doubt[N_FAR:][inside] < 0.3).all() and (doubt.unfamiliarity[N_FAR:] == 0).all()
    # A probe that is a copy of an analysed image is read the same way as that image (float32 pass: tolerance).
    np.testing.assert_allclose(doubt.doubt[N_FAR:], probed.doubt.doubt[:10], rtol=0, atol=1e-4)
    # The map places the noise away from where the images are.
    first = probed.layers[0].coords
    centre, spread = first.mean(axis=0), first.std(axis=0).max()
    far = np.linalg.norm(probed.probes.coords[0][:N_FAR] - centre, axis=1)
    assert np.median(far) > 2 * spread


def test_without_a_reference_probes_read_the_labelled_analysed_images(sequential_model, digits, analysis, probe_images):
    test = digits[1]
    probed = ll.analyze(sequential_model, test, probes=probe_images, progress=False, explain=0)
    for mine, theirs in zip(probed.layers, analysis.layers):  # the probes are placed, never fitted on
        np.testing.assert_array_equal(mine.clusters.assignments, theirs.clusters.assignments)
        np.testing.assert_allclose(mine.coords, theirs.coords, rtol=0, atol=1e-5)
    np.testing.assert_allclose(probed.doubt.doubt, analysis.doubt.doubt, rtol=0, atol=1e-12)
    assert np.median(probed.probes.doubt.doubt[:N_FAR]) > 0.9
    # A probe that copies an analysed image reads the same neighbours as its original, left out of its own,
    # but for one: the original itself, in place of the original's farthest neighbour. Per layer that moves
    # the share by at most 1/k (2/k allowed: the copy's float32 features may break a distance tie otherwise).
    moved = np.abs(probed.probes.doubt.disagreement[N_FAR:] - probed.doubt.disagreement[:10])
    assert moved.max() <= 2 / DEFAULT_NEIGHBOURS
    again = ll.analyze(sequential_model, test, probes=probe_images, progress=False, explain=0)
    np.testing.assert_array_equal(again.probes.doubt.doubt, probed.probes.doubt.doubt)


@pytest.mark.parametrize(
    "make_probes, message",
    [
        (lambda x, y: (x, y), r"probes: expected images without labels .*received \(images, labels\)"),
        (lambda x, y: ImageSet(x, y, tuple("0123456789")), r"probes: expected images without labels .*ImageSet"),
        (lambda x, y: [(x[:5], y[:5]), (x[5:], y[5:])], r"probes: expected images without labels .*batches \(x, y\)"),
        (lambda x, y: x[:, :8, :8], r"probes: expected images of the analysed images' shape \(16, 16, 1\)"),
        (lambda x, y: np.repeat(x, 3, axis=-1), r"probes: expected images of the analysed images' shape"),
        (lambda x, y: [x[:, :8, :8]], r"^probes: expected shape"),
        (lambda x, y: x[:0], r"^probes: expected images \(P, H, W, C\) like the analysed images"),
        (lambda x, y: x[0], r"^probes: expected a batch of images \(P, 16, 16, 1\); received one image"),
        (lambda x, y: [x[:0]], r"^probes: expected at least one image"),
        (lambda x, y: "noise/", r"^probes: expected a numpy array .*received the str .noise/. .*from_directory"),
    ],
)
def test_probes_with_labels_or_of_another_shape_are_refused(sequential_model, digits, make_probes, message):
    test = digits[1]
    x, y = test.images[:10], test.labels[:10]
    with pytest.raises((InvalidInputError, InvalidTypeError), match=message):
        ll.analyze(sequential_model, test.images[:20], probes=make_probes(x, y), progress=False, explain=0)


def test_the_same_seed_gives_the_same_doubt(sequential_model, digits, referenced):
    train, test = digits
    again = ll.analyze(sequential_model, test, reference=train, progress=False, explain=0)
    np.testing.assert_array_equal(again.doubt.doubt, referenced.doubt.doubt)
    np.testing.assert_array_equal(again.doubt.disagreement, referenced.doubt.disagreement)


def test_disagreement_does_not_depend_on_the_analysed_images_labels(sequential_model, digits, referenced):
    train, test = digits
    unlabelled = ll.analyze(sequential_model, test.images, reference=train, progress=False, explain=0)
    np.testing.assert_allclose(unlabelled.doubt.disagreement, referenced.doubt.disagreement, rtol=0, atol=1e-12)
    np.testing.assert_allclose(unlabelled.doubt.unfamiliarity, referenced.doubt.unfamiliarity, rtol=0, atol=1e-12)


def test_probes_get_their_own_pixel_scale_and_their_files(byte_model, digits, tmp_path):
    """Analysed images in 0..255 for a Rescaling(1/255) model, probes in [0, 1]: each reaches the model as 0..255."""
    test = digits[1]
    names = [f"probe-{i}.png" for i in range(5)]
    bytes_in = ll.analyze(
        byte_model, test.images * 255, test.labels, probes=test.images[:5], probe_files=names, progress=False, explain=0
    )
    assert bytes_in.settings.pixel_scale == 1.0
    np.testing.assert_allclose(bytes_in.probes.probabilities, bytes_in.probabilities[:5], rtol=0, atol=1e-5)
    assert bytes_in.probes.files == tuple(names)
    assert bytes_in.paths["file"].iloc[-5:].tolist() == names
    assert ll.load(bytes_in.save(tmp_path / "run")).probes.files == tuple(names)
    with pytest.raises(InvalidInputError, match=r"probe_files: expected 5 file names, one per probe; received 2"):
        ll.analyze(byte_model, test.images[:20], probes=test.images[:5], probe_files=names[:2], explain=0)
    with pytest.raises(InvalidInputError, match=r"probe_files: expected probes to name"):
        ll.analyze(byte_model, test.images[:20], probe_files=names, explain=0)


def test_a_layer_named_probe_is_analysed_and_only_probes_are_refused_for_it(digits):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Dense(8, name="probe")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(x))
    test = digits[1]
    analysis = ll.analyze(model, test.images[:60], progress=False, explain=0)  # untrained: no labels to judge
    assert "probe" in analysis.layer_names and isinstance(analysis.paths["probe"].dtype, pd.CategoricalDtype)
    assert analysis.path_statistics.n_distinct >= 1
    with pytest.raises(InvalidInputError, match=r"probes: the paths table marks probes in a 'probe' column"):
        ll.analyze(model, test.images[:60], probes=test.images[:3], progress=False, explain=0)
    only_conv = ll.analyze(model, test.images[:60], probes=test.images[:3], layers=["conv"], progress=False, explain=0)
    assert only_conv.paths["probe"].sum() == 3


def test_path_statistics_of_a_probed_table_leave_the_probes_out(probed):
    from layerlens.paths._statistics import path_statistics

    again = path_statistics(probed.paths, seed=probed.settings.seed)
    assert again.n_distinct == probed.path_statistics.n_distinct
    assert again.weighted_purity == probed.path_statistics.weighted_purity
    assert again.decision_alignment == probed.path_statistics.decision_alignment


# ------------------------------------------------------------------------------------------------ metadata


def _scanners(n: int) -> pd.DataFrame:
    scanner = np.array(["GE", "Siemens", "Philips"], dtype=object)[np.arange(n) % 3]
    scanner[1] = None
    return pd.DataFrame({"scanner": scanner, "age": np.arange(n) % 50})


def test_metadata_is_carried_as_text_into_the_paths_table_and_grouped(sequential_model, digits, probe_images):
    test = digits[1]
    meta = _scanners(len(test))
    analysis = ll.analyze(sequential_model, test, metadata=meta, probes=probe_images, progress=False, explain=0)
    assert list(analysis.metadata.columns) == ["scanner", "age"]
    assert all(str(t) == "string" for t in analysis.metadata.dtypes)
    assert analysis.metadata["age"].iloc[7] == "7" and analysis.metadata["scanner"].isna().sum() == 1
    rows = analysis.paths.iloc[: len(test)]
    assert rows["scanner"].iloc[0] == "GE" and rows["scanner"].iloc[2] == "Philips" and pd.isna(rows["scanner"].iloc[1])
    assert analysis.paths["scanner"].iloc[len(test) :].isna().all()  # probes have no metadata
    table = analysis.accuracy_by("scanner")
    assert set(table.index) == {"GE", "Philips", "Siemens"} and table["images"].is_monotonic_decreasing
    correct = analysis.predictions == analysis.labels
    ge = meta["scanner"].to_numpy() == "GE"
    assert table.loc["GE", "images"] == ge.sum()
    assert table.loc["GE", "accuracy"] == pytest.approx(correct[ge].mean())
    assert table.loc["GE", "low"] < table.loc["GE", "accuracy"] < table.loc["GE", "high"]
    assert table["images"].sum() == len(test) - 1  # the image without a scanner is in no group
    assert analysis.metrics.to_dict() == ll.analyze(sequential_model, test, progress=False, explain=0).metrics.to_dict()


@pytest.mark.parametrize(
    "metadata, error, message",
    [
        (pd.DataFrame({"scanner": ["GE"] * 5}), InvalidInputError, r"metadata: expected 300 rows, one per image"),
        ([1, 2, 3], InvalidTypeError, r"metadata: expected a pandas DataFrame \(or a dict of columns\)"),
        ({"true": ["x"] * 300}, InvalidInputError, r"metadata: expected column names other than the paths table's"),
        ({"conv1": ["x"] * 300}, InvalidInputError, r"rename \['conv1'\]"),
        (pd.DataFrame(index=range(300)), InvalidInputError, r"metadata: expected at least one column"),
    ],
)
def test_bad_metadata_is_named(sequential_model, digits, metadata, error, message):
    with pytest.raises(error, match=message):
        ll.analyze(sequential_model, digits[1], metadata=metadata, progress=False, explain=0)


def test_accuracy_by_names_bad_columns(analysis):
    with pytest.raises(InvalidInputError, match=r"column: expected one of the metadata columns \[\]"):
        analysis.accuracy_by("scanner")


def test_a_warning_about_the_probes_names_them(byte_model, digits):
    test = digits[1]
    with pytest.warns(PixelScaleWarning, match=r"^probes: the model expects pixel values 0..255"):
        ll.analyze(byte_model, test.images[:40], probes=test.images[:4] * 2 - 1, progress=False, explain=0)


def test_probes_are_brought_to_the_range_the_model_takes(sequential_model, digits):
    test = digits[1]
    as_bytes = ll.analyze(sequential_model, test.images[:40], probes=test.images[:4] * 255, progress=False, explain=0)
    as_unit = ll.analyze(sequential_model, test.images[:40], probes=test.images[:4], progress=False, explain=0)
    # The same probes, scaled by 1/255 on their way in: the same float32 computation up to rounding.
    np.testing.assert_allclose(as_bytes.probes.probabilities, as_unit.probes.probabilities, atol=1e-5)


def test_a_shuffled_reference_gives_the_same_clusters(sequential_model, digits):
    train, test = digits
    reference = train.subset(range(600))
    runs = []
    for seed in (1, 2, 3):
        order = np.random.default_rng(seed).permutation(len(reference))
        runs.append(ll.analyze(sequential_model, test, reference=reference.subset(order), progress=False, explain=0))
    for other in runs[1:]:
        for a, b in zip(runs[0].layers, other.layers):
            assert a.clusters.k == b.clusters.k
            # The same fit in another summation order: a few images on a cluster border may change sides.
            assert np.mean(a.clusters.assignments == b.clusters.assignments) >= 0.99


def test_nested_layers_are_named_short_where_shown_and_in_full_where_they_live(nested_model, digits):
    result = ll.analyze(nested_model, digits[1], n_clusters={"block1_conv": 2}, progress=False, explain=0)
    assert result.layer_names[:2] == ("block1_conv", "block1_pool")
    assert result.layers[0].name == "base/block1_conv" and result.layers[0].clusters.k == 2
    assert "block1_conv" in result.paths.columns
    assert result.layer("block1_conv") is result.layer("base/block1_conv")
    figure = result.layer_figure("block1_conv")
    assert "block1_conv (base/block1_conv)" in figure.layout.title.text
    axes = [d.label.split(" (")[0] for d in result.paths_figure().data[0].dimensions]
    assert axes[:2] == list(result.layer_names[:2])


def test_pictures_are_the_files_at_their_own_size(sequential_model, digits, tmp_path):
    from skimage import io
    from skimage.transform import resize

    test = digits[1]
    for i in range(40):
        folder = tmp_path / "scans" / test.class_names[test.labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        large = resize(test.images[i, ..., 0], (60, 48), order=1)
        io.imsave(folder / f"{i:02d}.png", np.round(large * 255).astype(np.uint8), check_contrast=False)
    stream = ll.datasets.from_directory(tmp_path / "scans", image_size=16, color_mode="grayscale", stream=True)
    result = ll.analyze(sequential_model, stream, progress=False, explain=2)
    assert result.pictures and all(p.shape == (60, 48, 1) for p in result.pictures.values())
    assert set(result.explained_images) <= set(result.pictures)
    loaded = ll.load(result.save(tmp_path / "run"))
    assert all(np.array_equal(loaded.pictures[i], p) for i, p in result.pictures.items())


def test_the_run_keeps_only_the_reference_images_next_to_its_pages(sequential_model, digits):
    train, test = digits
    result = ll.analyze(sequential_model, test, reference=train.subset(range(400)), progress=False, explain=3)
    kept = result.reference.thumbnails
    near = set(result.reference_neighbours(sorted(result.explained_images)).reshape(-1).tolist())
    assert near <= set(kept) and len(kept) < 400
    assert all(thumbnail.shape == result.thumbnails.shape[1:] for thumbnail in kept.values())
    none = ll.analyze(sequential_model, test, reference=train.subset(range(400)), progress=False, explain=0,
                      keep_reference_images=False)  # fmt: skip
    assert none.reference.thumbnails == {}
