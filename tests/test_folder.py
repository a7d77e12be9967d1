import warnings

import numpy as np
import pytest
from skimage import io

from layerlens.datasets import from_directory, read_images
from layerlens.exceptions import InvalidInputError, SkippedFilesWarning


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    io.imsave(path, array, check_contrast=False)


@pytest.fixture
def kaggle_tree(tmp_path):
    """A Kaggle-style tree: grayscale, RGB, RGBA and 16-bit files of different sizes, plus junk."""
    root = tmp_path / "Training"
    gray = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))  # horizontal ramp, 30x40
    write_png(root / "glioma" / "g1.png", gray)
    write_png(root / "glioma" / "nested" / "g2.jpg", np.full((20, 20, 3), 200, np.uint8))
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255  # opaque red
    write_png(root / "meningioma" / "m1.png", rgba)
    write_png(root / "meningioma" / "m2.png", (np.eye(24) * 65535).astype(np.uint16))
    write_png(root / "no_tumor" / "n1.png", np.zeros((50, 60), np.uint8))
    (root / "glioma" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "no_tumor" / "notes.txt").write_text("scanner: 1.5T\n")
    (root / "README.md").write_text("class-per-folder layout\n")
    return root


def test_reads_every_image_and_reports_the_rest(kaggle_tree):
    with pytest.warns(SkippedFilesWarning, match=r"Skipped 3 file\(s\).*README.md.*glioma/broken.jpg.*notes.txt"):
        data = from_directory(kaggle_tree, image_size=(16, 24), color_mode="rgb")
    assert data.class_names == ("glioma", "meningioma", "no_tumor")
    assert data.name == "Training"
    assert data.images.shape == (5, 16, 24, 3) and data.images.dtype == np.float32
    assert data.labels.tolist() == [0, 0, 1, 1, 2]
    assert data.files == (
        "glioma/g1.png",
        "glioma/nested/g2.jpg",
        "meningioma/m1.png",
        "meningioma/m2.png",
        "no_tumor/n1.png",
    )
    assert data.skipped == ("README.md", "glioma/broken.jpg", "no_tumor/notes.txt")
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0


def test_pixel_values_survive_conversion(kaggle_tree):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        rgb = from_directory(kaggle_tree, image_size=(30, 40), color_mode="rgb")
        gray = from_directory(kaggle_tree, image_size=(30, 40), color_mode="grayscale")
    ramp = np.linspace(0, 1, 40)
    np.testing.assert_allclose(gray.images[0, 10, :, 0], ramp, atol=0.01)  # the ramp, unchanged at its own size
    np.testing.assert_allclose(rgb.images[0, 10, :, 1], ramp, atol=0.01)  # grayscale repeated into RGB
    np.testing.assert_allclose(rgb.images[2, 5, 5], [1.0, 0.0, 0.0], atol=0.01)  # opaque RGBA red stays red
    assert gray.images.shape[-1] == 1
    assert gray.images[2, 5, 5, 0] == pytest.approx(0.2125, abs=0.01)  # luminance of pure red
    assert gray.images[3].max() > 0.5  # 16-bit identity scaled into [0, 1], not clipped to zero
    assert gray.images[4].max() == 0.0


def test_square_int_size(kaggle_tree):
    with pytest.warns(SkippedFilesWarning):
        data = from_directory(kaggle_tree, image_size=8, color_mode="grayscale", name="mri")
    assert data.images.shape == (5, 8, 8, 1)
    assert data.name == "mri"


def test_long_skip_lists_are_shortened_in_the_warning(tmp_path):
    write_png(tmp_path / "a" / "ok.png", np.zeros((8, 8), np.uint8))
    write_png(tmp_path / "b" / "ok.png", np.zeros((8, 8), np.uint8))
    for i in range(14):
        (tmp_path / "a" / f"junk{i:02d}.bin").write_bytes(b"\x00" * 10)
    with pytest.warns(SkippedFilesWarning, match=r"Skipped 14 file\(s\).*and 4 more") as record:
        data = from_directory(tmp_path, image_size=8)
    assert len(data.skipped) == 14
    assert "junk13" not in str(record[0].message)


def test_clean_folder_does_not_warn(tmp_path):
    write_png(tmp_path / "a" / "x.png", np.zeros((8, 8), np.uint8))
    write_png(tmp_path / "b" / "y.png", np.zeros((8, 8), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = from_directory(tmp_path, image_size=8)
    assert data.skipped == ()


def test_missing_folder(tmp_path):
    with pytest.raises(InvalidInputError, match="path: expected an existing folder.*nope"):
        from_directory(tmp_path / "nope")


def test_empty_folder(tmp_path):
    with pytest.raises(InvalidInputError, match=r"at least 2 class sub-folders.*found 0: \[\]"):
        from_directory(tmp_path)


def test_single_class(tmp_path):
    write_png(tmp_path / "glioma" / "x.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(InvalidInputError, match=r"found 1: \['glioma'\]"):
        from_directory(tmp_path)


def test_class_without_readable_images(tmp_path):
    write_png(tmp_path / "a" / "x.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="class folder 'b'.*holds no readable image"):
        from_directory(tmp_path, image_size=8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"color_mode": "cmyk"}, "color_mode: expected one of"),
        ({"image_size": (0, 4)}, "image_size: expected"),
    ],
    ids=["color-mode", "image-size"],
)
def test_bad_options(kaggle_tree, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        from_directory(kaggle_tree, **kwargs)


def test_hostile_class_names_are_kept_verbatim(tmp_path):
    hostile = '<img src=x onerror=alert(1)> & "co"'
    write_png(tmp_path / hostile / "x.png", np.zeros((8, 8), np.uint8))
    write_png(tmp_path / "benign" / "y.png", np.zeros((8, 8), np.uint8))
    data = from_directory(tmp_path, image_size=8)
    assert hostile in data.class_names  # escaping is the site's job; the loader must not mangle names


def test_class_names_set_the_label_order(tmp_path):
    write_png(tmp_path / "face" / "f.png", np.full((8, 8), 200, np.uint8))
    write_png(tmp_path / "non_face" / "n.png", np.zeros((8, 8), np.uint8))
    data = from_directory(tmp_path, image_size=8, class_names=["non_face", "face"])
    assert data.class_names == ("non_face", "face")
    assert data.labels.tolist() == [0, 1] and data.files == ("non_face/n.png", "face/f.png")


@pytest.mark.parametrize(
    ("names", "match"),
    [
        (["face", "nonface"], r"no folder for \['nonface'\], no name for \['non_face'\]"),
        (["face"], r"no folder for \[\], no name for \['non_face'\]"),
        (["face", "face"], r"class_names: expected distinct, non-empty names"),
    ],
    ids=["misspelt", "missing", "repeated"],
)
def test_class_names_must_name_every_folder(tmp_path, names, match):
    write_png(tmp_path / "face" / "f.png", np.zeros((8, 8), np.uint8))
    write_png(tmp_path / "non_face" / "n.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(InvalidInputError, match=match):
        from_directory(tmp_path, image_size=8, class_names=names)


def test_the_warning_carries_every_skipped_file(kaggle_tree):
    with pytest.warns(SkippedFilesWarning) as record:
        from_directory(kaggle_tree, image_size=8)
    (warning,) = [w for w in record if w.category is SkippedFilesWarning]
    assert warning.message.files == ("README.md", "glioma/broken.jpg", "no_tumor/notes.txt")
    assert warning.filename == __file__  # the caller's line, not layerlens' own


# ------------------------------------------------------------------------------------------- read_images


def test_read_images_reads_a_whole_tree_without_labels(kaggle_tree):
    with pytest.warns(SkippedFilesWarning, match=r"Skipped 3 file\(s\)") as caught:
        images, files = read_images(kaggle_tree, image_size=12)
    assert images.shape == (5, 12, 12, 1) and images.dtype == np.float32
    assert files == (
        "glioma/g1.png",
        "glioma/nested/g2.jpg",
        "meningioma/m1.png",
        "meningioma/m2.png",
        "no_tumor/n1.png",
    )
    assert list(caught[0].message.files) == ["README.md", "glioma/broken.jpg", "no_tumor/notes.txt"]
    assert "unclosed" not in " ".join(str(w.message) for w in caught)
    flat, _ = read_images(kaggle_tree / "meningioma", image_size=(8, 10), color_mode="rgb")
    assert flat.shape == (2, 8, 10, 3)


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda root: root / "missing", {}, "path: expected an existing folder of images"),
        (lambda root: root / "no_tumor" / "n1.png", {}, "path: expected an existing folder of images"),
        (lambda root: root, {"color_mode": "cmyk"}, "color_mode: expected one of"),
        (lambda root: root, {"image_size": 2}, "image_size: expected"),
    ],
)
def test_read_images_names_bad_arguments(kaggle_tree, make, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        read_images(make(kaggle_tree), **kwargs)


def test_read_images_refuses_a_folder_without_images(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see")
    with pytest.raises(InvalidInputError, match=r"found no readable image \(1 file could not be read: notes.txt\)"):
        read_images(tmp_path)


def test_read_images_and_from_directory_leave_hidden_folders_alone(kaggle_tree):
    write_png(kaggle_tree / "glioma" / ".ipynb_checkpoints" / "g1-checkpoint.png", np.zeros((8, 8), np.uint8))
    write_png(kaggle_tree / ".git" / "x.png", np.zeros((8, 8), np.uint8))
    with pytest.warns(SkippedFilesWarning):
        _, files = read_images(kaggle_tree, image_size=8)
    assert not any("checkpoint" in f or ".git" in f for f in files) and len(files) == 5
    with pytest.warns(SkippedFilesWarning):
        data = from_directory(kaggle_tree, image_size=8)
    assert not any("checkpoint" in f for f in data.files) and len(data.files) == 5
