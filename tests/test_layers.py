"""Layer listing, the layer graph (trunk and parallel branches) and the default choice of layers."""

import keras
import numpy as np
import pytest

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.model import LayerInfo, default_layers, expects_byte_pixels, extract, list_layers, output_units
from layerlens.model._layers import spread


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
        # The two parallel convolutions are represented by the Add that joins them.
        ("branch_model", ["join", "pool", "conv", "gap"]),
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
    chosen = [int(info.name[1:]) for info in spread(candidates, 8)]
    assert len(chosen) == 8 and chosen == sorted(chosen)
    assert chosen[-1] >= 28  # the deepest part is always represented
    blocks = [c for c in chosen if c % 5 == 4]
    assert len(blocks) >= 5  # most picks snapped to the block outputs nearby
    gaps = np.diff(chosen)
    assert gaps.min() >= 2 and gaps.max() <= 6  # spread through the depth, not bunched


def residual_model(n_blocks):
    """A ResNet-like model: ``n_blocks`` blocks of two convolutions that an identity connection bypasses."""
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(2, 3, padding="same", name="stem")(inputs)
    for i in range(n_blocks):
        y = keras.layers.Conv2D(2, 3, padding="same", name=f"conv{i}a")(x)
        y = keras.layers.Conv2D(2, 3, padding="same", name=f"conv{i}b")(y)
        x = keras.layers.Add(name=f"add{i}")([x, y])
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_residual_blocks_are_read_at_their_outputs():
    infos = {info.name: info for info in list_layers(residual_model(2))}
    assert [name for name, info in infos.items() if not info.on_trunk] == ["conv0a", "conv0b", "conv1a", "conv1b"]
    assert default_layers(residual_model(2)) == ["stem", "add0", "add1"]


def test_deep_model_defaults_to_eight_block_outputs():
    names = default_layers(residual_model(12))
    assert len(names) == 8 and names[-1] == "add11"
    assert all(name.startswith("add") or name == "stem" for name in names)
    assert "head" not in names


def two_towers():
    """Two convolution towers that only meet at the classifier: the trunk holds a single layer."""
    inputs = keras.Input((8, 8, 1))
    towers = []
    for side in ("left", "right"):
        x = keras.layers.Conv2D(2, 3, name=f"{side}_conv")(inputs)
        towers.append(keras.layers.GlobalAveragePooling2D(name=f"{side}_gap")(x))
    joined = keras.layers.Concatenate(name="joined")(towers)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="head")(joined))


def test_a_thin_trunk_falls_back_to_every_layer():
    model = two_towers()
    infos = list_layers(model)  # in Keras' execution order, which interleaves the towers
    assert [info.name for info in infos if not info.on_trunk] == ["right_conv", "left_conv", "left_gap", "right_gap"]
    assert default_layers(model) == ["right_conv", "left_conv", "left_gap", "right_gap", "joined"]


@pytest.mark.parametrize(
    ("fixture", "layers", "parallel"),
    [
        ("branch_model", ["narrow", "wide", "join", "gap"], [False, True, False, False]),
        ("branch_model", ["narrow", "join"], [False, False]),
        ("nested_model", ["base/block1_conv", "base", "gap"], [False, False, False]),
    ],
    ids=["two-branches", "branch-then-merge", "nested"],
)
def test_extraction_marks_layers_that_run_beside_the_previous_one(request, fixture, layers, parallel, images):
    result = extract(request.getfixturevalue(fixture), images[:5], layers=layers, progress=False)
    assert list(result.parallel) == parallel


def test_towers_are_parallel_until_they_join():
    x = np.zeros((3, 8, 8, 1), np.float32)
    result = extract(two_towers(), x, progress=False)
    # right_conv, left_conv, left_gap, right_gap, joined
    assert list(result.parallel) == [False, True, False, True, False]


def test_unknown_layer_lists_the_choices(nested_model, images):
    with pytest.raises(
        InvalidInputError,
        match=r"layers: unknown layer name\(s\) \['block9_conv'\]; available "
        r"layers: base/block1_conv, base/block1_pool",
    ):
        extract(nested_model, images, layers=["block9_conv"], progress=False)


def test_a_nested_layer_may_be_named_by_its_own_name(nested_model, images):
    found = extract(nested_model, images[:8], layers=["block1_conv", "gap"], progress=False)
    assert [info.name for info in found.layers] == ["base/block1_conv", "gap"]
    assert found.layers[0].parts == ("base", "block1_conv")


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


def test_classifier_before_an_activation_is_not_a_default_layer(normalised_model):
    assert default_layers(normalised_model) == ["conv", "gap"]
    assert extract(normalised_model, np.zeros((2, 8, 8, 1)), progress=False).output_activation == "softmax"


def test_byte_pixel_models_are_recognised(normalised_model, sequential_model):
    assert expects_byte_pixels(normalised_model)
    assert not expects_byte_pixels(sequential_model)
