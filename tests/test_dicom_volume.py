"""from_dicom(..., slices="volume"): whole series stacked by position, spacing from the headers, one layout."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
from _dicom import write_slice, write_tree

from layerlens.datasets import ImageSet, ImageStream, from_dicom
from layerlens.exceptions import InvalidInputError, SkippedFilesWarning

pytest.importorskip("pydicom")

N_SLICES = 7
#: Stored value of slice ``p`` (in position order) is 100 + 50 p: after slope 2 and intercept -100, 100 + 100 p.
WINDOW = (100.0, 100.0 + 100.0 * (N_SLICES - 1))


def slice_of(place: int, size: int = 12) -> np.ndarray:
    """A slice whose every pixel tells its place in the series, with a mark in its first row and column."""
    pixels = np.full((size, size), 100 + 50 * place, np.uint16)
    pixels[0, 0] = 100 + 50 * (N_SLICES - 1)  # the top left corner: the brightest value
    return pixels


def write_series(root, patients=(0, 1), *, seed=0, orientation=(1, 0, 0, 0, 1, 0), step=2.5):
    """Series ``<patient>/FLAIR/`` of :data:`N_SLICES` slices whose file names and instance numbers are shuffled
    against their positions; returns the labels CSV."""
    rng = np.random.default_rng(seed)
    normal = np.cross(orientation[:3], orientation[3:])
    for patient in patients:
        names, numbers = rng.permutation(N_SLICES), rng.permutation(N_SLICES) + 1
        for place in range(N_SLICES):
            write_slice(
                root / f"{patient:05d}" / "FLAIR" / f"IM{names[place]:03d}.dcm",
                slice_of(place),
                position=None,
                number=int(numbers[place]),
                ImagePositionPatient=[float(v) for v in (-10.0 + step * place) * normal],
                ImageOrientationPatient=list(orientation),
                PixelSpacing=[0.5, 0.5],
            )
    csv = root.parent / f"{root.name}.csv"
    csv.write_text("id,label\n" + "".join(f"{p},{'ab'[p % 2]}\n" for p in patients))
    return csv


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    root = tmp_path_factory.mktemp("dicom_volume") / "train"
    return root, write_series(root)


def test_a_series_is_stacked_in_position_order_never_by_file_name_or_number(series):
    root, csv = series
    data = from_dicom(root, csv, slices="volume", shape=(N_SLICES, 12, 12), window=WINDOW)
    assert isinstance(data, ImageSet) and data.is_volume and data.axes == "DHW"
    assert data.images.shape == (2, N_SLICES, 12, 12, 1) and data.images.dtype == np.float32
    assert data.files == ("00000/FLAIR", "00001/FLAIR") and data.class_names == ("a", "b")
    assert data.labels.tolist() == [0, 1] and data.skipped == ()
    assert data.metadata.to_dict("list") == {
        "patient": ["00000", "00001"],
        "series": ["FLAIR"] * 2,
        "slices": ["7"] * 2,
    }
    expected = np.arange(N_SLICES) / (N_SLICES - 1)  # slice p is 100 + 100 p in the window 100 .. 700
    for volume in data.images[..., 0]:
        np.testing.assert_allclose(volume[:, 5, 5], expected, atol=1e-6)
        assert (volume[:, 0, 0] == 1.0).all()


def test_by_default_the_volume_is_scaled_by_its_percentiles_and_resized(series):
    root, csv = series
    data = from_dicom(root, csv, slices="volume", image_size=8)  # shape (64, 8, 8)
    assert data.images.shape == (2, 64, 8, 8, 1)
    profile = data.images[0, :, 4, 4, 0]
    assert profile[0] == 0.0 and profile[-1] == 1.0 and (np.diff(profile) >= 0).all()
    cube = from_dicom(root, csv, slices="volume", shape=16)
    assert cube.images.shape == (2, 16, 16, 16, 1)


def test_the_spacing_of_the_headers_resamples_the_volume(series):
    """7 slices 2.5 mm apart and 12 pixels of 0.5 mm: at 1.25 mm they are 14 slices and 5 rows (cropped to 4)."""
    root, csv = series
    data = from_dicom(root, csv, slices="volume", shape=(16, 4, 4), spacing=(1.25, 1.25, 1.25), window=WINDOW)
    profile = data.images[0, :, 2, 2, 0]
    assert profile[0] == 0.0 and profile[-1] == 0.0  # one padded slice at each end
    assert (np.diff(profile[1:-1]) > 0).all() and profile[1] == pytest.approx(0.0, abs=0.05)


def test_axes_orders_the_volumes_and_a_stream_reads_the_same(series):
    root, csv = series
    arguments = {"slices": "volume", "shape": (N_SLICES, 12, 10), "window": WINDOW}
    eager = from_dicom(root, csv, **arguments)
    moved = from_dicom(root, csv, axes="HWD", **arguments)
    assert moved.axes == "HWD" and moved.images.shape == (2, 12, 10, N_SLICES, 1)
    np.testing.assert_array_equal(moved.images, np.transpose(eager.images, (0, 2, 3, 1, 4)))
    stream = from_dicom(root, csv, stream=True, axes="HWD", **arguments)
    assert isinstance(stream, ImageStream) and stream.image_shape == (12, 10, N_SLICES, 1) and stream.axes == "HWD"
    assert stream.files == moved.files and stream.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in stream.batches(1)]), moved.images)
    assert stream.load().axes == "HWD"


def test_a_series_stored_flipped_is_brought_to_the_same_layout(tmp_path):
    """Rows running to the patient's right (orientation -1, 0, 0) and a normal pointing down (slice 0 at the top):
    the columns and the slices are flipped into the layout, the first stored column on the patient's right."""
    plain = from_dicom(tmp_path / "x", write_series(tmp_path / "x"), slices="volume", shape=(7, 12, 12), window=WINDOW)
    csv = write_series(tmp_path / "y", orientation=(-1, 0, 0, 0, 1, 0))
    flipped = from_dicom(tmp_path / "y", csv, slices="volume", shape=(7, 12, 12), window=WINDOW)
    np.testing.assert_array_equal(flipped.images, plain.images[:, ::-1, :, ::-1])
    assert (flipped.images[:, :, 0, -1] == 1.0).all()


def test_a_coronal_series_becomes_axial_slices(tmp_path):
    """Coronal slices (rows along x, columns down z, stacked front to back) are brought to (D, H, W)."""
    csv = write_series(tmp_path / "c", orientation=(1, 0, 0, 0, 0, -1))
    data = from_dicom(tmp_path / "c", csv, slices="volume", shape=(12, 7, 12), window=WINDOW)
    volume = data.images[0, ..., 0]
    # Slices along +y (posterior) become H; the stored rows (running down, to the feet) become D, flipped.
    np.testing.assert_allclose(volume[5, :, 5], np.arange(N_SLICES) / (N_SLICES - 1), atol=1e-6)
    assert (volume[-1, :, 0] == 1.0).all()  # the first stored row is the top


def test_series_that_cannot_make_a_volume_leave_their_patient_out_with_one_warning(tmp_path):
    root = tmp_path / "train"
    csv = write_tree(root, 3, 4, sequences=("FLAIR",))
    for extra in list((root / "00001" / "FLAIR").iterdir())[1:]:
        extra.unlink()  # one slice is no volume
    with pytest.warns(SkippedFilesWarning, match=r"00001 \(1 slice\(s\), a volume needs at least 2\)"):
        data = from_dicom(root, csv, slices="volume", shape=(4, 8, 8))
    assert data.files == ("00000/FLAIR", "00002/FLAIR") and len(data.skipped) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slices": "middle", "shape": (4, 8, 8)}, r"shape: only read with slices='volume'"),
        ({"slices": 3, "window": (0, 1)}, r"window: only read with slices='volume'"),
        ({"slices": "middle", "spacing": 1.0}, r"spacing: only read with slices='volume'"),
        ({"slices": "middle", "axes": "HWD"}, r"axes: only read with slices='volume'"),
        ({"slices": "middle", "percentiles": (1, 99)}, r"percentiles: only read with slices='volume'"),
        ({"slices": "volumes"}, r"slices: expected 'middle' or a number of central slices, or 'volume'"),
        ({"shape": (8, 8)}, r"shape: expected \(depth, height, width\)"),
        ({"spacing": -1}, r"spacing: expected the voxel spacing"),
        ({"window": (1, 0)}, r"window: expected \(low, high\)"),
        ({"percentiles": (0, 101)}, r"percentiles: expected"),
        ({"axes": "DH"}, r"axes: expected a permutation"),
        ({"image_size": 2}, r"image_size: expected"),
        ({"sequence": "DWI"}, r"root: expected patients with a readable DWI series"),
    ],
)
def test_bad_arguments_are_named(series, change, message):
    root, csv = series
    arguments = {"slices": "volume", **change}
    with pytest.warns(SkippedFilesWarning) if "sequence" in change else nullcontext():
        with pytest.raises(InvalidInputError, match=message):
            from_dicom(root, csv, **arguments)
