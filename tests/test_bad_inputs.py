"""The README's table of bad inputs, row by row: each input gets the message the table shows.

Rows are keyed by their first cell; ``test_the_readme_table_lists_every_row`` keeps the table and this file in step.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from _dicom import write_tree
from skimage import io

import layerlens as ll
from layerlens.app.workflows import load_model
from layerlens.exceptions import (
    ChannelWarning,
    InvalidInputError,
    InvalidTypeError,
    PixelScaleWarning,
    RunFormatError,
    SkippedFilesWarning,
    UnreliableAnalysisWarning,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def _analyze(model, images, labels=None, **options):
    return ll.analyze(model, images, labels, explain=0, progress=False, **options)


def _lambda_file(folder: Path) -> Path:
    inputs = keras.Input((16, 16, 1))
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(doubled))
    keras.Model(inputs, outputs).save(folder / "lambda.keras")
    return folder / "lambda.keras"


def _broken_folder(folder: Path) -> Path:
    for name in ("glioma", "meningioma"):
        (folder / name).mkdir(parents=True)
        io.imsave(folder / name / "a.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    (folder / "glioma" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return folder


def _damaged_run(folder: Path, source: Path) -> Path:
    run = folder / "run"
    shutil.copytree(source, run)
    data = bytearray((run / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "arrays.npz").write_bytes(bytes(data))
    return run


def _occupied(folder: Path) -> Path:
    (folder / "notes.txt").write_text("mine")
    return folder


def _dicom_without_flair(folder: Path) -> tuple[Path, Path]:
    csv = write_tree(folder / "train", 2, 3, sequences=("FLAIR",))
    (folder / "train" / "00001" / "FLAIR").rename(folder / "train" / "00001" / "T2w")
    return folder / "train", csv


# Each row: its first cell in the README table, what raises it, the error or warning, and the message's start.
ERRORS = {
    "images of another size": (
        lambda m, d, t, r: _analyze(m, d.images[:20, :8, :8]),
        InvalidInputError,
        r"images: expected shape (N, 16, 16, 1) to match the model's input; batch 0 has shape (20, 8, 8, 1).",
    ),
    "one image instead of a batch": (
        lambda m, d, t, r: _analyze(m, d.images[0]),
        InvalidInputError,
        r"images: expected batches of shape (N, 16, 16, 1); received one image of shape (16, 16, 1)",
    ),
    "NaN or infinite pixels": (
        lambda m, d, t, r: _analyze(m, np.where(d.images[:20] > 0.5, np.nan, d.images[:20])),
        InvalidInputError,
        "images: batch 0 contains NaN or infinite values.",
    ),
    "a folder path as images": (
        lambda m, d, t, r: _analyze(m, "Testing/"),
        InvalidTypeError,
        "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
        "received the str 'Testing/'",
    ),
    "fewer labels than images": (
        lambda m, d, t, r: _analyze(m, d.images[:20], d.labels[:5]),
        InvalidInputError,
        "labels: expected 20 labels, one per image; received 5.",
    ),
    "labels beyond the classes": (
        lambda m, d, t, r: _analyze(m, d.images[:20], d.labels[:20] + 10),
        InvalidInputError,
        "labels: expected values in 0..9 (one per class name); received range 10..19.",
    ),
    "class_names of the wrong length": (
        lambda m, d, t, r: _analyze(m, d.images[:20], class_names=["a", "b"]),
        InvalidInputError,
        "class_names: the model predicts 10 classes, so class_names needs 10 names; received 2",
    ),
    "a misspelt layer name": (
        lambda m, d, t, r: _analyze(m, d.images[:20], layers=["nope"]),
        InvalidInputError,
        "layers: unknown layer name(s) ['nope']; available layers: conv1, pool1",
    ),
    "probes with labels": (
        lambda m, d, t, r: _analyze(m, d.images[:20], probes=(d.images[:5], d.labels[:5])),
        InvalidInputError,
        "probes: expected images without labels",
    ),
    "a model file with a Lambda layer": (
        lambda m, d, t, r: load_model(_lambda_file(t)),
        InvalidInputError,
        "holds Python code that would run as it loads (a Lambda layer), which Keras' safe mode refuses; if you "
        "trust where the file came from, allow it with --unsafe",
    ),
    "a TensorFlow SavedModel folder": (
        lambda m, d, t, r: load_model(t),
        InvalidInputError,
        "is a folder (a TensorFlow SavedModel?), which Keras 3 does not read",
    ),
    "a damaged run folder": (
        lambda m, d, t, r: ll.load(_damaged_run(t, r)),
        RunFormatError,
        "is corrupt (its SHA-256 does not match the manifest)",
    ),
    "a site folder that holds other files": (
        lambda m, d, t, r: ll.build_site([r], out=_occupied(t)),
        InvalidInputError,
        "is a folder that holds other files, not an earlier layerlens site",
    ),
}
WARNINGS = {
    "0..255 images for a model trained on [0, 1]": (
        lambda m, d, t, r: _analyze(m, d.images[:20] * 255),
        PixelScaleWarning,
        "images: pixel values reach 255, but the model passes pixel values unchanged before its first learned layer",
    ),
    "grayscale images for an RGB model": (
        lambda m, d, t, r: _quietly(_analyze, _rgb_model(), d.images[:20]),
        ChannelWarning,
        "images: received grayscale images to a colour model (1 and 3 channels); they were repeated into its 3",
    ),
    "a model that predicts one class for every image": (
        lambda m, d, t, r: _analyze(_one_class_model(), d.images[:30], d.labels[:30]),
        UnreliableAnalysisWarning,
        "images: this analysis cannot be right: the model predicted 'class 3' for 30 of 30 images (100%)",
    ),
    "unreadable files in an image folder": (
        lambda m, d, t, r: ll.datasets.from_directory(_broken_folder(t), image_size=8),
        SkippedFilesWarning,
        "Skipped 1 file(s) that could not be read as images: glioma/broken.jpg.",
    ),
    "a DICOM patient without the sequence": (
        lambda m, d, t, r: ll.datasets.from_dicom(*_dicom_without_flair(t), image_size=8),
        SkippedFilesWarning,
        "Left out 1 patient(s) of",
    ),
}


def _quietly(call, *args):
    """``call(*args)`` without the warning that an untrained model's predictions cannot be right."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableAnalysisWarning)
        return call(*args)


def _one_class_model():
    """A model whose head always answers class 3: what a model fed the wrong pixel range often does."""
    inputs = keras.Input((16, 16, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    head = keras.layers.Dense(10, activation="softmax", name="out")
    outputs = head(features)
    head.set_weights([np.zeros((4, 10), np.float32), np.eye(10, dtype=np.float32)[3] * 5])
    return keras.Model(inputs, outputs)


def _rgb_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )


@pytest.mark.parametrize("row", list(ERRORS))
def test_each_bad_input_gets_the_error_of_its_row(row, sequential_model, digits, tmp_path, site_runs):
    call, error, message = ERRORS[row]
    with pytest.raises(error, match=re.escape(message)):
        call(sequential_model, digits[1], tmp_path, site_runs[0])


@pytest.mark.parametrize("row", list(WARNINGS))
def test_each_doubtful_input_gets_the_warning_of_its_row(row, sequential_model, digits, tmp_path, site_runs):
    call, warning, message = WARNINGS[row]
    with pytest.warns(warning, match=re.escape(message)):
        call(sequential_model, digits[1], tmp_path, site_runs[0])


def test_the_readme_table_lists_every_row():
    text = README.read_text(encoding="utf-8")
    start = text.index("### When the input is wrong")
    cells = [line.split("|")[1].strip() for line in text[start:].splitlines() if line.startswith("| ")]
    rows = [cell for cell in cells if not cell.startswith("---")][1:]  # without the header
    rows = rows[: rows.index("class names with HTML or quotes") + 1]
    assert rows[:-1] == list(ERRORS) + list(WARNINGS)
