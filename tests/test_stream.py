"""ImageStream: folders and DICOM trees read batch by batch, and analyze over them."""

import shutil
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _dicom import write_tree
from _images import write_class_folders
from skimage import io

import layerlens as ll
from layerlens.datasets import ImageSet, ImageStream, from_dicom, from_directory, match_shape
from layerlens.exceptions import InvalidInputError, SkippedFilesWarning

# Two computations of the same float32 features (one batch layout each) agree to this.
FEATURE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, digits):
    """120 of the test digits as 8-bit PNGs, one folder per class (file names by position, zero-padded)."""
    return write_class_folders(tmp_path_factory.mktemp("digit_folder") / "digits", digits[1], 120)


@pytest.fixture(scope="module")
def in_memory(digit_folder):
    return from_directory(digit_folder, image_size=16, color_mode="grayscale")


def _copy_with_a_damaged_file(digit_folder, tmp_path, folder, position=0):
    """A copy of the digit folder whose ``position``-th PNG of ``folder`` keeps its header but loses its pixels."""
    root = tmp_path / "digits"
    shutil.copytree(digit_folder, root)
    broken = sorted((root / folder).glob("*.png"))[position]
    broken.write_bytes(broken.read_bytes()[:60])
    return root, broken.relative_to(root).as_posix()


class _CountingReader:
    """A reader that counts the files it decoded."""

    def __init__(self, reader):
        self.reader, self.calls = reader, 0

    def __call__(self, path):
        self.calls += 1
        return self.reader(path)


def test_a_stream_lists_the_same_files_and_reads_the_same_images(digit_folder, in_memory):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    assert isinstance(stream, ImageStream) and len(stream) == len(in_memory) == 120
    assert stream.files == in_memory.files and stream.class_names == in_memory.class_names
    np.testing.assert_array_equal(stream.labels, in_memory.labels)
    assert stream.image_shape == (16, 16, 1) and stream.name == "digits"
    batches = list(stream.batches(50))
    assert [len(x) for x, _ in batches] == [50, 50, 20]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), in_memory.images)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), in_memory.labels)
    loaded = stream.load()
    assert isinstance(loaded, ImageSet) and loaded.files == in_memory.files
    np.testing.assert_array_equal(loaded.images, in_memory.images)


def test_files_are_decoded_only_as_their_batch_is_asked_for(digit_folder):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    counting = _CountingReader(stream.reader)
    batches = replace(stream, reader=counting).batches(32)
    assert counting.calls == 0
    next(batches)
    assert counting.calls == 32  # one batch in memory, not the folder
    next(batches)
    assert counting.calls == 64


def test_analyze_of_a_stream_equals_analyze_of_the_loaded_set(sequential_model, digit_folder, in_memory):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    options = dict(n_clusters=3, explain=2, explain_methods=("gradcam",), progress=False, batch_size=32)
    from_stream = ll.analyze(sequential_model, stream, **options)
    loaded = ll.analyze(sequential_model, in_memory, **options)
    assert from_stream.name == loaded.name == "digits"
    assert from_stream.files == loaded.files
    np.testing.assert_array_equal(from_stream.labels, loaded.labels)
    np.testing.assert_allclose(from_stream.probabilities, loaded.probabilities, atol=FEATURE_TOLERANCE)
    for a, b in zip(from_stream.layers, loaded.layers):
        np.testing.assert_allclose(a.features, b.features, atol=FEATURE_TOLERANCE)
    np.testing.assert_array_equal(from_stream.thumbnails, loaded.thumbnails)
    # The images to explain are read again from their files, the same ones.
    assert [e.image_index for e in from_stream.explanations] == [e.image_index for e in loaded.explanations]
    for a, b in zip(from_stream.explanations, loaded.explanations):
        np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-3)


def test_an_unreadable_file_found_during_the_pass_is_left_out_everywhere(sequential_model, digit_folder, tmp_path):
    root, gone = _copy_with_a_damaged_file(digit_folder, tmp_path, "3", position=1)
    stream = from_directory(root, image_size=16, color_mode="grayscale", stream=True)
    assert len(stream) == 120  # listing does not decode
    stream = replace(stream, metadata=pd.DataFrame({"scanner": [f"s{i % 7}" for i in range(120)]}))
    with pytest.warns(SkippedFilesWarning, match=rf"Skipped 1 file\(s\).*{gone}") as caught:
        analysis = ll.analyze(sequential_model, stream, n_clusters=3, explain=0, progress=False)
    assert [w.message.files for w in caught if w.category is SkippedFilesWarning] == [(gone,)]
    assert analysis.n_images == 119 and gone not in analysis.files
    kept = [f for f in stream.files if f != gone]
    assert list(analysis.files) == kept
    np.testing.assert_array_equal(analysis.labels, [stream.labels[stream.files.index(f)] for f in kept])
    assert analysis.metadata["scanner"].tolist() == [f"s{stream.files.index(f) % 7}" for f in kept]
    # Metadata given per listed file is taken at the rows that could be read, as a table or as columns.
    for given in (pd.DataFrame({"site": stream.files}), {"site": list(stream.files)}):
        with pytest.warns(SkippedFilesWarning):
            again = ll.analyze(sequential_model, stream, metadata=given, n_clusters=3, explain=0, progress=False)
        assert again.metadata["site"].tolist() == kept


def test_a_stream_splits_as_the_loaded_set_does(digit_folder, in_memory):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    streamed, loaded = stream.split(0.25, seed=3), in_memory.split(0.25, seed=3)
    assert isinstance(streamed.test, ImageStream)
    assert streamed.train.files == loaded.train.files and streamed.test.files == loaded.test.files
    np.testing.assert_array_equal(streamed.test.labels, loaded.test.labels)
    np.testing.assert_array_equal(streamed.test.read([0, 5]), loaded.test.images[[0, 5]])


def test_channels_are_converted_on_reading(digit_folder, in_memory):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True).with_channels(3)
    assert stream.image_shape == (16, 16, 3)
    x, _ = next(stream.batches(4))
    np.testing.assert_array_equal(x, np.repeat(in_memory.images[:4], 3, axis=-1))
    assert stream.with_channels(3) is stream
    with pytest.raises(InvalidInputError, match="channels: expected 1 or 3; received 2"):
        stream.with_channels(2)
    # Colour to gray as match_shape turns a loaded set gray, so a stream reads as its loaded set.
    colour = from_directory(digit_folder, image_size=16, color_mode="rgb", stream=True)
    x, _ = next(colour.with_channels(1).batches(4))
    np.testing.assert_allclose(x, match_shape(next(colour.batches(4))[0], in_memory.images[:1]), atol=1e-6)


def test_bad_streams_are_named(digit_folder, tmp_path, sequential_model):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    with pytest.raises(InvalidInputError, match="batch_size: expected a positive integer; received 0"):
        next(stream.batches(0))
    with pytest.raises(InvalidInputError, match="metadata: expected 120 rows, one per file; received 2"):
        replace(stream, metadata=np.zeros(2))
    with pytest.raises(InvalidInputError, match=r"labels: expected 120 integer labels"):
        replace(stream, labels=np.zeros(3, np.int64))
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    io.imsave(empty / "a" / "x.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    (empty / "b" / "notes.txt").write_text("not an image")
    with pytest.raises(InvalidInputError, match="path: class folder 'b' .* holds no readable image"):
        from_directory(empty, stream=True)
    with pytest.raises(InvalidInputError, match="probes: expected images without labels.*received an ImageStream"):
        ll.analyze(sequential_model, stream, probes=stream, progress=False, explain=0)


def test_a_dicom_stream_reads_the_slices_the_loaded_set_holds(tmp_path):
    pytest.importorskip("pydicom")
    root = tmp_path / "train"
    csv = write_tree(root, 5, 7, sequences=("FLAIR",))
    loaded = from_dicom(root, csv, slices=3, image_size=16)
    stream = from_dicom(root, csv, slices=3, image_size=16, stream=True)
    assert isinstance(stream, ImageStream) and stream.files == loaded.files
    np.testing.assert_array_equal(stream.labels, loaded.labels)
    assert stream.metadata.equals(loaded.metadata)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in stream.batches(4)]), loaded.images)


def test_a_dicom_stream_leaves_out_only_the_slice_it_cannot_decode(tmp_path):
    pytest.importorskip("pydicom")
    root = tmp_path / "train"
    csv = write_tree(root, 3, 5, sequences=("FLAIR",))
    stream = from_dicom(root, csv, slices=3, image_size=16, stream=True)
    broken = root / stream.files[4]
    broken.write_bytes(broken.read_bytes()[:-200])  # pixel data cut short; the header still reads
    kept: list[int] = []
    with pytest.warns(SkippedFilesWarning, match=stream.files[4]):
        images = np.concatenate([x for x, _ in stream.batches(4, kept=kept)])
    assert len(images) == 8 and kept == [0, 1, 2, 3, 5, 6, 7, 8]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)
        list(stream.subset(kept).batches(4))  # the readable rest reads without a word


def test_files_that_are_no_images_are_left_out_when_listed_and_the_split_is_the_loaded_one(digit_folder, tmp_path):
    root = tmp_path / "digits"
    shutil.copytree(digit_folder, root)
    (root / "3" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 a thumbnail cache")
    (root / "7" / "scan.json").write_text('{"scanner": "GE"}')
    (root / "labels.csv").write_text("file,label\n")
    with pytest.warns(SkippedFilesWarning, match=r"Skipped 3 file\(s\).*labels.csv.*3/Thumbs.db.*7/scan.json"):
        stream = from_directory(root, image_size=16, color_mode="grayscale", stream=True)
    with pytest.warns(SkippedFilesWarning):
        loaded = from_directory(root, image_size=16, color_mode="grayscale")
    assert stream.files == loaded.files and stream.skipped == loaded.skipped
    streamed, split = stream.split(0.3, seed=1), loaded.split(0.3, seed=1)
    assert streamed.test.files == split.test.files and streamed.train.files == split.train.files


def test_labels_and_metadata_for_a_stream_are_checked_before_any_file_is_read(sequential_model, digit_folder):
    stream = from_directory(digit_folder, image_size=16, color_mode="grayscale", stream=True)
    counting = _CountingReader(stream.reader)
    stream = replace(stream, reader=counting)
    with pytest.raises(InvalidInputError, match="labels: expected 120 labels"):
        ll.analyze(sequential_model, stream, labels=stream.labels[:-1], progress=False, explain=0)
    with pytest.raises(InvalidInputError, match="metadata: expected 120 rows"):
        ll.analyze(sequential_model, stream, metadata={"site": ["a"] * 119}, progress=False, explain=0)
    assert counting.calls == 0


def test_labels_given_per_listed_file_follow_the_files_that_could_be_read(sequential_model, digit_folder, tmp_path):
    root, damaged = _copy_with_a_damaged_file(digit_folder, tmp_path, "5")
    stream = from_directory(root, image_size=16, color_mode="grayscale", stream=True)
    gone = stream.files.index(damaged)
    given = stream.labels.copy()
    given[::7] = (given[::7] + 1) % 10  # some other labels than the folders', to see them used
    with pytest.warns(SkippedFilesWarning):
        analysis = ll.analyze(sequential_model, stream, labels=given, n_clusters=3, explain=0, progress=False)
    np.testing.assert_array_equal(analysis.labels, np.delete(given, gone))


def test_unreadable_files_are_reported_after_the_progress_line_ends(
    sequential_model, digit_folder, tmp_path, monkeypatch
):
    from layerlens._util.progress import Progress
    from layerlens.model import _extract as extract_module

    root, _ = _copy_with_a_damaged_file(digit_folder, tmp_path, "1")
    events = []
    close = Progress.close
    monkeypatch.setattr(Progress, "close", lambda self: (events.append("line ended"), close(self))[1])
    stream = from_directory(root, image_size=16, color_mode="grayscale", stream=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kwargs: events.append(type(message).__name__)
        extraction = extract_module.extract(sequential_model, stream, layers=["conv1"], batch_size=32)
    assert events == ["line ended", "SkippedFilesWarning"]
    # The arrays hold the 119 rows read, not a view of room for the 120 listed.
    assert len(extraction.outputs) == 119
    assert extraction.features[0].base is None and extraction.thumbnails.base is None
