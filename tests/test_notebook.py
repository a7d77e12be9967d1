"""The notebook: an analysis' HTML summary and paths sketch, the site in a frame, and the example notebook run."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import layerlens as ll
from layerlens.exceptions import InvalidInputError, LayerlensError
from layerlens.figures._sketch import paths_sketch
from layerlens.findings import Finding
from layerlens.paths._table import build_paths
from layerlens.site import serve_site, show_site

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOK = EXAMPLES / "phantoms_in_a_notebook.ipynb"
SVG = "{http://www.w3.org/2000/svg}"


def _paths(n: int, n_classes: int, n_layers: int, *, k: int = 6, labelled: bool = True, seed: int = 0):
    """A paths table whose layers sort the images by class more and more cleanly, with class names to escape."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, n_classes, n)
    predicted = np.where(rng.random(n) < 0.85, true, rng.integers(0, n_classes, n))
    labels = [
        np.where(rng.random(n) < 0.2 * (1 - layer / n_layers), rng.integers(0, k, n), true % k)
        for layer in range(n_layers)
    ]
    names = [[f"c{i + 1} · <i>{i}</i>" for i in range(k)] for _ in range(n_layers)]
    leading = [np.arange(k) % n_classes for _ in range(n_layers)]
    classes = [f"<b>class {i}</b>" if i == 0 else f"class {i}" for i in range(n_classes)]
    layers = [f"block_{i}_conv" for i in range(n_layers)]
    table = build_paths(
        labels,
        names,
        leading,
        layers,
        predicted=predicted,
        confidence=rng.random(n),
        class_names=classes,
        true=true if labelled else None,
    )
    return table, layers, classes


# ----------------------------------------------------------------------------------------------- the sketch


@pytest.mark.parametrize(("n_classes", "n_layers"), [(2, 1), (4, 7), (10, 30)])
def test_the_sketch_is_one_svg_with_an_axis_per_layer_and_a_legend_of_classes(n_classes, n_layers):
    table, layers, classes = _paths(2000, n_classes, n_layers)
    svg = paths_sketch(table, layers, classes)
    root = ET.fromstring(svg)  # well-formed: every user string escaped
    assert root.tag == f"{SVG}svg" and root.get("width") == "600" and root.get("height") == "220"
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    # What a text shows: its own text, not the full name in its hover title.
    texts = [(t.text or "") + "".join(child.tail or "" for child in t) for t in root.iter(f"{SVG}text")]
    assert "<b>class 0</b>" in texts  # the legend names every class, escaped
    assert all(name in texts for name in classes[1:])
    assert "prediction" in texts
    bands = list(root.iter(f"{SVG}polyline"))
    assert bands and all(len(band.get("points").split()) == n_layers + 1 for band in bands)
    # The prediction axis: one bar per predicted class, in the class's colour.
    from layerlens.figures._style import class_colours

    fills = {rect.get("fill") for rect in root.iter(f"{SVG}rect")}
    assert set(class_colours(n_classes)) <= fills


def test_the_sketch_stays_small_and_quick_for_ten_thousand_images_through_thirty_layers():
    table, layers, classes = _paths(10_000, 10, 30, k=8)
    start = time.perf_counter()
    svg = paths_sketch(table, layers, classes)
    assert time.perf_counter() - start < 10
    assert len(svg.encode()) < 45_000


def test_the_sketch_without_labels_is_coloured_by_prediction_and_rejects_bad_input():
    table, layers, classes = _paths(300, 3, 2, labelled=False)
    svg = paths_sketch(table, layers, classes)
    assert "colour = predicted class" in svg and "predicted class</text>" in svg
    with pytest.raises(InvalidInputError, match="layer_names"):
        paths_sketch(table, ["nope"], classes)
    with pytest.raises(InvalidInputError, match="layer_names"):
        paths_sketch(table, [], classes)
    with pytest.raises(InvalidInputError, match="min_share"):
        paths_sketch(table, layers, classes, min_share=1.5)


# ------------------------------------------------------------------------------------------ the HTML summary


@pytest.fixture(scope="module")
def analyses(site_runs):
    """The two stored runs of the site tests: labelled (probes, reference) and unlabelled."""
    return [ll.load(run) for run in site_runs]


def test_an_analysis_shows_itself_in_a_notebook_as_a_self_contained_summary(analyses):
    labelled, unlabelled = analyses
    shown = labelled._repr_html_()
    assert shown.startswith("<div") and shown.endswith("</div>")
    assert "<script" not in shown and "<style" not in shown and "<link" not in shown and "plotly" not in shown
    assert "“digits”" in shown and f"{labelled.n_images:,} images of 10 classes" in shown
    assert f"{labelled.probes.n_images:,} probes" in shown and "reference images" in shown
    low, high = labelled.metrics.accuracy_ci
    assert f"{labelled.metrics.accuracy:.3f}" in shown and f"{low:.3f} to {high:.3f}" in shown
    assert "balanced accuracy" in shown and labelled.model.name in shown
    assert "×".join(str(side) for side in labelled.model.input_shape) in shown
    for name, layer in zip(labelled.layer_names, labelled.layers):
        assert f'{name}&nbsp;<span style="color:#666666">k={layer.clusters.k}' in shown
    assert "What stands out" in shown and shown.count("<svg") == 1
    assert len(shown.encode()) < 60_000
    plain = unlabelled._repr_html_()
    assert "no true labels" in plain and "Accuracy" not in plain


def test_the_summary_lists_the_findings_escaped_or_says_none_passed(analyses):
    labelled = analyses[0]
    none = replace(labelled, findings=())._repr_html_()
    assert "No finding passed its threshold" in none
    findings = tuple(
        Finding("confusion", f"<script>alert({i})</script> 12% of 3s taken for 8s.", 0.12, (0.08, 0.17), 0.05)
        for i in range(12)
    )
    shown = replace(labelled, findings=findings)._repr_html_()
    assert "<script>" not in shown and "&lt;script&gt;alert(0)&lt;/script&gt;" in shown
    assert shown.count("<li ") == 10 and "and 2 more" in shown
    assert 'title="confusion: 0.12 (95% interval 0.08 to 0.17), threshold 0.05"' in shown


def test_the_summary_warns_in_red_when_the_analysis_cannot_be_right(analyses):
    labelled = analyses[0]
    collapsed = np.zeros_like(labelled.probabilities)
    collapsed[:, 0] = 1.0
    broken = replace(labelled, probabilities=collapsed)
    assert broken.problems
    shown = broken._repr_html_()
    assert 'role="alert"' in shown and "This analysis cannot be right" in shown and "#a50e0e" in shown
    assert 'role="alert"' not in labelled._repr_html_()


# ---------------------------------------------------------------------------------------- the site in a frame


@pytest.fixture
def in_ipython(monkeypatch):
    """Pretend to run in an IPython kernel (show_site refuses to run elsewhere)."""
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())


def _site(folder: Path) -> Path:
    (folder / "runs" / "a b").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>index</title>", encoding="utf-8")
    (folder / "runs" / "a b" / "index.html").write_text("<!doctype html><title>run</title>", encoding="utf-8")
    return folder


def test_show_site_points_the_frame_at_the_page_relative_to_the_notebooks_folder(tmp_path, monkeypatch, in_ipython):
    _site(tmp_path / "work" / "output site")
    monkeypatch.chdir(tmp_path / "work")
    frame = show_site("output site")
    assert frame.src == "output%20site/index.html" and frame.height == 800 and frame.width == "100%"
    assert show_site(tmp_path / "work" / "output site", page="runs/a b/index.html", height=500).src == (
        "output%20site/runs/a%20b/index.html"
    )
    assert "<iframe" in frame._repr_html_()


def test_show_site_refuses_what_jupyter_would_not_serve(tmp_path, monkeypatch, in_ipython):
    _site(tmp_path / "outside")
    _site(tmp_path / "work" / ".hidden" / "site")
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(InvalidInputError, match="serve_site"):
        show_site(tmp_path / "outside")
    with pytest.raises(InvalidInputError, match="hidden"):
        show_site(".hidden/site")
    with pytest.raises(InvalidInputError, match="build_site"):
        show_site("missing")
    with pytest.raises(InvalidInputError, match="page"):
        show_site(tmp_path / "outside", page="../x.html")


def test_show_site_outside_a_notebook_says_what_to_do_instead(tmp_path):
    with pytest.raises(LayerlensError, match="in a browser"):
        show_site(_site(tmp_path / "site"))


def test_serve_site_serves_the_site_on_localhost_and_reuses_its_server(tmp_path, in_ipython):
    site = _site(tmp_path / "site")
    frame = serve_site(site, height=600)
    assert frame.src == f"http://127.0.0.1:{frame.port}/index.html" and frame.height == 600
    with urllib.request.urlopen(frame.src, timeout=10) as response:
        assert response.status == 200 and b"<title>index</title>" in response.read()
    again = serve_site(site, page="runs/a b/index.html")
    assert again.port == frame.port and again.src.endswith("/runs/a%20b/index.html")
    with urllib.request.urlopen(again.src, timeout=10) as response:
        assert b"<title>run</title>" in response.read()
    with pytest.raises(InvalidInputError, match="port"):
        serve_site(site, port=-1)


# -------------------------------------------------------------------------------------- the example notebook


def test_the_example_notebook_is_stored_without_outputs():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def _kernel(tmp_path: Path):
    """A kernel of this interpreter (the venv's), whatever kernels the machine has, with TensorFlow's logging down."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "layerlens-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "layerlens test",
                "language": "python",
                "env": {"TF_CPP_MIN_LOG_LEVEL": "2"},
            }
        ),
        encoding="utf-8",
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="layerlens-test", kernel_spec_manager=specs)


def test_the_example_notebook_runs_cleanly_in_a_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("output_site", ".ipynb_checkpoints"))
    notebook = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="layerlens-test",
        km=_kernel(tmp_path),
        resources={"metadata": {"path": folder}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first cell that fails
    seconds = time.perf_counter() - start
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    noise = [output.text for output in outputs if output.output_type == "stream" and output.name == "stderr"]
    assert noise == [], f"the notebook wrote to its error stream: {noise}"
    text = json.dumps(outputs)
    assert "TqdmWarning" not in text and "IProgress" not in text
    shown = [
        output.data["text/html"]
        for output in outputs
        if output.output_type == "execute_result" and "layerlens-analysis" in output.data.get("text/html", "")
    ]
    assert len(shown) == 1 and "What stands out" in shown[0] and "<svg" in shown[0] and "Accuracy" in shown[0]
    assert (folder / "output_site" / "index.html").is_file()
    assert any("output_site/index.html" in output.data.get("text/html", "") for output in outputs if "data" in output)
    assert seconds < 180, f"the notebook took {seconds:.0f} s"
