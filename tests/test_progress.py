import io
import warnings

import pytest

from layerlens._util import progress as progress_module
from layerlens._util.progress import LOG_SECONDS, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_goes_to_stderr_with_its_counts(capsys):
    bar = Progress(100, "image")
    for _ in range(4):
        bar.add(25)
    bar.close()
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays the user's
    assert "100/100 images" in captured.err and "images/s" in captured.err
    assert bar.done == 100


def test_an_unknown_total_counts_without_a_bar():
    log = io.StringIO()
    bar = Progress(None, "batch", stream=log)
    bar.add(30)
    bar.close()
    last = log.getvalue().splitlines()[-1]
    assert last.startswith("30 batches [") and "batches/s" in last and "%" not in last


def test_a_terminal_gets_one_line_redrawn():
    terminal = _Terminal()
    bar = Progress(3, "explanation", stream=terminal)
    for _ in range(3):
        bar.add(1)
    bar.close()
    text = terminal.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "3/3 explanations" in text and "100%" in text


def test_a_log_gets_a_whole_line_every_15_seconds_at_most(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("tqdm.std.time", lambda: clock[0])
    log = io.StringIO()
    bar = Progress(600, "image", stream=log)
    for _ in range(600):
        clock[0] += 0.5  # five minutes in all
        bar.add(1)
    bar.close()
    text = log.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    # The first line, one at most every 15 s of the 300, and the last.
    assert 3 <= len(lines) <= 2 + 300 / LOG_SECONDS
    assert "600/600 images" in lines[-1] and "05:00" in lines[-1]


@pytest.mark.parametrize("widgets", [False, True], ids=["no ipywidgets", "ipywidgets"])
def test_a_kernel_gets_no_tqdm_warning(monkeypatch, capsys, widgets):
    monkeypatch.setattr(progress_module, "in_kernel", lambda: True)
    monkeypatch.setattr(progress_module, "find_spec", lambda name: object() if widgets else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = Progress(10, "image")
        bar.add(10)
        bar.close()
    written = capsys.readouterr()
    # With widgets the bar is a widget (tqdm.auto, which in this test's plain process writes text to stderr);
    # without, the text bar goes to the cell's output, not to its error stream.
    assert "10/10 images" in (written.err if widgets else written.out)
    assert widgets or written.err == ""


@pytest.mark.parametrize("stream", [False, True], ids=["read", "listed"])
def test_a_folder_is_read_with_a_bar_when_asked(tmp_path, capsys, stream):
    from _images import write_class_folders

    from layerlens.datasets import from_directory, load_digits

    root = write_class_folders(tmp_path / "data", load_digits(image_size=8).train, 12)
    assert len(from_directory(root, image_size=8, color_mode="grayscale", stream=stream)) == 12
    assert capsys.readouterr().err == ""  # quiet by default
    from_directory(root, image_size=8, color_mode="grayscale", stream=stream, progress=True)
    assert "12/12 files" in capsys.readouterr().err


def test_a_dicom_tree_is_read_with_bars_when_asked(tmp_path, capsys):
    pytest.importorskip("pydicom")
    from _dicom import write_tree

    from layerlens.datasets import from_dicom

    csv = write_tree(tmp_path / "scans", 3, 4, sequences=("FLAIR",))
    images = from_dicom(tmp_path / "scans", csv, slices=2, image_size=16, progress=True)
    err = capsys.readouterr().err
    assert len(images) == 6 and "3/3 patients" in err and "6/6 slices" in err


_STAND_IN_UMAP = """
from tqdm.auto import tqdm  # as umap.layouts does


class UMAP:
    def __init__(self, **options):
        self.options = options
"""

_LIME_AND_PROGRESS = """
import sys

import numpy as np

for name in ("tqdm.auto", "tqdm.autonotebook"):
    sys.modules.pop(name, None)  # as in a fresh kernel: the next import of tqdm.auto may warn again

from layerlens._util.progress import Progress
from layerlens.explanations.lime import explain_lime


class Scorer:
    def probabilities(self, x):
        m = np.asarray(x).reshape(len(x), -1).mean(axis=1)
        return np.stack([m, 1 - m], axis=1)

    def composite_probabilities(self, kept, hidden, segments, shown):
        p = shown.mean(axis=1)
        return np.stack([p, 1 - p], axis=1).astype(np.float32)


image = np.random.default_rng(0).random((1, 16, 16, 1)).astype(np.float32)
made = explain_lime(Scorer(), image, np.array([0]), 0, num_samples=20, n_segments=4)
bar = Progress(5, "image")
bar.add(5)
bar.close()
print(len(made), made[0].method)
"""


def test_lime_umap_and_the_bar_are_quiet_in_a_kernel_without_ipywidgets(tmp_path):
    """A real Jupyter kernel (ipykernel, no ipywidgets): nothing reaches the cell's stderr but our own bar."""
    manager_module = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    (tmp_path / "umap").mkdir()
    (tmp_path / "umap" / "__init__.py").write_text(_STAND_IN_UMAP)
    manager, client = manager_module.start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        # umap-learn itself imports TensorFlow (seconds, and its start-up lines): a stand-in that imports
        # tqdm.auto as umap does shows the same warning.
        umap = _run(
            client,
            f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nassert 'tqdm.autonotebook' not in sys.modules\n"
            "from layerlens.layers._maps import _umap_reducer\nprint(type(_umap_reducer(0, 5)).__module__)",
        )
        assert umap == {"stdout": "umap\n", "stderr": ""}
        lime = _run(client, _LIME_AND_PROGRESS)
        assert lime["stdout"].endswith("1 lime\n")
        assert "5/5 images" in lime["stdout"] and "\r" in lime["stdout"]  # redrawn, as a notebook cell allows
        assert lime["stderr"] == ""
        # The kernel does show the warning to an unguarded import: the checks above are not vacuous.
        control = _run(
            client, "import sys\nsys.modules.pop('tqdm.autonotebook')\nsys.modules.pop('tqdm.auto')\nimport tqdm.auto"
        )
        assert "IProgress not found" in control["stderr"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client, code: str) -> dict[str, str]:
    out = {"stdout": "", "stderr": ""}

    def hook(message):
        if message["msg_type"] == "stream":
            out[message["content"]["name"]] += message["content"]["text"]
        elif message["msg_type"] == "error":
            out["stderr"] += "\n".join(message["content"]["traceback"])

    reply = client.execute_interactive(code, timeout=60, output_hook=hook)
    assert reply["content"]["status"] == "ok", out["stderr"]
    return out
