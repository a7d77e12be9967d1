"""Input adapters: single images and unbatched datasets are named as such; the pixel scale a model needs."""

import numpy as np
import pytest
import tensorflow as tf

from layerlens.exceptions import ChannelWarning, InvalidInputError, InvalidTypeError, PixelScaleWarning
from layerlens.model import extract


def test_auto_scale_reaches_the_model_and_is_reported(normalised_model):
    x = np.random.default_rng(2).random((6, 8, 8, 1), dtype=np.float32)
    result = extract(normalised_model, x, layers=["conv"], progress=False)
    assert result.pixel_scale == 255.0
    # Two computations (Keras' predict and layerlens' graph) of the same float32 model: 1e-5 is far
    # above their rounding differences (~1e-7) and far below a change of prediction.
    np.testing.assert_allclose(result.outputs, normalised_model.predict(x * 255, verbose=0), atol=1e-5)
    as_bytes = extract(normalised_model, (x * 255).astype(np.uint8), layers=["conv"], progress=False)
    assert as_bytes.pixel_scale == 1.0


def test_unit_images_forced_into_a_byte_model_warn_at_the_callers_line(normalised_model):
    x = np.random.default_rng(2).random((6, 8, 8, 1), dtype=np.float32)
    with pytest.warns(PixelScaleWarning, match=r"expects pixel values 0..255 \(the model's Rescaling") as record:
        extract(normalised_model, x, layers=["conv"], pixel_scale=1.0, progress=False)
    assert record[0].filename == __file__


def test_streams_are_judged_on_a_sample_read_ahead(normalised_model):
    x = np.random.default_rng(3).random((10, 8, 8, 1), dtype=np.float32)
    stream = [(x[:5], None), (x[5:], None)]
    assert extract(normalised_model, [b for b, _ in stream], layers=["conv"], progress=False).pixel_scale == 255.0


@pytest.mark.parametrize("kind", ["array", "dataset"], ids=["one-image", "unbatched-dataset"])
def test_single_images_get_a_hint(sequential_model, images, kind):
    if kind == "array":
        source, hint = images[0], r"received one image of shape \(16, 16, 1\): pass a batch, e.g. image\[np.newaxis\]"
    else:
        source = tf.data.Dataset.from_tensor_slices(images[:10])
        hint = r"yields single images of shape \(16, 16, 1\): call \.batch\(32\) on it first"
    with pytest.raises(InvalidInputError, match=hint):
        extract(sequential_model, source, progress=False)


def test_grayscale_batches_without_channel_axis_are_not_single_images(sequential_model, images):
    dataset = tf.data.Dataset.from_tensor_slices(images[:10, :, :, 0]).batch(4)
    assert extract(sequential_model, dataset, layers=["conv1"], progress=False).features[0].shape == (10, 8)


@pytest.fixture(scope="module")
def colour_model():
    """An untrained RGB classifier on 16x16 images (only what reaches it matters)."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )


def test_grayscale_images_for_a_colour_model_are_repeated_with_a_warning(colour_model, images):
    gray = images[:6]
    with pytest.warns(ChannelWarning, match=r"images: received grayscale images to a colour model .* repeated"):
        found = extract(colour_model, gray, layers=["conv"], progress=False)
    expected = extract(colour_model, np.repeat(gray, 3, axis=-1), layers=["conv"], progress=False)
    np.testing.assert_allclose(found.outputs, expected.outputs, rtol=0, atol=1e-6)
    with pytest.warns(ChannelWarning):  # (N, H, W) as well
        assert extract(colour_model, gray[..., 0], layers=["conv"], progress=False).outputs.shape == (6, 3)


def test_colour_images_for_a_grayscale_model_become_their_luminance(sequential_model, images):
    colour = np.random.default_rng(0).random((6, 16, 16, 3), dtype=np.float32)
    with pytest.warns(ChannelWarning, match=r"colour images to a grayscale model .* luminance") as caught:
        found = extract(sequential_model, colour, layers=["conv1"], batch_size=2, progress=False)
    assert len(caught) == 1  # once, not per batch
    luminance = (colour @ np.array([0.2125, 0.7154, 0.0721], np.float32))[..., np.newaxis]
    expected = extract(sequential_model, luminance, layers=["conv1"], batch_size=2, progress=False)
    np.testing.assert_allclose(found.outputs, expected.outputs, rtol=0, atol=1e-6)


def test_a_dict_of_arrays_is_refused_by_type(sequential_model, images):
    with pytest.raises(InvalidTypeError, match=r"images: expected a numpy array .* received a dict \(pass its array"):
        extract(sequential_model, {"x": images[:4]}, progress=False)
