"""layerlens.datasets.from_nifti: class folders of NIfTI volumes, one orientation, resampling, intensities."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest
from _nifti import LPS, nifti_image, to_ras, write_nifti_tree

from layerlens.datasets import ImageSet, ImageStream, from_nifti
from layerlens.datasets.nifti import read_nifti_source
from layerlens.exceptions import InvalidInputError, MissingDependencyError, SkippedFilesWarning

nib = pytest.importorskip("nibabel")

SHAPE = (6, 8, 10)  # (D, H, W), all sides different so that a wrong axis order shows
#: Two readings of the same voxels (float32 arithmetic in another order) agree to this.
TOLERANCE = 1e-6


def random_volumes(n=6, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """6 volumes in classes b, a (written in that label order): 3 as .nii.gz, 3 as .nii in nested folders."""
    root = tmp_path_factory.mktemp("nifti") / "scans"
    volumes = random_volumes()
    labels = [0, 1, 0, 1, 0, 1]
    write_nifti_tree(root, volumes[:3], labels[:3], ("b", "a"))
    write_nifti_tree(root, volumes[3:], labels[3:], ("b/plain", "a/plain"), gz=False)
    return root, volumes, labels


def test_nii_and_nii_gz_files_are_read_class_by_class_in_sorted_order(tree):
    root, volumes, _ = tree
    data = from_nifti(root, SHAPE)
    assert isinstance(data, ImageSet) and data.is_volume and data.axes == "DHW"
    assert data.images.shape == (6, *SHAPE, 1) and data.images.dtype == np.float32
    assert data.class_names == ("a", "b") and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.files == (
        "a/plain/vol-000.nii",
        "a/plain/vol-002.nii",
        "a/vol-001.nii.gz",
        "b/plain/vol-001.nii",
        "b/vol-000.nii.gz",
        "b/vol-002.nii.gz",
    )
    assert data.name == "scans" and data.skipped == ()
    # a/plain/vol-000.nii is volumes[3 + 0], a/vol-001.nii.gz volumes[1]: at their own shape, only scaled.
    for got, want in zip(data.images[[0, 2], ..., 0], (volumes[3], volumes[1])):
        low, high = np.percentile(want, (0.5, 99.5))
        np.testing.assert_allclose(got, np.clip((want - low) / (high - low), 0, 1), atol=TOLERANCE)
    assert data.source == {
        "reader": "nifti",
        "root": str(root.resolve()),
        "shape": list(SHAPE),
        "spacing": None,
        "window": None,
        "percentiles": [0.5, 99.5],
        "axes": "DHW",
    }
    np.testing.assert_array_equal(read_nifti_source(data.source, data.files[:2]), data.images[:2])


def test_class_names_pick_and_order_the_class_folders(tree):
    data = from_nifti(tree[0], SHAPE, class_names=["b"])
    assert data.class_names == ("b",) and len(data) == 3 and set(data.labels) == {0}
    both = from_nifti(tree[0], SHAPE, class_names=["b", "a"])
    assert both.class_names == ("b", "a") and both.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_the_layout_follows_the_patient_whatever_the_file_orientation(tmp_path):
    """A marker at the patient's right, front and top lands at the last slice, first row, first column."""
    ras = np.zeros((10, 8, 6), np.float32)  # i (to the right), j (to the front), k (up)
    ras[-1, -1, -1] = 1.0
    ras[0, 0, 0] = 0.5  # left, back, bottom
    (tmp_path / "x").mkdir()
    nib.save(nib.Nifti1Image(ras, np.diag([1.0, 1.0, 1.0, 1.0])), str(tmp_path / "x" / "ras.nii.gz"))
    nib.save(nib.Nifti1Image(ras[::-1, ::-1], LPS), str(tmp_path / "x" / "lps.nii.gz"))  # same anatomy, stored LPS
    data = from_nifti(tmp_path, SHAPE, window=(0, 1))
    for volume in data.images[..., 0]:
        assert volume.shape == (6, 8, 10)
        assert volume[5, 0, 0] == 1.0 and volume[0, 7, 9] == 0.5


@pytest.mark.parametrize(
    "affine",
    [
        LPS,
        np.array([[0, 0, -1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1.0]]),  # voxel axes: A, L, I... permuted
        np.diag([1.0, -1.0, -1.0, 1.0]),  # R, P, I: two flipped axes
    ],
    ids=["LPS", "permuted", "RPI"],
)
def test_the_same_volume_in_another_orientation_reads_the_same(tmp_path, affine):
    volumes = random_volumes(2, shape=(6, 8, 10), seed=5)
    write_nifti_tree(tmp_path / "ras", volumes, [0, 1], ("a", "b"), zooms=(2.0, 1.0, 0.5))
    paths = write_nifti_tree(tmp_path / "other", volumes, [0, 1], ("a", "b"), affine=affine, zooms=(2.0, 1.0, 0.5))
    stored, ras = nib.load(str(paths[0])), nib.load(str(tmp_path / "ras" / "a" / "vol-000.nii.gz"))
    assert nib.aff2axcodes(stored.affine) == nib.aff2axcodes(affine)
    assert stored.shape != ras.shape or not np.array_equal(stored.get_fdata(), ras.get_fdata())
    for kwargs in ({}, {"spacing": (1.5, 1.5, 1.5)}):  # read as they are, and resampled by the header's spacing
        reference = from_nifti(tmp_path / "ras", (5, 7, 9), **kwargs).images
        np.testing.assert_allclose(
            from_nifti(tmp_path / "other", (5, 7, 9), **kwargs).images, reference, atol=TOLERANCE
        )


def test_axes_orders_the_returned_arrays(tree):
    root = tree[0]
    plain = from_nifti(root, SHAPE)
    for axes, order in (("HWD", (1, 2, 0)), ("WHD", (2, 1, 0)), ("DWH", (0, 2, 1))):
        moved = from_nifti(root, SHAPE, axes=axes)
        assert moved.axes == axes and moved.source["axes"] == axes
        np.testing.assert_array_equal(moved.images, np.transpose(plain.images, (0, *(o + 1 for o in order), 4)))
    stream = from_nifti(root, SHAPE, axes="HWD", stream=True)
    assert stream.image_shape == (8, 10, 6, 1) and stream.axes == "HWD"


def test_spacing_resamples_then_crops_or_pads_around_the_centre(tmp_path):
    """10 slices of 2 mm become 20 of 1 mm, padded to 24; 20 rows and columns of 1 mm are cropped to 16."""
    volume = np.zeros((10, 20, 20), np.float32)
    volume[3, 4:7, 13:16] = 1.0  # a blob at slice 3, rows 4-6, columns 13-15
    write_nifti_tree(tmp_path, volume[None], [0], ("a",), zooms=(2.0, 1.0, 1.0))
    data = from_nifti(tmp_path, (24, 16, 16), spacing=1.0, window=(0, 1))
    image = data.images[0, ..., 0]
    assert image.shape == (24, 16, 16)
    assert image[:2].max() == 0 and image[-2:].max() == 0  # padding
    centre = (np.argwhere(image > 0.25) * image[image > 0.25][:, None]).sum(0) / image[image > 0.25].sum()
    # Slice 3 of 2 mm is centred at 7 mm = slice 6.5 of 1 mm, then 2 slices of padding; rows and columns lose 2.
    np.testing.assert_allclose(centre, (6.5 + 2, 5 - 2, 14 - 2), atol=0.5)
    assert data.source["spacing"] == [1.0, 1.0, 1.0]


def test_without_spacing_every_volume_is_resized_whatever_its_field_of_view(tmp_path):
    volume = np.zeros((10, 20, 20), np.float32)
    volume[:, :10] = 1.0  # the front half
    write_nifti_tree(tmp_path, volume[None], [0], ("a",), zooms=(2.0, 1.0, 1.0))
    image = from_nifti(tmp_path, (5, 8, 8), window=(0, 1)).images[0, ..., 0]
    assert image.shape == (5, 8, 8)
    np.testing.assert_allclose(image[:, :3], 1.0) and np.testing.assert_allclose(image[:, 5:], 0.0, atol=1e-6)


def test_a_window_in_the_files_units_and_otherwise_each_volumes_percentiles(tmp_path):
    ct = np.full((6, 8, 10), -1000.0, np.float32)  # air
    ct[:, 2:6, 2:8] = 40.0  # soft tissue
    ct[:, 3, 3] = 1500.0  # dense bone
    mr = np.arange(6 * 8 * 10, dtype=np.float32).reshape(6, 8, 10) * 3.0 + 100.0
    write_nifti_tree(tmp_path, np.stack([ct, mr]), [0, 1], ("ct", "mr"))
    windowed = from_nifti(tmp_path, SHAPE, window=(-1000, 400)).images[..., 0]
    assert windowed[0, 0, 0, 0] == 0.0 and windowed[0, 0, 3, 3] == 1.0
    assert windowed[0, 0, 2, 2] == pytest.approx(1040 / 1400, abs=1e-6)
    scaled = from_nifti(tmp_path, SHAPE, percentiles=(10, 90)).images[..., 0]
    low, high = np.percentile(mr, (10, 90))
    np.testing.assert_allclose(scaled[1], np.clip((mr - low) / (high - low), 0, 1), atol=TOLERANCE)
    assert (scaled[1] == 0).mean() == pytest.approx(0.1, abs=0.01) and (scaled[1] == 1).mean() == pytest.approx(
        0.1, abs=0.01
    )


def test_damaged_files_are_skipped_and_named_in_one_warning(tmp_path):
    volumes = random_volumes(4)
    paths = write_nifti_tree(tmp_path, volumes, [0, 1, 0, 1], ("a", "b"))
    truncated = paths[2].read_bytes()
    paths[2].write_bytes(truncated[: len(truncated) // 2])  # a download cut short
    (tmp_path / "a" / "notes.nii").write_text("not a volume\n" * 40)
    nib.save(
        nib.Nifti1Image(np.zeros((6, 8, 3), np.float32)[..., None].repeat(3, 3), np.eye(4)),
        str(tmp_path / "b" / "series.nii.gz"),
    )
    nib.save(nib.Nifti1Image(np.zeros((6, 8), np.float32), np.eye(4)), str(tmp_path / "b" / "flat.nii.gz"))
    nib.save(nib.Nifti1Image(to_ras(volumes[3])[..., None], np.eye(4)), str(tmp_path / "b" / "single-frame.nii.gz"))
    (tmp_path / "b" / "sidecar.json").write_text("{}")  # not NIfTI by name: left alone
    (tmp_path / "loose.nii.gz").write_bytes(gzip.compress(b"x"))
    with pytest.warns(SkippedFilesWarning) as caught:
        data = from_nifti(tmp_path, SHAPE)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "a/vol-002.nii.gz (truncated or damaged" in message and "a/notes.nii (not a NIfTI file)" in message
    assert "b/series.nii.gz (3 frames of shape (6, 8, 3)" in message and "b/flat.nii.gz (not a volume" in message
    assert "loose.nii.gz (no class folder)" in message and "sidecar" not in message
    assert (
        set(data.skipped)
        == set(caught[0].message.files)
        == {"loose.nii.gz", "a/vol-002.nii.gz", "a/notes.nii", "b/series.nii.gz", "b/flat.nii.gz"}
    )
    assert data.files == ("a/vol-000.nii.gz", "b/single-frame.nii.gz", "b/vol-001.nii.gz", "b/vol-003.nii.gz")
    np.testing.assert_array_equal(data.images[1], data.images[3])  # a 4-D file of one frame reads as its volume


def test_a_stream_lists_the_same_files_and_reads_the_same_volumes(tree, tmp_path):
    root = tree[0]
    eager = from_nifti(root, (4, 6, 6), spacing=(1.5, 1, 1), axes="HWD")
    stream = from_nifti(root, (4, 6, 6), spacing=(1.5, 1, 1), axes="HWD", stream=True)
    assert isinstance(stream, ImageStream) and stream.files == eager.files and stream.source == eager.source
    np.testing.assert_array_equal(stream.labels, eager.labels)
    assert stream.image_shape == (6, 6, 4, 1) and stream.axes == "HWD"
    batches = list(stream.batches(4))
    assert [x.shape for x, _ in batches] == [(4, 6, 6, 4, 1), (2, 6, 6, 4, 1)]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), eager.images)
    loaded = stream.load()
    np.testing.assert_array_equal(loaded.images, eager.images)
    assert loaded.axes == "HWD" and loaded.source == eager.source


def test_a_stream_names_bad_headers_now_and_damaged_voxels_during_the_pass(tmp_path):
    paths = write_nifti_tree(tmp_path, random_volumes(4), [0, 1, 0, 1], ("a", "b"))
    (tmp_path / "a" / "notes.nii").write_text("not a volume\n" * 40)
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) - 200])  # the header is whole, the voxels are cut short
    with pytest.warns(SkippedFilesWarning, match="a/notes.nii"):
        stream = from_nifti(tmp_path, SHAPE, stream=True)
    assert len(stream) == 4 and stream.skipped == ("a/notes.nii",)
    with pytest.warns(SkippedFilesWarning, match="b/vol-003.nii.gz"):
        assert sum(len(x) for x, _ in stream) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"root": "missing"}, r"root: expected an existing folder of class sub-folders"),
        ({"root": "flat"}, r"root: expected one sub-folder per class .* found none \(it holds 1 NIfTI file"),
        ({"root": "empty-class"}, r"root: class folder 'b' .* holds no NIfTI file"),
        ({"class_names": ["a", "c"]}, r"class_names: expected names of class sub-folders .* no folder for \['c'\]"),
        ({"class_names": ["a", "a"]}, r"class_names: expected distinct"),
        ({"shape": (8, 8)}, r"shape: expected \(depth, height, width\) as three ints >= 4"),
        ({"shape": (2, 8, 8)}, r"shape: expected"),
        ({"shape": (8.0, 8, 8)}, r"shape: expected"),
        ({"spacing": (1, 1)}, r"spacing: expected the voxel spacing"),
        ({"spacing": (1, 0, 1)}, r"spacing: expected"),
        ({"spacing": "1mm"}, r"spacing: expected"),
        ({"window": (400, -1000)}, r"window: expected \(low, high\)"),
        ({"window": (0, float("nan"))}, r"window: expected"),
        ({"window": 400}, r"window: expected"),
        ({"percentiles": (50, 50)}, r"percentiles: expected \(low, high\) percentiles with 0 <= low < high <= 100"),
        ({"percentiles": (-1, 99)}, r"percentiles: expected"),
        ({"axes": "HW"}, r"axes: expected a permutation of the letters 'D', 'H' and 'W'"),
        ({"axes": "DHX"}, r"axes: expected a permutation"),
    ],
)
def test_bad_arguments_are_named(tree, tmp_path, change, message):
    arguments = {"root": tree[0], "shape": SHAPE, **change}
    if change.get("root") == "missing":
        arguments["root"] = tmp_path / "missing"
    elif change.get("root") == "flat":
        nib.save(nifti_image(random_volumes(1)[0]), str(tmp_path / "x.nii.gz"))
        arguments["root"] = tmp_path
    elif change.get("root") == "empty-class":
        write_nifti_tree(tmp_path, random_volumes(1), [0], ("a",))
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "notes.txt").write_text("to do")
        arguments["root"] = tmp_path
    with pytest.raises(InvalidInputError, match=message):
        from_nifti(arguments.pop("root"), **arguments)


def test_a_class_whose_files_are_all_unreadable_is_an_error_that_names_it(tmp_path):
    write_nifti_tree(tmp_path, random_volumes(1), [0], ("a",))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bad.nii").write_text("nope")
    with pytest.raises(
        InvalidInputError, match=r"class folder .b. .* no readable NIfTI volume \(b/bad.nii \(not a NIfTI"
    ):
        from_nifti(tmp_path, SHAPE)


def test_read_nifti_source_names_a_source_of_another_kind():
    with pytest.raises(InvalidInputError, match=r"source: expected a 'nifti' source; received a 'folder' source"):
        read_nifti_source({"reader": "folder", "root": "."}, ["x.png"])


def test_without_nibabel_the_error_says_what_to_install(tree, monkeypatch):
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "layerlens\[nifti\]"'):
        from_nifti(tree[0], SHAPE)
