"""Volumes through the whole analysis: Conv3D classifiers of every build Keras offers, as arrays, with the accuracy
``model.evaluate`` reports, the axes of their arrays, the batch size that fits memory, and clear errors.

The task: 16^3 noisy volumes whose class is the lesion they hold (none, a small bright cube, a larger faint one)
anywhere in the volume, so a small Conv3D learns it in a few seconds and its clusters and paths have something
to show.
"""

from __future__ import annotations

import numpy as np
import pytest

SIDE = 16
CLASSES = ("none", "bright", "faint")


def _volumes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random((n, SIDE, SIDE, SIDE, 1)) * 0.3).astype(np.float32)
    y = np.arange(n) % 3
    for i, label in enumerate(y):
        if label == 0:
            continue
        side, brightness = (3, 0.7) if label == 1 else (6, 0.3)
        d, h, w = rng.integers(1, SIDE - side - 1, size=3)
        x[i, d : d + side, h : h + side, w : w + side] += brightness
    return x, y


@pytest.fixture(scope="module")
def data():
    return _volumes(240, 0), _volumes(90, 1)


def _train(model, data, *, binary: bool = False, epochs: int = 12, rate: float = 1e-2):
    import keras

    (x, y), _ = data
    target = (y > 0).astype(np.float32) if binary else y
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    metric = keras.metrics.BinaryAccuracy("accuracy") if binary else keras.metrics.SparseCategoricalAccuracy("accuracy")
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=[metric])
    model.fit(x, target, epochs=epochs, batch_size=32, verbose=0)
    return model


def _sequential(units: int = 3, activation: str = "softmax"):
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((SIDE, SIDE, SIDE, 1)),
            keras.layers.Conv3D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling3D(2, name="pool1"),
            keras.layers.Conv3D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling3D(name="gap"),
            keras.layers.Dense(units, activation=activation, name="output"),
        ],
        name="vol_sequential",
    )


@pytest.fixture(scope="module")
def sequential(data):
    return _train(_sequential(), data)


@pytest.fixture(scope="module")
def functional(data):
    """Two Conv3D branches joined by a residual Add, batch normalisation, pooling."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIDE, SIDE, SIDE, 1), name="volume")
    stem = keras.layers.Conv3D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    branch = keras.layers.Conv3D(8, 3, padding="same", name="branch")(stem)
    branch = keras.layers.BatchNormalization(name="bn")(branch)
    joined = keras.layers.Activation("relu", name="relu")(keras.layers.Add(name="add")([stem, branch]))
    pooled = keras.layers.AveragePooling3D(2, name="pool")(joined)
    features = keras.layers.GlobalMaxPooling3D(name="gmp")(pooled)
    outputs = keras.layers.Dense(3, activation="softmax", name="output")(features)
    return _train(keras.Model(inputs, outputs, name="vol_functional"), data, epochs=15, rate=3e-3)


@pytest.fixture(scope="module")
def nested(data):
    """A Conv3D 'base network' inside a Sequential, sigmoid head (lesion or none)."""
    import keras

    keras.utils.set_random_seed(2)
    base_in = keras.Input((SIDE, SIDE, SIDE, 1), name="base_input")
    x = keras.layers.Conv3D(8, 3, activation="relu", name="block1_conv")(base_in)
    x = keras.layers.MaxPooling3D(name="block1_pool")(x)
    x = keras.layers.Conv3D(8, 3, activation="relu", name="block2_conv")(x)
    base = keras.Model(base_in, x, name="base3d")
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, SIDE, 1)),
            base,
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="vol_nested",
    )
    return _train(model, data, binary=True)


def _keras_accuracy(model, x, y, binary: bool = False) -> float:
    target = (y > 0).astype(np.float32) if binary else y
    return float(model.evaluate(x, target, verbose=0, return_dict=True)["accuracy"])


@pytest.mark.parametrize("which", ["sequential", "functional", "nested"])
def test_accuracy_of_a_volume_model_equals_keras_evaluate(which, request, data):
    import layerlens as ll

    model = request.getfixturevalue(which)
    binary = which == "nested"
    _, (x, y) = data
    labels = (y > 0).astype(int) if binary else y
    names = ("none", "lesion") if binary else CLASSES
    analysis = ll.analyze(model, x, labels, class_names=names, explain=0, progress=False)
    assert analysis.metrics.accuracy == pytest.approx(_keras_accuracy(model, x, y, binary), abs=1e-6)
    assert analysis.metrics.accuracy > 0.8  # trained: the comparison is not between two chance levels
    assert analysis.model.head == ("sigmoid" if binary else "softmax")
    assert analysis.settings.axes == "DHW"
    assert analysis.thumbnails.shape == (len(x), SIDE, SIDE, 1)
    assert all(len(layer.clusters.assignments) == len(x) for layer in analysis.layers)
    assert len(analysis.paths) == len(x) and analysis.doubt is not None
    assert analysis.image_properties is not None and len(analysis.image_properties) == len(x)


def test_volume_analysis_holds_layers_paths_maps_and_page_volumes(sequential, data, tmp_path):
    import layerlens as ll

    _, (x, y) = data
    analysis = ll.analyze(sequential, x, y, class_names=CLASSES, explain=0, progress=False)
    assert [layer.name for layer in analysis.layers] == ["conv1", "pool1", "conv2", "gap"]
    assert analysis.layers[0].output_shape == (14, 14, 14, 8)
    assert all(layer.coords.shape == (len(x), 2) for layer in analysis.layers)
    # The pages' volumes: uint8, the analysed volume on the display scale, mistakes first.
    assert analysis.volumes
    index, volume = next(iter(analysis.volumes.items()))
    assert volume.dtype == np.uint8 and volume.shape == (SIDE, SIDE, SIDE, 1)
    expected = np.round(np.clip((x[index] - 0.0) / 1.0, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(volume, expected)
    assert set(analysis.volumes) <= set(analysis.pictures)
    # The central axial slice is the thumbnail and the page's picture.
    assert np.array_equal(analysis.pictures[index], volume[SIDE // 2])
    back = ll.load(analysis.save(tmp_path / "run"))
    assert back.settings.axes == "DHW" and back.settings.volume_view == "slice"
    assert sorted(back.volumes) == sorted(analysis.volumes)
    assert all(np.array_equal(back.volumes[i], analysis.volumes[i]) for i in analysis.volumes)


def test_same_features_from_any_batch_size_and_from_a_list_of_volumes(sequential, data):
    from layerlens.model import extract

    _, (x, _) = data
    whole = extract(sequential, x[:20], batch_size=20, progress=False)
    pieces = extract(sequential, x[:20], batch_size=3, progress=False)
    listed = extract(sequential, list(x[:20]), batch_size=7, progress=False)
    for a, b, c in zip(whole.features, pieces.features, listed.features):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # batch size changes float sums only
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def test_grid_features_in_three_dimensions_keep_where_a_channel_fired(sequential, data):
    from layerlens.model import extract

    _, (x, _) = data
    grid = extract(sequential, x[:6], conv_features="grid", layers=["conv2"], progress=False)
    # conv2's map is 5^3 x 16: a 4^3 grid of channel means (1,024 values) projected to 256.
    assert grid.reductions[0] == "channel means on a 4x4x4 grid, random projection 1024→256"
    assert grid.features[0].shape == (6, 256)
    # Where the lesion is survives in the grid, not in the means: the same cube high and low along D gives the
    # same channel means (up to the map's borders) and different grid features.
    high, low = np.zeros((2, 1, SIDE, SIDE, SIDE, 1), np.float32) + 0.1
    high[0, 2:5, 6:9, 6:9] = low[0, 10:13, 6:9, 6:9] = 0.8
    means = [extract(sequential, v, layers=["conv2"], progress=False).features[0] for v in (high, low)]
    grids = [
        extract(sequential, v, conv_features="grid", layers=["conv2"], progress=False).features[0] for v in (high, low)
    ]
    mean_change = np.linalg.norm(means[0] - means[1]) / np.linalg.norm(means[0])
    grid_change = np.linalg.norm(grids[0] - grids[1]) / np.linalg.norm(grids[0])
    assert grid_change > 3 * mean_change


def test_grid_cells_average_the_map_like_area_resampling():
    import tensorflow as tf

    from layerlens.model._extract import _area_weights, _reduce

    volume = np.random.default_rng(0).random((2, 7, 6, 5, 3)).astype(np.float32)
    pooled = _reduce(tf.constant(volume), "grid", (4, 4, 4), None).numpy().reshape(2, 4, 4, 4, 3)
    # Each cell: the mean of the voxels it covers, fractional voxels by the share inside it.
    weights = [_area_weights(n, 4) for n in (7, 6, 5)]
    expected = np.einsum("ndhwc,di,hj,wk->nijkc", volume.astype(np.float64), *weights)
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    # Whole-voxel cells (8 -> 4) are plain means of two voxels per axis.
    even = np.arange(8, dtype=np.float32)
    np.testing.assert_allclose(_area_weights(8, 4).T @ even, [0.5, 2.5, 4.5, 6.5])
    assert np.allclose(pooled.mean(axis=(1, 2, 3)), volume.mean(axis=(1, 2, 3)), atol=1e-5)


def test_depth_last_tutorial_model_with_its_axes(data):
    """Keras' CT tutorial feeds (H, W, D) volumes: the run says so, and shows axial slices all the same."""
    import keras

    import layerlens as ll

    (train_x, train_y), (x, y) = data
    to_hwd = (0, 2, 3, 1, 4)
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, SIDE, 1)),
            keras.layers.Conv3D(8, 3, activation="relu"),
            keras.layers.MaxPool3D(2),
            keras.layers.BatchNormalization(),
            keras.layers.Conv3D(8, 3, activation="relu"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    _train(model, ((train_x.transpose(to_hwd), train_y), None), epochs=15, rate=3e-3)
    hwd = x.transpose(to_hwd)
    analysis = ll.analyze(model, hwd, y, class_names=CLASSES, axes="HWD", explain=0, progress=False)
    assert analysis.metrics.accuracy == pytest.approx(_keras_accuracy(model, hwd, y), abs=1e-6)
    assert analysis.settings.axes == "HWD"
    # The thumbnail of a depth-last volume is still its central axial slice, rows H and columns W.
    expected = np.round(np.clip(x[:, SIDE // 2], 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(analysis.thumbnails, expected)
    assert all(v.shape == (SIDE, SIDE, SIDE, 1) for v in analysis.volumes.values())
    index = next(iter(analysis.volumes))
    assert np.array_equal(analysis.volumes[index][..., 0], np.round(np.clip(hwd[index, ..., 0], 0, 1) * 255))


def test_maximum_intensity_projection_thumbnails(sequential, data):
    import layerlens as ll

    _, (x, y) = data
    analysis = ll.analyze(sequential, x[:30], y[:30], volume_view="mip", explain=0, progress=False)
    expected = np.round(np.clip(x[:30].max(axis=1), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(analysis.thumbnails, expected)
    assert analysis.settings.volume_view == "mip"


def test_auto_batch_size_keeps_the_largest_activation_under_a_gibibyte():
    from layerlens.model import auto_batch_size

    # The example: 64x128x128 volumes through a 32-channel Conv3D (134 MB each) -> 8 at once.
    assert auto_batch_size([(64, 128, 128, 32), (32, 64, 64, 32), (2,)], (64, 128, 128, 1)) == 8
    assert auto_batch_size([(112, 112, 64), (7, 7, 2048), (1000,)], (224, 224, 3)) == 64  # a ResNet50
    assert auto_batch_size([(256, 512, 512, 64)], (256, 512, 512, 1)) == 1  # never below one
    assert auto_batch_size([(None, None, 32)], (None, None, 3)) == 64  # size unknown before the images


def test_analyze_reports_the_batch_size_it_chose(sequential, data):
    import layerlens as ll

    _, (x, y) = data
    analysis = ll.analyze(sequential, x[:12], y[:12], explain=0, progress=False)
    assert analysis.settings.batch_size == 64
    fixed = ll.analyze(sequential, x[:12], y[:12], batch_size=5, explain=0, progress=False)
    assert fixed.settings.batch_size == 5
    assert np.array_equal(fixed.predictions, analysis.predictions)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"axes": "DHX"}, "axes: expected a permutation of the letters 'D', 'H' and 'W'"),
        ({"axes": 3}, "axes: expected"),
        ({"volume_view": "mean"}, "volume_view: expected one of ['slice', 'mip']"),
        ({"batch_size": "big"}, "batch_size: expected a positive integer or 'auto'"),
        ({"batch_size": 0}, "batch_size: expected a positive integer or 'auto'"),
    ],
)
def test_bad_volume_options_are_named(sequential, data, kwargs, message):
    import layerlens as ll
    from layerlens.exceptions import InvalidInputError

    _, (x, y) = data
    with pytest.raises(InvalidInputError, match=None) as caught:
        ll.analyze(sequential, x[:9], y[:9], explain=0, progress=False, **kwargs)
    assert message in str(caught.value)


def test_a_two_dimensional_model_given_volumes_and_a_volume_model_given_other_shapes(sequential, data):
    import keras

    import layerlens as ll
    from layerlens.exceptions import InvalidInputError

    _, (x, y) = data
    flat = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    with pytest.raises(InvalidInputError, match=r"images: .*\(the model takes images; these are volumes\)"):
        ll.analyze(flat, x[:9], y[:9], explain=0, progress=False)
    with pytest.raises(InvalidInputError, match=r"images: .*\(the model takes volumes; these are images\)"):
        ll.analyze(sequential, x[:9, 0], y[:9], explain=0, progress=False)
    with pytest.raises(InvalidInputError, match=r"images: expected shape \(N, 16, 16, 16, 1\)"):
        ll.analyze(sequential, x[:9, :, :, :12], y[:9], explain=0, progress=False)
    # Volumes without their channel axis are taken as one channel, as (N, H, W) images are.
    bare = ll.analyze(sequential, x[:9, ..., 0], y[:9], explain=0, progress=False)
    assert bare.probabilities.shape == (9, 3)
    with pytest.raises(InvalidInputError, match="axes: the images' reader says"):
        from layerlens.datasets import ImageSet

        volumes = ImageSet(x[:9], y[:9], CLASSES, axes="HWD")
        ll.analyze(sequential, volumes, explain=0, progress=False, axes="DHW")


def test_volumes_as_a_tf_data_dataset_and_as_batches(sequential, data):
    import tensorflow as tf

    import layerlens as ll

    _, (x, y) = data
    whole = ll.analyze(sequential, x[:40], y[:40], explain=0, progress=False)
    dataset = tf.data.Dataset.from_tensor_slices((x[:40], y[:40])).batch(16)
    from_dataset = ll.analyze(sequential, dataset, explain=0, progress=False, class_names=CLASSES)
    batched = ll.analyze(
        sequential, [(x[i : min(i + 9, 40)], y[i : min(i + 9, 40)]) for i in range(0, 40, 9)], explain=0, progress=False
    )
    for other in (from_dataset, batched):
        np.testing.assert_allclose(other.probabilities, whole.probabilities, atol=1e-5)
        assert other.metrics.accuracy == whole.metrics.accuracy and other.settings.axes == "DHW"
