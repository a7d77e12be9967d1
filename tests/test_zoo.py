import keras
import numpy as np
import pytest

from layerlens.app import zoo as zoo
from layerlens.datasets import load_digits
from layerlens.exceptions import InvalidInputError


@pytest.mark.parametrize(
    ("output", "n_classes", "units", "activation"),
    [("softmax", 4, 4, "softmax"), ("sigmoid", 2, 1, "sigmoid"), ("logits", 3, 3, "linear")],
    ids=["softmax", "sigmoid", "logits"],
)
def test_heads(output, n_classes, units, activation):
    model = zoo.small_cnn((16, 16, 1), n_classes, filters=(4, 8), dense_units=8, output=output)
    assert model.output_shape == (None, units)
    assert model.get_layer("output").activation.__name__ == activation
    assert [layer.name for layer in model.layers] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "flatten",
        "dense",
        "dropout",
        "output",
    ]


def test_same_seed_same_weights():
    a = zoo.small_cnn((8, 8, 1), 3, filters=(4,), dense_units=4, seed=5)
    b = zoo.small_cnn((8, 8, 1), 3, filters=(4,), dense_units=4, seed=5)
    c = zoo.small_cnn((8, 8, 1), 3, filters=(4,), dense_units=4, seed=6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output": "relu"}, "output: expected one of"),
        ({"n_classes": 1}, "n_classes: expected at least 2; received 1"),
        ({"output": "sigmoid", "n_classes": 3}, "needs n_classes=2; received 3"),
    ],
    ids=["unknown-head", "one-class", "sigmoid-multiclass"],
)
def test_bad_heads(kwargs, match):
    args = {"input_shape": (8, 8, 1), "n_classes": 3} | kwargs
    with pytest.raises(InvalidInputError, match=match):
        zoo.small_cnn(**args)


def test_faces_recipe_learns_with_a_sigmoid_head(faces_model):
    assert faces_model.model.output_shape == (None, 1)
    assert faces_model.test_accuracy >= 0.85
    assert faces_model.history["loss"][-1] < faces_model.history["loss"][0]


def test_training_is_reproducible_for_a_seed():
    split = load_digits(image_size=16, seed=0)
    small = type(split)(split.train.subset(range(200)), split.test.subset(range(100)))
    a = zoo.train_example("mnist", seed=1, epochs=1, data=small)
    b = zoo.train_example("mnist", seed=1, epochs=1, data=small)
    np.testing.assert_allclose(a.model.get_weights()[0], b.model.get_weights()[0], atol=1e-6)
    assert a.test_accuracy == b.test_accuracy


def test_predicted_labels_for_each_head():
    images = np.zeros((3, 8, 8, 1), np.float32)
    sigmoid = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid", bias_initializer="ones"),
        ]
    )
    assert zoo.predicted_labels(sigmoid, images).tolist() == [1, 1, 1]
    logits = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, bias_initializer=keras.initializers.Constant([0.0, -1.0, 2.0])),
        ]
    )
    assert zoo.predicted_labels(logits, images).tolist() == [2, 2, 2]


def test_save_round_trip(faces_model, tmp_path):
    path = zoo.save_example(faces_model, tmp_path / "models")
    assert path == tmp_path / "models" / "faces.keras"
    assert sorted(p.name for p in path.parent.iterdir()) == ["faces.keras"]  # no partial file left behind
    loaded = keras.models.load_model(path)
    images = faces_model.data.test.images
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), faces_model.model.predict(images, verbose=0), atol=1e-6
    )


def test_unknown_recipe():
    with pytest.raises(InvalidInputError, match=r"name: expected one of \['faces', 'mnist', 'phantoms', 'volumes'\]"):
        zoo.train_example("cifar")


def test_a_volume_input_builds_a_three_dimensional_network():
    model = zoo.small_cnn((16, 16, 16, 1), 4, filters=(4, 8), dense_units=8)
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds[:5] == ["Conv3D", "MaxPooling3D", "Conv3D", "MaxPooling3D", "GlobalMaxPooling3D"]
    assert model.get_layer("global_max") is not None and model.output_shape == (None, 4)
