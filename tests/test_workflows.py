import keras
import numpy as np
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.workflows import analyze_files, load_data_for, load_model


@pytest.mark.parametrize(
    ("data", "shape", "n", "classes"),
    [
        ("digits", (16, 16, 1), 450, 10),
        ("mnist", (28, 28, 1), 1250, 10),
        ("faces", (25, 25, 1), 50, 2),
        ("phantoms", (32, 32, 1), 800, 4),
    ],
    ids=["digits", "mnist", "faces", "phantoms"],
)
def test_bundled_data_fits_the_model_input(data, shape, n, classes):
    images = load_data_for(data, shape, seed=0)
    assert images.images.shape == (n, *shape) and len(images.class_names) == classes


@pytest.mark.parametrize(
    ("data", "shape", "match"),
    [
        ("digits", (16, 16, 3), "grayscale, but the model expects 3 channels"),
        ("phantoms", (32, 48, 1), "phantoms are square; the model expects 32x48"),
        ("imagenet", (16, 16, 1), "data: expected one of .* or a folder of class sub-folders; received 'imagenet'"),
    ],
    ids=["rgb-model", "non-square", "unknown"],
)
def test_data_that_cannot_fit(data, shape, match):
    with pytest.raises(InvalidInputError, match=match):
        load_data_for(data, shape)


def test_unreadable_model_file(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match=r"model: Keras cannot read .*model.keras"):
        load_model(bad)


def test_models_that_expect_bytes_get_bytes(tmp_path):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(x)
    keras.Model(inputs, outputs).save(tmp_path / "bytes.keras")
    run, analysis = analyze_files(
        tmp_path / "bytes.keras", "digits", tmp_path / "run", n_clusters=2, progress=False, explain=0
    )
    model = load_model(tmp_path / "bytes.keras")
    images = load_data_for("digits", (8, 8, 1))
    np.testing.assert_allclose(analysis.probabilities, model.predict(images.images * 255, verbose=0), atol=1e-5)
    assert run.is_dir()
