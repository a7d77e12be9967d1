import keras
import numpy as np
import pytest
import tensorflow as tf

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.extract import (
    MAX_FEATURE_DIM,
    LayerInfo,
    _spread,
    default_layers,
    expects_byte_pixels,
    extract,
    list_layers,
    output_units,
)


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


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("sequential_model", ["conv1", "pool1", "conv2", "pool2", "flatten", "dense", "dropout", "output"]),
        ("branch_model", ["narrow", "wide", "join", "pool", "conv", "gap", "output"]),
        (
            "nested_model",
            ["base/block1_conv", "base/block1_pool", "base/block2_conv", "base", "gap", "dropout", "output"],
        ),
    ],
    ids=["sequential", "functional-add", "nested"],
)
def test_list_layers_names_every_layer_in_order(request, fixture, expected):
    infos = list_layers(request.getfixturevalue(fixture))
    assert [info.name for info in infos] == expected


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("sequential_model", ["conv1", "pool1", "conv2", "pool2", "dense"]),
        ("branch_model", ["narrow", "wide", "join", "pool", "conv", "gap"]),
        ("nested_model", ["base/block1_conv", "base/block1_pool", "base/block2_conv", "gap"]),
    ],
    ids=["sequential", "functional-add", "nested"],
)
def test_default_layers_skip_non_transforming_and_output(request, fixture, expected):
    assert default_layers(request.getfixturevalue(fixture)) == expected


def test_join_layer_is_a_block_output(branch_model):
    kinds = {info.name: info for info in list_layers(branch_model)}
    assert kinds["join"].is_block and kinds["join"].kind == "Add"
    assert not kinds["narrow"].is_block


def test_spread_keeps_eight_evenly_and_prefers_blocks():
    # 30 conv layers, with a block output (Add) after every 5th.
    candidates = [LayerInfo(f"l{i}", "Add" if i % 5 == 4 else "Conv2D", (4,), True, i % 5 == 4) for i in range(30)]
    chosen = [int(info.name[1:]) for info in _spread(candidates, 8)]
    assert len(chosen) == 8 and chosen == sorted(chosen)
    assert chosen[-1] >= 28  # the deepest part is always represented
    blocks = [c for c in chosen if c % 5 == 4]
    assert len(blocks) >= 5  # most picks snapped to the block outputs nearby
    gaps = np.diff(chosen)
    assert gaps.min() >= 2 and gaps.max() <= 6  # spread through the depth, not bunched


def test_deep_model_defaults_to_eight_layers():
    inputs = keras.Input((8, 8, 2))
    x = inputs
    for i in range(6):
        y = keras.layers.Conv2D(2, 3, padding="same", name=f"conv{i}a")(x)
        y = keras.layers.Conv2D(2, 3, padding="same", name=f"conv{i}b")(y)
        x = keras.layers.Add(name=f"add{i}")([x, y])
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.Flatten()(x))
    names = default_layers(keras.Model(inputs, outputs))
    assert len(names) == 8
    assert sum(name.startswith("add") for name in names) >= 5
    assert "head" not in names


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
    result = extract(model, ramp * scale + offset, layers=["dense"], progress=False)
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
        (np.zeros((4, 16, 16, 3), np.float32), r"expected shape \(N, 16, 16, 1\)"),
        (np.full((4, 16, 16, 1), np.nan, np.float32), "batch 0 contains NaN or infinite values"),
        (np.array([["a"] * 16] * 16).reshape(1, 16, 16, 1), "expected numeric pixel values"),
        (np.zeros((0, 16, 16, 1), np.float32), "expected at least one image"),
    ],
    ids=["small", "rgb", "nan", "strings", "empty"],
)
def test_bad_images(sequential_model, bad, match):
    with pytest.raises(InvalidInputError, match=match):
        extract(sequential_model, bad, progress=False)


def test_bad_images_type(sequential_model):
    with pytest.raises(InvalidTypeError, match="images: expected a numpy array.*received int"):
        extract(sequential_model, 7, progress=False)


def test_unknown_layer_lists_the_choices(nested_model, images):
    with pytest.raises(
        InvalidInputError,
        match=r"layers: unknown layer name\(s\) \['block1_conv'\]; available "
        r"layers: base/block1_conv, base/block1_pool",
    ):
        extract(nested_model, images, layers=["block1_conv"], progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": "conv1"}, InvalidTypeError, "layers: expected a list of layer names"),
        ({"layers": ["conv1", "conv1"]}, InvalidInputError, "expected distinct layer names"),
        ({"batch_size": 0}, InvalidInputError, "batch_size: expected a positive integer; received 0"),
        (
            {"conv_features": "max"},
            InvalidInputError,
            r"conv_features: expected one of \('mean', 'mean_max'\)",
        ),
    ],
    ids=["string-layers", "duplicate-layers", "batch-size", "conv-features"],
)
def test_bad_options(sequential_model, images, kwargs, error, match):
    with pytest.raises(error, match=match):
        extract(sequential_model, images, progress=False, **kwargs)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(keras.ops.reshape(x, (-1, 16)))


def two_outputs():
    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, [keras.layers.Dense(2)(flat), keras.layers.Dense(3)(flat)])


def segmenter():
    inputs = keras.Input((4, 4, 1))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: "model.keras", InvalidTypeError, "model: expected a keras.Model; received str"),
        (Subclassed, InvalidTypeError, "subclassed model 'Subclassed'"),
        (lambda: keras.Sequential([keras.layers.Dense(2)]), InvalidInputError, "has no known input shape"),
        (
            two_outputs,
            InvalidInputError,
            r"one image input and one class output; received 1 input\(s\) and 2",
        ),
        (segmenter, InvalidInputError, r"output has shape \(batch, classes\); received \(None, 4, 4, 3\)"),
    ],
    ids=["not-a-model", "subclassed", "unbuilt", "two-outputs", "not-a-classifier"],
)
def test_unusable_models(make, error, match):
    with pytest.raises(error, match=match):
        output_units(make())


@pytest.fixture(scope="module")
def normalised_model():
    """Rescaling, BatchNormalization with trained statistics, and a Dense-then-Activation head."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((64, 8, 8, 1)) * 255, rng.integers(0, 3, 64), epochs=2, verbose=0)
    return model


def test_inference_mode_and_no_state_change(normalised_model):
    x = np.random.default_rng(1).random((10, 8, 8, 1), dtype=np.float32) * 255
    snapshot = graph_snapshot(normalised_model)
    result = extract(normalised_model, x, layers=["bn", "logits"], progress=False)
    # BatchNormalization in training mode would use the batch's statistics and update its moving averages.
    np.testing.assert_allclose(result.outputs, normalised_model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(result.features[0], layer_output(normalised_model, "bn", x).mean(axis=(1, 2)), atol=1e-4)
    assert_unchanged(normalised_model, snapshot)


def test_classifier_before_an_activation_is_not_a_default_layer(normalised_model):
    assert default_layers(normalised_model) == ["conv", "gap"]
    assert extract(normalised_model, np.zeros((2, 8, 8, 1)), progress=False).output_activation == "softmax"


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
    result = extract(sequential_model, np.full((3, 16, 16, 1), 300.0, np.float32), layers=["conv1"], progress=False)
    assert result.thumbnails.min() == result.thumbnails.max() == 128


def test_labels_that_are_not_classes_are_refused(sequential_model, images):
    masks = np.zeros((10, 16, 16), np.int64)
    with pytest.raises(InvalidInputError, match=r"labels y in the batches have shape \(10, 16, 16\)"):
        extract(sequential_model, [(images[:10], masks)], progress=False)


def test_byte_pixel_models_are_recognised(normalised_model, sequential_model):
    assert expects_byte_pixels(normalised_model)
    assert not expects_byte_pixels(sequential_model)


def test_pixel_scale_is_applied_before_the_model(normalised_model):
    x = np.random.default_rng(2).random((6, 8, 8, 1), dtype=np.float32)
    result = extract(normalised_model, x, layers=["conv"], pixel_scale=255.0, progress=False)
    np.testing.assert_allclose(result.outputs, normalised_model.predict(x * 255, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(result.thumbnails, np.round(x * 255).astype(np.uint8))
    with pytest.raises(InvalidInputError, match="pixel_scale: expected a positive number; received 0"):
        extract(normalised_model, x, pixel_scale=0, progress=False)


@pytest.mark.parametrize("progress", [True, False], ids=["bar", "quiet"])
def test_progress_bar(sequential_model, images, capsys, progress):
    extract(sequential_model, images[:100], layers=["conv1"], batch_size=50, progress=progress)
    out = capsys.readouterr().out
    assert ("100/100" in out) is progress
