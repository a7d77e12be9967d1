import numpy as np
import pytest
from scipy import ndimage

from layerlens.datasets import phantoms
from layerlens.datasets.phantoms import CLASS_NAMES, main, make_phantoms, render_phantoms, save_preview
from layerlens.datasets.phantoms._render import BRAIN_R, GLIOMA, MENINGIOMA, NO_TUMOR, PITUITARY, _render_one
from layerlens.exceptions import InvalidInputError

TUMOURS = [GLIOMA, MENINGIOMA, PITUITARY]
SEEDS = range(6)


@pytest.fixture(scope="module")
def phantom_set():
    return render_phantoms(40, size=64, seed=3)


def render_pair(label, seed, size=64):
    """The same phantom with and without its lesion."""
    with_lesion = _render_one(label, size, np.random.default_rng(seed))
    without = _render_one(label, size, np.random.default_rng(seed), with_lesion=False)
    return with_lesion, without


def test_images_labels_and_masks_have_documented_types(phantom_set):
    assert phantom_set.images.shape == (40, 64, 64, 1)
    assert phantom_set.images.dtype == np.float32
    assert 0.0 <= phantom_set.images.min() and phantom_set.images.max() <= 1.0
    assert phantom_set.labels.dtype == np.int64
    assert phantom_set.masks.shape == (40, 64, 64) and phantom_set.masks.dtype == bool
    assert phantom_set.class_names == CLASS_NAMES == ("glioma", "meningioma", "no_tumor", "pituitary")
    assert phantom_set.name == "phantoms"


@pytest.mark.parametrize("n", [8, 13, 40, 101], ids=["n8", "n13", "n40", "n101"])
def test_classes_are_balanced(n):
    counts = np.bincount(render_phantoms(n, size=32, seed=1).labels, minlength=4)
    assert counts.sum() == n and counts.max() - counts.min() <= 1


def test_labels_are_shuffled(phantom_set):
    assert not np.array_equal(phantom_set.labels, np.sort(phantom_set.labels))
    assert not np.array_equal(phantom_set.labels, np.arange(40) % 4)


def test_same_seed_gives_identical_arrays(phantom_set):
    again = render_phantoms(40, size=64, seed=3)
    np.testing.assert_array_equal(again.images, phantom_set.images)
    np.testing.assert_array_equal(again.labels, phantom_set.labels)
    np.testing.assert_array_equal(again.masks, phantom_set.masks)


def test_different_seed_gives_different_images(phantom_set):
    other = render_phantoms(40, size=64, seed=4)
    assert not np.array_equal(other.images, phantom_set.images)


def test_global_random_state_is_untouched():
    before = np.random.get_state()[1].copy()
    render_phantoms(8, size=32, seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_make_phantoms_is_the_seeded_split_of_render_phantoms():
    train, test = make_phantoms(40, size=32, seed=2)
    expected_train, expected_test = render_phantoms(40, size=32, seed=2).split(0.25, seed=2)
    assert (len(train), len(test)) == (30, 10)
    assert train.class_names == CLASS_NAMES
    np.testing.assert_array_equal(train.images, expected_train.images)
    np.testing.assert_array_equal(test.masks, expected_test.masks)
    assert set(test.labels.tolist()) == {0, 1, 2, 3}


def test_masks_are_empty_exactly_for_no_tumor(phantom_set):
    lesion_pixels = phantom_set.masks.sum(axis=(1, 2))
    assert np.all(lesion_pixels[phantom_set.labels == NO_TUMOR] == 0)
    assert np.all(lesion_pixels[phantom_set.labels != NO_TUMOR] >= 4)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_no_tumor_ignores_with_lesion(seed):
    a, b = render_pair(NO_TUMOR, seed)
    np.testing.assert_array_equal(a.image, b.image)
    assert not a.mask.any()


@pytest.mark.parametrize("label", TUMOURS, ids=[CLASS_NAMES[k] for k in TUMOURS])
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_lesion_change_is_concentrated_in_the_mask(label, seed):
    lesion, plain = render_pair(label, seed)
    diff = np.abs(lesion.image - plain.image)
    mask = lesion.mask
    assert mask.any() and not plain.mask.any()
    # The glioma's edema halo changes pixels outside the mask, but far less than the lesion itself.
    assert diff[mask].mean() > 5 * diff[~mask].mean()
    # Edges are anti-aliased over one pixel, so strong changes may reach one pixel past the mask.
    strong = diff > 0.5 * diff.max()
    assert np.all(ndimage.binary_dilation(mask)[strong])


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_glioma_lies_inside_one_hemisphere(seed):
    p = _render_one(GLIOMA, 64, np.random.default_rng(seed))
    u = p.frame.u[p.mask]
    assert np.all(u > 0.02) or np.all(u < -0.02)
    assert p.frame.r[p.mask].max() < BRAIN_R - 0.04


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_meningioma_touches_the_inner_skull(seed):
    p = _render_one(MENINGIOMA, 64, np.random.default_rng(seed))
    r = p.frame.r[p.mask]
    one_pixel = (2 / 64) / min(p.frame.a, p.frame.b)
    assert r.max() > BRAIN_R - 1.5 * one_pixel
    assert r.max() <= BRAIN_R + one_pixel
    # Convexity: the mass sits on the top or the sides of the head, not at its base.
    assert p.frame.v[p.mask].mean() < 0.6 * p.frame.b


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_pituitary_is_small_low_and_central(seed):
    p = _render_one(PITUITARY, 64, np.random.default_rng(seed))
    assert 4 <= p.mask.sum() <= 60
    assert abs(p.frame.u[p.mask].mean()) < 0.06
    assert 0.35 * p.frame.b < p.frame.v[p.mask].mean() < 0.7 * p.frame.b
    assert p.frame.r[p.mask].max() < BRAIN_R


def test_pituitary_masks_are_low_and_near_the_middle_of_the_image(phantom_set):
    rows, cols = np.indices((64, 64))
    for mask in phantom_set.masks[phantom_set.labels == PITUITARY]:
        assert rows[mask].mean() > 32 + 6
        assert abs(cols[mask].mean() - 31.5) < 10


def test_main_writes_a_png_preview(tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["--preview", str(out), "--per-class", "2", "--size", "32"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in capsys.readouterr().out


def test_save_preview_creates_missing_folders(tmp_path):
    out = save_preview(tmp_path / "new" / "grid.png", per_class=1, size=32)
    assert out.is_file()


@pytest.mark.parametrize(
    ("function", "kwargs", "match"),
    [
        (render_phantoms, {"n": 7}, r"n: expected an integer >= 8; received 7"),
        (render_phantoms, {"n": 16.0}, r"n: expected an integer >= 8; received 16\.0"),
        (render_phantoms, {"n": True}, r"n: expected an integer >= 8; received True"),
        (render_phantoms, {"n": 8, "size": 31}, r"size: expected an integer >= 32; received 31"),
        (render_phantoms, {"n": 8, "size": "64"}, r"size: expected an integer >= 32; received '64'"),
        (render_phantoms, {"n": 8, "seed": -1}, r"seed: expected an integer in 0\.\.2\*\*32-1; received -1"),
        (make_phantoms, {"n": 4}, r"n: expected an integer >= 8; received 4"),
        (make_phantoms, {"n": 16, "size": 16}, r"size: expected an integer >= 32; received 16"),
        (make_phantoms, {"n": 16, "test_size": 1.0}, r"test_size: expected a share in \(0, 1\); received 1"),
        (make_phantoms, {"n": 8}, r"test_size: .* at least 4 images .* received 0\.25 \(2 test images\)"),
    ],
    ids=[
        "n-small",
        "n-float",
        "n-bool",
        "size-small",
        "size-str",
        "seed-negative",
        "make-n",
        "make-size",
        "test-size-range",
        "test-size-too-few",
    ],
)
def test_invalid_arguments_raise(function, kwargs, match):
    n = kwargs.pop("n")
    with pytest.raises(InvalidInputError, match=match):
        function(n, **kwargs)


def test_save_preview_rejects_empty_rows(tmp_path):
    with pytest.raises(InvalidInputError, match=r"per_class: expected an integer >= 1; received 0"):
        save_preview(tmp_path / "g.png", per_class=0)


@pytest.mark.parametrize("name", [n for n in phantoms.__all__ if n != "CLASS_NAMES"])
def test_public_functions_have_docstrings(name):
    assert getattr(phantoms, name).__doc__.strip()


def test_each_phantom_carries_the_level_of_its_scanner_noise():
    from layerlens.datasets.phantoms import NOISE_LEVELS, NOISE_SIGMA, noise_levels

    data = render_phantoms(60, size=32, seed=3)
    levels = data.metadata["noise"]
    assert set(levels) == set(NOISE_LEVELS) and len(levels) == 60
    low, high = NOISE_SIGMA
    third = (high - low) / 3
    assert noise_levels(np.array([low, low + third - 1e-9, low + third, high - 1e-9])).tolist() == [
        "low",
        "low",
        "medium",
        "high",
    ]
    # The level is a property of each image, kept by the split.
    train, test = make_phantoms(60, size=32, seed=3)
    by_image = dict(zip(map(bytes, data.images), levels))
    assert all(by_image[bytes(image)] == level for image, level in zip(test.images, test.metadata["noise"]))
    # Noisier scans are noisier: the pixel noise of the background rises with the level.
    background = data.images[:, :3, :3, 0].std(axis=(1, 2)) + data.images[:, :3, :3, 0].mean(axis=(1, 2))
    means = [background[(levels == level).to_numpy()].mean() for level in NOISE_LEVELS]
    assert means[0] < means[1] < means[2]
