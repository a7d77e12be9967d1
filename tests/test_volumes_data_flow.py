"""Volumes from their files to a run: ImageSets and streams of NIfTI class folders, DICOM series read as volumes,
the volume phantoms by name, on the command line and through ``analyze``, with ``model.evaluate``'s accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from _dicom import write_tree
from _nifti import LPS, write_nifti_tree

import layerlens as ll
from layerlens.app.cli import main

SIZE = 32
# The phantoms are stored as CT-like numbers (Hounsfield units) and read back with the window that undoes it, so
# the model sees what it was trained on.
WINDOW = (-1000.0, 400.0)


def to_hu(volumes: np.ndarray) -> np.ndarray:
    return volumes * (WINDOW[1] - WINDOW[0]) + WINDOW[0]


@pytest.fixture(scope="module")
def phantoms():
    from layerlens.datasets import make_volume_phantoms

    return make_volume_phantoms(120, size=SIZE, seed=3)


@pytest.fixture(scope="module")
def model_file(phantoms, tmp_path_factory):
    """A Conv3D trained a few epochs on 32^3 volume phantoms (global max pooling: lesions are a few voxels)."""
    import keras

    from layerlens.datasets import make_volume_phantoms

    train = make_volume_phantoms(300, size=SIZE, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, SIZE, 1)),
            keras.layers.Conv3D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPool3D(2, name="pool1"),
            keras.layers.Conv3D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalMaxPooling3D(name="gmp"),
            keras.layers.Dense(len(train.class_names), activation="softmax", name="output"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.images, train.labels, epochs=10, batch_size=16, verbose=0)
    path = tmp_path_factory.mktemp("volume_model") / "volumes.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def nifti_root(phantoms, tmp_path_factory):
    """The phantoms as NIfTI class folders in Hounsfield units, half stored as LPS .nii, half RAS .nii.gz."""
    root = tmp_path_factory.mktemp("nifti") / "scans"
    half = len(phantoms) // 2
    volumes = to_hu(phantoms.images)
    write_nifti_tree(root, volumes[:half], phantoms.labels[:half], phantoms.class_names, gz=True)
    write_nifti_tree(root, volumes[half:], phantoms.labels[half:], phantoms.class_names, affine=LPS, gz=False)
    return root


def _evaluate(model_file, x, y) -> float:
    import keras

    model = keras.models.load_model(model_file)
    return float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == y))


def test_an_imageset_of_volume_phantoms_gives_keras_accuracy(model_file, phantoms):
    import keras

    model = keras.models.load_model(model_file)
    analysis = ll.analyze(model, phantoms, explain=0, progress=False)
    assert analysis.class_names == phantoms.class_names and analysis.settings.axes == "DHW"
    assert analysis.metrics.accuracy == pytest.approx(_evaluate(model_file, phantoms.images, phantoms.labels))
    assert analysis.metrics.accuracy > 0.6  # chance is 0.25: two trained numbers compared, not two guesses


def test_a_nifti_stream_analyses_as_the_volumes_read_whole(model_file, nifti_root):
    import keras

    from layerlens.datasets import from_nifti

    model = keras.models.load_model(model_file)
    whole = from_nifti(nifti_root, shape=SIZE, window=WINDOW)
    stream = from_nifti(nifti_root, shape=SIZE, window=WINDOW, stream=True)
    assert stream.is_volume and stream.image_shape == (SIZE, SIZE, SIZE, 1) and stream.files == whole.files
    by_stream = ll.analyze(model, stream, batch_size=7, explain=0, progress=False)
    at_once = ll.analyze(model, whole, explain=0, progress=False)
    assert by_stream.files == whole.files and by_stream.source["reader"] == "nifti"
    np.testing.assert_allclose(by_stream.probabilities, at_once.probabilities, atol=1e-5)
    assert by_stream.metrics.accuracy == pytest.approx(_evaluate(model_file, whole.images, whole.labels))


def test_analyze_a_nifti_tree_on_the_command_line(model_file, nifti_root, tmp_path, capsys):
    from layerlens.datasets import from_nifti

    run = tmp_path / "run"
    argv = [
        "analyze",
        str(model_file),
        str(nifti_root),
        "--out",
        str(run),
        "--no-progress",
        "--explain",
        "2",
        "--window",
        "-1000",
        "400",
    ]
    assert main([*argv, "--explain-methods", "gradcam", "--volume-view", "mip"]) == 0
    analysis = ll.load(run)
    read = from_nifti(nifti_root, shape=SIZE, window=WINDOW)
    assert analysis.n_images == len(read) and analysis.files == read.files
    assert analysis.metrics.accuracy == pytest.approx(_evaluate(model_file, read.images, read.labels))
    assert analysis.settings.volume_view == "mip" and analysis.settings.axes == "DHW"
    assert len(analysis.explanations) == 2
    assert all(e.heatmap.shape == (SIZE, SIZE, SIZE) for e in analysis.explanations)
    assert {e.image_index for e in analysis.explanations} <= set(analysis.volumes)
    assert "Run saved in" in capsys.readouterr().out
    # More explanations later: the run reads its NIfTI files again, and keeps the new pages' volumes too.
    unexplained = [i for i in range(analysis.n_images) if i not in analysis.explained_images][:2]
    images = ",".join(str(i) for i in unexplained)
    assert main(["explain", str(run), str(model_file), "--images", images, "--explain-methods", "smoothgrad"]) == 0
    again = ll.load(run)
    assert set(unexplained) <= {e.image_index for e in again.explanations if e.method == "smoothgrad"}
    assert set(unexplained) <= set(again.volumes)


def test_analyze_the_volume_phantoms_by_name_with_depth_last(tmp_path, capsys):
    """``--axes HWD`` reads volumes for a model fed (H, W, D), as Keras' CT tutorial's."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, SIZE, 1)),
            keras.layers.Conv3D(4, 3, activation="relu"),
            keras.layers.GlobalMaxPooling3D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    path = tmp_path / "hwd.keras"
    model.save(path)
    run = tmp_path / "run"
    argv = ["analyze", str(path), "phantoms", "--out", str(run), "--explain", "0", "--no-progress"]
    assert main([*argv, "--axes", "HWD"]) == 0
    assert "this analysis cannot be right" in capsys.readouterr().err  # an untrained model, and said so
    analysis = ll.load(run)
    assert analysis.settings.axes == "HWD" and analysis.n_images == 100  # the held-out quarter of 400


def test_analyze_a_dicom_tree_read_as_volumes(tmp_path):
    import keras

    root = tmp_path / "train"
    csv = write_tree(root, 8, 6, sequences=("FLAIR",), size=24)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 12, 12, 1)),
            keras.layers.Conv3D(4, 3, activation="relu", padding="same"),
            keras.layers.GlobalAveragePooling3D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    path = tmp_path / "dicom3d.keras"
    model.save(path)
    run = tmp_path / "run"
    argv = ["analyze", str(path), str(root), "--out", str(run), "--explain", "0", "--no-progress"]
    assert main([*argv, "--labels", str(csv), "--slices", "volume"]) == 0
    analysis = ll.load(run)
    assert analysis.n_images == 8 and analysis.settings.axes == "DHW"
    assert analysis.thumbnails.shape[1:] == (12, 12, 1)
    from layerlens.datasets import from_dicom

    read = from_dicom(root, csv, slices="volume", shape=(6, 12, 12))
    assert read.images.shape == (8, 6, 12, 12, 1)
    np.testing.assert_allclose(analysis.probabilities, model.predict(read.images, verbose=0), atol=1e-5)


def test_a_volume_option_for_a_two_dimensional_model_is_refused(tmp_path, capsys):
    import keras

    model = keras.Sequential(
        [keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]
    )
    path = tmp_path / "flat.keras"
    model.save(path)
    root = tmp_path / "train"
    csv = write_tree(root, 4, 3, sequences=("FLAIR",), size=12)
    argv = ["analyze", str(path), str(root), "--out", str(tmp_path / "run"), "--labels", str(csv)]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--slices", "volume", "--no-progress"])
    assert stopped.value.code == 2
    assert "slices: 'volume' reads each series as one volume, but the model takes 2-D images" in capsys.readouterr().err


def test_a_window_that_misses_the_data_is_caught_by_the_collapse_warning(model_file, phantoms, tmp_path):
    """CT volumes read with a window in other units (here 3000..4000 HU: every voxel black) cannot be right."""
    import keras

    from layerlens.datasets import from_nifti

    model = keras.models.load_model(model_file)
    root = tmp_path / "ct"
    write_nifti_tree(root, to_hu(phantoms.images[:40]), phantoms.labels[:40], phantoms.class_names)
    right = from_nifti(root, shape=SIZE, window=WINDOW)
    written = [int(file.split("-")[-1].split(".")[0]) for file in right.files]  # class/vol-012.nii.gz: volume 12
    np.testing.assert_allclose(right.images, phantoms.images[written], atol=1e-4)  # the window it was written with
    with pytest.warns(ll.exceptions.UnreliableAnalysisWarning, match="collapsed onto one class"):
        ll.analyze(model, from_nifti(root, shape=SIZE, window=(3000, 4000)), explain=0, progress=False)
