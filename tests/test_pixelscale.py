"""The pixel range a model takes: read from its graph on a ramp, checked on a sample, applied on the way in."""

import warnings

import keras
import numpy as np
import pytest

from layerlens.exceptions import InvalidInputError, InvalidTypeError, PixelScaleWarning
from layerlens.model import (
    PixelDecision,
    Sample,
    Stretch,
    choose_pixel_scale,
    range_kind,
    read_stretch,
    resolve_preprocess,
)
from layerlens.options import preprocess_family

UNIT, BYTES = "unit", "bytes"


def _model(*front, channels=1):
    """An untrained model whose input goes through ``front`` (layers or functions of a tensor) first."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, channels))
    x = inputs
    for step in front:
        x = step(x)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def _adapted(values):
    layer = keras.layers.Normalization()
    layer.adapt(values)
    return layer


RAMP_255 = np.linspace(0, 255, 64, dtype=np.float32).reshape(-1, 1, 1, 1) * np.ones((1, 8, 8, 1), np.float32)


@pytest.mark.parametrize(
    ("front", "channels", "preferred"),
    [
        ((), 1, None),
        ((keras.layers.Rescaling(1 / 255),), 1, BYTES),
        ((keras.layers.Rescaling(1 / 127.5, offset=-1),), 1, BYTES),
        ((keras.applications.mobilenet_v2.preprocess_input,), 3, BYTES),
        ((keras.applications.densenet.preprocess_input,), 3, BYTES),
        ((keras.applications.resnet50.preprocess_input,), 3, BYTES),
        ((lambda t: t / 255.0,), 1, BYTES),
        ((_adapted(RAMP_255),), 1, BYTES),
        ((_adapted(RAMP_255 / 255),), 1, UNIT),
        ((keras.layers.BatchNormalization(),), 1, None),
    ],
    ids=[
        "none", "rescaling-255", "rescaling-minus-one", "mobilenet-tf", "densenet-torch", "resnet-caffe",
        "ops-divide", "normalization-bytes", "normalization-unit", "fresh-batchnorm",
    ],
)  # fmt: skip
def test_the_graph_says_which_range_the_model_takes(front, channels, preferred):
    stretch = read_stretch(_model(*front, channels=channels))
    assert stretch.first_layer == "conv"
    assert stretch.preferred == preferred
    assert stretch.unchanged == (not front or isinstance(front[0], keras.layers.BatchNormalization))


def test_a_preprocess_outside_the_model_is_part_of_the_stretch():
    plain = _model(channels=3)
    transform, name = resolve_preprocess("MobileNetV2")
    assert name == "mobilenet_v2"
    stretch = read_stretch(plain, transform)
    assert stretch.preferred == BYTES and stretch.operations[0] == "preprocess"
    assert stretch.landed[BYTES] == pytest.approx((-1.0, 1.0), abs=1e-6)


def test_nested_models_are_read_to_their_first_learned_layer():
    base_in = keras.Input((8, 8, 1))
    base = keras.Model(base_in, keras.layers.Conv2D(2, 3, name="inner")(keras.layers.Rescaling(1 / 255)(base_in)))
    model = keras.Sequential([keras.Input((8, 8, 1)), base, keras.layers.Flatten(), keras.layers.Dense(2)])
    stretch = read_stretch(model)
    assert stretch.first_layer.endswith("/inner") and stretch.preferred == BYTES


@pytest.mark.parametrize(
    ("lo", "hi", "integer", "kind"),
    [(0, 1, False, UNIT), (0, 0.2, False, UNIT), (0, 255, False, BYTES), (0, 1, True, BYTES), (-1, 1, False, None),
     (0, 4095, True, None), (0, 4095, False, None)],
    ids=["unit", "dark-unit", "bytes", "uint8-zeros-and-ones", "minus-one", "uint16", "float-4095"],
)  # fmt: skip
def test_range_kinds(lo, hi, integer, kind):
    assert range_kind(lo, hi, integer=integer) == kind


def _stretch(preferred, unchanged=False):
    landed = {UNIT: (0.0, 1.0 / 255), BYTES: (0.0, 1.0)} if preferred == BYTES else {UNIT: (0.0, 1.0), BYTES: (0, 255)}
    return Stretch("conv", ("Rescaling",) if preferred else (), landed, unchanged, preferred)


@pytest.mark.parametrize(
    ("requested", "preferred", "lo", "hi", "integer", "factor"),
    [
        ("auto", BYTES, 0.0, 1.0, False, 255.0),
        ("auto", BYTES, 0.0, 0.2, False, 255.0),
        ("auto", BYTES, 0.0, 255.0, False, 1.0),
        ("auto", BYTES, 0.0, 200.0, True, 1.0),
        ("auto", UNIT, 0.0, 255.0, False, 1 / 255),
        ("auto", None, 0.0, 1.0, False, 1.0),
        ("auto", None, -1.0, 1.0, False, 1.0),
        (2.0, None, 0.0, 1.0, False, 2.0),
    ],
    ids=["unit-to-bytes", "dark-unit", "bytes", "uint8", "bytes-to-unit", "plain", "minus-one", "explicit"],
)
def test_the_factor_brings_the_images_to_the_range_the_graph_prefers(requested, preferred, lo, hi, integer, factor):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decision = choose_pixel_scale(requested, _stretch(preferred, preferred is None), lo, hi, integer=integer)
    assert decision.factor == pytest.approx(factor)
    assert decision.reason


@pytest.mark.parametrize(
    ("requested", "preferred", "lo", "hi", "integer", "match"),
    [
        (1.0, BYTES, 0.0, 1.0, False, r"expects pixel values 0..255 .* receives values in \[0, 1\]"),
        ("auto", BYTES, -1.0, 1.0, False, r"expects pixel values 0..255 .* receives values in \[-1, 1\]"),
        ("auto", None, 0.0, 255.0, False, r"pixel values reach 255, but the model passes pixel values unchanged"),
        # Integer pixels are never scaled up: uint8 images of 0s and 1s (masks) are not [0, 1] intensities.
        ("auto", BYTES, 0.0, 1.0, True, r"receives values in \[0, 1\] \(pixel_scale=1\)"),
        (255.0, UNIT, 0.0, 1.0, False, r"expects pixel values \[0, 1\] .* receives values in \[0, 255\]"),
    ],
    ids=["unit-for-bytes-model", "normalised-for-bytes-model", "bytes-for-plain-model", "uint8-zeros-and-ones",
         "bytes-for-unit-model"],
)  # fmt: skip
def test_pixel_ranges_that_disagree_with_the_model_warn(requested, preferred, lo, hi, integer, match):
    with pytest.warns(PixelScaleWarning, match=match):
        choose_pixel_scale(requested, _stretch(preferred, preferred is None), lo, hi, integer=integer)


def _at(right_at):
    """probabilities_at for 10 classes whose sample labels are 0..9 repeated: right at one factor, class 0 else."""
    labels = np.tile(np.arange(10), 30)

    def probabilities(factor):
        predicted = labels if factor == pytest.approx(right_at) else np.zeros_like(labels)
        return np.eye(10, dtype=np.float32)[predicted]

    return Sample(np.zeros((len(labels), 1)), labels), probabilities


def test_labels_overrule_a_silent_graph_with_a_warning():
    sample, probabilities = _at(255.0)
    with pytest.warns(PixelScaleWarning, match=r"chose ×255.* accuracy 1.00 at 0..255 against 0.10 at \[0, 1\]"):
        decision = choose_pixel_scale(
            "auto", _stretch(None, True), 0.0, 1.0, integer=False, sample=sample, probabilities_at=probabilities
        )
    assert decision == PixelDecision(255.0, BYTES, decision.reason)


def test_labels_confirm_the_graph_without_trying_the_other_scale():
    sample, probabilities = _at(255.0)
    tried = []

    def counting(factor):
        tried.append(factor)
        return probabilities(factor)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decision = choose_pixel_scale(
            "auto", _stretch(BYTES), 0.0, 1.0, integer=False, sample=sample, probabilities_at=counting
        )
    assert decision.factor == 255.0 and tried == [255.0]
    assert "accuracy 1.00 on 300 sampled images" in decision.reason


def test_without_labels_a_collapse_moves_a_silent_graph_only():
    labels = np.tile(np.arange(10), 30)

    def probabilities(factor):
        return np.eye(10, dtype=np.float32)[labels if factor == 255.0 else np.zeros_like(labels)]

    sample = Sample(np.zeros((300, 1)), None)
    with pytest.warns(PixelScaleWarning, match=r"predicted one class for 100% of 300 sampled images"):
        silent = choose_pixel_scale(
            "auto", _stretch(None, True), 0.0, 1.0, integer=False, sample=sample, probabilities_at=probabilities
        )
    assert silent.factor == 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        told = choose_pixel_scale(
            "auto", _stretch(UNIT), 0.0, 1.0, integer=False, sample=sample, probabilities_at=probabilities
        )
    assert told.factor == 1.0


def test_a_decided_range_is_reached_from_the_images_own():
    decision = choose_pixel_scale("auto", _stretch(None, True), 0.0, 255.0, integer=True, target=UNIT)
    assert decision.factor == pytest.approx(1 / 255) and decision.target == UNIT


@pytest.mark.parametrize(
    ("name", "family"),
    [("mobilenet_v2", "mobilenet_v2"), ("MobileNetV2", "mobilenet_v2"), ("ResNet50", "resnet50"),
     ("ResNet101", "resnet"), ("ResNet152V2", "resnet_v2"), ("EfficientNetV2B0", "efficientnet_v2"),
     ("EfficientNetB3", "efficientnet"), ("InceptionV3", "inception_v3"), ("DenseNet121", "densenet"),
     ("vgg", None), ("", None)],
    ids=lambda v: str(v),
)  # fmt: skip
def test_family_names(name, family):
    assert preprocess_family(name) == family


def test_bad_preprocess_is_named():
    with pytest.raises(InvalidInputError, match=r"preprocess: expected a keras.applications family such as"):
        resolve_preprocess("alexnet")
    with pytest.raises(InvalidTypeError, match=r"preprocess: expected a callable .* received int"):
        resolve_preprocess(3)


def test_a_silent_graph_tries_both_scales_even_when_the_first_looks_good():
    labels = np.tile(np.arange(10), 30)
    good_enough = labels.copy()
    good_enough[::3] = 0  # about 0.7 right at the images' own scale

    def probabilities(factor):
        return np.eye(10, dtype=np.float32)[labels if factor == 255.0 else good_enough]

    with pytest.warns(PixelScaleWarning, match=r"accuracy 1.00 at 0..255 against 0.7"):
        decision = choose_pixel_scale(
            "auto", _stretch(None, True), 0.0, 1.0, integer=False, sample=Sample(np.zeros((300, 1)), labels),
            probabilities_at=probabilities,
        )  # fmt: skip
    assert decision.factor == 255.0
