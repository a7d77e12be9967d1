"""Fuzzing: random shapes, dtypes and values for analyze, random files for the loaders, damaged run folders for load.

Each property: a result, or a layerlens error (``LayerlensError``) naming what is wrong; never another exception.
Examples are bounded (and derandomised) so the suite stays fast and repeatable.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import layerlens as ll
from layerlens.datasets import from_directory, read_images
from layerlens.exceptions import LayerlensError, LayerlensWarning

# LAYERLENS_FUZZ_EXAMPLES=500 searches longer, with fresh random examples (the suite: 25, the same every run).
_EXAMPLES = int(os.environ.get("LAYERLENS_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    derandomize="LAYERLENS_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.uint8, np.int32, np.int64, np.bool_, np.complex64])


def _layerlens_or_result(call):
    """Run ``call``; a layerlens error is an answer, any other exception fails the test. Its own warnings are fine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayerlensWarning)
        try:
            return call()
        except LayerlensError:
            return None


@st.composite
def image_arrays(draw):
    """Arrays of 1 to 5 dimensions, mostly near the 16x16x1 the test model takes, of any dtype and values."""
    dtype = draw(DTYPES)
    ndim = draw(st.integers(1, 5))
    near = [draw(st.integers(0, 6)), 16, 16, 1, 2][:ndim]
    shape = tuple(draw(st.sampled_from([d, max(d - 1, 0), d + 1, 3])) for d in near)
    elements = None
    if np.dtype(dtype).kind == "f":
        finite = st.floats(0.0, 300.0, width=np.dtype(dtype).itemsize * 8)
        elements = finite | st.sampled_from([np.nan, np.inf, -1.0, 6e4])  # 6e4 fits float16 too
    return draw(hnp.arrays(dtype, shape, elements=elements))


@FUZZ
@given(images=image_arrays(), labels=st.one_of(st.none(), hnp.arrays(np.int64, st.integers(0, 8))))
def test_analyze_answers_any_array_with_a_result_or_a_layerlens_error(sequential_model, images, labels):
    result = _layerlens_or_result(
        lambda: ll.analyze(sequential_model, images, labels, explain=0, progress=False, n_clusters=2)
    )
    if result is not None:
        assert result.n_images == len(images)


@FUZZ
@given(probes=image_arrays())
def test_analyze_answers_any_probes_with_a_result_or_a_layerlens_error(sequential_model, digits, probes):
    test = digits[1]
    result = _layerlens_or_result(
        lambda: ll.analyze(sequential_model, test.images[:12], probes=probes, explain=0, progress=False, n_clusters=2)
    )
    if result is not None:
        assert result.probes.n_images == len(probes)


@FUZZ
@given(
    contents=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    names=st.lists(
        st.text("abc.png_-", min_size=1, max_size=8).filter(lambda n: n.strip(".")), min_size=4, max_size=4, unique=True
    ),
)
def test_the_folder_loaders_answer_any_files(tmp_path_factory, contents, names):
    root = tmp_path_factory.mktemp("fuzz")
    png = root / "a" / "real.png"
    png.parent.mkdir()
    from skimage import io

    io.imsave(png, np.zeros((6, 6), np.uint8), check_contrast=False)
    for i, (name, data) in enumerate(zip(names, contents)):
        target = root / ("a" if i % 2 else "b") / name
        target.parent.mkdir(exist_ok=True)
        if not target.exists():
            target.write_bytes(data)
    _layerlens_or_result(lambda: read_images(root, image_size=8))
    _layerlens_or_result(lambda: from_directory(root, image_size=8))
    stream = _layerlens_or_result(lambda: from_directory(root, image_size=8, stream=True))
    if stream is not None:  # the files are decoded only now
        _layerlens_or_result(stream.load)


@pytest.fixture(scope="module")
def stored_run(site_runs):
    """The labelled run with probes and explanations of the site tests."""
    return site_runs[0]


def _damaged_copy(run: Path, folder: Path) -> Path:
    target = folder / "run"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(run, target)
    return target


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths_in(value, prefix=()):
    """Every (key path) inside a decoded JSON document."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths_in(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value[:3]):
            yield (*prefix, i)
            yield from _paths_in(inner, (*prefix, i))


@FUZZ
@given(data=st.data())
def test_load_answers_an_edited_manifest_with_a_run_or_a_run_format_error(stored_run, tmp_path_factory, data):
    run = _damaged_copy(stored_run, tmp_path_factory.mktemp("edited"))
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    where = data.draw(st.sampled_from(sorted(_paths_in(manifest), key=str)))
    holder = manifest
    for key in where[:-1]:
        holder = holder[key]
    if data.draw(st.booleans()):
        holder[where[-1]] = data.draw(JSON_VALUES)
    elif isinstance(holder, dict):
        del holder[where[-1]]
    else:
        holder.pop(where[-1])
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _layerlens_or_result(lambda: ll.load(run))


@FUZZ
@given(
    name=st.sampled_from(["manifest.json", "arrays.npz", "paths.csv", "thumbnails/00000.png"]),
    cut=st.floats(0.0, 0.999),
    flip=st.booleans(),
)
def test_load_answers_a_truncated_or_flipped_file_with_a_run_format_error(
    stored_run, tmp_path_factory, name, cut, flip
):
    run = _damaged_copy(stored_run, tmp_path_factory.mktemp("damaged"))
    data = bytearray((run / name).read_bytes())
    at = int(cut * len(data))
    if flip:
        data[at] ^= 0xFF
    else:
        del data[at:]
    (run / name).write_bytes(bytes(data))
    with pytest.raises(LayerlensError):
        ll.load(run)


@FUZZ
@given(
    csv=st.text(st.sampled_from('0123,ab\n"; '), max_size=40),
    slices=st.lists(st.binary(max_size=200), min_size=1, max_size=3),
)
def test_from_dicom_answers_any_label_file_and_slice_bytes(tmp_path_factory, csv, slices):
    from layerlens.datasets import from_dicom

    root = tmp_path_factory.mktemp("dicom") / "train"
    for i, data in enumerate(slices):
        target = root / f"{i:05d}" / "FLAIR" / "Image-1.dcm"
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
    (root.parent / "labels.csv").write_text(csv, encoding="utf-8")
    _layerlens_or_result(lambda: from_dicom(root, root.parent / "labels.csv", image_size=8))
    stream = _layerlens_or_result(lambda: from_dicom(root, root.parent / "labels.csv", image_size=8, stream=True))
    if stream is not None:
        _layerlens_or_result(stream.load)
