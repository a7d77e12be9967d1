import re
import subprocess
import sys

import numpy as np
import pytest
from _compare import assert_same_accuracy
from _dicom import write_tree
from skimage import io

import layerlens as ll
from layerlens.app import zoo as zoo
from layerlens.app.cli import main


@pytest.fixture(scope="module")
def faces_file(faces_model, tmp_path_factory):
    return zoo.save_example(faces_model, tmp_path_factory.mktemp("models"))


def _analyze_argv(model: object, data: object, out: object, *options: str) -> list[str]:
    """``layerlens analyze MODEL DATA --out OUT --explain 0 OPTIONS...``: explanations are tested elsewhere."""
    return ["analyze", str(model), str(data), "--out", str(out), "--explain", "0", *options]


def test_demo_trains_analyses_and_says_where(tmp_path, capsys):
    models, runs, site = tmp_path / "m", tmp_path / "r", tmp_path / "s"
    assert main(["demo", "--models", str(models), "--runs", str(runs), "--only", "faces", "--site", str(site)]) == 0
    out = capsys.readouterr().out
    assert (models / "faces.keras").is_file()
    assert ll.load(runs / "faces").class_names == ("non_face", "face")
    assert "faces     test accuracy" in out
    assert re.search(r"explained \d+ (of the \d+ misclassified images|others?) .*by integrated gradients", out)
    assert re.search(r"200 probes \(phantoms, structured noise\): median confidence 0\.\d\d, doubt >= 0\.5 for", out)
    assert ll.load(runs / "faces").probes.n_images == 200
    assert f"Models saved in {models.resolve()}" in out and f"Runs saved in {runs.resolve()}" in out
    assert f"Site built: open {(site / 'index.html').resolve()}" in out
    assert (site / "runs" / "01-faces" / "index.html").is_file()


def test_demo_refuses_a_site_folder_before_training(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--models", str(tmp_path / "m"), "--runs", str(tmp_path / "r"), "--site", str(tmp_path / "mine")])
    assert exit_info.value.code == 2
    assert "--site:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_analyze_a_bundled_data_set(faces_file, faces_model, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["analyze", str(faces_file), "faces", "--out", str(run), "--n-clusters", "3", "--no-progress"]
    assert main([*argv, "--explain", "4", "--explain-methods", "gradcam", "smoothgrad"]) == 0
    assert f"Run saved in {run.resolve()}" in capsys.readouterr().out
    analysis = ll.load(run)
    test = faces_model.data.test
    assert analysis.n_images == len(test)  # the held-out split the model never saw
    reference = faces_model.model.predict(test.images, verbose=0)[:, 0]
    assert_same_accuracy(
        analysis.metrics.accuracy, analysis.probabilities, np.stack([1 - reference, reference], 1), test.labels
    )
    assert {layer.clusters.k for layer in analysis.layers} == {3}
    assert [e.method for e in analysis.explanations] == ["gradcam", "smoothgrad"] * 4
    assert len(list((run / "explanations").glob("*_gradcam.png"))) == 4


def test_analyze_a_folder(faces_file, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("face", "non_face"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            io.imsave(tmp_path / "data" / name / f"{i}.png", (rng.random((40, 30)) * 255).astype(np.uint8))
    run = tmp_path / "run"
    assert (
        main(
            [
                "analyze",
                str(faces_file),
                str(tmp_path / "data"),
                "--out",
                str(run),
                "--n-clusters",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    analysis = ll.load(run)
    assert analysis.class_names == ("face", "non_face") and analysis.n_images == 6
    assert analysis.files[0] == "face/0.png"
    assert analysis.paths["file"].iloc[0] == "face/0.png"


def test_analyze_with_probes_from_a_folder_or_a_bundled_data_set(faces_file, faces_model, tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "xrays" / "more").mkdir(parents=True)
    for i, where in enumerate(["", "", "more/"]):
        io.imsave(tmp_path / "xrays" / f"{where}{i}.png", (rng.random((40, 30, 3)) * 255).astype(np.uint8))
    (tmp_path / "xrays" / "notes.txt").write_text("not an image")
    run = tmp_path / "run"
    assert main(_analyze_argv(faces_file, "faces", run, "--probes", str(tmp_path / "xrays"), "--no-progress")) == 0
    errors = capsys.readouterr().err
    assert "skipped 1 file(s) that could not be read as images: notes.txt" in errors
    assert "unclosed file" not in errors
    probes = ll.load(run).probes
    assert probes.n_images == 3 and probes.thumbnails.shape[1:] == (25, 25, 1)
    assert probes.files == ("0.png", "1.png", "more/2.png")
    assert ll.load(run).n_images == len(faces_model.data.test)
    run = tmp_path / "run2"
    assert main(_analyze_argv(faces_file, "faces", run, "--probes", "digits", "--no-progress")) == 0
    assert ll.load(run).probes.n_images == 450  # the digits' test split, at the faces model's 25x25


def test_analyze_a_dicom_tree(faces_file, tmp_path):
    root = tmp_path / "train"
    csv = write_tree(root, 6, 5, sequences=("FLAIR", "T1w"))
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, root, run, "--labels", str(csv), "--sequence", "T1w", "--no-progress")
    assert main([*argv, "--slices", "3"]) == 0
    analysis = ll.load(run)
    assert analysis.n_images == 18 and analysis.class_names == ("0", "1")
    assert analysis.files[0].startswith("00000/T1w/") and analysis.labels.tolist()[:6] == [0, 0, 0, 1, 1, 1]
    assert analysis.thumbnails.shape[1:] == (25, 25, 1)
    assert analysis.metadata["patient"].tolist()[:4] == ["00000"] * 3 + ["00001"]
    assert analysis.paths["series"].iloc[0] == "T1w"


def test_a_model_with_code_needs_unsafe(tmp_path, capsys):
    import keras

    keras.utils.set_random_seed(0)
    layers = [
        keras.layers.Lambda(lambda x: 1.0 - x),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ]
    model = keras.Sequential([keras.Input((25, 25, 1)), *layers])
    model.save(tmp_path / "lambda.keras")
    argv = _analyze_argv(tmp_path / "lambda.keras", "faces", tmp_path / "run", "--no-progress")
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "allow it with --unsafe" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main([*argv, "--unsafe"]) == 0 and ll.load(tmp_path / "run").n_images == 50


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.keras", "faces"], "model: expected a Keras model file .* does not exist"),
        (["analyze", "{model}", "cifar10"], "data: expected one of .* or a folder of class sub-folders"),
        (["analyze", "{model}", "faces", "--layers", "nope"], r"layers: unknown layer name\(s\) \['nope'\]"),
        (
            ["analyze", "{model}", "mnist"],
            "model predicts 2 classes, so the data's class names list needs 2 names; received 10",
        ),
        (["demo", "--only", "cifar"], r"names: expected names from \('mnist', 'phantoms', 'faces', 'volumes'\)"),
        (["analyze", "{model}", "faces", "--probes", "nowhere/"], r"--probes: expected one of .* or a folder of"),
        (["analyze", "{model}", "faces", "--labels", "labels.csv"], r"data: with --labels, expected a folder"),
    ],
    ids=[
        "missing-model",
        "unknown-data",
        "unknown-layer",
        "mnist-for-a-faces-model",
        "unknown-demo",
        "unknown-probes",
        "labels-for-a-bundled-set",
    ],
)
def test_errors_exit_2_and_write_nothing(faces_file, tmp_path, capsys, argv, message):
    argv = [arg.replace("{model}", str(faces_file)) for arg in argv]
    out = ["--out", str(tmp_path / "run")] if argv[0] == "analyze" else ["--models", str(tmp_path / "m")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv + out)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("layerlens ")


@pytest.fixture(scope="module")
def faces_folder(faces_model, tmp_path_factory):
    """The faces test images as PNG files in class folders, which sort as ("face", "non_face")."""
    root = tmp_path_factory.mktemp("faces")
    test = faces_model.data.test
    for i, (image, label) in enumerate(zip(test.images, test.labels)):
        folder = root / test.class_names[label]
        folder.mkdir(exist_ok=True)
        io.imsave(folder / f"{i:03d}.png", np.round(image[..., 0] * 255).astype(np.uint8), check_contrast=False)
    return root


def test_class_names_put_a_folder_in_the_model_order(faces_file, faces_folder, tmp_path, capsys):
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, faces_folder, run, "--n-clusters", "2", "--no-progress")
    assert main(argv) == 0
    err = capsys.readouterr().err
    # Sorted folders name the classes the other way round from the model: said in one plain line.
    assert "layerlens analyze: warning: labels: the model predicts most images of 'face' as 'non_face'" in err
    assert ll.load(run).metrics.accuracy < 0.2
    assert main([*argv, "--force", "--class-names", "non_face", "face"]) == 0
    assert "warning" not in capsys.readouterr().err
    analysis = ll.load(run)
    assert analysis.class_names == ("non_face", "face") and analysis.metrics.accuracy > 0.8


def test_split_picks_held_out_images_of_a_folder(faces_file, faces_folder, tmp_path):
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, faces_folder, run, "--class-names", "non_face", "face")
    assert main([*argv, "--split", "test", "--test-size", "0.4", "--n-clusters", "2", "--no-progress"]) == 0
    analysis = ll.load(run)
    assert analysis.n_images == 20 and np.bincount(analysis.labels).tolist() == [10, 10]


def test_an_existing_run_is_replaced_only_with_force(faces_file, tmp_path, capsys):
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, "faces", run, "--n-clusters", "2", "--no-progress")
    assert main(argv) == 0
    before = (run / "manifest.json").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--n-clusters", "3"])
    assert exit_info.value.code == 2
    assert re.search(r"--out: .* already holds a layerlens run; pass --force", capsys.readouterr().err)
    assert (run / "manifest.json").read_bytes() == before
    assert main([*argv, "--n-clusters", "3", "--force"]) == 0
    assert {layer.clusters.k for layer in ll.load(run).layers} == {3}


def test_skipped_files_are_one_plain_line(faces_file, faces_folder, tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("face", "non_face"):
        (data / name).mkdir(parents=True)
        for source in sorted((faces_folder / name).glob("*.png"))[:3]:
            (data / name / source.name).write_bytes(source.read_bytes())
    (data / "face" / "broken.png").write_bytes(b"not a png")
    argv = _analyze_argv(faces_file, data, tmp_path / "run", "--n-clusters", "2")
    assert main([*argv, "--class-names", "non_face", "face", "--no-progress"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["layerlens analyze: warning: skipped 1 file(s) that could not be read as images: face/broken.png"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.keras", "faces", "--out", "{tmp}/r"], "model: expected a Keras model file"),
        (
            ["analyze", "{model}", "faces", "--out", "{tmp}/r", "--n-clusters", "three"],
            "expected 'auto', 'silhouette' or an integer >= 2; received 'three'",
        ),
        (["analyze", "{model}", "cifar", "--out", "{tmp}/r"], "data: expected one of"),
        (["analyze", "{model}", "faces", "--out", "{tmp}/r", "--test-size", "2"], "--test-size: expected a share"),
        (["analyze", "{model}", "faces", "--out", "{tmp}/r", "--explain", "-3"], "--explain: expected a number of"),
        (["analyze", "{model}", "faces", "--out", "{tmp}/r", "--preprocess", "alexnet"], "a keras.applications family"),
        (
            ["analyze", "{model}", "faces", "--out", "{tmp}/r", "--explain-methods", "shap"],
            "--explain-methods: invalid",
        ),
        (["analyze", "{model}", "faces", "--out", "{tmp}/taken"], "--out: .* already holds a layerlens run"),
        (["analyze", "{model}", "faces", "--out", "{tmp}/r", "--class-names", "a", "a"], "--class-names: expected"),
    ],
    ids=[
        "missing-model",
        "k-word",
        "unknown-data",
        "test-size",
        "explain-count",
        "preprocess-name",
        "explain-method",
        "existing-run",
        "repeated-class",
    ],
)
def test_argument_errors_come_before_any_heavy_import(faces_file, tmp_path, argv, message):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "manifest.json").write_text('{"format": "layerlens-run"}')
    argv = [a.replace("{model}", str(faces_file)).replace("{tmp}", str(tmp_path)) for a in argv]
    code = (
        "import sys\nfrom layerlens.app.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    print(e.code)\n"
        "print(*(m in sys.modules for m in ('tensorflow', 'keras', 'sklearn', 'pandas')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False", "False", "False", "False"]
    assert re.search(message, done.stderr)


def test_a_misspelt_layer_is_the_only_line_on_stderr(faces_file, faces_folder, tmp_path):
    """TensorFlow starts (the model must be read), but neither its chatter nor the data's reading shows."""
    data = tmp_path / "data"
    for name in ("face", "non_face"):
        (data / name).mkdir(parents=True)
        (data / name / "broken.png").write_bytes(b"not a png")  # reading the data would warn about these
    argv = ["analyze", str(faces_file), str(data), "--out", str(tmp_path / "run"), "--layers", "conv9"]
    done = subprocess.run([sys.executable, "-m", "layerlens.app.cli", *argv], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "layerlens analyze: error: layers: unknown layer name(s) ['conv9']; available layers: conv1, pool1, conv2, "
        "pool2, flatten, dense, dropout, output."
    ]
    assert not (tmp_path / "run").exists()


def test_a_reference_set_and_stability_from_the_shell(faces_file, faces_model, tmp_path):
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, "faces", run, "--reference", "faces", "--stability")
    assert main([*argv, "--no-progress"]) == 0
    analysis = ll.load(run)
    assert analysis.reference.n_images == len(faces_model.data.train)  # the bundled set's train split
    assert analysis.settings.stability and sorted(analysis.path_statistics.agreement) == [0.02, 0.05]


def test_a_folder_is_its_own_reference_on_the_other_side_of_the_split(faces_file, faces_folder, tmp_path):
    run = tmp_path / "run"
    argv = _analyze_argv(faces_file, faces_folder, run, "--reference", str(faces_folder))
    names = ["--class-names", "non_face", "face", "--split", "test", "--test-size", "0.4", "--no-progress"]
    assert main([*argv, *names]) == 0
    analysis = ll.load(run)
    assert analysis.n_images == 20 and analysis.reference.n_images == 30  # the 50 images, split 30 / 20


def test_a_model_that_answers_one_class_is_reported_loudly(tmp_path, capsys):
    """The analysis of a model whose predictions collapsed says so on the command line, not only in the run."""
    import keras

    inputs = keras.Input((8, 8, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    head = keras.layers.Dense(10, activation="softmax", name="out")
    model = keras.Model(inputs, head(features))
    head.set_weights([np.zeros((4, 10), np.float32), np.eye(10, dtype=np.float32)[3] * 5])
    model.save(tmp_path / "one.keras")
    assert main(_analyze_argv(tmp_path / "one.keras", "digits", tmp_path / "run", "--no-progress")) == 0
    captured = capsys.readouterr()
    assert "WARNING, this analysis cannot be right: the model predicted '3' for" in captured.out
    assert "warning: images: this analysis cannot be right" in captured.err
    assert "Pixels: ×1" in captured.out



@pytest.mark.parametrize("texts", [("Class 3 is taken for 5.", "The model is sure of 9 probes."), ()])
def test_analyze_prints_what_stands_out_after_its_summary(texts, tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from layerlens.app import workflows

    settings = SimpleNamespace(pixel_scale_reason="x1", explain_note="")
    analysis = SimpleNamespace(settings=settings, findings=tuple(SimpleNamespace(text=text) for text in texts))
    monkeypatch.setattr(workflows, "analyze_files", lambda *args, **kwargs: (tmp_path / "run", analysis))
    (tmp_path / "model.keras").write_bytes(b"")
    assert main(_analyze_argv(tmp_path / "model.keras", "faces", tmp_path / "run")) == 0
    lines = capsys.readouterr().out.splitlines()
    stands_out = ["What stands out:", *(f"- {text}" for text in texts)] if texts else []
    assert lines[2:-1] == stands_out and lines[-1].startswith("Run saved in ")


def test_python_dash_m_layerlens_is_the_command():
    done = subprocess.run([sys.executable, "-m", "layerlens", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "analyze" in done.stdout
