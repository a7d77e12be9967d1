"""Explanations: LIME, Grad-CAM, integrated gradients and SmoothGrad on tiny models, their overlays and figures."""

import dataclasses
import json
import warnings

import numpy as np
import plotly.graph_objects as go
import pytest
from _compare import FLOAT_TOLERANCE

import layerlens as ll
from layerlens.exceptions import InvalidInputError, InvalidTypeError, PixelScaleWarning
from layerlens.explanations import METHODS, Explanation

# Small settings where the behaviour tested does not need the defaults: the whole file stays fast.
FAST = {
    "lime": {"num_samples": 100},
    "gradcam": {},
    "integrated_gradients": {"steps": 8},
    "smoothgrad": {"samples": 8},
}
# Gradient maps of the same model computed twice, or in another batch, agree up to float32 rounding
# (see tests/_compare.py). They are sums of many more terms than a probability and O(0.01 .. 1): ten
# times the shared tolerance still lies far below any difference a reader could see in a heat map.
HEAT_TOLERANCE = 10 * FLOAT_TOLERANCE

MODELS = ["sequential_model", "branch_model", "nested_model", "faces_model", "logits_model"]


@pytest.fixture
def model_and_images(request, digits):
    """One of the session's tiny models (``request.param``) and three of its test images."""
    model = request.getfixturevalue(request.param)
    if request.param == "faces_model":  # a TrainedModel: one sigmoid unit, 25x25 faces
        return model.model, model.data.test.images[:3]
    return model, digits[1].images[:3]


def _predicted(model, images):
    """The classes the model predicts, a single sigmoid unit read as two classes."""
    output = model.predict(images, verbose=0)
    return (output[:, 0] > 0.5).astype(int) if output.shape[1] == 1 else output.argmax(axis=1)


@pytest.fixture(scope="module")
def dense_model():
    """No convolution at all: Flatten, Dense. Untrained (only its structure matters)."""
    import keras

    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, activation="softmax", name="output", kernel_initializer=keras.initializers.Zeros()),
        ]
    )


# --------------------------------------------------------------------------------------------- every method


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model_and_images", MODELS, indirect=True)
def test_every_method_on_every_kind_of_model(model_and_images, method):
    model, images = model_and_images
    explanations = ll.explain(model, images, method=method, **FAST[method])
    assert isinstance(explanations, list) and len(explanations) == len(images)
    predicted = _predicted(model, images)
    for e, image, target in zip(explanations, images, predicted):
        assert isinstance(e, Explanation)
        assert e.method == method
        assert e.target == target  # the predicted class by default
        assert e.heatmap.shape == image.shape[:2]
        assert e.heatmap.dtype == np.float32
        assert np.isfinite(e.heatmap).all()
        assert np.isfinite(e.seconds) and e.seconds >= 0
        assert e.image_index is None
        if method == "gradcam":
            assert e.layer is not None and (e.heatmap >= 0).all()  # Grad-CAM keeps the positive part
        else:
            assert e.layer is None
        if method == "lime":
            assert e.segments.shape == image.shape[:2] and np.issubdtype(e.segments.dtype, np.integer)
            # Segment ids 0..S-1, every one used, one weight per segment; the heat map paints them.
            n_segments = len(e.segment_weights)
            np.testing.assert_array_equal(np.unique(e.segments), np.arange(n_segments))
            np.testing.assert_array_equal(e.heatmap, e.segment_weights[e.segments])
        else:
            assert e.segments is None and e.segment_weights is None
    if method != "gradcam":  # Grad-CAM may legitimately give an all-zero map; the others should not
        assert any(np.abs(e.heatmap).max() > 0 for e in explanations)


@pytest.mark.parametrize("method", METHODS)
def test_explicit_targets(sequential_model, images, method):
    x = images[:3]
    chosen = ll.explain(sequential_model, x, method=method, targets=[0, 5, 9], **FAST[method])
    assert [e.target for e in chosen] == [0, 5, 9]
    same = ll.explain(sequential_model, x, method=method, targets=np.int64(7), **FAST[method])
    assert [e.target for e in same] == [7, 7, 7]
    # Another class gives another explanation of the same image.
    other = ll.explain(sequential_model, x[:1], method=method, targets=[1], **FAST[method])[0]
    if method == "gradcam" and (not same[0].heatmap.any() or not other.heatmap.any()):
        pytest.skip("Grad-CAM cut one of the maps to zero: nothing to compare")
    assert not np.allclose(other.heatmap, same[0].heatmap)


def test_branch_model_gradcam_reads_the_trunk(branch_model, images):
    """The last convolution is 'conv', after the branches join; the branch convolutions are not on the trunk."""
    assert ll.explain(branch_model, images[:2], method="gradcam")[0].layer == "conv"


def _class_scores(model, images):
    """The scores the gradient methods take apart: the output layer's pre-activation, (N, K).

    Computed independently of layerlens, from the penultimate layer and the output layer's weights; one
    sigmoid unit ``z`` scores class 1 as ``z`` and class 0 as ``-z``.
    """
    import keras

    features = keras.Model(model.inputs, model.layers[-2].output).predict(images, verbose=0)
    kernel, bias = model.layers[-1].get_weights()
    z = features @ kernel + bias
    return np.concatenate([-z, z], axis=1) if z.shape[1] == 1 else z


@pytest.mark.parametrize("model_and_images", MODELS, indirect=True)
def test_integrated_gradients_add_up_to_the_score_difference(model_and_images):
    """Completeness: the attributions sum to the class score of the image minus that of the black baseline.

    The score is the logit before the softmax or sigmoid (a logits head's output itself): this checks that
    the gradients are taken of that score, for the right class, with respect to the right pixels. The
    midpoint rule on a piecewise-linear ReLU network is not exact, and its error depends on the trained
    weights, which differ between thread counts: with 32 steps one model of the suite was off by 5.1% on
    one machine, so 256 steps here (a few tenths of a percent), allowed 5% plus a little.
    """
    model, x = model_and_images
    explanations = ll.explain(model, x, method="integrated_gradients", steps=256)
    scores = _class_scores(model, x)
    baseline = _class_scores(model, np.zeros_like(x[:1]))[0]
    for e, row in zip(explanations, scores):
        expected = row[e.target] - baseline[e.target]
        assert float(e.heatmap.sum()) == pytest.approx(expected, rel=0.05, abs=0.05)


def test_dense_then_activation_head(normalised_model):
    """Rescaling, BatchNormalization and a Dense 'logits' layer followed by a separate softmax Activation.

    The score is the Activation's input, the 'logits' layer's output: integrated gradients add up to its
    difference from the black image (a linear path through a single convolution: nearly exact).
    """
    import keras

    x = np.random.default_rng(1).random((4, 8, 8, 1)).astype(np.float32) * 255  # the model expects 0..255
    logits = keras.Model(normalised_model.inputs, normalised_model.get_layer("logits").output)
    scores = logits.predict(x, verbose=0)
    baseline = logits.predict(np.zeros_like(x[:1]), verbose=0)[0]
    for e, row in zip(ll.explain(normalised_model, x, method="integrated_gradients"), scores):
        assert float(e.heatmap.sum()) == pytest.approx(row[e.target] - baseline[e.target], rel=0.05, abs=1e-3)
    # Grad-CAM reads the last convolution's maps after their normalisation.
    assert ll.explain(normalised_model, x, method="gradcam")[0].layer == "bn"


@pytest.mark.parametrize("channels", [3, 2], ids=["rgb", "two-channels"])
def test_colour_and_other_channel_counts(channels):
    """Every method on images of 3 and of 2 channels (an untrained model: only the shapes matter)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((16, 16, channels)),
            keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=0)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        ]
    )
    x = np.random.default_rng(0).random((2, 16, 16, channels), dtype=np.float32)
    for method in METHODS:
        for e in ll.explain(model, x, method=method, **FAST[method]):
            assert e.heatmap.shape == (16, 16) and np.isfinite(e.heatmap).all()
            if method == "lime":
                np.testing.assert_array_equal(e.heatmap, e.segment_weights[e.segments])


def test_lime_segments_a_gray_image_in_rgb_as_gray():
    from layerlens.explanations.lime import segment

    gray = np.random.default_rng(0).random((16, 16, 1))
    segments = segment(gray, 20)
    np.testing.assert_array_equal(segment(np.repeat(gray, 3, axis=-1), 20), segments)
    np.testing.assert_array_equal(np.unique(segments), np.arange(segments.max() + 1))
    assert segments.dtype == np.int32 and segments.shape == (16, 16)


# --------------------------------------------------------------------------------------------- pixel scale


def test_pixel_scale_is_applied_on_the_way_into_the_model(byte_model, images):
    """byte_model expects 0..255: [0, 1] images are multiplied by 255 ('auto') on their way into the model.

    Explaining them, or the same images given in 0..255, is explaining the same function: LIME (same
    probabilities), Grad-CAM (same maps) and integrated gradients (invariant to a scale of the input) agree;
    SmoothGrad's gradient is per unit of the pixels as given, so 255 times larger for [0, 1] images.
    """
    unit, scaled = images[:2], images[:2] * 255.0
    for method in METHODS:
        a = ll.explain(byte_model, unit, method=method, **FAST[method])
        b = ll.explain(byte_model, scaled, method=method, **FAST[method])
        c = ll.explain(byte_model, unit, method=method, pixel_scale=255, **FAST[method])
        for p, q, r in zip(a, b, c):
            assert p.target == q.target == r.target
            np.testing.assert_allclose(p.heatmap, r.heatmap, atol=HEAT_TOLERANCE)
            factor = 255.0 if method == "smoothgrad" else 1.0
            np.testing.assert_allclose(p.heatmap, factor * q.heatmap, atol=HEAT_TOLERANCE, rtol=1e-4)


def test_integer_images_are_read_as_bytes_as_analyze_does(byte_model, images):
    """uint8 images are bytes whatever their range: 'auto' never multiplies them, as in analyze.

    Masks of 0 and 1 for a model that expects 0..255 are suspicious: analyze says so with a
    PixelScaleWarning and leaves them alone; explain must resolve the scale the same way.
    """
    masks = (images[:4] > 0.5).astype(np.uint8)
    with pytest.warns(PixelScaleWarning, match="expects pixel values 0..255"):
        ll.analyze(byte_model, masks, layers=["dense"], progress=False)
    with pytest.warns(PixelScaleWarning, match="expects pixel values 0..255"):
        got = ll.explain(byte_model, masks, method="integrated_gradients", steps=4)
    with pytest.warns(PixelScaleWarning):
        reference = ll.explain(byte_model, masks, method="integrated_gradients", steps=4, pixel_scale=1)
    for a, b in zip(got, reference):
        np.testing.assert_allclose(a.heatmap, b.heatmap, atol=HEAT_TOLERANCE)


# --------------------------------------------------------------------------------------------- one sigmoid unit


@pytest.fixture(scope="module")
def faces(faces_model):
    return faces_model.model, faces_model.data.test.images[:4]


@pytest.mark.parametrize("method", ["lime", "integrated_gradients", "smoothgrad"])
def test_sigmoid_unit_class_zero_is_the_negative_of_class_one(faces, method):
    """For one sigmoid unit, class 0's score is the negated logit (gradient methods) and 1 - p (LIME).

    Gradients of -z are exactly the negated gradients of z along the same path (integrated gradients) or
    with the same seeded noise (SmoothGrad). LIME's linear model is linear in the labels: on the same
    seeded samples, the weights for 1 - p are the negated weights for p.
    """
    model, x = faces
    zero = ll.explain(model, x, method=method, targets=0, **FAST[method])
    one = ll.explain(model, x, method=method, targets=1, **FAST[method])
    assert [e.target for e in zero] == [0] * len(x) and [e.target for e in one] == [1] * len(x)
    for a, b in zip(zero, one):
        scale = float(np.abs(b.heatmap).max())
        assert scale > 0
        np.testing.assert_allclose(a.heatmap, -b.heatmap, atol=1e-5 * scale)


def test_sigmoid_unit_gradcam_splits_the_map_between_the_classes(faces):
    """Grad-CAM of -z weights every channel by the negated mean gradient: the map before the cut is negated.

    So on a layer at the image's resolution (no resizing: conv1 has 'same' padding), class 0 keeps exactly
    where class 1's map was cut off and the other way round: the two maps never overlap.
    """
    model, x = faces
    zero = ll.explain(model, x, method="gradcam", targets=0, layer="conv1")
    one = ll.explain(model, x, method="gradcam", targets=1, layer="conv1")
    assert all(e.layer == "conv1" for e in zero + one)
    for a, b in zip(zero, one):
        assert (a.heatmap >= 0).all() and (b.heatmap >= 0).all()
        np.testing.assert_array_equal(a.heatmap * b.heatmap, 0.0)
        assert (a.heatmap + b.heatmap).max() > 0  # not two empty maps
    # The automatic layer (after pooling) is resized to the image; the maps stay non-negative there too.
    found = ll.explain(model, x, method="gradcam", targets=0)
    assert {e.layer for e in found} == {"conv2"}
    assert all((e.heatmap >= 0).all() and e.heatmap.shape == (25, 25) for e in found)


def test_sigmoid_unit_has_two_classes_and_no_third(faces):
    model, x = faces
    with pytest.raises(InvalidInputError, match=r"^targets: expected class indices in 0\.\.1"):
        ll.explain(model, x, method="integrated_gradients", targets=2, steps=4)


# --------------------------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_heatmaps(sequential_model, images, method):
    x = images[:3]
    first = ll.explain(sequential_model, x, method=method, seed=3, **FAST[method])
    again = ll.explain(sequential_model, x, method=method, seed=3, **FAST[method])
    for a, b in zip(first, again):
        if method == "lime":  # seeded sampling and the same model calls: bit for bit
            np.testing.assert_array_equal(a.heatmap, b.heatmap)
            np.testing.assert_array_equal(a.segments, b.segments)
        else:
            np.testing.assert_allclose(a.heatmap, b.heatmap, atol=HEAT_TOLERANCE)


@pytest.mark.parametrize("method", ["lime", "smoothgrad"])
def test_another_seed_changes_the_random_methods(sequential_model, images, method):
    x = images[:3]
    a = ll.explain(sequential_model, x, method=method, seed=0, **FAST[method])
    b = ll.explain(sequential_model, x, method=method, seed=1, **FAST[method])
    assert any(not np.allclose(p.heatmap, q.heatmap, atol=HEAT_TOLERANCE) for p, q in zip(a, b))


@pytest.mark.parametrize("method", ["gradcam", "integrated_gradients"])
def test_seed_does_not_matter_to_the_deterministic_methods(sequential_model, images, method):
    a = ll.explain(sequential_model, images[:3], method=method, seed=0, **FAST[method])
    b = ll.explain(sequential_model, images[:3], method=method, seed=1, **FAST[method])
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.heatmap, q.heatmap, atol=HEAT_TOLERANCE)


# --------------------------------------------------------------------------------------------- the quadrant task

SIZE, HALF, PATCH = 24, 12, 6


def _quadrant_images(n, seed):
    """Gray noise (0.4..0.6); label 1 images carry a 6x6 black-and-white checkerboard in the top-left quadrant.

    The checkerboard's mean (0.5) is the background's: hiding it by its mean colour, as LIME does,
    removes the evidence. Nothing else tells the classes apart.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.4, 0.6, (n, SIZE, SIZE, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    board = (np.indices((PATCH, PATCH)).sum(axis=0) % 2).astype(np.float32)
    for i in np.nonzero(y == 1)[0]:
        top, left = rng.integers(0, HALF - PATCH + 1, 2)
        x[i, top : top + PATCH, left : left + PATCH, 0] = board
    return x, y


@pytest.fixture(scope="module")
def quadrant_task():
    """A tiny seeded conv net (global pooling, as Grad-CAM expects) trained on 1000 images: about 2 s."""
    import keras

    def init(seed):
        return keras.initializers.GlorotUniform(seed=seed)

    inputs = keras.Input((SIZE, SIZE, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init(0), name="conv1")(inputs)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init(1), name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(2, activation="softmax", kernel_initializer=init(2), name="output")(h)
    model = keras.Model(inputs, outputs, name="quadrants")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = _quadrant_images(1000, 0)
    model.fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0)
    test_x, test_y = _quadrant_images(200, 1)
    predicted = model.predict(test_x, verbose=0).argmax(axis=1)
    return model, test_x, test_y, predicted


def _quadrant_masses(heatmap):
    """Positive attribution in the top-left, top-right, bottom-left and bottom-right quadrants."""
    positive = np.maximum(heatmap, 0.0)
    return np.array(
        [
            positive[:HALF, :HALF].sum(),
            positive[:HALF, HALF:].sum(),
            positive[HALF:, :HALF].sum(),
            positive[HALF:, HALF:].sum(),
        ]
    )


@pytest.mark.parametrize("method", METHODS)
def test_explanations_point_at_the_deciding_quadrant(quadrant_task, method):
    """The checkerboard decides the class; every method must put the positive attribution where it is.

    A constant map puts 0.25 of its mass in each quadrant (and no quadrant strictly first), a random map
    about 0.25 and the top-left first for a quarter of the images. Seen on six training seeds: mean share
    0.42 .. 0.97 depending on the method, top-left first for every image. The gradient methods spread
    some positive mass over the gray background, hence the modest 0.35. Defaults for the gradient methods
    (they are cheap here), 300 samples for LIME.
    """
    model, x, y, predicted = quadrant_task
    assert np.mean(predicted == y) >= 0.95, "the quadrant task did not train: the test below would mean nothing"
    chosen = np.nonzero((y == 1) & (predicted == 1))[0][:12]
    assert len(chosen) == 12
    options = {"num_samples": 300} if method == "lime" else {}
    explanations = ll.explain(model, x[chosen], method=method, **options)
    assert all(e.target == 1 for e in explanations)
    masses = np.array([_quadrant_masses(e.heatmap) for e in explanations])
    assert (masses.sum(axis=1) > 0).all()
    share = masses[:, 0] / masses.sum(axis=1)
    first = masses[:, 0] > masses[:, 1:].max(axis=1)
    assert share.mean() > 0.35, share
    assert first.mean() >= 0.9, masses


def test_quadrant_metric_rejects_maps_that_ignore_the_image():
    """The two criteria above fail for a constant map and for a random one."""
    rng = np.random.default_rng(0)
    for heatmap in (np.ones((SIZE, SIZE)), rng.standard_normal((SIZE, SIZE))):
        masses = _quadrant_masses(heatmap)
        assert masses[0] / masses.sum() < 0.35 or not masses[0] > masses[1:].max()


# --------------------------------------------------------------------------------------------- single images


@pytest.mark.parametrize("method", METHODS)
def test_single_image_gives_one_explanation(sequential_model, images, method):
    single = ll.explain(sequential_model, images[0], method=method, **FAST[method])
    batch = ll.explain(sequential_model, images[:4], method=method, **FAST[method])
    assert isinstance(single, Explanation)
    assert isinstance(batch, list) and len(batch) == 4 and all(isinstance(e, Explanation) for e in batch)
    # The first image alone and in a batch: the same explanation, up to the rounding of another batch size.
    assert single.target == batch[0].target
    np.testing.assert_allclose(single.heatmap, batch[0].heatmap, atol=HEAT_TOLERANCE)


@pytest.mark.parametrize("method", METHODS)
def test_explanation_does_not_depend_on_the_other_images(sequential_model, images, method):
    """LIME and SmoothGrad seed each image's draws with ``seed`` alone; Grad-CAM and integrated gradients draw nothing.

    SmoothGrad's noise also scales with the image's own range, not the batch's.
    """
    batch = ll.explain(sequential_model, images[:4], method=method, **FAST[method])
    for k in (1, 3):
        alone = ll.explain(sequential_model, images[k], method=method, **FAST[method])
        np.testing.assert_allclose(alone.heatmap, batch[k].heatmap, atol=HEAT_TOLERANCE)


def test_explain_stays_the_function_after_importing_a_method_module(sequential_model, images):
    import layerlens.explanations
    import layerlens.explanations.lime  # noqa: F401  (binds the submodule to its package, nothing else)

    assert ll.explain is layerlens.explanations.explain and ll.Explanation is Explanation
    single = ll.explain(sequential_model, images[0], method="gradcam")
    assert isinstance(single, Explanation) and single.method == "gradcam"


# --------------------------------------------------------------------------------------------- Grad-CAM layers


def test_gradcam_finds_the_layer_inside_a_nested_model(nested_model, images):
    base = nested_model.get_layer("base")
    e = ll.explain(nested_model, images[:2], method="gradcam")[0]
    assert e.layer == "base/block2_conv"  # the base model's last convolution, named by its path
    assert e.layer.split("/")[-1] in {layer.name for layer in base.layers}


def test_gradcam_takes_an_explicit_layer(nested_model, sequential_model, images):
    inner = ll.explain(nested_model, images[:2], method="gradcam", layer="base/block1_conv")
    assert {e.layer for e in inner} == {"base/block1_conv"}
    assert all(e.heatmap.shape == (16, 16) for e in inner)
    first = ll.explain(sequential_model, images[:2], method="gradcam", layer="conv1")
    last = ll.explain(sequential_model, images[:2], method="gradcam", layer="conv2")
    assert {e.layer for e in first} == {"conv1"}
    assert any(not np.allclose(a.heatmap, b.heatmap) for a, b in zip(first, last))


@pytest.mark.parametrize("layer", ["dense", "flatten", "output", "no_such_layer"])
def test_gradcam_refuses_a_layer_without_a_spatial_map(sequential_model, images, layer):
    with pytest.raises(InvalidInputError, match=r"^layer: expected a layer with a spatial output.*'conv2'"):
        ll.explain(sequential_model, images[:2], method="gradcam", layer=layer)


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "shap"}, r"^method: expected one of \('lime', 'gradcam'"),
        ({"method": None}, r"^method: expected one of"),
        ({"targets": 10}, r"^targets: expected class indices in 0\.\.9; received range 10\.\.10"),
        ({"targets": -1}, r"^targets: expected class indices in 0\.\.9; received range -1\.\.-1"),
        ({"targets": [1, 2]}, r"^targets: expected a class index, or one per image \(3\)"),
        ({"targets": 1.0}, r"^targets: expected a class index"),
        (
            {"method": "lime", "steps": 8},
            r"^options: lime takes \['n_segments', 'num_samples'\]; received unknown \['steps'\]",
        ),
        ({"method": "gradcam", "samples": 8}, r"^options: gradcam takes \['layer'\]; received unknown \['samples'\]"),
        ({"method": "integrated_gradients", "layer": "conv2"}, r"^options: integrated_gradients takes \['steps'\]"),
        ({"method": "lime", "num_samples": 5}, r"^num_samples: expected an integer >= 10; received 5"),
        ({"method": "lime", "num_samples": 100.0}, r"^num_samples: expected an integer >= 10"),
        ({"method": "lime", "n_segments": 1}, r"^n_segments: expected an integer >= 2"),
        ({"method": "smoothgrad", "noise": 1.5}, r"^noise: expected a share of the pixel range in \[0, 1\]"),
        ({"method": "smoothgrad", "noise": -0.1}, r"^noise: expected a share of the pixel range in \[0, 1\]"),
        ({"method": "smoothgrad", "noise": float("nan")}, r"^noise: expected a share"),
        ({"method": "smoothgrad", "samples": 0}, r"^samples: expected an integer >= 1"),
        ({"method": "integrated_gradients", "steps": 0}, r"^steps: expected an integer >= 1"),
        ({"seed": -1}, r"^seed: expected an integer"),
    ],
)
def test_bad_arguments(sequential_model, images, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        ll.explain(sequential_model, images[:3], **kwargs)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((3, 8, 8, 1)), np.zeros((3, 16, 16, 2)), np.zeros((16,)), np.zeros((0, 16, 16, 1))],
    ids=["too-small", "two-channels", "1-d", "empty"],
)
def test_images_of_the_wrong_shape(sequential_model, bad):
    with pytest.raises(InvalidInputError, match=r"^images: expected"):
        ll.explain(sequential_model, bad.astype(np.float32), method="integrated_gradients", steps=4)


def test_gradcam_needs_a_convolution(dense_model, images):
    with pytest.raises(InvalidInputError, match=r"^model: Grad-CAM needs a convolution layer") as caught:
        ll.explain(dense_model, images[:2], method="gradcam")
    for alternative in ("integrated_gradients", "smoothgrad", "lime"):
        assert alternative in str(caught.value)
    # The other methods explain the same model.
    assert ll.explain(dense_model, images[:2], method="integrated_gradients", steps=4)[0].heatmap.shape == (16, 16)


# --------------------------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("method", ["lime", "gradcam"])
def test_to_dict_from_dict_round_trip(sequential_model, images, method):
    made = ll.explain(sequential_model, images[0], method=method, **FAST[method])
    made = dataclasses.replace(made, image_index=7)
    text = json.dumps(made.to_dict(), allow_nan=False)  # strict JSON: no NaN or Infinity tokens
    back = Explanation.from_dict(json.loads(text), heatmap=made.heatmap, segments=made.segments)
    for field in ("method", "target", "seconds", "layer", "image_index"):
        assert getattr(back, field) == getattr(made, field), field
    if method == "lime":
        assert back.segment_weights.dtype == np.float32
        np.testing.assert_array_equal(back.segment_weights, made.segment_weights)
        np.testing.assert_array_equal(back.heatmap, back.segment_weights[back.segments])
    else:
        assert back.segment_weights is None and back.layer == "conv2"


def test_to_dict_survives_a_missing_time():
    e = Explanation(method="smoothgrad", target=1, heatmap=np.zeros((2, 2), np.float32), seconds=float("nan"))
    back = Explanation.from_dict(json.loads(json.dumps(e.to_dict(), allow_nan=False)), heatmap=e.heatmap)
    assert np.isnan(back.seconds) and back.target == 1 and back.segments is None


# --------------------------------------------------------------------------------------------- overlays


def test_overlay_colours():
    from layerlens.figures._overlay import overlay

    image = np.full((4, 4, 1), 100, np.uint8)
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0], heatmap[0, 1] = 1.0, -1.0
    drawn = overlay(image, heatmap)
    assert drawn.shape == (4, 4, 3) and drawn.dtype == np.uint8
    red, blue = drawn[0, 0].astype(int), drawn[0, 1].astype(int)
    assert red[0] > 100 and red[0] > red[1] + 50 and red[0] > red[2] + 50
    assert blue[2] > 100 and blue[2] > blue[0] + 50 and blue[2] > blue[1] + 50
    untouched = np.ones((4, 4), bool)
    untouched[0, :2] = False
    np.testing.assert_array_equal(drawn[untouched], 100)  # gray, exactly as it was
    # A colour image keeps its colours where the map is zero.
    colour = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(overlay(colour, heatmap)[untouched], colour[untouched])


def test_heat_limit_ignores_one_outlier():
    from layerlens.figures._overlay import heat_limit, overlay

    heatmap = np.random.default_rng(0).uniform(0.5, 1.0, (16, 16)).astype(np.float32)
    heatmap[3, 4] = 1000.0  # one extreme pixel, as gradient maps have
    assert heat_limit(heatmap) <= 1.0
    # So the rest of the map is still clearly coloured (the limit at the maximum would leave it gray).
    drawn = overlay(np.full((16, 16), 128, np.uint8), heatmap).astype(int)
    others = np.ones((16, 16), bool)
    others[3, 4] = False
    assert (drawn[others][:, 0] - drawn[others][:, 2] > 40).all()
    # Fallbacks: a mostly-zero map saturates at its maximum; an all-zero map does not divide by zero.
    sparse = np.zeros((16, 16))
    sparse[0, 0] = -0.25
    assert heat_limit(sparse) == 0.25
    assert heat_limit(np.zeros((4, 4))) == 1.0


# --------------------------------------------------------------------------------------------- choosing images

# Eight images of three classes; 6 and 7 are mistakes (7 the most confident of all).
PREDICTIONS = np.array([0, 0, 1, 1, 2, 2, 0, 1])
LABELS = np.array([0, 0, 1, 1, 2, 2, 1, 0])
CONFIDENCE = np.array([0.9, 0.5, 0.8, 0.6, 0.95, 0.4, 0.7, 0.99])


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        # Mistakes, most confident first (7, 6); the least confident correct (5); one typical image per class
        # (4 for class 2, 0 for class 0, 2 for class 1), which may take half of the count.
        (6, [7, 6, 5, 4, 0, 2]),
        (4, [7, 6, 4, 0]),
        (1, [7]),
        (3, [7, 6, 4]),
    ],
)
def test_choose_images_with_labels(count, expected):
    from layerlens.explanations._choice import choose_images

    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, LABELS, count), expected)


def test_choose_images_without_labels():
    """Without labels: the least confident images, then the most confident of every predicted class."""
    from layerlens.explanations._choice import choose_images

    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, None, 4), [5, 1, 7, 4])


def test_choose_images_takes_the_most_doubtful_correct_images():
    from layerlens.explanations._choice import choose_images

    # Image 3 is correct and fairly confident (0.6), but unfamiliar: it goes before image 5, the least confident.
    doubt = np.array([0.0, 0.1, 0.05, 0.9, 0.0, 0.3, 0.5, 0.4])
    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, LABELS, 6), [7, 6, 5, 4, 0, 2])
    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, LABELS, 6, doubt), [7, 6, 3, 4, 0, 2])
    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, None, 4, doubt), [3, 6, 7, 4])


def test_choose_images_count_larger_than_the_images():
    from layerlens.explanations._choice import choose_images

    for labels in (LABELS, None):
        chosen = choose_images(PREDICTIONS, CONFIDENCE, labels, 100)
        assert chosen.dtype == np.int64
        assert sorted(chosen.tolist()) == list(range(8))  # every image, once
    np.testing.assert_array_equal(choose_images(PREDICTIONS, CONFIDENCE, LABELS, 100), [7, 6, 5, 1, 3, 4, 0, 2])
    assert len(choose_images(PREDICTIONS, CONFIDENCE, LABELS, 0)) == 0


# --------------------------------------------------------------------------------------------- figures


@pytest.fixture(scope="module")
def displayed(sequential_model, digits):
    """One digit as shown (uint8) and its LIME and Grad-CAM explanations."""
    from layerlens.explanations._choice import to_display

    x = digits[1].images[:1]
    lime = ll.explain(sequential_model, x[0], method="lime", num_samples=200)
    gradcam = ll.explain(sequential_model, x[0], method="gradcam")
    return to_display(x, (0.0, 1.0))[0], lime, gradcam


def _traces(figure, kind):
    return [t for t in figure.data if isinstance(t, kind)]


def test_explanation_figure_for_lime(displayed):
    from layerlens.figures import explanation_figure
    from layerlens.figures.explanations import top_segments

    image, lime, _ = displayed
    figure = explanation_figure(image, lime, n_segments=5)
    assert len(_traces(figure, go.Image)) == 2 and len(_traces(figure, go.Heatmap)) == 1
    (bar,) = _traces(figure, go.Bar)
    top = top_segments(lime, 5)
    assert 1 <= len(top) <= 5 and len(bar.y) == len(top)
    np.testing.assert_allclose(bar.x, lime.segment_weights[top])
    weights = np.abs(np.asarray(bar.x))
    assert (np.diff(weights) <= 0).all()  # heaviest first
    assert weights[0] == pytest.approx(np.abs(lime.segment_weights).max())
    assert "LIME" in figure.layout.title.text
    # Hover values keep four significant digits of the map's scale.
    np.testing.assert_allclose(_traces(figure, go.Heatmap)[0].z, lime.heatmap, atol=1e-3 * np.abs(lime.heatmap).max())


def test_explanation_figure_for_gradcam(displayed):
    from layerlens.figures.explanations import explanation_figure

    image, _, gradcam = displayed
    figure = explanation_figure(image, gradcam)
    assert not _traces(figure, go.Bar)
    assert len(_traces(figure, go.Image)) == 2 and len(_traces(figure, go.Heatmap)) == 1
    assert "Grad-CAM" in figure.layout.title.text
    # A 2-D gray image (H, W) is drawn as well.
    assert len(_traces(explanation_figure(image[..., 0], gradcam), go.Image)) == 2


def test_explanation_figure_escapes_class_names_and_titles(displayed):
    from layerlens.figures import explanation_figure

    image, lime, _ = displayed
    names = [f"digit {k}" for k in range(10)]
    names[lime.target] = "<b>x</b>"
    figure = explanation_figure(image, lime, class_names=names)
    title = figure.layout.title.text
    assert "&lt;b&gt;x&lt;/b&gt;" in title and "<b>" not in title
    subtitles = [a.text for a in figure.layout.annotations]
    assert any("&lt;b&gt;x&lt;/b&gt;" in text for text in subtitles)
    assert not any("<b>" in text for text in subtitles)
    titled = explanation_figure(image, lime, title="<i>mine</i>")
    assert titled.layout.title.text == "&lt;i&gt;mine&lt;/i&gt;"


def test_explanation_figure_refuses_a_heatmap_of_another_shape(displayed):
    from layerlens.figures import explanation_figure

    image, _, gradcam = displayed
    wrong = dataclasses.replace(gradcam, heatmap=np.zeros((8, 8), np.float32))
    with pytest.raises(InvalidInputError, match=r"^explanation: its heat map has shape \(8, 8\)"):
        explanation_figure(image, wrong)
    with pytest.raises(InvalidInputError, match=r"^image: expected a uint8 image"):
        explanation_figure(image.astype(np.float32), gradcam)


def test_lime_sees_a_uniform_patch():
    """A uniformly bright patch is one superpixel; hiding it by its own mean (lime's default) would change nothing.

    The model scores class 1 by the mean brightness of the top-left quadrant, so the patch decides.
    """
    import keras

    size, half = 24, 12
    image = np.full((size, size, 1), 0.3, np.float32)
    image[3:9, 3:9] = 1.0
    weights = np.zeros((size * size, 2), np.float32)
    weights[:, 1] = np.pad(np.ones((half, half)), ((0, half), (0, half))).ravel() * 0.5
    model = keras.Sequential([keras.Input((size, size, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.layers[-1].set_weights([weights, np.array([0.0, -20.0], np.float32)])
    explanation = ll.explain(model, image, method="lime", num_samples=300)
    assert explanation.target == 1
    inside = np.zeros((size, size), bool)
    inside[3:9, 3:9] = True
    segments = explanation.segments
    whole = [s for s in np.unique(segments[inside]) if inside[segments == s].all()]
    assert whole, "no superpixel lies wholly inside the patch: the test would check nothing"
    weights = explanation.segment_weights
    assert weights[whole].min() > 0.1 * weights.max(), (weights[whole], weights.max())


def test_lime_builds_large_images_without_the_product_table(sequential_model, images, monkeypatch):
    """Images too large for the superpixels-by-pixels table are put together by lookup: the same explanation."""
    from layerlens.explanations import _model

    by_product = ll.explain(sequential_model, images[:2], method="lime", num_samples=200)
    monkeypatch.setattr(_model, "_PRODUCT_BYTES", 0)
    by_lookup = ll.explain(sequential_model, images[:2], method="lime", num_samples=200)
    for a, b in zip(by_product, by_lookup):
        np.testing.assert_array_equal(a.segments, b.segments)
        np.testing.assert_allclose(a.heatmap, b.heatmap, atol=HEAT_TOLERANCE)


def test_gradcam_reads_the_maps_after_normalisation_and_activation():
    """A Keras-applications-like tail: conv, batch norm, ReLU, then pooling. Grad-CAM reads the ReLU's maps."""
    import keras

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv_b")(x)
    x = keras.layers.BatchNormalization(name="conv_b_bn")(x)
    x = keras.layers.ReLU(name="out_relu")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    image = np.random.default_rng(0).random((16, 16, 1), np.float32)
    assert ll.explain(model, image, method="gradcam").layer == "out_relu"


def test_a_shared_convolution_is_read_at_its_last_call():
    """A layer called twice is recorded as "name" and "name#2"; Grad-CAM reads the second call's maps."""
    import keras

    inputs = keras.Input((12, 12, 1))
    shared = keras.layers.Conv2D(1, 3, padding="same", name="shared")
    x = shared(shared(inputs))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    image = np.random.default_rng(0).random((12, 12, 1), np.float32)
    assert ll.explain(model, image, method="gradcam").layer == "shared#2"
    first = ll.explain(model, image, method="gradcam", layer="shared")
    second = ll.explain(model, image, method="gradcam", layer="shared#2")
    assert first.heatmap.shape == second.heatmap.shape == (12, 12)


def test_one_grayscale_image_without_a_channel_axis(sequential_model, images):
    """(H, W) for a model of (H, W, 1) can only be one image."""
    one = ll.explain(sequential_model, images[0, ..., 0], method="gradcam")
    assert isinstance(one, Explanation) and one.heatmap.shape == (16, 16)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (None, InvalidTypeError),
        ("images.png", InvalidTypeError),
        ([np.zeros((16, 16, 1)), np.zeros((8, 8, 1))], InvalidInputError),
    ],
    ids=["none", "string", "ragged"],
)
def test_images_that_are_not_an_array(sequential_model, bad, error):
    with pytest.raises(error, match=r"^images: expected"):
        ll.explain(sequential_model, bad, method="gradcam")


def test_an_image_set_is_explained_by_its_images(sequential_model, digits):
    test = digits[1].subset(range(3))
    explanations = ll.explain(sequential_model, test, method="gradcam")
    assert len(explanations) == 3


def test_tiny_heat_maps_keep_their_detail_in_the_figure():
    """The hover values are rounded to the map's scale, not to a fixed number of decimals."""
    from layerlens.figures import explanation_figure

    heat = np.linspace(-7e-7, 7e-7, 64, dtype=np.float32).reshape(8, 8)
    explanation = Explanation(method="smoothgrad", target=0, heatmap=heat, seconds=0.0)
    figure = explanation_figure(np.zeros((8, 8, 1), np.uint8), explanation)
    z = np.asarray(_traces(figure, go.Heatmap)[0].z)
    assert len(np.unique(z)) == 64


def test_a_subclassed_model_inside_is_scored_at_its_output():
    """A subclassed model used as a layer is not entered: its output is the model's, read as log-probabilities."""
    import keras

    class Head(keras.Model):
        def __init__(self):
            super().__init__(name="head")
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return keras.activations.softmax(self.dense(x))

    inputs = keras.Input((16, 16, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs))
    model = keras.Model(inputs, Head()(features))
    x = np.random.default_rng(0).random((20, 16, 16, 1), np.float32)
    with warnings.catch_warnings():  # an untrained model may answer one class: not what this test is about
        warnings.simplefilter("ignore", ll.exceptions.UnreliableAnalysisWarning)
        analysis = ll.analyze(
            model, x, progress=False, n_clusters=2, explain=2, explain_methods=["integrated_gradients"]
        )
    assert len(analysis.explanations) == 2
    # Completeness against the log-probability of the explained class.
    explanation = ll.explain(model, x[0], method="integrated_gradients", steps=256)
    log_p = np.log(model.predict(np.stack([x[0], np.zeros_like(x[0])]), verbose=0)[:, explanation.target])
    assert float(explanation.heatmap.sum()) == pytest.approx(log_p[0] - log_p[1], rel=0.05, abs=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_the_model_is_unchanged(sequential_model, images, method):
    """The output layer's softmax is switched off for a moment to read the logits, and always switched back."""
    output = sequential_model.layers[-1]
    activation = output.activation
    weights = [w.copy() for w in sequential_model.get_weights()]
    before = sequential_model.predict(images[:4], verbose=0)
    ll.explain(sequential_model, images[:2], method=method, **FAST[method])
    with pytest.raises(InvalidInputError):
        ll.explain(sequential_model, images[:2], method=method, targets=[0, 99])
    assert output.activation is activation
    for a, b in zip(weights, sequential_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sequential_model.predict(images[:4], verbose=0), before)


def test_the_output_activation_is_restored_after_a_failure(sequential_model, images, monkeypatch):
    import keras

    def broken(x):
        raise RuntimeError("failed while reading the logits")

    output = sequential_model.layers[-1]
    activation = output.activation
    monkeypatch.setattr(keras.activations, "linear", broken)
    with pytest.raises(RuntimeError, match="failed while reading the logits"):
        ll.explain(sequential_model, images[:2], method="integrated_gradients", steps=2)
    assert output.activation is activation


def test_a_budget_stops_the_explanations_within_it_and_says_how_many(sequential_model, digits):
    test = digits[1]
    budget = 3.0
    result = ll.analyze(
        sequential_model, test, explain="auto", explain_budget=budget, explain_methods=["lime"], progress=False
    )
    settings = result.settings
    per_image = {}
    for explanation in result.explanations:
        per_image[explanation.image_index] = per_image.get(explanation.image_index, 0.0) + explanation.seconds
    spent = sum(per_image.values())
    # The phase stops before an image that would not fit: it ends within the budget plus about one image.
    assert spent <= budget + max(per_image.values()) + 0.5
    assert settings.explain == len(result.explained_images) == len(per_image) > 0
    chosen = int((result.predictions != result.labels).sum()) + 10 + 10  # mistakes, doubtful, one per class
    if settings.explain < chosen:
        assert f"allowed {settings.explain} of the" in settings.explain_note
        assert "3-second budget" in settings.explain_note


def test_mistakes_are_all_explained(sequential_model, digits):
    test = digits[1]
    result = ll.analyze(sequential_model, test, explain="mistakes", progress=False)
    wrong = set(np.flatnonzero(result.predictions != result.labels).tolist())
    assert set(result.explained_images) == wrong and result.settings.explain == len(wrong)
    assert f"explained {len(wrong)} of the {len(wrong)} misclassified images" in result.settings.explain_note


def test_the_candidates_kept_during_the_pass_are_the_most_telling():
    from layerlens.explanations._candidates import Candidates

    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    first = np.array([0.9, 0.8, 0.6, 0.3, 0.55, 0.99, 0.2, 0.4])
    outputs = np.stack([first, 1 - first], axis=1)
    kept = Candidates(2, "softmax", labels=labels)
    images = np.arange(8, dtype=np.float32).reshape(8, 1, 1, 1)
    kept.add(0, images[:5], outputs[:5], None)
    kept.add(5, images[5:], outputs[5:], None)
    # Mistakes: 1 (0.8), 5 (0.99), 6 (0.8): the two most confident kept, the earlier one on a tie.
    assert sorted(kept.mistakes.images) == [1, 5]
    # Unsure correct: 2 (0.6) and 4 (0.55) are the least confident correct ones.
    assert sorted(kept.unsure.images) == [2, 4]
    assert set(kept.images()) >= {0, 1, 2, 4, 5}
