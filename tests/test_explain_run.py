"""Explaining more images of a stored run later: ``layerlens.explain_run`` and ``layerlens explain``."""

import numpy as np
import pytest
from _images import write_class_folders

import layerlens as ll
from layerlens.app.cli import main
from layerlens.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory, digits):
    """60 test digits as 8-bit PNGs, one folder per class."""
    return write_class_folders(tmp_path_factory.mktemp("explain_later") / "digits", digits[1], 60)


@pytest.fixture
def folder_run(tmp_path, sequential_model, folder):
    stream = ll.datasets.from_directory(folder, image_size=16, color_mode="grayscale", stream=True)
    analysis = ll.analyze(sequential_model, stream, explain=2, progress=False)
    return analysis.save(tmp_path / "run"), analysis


def test_a_folder_run_reads_its_images_again_and_is_written_anew(sequential_model, folder_run):
    run, before = folder_run
    wanted = [i for i in range(before.n_images) if i not in before.explained_images][:3]
    after = ll.explain_run(run, sequential_model, wanted, progress=False)
    assert set(wanted) <= set(after.explained_images) and set(before.explained_images) <= set(after.explained_images)
    assert ll.load(run).explanations_of(wanted[0])[0].method == "integrated_gradients"
    assert "Later 3 more images explained" in ll.load(run).settings.explain_note
    # The image explained later is the image analysed: its explanation equals one made from the array.
    shown = after.explained_images[wanted[0]][np.newaxis] / 255.0
    again = ll.explain(sequential_model, shown, method="integrated_gradients")
    np.testing.assert_allclose(after.explanations_of(wanted[0])[0].heatmap, again[0].heatmap, atol=1e-3)


def test_mistakes_not_yet_explained(sequential_model, digits):
    test = digits[1]
    analysis = ll.analyze(sequential_model, test, explain=1, progress=False)
    after = ll.explain_run(analysis, sequential_model, "mistakes", data=test, progress=False)
    wrong = set(np.flatnonzero(analysis.predictions != analysis.labels).tolist())
    assert wrong <= set(after.explained_images)


def test_an_array_run_needs_its_data_and_checks_it(sequential_model, digits, tmp_path):
    test = digits[1]
    analysis = ll.analyze(sequential_model, test.images, test.labels, explain=0, progress=False)
    with pytest.raises(InvalidInputError, match="data: this run does not record where its images came from"):
        ll.explain_run(analysis, sequential_model, [3], progress=False)
    with pytest.raises(InvalidInputError, match="data: the model gives the images read again other probabilities"):
        ll.explain_run(analysis, sequential_model, [3], data=test.images[::-1], progress=False)
    with pytest.raises(InvalidInputError, match=r"images: expected positions in 0..299; received \[450\]"):
        ll.explain_run(analysis, sequential_model, [450], data=test.images, progress=False)
    done = ll.explain_run(analysis, sequential_model, [3, 4], data=test.images, methods=["gradcam"], progress=False)
    assert [e.method for e in done.explanations] == ["gradcam", "gradcam"]


def test_the_command_explains_the_images_named(tmp_path, sequential_model, folder_run, capsys):
    run, before = folder_run
    sequential_model.save(tmp_path / "model.keras")
    wanted = [i for i in range(before.n_images) if i not in before.explained_images][:2]
    code = main(["explain", str(run), str(tmp_path / "model.keras"), "--images", ",".join(map(str, wanted)),
                 "--no-progress"])  # fmt: skip
    assert code == 0 and "Run saved in" in capsys.readouterr().out
    assert set(wanted) <= set(ll.load(run).explained_images)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "{tmp}/nothing", "{model}", "--images", "1"], "RUN: expected a run folder"),
        (["explain", "{run}", "{model}", "--images", "a,b"], "expected image numbers such as 12,40"),
        (["explain", "{run}", "{tmp}/none.keras", "--images", "1"], "model: expected a Keras model file"),
    ],
    ids=["no-run", "bad-images", "no-model"],
)
def test_command_errors(tmp_path, sequential_model, folder_run, capsys, argv, message):
    run, _ = folder_run
    sequential_model.save(tmp_path / "model.keras")
    filled = [a.format(tmp=tmp_path, run=run, model=tmp_path / "model.keras") for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(filled)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
