"""Explanations of volumes (Conv3D classifiers of CT, MRI or PET): every method in 3-D, its pictures and its storage."""

from dataclasses import replace

import numpy as np
import pytest

import layerlens as ll
from layerlens.exceptions import InvalidInputError
from layerlens.explanations import METHODS, Explanation

SIZE, HALF, BLOB = 16, 8, 3
FAST = {"lime": {"num_samples": 100}, "gradcam": {}, "integrated_gradients": {"steps": 4}, "smoothgrad": {"samples": 4}}
# Share of the positive attribution a heat map must put in the evidence octant, image by image (and on
# average over the images). A map that ignores the volume puts 1/8 there (a constant map exactly, a random
# one within about 0.01 at 16^3); seen on five training seeds, every method put 0.59 .. 1.0 there, 0.77 .. 0.98
# on average. 0.4 per volume is more than three times a blind map's share; 0.6 on average, almost five times.
SHARE_EACH, SHARE_MEAN = 0.4, 0.6


def _octant_mask(octant):
    """The voxels of octant ``octant`` (0..7, bits depth, row, column: 0 holds the origin voxel)."""
    mask = np.zeros((SIZE, SIZE, SIZE), bool)
    z, r, c = ((octant >> bit) & 1 for bit in (2, 1, 0))
    mask[z * HALF : (z + 1) * HALF, r * HALF : (r + 1) * HALF, c * HALF : (c + 1) * HALF] = True
    return mask


def _octant_volumes(n, seed):
    """Dim noisy volumes; class 1 holds a bright 3^3 blob at a random place inside one of the octants 1..7.

    The octant varies from volume to volume and is never 0, the one that holds voxel (0, 0, 0), where the
    maximum of a constant map lies; the blob keeps one voxel off the octant's faces. Class 0 has no blob:
    the blob is the only evidence. Returns the volumes, the labels and each volume's evidence octant (-1
    for class 0).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.2, (n, SIZE, SIZE, SIZE, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    octants = rng.integers(1, 8, n)
    for i in np.flatnonzero(y == 1):
        corner = np.array([(octants[i] >> bit) & 1 for bit in (2, 1, 0)]) * HALF + rng.integers(1, HALF - BLOB, 3)
        z, r, c = corner
        x[i, z : z + BLOB, r : r + BLOB, c : c + BLOB, 0] = rng.uniform(0.85, 1.0)
    return x, y, np.where(y == 1, octants, -1)


def _localisation(heatmaps, octants):
    """For each map: whether its maximum lies in the evidence octant, and its share of positive attribution there."""
    inside, shares = [], []
    for heat, octant in zip(heatmaps, octants):
        mask = _octant_mask(octant)
        inside.append(bool(mask.ravel()[np.argmax(heat)]))
        positive = np.maximum(heat, 0.0)
        total = float(positive.sum())
        shares.append(float(positive[mask].sum()) / total if total > 0 else 0.0)
    return np.array(inside), np.array(shares)


def _localises(heatmaps, octants):
    """The acceptance criterion: every maximum in its evidence octant, and enough positive mass there."""
    inside, shares = _localisation(heatmaps, octants)
    return bool(inside.all() and shares.min() >= SHARE_EACH and shares.mean() >= SHARE_MEAN)


def _init(seed):
    import keras

    return keras.initializers.GlorotUniform(seed=seed)


@pytest.fixture(scope="module")
def octant_task():
    """A tiny Conv3D (global max pooling: does the blob exist anywhere) trained on 600 volumes: a few seconds."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, SIZE, 1)),
            keras.layers.Conv3D(8, 3, padding="same", activation="relu", kernel_initializer=_init(0), name="conv1"),
            keras.layers.MaxPooling3D(2, name="pool"),
            keras.layers.Conv3D(8, 3, padding="same", activation="relu", kernel_initializer=_init(1), name="conv2"),
            keras.layers.GlobalMaxPooling3D(name="gmp"),
            keras.layers.Dense(2, activation="softmax", kernel_initializer=_init(2), name="output"),
        ],
        name="octants",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y, _ = _octant_volumes(600, 0)
    model.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    test_x, test_y, octants = _octant_volumes(60, 1)
    predicted = model.predict(test_x, verbose=0).argmax(axis=1)
    return model, test_x, test_y, octants, predicted


@pytest.fixture(scope="module")
def evidence(octant_task):
    """Eight correctly classified class-1 volumes, their evidence octants (at least three different ones)."""
    model, x, y, octants, predicted = octant_task
    assert np.mean(predicted == y) >= 0.95, "the octant task did not train: the tests below would mean nothing"
    chosen = np.flatnonzero((y == 1) & (predicted == 1))[:8]
    assert len(chosen) == 8 and len(set(octants[chosen].tolist())) >= 3 and 0 not in octants[chosen]
    return model, x[chosen], octants[chosen]


# --------------------------------------------------------------------------------------------- localisation


@pytest.mark.parametrize("method", METHODS)
def test_every_method_points_at_the_evidence_octant(evidence, method):
    """The maximum of every heat map lies in the octant that holds the blob, with most of the positive mass.

    Defaults for every method (LIME: 1,000 samples over about 125 supervoxels).
    """
    model, x, octants = evidence
    explanations = ll.explain(model, x, method=method)
    assert all(e.target == 1 and e.heatmap.shape == (SIZE, SIZE, SIZE) for e in explanations)
    heatmaps = np.stack([e.heatmap for e in explanations])
    inside, shares = _localisation(heatmaps, octants)
    assert inside.all(), (inside, octants)
    assert shares.min() >= SHARE_EACH and shares.mean() >= SHARE_MEAN, shares
    assert _localises(heatmaps, octants)


def test_the_octant_check_fails_for_maps_that_ignore_the_volume(evidence):
    """A constant map (maximum at the origin, 1/8 of the mass in each octant) and random maps fail the check."""
    _, x, octants = evidence
    constant = np.ones((len(x), SIZE, SIZE, SIZE), np.float32)
    assert not _localises(constant, octants)
    inside, shares = _localisation(constant, octants)
    assert not inside.any() and np.allclose(shares, 1 / 8)
    for seed in range(5):
        noise = np.random.default_rng(seed).standard_normal((len(x), SIZE, SIZE, SIZE)).astype(np.float32)
        assert not _localises(noise, octants)
        assert _localisation(noise, octants)[1].max() < 0.2
    # The volume itself, as a "heat map" (its blob positive), does localise: the check can pass.
    assert _localises(x[..., 0] - 0.5, octants)  # bright blob positive, dim background negative


# --------------------------------------------------------------------------------------------- Grad-CAM's layer


def test_gradcam_reads_the_last_3d_maps_of_a_residual_model():
    """The last block output (a residual Add of 5-D maps), followed through its activation; pooling stops a walk."""
    import keras

    inputs = keras.Input((8, 8, 8, 1))
    a = keras.layers.Conv3D(4, 3, padding="same", activation="relu", kernel_initializer=_init(0), name="conv_a")(inputs)
    b = keras.layers.Conv3D(4, 3, padding="same", kernel_initializer=_init(1), name="conv_b")(a)
    h = keras.layers.Add(name="add")([a, b])
    h = keras.layers.Activation("relu", name="add_relu")(h)
    h = keras.layers.MaxPooling3D(2, name="pool")(h)
    h = keras.layers.GlobalAveragePooling3D(name="gap")(h)
    outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer=_init(2), name="output")(h)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((2, 8, 8, 8, 1)).astype(np.float32)
    explanations = ll.explain(model, x, method="gradcam")
    assert [e.layer for e in explanations] == ["add_relu", "add_relu"]
    assert all(e.heatmap.shape == (8, 8, 8) and (e.heatmap >= 0).all() for e in explanations)
    assert ll.explain(model, x[0], method="gradcam", layer="conv_a").layer == "conv_a"


def test_gradcam_finds_the_3d_layer_inside_a_nested_model():
    import keras

    base_in = keras.Input((10, 12, 8, 1), name="base_input")
    h = keras.layers.Conv3D(4, 3, activation="relu", kernel_initializer=_init(0), name="block1_conv")(base_in)
    h = keras.layers.MaxPooling3D(2, name="block1_pool")(h)
    h = keras.layers.Conv3D(4, 2, activation="relu", kernel_initializer=_init(1), name="block2_conv")(h)
    base = keras.Model(base_in, h, name="base")
    model = keras.Sequential(
        [
            keras.Input((10, 12, 8, 1)),
            base,
            keras.layers.GlobalAveragePooling3D(name="gap"),
            keras.layers.Dense(2, activation="softmax", kernel_initializer=_init(2), name="output"),
        ]
    )
    x = np.random.default_rng(1).random((2, 10, 12, 8, 1)).astype(np.float32)
    e = ll.explain(model, x, method="gradcam")[0]
    assert e.layer == "base/block2_conv" and e.heatmap.shape == (10, 12, 8)


def test_gradcam_resizes_trilinearly():
    """Bilinear within each plane, linear along the depth, pixel centres aligned as for images."""
    import tensorflow as tf

    from layerlens.explanations.gradcam import _trilinear

    depth_ramp = np.broadcast_to(np.array([0.0, 1.0], np.float32)[:, None, None], (2, 3, 3))[np.newaxis]
    resized = _trilinear(np.ascontiguousarray(depth_ramp), (4, 6, 6))
    np.testing.assert_allclose(resized[0, :, 2, 3], [0.0, 0.25, 0.75, 1.0])
    planes = np.random.default_rng(0).random((1, 1, 3, 3)).astype(np.float32)
    flat = _trilinear(np.repeat(planes, 2, axis=1), (5, 6, 7))
    expected = tf.image.resize(planes[0, 0][np.newaxis, ..., np.newaxis], (6, 7), method="bilinear").numpy()[0, ..., 0]
    for plane in flat[0]:
        np.testing.assert_allclose(plane, expected, rtol=1e-6)
    assert not np.array_equal(flat[0, 0], np.repeat(np.repeat(planes[0, 0], 2, 0), 2, 1)[:6, :7])  # not nearest


# --------------------------------------------------------------------------------------------- shapes and heads


@pytest.fixture(scope="module")
def two_channel_model():
    """Untrained, volumes 6x10x8 with two channels (two MRI sequences): only the shapes matter."""
    import keras

    return keras.Sequential(
        [
            keras.Input((6, 10, 8, 2)),
            keras.layers.Conv3D(4, 3, padding="same", activation="relu", kernel_initializer=_init(0), name="conv"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(3, activation="softmax", kernel_initializer=_init(1)),
        ]
    )


@pytest.mark.parametrize("method", METHODS)
def test_heat_maps_have_the_volume_shape(two_channel_model, method):
    x = np.random.default_rng(0).random((2, 6, 10, 8, 2)).astype(np.float32)
    explanations = ll.explain(two_channel_model, x, method=method, **FAST[method])
    for e in explanations:
        assert e.heatmap.shape == (6, 10, 8) and e.heatmap.dtype == np.float32 and np.isfinite(e.heatmap).all()
        if method == "lime":
            assert e.segments.shape == (6, 10, 8)
            np.testing.assert_array_equal(np.unique(e.segments), np.arange(len(e.segment_weights)))
            np.testing.assert_array_equal(e.heatmap, e.segment_weights[e.segments])
    single = ll.explain(two_channel_model, x[0], method=method, **FAST[method])
    assert isinstance(single, Explanation) and single.heatmap.shape == (6, 10, 8)
    assert "heat map 6x10x8" in repr(single)
    assert single._repr_png_().startswith(b"\x89PNG")


def test_one_grayscale_volume_without_a_channel_axis(octant_task):
    model, x = octant_task[:2]
    one = ll.explain(model, x[0, ..., 0], method="integrated_gradients", steps=4)
    batch = ll.explain(model, x[:1], method="integrated_gradients", steps=4)
    np.testing.assert_array_equal(one.heatmap, batch[0].heatmap)


@pytest.mark.parametrize("method", ["integrated_gradients", "smoothgrad", "lime"])
def test_sigmoid_unit_class_zero_is_the_negative_of_class_one(method):
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 8, 1)),
            keras.layers.Conv3D(4, 3, activation="relu", kernel_initializer=_init(0)),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(1, activation="sigmoid", kernel_initializer=_init(1)),
        ]
    )
    x = np.random.default_rng(2).random((2, 8, 8, 8, 1)).astype(np.float32)
    zero = ll.explain(model, x, method=method, targets=0, **FAST[method])
    one = ll.explain(model, x, method=method, targets=1, **FAST[method])
    for a, b in zip(zero, one):
        scale = float(np.abs(b.heatmap).max())
        assert scale > 0 and a.heatmap.shape == (8, 8, 8)
        np.testing.assert_allclose(a.heatmap, -b.heatmap, atol=1e-5 * scale)
    assert all(e.heatmap.shape == (8, 8, 8) for e in ll.explain(model, x, method="gradcam"))


# --------------------------------------------------------------------------------------------- bad inputs


def test_images_that_do_not_fit_the_model(octant_task, sequential_model):
    model = octant_task[0]
    with pytest.raises(InvalidInputError, match=r"^images: expected images of shape \(N, 16, 16, 1\)"):
        ll.explain(sequential_model, np.zeros((2, 16, 16, 16, 1), np.float32), method="gradcam")
    for bad in (np.zeros((3, 16, 16, 1)), np.zeros((2, 8, 16, 16, 1)), np.zeros((2, 16, 16, 16, 2))):
        with pytest.raises(InvalidInputError, match=r"^images: expected volumes of shape \(N, 16, 16, 16, 1\) or"):
            ll.explain(model, bad, method="integrated_gradients")
    with pytest.raises(InvalidInputError, match=r"layer: expected a layer with a spatial output \(depth, height"):
        ll.explain(model, np.zeros((1, 16, 16, 16, 1)), method="gradcam", layer="gmp")


def test_gradcam_needs_a_3d_convolution():
    import keras

    dense = keras.Sequential([keras.Input((4, 4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(InvalidInputError, match=r"spatial output \(depth, height, width, channels\)"):
        ll.explain(dense, np.zeros((1, 4, 4, 4, 1)), method="gradcam")


# --------------------------------------------------------------------------------------------- memory bounds


def _reference_mean_gradients(scorer, copies, targets, repeats):
    """The unbounded way: every copy at once, one input_gradients call, then the mean."""
    grads = scorer.input_gradients(copies, np.repeat(targets, repeats))
    return grads.reshape(len(targets), repeats, *copies.shape[1:]).mean(axis=1)


@pytest.mark.parametrize("volumes", [False, True], ids=["images", "volumes"])
def test_copies_in_bounded_chunks_give_the_same_bits(octant_task, sequential_model, digits, monkeypatch, volumes):
    """Chunks of copies that split an image's copies (three at a time, five per image) change nothing."""
    from layerlens.explanations import Scorer, _model

    model, x = (octant_task[0], octant_task[1][:3]) if volumes else (sequential_model, digits[1].images[:3])
    scorer = Scorer(model, x)
    scorer.gradient_rows = 3
    targets = np.array([1, 0, 1])
    alphas = ((np.arange(5) + 0.5) / 5).astype(np.float32)
    copies = np.stack([alpha * image for image in x for alpha in alphas])
    expected = _reference_mean_gradients(scorer, copies, targets, 5)
    monkeypatch.setattr(_model, "_COPIES_BYTES", 1)  # one batch of gradient_rows at a time
    np.testing.assert_array_equal(scorer.mean_input_gradients(iter(copies), targets, 5), expected)
    monkeypatch.undo()
    np.testing.assert_array_equal(scorer.mean_input_gradients(iter(copies), targets, 5), expected)


def test_lime_puts_its_samples_together_in_chunks_bounded_by_bytes(octant_task, monkeypatch):
    """A chunk holds at most _COMPOSITE_BYTES of volumes: two 16^3 volumes here; the weights do not change."""
    from layerlens.explanations import Scorer, _model
    from layerlens.explanations.lime import explain_lime

    model, x = octant_task[:2]
    targets = np.array([1])
    whole = explain_lime(Scorer(model, x[:1]), x[:1], targets, 0, num_samples=60, n_segments=30)[0]
    monkeypatch.setattr(_model, "_COMPOSITE_BYTES", 2 * x[0].nbytes)
    scorer = Scorer(model, x[:1])
    rows = []
    trace = scorer._trace_composite

    def counting(shape, by_product):
        composite = trace(shape, by_product)
        return lambda *args: (rows.append(int(args[-1].shape[0])), composite(*args))[1]

    monkeypatch.setattr(scorer, "_trace_composite", counting)
    chunked = explain_lime(scorer, x[:1], targets, 0, num_samples=60, n_segments=30)[0]
    assert max(rows) == 2 and sum(rows) == 60
    np.testing.assert_allclose(chunked.segment_weights, whole.segment_weights, atol=1e-5)


# --------------------------------------------------------------------------------------------- pictures, storage


def test_through_maximum_slices_where_the_map_is_largest():
    from layerlens.figures._overlay import through_maximum

    volume = np.arange(4 * 5 * 6 * 1, dtype=np.uint8).reshape(4, 5, 6, 1)
    heat = np.zeros((4, 5, 6), np.float32)
    heat[2, 3, 1] = 5.0
    heat[0, 0, 0] = np.nan
    image, plane, index = through_maximum(volume, heat)
    assert index == 2 and image.shape == (5, 6, 1) and plane.shape == (5, 6)
    np.testing.assert_array_equal(image, volume[2])
    assert plane[3, 1] == 5.0
    assert through_maximum(volume[..., 0], heat, axis=2)[2] == 1
    assert through_maximum(volume, heat, axis=1)[0].shape == (4, 6, 1)


def test_a_volume_explanation_is_drawn_by_its_slice_through_the_maximum(evidence):
    from layerlens.explanations import to_display
    from layerlens.figures import explanation_figure
    from layerlens.figures.explanations import outlined_segments, top_segments

    model, x, _ = evidence
    shown = to_display(x[:1], (0.0, 1.0))[0]
    lime = ll.explain(model, x[0], method="lime", num_samples=200)
    index = int(np.unravel_index(np.argmax(lime.heatmap), lime.heatmap.shape)[0])
    figure = explanation_figure(shown, lime, class_names=["none", "blob"])
    assert f"axial slice {index}" in figure.layout.title.text
    assert any(f"axial slice {index} of 0–15" in a.text for a in figure.layout.annotations)
    picture = outlined_segments(shown, lime.segments, lime.segment_weights, top_segments(lime), 8)
    assert picture.shape == (SIZE * 8, SIZE * 8, 3)
    np.testing.assert_array_equal(
        picture, outlined_segments(shown[index], lime.segments[index], lime.segment_weights, top_segments(lime), 8)
    )
    gradcam = ll.explain(model, x[0], method="gradcam")
    assert "axial slice" in explanation_figure(shown, gradcam).layout.title.text
    with pytest.raises(InvalidInputError, match="expected the volume's"):
        explanation_figure(shown[:8], gradcam)


def test_volume_explanations_round_trip_through_the_run_store(evidence):
    """Heat maps (D, H, W) and supervoxels survive to_dict/from_dict and the run's arrays; pictures are slices."""
    import io

    from PIL import Image

    from layerlens.explanations import to_display
    from layerlens.run._explanations_io import (
        explanation_arrays,
        explanation_entries,
        explanation_pictures,
        read_explanations,
    )

    model, x, _ = evidence
    made = [
        replace(ll.explain(model, x[index % len(x)], method=method, **FAST[method]), image_index=index)
        for index, method in ((4, "lime"), (4, "gradcam"), (9, "integrated_gradients"))
    ]
    images = {4: to_display(x[4:5], (0.0, 1.0))[0], 9: to_display(x[1:2], (0.0, 1.0))[0]}
    arrays = explanation_arrays(made, images)
    assert arrays["explanation_heatmaps"].shape == (3, SIZE, SIZE, SIZE)
    assert arrays["explanation_segments"].shape == (1, SIZE, SIZE, SIZE)
    manifest = {"explanations": explanation_entries(made), "explained_images": list(images)}
    back, back_images = read_explanations(manifest, arrays)
    for before, after in zip(made, back):
        assert after.heatmap.shape == (SIZE, SIZE, SIZE) and after.method == before.method
        np.testing.assert_allclose(after.heatmap, before.heatmap, atol=2e-3 * np.abs(before.heatmap).max())
    np.testing.assert_array_equal(back[0].segments, made[0].segments)
    np.testing.assert_array_equal(back_images[9], images[9])
    restored = Explanation.from_dict(made[0].to_dict(), heatmap=made[0].heatmap, segments=made[0].segments)
    assert restored.segments.shape == (SIZE, SIZE, SIZE) and restored.target == made[0].target
    pictures = explanation_pictures(back, back_images)
    assert sorted(pictures) == ["00004.png", "00004_gradcam.png", "00004_lime.png", "00009.png",
                                "00009_integrated_gradients.png"]  # fmt: skip
    for data in pictures.values():
        assert Image.open(io.BytesIO(data)).size == (128, 128)  # one 16x16 slice, enlarged 8 times
    wrong = dict(arrays, explanation_heatmaps=arrays["explanation_heatmaps"][:, :8])
    with pytest.raises(ll.exceptions.RunFormatError):
        read_explanations(manifest, wrong)


# --------------------------------------------------------------------------------------------- within a budget


def test_the_first_volume_stops_between_methods_once_the_budget_is_spent(octant_task):
    from layerlens.explanations import explain_images

    model, x = octant_task[:2]
    made = explain_images(
        model,
        x[:4],
        np.arange(4),
        targets=np.ones(4, np.int64),
        methods=["integrated_gradients", "lime"],
        head="softmax",
        pixel_scale=1.0,
        seed=0,
        progress=False,
        budget=1e-6,
    )
    assert made.n_explained == 1 and made.methods == ("integrated_gradients",)
    assert [e.method for e in made.explanations] == ["integrated_gradients"]


def test_analyze_explains_volumes_within_its_budget(octant_task, tmp_path):
    model, x, y = octant_task[:3]
    budget = 2.0
    result = ll.analyze(
        model, x[:40], y[:40], explain="auto", explain_budget=budget, explain_methods=["gradcam", "smoothgrad"],
        progress=False,
    )  # fmt: skip
    assert result.explanations and all(e.heatmap.shape == (SIZE, SIZE, SIZE) for e in result.explanations)
    per_image = {}
    for e in result.explanations:
        per_image[e.image_index] = per_image.get(e.image_index, 0.0) + e.seconds
    assert sum(per_image.values()) <= budget + max(per_image.values()) + 0.5
    assert all(image.shape == (SIZE, SIZE, SIZE, 1) for image in result.explained_images.values())
    loaded = ll.load(result.save(tmp_path / "run"))
    assert [e.heatmap.shape for e in loaded.explanations] == [e.heatmap.shape for e in result.explanations]
