import numpy as np
import pytest

from layerlens.datasets import load_digits, load_faces, load_mnist
from layerlens.exceptions import InvalidInputError

LOADERS = {
    # loader, image shape, total images, class names
    "digits": (load_digits, (8, 8, 1), 1797, tuple("0123456789")),
    "mnist": (load_mnist, (28, 28, 1), 5000, tuple("0123456789")),
    "faces": (load_faces, (25, 25, 1), 200, ("non_face", "face")),
}


@pytest.mark.parametrize("name", LOADERS, ids=list(LOADERS))
def test_loader_contract(name):
    loader, shape, total, class_names = LOADERS[name]
    train, test = loader(seed=0)
    assert train.name == test.name == name
    assert train.images.shape[1:] == shape and train.images.dtype == np.float32
    assert len(train) + len(test) == total
    assert abs(len(test) - 0.25 * total) <= 1
    assert train.class_names == class_names
    for part in (train, test):
        assert 0.0 <= part.images.min() and part.images.max() <= 1.0
        # Real image content, not a constant: a typical image has dark and bright pixels.
        assert np.median(part.images.reshape(len(part), -1).std(axis=1)) > 0.05
        assert set(np.unique(part.labels)) == set(range(len(class_names)))


@pytest.mark.parametrize("name", LOADERS, ids=list(LOADERS))
def test_loader_split_is_fixed_for_a_seed(name):
    loader = LOADERS[name][0]
    a, b, c = loader(seed=1), loader(seed=1), loader(seed=2)
    np.testing.assert_array_equal(a.test.images, b.test.images)
    np.testing.assert_array_equal(a.test.labels, b.test.labels)
    assert not np.array_equal(a.test.images, c.test.images)


def test_digits_resize_keeps_the_picture():
    small_train, _ = load_digits(seed=0)
    big_train, _ = load_digits(image_size=32, seed=0)
    assert big_train.images.shape[1:] == (32, 32, 1)
    np.testing.assert_array_equal(big_train.labels, small_train.labels)
    # Averaging the 32x32 image back down to 8x8 gives (a smoothed copy of) the original digit.
    pooled = big_train.images[:50, :, :, 0].reshape(50, 8, 4, 8, 4).mean(axis=(2, 4))
    assert np.corrcoef(pooled.ravel(), small_train.images[:50].ravel())[0, 1] > 0.95


def test_mnist_labels_match_the_digits():
    # Class means of a correct labelling are distinct digit shapes; a shuffled
    # labelling would give ten near-identical blurs.
    train, _ = load_mnist(seed=0)
    means = np.stack([train.images[train.labels == k].mean(axis=0).ravel() for k in range(10)])
    corr = np.corrcoef(means)
    assert corr[np.triu_indices(10, 1)].mean() < 0.7
    # A "1" is thin: fewer lit pixels than a "0".
    assert means[1].sum() < 0.7 * means[0].sum()


def test_faces_labels_mark_faces():
    train, test = load_faces(seed=0)
    for part in (train, test):
        assert np.bincount(part.labels).tolist() in ([75, 75], [25, 25])
    # Faces share a layout (eyes, mouth), so face images correlate with the mean face more than non-faces do.
    faces = train.images[train.labels == 1].reshape(-1, 625)
    others = train.images[train.labels == 0].reshape(-1, 625)
    mean_face = faces.mean(axis=0)

    def corr(rows):
        return np.mean([np.corrcoef(r, mean_face)[0, 1] for r in rows])

    assert corr(faces) > corr(others) + 0.2


@pytest.mark.parametrize(
    "image_size",
    [0, (32,), (32, 32, 3), "32", 2.5],
    ids=["zero", "one-value", "three-values", "string", "float"],
)
def test_bad_image_size_is_rejected(image_size):
    with pytest.raises(InvalidInputError, match="image_size: expected an int or a pair"):
        load_digits(image_size=image_size)
