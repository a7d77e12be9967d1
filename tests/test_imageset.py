import numpy as np
import pytest

from layerlens.datasets import ImageSet, Split
from layerlens.exceptions import InvalidInputError


def make_set(n=12, classes=("a", "b", "c"), size=4):
    rng = np.random.default_rng(0)
    images = rng.random((n, size, size, 1), dtype=np.float32)
    labels = np.arange(n) % len(classes)
    return ImageSet(images, labels, classes, name="toy", masks=images[..., 0] > 0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images": np.zeros((3, 4, 4), np.float32)}, r"images: expected shape \(N, H, W, C\)"),
        ({"images": np.zeros((3, 4, 4, 2), np.float32)}, r"C in \(1, 3\)"),
        ({"images": np.zeros((3, 4, 4, 1), np.float64)}, "expected dtype float32; received float64"),
        ({"images": np.full((3, 4, 4, 1), 255, np.float32)}, r"expected values in \[0, 1\]"),
        ({"labels": np.array([0, 1])}, r"labels: expected integers of shape \(3,\)"),
        ({"labels": np.array([0.0, 1.0, 0.0])}, "labels: expected integers"),
        ({"labels": np.array([0, 1, 2])}, r"labels: expected values in 0..1"),
        ({"masks": np.zeros((3, 5, 5), bool)}, r"masks: expected shape \(3, 4, 4\)"),
        ({"files": ("x.png",)}, "files: expected 3 names; received 1"),
    ],
    ids=["rank", "channels", "dtype", "range", "label-count", "label-dtype", "label-range", "masks", "files"],
)
def test_invalid_contents_raise(kwargs, match):
    args = {
        "images": np.zeros((3, 4, 4, 1), np.float32),
        "labels": np.array([0, 1, 0]),
        "class_names": ("a", "b"),
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        ImageSet(**args)


def test_split_is_stratified_and_seeded():
    full = make_set(n=40)
    train, test = full.split(0.25, seed=3)
    assert (len(train), len(test)) == (30, 10)
    assert np.bincount(test.labels).tolist() in ([4, 3, 3], [3, 4, 3], [3, 3, 4])
    again = full.split(0.25, seed=3)
    np.testing.assert_array_equal(again.test.images, test.images)
    other = full.split(0.25, seed=4)
    assert not np.array_equal(other.test.images, test.images)
    # The parts are disjoint and together hold every image once.
    rows = np.concatenate([train.images, test.images]).reshape(40, -1)
    assert len(np.unique(rows, axis=0)) == 40


def test_split_keeps_masks_aligned_with_images():
    train, _ = make_set(n=20).split(0.5, seed=0)
    np.testing.assert_array_equal(train.masks, train.images[..., 0] > 0.5)
    assert isinstance(make_set().split(), Split)


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.1, 2], ids=["zero", "one", "negative", "above-one"])
def test_split_rejects_bad_share(test_size):
    with pytest.raises(InvalidInputError, match="test_size: expected a share in"):
        make_set().split(test_size)


def test_split_needs_two_images_per_class():
    tiny = ImageSet(np.zeros((3, 2, 2, 1), np.float32), np.array([0, 0, 1]), ("a", "b"))
    with pytest.raises(InvalidInputError, match="at least 2 images.*'b': 1"):
        tiny.split()


def test_subset_and_repr():
    full = make_set(n=6)
    part = full.subset([5, 0])
    np.testing.assert_array_equal(part.images, full.images[[5, 0]])
    assert part.labels.tolist() == [2, 0]
    assert repr(full) == "ImageSet('toy', 6 images of (4, 4, 1), a=2, b=2, c=2)"
