"""layerlens.datasets.from_dicom: the challenge layout, slices ordered by position, intensities, skipped patients."""

from __future__ import annotations

import re
import sys
from contextlib import nullcontext

import numpy as np
import pytest
from _dicom import bar_column, slice_pixels, write_report, write_slice, write_stray, write_tree

from layerlens.datasets import from_dicom
from layerlens.exceptions import InvalidInputError, MissingDependencyError, SkippedFilesWarning

N_SLICES = 9


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """4 patients x 4 sequences x 9 slices; names and instance numbers shuffled against the positions."""
    root = tmp_path_factory.mktemp("dicom") / "train"
    return root, write_tree(root, 4, N_SLICES, seed=1)


def test_the_middle_slice_is_chosen_by_position_never_by_name_or_number(tree):
    root, csv = tree
    data = from_dicom(root, csv, image_size=32)
    assert data.images.shape == (4, 32, 32, 1) and data.images.dtype == np.float32
    assert data.labels.tolist() == [0, 1, 0, 1] and data.class_names == ("0", "1")
    assert data.name == "train FLAIR" and data.skipped == ()
    middle = bar_column(slice_pixels(N_SLICES // 2, N_SLICES)[..., None])
    assert [bar_column(image) for image in data.images] == [middle] * 4
    assert all(re.fullmatch(r"0000\d/FLAIR/Image-\d\.dcm", f) for f in data.files)
    assert data.metadata["patient"].tolist() == ["00000", "00001", "00002", "00003"]
    assert set(data.metadata["series"]) == {"FLAIR"} and data.metadata["position"].iloc[0] == "-30"
    assert 0.0 <= data.images.min() and data.images.max() == 1.0


def test_central_slices_come_in_anatomical_order_each_with_the_patients_label(tree):
    root, csv = tree
    data = from_dicom(root, csv, image_size=32, slices=3, sequence="t2w")  # the sequence's case is ignored
    expected = [bar_column(slice_pixels(i, N_SLICES)[..., None]) for i in (3, 4, 5)]
    assert [bar_column(image) for image in data.images] == expected * 4
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]
    assert {f.split("/")[1] for f in data.files} == {"T2w"}


def test_without_positions_the_instance_number_orders_the_slices(tmp_path):
    root = tmp_path / "train"
    for place, name in enumerate([5, 1, 4, 2, 3]):
        pixels = slice_pixels(place, 5)
        write_slice(root / "7" / "FLAIR" / f"{name}.dcm", pixels, position=None, number=10 + place)
    (tmp_path / "labels.csv").write_text("id,label\n007,glioma\n")
    data = from_dicom(root, tmp_path / "labels.csv", image_size=32)
    assert bar_column(data.images[0]) == bar_column(slice_pixels(2, 5)[..., None])
    assert data.class_names == ("glioma",)


def test_rescale_then_window_then_robust_scaling(tmp_path):
    """Stored 200 (background), 550 (patch) and 3000 (bar) are 300, 1000 and 5900 after slope 2, intercept -100."""
    pixels = np.full((32, 32), 200, np.uint16)
    pixels[4:12, 4:12] = 550
    pixels[:, 20:22] = 3000
    csv = tmp_path / "labels.csv"
    csv.write_text("id,label\n1,a\n2,a\n")
    write_slice(tmp_path / "t" / "1" / "FLAIR" / "x.dcm", pixels, position=0.0, number=1)
    # A window of 0..2000 in rescaled units clips the bar: the patch is then (1000 - 300) / (2000 - 300).
    write_slice(
        tmp_path / "t" / "2" / "FLAIR" / "x.dcm", pixels, position=0.0, number=1, WindowCenter=1000, WindowWidth=2000
    )
    plain, windowed = from_dicom(tmp_path / "t", csv, image_size=32).images[..., 0]
    assert plain[8, 8] == pytest.approx((1000 - 300) / (5900 - 300), abs=0.01)
    assert windowed[8, 8] == pytest.approx((1000 - 300) / (2000 - 300), abs=0.01)
    assert plain[0, 0] == windowed[0, 0] == 0.0 and plain[0, 20] == windowed[0, 20] == 1.0


def test_patients_that_cannot_be_read_are_left_out_with_one_warning(tmp_path):
    root = tmp_path / "train"
    csv = write_tree(root, 5, 5, sequences=("FLAIR",))
    broken = next((root / "00001" / "FLAIR").iterdir())
    broken.write_bytes(b"DICM? no, a truncated download")
    (root / "00002" / "FLAIR").rename(root / "00002" / "T1w")
    (root / "00099" / "FLAIR").mkdir(parents=True)  # a patient the CSV does not know
    with open(csv, "a") as extra:
        extra.write("123,1\n")  # a labelled patient without a folder
    with pytest.warns(SkippedFilesWarning) as caught:
        data = from_dicom(root, csv, image_size=16)
    assert data.labels.tolist() == [0, 1, 0]  # patients 0, 3 and 4
    assert [f.split("/")[0] for f in data.files] == ["00000", "00003", "00004"]
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"00001 (unreadable slice {broken.name})" in message and "00002 (no FLAIR series)" in message
    assert "00099 (no label in" in message and "without a folder: 123" in message
    assert len(data.skipped) == 4 and list(caught[0].message.files) == list(data.skipped)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"root": "missing"}, r"root: expected a folder of patient folders"),
        ({"labels_csv": "missing.csv"}, r"labels_csv: expected a CSV file"),
        ({"id_column": "patient"}, r"id_column: expected one of the CSV's columns \['BraTS21ID', 'MGMT_value'\]"),
        ({"label_column": "grade"}, r"label_column: expected one of the CSV's columns"),
        ({"slices": "top"}, r"slices: expected 'middle' or a number of central slices"),
        ({"slices": 0}, r"slices: "),
        ({"slices": 10}, r"root: expected patients with a readable FLAIR series"),
        ({"sequence": "DWI"}, r"root: expected patients with a readable DWI series"),
        ({"class_names": ["1"]}, r"class_names: expected every label of the CSV among \['1'\]; \['0'\] are not"),
        ({"image_size": 2}, r"image_size: expected"),
    ],
)
def test_bad_arguments_are_named(tree, tmp_path, change, message):
    root, csv = tree
    arguments = {"root": root, "labels_csv": csv, "image_size": 16, **change}
    for key in ("root", "labels_csv"):
        if arguments[key] in ("missing", "missing.csv"):
            arguments[key] = tmp_path / arguments[key]
    with pytest.warns(SkippedFilesWarning) if change.get("slices") == 10 or "sequence" in change else nullcontext():
        with pytest.raises(InvalidInputError, match=message):
            from_dicom(arguments.pop("root"), arguments.pop("labels_csv"), **arguments)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,label,site\n1,0,a\n", r"label_column: expected the name of the label column among \['label', 'site'\]"),
        ("id,label\n1,0\n1,1\n", r"labels_csv: expected each patient once; \['1'\] appear more than once"),
        ("id,label\n1,\n", r"labels_csv: expected an id and a label on every row; lines \[2\] miss one"),
    ],
)
def test_bad_label_files_are_named(tree, tmp_path, text, message):
    csv = tmp_path / "labels.csv"
    csv.write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        from_dicom(tree[0], csv)


def test_without_pydicom_the_error_says_what_to_install(tree, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "layerlens\[dicom\]"'):
        from_dicom(*tree)


def test_of_an_even_number_of_slices_the_upper_middle_one_is_taken(tmp_path):
    root = tmp_path / "train"
    csv = write_tree(root, 1, 6, sequences=("FLAIR",))
    (image,) = from_dicom(root, csv, image_size=32).images
    assert bar_column(image) == bar_column(slice_pixels(3, 6)[..., None])
    four = from_dicom(root, csv, image_size=32, slices=4).images
    assert [bar_column(i) for i in four] == [bar_column(slice_pixels(p, 6)[..., None]) for p in (1, 2, 3, 4)]


@pytest.fixture
def series_tree(tmp_path):
    """3 patients with a FLAIR series of 5 slices, and the images both loaders read from them."""
    root = tmp_path / "train"
    csv = write_tree(root, 3, 5, sequences=("FLAIR",))
    return root, csv, from_dicom(root, csv, image_size=16, slices=3)


def load_both(root, csv, warned):
    """The in-memory set and the streamed one, each under ``warned`` (a context that checks their warning)."""
    with warned() as memory_warning:
        loaded = from_dicom(root, csv, image_size=16, slices=3)
    with warned() as stream_warning:
        stream = from_dicom(root, csv, image_size=16, slices=3, stream=True)
    return loaded, stream, [memory_warning, stream_warning]


@pytest.mark.parametrize(
    "name, why",
    [
        ("notes.txt", "not a DICOM file"),
        ("preview.jpg", "not a DICOM file"),
        ("preview.png", "not a DICOM file"),
        ("Thumbs.db", "not a DICOM file"),
        ("README", "not a DICOM file"),
        ("report.dcm", "not a DICOM image: Basic Text SR Storage"),
    ],
    ids=["text-note", "jpeg-preview", "png-preview", "thumbnail-cache", "readme-without-suffix", "structured-report"],
)
def test_a_stray_file_in_a_series_is_skipped_and_named_and_its_patient_kept(series_tree, name, why):
    root, csv, clean = series_tree
    stray = root / "00001" / "FLAIR" / name
    (write_report if name.endswith(".dcm") else write_stray)(stray)
    line = f"00001/FLAIR/{name} ({why})"
    message = rf"^Skipped 1 file\(s\) that are not DICOM images in '.*train': {re.escape(line)}\.$"
    loaded, stream, caught = load_both(root, csv, lambda: pytest.warns(SkippedFilesWarning, match=message))
    assert loaded.files == stream.files == clean.files
    np.testing.assert_array_equal(loaded.images, clean.images)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in stream.batches(4)]), clean.images)
    np.testing.assert_array_equal(stream.labels, loaded.labels)
    assert loaded.skipped == stream.skipped == (line,)
    assert [w[0].message.files for w in caught] == [(line,), (line,)]


@pytest.mark.parametrize(
    "name", [".DS_Store", "._Image-1.dcm"], ids=["finder-folder-settings", "apple-double-of-a-slice"]
)
def test_a_hidden_file_in_a_series_is_ignored_without_a_word(series_tree, name):
    root, csv, clean = series_tree
    write_stray(root / "00001" / "FLAIR" / name)
    loaded, stream, _ = load_both(root, csv, nullcontext)  # the suite turns any layerlens warning into an error
    assert loaded.files == stream.files == clean.files and loaded.skipped == stream.skipped == ()
    np.testing.assert_array_equal(loaded.images, clean.images)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in stream.batches(4)]), clean.images)


def test_slices_without_a_suffix_are_read_by_their_content(series_tree):
    root, csv, clean = series_tree
    for path in list(root.glob("*/FLAIR/*.dcm")):
        path.rename(path.with_suffix(""))
    data = from_dicom(root, csv, image_size=16, slices=3)
    np.testing.assert_array_equal(data.images, clean.images)
    assert [f.removesuffix(".dcm") for f in clean.files] == list(data.files)


@pytest.mark.parametrize(
    "content", [b"", b"DICM? no, a copy cut short"], ids=["empty-slice-file", "slice-file-without-signature"]
)
def test_a_file_named_as_a_slice_that_is_not_dicom_still_leaves_its_patient_out(series_tree, content):
    root, csv, _ = series_tree
    broken = root / "00001" / "FLAIR" / "Image-3.dcm"
    broken.write_bytes(content)
    line = "00001 (unreadable slice Image-3.dcm)"
    loaded, stream, _ = load_both(
        root, csv, lambda: pytest.warns(SkippedFilesWarning, match=rf"Left out 1 patient\(s\) of .*{re.escape(line)}")
    )
    assert {f.split("/")[0] for f in loaded.files} == {f.split("/")[0] for f in stream.files} == {"00000", "00002"}
    assert loaded.skipped == stream.skipped == (line,)


def test_stray_files_and_patients_left_out_share_the_one_warning(series_tree):
    root, csv, _ = series_tree
    write_stray(root / "00000" / "FLAIR" / "notes.txt")
    write_stray(root / "00001" / "FLAIR" / "Thumbs.db")
    (root / "00002" / "FLAIR").rename(root / "00002" / "T2w")
    expected = (
        "00002 (no FLAIR series)",
        "00000/FLAIR/notes.txt (not a DICOM file)",
        "00001/FLAIR/Thumbs.db (not a DICOM file)",
    )
    message = (
        r"^Left out 1 patient\(s\) of '.*train': 00002 \(no FLAIR series\)\. Skipped 2 file\(s\) that are not "
        r"DICOM images: 00000/FLAIR/notes\.txt \(not a DICOM file\); 00001/FLAIR/Thumbs\.db \(not a DICOM file\)\.$"
    )
    loaded, stream, caught = load_both(root, csv, lambda: pytest.warns(SkippedFilesWarning, match=message))
    assert loaded.labels.tolist() == [0, 0, 0, 1, 1, 1] and loaded.files == stream.files
    assert loaded.skipped == stream.skipped == expected
    assert [w[0].message.files for w in caught] == [expected, expected]


def test_a_series_of_stray_files_only_leaves_its_patient_out_and_says_why(series_tree):
    root, csv, _ = series_tree
    for path in (root / "00001" / "FLAIR").iterdir():
        path.unlink()
    write_stray(root / "00001" / "FLAIR" / "notes.txt")
    line = "00001 (0 slice(s), 3 asked for (besides 1 file(s) that are not DICOM images))"
    with pytest.warns(SkippedFilesWarning, match=re.escape(line)) as caught:
        data = from_dicom(root, csv, image_size=16, slices=3)
    assert data.skipped == (line,) and caught[0].message.files == (line,)


def test_a_slice_whose_pixels_cannot_be_decoded_leaves_out_its_patient_or_only_itself_when_streamed(series_tree):
    root, csv, clean = series_tree
    broken = root / clean.files[4]  # the middle slice of patient 00001
    broken.write_bytes(broken.read_bytes()[:-200])  # pixel data cut short; the header still reads
    with pytest.warns(SkippedFilesWarning, match=r"Left out 1 patient\(s\) of .*00001 \(unreadable pixels: "):
        loaded = from_dicom(root, csv, image_size=16, slices=3)
    assert [f.split("/")[0] for f in loaded.files] == ["00000"] * 3 + ["00002"] * 3
    stream = from_dicom(root, csv, image_size=16, slices=3, stream=True)
    assert stream.files == clean.files and stream.skipped == ()
    with pytest.warns(SkippedFilesWarning, match=rf"Skipped 1 file\(s\).*{re.escape(clean.files[4])}"):
        assert len(np.concatenate([x for x, _ in stream.batches(4)])) == 8
