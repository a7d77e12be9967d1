import re

import numpy as np
import pytest
from skimage import io

import layerlens as ll
from layerlens import zoo
from layerlens.cli import main


@pytest.fixture(scope="module")
def faces_file(faces_model, tmp_path_factory):
    return zoo.save_example(faces_model, tmp_path_factory.mktemp("models"))


def test_demo_trains_analyses_and_says_where(tmp_path, capsys):
    models, runs = tmp_path / "m", tmp_path / "r"
    assert main(["demo", "--models", str(models), "--runs", str(runs), "--only", "faces"]) == 0
    out = capsys.readouterr().out
    assert (models / "faces.keras").is_file()
    assert ll.load(runs / "faces").class_names == ("non_face", "face")
    assert "faces     test accuracy" in out
    assert f"Models saved in {models.resolve()}" in out and f"Runs saved in {runs.resolve()}" in out


def test_analyze_a_bundled_data_set(faces_file, faces_model, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["analyze", str(faces_file), "faces", "--out", str(run), "--n-clusters", "3", "--no-progress"]) == 0
    assert f"Run saved in {run.resolve()}" in capsys.readouterr().out
    analysis = ll.load(run)
    assert analysis.n_images == len(faces_model.data.test)  # the held-out split the model never saw
    assert analysis.metrics.accuracy == pytest.approx(faces_model.test_accuracy)
    assert {layer.clusters.k for layer in analysis.layers} == {3}


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.keras", "faces"], "model: expected a Keras model file .* does not exist"),
        (["analyze", "{model}", "cifar10"], "data: expected one of .* or a folder of class sub-folders"),
        (["analyze", "{model}", "faces", "--layers", "nope"], r"layers: unknown layer name\(s\) \['nope'\]"),
        (
            ["analyze", "{model}", "mnist"],
            "model predicts 2 classes, so the ImageSet's class_names needs 2 names; received 10",
        ),
        (["demo", "--only", "cifar"], r"names: expected names from \('mnist', 'phantoms', 'faces'\)"),
    ],
    ids=["missing-model", "unknown-data", "unknown-layer", "mnist-for-a-faces-model", "unknown-demo"],
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
