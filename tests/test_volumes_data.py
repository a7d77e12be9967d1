"""Volumes (N, D, H, W, C) in ImageSet and ImageStream, and the 3-D phantoms."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from layerlens.datasets import ImageSet, ImageStream, Split, make_volume_phantoms
from layerlens.datasets.phantoms import VOLUME_CLASS_NAMES
from layerlens.exceptions import InvalidInputError, SkippedFilesWarning


def volume_set(n=8, shape=(4, 5, 6), classes=("a", "b"), **kwargs):
    rng = np.random.default_rng(0)
    images = rng.random((n, *shape, 1), dtype=np.float32)
    return ImageSet(images, np.arange(n) % len(classes), classes, name="vol", masks=images[..., 0] > 0.5, **kwargs)


def test_an_image_set_holds_volumes_with_their_axes():
    data = volume_set(axes="HWD")
    assert data.is_volume and data.axes == "HWD" and data.images.shape == (8, 4, 5, 6, 1)
    assert repr(data) == "ImageSet('vol', 8 volumes of (4, 5, 6, 1), axes='HWD', a=4, b=4)"
    part = data.subset([7, 0])
    assert part.axes == "HWD" and part.masks.shape == (2, 4, 5, 6)
    np.testing.assert_array_equal(part.images, data.images[[7, 0]])
    train, test = data.split(0.5, seed=0)
    assert isinstance(data.split(), Split) and train.axes == test.axes == "HWD"
    np.testing.assert_array_equal(train.masks, train.images[..., 0] > 0.5)
    assert (
        volume_set().axes == "DHW"
        and not ImageSet(np.zeros((2, 3, 3, 1), np.float32), np.array([0, 1]), "ab").is_volume
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"images": np.zeros((2, 3, 3, 3, 3, 1), np.float32)},
            r"images: expected shape \(N, H, W, C\), or \(N, D, H, W",
        ),
        ({"images": np.zeros((2, 3, 3, 3, 2), np.float32)}, r"C in \(1, 3\)"),
        ({"images": np.full((2, 3, 3, 3, 1), 2, np.float32)}, r"images: expected values in \[0, 1\]"),
        ({"masks": np.zeros((2, 3, 3), bool)}, r"masks: expected shape \(2, 3, 3, 3\)"),
        ({"axes": "DHX"}, r"axes: expected a permutation of the letters 'D', 'H' and 'W'"),
        ({"axes": "DDHW"}, r"axes: expected a permutation"),
        ({"axes": 3}, r"axes: expected a permutation"),
        ({"images": np.zeros((2, 3, 3, 1), np.float32), "axes": "HWD"}, r"axes: expected 'DHW' for images"),
    ],
    ids=["rank", "channels", "range", "masks", "axes-letter", "axes-length", "axes-type", "axes-of-images"],
)
def test_invalid_volumes_raise(kwargs, match):
    args = {"images": np.zeros((2, 3, 3, 3, 1), np.float32), "labels": np.array([0, 1]), "class_names": ("a", "b")}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        ImageSet(**args)


class _ArrayReader:
    """Reads the volume stored under a file's name (``"3"`` -> volumes[3]), failing on ``"bad"``."""

    def __init__(self, volumes):
        self.volumes = volumes

    def __call__(self, path: Path) -> np.ndarray:
        return self.volumes[int(path.name)]


def test_a_stream_of_volumes_yields_five_dimensional_batches_and_loads_as_the_set(tmp_path):
    data = volume_set(n=6)
    files = tuple(str(i) for i in range(6)) + ("bad",)
    labels = np.append(data.labels, 0)
    stream = ImageStream(tmp_path, files, labels, data.class_names, (4, 5, 6, 1), _ArrayReader(data.images), axes="DHW")
    assert stream.is_volume and stream.image_shape == (4, 5, 6, 1)
    assert repr(stream) == "ImageStream('images', 7 files of (4, 5, 6, 1), axes='DHW', a=4, b=3)"
    unreadable: list[str] = []
    batches = list(stream.batches(4, unreadable=unreadable))
    assert [x.shape for x, _ in batches] == [(4, 4, 5, 6, 1), (2, 4, 5, 6, 1)] and unreadable == ["bad"]
    np.testing.assert_array_equal(stream.read([2, 0]), data.images[[2, 0]])
    with pytest.warns(SkippedFilesWarning, match="bad"):
        loaded = stream.load()
    assert loaded.axes == "DHW" and loaded.skipped == ("bad",)
    np.testing.assert_array_equal(loaded.images, data.images)
    rgb = stream.subset(range(6)).with_channels(3)
    assert rgb.image_shape == (4, 5, 6, 3) and rgb.read([1]).shape == (1, 4, 5, 6, 3)
    np.testing.assert_allclose(rgb.read([1])[0, ..., 2], data.images[1, ..., 0])
    assert rgb.with_channels(1).read([1]).shape == (1, 4, 5, 6, 1)
    empty = stream.subset([6])
    assert next(iter(empty.batches(unreadable=[])), None) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_shape": (4, 5, 6, 2)}, r"image_shape: expected \(H, W, C\), or \(D, H, W, C\)"),
        ({"image_shape": (4, 5)}, r"image_shape: expected"),
        ({"axes": "WHD", "image_shape": (5, 6, 1)}, r"axes: expected 'DHW' for images"),
        ({"axes": "XYZ"}, r"axes: expected a permutation"),
    ],
)
def test_invalid_streams_raise(tmp_path, kwargs, match):
    args = {"image_shape": (4, 5, 6, 1), "axes": "DHW", **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        ImageStream(tmp_path, ("0",), np.array([0]), ("a",), reader=_ArrayReader([]), **args)


def test_volume_phantoms_are_balanced_seeded_and_their_masks_mark_lesions_anywhere_in_the_brain():
    start = time.perf_counter()
    data = make_volume_phantoms(40, size=32, seed=3)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0  # 300 take about 1.5 s
    assert data.images.shape == (40, 32, 32, 32, 1) and data.images.dtype == np.float32
    assert data.masks.shape == (40, 32, 32, 32) and data.masks.dtype == bool
    assert data.axes == "DHW" and data.class_names == VOLUME_CLASS_NAMES
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert np.bincount(data.labels).tolist() == [10, 10, 10, 10]
    sizes = data.masks.reshape(40, -1).sum(axis=1)
    healthy = data.labels == VOLUME_CLASS_NAMES.index("no_tumor")
    assert (sizes[healthy] == 0).all() and (8 <= sizes[~healthy]).all() and (sizes[~healthy] <= 200).all()
    octants = {tuple(np.argwhere(m).mean(axis=0) >= 16) for m in data.masks[~healthy]}
    assert len(octants) >= 5  # the lesions are not all in one place
    np.testing.assert_array_equal(make_volume_phantoms(40, size=32, seed=3).images, data.images)
    assert not np.array_equal(make_volume_phantoms(40, size=32, seed=4).images, data.images)
    assert set(data.metadata["noise"]) <= {"low", "medium", "high"}


def test_lesions_show_their_kind_inside_their_mask():
    data = make_volume_phantoms(16, size=32, seed=0)
    for image, mask, label in zip(data.images[..., 0], data.masks, data.labels):
        kind = data.class_names[label]
        if kind == "no_tumor":
            continue
        inside, brain = image[mask], np.median(image[12:20, 12:20, 12:20])
        if kind == "enhancing":
            assert inside.mean() > brain + 0.15
        elif kind == "cystic":
            assert inside.mean() < brain - 0.2
        else:  # ring_enhancing: a bright rim round a dark core
            assert inside.max() > brain + 0.15 and inside.min() < brain - 0.2


def test_volume_phantoms_render_a_chosen_subset_of_classes_in_the_order_given():
    data = make_volume_phantoms(6, size=16, seed=0, classes=["no_tumor", "enhancing"])
    assert data.class_names == ("no_tumor", "enhancing") and data.images.shape == (6, 16, 16, 16, 1)
    assert not data.masks[data.labels == 0].any() and data.masks[data.labels == 1].reshape(3, -1).any(axis=1).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 7}, r"n: expected an integer >= 8"),
        ({"size": 8}, r"size: expected an integer >= 16"),
        ({"seed": -1}, r"seed: expected an integer"),
        ({"classes": ["no_tumor", "glioma"]}, r"classes: expected at least two distinct names among"),
        ({"classes": ["no_tumor"]}, r"classes: expected at least two"),
        ({"classes": "no_tumor"}, r"classes: expected a non-empty sequence of str"),
    ],
)
def test_volume_phantoms_name_bad_arguments(kwargs, match):
    args = {"n": 8, "size": 16, **kwargs}
    with pytest.raises(InvalidInputError, match=match):
        make_volume_phantoms(args.pop("n"), **args)


def test_a_small_conv3d_learns_the_volume_phantoms_in_a_few_epochs():
    """The promise of the generator: 300 volumes of 32³, ten epochs of a tiny Conv3D, >= 0.85 on 100 others.

    About 15 s on two CPU cores. The network pools with a global maximum: a lesion of a few tens of voxels is
    0.2 % of a volume, and the same network with global average pooling stays at chance within ten epochs.
    """
    import keras

    train = make_volume_phantoms(300, size=32, seed=0)
    test = make_volume_phantoms(100, size=32, seed=1000)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 32, 1)),
            keras.layers.Conv3D(8, 3, activation="relu"),
            keras.layers.MaxPool3D(2),
            keras.layers.Conv3D(16, 3, activation="relu"),
            keras.layers.GlobalMaxPooling3D(),
            keras.layers.Dense(len(train.class_names), activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(train.images, train.labels, epochs=10, batch_size=16, verbose=0)
    accuracy = (model.predict(test.images, verbose=0).argmax(axis=1) == test.labels).mean()
    assert accuracy >= 0.85
