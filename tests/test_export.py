"""Figures of a run as PNG and SVG files for a report: save_figures, export_figures, ``layerlens figures``.

Each export starts a headless Chromium (about 3 s): the module starts two, one for the library call and one
for the command.
"""

import asyncio
import dataclasses
import os
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest
from skimage import io

import layerlens as ll
import layerlens.figures._export as export
from layerlens._util.atomic import write_atomically
from layerlens.app.cli import main
from layerlens.exceptions import InvalidInputError, LayerlensError, MissingDependencyError
from layerlens.figures import export_figures
from layerlens.findings import Finding
from layerlens.run._report import FINDINGS_FILE, figures_of, findings_markdown, save_figures

_LATEX_NAME = re.compile(r"[0-9]{2}-[a-z0-9_-]+\.(png|svg)")


@pytest.fixture(scope="module")
def saved(site_runs, tmp_path_factory):
    """The labelled site run's figures, saved from inside a running event loop, as a Jupyter kernel calls it."""
    analysis = ll.load(site_runs[0])
    folder = tmp_path_factory.mktemp("report") / "figures"

    async def in_a_kernel():
        return analysis.save_figures(folder)

    return analysis, folder, asyncio.run(in_a_kernel())


def test_every_figure_of_the_run_is_written_in_both_formats(saved):
    analysis, folder, written = saved
    stems = [path.stem for path in written[:-1:2]]
    layers = [f"10-layer-{i:02d}-{name}" for i, name in enumerate(analysis.layer_names, start=1)]
    explained = sorted(f"40-explanation-{e.image_index:05d}-{e.method}" for e in analysis.explanations)
    metrics = ["01-paths", "02-paths-doubt", "03-separability", "04-confusion", "05-reliability"]
    assert stems == [*metrics, *layers, *explained]
    assert len(explained) == 8  # 4 images, lime and gradcam
    assert [path.suffix for path in written[:-1]] == [".png", ".svg"] * len(stems)
    assert written[-1] == folder / FINDINGS_FILE
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)  # nothing half-written


def test_every_png_is_a_picture_and_every_svg_parses(saved):
    _, _, written = saved
    for path in written[:-1]:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            pixels = io.imread(path)
            assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 300, path.name
            assert pixels.std() > 1.0, f"{path.name} is blank"
        else:
            root = ET.parse(path).getroot()
            assert root.tag.endswith("svg"), path.name


def test_file_names_suit_latex_and_sort_in_the_order_of_a_report(saved):
    _, _, written = saved
    figures = [path.name for path in written[:-1]]
    assert all(_LATEX_NAME.fullmatch(name) for name in figures), figures
    assert figures == sorted(figures)


def test_findings_md_has_the_summary_the_findings_and_a_caption_per_figure(saved):
    analysis, folder, written = saved
    text = (folder / FINDINGS_FILE).read_text(encoding="utf-8")
    assert text.startswith(f"# {analysis.name}\n")
    low, high = analysis.metrics.accuracy_ci
    assert f"accuracy {analysis.metrics.accuracy:.3f} (95% interval {low:.3f} to {high:.3f})" in text
    if analysis.findings:
        assert all(f"- {finding.text}" in text for finding in analysis.findings)
    else:
        assert "No finding passed its threshold." in text
    for png, svg in zip(written[:-1:2], written[1:-1:2]):
        assert re.search(rf"^- `{png.name}`, `{svg.name}`: \S", text, re.MULTILINE), png.name


def test_findings_are_listed_one_per_line(saved):
    analysis, _, _ = saved
    finding = Finding("confusion", "Class 3 is mistaken for 5 in 12% of its images.", 0.12, (0.06, 0.2), 0.05)
    text = findings_markdown(dataclasses.replace(analysis, findings=(finding,)), figures_of(analysis), ("pdf",))
    assert "## What stands out\n\n- Class 3 is mistaken for 5 in 12% of its images.\n" in text
    assert "No finding" not in text and "- `01-paths.pdf`: Paths" in text


def test_the_command_writes_the_figures_of_a_stored_run(site_runs, tmp_path, capsys):
    out = tmp_path / "figs"
    out.mkdir()
    (out / "report.tex").write_text("kept")
    assert main(["figures", str(site_runs[1]), "--out", str(out), "--formats", "svg"]) == 0
    printed = capsys.readouterr().out
    analysis = ll.load(site_runs[1])  # unlabelled: no separability, confusion or reliability
    names = sorted(p.name for p in out.iterdir())
    assert "03-separability.svg" not in names and "04-confusion.svg" not in names
    assert names[:2] == ["01-paths.svg", "02-paths-doubt.svg"]
    assert len(names) == 2 + len(analysis.layers) + 2  # and findings.md, report.tex
    assert (out / "report.tex").read_text() == "kept"
    assert re.search(rf"{len(analysis.layers) + 2} figure\(s\) as svg .* written in \d+\.\d s to ", printed)
    assert "  01-paths.svg\n" in printed and f"  {FINDINGS_FILE}\n" in printed


@pytest.mark.parametrize("formats", [("gif",), "png,svg", (), ["png", 3], None])
def test_unknown_formats_are_refused_before_any_drawing(formats, tmp_path):
    with pytest.raises(InvalidInputError, match=r"formats: expected one or more of png, svg, pdf"):
        export_figures({"01-a": go.Figure()}, tmp_path / "out", formats)
    assert not (tmp_path / "out").exists()


def test_the_command_refuses_an_unknown_format(site_runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", str(site_runs[1]), "--out", str(tmp_path / "out"), "--formats", "png,tiff"])
    assert exit_info.value.code == 2
    assert "argument --formats: expected one or more of png, svg, pdf" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_save_figures_checks_formats_first(saved, tmp_path):
    analysis, _, _ = saved
    with pytest.raises(InvalidInputError, match="formats:"):
        save_figures(analysis, tmp_path / "out", formats=("png", "eps"))
    assert not (tmp_path / "out").exists()


def test_a_browser_path_that_is_not_there_is_named_at_once(saved, site_runs, tmp_path, monkeypatch, capsys):
    analysis, _, _ = saved
    missing = tmp_path / "no-chrome"
    monkeypatch.setenv("BROWSER_PATH", str(missing))
    start = time.perf_counter()
    with pytest.raises(MissingDependencyError, match=rf"BROWSER_PATH='{re.escape(str(missing))}' is not an exec"):
        analysis.save_figures(tmp_path / "out")
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", str(site_runs[0]), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "apt-get install chromium" in capsys.readouterr().err
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "out").exists()


def test_a_program_that_is_no_browser_is_reported_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/usr/bin/true")
    with pytest.raises(MissingDependencyError, match=r"'/usr/bin/true' could not be started .* apt-get install"):
        export_figures({"01-a": go.Figure()}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_without_any_browser_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export, "_DEBIAN_CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"no Chrome or Chromium found .* apt-get install chromium"):
        export_figures({"01-a": go.Figure()}, tmp_path / "out")


def test_the_browser_is_found_on_path(tmp_path, monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export, "_DEBIAN_CHROMIUM", str(tmp_path / "missing"))
    chrome = tmp_path / "google-chrome"
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert export._find_browser() == chrome
    monkeypatch.setenv("BROWSER_PATH", "/usr/bin/true")
    assert str(export._find_browser()) == "/usr/bin/true"


def test_an_interrupted_write_leaves_the_earlier_file_and_nothing_else(tmp_path, monkeypatch):
    target = tmp_path / "01-paths.png"
    target.write_bytes(b"earlier")

    def interrupted(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"new" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["01-paths.png"]
    assert target.read_bytes() == b"earlier"


@pytest.mark.parametrize(
    ("figures", "message"),
    [
        ({"Paths.png": go.Figure()}, "file names of lower-case letters"),
        ({"a b": go.Figure()}, "file names of lower-case letters"),
        ({"../up": go.Figure()}, "file names of lower-case letters"),
        ({"01-a": np.zeros(3)}, "expected plotly figures"),
    ],
)
def test_figure_names_and_figures_are_checked(figures, message, tmp_path):
    with pytest.raises(LayerlensError, match=message):
        export_figures(figures, tmp_path)
