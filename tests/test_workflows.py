import keras
import numpy as np
import pytest

from layerlens.app.workflows import analyze_files, load_model
from layerlens.datasets import load_data_for
from layerlens.exceptions import InvalidInputError, UnreliableAnalysisWarning


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
        ("digits", (16, 16, 4), "grayscale, but the model expects 4 channels"),
        ("phantoms", (32, 48, 1), "phantoms are square; the model expects 32x48"),
        ("imagenet", (16, 16, 1), "data: expected one of .* or a folder of class sub-folders; received 'imagenet'"),
    ],
    ids=["four-channel-model", "non-square", "unknown"],
)
def test_data_that_cannot_fit(data, shape, match):
    with pytest.raises(InvalidInputError, match=match):
        load_data_for(data, shape)


def test_a_bundled_grayscale_set_for_a_colour_model_stays_gray_for_analyze_to_convert():
    images = load_data_for("digits", (16, 16, 3), seed=0)
    assert images.images.shape == (450, 16, 16, 1)


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
    with pytest.warns(UnreliableAnalysisWarning):  # an untrained model: its predictions collapse, and it says so
        run, analysis = analyze_files(
            tmp_path / "bytes.keras", "digits", tmp_path / "run", n_clusters=2, progress=False, explain=0
        )
    assert analysis.settings.pixel_scale == 255.0 and "Rescaling" in analysis.settings.pixel_scale_reason
    model = load_model(tmp_path / "bytes.keras")
    images = load_data_for("digits", (8, 8, 1))
    np.testing.assert_allclose(analysis.probabilities, model.predict(images.images * 255, verbose=0), atol=1e-5)
    assert run.is_dir()


@pytest.fixture(scope="module")
def lambda_model_file(tmp_path_factory):
    """A small model with a Lambda layer (Python code in the file), saved as .keras and as legacy .h5."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Lambda(lambda x: x * 2.0, name="double"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    folder = tmp_path_factory.mktemp("lambda")
    model.save(folder / "lambda.keras")
    model.save(folder / "lambda.h5")
    return folder / "lambda.keras", model


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_code_in_a_model_file_is_refused_unless_allowed(lambda_model_file, suffix):
    path, model = lambda_model_file
    path = path.with_suffix(suffix)
    with pytest.raises(InvalidInputError, match=r"holds Python code .* Lambda layer.* --unsafe"):
        load_model(path)
    loaded = load_model(path, unsafe=True)
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_a_legacy_h5_model_loads(tmp_path, sequential_model, images):
    sequential_model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5")
    expected = sequential_model.predict(images[:4], verbose=0)
    np.testing.assert_allclose(loaded.predict(images[:4], verbose=0), expected, rtol=0, atol=1e-6)


def test_a_savedmodel_folder_gets_told_to_save_as_keras(tmp_path):
    (tmp_path / "saved_model").mkdir()
    with pytest.raises(InvalidInputError, match=r"a folder \(a TensorFlow SavedModel\?\).*model.save"):
        load_model(tmp_path / "saved_model")
