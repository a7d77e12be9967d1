"""engine="ray": the same answers as the local engine on a local Ray cluster, every input kind, faults and resume.

The cluster is the session's (``ray_cluster`` in conftest: a 2-CPU head made with ``ray.cluster_utils``, short
health checks). Tolerances: predictions and cluster assignments are compared exactly (the same batches run on
the same machine; the Decisions of issue 21 allow 0.1 % of them to differ at a float boundary), features,
probabilities, map positions and doubt within 1e-5 (absolute, on values of order 1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

import layerlens as ll  # noqa: E402
from layerlens.exceptions import InvalidInputError, InvalidTypeError  # noqa: E402

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.fixture(autouse=True)
def _workers_only(monkeypatch):
    """The workers run every unit: the driver's share (which runs the tiny units of these tests before the
    workers have started) would leave them nothing to be tested on. Its own test turns it on."""
    import layerlens.engines._ray as engine

    monkeypatch.setattr(engine, "DRIVER_SHARE", False)


#: Absolute tolerance of floats computed by the two engines (features, probabilities, map positions, doubt).
ATOL = 1e-5
#: Share of images whose prediction or cluster may differ at a float boundary.
BOUNDARY_SHARE = 0.001


def _agree(local, ray_run, *, exact_features: bool = True) -> None:
    """The Ray run gives the local run's answers."""
    n = len(local.predictions)
    assert len(ray_run.predictions) == n
    assert np.mean(local.predictions != ray_run.predictions) <= BOUNDARY_SHARE
    np.testing.assert_allclose(ray_run.probabilities, local.probabilities, atol=ATOL)
    if local.labels is not None:
        np.testing.assert_array_equal(ray_run.labels, local.labels)
    for a, b in zip(local.layers, ray_run.layers):
        assert a.name == b.name and a.clusters.k == b.clusters.k
        np.testing.assert_allclose(np.asarray(b.features), np.asarray(a.features), atol=ATOL)
        assert np.mean(a.clusters.assignments != b.clusters.assignments) <= BOUNDARY_SHARE
        np.testing.assert_allclose(b.coords, a.coords, atol=ATOL)
    if local.doubt is not None:
        np.testing.assert_allclose(ray_run.doubt.doubt, local.doubt.doubt, atol=ATOL)
    np.testing.assert_array_equal(np.asarray(ray_run.thumbnails), np.asarray(local.thumbnails))
    assert ray_run.settings.engine == "ray" and local.settings.engine == "local"
    if local.metrics is not None:
        assert ray_run.metrics.accuracy == pytest.approx(local.metrics.accuracy, abs=1e-12)


@pytest.mark.parametrize("fixture", ["sequential_model", "logits_model", "branch_model", "nested_model"])
def test_same_answers_as_the_local_engine(request, fixture, digits, tmp_path):
    model = request.getfixturevalue(fixture)
    images, labels = digits[1].images, digits[1].labels
    local = ll.analyze(model, images, labels, explain=0, progress=False, batch_size=32)
    ray_run = ll.analyze(
        model, images, labels, explain=0, progress=False, batch_size=32, engine="ray", workers=1, work_dir=tmp_path
    )
    _agree(local, ray_run)
    evaluated = model.predict(images, verbose=0).reshape(len(images), -1)
    predicted = evaluated.argmax(axis=1) if evaluated.shape[1] > 1 else (evaluated[:, 0] > 0.5).astype(int)
    assert ray_run.metrics.accuracy == pytest.approx(np.mean(predicted == labels), abs=1e-9)
    assert "1 worker" in ray_run.settings.engine_note


def _with_reference(request, digits):
    train, test = digits
    return request.getfixturevalue("sequential_model"), test, {"reference": train.subset(range(400))}


def _with_probes(request, digits):
    from _images import blurred_noise

    probes = blurred_noise(20, (16, 16, 1), seed=4)
    return request.getfixturevalue("sequential_model"), digits[1], {"probes": probes}


def _with_metadata(request, digits):
    sites = np.where(np.arange(300) % 3 == 0, "A", "B")
    return request.getfixturevalue("sequential_model"), digits[1], {"metadata": {"site": sites}}


def _byte_pixels(request, digits):
    # A model behind Rescaling(1/255) shown [0, 1] images: the pixel scale is decided once, on the driver.
    return request.getfixturevalue("byte_model"), digits[1], {}


def _conv_grid_and_k(request, digits):
    return request.getfixturevalue("branch_model"), digits[1], {"conv_features": "grid", "n_clusters": 4}


@pytest.mark.parametrize("scenario", [_with_reference, _with_probes, _with_metadata, _byte_pixels, _conv_grid_and_k])
def test_same_answers_with_the_analysis_options(request, scenario, digits, tmp_path):
    model, images, options = scenario(request, digits)
    local = ll.analyze(model, images, explain=0, progress=False, **options)
    ray_run = ll.analyze(model, images, explain=0, progress=False, engine="ray", work_dir=tmp_path, **options)
    _agree(local, ray_run)
    assert ray_run.settings.pixel_scale == local.settings.pixel_scale
    if "probes" in options:
        np.testing.assert_allclose(ray_run.probes.doubt.doubt, local.probes.doubt.doubt, atol=ATOL)
    if "metadata" in options:
        assert ray_run.accuracy_by("site").equals(local.accuracy_by("site"))
    if "reference" in options:
        for i in range(len(local.layers)):
            np.testing.assert_array_equal(ray_run.reference.clusters[i], local.reference.clusters[i])


def test_two_workers_many_blocks_and_stability(sequential_model, digits, tmp_path, monkeypatch):
    import layerlens.engines._ray as engine

    monkeypatch.setattr(engine, "UNIT_IMAGES", 64)  # 5 blocks over two actors
    images = digits[1]
    local = ll.analyze(sequential_model, images, explain=3, stability=True, progress=False, batch_size=32, seed=3)
    ray_run = ll.analyze(
        sequential_model, images, explain=3, stability=True, progress=False, batch_size=32, seed=3, engine="ray",
        workers=2, work_dir=tmp_path / "w",
    )  # fmt: skip
    _agree(local, ray_run)
    assert "5 blocks" in ray_run.settings.engine_note and "2 workers" in ray_run.settings.engine_note
    for a, b in zip(local.layers, ray_run.layers):
        for level in a.noisy_clusters:
            assert np.mean(a.noisy_clusters[level] != b.noisy_clusters[level]) <= BOUNDARY_SHARE
    # The candidates to explain are the local pass's: the same images explained, the same pictures.
    assert sorted(ray_run.explained_images) == sorted(local.explained_images)
    for i in local.explained_images:
        np.testing.assert_array_equal(ray_run.explained_images[i], local.explained_images[i])
    assert sorted(ray_run.pictures) == sorted(local.pictures)


def test_both_engines_fit_many_images_on_the_same_sample(sequential_model, digits, tmp_path, monkeypatch):
    import layerlens.layers._fit as fitting

    monkeypatch.setattr(fitting, "FIT_SAMPLE_MAX", 120)  # 300 images: fitted on 120 of them, all 300 placed
    images, labels = digits[1].images, digits[1].labels
    local = ll.analyze(sequential_model, images, labels, explain=0, progress=False, batch_size=32)
    ray_run = ll.analyze(
        sequential_model, images, labels, explain=0, progress=False, batch_size=32, engine="ray", work_dir=tmp_path
    )
    _agree(local, ray_run)
    sample = fitting.fit_sample(300, 0)
    assert len(sample) == 120 and fitting.fit_sample(300, 0, most=300) is None
    for layer in local.layers:
        assert len(layer.clusters.assignments) == 300 and len(np.unique(layer.clusters.assignments)) == layer.clusters.k
    # Doubt and the findings read the neighbours among the same sample, and so does a stored run's reading.
    assert [f.text for f in ray_run.findings] == [f.text for f in local.findings]
    assert local.doubt.disagreement.max() > 0


def test_a_stream_read_by_the_workers(sequential_model, digits, tmp_path):
    from _images import write_class_folders

    from layerlens.datasets import from_directory

    root = write_class_folders(tmp_path / "data", digits[1], 120)
    (root / digits[1].class_names[0] / "broken.png").write_bytes(b"not a png")
    with pytest.warns(ll.exceptions.SkippedFilesWarning, match="broken.png"):
        stream = from_directory(root, image_size=(16, 16), color_mode="grayscale", stream=True)
    local = ll.analyze(sequential_model, stream, explain=2, progress=False, batch_size=16)
    ray_run = ll.analyze(
        sequential_model, stream, explain=2, progress=False, batch_size=16, engine="ray", work_dir=tmp_path / "w"
    )
    _agree(local, ray_run)
    assert len(ray_run.predictions) == 120 and ray_run.files == local.files
    assert "broken.png" not in "".join(ray_run.files)
    assert sorted(ray_run.explained_images) == sorted(local.explained_images)


@pytest.mark.parametrize("kind", ["array", "stream"])
def test_the_driver_runs_units_from_the_end_while_the_workers_start(
    kind, sequential_model, digits, tmp_path, monkeypatch
):
    from _images import write_class_folders

    import layerlens.engines._ray as engine
    from layerlens.datasets import from_directory

    monkeypatch.setattr(engine, "DRIVER_SHARE", True)
    monkeypatch.setattr(engine, "UNIT_IMAGES", 16)
    if kind == "array":
        images = digits[1]
    else:
        images = from_directory(
            write_class_folders(tmp_path / "data", digits[1], 120), image_size=(16, 16), color_mode="grayscale",
            stream=True,
        )  # fmt: skip
    local = ll.analyze(sequential_model, images, explain=2, progress=False, batch_size=16)
    work = tmp_path / "w"
    ray_run = ll.analyze(
        sequential_model, images, explain=2, progress=False, batch_size=16, engine="ray", workers=1, work_dir=work
    )
    _agree(local, ray_run)
    units = -(-len(local.predictions) // 16)
    note = ray_run.settings.engine_note
    by_driver = int(note.split("(")[-1].split(" by the driver")[0])
    # The workers keep the first units (they start there, two in flight), the driver runs from the end.
    assert f"{units} blocks, {units} run by this call ({by_driver} by the driver" in note
    assert 1 <= by_driver <= units - 2
    assert sorted(int(p.stem) for p in (work / "blocks").glob("*.npz")) == list(range(units))
    assert sorted(ray_run.explained_images) == sorted(local.explained_images)


def test_a_ray_dataset_with_labels_files_and_metadata(sequential_model, digits, tmp_path):
    import ray.data

    test = digits[1]
    n = 200
    rows = [
        {"image": test.images[i], "label": test.class_names[test.labels[i]], "file": f"img{i:03d}.png",
         "site": "A" if i % 2 else "B"}
        for i in range(n)
    ]  # fmt: skip
    dataset = ray.data.from_items(rows)
    local = ll.analyze(
        sequential_model, test.images[:n], test.labels[:n], class_names=test.class_names, explain=0, progress=False
    )
    with pytest.warns(ll.exceptions.ExplanationWarning, match="ray.data.Dataset"):
        ray_run = ll.analyze(
            sequential_model, dataset, class_names=test.class_names, explain=2, progress=False, engine="ray",
            work_dir=tmp_path / "w",
        )  # fmt: skip
    # Ray Data may cut the batches elsewhere than the local engine: floats agree within the tolerance.
    assert np.mean(local.predictions != ray_run.predictions) <= BOUNDARY_SHARE
    np.testing.assert_allclose(ray_run.probabilities, local.probabilities, atol=ATOL)
    np.testing.assert_array_equal(ray_run.labels, test.labels[:n])
    assert ray_run.files == tuple(f"img{i:03d}.png" for i in range(n))
    assert list(ray_run.metadata["site"][:4]) == ["B", "A", "B", "A"]


@pytest.mark.filterwarnings("ignore::layerlens.exceptions.UnreliableAnalysisWarning")  # an untrained model
@pytest.mark.filterwarnings("ignore::layerlens.exceptions.ClassOrderWarning")
def test_volumes(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    volumes = rng.random((24, 8, 8, 8, 1), dtype=np.float32)
    labels = (volumes[:, :4].mean(axis=(1, 2, 3, 4)) > volumes[:, 4:].mean(axis=(1, 2, 3, 4))).astype(int)
    model = keras.Sequential(
        [keras.Input((8, 8, 8, 1)), keras.layers.Conv3D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling3D(),
         keras.layers.Dense(2, activation="softmax")]
    )  # fmt: skip
    local = ll.analyze(model, volumes, labels, explain=0, progress=False, batch_size=8)
    ray_run = ll.analyze(
        model, volumes, labels, explain=0, progress=False, batch_size=8, engine="ray", work_dir=tmp_path / "w"
    )
    _agree(local, ray_run)
    assert ray_run.settings.axes == "DHW"


def test_a_model_file_and_the_command_line(sequential_model, digits, tmp_path, ray_cluster):
    from _images import write_class_folders

    model_file = tmp_path / "model.keras"
    sequential_model.save(model_file)
    local = ll.analyze(sequential_model, digits[1].images[:64], explain=0, progress=False)
    from_file = ll.analyze(
        str(model_file), digits[1].images[:64], explain=0, progress=False, engine="ray", work_dir=tmp_path / "w"
    )
    np.testing.assert_allclose(from_file.probabilities, local.probabilities, atol=ATOL)
    root = write_class_folders(tmp_path / "data", digits[1], 60)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "layerlens", "analyze", str(model_file), str(root), "--out", str(out), "--engine",
         "ray", "--ray-address", ray_cluster.address, "--workers", "1", "--explain", "0", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run.work" / "blocks" / "000000.npz").is_file()
    run = ll.load(out)
    assert run.settings.engine == "ray" and len(run.predictions) == 60


def _worker_pids(cluster) -> list[int]:
    """Processes of the pass's actors in the session's cluster (children of its head node's raylet; Ray names
    them after the class), not those of another program's Ray on this machine."""
    raylet = cluster.head_node.all_processes["raylet"][0].process.pid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == raylet and b"PassWorker" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _run_beside(call) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def target() -> None:
        try:
            result["analysis"] = call()
        except BaseException as error:  # noqa: BLE001  (handed to the test's thread)
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


def _wait_for_blocks(folder: Path, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(list((folder / "blocks").glob("*.npz"))) < count:
        assert time.monotonic() < deadline, "the pass wrote no block"
        time.sleep(0.02)


def test_a_killed_worker_is_replaced_and_its_blocks_redone(
    sequential_model, digits, tmp_path, monkeypatch, ray_cluster
):
    import layerlens.engines._ray as engine

    monkeypatch.setattr(engine, "UNIT_IMAGES", 32)
    images = np.concatenate([digits[1].images] * 4)
    local = ll.analyze(sequential_model, images, explain=0, progress=False, batch_size=32)
    work = tmp_path / "w"
    thread, result = _run_beside(
        lambda: ll.analyze(
            sequential_model, images, explain=0, progress=False, batch_size=32, engine="ray", workers=1, work_dir=work
        )
    )
    _wait_for_blocks(work, 2)
    killed = _worker_pids(ray_cluster)
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    thread.join(300)
    assert "error" not in result, result.get("error")
    _agree(local, result["analysis"])
    assert len(list((work / "blocks").glob("*.npz"))) == 38


def test_a_node_leaving_mid_pass_loses_nothing(sequential_model, digits, tmp_path, monkeypatch, ray_cluster):
    import layerlens.engines._ray as engine

    monkeypatch.setattr(engine, "UNIT_IMAGES", 32)
    images = np.concatenate([digits[1].images] * 4)
    local = ll.analyze(sequential_model, images, explain=0, progress=False, batch_size=32)
    node = ray_cluster.add_node(num_cpus=1)
    ray_cluster.wait_for_nodes()
    work = tmp_path / "w"
    started = time.monotonic()
    thread, result = _run_beside(
        lambda: ll.analyze(
            sequential_model, images, explain=0, progress=False, batch_size=32, engine="ray", workers=3, work_dir=work
        )
    )
    _wait_for_blocks(work, 1)
    ray_cluster.remove_node(node)  # its actor and the blocks it was running are lost
    replacement = ray_cluster.add_node(num_cpus=1)
    thread.join(300)
    seconds = time.monotonic() - started
    ray_cluster.remove_node(replacement)
    assert "error" not in result, result.get("error")
    ray_run = result["analysis"]
    _agree(local, ray_run)  # every image exactly once, in input order
    assert seconds < 120


_DRIVER = """
import sys
import numpy as np
import ray
import layerlens as ll
import layerlens.engines._ray as engine
engine.UNIT_IMAGES = 32
engine.DRIVER_SHARE = False
ray.init(address=sys.argv[1], log_to_driver=False)
images = np.load(sys.argv[3])
ll.analyze(sys.argv[2], images, explain=0, progress=False, batch_size=32, engine="ray", workers=1, work_dir=sys.argv[4])
"""


def test_a_killed_driver_resumes_with_the_missing_blocks_only(
    sequential_model, digits, tmp_path, monkeypatch, ray_cluster
):
    import layerlens.engines._ray as engine

    model_file = tmp_path / "model.keras"
    sequential_model.save(model_file)
    images = np.concatenate([digits[1].images] * 8)
    np.save(tmp_path / "images.npy", images)
    work = tmp_path / "w"
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, ray_cluster.address, str(model_file), str(tmp_path / "images.npy"), str(work)]
    )
    try:
        _wait_for_blocks(work, 3)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    found = len(list((work / "blocks").glob("*.npz")))
    assert 3 <= found < 75
    monkeypatch.setattr(engine, "UNIT_IMAGES", 32)
    resumed = ll.analyze(
        str(model_file), images, explain=0, progress=False, batch_size=32, engine="ray", workers=1, work_dir=work
    )
    note = resumed.settings.engine_note
    assert f"75 blocks, {75 - found} run by this call, {found} found in the work folder" in note
    local = ll.analyze(sequential_model, images, explain=0, progress=False, batch_size=32)
    _agree(local, resumed)
    # Another analysis in the same folder is refused, not mixed in.
    with pytest.raises(InvalidInputError, match="work_dir: .* holds the blocks of another analysis"):
        ll.analyze(
            sequential_model, images[::-1], explain=0, progress=False, batch_size=32, engine="ray", work_dir=work
        )


def test_bad_input_is_named_within_seconds(sequential_model, digits, tmp_path):
    import tensorflow as tf

    images = digits[1].images[:40]
    with pytest.raises(InvalidInputError, match="engine: expected one of"):
        ll.analyze(sequential_model, images, engine="spark")
    with pytest.raises(InvalidInputError, match=r"workers: expected at most 2 \(the cluster has 2 CPUs and 0 GPUs"):
        ll.analyze(sequential_model, images, engine="ray", workers=5, progress=False)
    with pytest.raises(InvalidInputError, match="gpus_per_worker: .*the cluster has 2 CPUs and 0 GPUs"):
        ll.analyze(sequential_model, images, engine="ray", gpus_per_worker=1, progress=False)
    with pytest.raises(InvalidTypeError, match="tf.data.Dataset"):
        ll.analyze(sequential_model, tf.data.Dataset.from_tensor_slices(images).batch(8), engine="ray")
    with pytest.raises(InvalidInputError, match="model: .*nowhere.keras"):
        ll.analyze(str(tmp_path / "nowhere.keras"), images, engine="ray")
    from layerlens.engines import ray_extract

    # A file the workers cannot read (only the driver had it): named, from the worker.
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="model: a worker could not load '/nonexistent/model.keras'"):
        ray_extract(
            sequential_model, images, model_file="/nonexistent/model.keras", labels=None, label_order=None,
            class_names=tuple(digits[1].class_names), layers=None, batch_size=16, conv_features="mean", seed=0,
            progress=False, pixel_scale="auto", noise=(), axes="DHW", volume_view="slice", preprocess=None,
            address=None, workers=1, gpus_per_worker=0, work_dir=tmp_path / "w",
        )  # fmt: skip
    assert time.monotonic() - started < 60


def test_images_of_another_shape_found_by_a_worker(sequential_model, digits, tmp_path):
    import ray.data

    rows = [{"image": image} for image in digits[1].images[:64]]
    rows += [{"image": np.zeros((20, 20, 1), np.float32)} for _ in range(8)]
    with pytest.raises(InvalidInputError, match="images: expected shape|every image must have the same size"):
        ll.analyze(sequential_model, ray.data.from_items(rows), engine="ray", progress=False, work_dir=tmp_path / "w")


def test_the_local_engine_never_imports_ray(tmp_path):
    code = (
        "import sys, numpy as np, keras, layerlens as ll\n"
        "m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4),\n"
        "                      keras.layers.Dense(2, activation='softmax')])\n"
        "ll.analyze(m, np.random.default_rng(0).random((12, 8, 8, 1), dtype=np.float32), explain=0, progress=False)\n"
        "print('ray' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("False")


def test_no_cluster_at_the_address_is_refused_within_seconds():
    code = (
        "import numpy as np, keras, layerlens as ll\n"
        "m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4),\n"
        "                      keras.layers.Dense(2, activation='softmax')])\n"
        "ll.analyze(m, np.zeros((12, 8, 8, 1), np.float32), engine='ray', ray_address='127.0.0.1:9')\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode != 0
    assert "ray_address: no Ray cluster answered at '127.0.0.1:9'" in done.stderr


def test_without_ray_installed_the_error_says_how_to_install_it(monkeypatch):
    from layerlens.engines._cluster import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    with pytest.raises(InvalidInputError, match=r'engine: "ray" needs Ray Data.*pip install "layerlens\[ray\]"'):
        import_ray()


def test_the_default_work_folder_goes_once_the_pass_is_joined(sequential_model, digits, tmp_path, monkeypatch):
    import tempfile

    import ray.data

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    a = ll.analyze(sequential_model, digits[1].images[:100], explain=0, progress=False, engine="ray")
    assert not list((tmp_path / "tmp" / "layerlens-work").iterdir())
    assert ll.load(a.save(tmp_path / "run")).layers[0].features.shape[0] == 100  # its columns still read
    # A ray.data.Dataset is read again from the start in the same work folder, not refused.
    rows = ray.data.from_items([{"image": image} for image in digits[1].images[:50]])
    for _ in range(2):
        again = ll.analyze(sequential_model, rows, explain=0, progress=False, engine="ray", work_dir=tmp_path / "w")
        assert len(again.predictions) == 50
