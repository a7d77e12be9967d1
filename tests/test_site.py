"""The site builder: entry points, deterministic and atomic output, safe targets, escaped user strings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _browser import launch

import layerlens as ll
from layerlens.exceptions import InvalidInputError, InvalidTypeError, RunFormatError
from layerlens.site import _build, _content, build_site
from layerlens.site._target import MARKER
from layerlens.site._templates import script_json


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _neighbours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


# ------------------------------------------------------------------------------------------------ output


def test_the_site_has_every_page_and_its_pictures(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    run = built_site / "runs" / "01-digits"
    assert (built_site / "index.html").is_file() and (built_site / MARKER).is_file()
    assert sorted(p.name for p in (built_site / "assets").iterdir()) == ["plotly.min.js", "site.css", "site.js"]
    assert len(list((run / "images").glob("*.png"))) == len(analysis.paths)
    images = analysis.paths[~analysis.paths["probe"]]
    wrong = set((images.index[~images["correct"].astype(bool)]).tolist())
    pages = {int(p.stem) for p in (run / "samples").glob("*.html")}
    doubtful = set(_content.doubtful_correct(analysis).tolist())
    assert len(doubtful) == _content.DOUBTFUL_SHOWN and not doubtful & wrong
    assert pages == wrong | set(analysis.explained_images) | doubtful
    correct_doubt = analysis.doubt.doubt[images["correct"].to_numpy(bool)]
    assert min(analysis.doubt.doubt[list(doubtful)]) >= sorted(correct_doubt)[-_content.DOUBTFUL_SHOWN]
    model_page = (run / "index.html").read_text(encoding="utf-8")
    assert "Doubtful but correct (24)" in model_page
    assert len(list((run / "data").glob("map-*.js"))) == len(analysis.layers)
    explanations = {p.name for p in (run / "explanations").iterdir()}
    for index in analysis.explained_images:
        assert {f"{index:05d}.png", f"{index:05d}_lime.png", f"{index:05d}_gradcam.png"} <= explanations
        assert f"{index:05d}_lime_segments.png" in explanations


def test_images_are_files_and_nothing_is_fetched_from_the_web(built_site):
    for page in built_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "data:image" not in html, page
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page
        assert "@import" not in html and "fonts.googleapis" not in html
    css = (built_site / "assets" / "site.css").read_text()
    assert "url(" not in css and "@import" not in css


def test_pages_link_only_to_files_that_exist(built_site):
    for page in built_site.rglob("*.html"):
        for target in re.findall(r'(?<![\w-])(?:src|href)="([^"#]+)"', page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().is_file(), f"{page.relative_to(built_site)} -> {target}"


def test_the_same_runs_give_a_byte_identical_site(tmp_path, site_runs, built_site):
    build_site(site_runs, out=tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(built_site)


def test_an_analysis_in_memory_builds_the_same_site_as_its_folder(tmp_path, site_runs):
    # Explanation heat maps are stored as float16, so only a run without explanations reads back exactly.
    analysis = ll.load(site_runs[1])
    build_site(site_runs[1], out=tmp_path / "from_folder")
    build_site([analysis], out=tmp_path / "from_memory")
    assert _digest(tmp_path / "from_folder") == _digest(tmp_path / "from_memory")


def test_building_a_site_never_imports_tensorflow(tmp_path, site_runs):
    code = (
        "import sys, layerlens as ll\n"
        f"ll.build_site({[str(r) for r in site_runs]!r}, out={str(tmp_path / 'site')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_gallery_lists_mistakes_most_confident_first(site_runs):
    analysis = ll.load(site_runs[0])
    order = _content.gallery_order(analysis)
    paths = analysis.paths
    assert set(order.tolist()) == set(paths.index[~paths["correct"]].tolist())
    confidence = paths["confidence"].to_numpy()[order]
    assert (confidence[:-1] >= confidence[1:]).all()


def test_without_labels_the_gallery_shows_the_least_confident(site_runs, built_site):
    analysis = ll.load(site_runs[1])
    order = _content.gallery_order(analysis)
    assert len(order) == min(_content.UNSURE_SHOWN, len(analysis.paths))
    confidence = analysis.paths["confidence"].to_numpy()
    shown = np.zeros(len(confidence), bool)
    shown[order] = True
    assert confidence[shown].max() <= confidence[~shown].min()  # the least confident, none left out
    assert (confidence[order][:-1] <= confidence[order][1:]).all()
    gallery = (built_site / "runs" / "02-digits-unlabelled" / "gallery.html").read_text(encoding="utf-8")
    assert "Least confident predictions" in gallery and gallery.count('<li class="thumb') == len(order)


def test_the_grid_rows_are_the_rows_of_the_drawn_diagram(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    text = (built_site / "runs" / "01-digits" / "data" / "images.js").read_text(encoding="utf-8")
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    figure = json.loads(_build.figures.paths_jsons(analysis)[0])
    counts = figure["data"][0]["counts"]
    rows = data["row"]
    assert len(rows) == len(analysis.paths)
    per_row = _counts(counts)
    assert sorted(set(rows)) == list(range(len(per_row)))  # every drawn row holds images, no row is invented
    for row in set(rows):
        assert rows.count(row) == per_row[row]


def _counts(counts):
    if isinstance(counts, dict):
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(counts["bdata"]), dtype=counts["dtype"]).tolist()
    return counts


# ------------------------------------------------------------------------------------------------ entry points


def test_build_site_takes_one_run_or_several_and_returns_the_index(tmp_path, site_runs):
    index = ll.build_site(str(site_runs[1]), out=tmp_path / "one")
    assert index == tmp_path / "one" / "index.html" and index.is_file()


@pytest.mark.parametrize(
    ("runs", "error", "message"),
    [
        ([], InvalidInputError, "runs: expected at least one run folder or Analysis"),
        (42, InvalidTypeError, "runs: expected a run folder, an Analysis or a list of them"),
        ([3.5], InvalidTypeError, r"runs\[0\]: expected a run folder \(str or Path\) or an Analysis"),
    ],
)
def test_build_site_names_a_bad_runs_argument(tmp_path, runs, error, message):
    with pytest.raises(error, match=message):
        build_site(runs, out=tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(RunFormatError, match="not a layerlens run folder"):
        build_site([tmp_path / "notes"], out=tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_the_command_line_builds_a_site(tmp_path, site_runs):
    script = Path(__file__).resolve().parent.parent / "build_site.py"
    done = subprocess.run(
        [sys.executable, str(script), *map(str, site_runs), "--out", str(tmp_path / "site")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert str((tmp_path / "site" / "index.html").resolve()) in done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "layerlens.cli", "site", str(site_runs[0]), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "--out:" in refused.stderr and "refusing to replace it" in refused.stderr


# ------------------------------------------------------------------------------------------------ safety


def test_a_folder_with_other_files_is_never_replaced(tmp_path, site_runs):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(InvalidInputError, match="out: .* holds other files, not an earlier layerlens site"):
        build_site(site_runs[1], out=home)
    assert (home / "thesis.tex").read_text() == "years of work"
    assert _neighbours(home) == ["home"]
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="out: .* exists and is not a folder"):
        build_site(site_runs[1], out=tmp_path / "file.txt")


def test_an_empty_folder_or_an_earlier_site_is_fine(tmp_path, site_runs):
    (tmp_path / "empty").mkdir()
    build_site(site_runs[1], out=tmp_path / "empty")
    build_site(site_runs, out=tmp_path / "empty")  # an earlier site is replaced whole
    assert sorted(p.name for p in (tmp_path / "empty" / "runs").iterdir()) == ["01-digits", "02-digits-unlabelled"]
    assert _neighbours(tmp_path / "empty") == ["empty"]


def test_a_failed_build_leaves_the_earlier_site_untouched(tmp_path, site_runs, monkeypatch):
    out = tmp_path / "site"
    build_site(site_runs[1], out=out)
    before = _digest(out)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_build, "_sample_context", broken)
    with pytest.raises(OSError, match="disk full"):
        build_site(site_runs, out=out)
    assert _digest(out) == before
    assert _neighbours(out) == ["site"]  # no staging folder left behind


def test_script_json_cannot_end_a_script_or_open_a_comment():
    text = str(script_json({"name": "</script><script>alert(1)</script><!-- & '"}))
    assert "<" not in text and ">" not in text and "&" not in text and "'" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script><!-- & '"}


def test_run_folders_are_named_by_position_and_safe_letters():
    assert _content.run_slug(0, "../../etc/passwd") == "01-etc-passwd"
    assert _content.run_slug(11, "<script>") == "12-script"
    assert _content.run_slug(2, "Ünïcode ☃") == "03-n-code"
    assert _content.run_slug(3, "..") == "04-run"


HOSTILE_CLASSES = {0: "<script>alert(1)</script>", 1: 'a"b', 2: "../../x"}
HOSTILE_MODEL = '<img src=x onerror="window.__pwned=1">'
HOSTILE_FILE = "../../evil</script><script>window.__pwned=2</script>.png"
HOSTILE_LAYER = '</script><img src=x onerror="window.__pwned=4">'


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, site_runs):
    """The digits run renamed by an attacker: class, model, run, layer-free file names full of markup."""
    analysis = ll.load(site_runs[0])
    classes = tuple(HOSTILE_CLASSES.get(i, name) for i, name in enumerate(analysis.class_names))
    mapping = dict(zip(analysis.class_names, classes))
    paths = analysis.paths.copy()
    for column in ("true", "predicted"):
        paths[column] = paths[column].cat.rename_categories(mapping)
    files = tuple(HOSTILE_FILE if i % 2 else f"img/{i}.png" for i in range(len(paths)))
    paths["file"] = list(files)
    metrics = analysis.metrics
    per_class = metrics.per_class.rename(index=mapping)
    layer_names = {layer.name: f"{HOSTILE_LAYER}{i}" for i, layer in enumerate(analysis.layers)}
    paths = paths.rename(columns=layer_names)
    layers = tuple(
        dataclasses.replace(
            layer,
            name=layer_names[layer.name],
            clusters=dataclasses.replace(
                layer.clusters, names=tuple(HOSTILE_CLASSES[0] + n for n in layer.clusters.names)
            ),
        )
        for layer in analysis.layers
    )
    rows = tuple(dataclasses.replace(row, name=layer_names.get(row.name, row.name)) for row in analysis.model.layers)
    hostile = dataclasses.replace(
        analysis,
        name="</title><script>window.__pwned=3</script>",
        class_names=classes,
        model=dataclasses.replace(analysis.model, name=HOSTILE_MODEL, layers=rows),
        paths=paths,
        files=files,
        layers=layers,
        metrics=dataclasses.replace(
            metrics, class_names=classes, per_class=per_class, negative_class=HOSTILE_CLASSES[0]
        ),
    )
    root = tmp_path_factory.mktemp("hostile")
    out = root / "out" / "site"
    build_site([hostile], out=out)
    return root, out


def test_hostile_names_write_nothing_outside_the_site(hostile_site):
    root, out = hostile_site
    written = {p.relative_to(root) for p in root.rglob("*")}
    assert all(p.parts[:2] == ("out", "site") or p in {Path("out"), Path("out/site")} for p in written)
    assert not any("evil" in str(p) or p.name == "x" for p in written)


def test_hostile_names_are_escaped_in_every_page(hostile_site):
    _, out = hostile_site
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html and "<script>window.__pwned" not in html, page
        assert "<img src=x" not in html, page
    data = out / "runs" / "01-title-script-window-pwned-3-script" / "data"
    images = (data / "images.js").read_text()
    assert "&lt;" not in images  # JSON escapes, not HTML entities, inside scripts
    assert "\\u003cscript\\u003ealert(1)" in images and "\\u003c/script\\u003e\\u003cimg" in images
    for script in data.iterdir():
        assert "<" not in script.read_text(), script.name
    model_page = (out / "runs" / "01-title-script-window-pwned-3-script" / "index.html").read_text()
    assert "&lt;/script&gt;&lt;img src=x onerror=" in model_page  # the layer names, shown as text


def test_hostile_names_execute_nothing_in_the_browser(hostile_site, built_site):
    playwright = pytest.importorskip("playwright.sync_api")
    _, out = hostile_site
    run = next((out / "runs").iterdir())
    pages = [out / "index.html", run / "index.html", run / "gallery.html", next((run / "samples").iterdir())]
    plain_run = built_site / "runs" / "01-digits"
    plain = [built_site / "index.html", plain_run / "index.html", plain_run / "gallery.html"]
    with playwright.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        shapes = []
        for path in pages + plain:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            assert page.evaluate("window.__pwned") is None, path
            shapes.append(
                page.evaluate(
                    """[document.querySelectorAll('script:not([type="application/json"])').length,
                        document.querySelectorAll('[onerror], [onload], [onclick], [onmouseover]').length,
                        document.querySelectorAll('main h1, main h2').length,
                        [...document.querySelectorAll('script[type="application/json"]')].every(s => {
                            try { JSON.parse(s.textContent); return true; } catch (e) { return false; } })]"""
                )
            )
        browser.close()
    assert dialogs == [] and errors == []
    for hostile, clean in zip(shapes[:3], shapes[4:]):
        assert hostile[:2] == [clean[0], 0]  # no script element or event handler added
        assert hostile[3] and clean[3]  # every embedded JSON block still parses whole
    assert shapes[1][2] == shapes[5][2]  # the model page keeps its sections


def test_a_run_without_mistakes_says_so_in_its_gallery(tmp_path, site_runs):
    analysis = ll.load(site_runs[1])
    predicted = analysis.probabilities.argmax(axis=1)
    paths = analysis.paths.copy()
    paths["true"] = paths["predicted"]
    paths["correct"] = True
    flawless = dataclasses.replace(analysis, labels=predicted.astype("int64"), paths=paths)
    build_site([flawless], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits-unlabelled"
    gallery = (run / "gallery.html").read_text(encoding="utf-8")
    assert "classified all 120 images correctly" in gallery
    assert "<form" not in gallery and '<li class="thumb' not in gallery
    pages = {int(p.stem) for p in (run / "samples").iterdir()}
    assert pages == set(_content.doubtful_correct(flawless).tolist())  # only the doubtful correct images


def test_an_input_run_is_never_inside_the_site_nor_the_site_inside_a_run(tmp_path, site_runs):
    import shutil

    out = tmp_path / "site"
    build_site(site_runs[1], out=out)
    shutil.copytree(site_runs[1], out / "mine")
    with pytest.raises(InvalidInputError, match="lie one inside the other"):
        build_site([out / "mine"], out=out)
    with pytest.raises(InvalidInputError, match="out: the earlier site in .* also holds \\['mine'\\]"):
        build_site(site_runs[1], out=out)  # a folder of the user's, put in an earlier site
    assert (out / "mine" / "manifest.json").is_file()
    shutil.rmtree(out / "mine")
    run = tmp_path / "run"
    shutil.copytree(site_runs[1], run)
    with pytest.raises(InvalidInputError, match="lie one inside the other"):
        build_site([run], out=run / "site")
    with pytest.raises(InvalidInputError, match="lie one inside the other"):
        build_site([run], out=tmp_path)
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in Path(site_runs[1]).iterdir())


def test_the_current_folder_and_its_parents_are_refused(tmp_path, site_runs, monkeypatch):
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", "", str(tmp_path), "sub/.."):
        with pytest.raises(InvalidInputError, match="out: "):
            build_site(site_runs[1], out=out)
    assert list(here.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_sample_pages_list_the_nearest_neighbours_and_the_model_page_the_false_negatives(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    run = built_site / "runs" / "01-digits"
    for page in sorted((run / "samples").glob("*.html"))[:5]:
        image = int(page.stem)
        html = page.read_text(encoding="utf-8")
        listed = html[html.index("Nearest neighbours") :]
        shown = [int(n) for n in re.findall(r'src="\.\./images/(\d{5})\.png"', listed)]
        assert shown == analysis.neighbours([image], 8)[0].tolist()
    negative = analysis.class_names.index("0")
    missed = (analysis.labels != negative) & (analysis.predictions == negative)
    model_page = (run / "index.html").read_text(encoding="utf-8")
    assert f"({int(missed.sum())})</h4>" in model_page
    start = model_page.index("False negatives")
    section = model_page[start : model_page.index("</section>", start)]
    assert sorted(int(n) for n in re.findall(r'src="images/(\d{5})\.png"', section)) == np.flatnonzero(missed).tolist()


def test_the_model_page_lists_the_probes_and_the_grid_knows_them(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    n, probes = analysis.n_images, analysis.probes
    run = built_site / "runs" / "01-digits"
    model_page = (run / "index.html").read_text(encoding="utf-8")
    start = model_page.index('<section id="probes">')
    section = model_page[start : model_page.index("</section>", start)]
    assert "Probes: images of no class (12)" in section
    shown = [int(i) for i in re.findall(r'src="images/(\d{5})\.png"', section)]
    assert shown == (n + np.argsort(-probes.confidence, kind="stable")).tolist()  # most confident first
    for i in shown:  # each probe's thumbnail is its own picture, numbered after the images
        assert (run / "images" / f"{i:05d}.png").is_file()
    assert f"probe → {analysis.class_names[probes.predictions[shown[0] - n]]}" in section
    assert f"{int((probes.doubt.doubt >= 0.5).sum())} of them" in section
    text = (run / "data" / "images.js").read_text(encoding="utf-8")
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert data["nImages"] == n and len(data["predicted"]) == len(data["row"]) == n + 12
    assert data["true"][n:] == [-1] * 12 and all(len(layer) == n + 12 for layer in data["clusters"])
    assert not any(f"samples/{i:05d}.html" in model_page for i in shown)  # probes have no sample page


def test_the_model_page_gives_the_accuracy_of_each_metadata_group(tmp_path, site_runs):
    import pandas as pd

    from layerlens._metadata import check_metadata

    analysis = ll.load(site_runs[0])
    n = analysis.n_images
    meta = pd.DataFrame({"scanner": np.array(["GE", "Siemens"])[np.arange(n) % 2], "patient": range(n)})
    with_meta = dataclasses.replace(analysis, metadata=check_metadata(meta, n, ()))
    build_site([with_meta], out=tmp_path / "site")
    page = (tmp_path / "site" / "runs" / "01-digits" / "index.html").read_text(encoding="utf-8")
    assert "Accuracy by scanner" in page and "Accuracy by patient" not in page  # one group per image: no table
    table = with_meta.accuracy_by("scanner")
    for value, row in table.iterrows():
        assert f'<th scope="row">{value}</th><td class="num">{int(row["images"])}</td>' in page
    worst = table["accuracy"].idxmin()
    assert f"Lowest: <strong>{worst}</strong>" in page


def test_every_metadata_column_that_groups_images_colours_the_maps_and_filters_the_gallery(tmp_path, site_runs):
    import pandas as pd

    from layerlens._metadata import check_metadata

    analysis = ll.load(site_runs[0])
    n = analysis.n_images
    meta = pd.DataFrame(
        {"patient": [f"p{i // 3}" for i in range(n)], "slice": range(n), "site": ["a", "b", None] * (n // 3)}
    )
    with_meta = dataclasses.replace(analysis, metadata=check_metadata(meta, n, ()))
    build_site([with_meta], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits"
    script = (run / "data" / "images.js").read_text(encoding="utf-8")
    data = json.loads(script[script.index("{") : script.rindex("}") + 1])
    colourings = {entry["column"]: entry for entry in data["colourBy"]}
    assert sorted(colourings) == ["patient", "site"]  # one slice per image groups nothing
    patient = colourings["patient"]
    assert len(patient["codes"]) == n and len(patient["names"]) == len(patient["colours"]) == 10
    assert patient["names"][-1] == f"({n // 3 - 9} other values)"
    assert colourings["site"]["names"] == ["a", "b", "(missing)"]
    model_page = (run / "index.html").read_text(encoding="utf-8")
    assert '<option value="0">patient</option>' in model_page and '<option value="1">site</option>' in model_page
    gallery = (run / "gallery.html").read_text(encoding="utf-8")
    assert 'name="meta-0"' in gallery and 'name="meta-1"' in gallery and 'name="meta-2"' not in gallery
    assert ">p99<" in gallery  # the patient filter lists every patient
