"""layerlens.datasets.probes: other images brought to a model's shape, and structured noise."""

from __future__ import annotations

import numpy as np
import pytest

from layerlens.datasets import match_shape, structured_noise
from layerlens.exceptions import InvalidInputError


@pytest.fixture
def gray():
    return np.random.default_rng(0).uniform(0.2, 0.6, (20, 28, 28, 1)).astype(np.float32)


def test_match_shape_resizes_and_converts_channels(gray):
    colour = np.random.default_rng(1).random((3, 50, 40, 3)).astype(np.float32)
    as_gray = match_shape(colour, gray)
    assert as_gray.shape == (3, 28, 28, 1) and as_gray.dtype == np.float32
    assert 0.0 <= as_gray.min() and as_gray.max() <= 1.0
    flat = np.full((2, 50, 40, 3), [0.2, 0.4, 0.9], np.float32)
    np.testing.assert_allclose(match_shape(flat, gray), 0.5, atol=1e-6)  # gray is the channel mean
    as_colour = match_shape(gray[:2, :, :, 0], np.zeros((1, 56, 56, 3)))
    assert as_colour.shape == (2, 56, 56, 3)
    np.testing.assert_array_equal(as_colour[..., 0], as_colour[..., 2])  # gray repeated
    np.testing.assert_array_equal(match_shape(gray, gray), gray)  # already the shape: unchanged
    assert match_shape(gray, gray * 255).shape == gray.shape  # only the shape of like is read


def test_structured_noise_has_the_shape_and_intensities_of_its_model_images(gray):
    noise = structured_noise(50, gray, seed=3)
    assert noise.shape == (50, 28, 28, 1) and noise.dtype == np.float32
    assert 0.0 <= noise.min() and noise.max() <= 1.0
    assert abs(noise.mean() - gray.mean()) < 0.05
    np.testing.assert_array_equal(structured_noise(50, gray, seed=3), noise)
    assert not np.array_equal(structured_noise(50, gray, seed=4), noise)
    # Smooth: neighbouring pixels far more alike than in white noise of the same spread.
    steps = np.abs(np.diff(noise[..., 0], axis=2)).mean()
    white = np.abs(np.diff(np.random.default_rng(0).permutation(noise.ravel()).reshape(noise.shape)[..., 0], axis=2))
    assert steps < 0.5 * white.mean()
    assert structured_noise(2, np.zeros((1, 32, 32, 3)) + 0.5).shape == (2, 32, 32, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: match_shape(g[0, :, :, 0], g), r"images: expected numeric images \(N, H, W, C\)"),
        (lambda g: match_shape(np.zeros((1, 8, 8, 2)), np.zeros((1, 8, 8, 3))), r"like: expected images of 1 channel"),
        (lambda g: structured_noise(0, g), r"n: expected"),
        (lambda g: structured_noise(3, g[:0]), r"like: expected numeric images .* at least one"),
        (lambda g: structured_noise(3, np.array(["a"] * 4).reshape(1, 2, 2)), r"like: expected numeric images"),
        (lambda g: match_shape(g * 255, g), r"images: expected pixel values in \[0, 1\] \(divide 0..255"),
        (lambda g: structured_noise(3, g * 255), r"like: expected pixel values in \[0, 1\]"),
    ],
)
def test_bad_arguments_are_named(gray, call, message):
    with pytest.raises(InvalidInputError, match=message):
        call(gray)
