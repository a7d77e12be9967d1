import keras
import numpy as np
import pytest
import tensorflow as tf

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.model import MAX_FEATURE_DIM, extract


def layer_output(model, name, images):
    """The full activation map of one top-level layer, computed the plain Keras way."""
    return keras.Model(model.inputs, model.get_layer(name).output).predict(images, verbose=0)


def graph_snapshot(model):
    """Weights and Keras graph bookkeeping that must not change when layerlens reads a model."""
    layers = model._flatten_layers(include_self=False, recursive=True)
    return (
        [w.copy() for w in model.get_weights()],
        {id(layer): (len(layer._inbound_nodes), len(layer._outbound_nodes)) for layer in layers},
    )


def assert_unchanged(model, snapshot):
    weights, nodes = graph_snapshot(model)
    for before, after in zip(snapshot[0], weights):
        np.testing.assert_array_equal(before, after)
    assert nodes == snapshot[1]


def test_features_are_channel_means_of_the_activation(sequential_model, images):
    result = extract(sequential_model, images, layers=["conv1", "dense"], batch_size=64, progress=False)
    np.testing.assert_allclose(
        result.features[0], layer_output(sequential_model, "conv1", images).mean(axis=(1, 2)), atol=1e-5
    )
    np.testing.assert_allclose(result.features[1], layer_output(sequential_model, "dense", images), atol=1e-5)
    np.testing.assert_allclose(result.outputs, sequential_model.predict(images, verbose=0), atol=1e-5)
    assert result.reductions == ("channel mean", "identity")
    assert result.output_activation == "softmax"


def test_mean_max_doubles_conv_features(sequential_model, images):
    result = extract(sequential_model, images, layers=["conv2"], conv_features="mean_max", progress=False)
    activation = layer_output(sequential_model, "conv2", images)
    expected = np.concatenate([activation.mean(axis=(1, 2)), activation.max(axis=(1, 2))], axis=1)
    np.testing.assert_allclose(result.features[0], expected, atol=1e-5)


def test_nested_layers_match_the_inner_model(nested_model, images):
    result = extract(nested_model, images, layers=["base/block1_conv", "base", "gap"], progress=False)
    base = nested_model.get_layer("base")
    inner = keras.Model(base.inputs, base.get_layer("block1_conv").output).predict(images, verbose=0)
    np.testing.assert_allclose(result.features[0], inner.mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(result.features[1], base.predict(images, verbose=0).mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(result.outputs, nested_model.predict(images, verbose=0), atol=1e-5)


def test_layers_are_returned_in_depth_order(branch_model, images):
    result = extract(branch_model, images[:10], layers=["gap", "narrow"], progress=False)
    assert [info.name for info in result.layers] == ["narrow", "gap"]


def test_wide_dense_layers_are_projected_with_a_fixed_seed():
    inputs = keras.Input((4, 4, 1))
    wide = keras.layers.Dense(300, name="wide")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(wide))
    x = np.random.default_rng(0).random((30, 4, 4, 1), dtype=np.float32)
    first = extract(model, x, layers=["wide"], seed=3, progress=False)
    again = extract(model, x, layers=["wide"], seed=3, progress=False)
    other = extract(model, x, layers=["wide"], seed=4, progress=False)
    assert first.features[0].shape == (30, MAX_FEATURE_DIM)
    assert first.reductions == (f"identity, random projection 300→{MAX_FEATURE_DIM}",)
    np.testing.assert_array_equal(first.features[0], again.features[0])
    assert not np.allclose(first.features[0], other.features[0])
    # A Gaussian projection roughly keeps distances (Johnson-Lindenstrauss).
    full = keras.Model(inputs, wide).predict(x, verbose=0)
    ratio = np.linalg.norm(first.features[0][0] - first.features[0][1]) / np.linalg.norm(full[0] - full[1])
    assert 0.7 < ratio < 1.3


def as_generator(x, y, size):
    for i in range(0, len(x), size):
        yield x[i : i + size], y[i : i + size]


@pytest.mark.parametrize("source", ["dataset", "generator", "pydataset"], ids=["tf.data", "generator", "PyDataset"])
def test_streamed_inputs_give_the_same_result_as_an_array(sequential_model, digits, source):
    test = digits[1]
    reference = extract(sequential_model, test.images, layers=["conv1", "dense"], progress=False)
    if source == "dataset":
        stream = tf.data.Dataset.from_tensor_slices((test.images, test.labels)).batch(37)
    elif source == "generator":
        stream = as_generator(test.images, test.labels, 50)
    else:

        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 3

            def __getitem__(self, i):
                return test.images[i * 100 : (i + 1) * 100], test.labels[i * 100 : (i + 1) * 100]

        stream = Batches()
    streamed = extract(sequential_model, stream, layers=["conv1", "dense"], progress=False)
    for a, b in zip(reference.features, streamed.features):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(streamed.labels, test.labels)
    np.testing.assert_array_equal(streamed.thumbnails, reference.thumbnails)


def test_imageset_and_one_hot_labels(sequential_model, digits):
    test = digits[1].subset(range(40))
    assert np.array_equal(extract(sequential_model, test, progress=False).labels, test.labels)
    one_hot = np.eye(10, dtype=np.float32)[test.labels]
    streamed = extract(sequential_model, [(test.images, one_hot)], progress=False)
    np.testing.assert_array_equal(streamed.labels, test.labels)


def test_grayscale_without_channel_axis_is_accepted(sequential_model, images):
    a = extract(sequential_model, images[:, :, :, 0], layers=["conv1"], progress=False)
    b = extract(sequential_model, images, layers=["conv1"], progress=False)
    np.testing.assert_array_equal(a.features[0], b.features[0])


@pytest.mark.parametrize(
    ("scale", "offset"), [(1.0, 0.0), (255.0, 0.0), (2.0, -1.0)], ids=["unit", "bytes", "minus-one-to-one"]
)
def test_thumbnails_map_the_pixel_range_to_bytes(scale, offset):
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(
        inputs, keras.layers.Dense(2, activation="softmax", name="dense")(keras.layers.Flatten()(inputs))
    )
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1)
    result = extract(model, ramp * scale + offset, layers=["dense"], pixel_scale=1.0, progress=False)
    assert result.thumbnails.dtype == np.uint8
    np.testing.assert_array_equal(result.thumbnails[0], np.round(ramp[0] * 255).astype(np.uint8))


def test_large_images_get_small_thumbnails():
    inputs = keras.Input((100, 150, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="dense")(pooled))
    x = np.random.default_rng(0).random((3, 100, 150, 3), dtype=np.float32)
    assert extract(model, x, layers=["dense"], progress=False).thumbnails.shape == (3, 43, 64, 3)


def test_model_is_left_unchanged(nested_model, images):
    snapshot = graph_snapshot(nested_model)
    extract(nested_model, images[:20], progress=False)
    assert_unchanged(nested_model, snapshot)
    with pytest.raises(InvalidInputError):
        extract(nested_model, images[:20, :8], progress=False)
    assert_unchanged(nested_model, snapshot)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (
            np.zeros((4, 8, 8, 1), np.float32),
            r"images: expected shape \(N, 16, 16, 1\).*batch 0 has shape \(4, 8, 8, 1\)",
        ),
        (np.zeros((4, 16, 16, 2), np.float32), r"expected shape \(N, 16, 16, 1\)"),
        (np.full((4, 16, 16, 1), np.nan, np.float32), "batch 0 contains NaN or infinite values"),
        (np.array([["a"] * 16] * 16).reshape(1, 16, 16, 1), "expected numeric pixel values"),
        (np.zeros((0, 16, 16, 1), np.float32), "expected at least one image"),
    ],
    ids=["small", "two-channels", "nan", "strings", "empty"],
)
def test_bad_images(sequential_model, bad, match):
    with pytest.raises(InvalidInputError, match=match):
        extract(sequential_model, bad, progress=False)


def test_bad_images_type(sequential_model):
    with pytest.raises(InvalidTypeError, match="images: expected a numpy array.*received int"):
        extract(sequential_model, 7, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": "conv1"}, InvalidTypeError, "layers: expected a list of layer names"),
        ({"layers": ["conv1", "conv1"]}, InvalidInputError, "expected distinct layer names"),
        ({"batch_size": 0}, InvalidInputError, "batch_size: expected a positive integer or 'auto'; received 0"),
        (
            {"conv_features": "max"},
            InvalidInputError,
            r"conv_features: expected one of \(.mean., .mean_max., .grid.\)",
        ),
    ],
    ids=["string-layers", "duplicate-layers", "batch-size", "conv-features"],
)
def test_bad_options(sequential_model, images, kwargs, error, match):
    with pytest.raises(error, match=match):
        extract(sequential_model, images, progress=False, **kwargs)


def test_inference_mode_and_no_state_change(normalised_model):
    x = np.random.default_rng(1).random((10, 8, 8, 1), dtype=np.float32) * 255
    snapshot = graph_snapshot(normalised_model)
    result = extract(normalised_model, x, layers=["bn", "logits"], progress=False)
    # BatchNormalization in training mode would use the batch's statistics and update its moving averages.
    np.testing.assert_allclose(result.outputs, normalised_model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(result.features[0], layer_output(normalised_model, "bn", x).mean(axis=(1, 2)), atol=1e-4)
    assert_unchanged(normalised_model, snapshot)


@pytest.mark.parametrize("kind", ["tensor", "list"], ids=["tf.Tensor", "list-of-images"])
def test_whole_tensors_and_lists_of_images(sequential_model, images, kind):
    source = tf.constant(images[:20]) if kind == "tensor" else list(images[:20])
    result = extract(sequential_model, source, layers=["conv1"], progress=False)
    expected = extract(sequential_model, images[:20], layers=["conv1"], progress=False)
    np.testing.assert_array_equal(result.features[0], expected.features[0])


def test_images_must_keep_one_size():
    inputs = keras.Input((None, None, 1))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(pooled))
    batches = [np.zeros((2, 10, 10, 1), np.float32), np.zeros((2, 12, 12, 1), np.float32)]
    with pytest.raises(InvalidInputError, match=r"same size; batch 0 has images of \(10, 10, 1\), batch 1 of"):
        extract(model, batches, progress=False)


def test_constant_images_give_finite_thumbnails(sequential_model):
    constant = np.full((3, 16, 16, 1), 300.0, np.float32)
    result = extract(sequential_model, constant, layers=["conv1"], pixel_scale=1.0, progress=False)
    assert result.thumbnails.min() == result.thumbnails.max() == 128


def test_labels_that_are_not_classes_are_refused(sequential_model, images):
    masks = np.zeros((10, 16, 16), np.int64)
    with pytest.raises(InvalidInputError, match=r"labels y in the batches have shape \(10, 16, 16\)"):
        extract(sequential_model, [(images[:10], masks)], progress=False)


def test_pixel_scale_is_applied_before_the_model(normalised_model):
    x = np.random.default_rng(2).random((6, 8, 8, 1), dtype=np.float32)
    result = extract(normalised_model, x, layers=["conv"], pixel_scale=255.0, progress=False)
    np.testing.assert_allclose(result.outputs, normalised_model.predict(x * 255, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(result.thumbnails, np.round(x * 255).astype(np.uint8))
    with pytest.raises(InvalidInputError, match="pixel_scale: expected 'auto' or a positive number; received 0"):
        extract(normalised_model, x, pixel_scale=0, progress=False)


@pytest.mark.parametrize("progress", [True, False], ids=["bar", "quiet"])
def test_progress_bar(sequential_model, images, capsys, progress):
    extract(sequential_model, images[:100], layers=["conv1"], batch_size=50, progress=progress)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays the user's
    assert ("100/100 images" in captured.err and "images/s" in captured.err) is progress


def test_analysing_many_models_in_one_process_is_quiet(caplog, capfd):
    """Each extraction traces its own graph; TensorFlow must not take that for accidental retracing."""
    import logging

    from layerlens.app import zoo as zoo

    caplog.set_level(logging.WARNING)  # TensorFlow warns through Python's logging ("tensorflow" logger)
    x = np.random.default_rng(0).random((8, 8, 8, 1), dtype=np.float32)
    for seed in range(7):
        extract(zoo.small_cnn((8, 8, 1), 2, filters=(2,), dense_units=4, seed=seed), x, progress=False)
    assert "retracing" not in caplog.text
    assert "retracing" not in capfd.readouterr().err


def test_grid_features_are_channel_means_per_cell(sequential_model, images):
    result = extract(sequential_model, images[:20], layers=["conv2", "pool2"], conv_features="grid", progress=False)
    conv2 = layer_output(sequential_model, "conv2", images[:20])  # 8x8x16: 4x4 cells of 2x2 pixels
    cells = conv2.reshape(20, 4, 2, 4, 2, 16).mean(axis=(2, 4))
    # 256 = 4 * 4 * 16 values: exactly MAX_FEATURE_DIM, so no projection. Keras' conv and ours: 1e-5.
    np.testing.assert_allclose(result.features[0], cells.reshape(20, -1), atol=1e-5)
    assert result.reductions[0] == "channel means on a 4x4 grid"
    assert result.features[1].shape == (20, 256)  # pool2 is 4x4x16: one pixel per cell


def test_grid_features_of_wide_maps_are_projected_to_the_bound():
    inputs = keras.Input((16, 16, 1))
    conv = keras.layers.Conv2D(40, 3, padding="same", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(conv)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(pooled))
    x = np.random.default_rng(0).random((10, 16, 16, 1), dtype=np.float32)
    result = extract(model, x, layers=["conv"], conv_features="grid", progress=False)
    # 4 x 4 x 40 = 640 values per image leave the graph as MAX_FEATURE_DIM: memory stays bounded.
    assert result.features[0].shape == (10, MAX_FEATURE_DIM)
    assert result.reductions[0] == f"channel means on a 4x4 grid, random projection 640→{MAX_FEATURE_DIM}"


def test_grid_of_a_map_smaller_than_the_grid_keeps_its_pixels():
    inputs = keras.Input((6, 6, 1))
    conv = keras.layers.Conv2D(3, 3, strides=2, padding="same", name="conv")(inputs)  # 3x3x3
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(conv)))
    x = np.random.default_rng(1).random((4, 6, 6, 1), dtype=np.float32)
    result = extract(model, x, layers=["conv"], conv_features="grid", progress=False)
    expected = keras.Model(inputs, conv).predict(x, verbose=0).reshape(4, -1)
    np.testing.assert_allclose(result.features[0], expected, atol=1e-5)


def test_noise_depends_on_the_image_not_on_the_batches_or_other_levels(sequential_model, images):
    a = extract(sequential_model, images[:100], layers=["dense"], noise=(0.02, 0.05), batch_size=64, progress=False)
    b = extract(sequential_model, images[:100], layers=["dense"], noise=(0.05,), batch_size=30, progress=False)
    # The same noisy images; only the batch size of the model's pass differs (float rounding, 1e-5).
    np.testing.assert_allclose(a.noisy_features[0.05][0], b.noisy_features[0.05][0], atol=1e-5)
    assert not np.allclose(a.noisy_features[0.02][0], a.noisy_features[0.05][0])
    clean = extract(sequential_model, images[:100], layers=["dense"], batch_size=64, progress=False)
    np.testing.assert_allclose(a.features[0], clean.features[0], atol=1e-5)  # clean images: noise changes nothing
