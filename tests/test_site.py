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
import pandas as pd
import pytest
from _browser import launch

import layerlens as ll
from layerlens.exceptions import InvalidInputError, InvalidTypeError, RunFormatError, UnreliableAnalysisWarning
from layerlens.run._metadata import check_metadata
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
        for target in re.findall(r'(?<![\w-])(?:src|href)="([^"#?]+)', page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().is_file(), f"{page.relative_to(built_site)} -> {target}"


def test_the_same_runs_give_a_byte_identical_site(tmp_path, site_runs, built_site):
    build_site(site_runs, out=tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(built_site)


# The advice on how to explain an image, which names the run folder (or, in memory, the analysis "a").
HINT = re.compile(r'<div class="explain-hint">.*?</div>', re.DOTALL)


def test_an_analysis_in_memory_builds_the_same_site_as_its_folder(tmp_path, site_runs):
    # Explanation heat maps are stored as float16, so only a run without explanations reads back exactly.
    analysis = ll.load(site_runs[1])
    build_site(site_runs[1], out=tmp_path / "from_folder")
    build_site([analysis], out=tmp_path / "from_memory")
    folder, memory = _digest(tmp_path / "from_folder"), _digest(tmp_path / "from_memory")
    assert folder.keys() == memory.keys()
    differ = sorted(name for name in folder if folder[name] != memory[name])
    assert differ and all(re.fullmatch(r"runs/01-digits-unlabelled/samples/\d{5}\.html", name) for name in differ)
    for name in differ:  # only the advice differs: explain the run folder, or the analysis in memory
        pages = [(tmp_path / site / name).read_text(encoding="utf-8") for site in ("from_folder", "from_memory")]
        assert HINT.sub("", pages[0]) == HINT.sub("", pages[1])
        image = int(Path(name).stem)
        assert f"ll.explain_run(&#34;{Path(site_runs[1]).resolve()}&#34;, model, [{image}], data=images)" in pages[0]
        assert f"a = ll.explain_run(a, model, [{image}], data=images)" in pages[1]


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
        [sys.executable, "-m", "layerlens.app.cli", "site", str(site_runs[0]), "--out", str(tmp_path)],
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
HOSTILE_META = '<script>alert("meta")</script>'
HOSTILE_TEXT = '<img src=x onerror="window.__pwned=5">'


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
            short_name=layer_names[layer.name],
            clusters=dataclasses.replace(
                layer.clusters, names=tuple(HOSTILE_CLASSES[0] + n for n in layer.clusters.names)
            ),
        )
        for layer in analysis.layers
    )
    rows = tuple(dataclasses.replace(row, name=layer_names.get(row.name, row.name)) for row in analysis.model.layers)
    n = analysis.n_images
    meta = pd.DataFrame({HOSTILE_META: np.where(np.arange(n) % 2, HOSTILE_TEXT, None)})
    paths = paths.rename(columns={"scanner": HOSTILE_META})
    paths[HOSTILE_META] = list(meta[HOSTILE_META]) + [None] * (len(paths) - n)
    reference = analysis.reference
    hostile = dataclasses.replace(
        analysis,
        name="</title><script>window.__pwned=3</script>",
        class_names=classes,
        model=dataclasses.replace(analysis.model, name=HOSTILE_MODEL, layers=rows, file=f"/m/{HOSTILE_TEXT}.keras"),
        settings=dataclasses.replace(
            analysis.settings, pixel_scale_reason=HOSTILE_TEXT, preprocess=HOSTILE_META, explain_note=HOSTILE_TEXT
        ),
        paths=paths,
        files=files,
        layers=layers,
        metrics=dataclasses.replace(
            metrics, class_names=classes, per_class=per_class, negative_class=HOSTILE_CLASSES[0]
        ),
        metadata=check_metadata(meta, n, ()),
        reference=dataclasses.replace(reference, files=tuple([f"ref/{HOSTILE_TEXT}.png"] * reference.n_images)),
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
    run = out / "runs" / "01-title-script-window-pwned-3-script"
    model_page = (run / "index.html").read_text()
    assert "&lt;/script&gt;&lt;img src=x onerror=" in model_page  # the layer names, shown as text
    assert "&lt;img src=x onerror=&#34;window.__pwned=5&#34;&gt;" in model_page  # pixels, preprocessing, note
    gallery = (run / "gallery.html").read_text()
    assert '\\u003cscript\\u003ealert(\\"meta\\")' in gallery  # the metadata column, for the CSV
    samples = [page.read_text() for page in (run / "samples").iterdir()]
    assert any('<th scope="row">&lt;script&gt;alert(&#34;meta&#34;)&lt;/script&gt;</th>' in page for page in samples)
    assert any("ref/&lt;img src=x onerror=&#34;window.__pwned=5&#34;&gt;.png" in page for page in samples)


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


def test_a_run_without_findings_says_nothing_stood_out(tmp_path, site_runs):
    analysis = dataclasses.replace(ll.load(site_runs[0]), findings=())
    build_site([analysis], out=tmp_path / "site")
    page = (tmp_path / "site" / "runs" / "01-digits" / "index.html").read_text(encoding="utf-8")
    assert page.index('id="findings"') < page.index('id="paths"')
    assert "Nothing stood out: no finding passed its threshold." in page
    assert 'class="card-finding"' not in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_findings_link_to_what_shows_them_and_their_text_is_escaped(tmp_path, site_runs):
    from layerlens.findings import Finding

    analysis = ll.load(site_runs[0])
    layer = analysis.layer_names[1]

    def finding(kind: str, text: str, **where) -> Finding:
        return Finding(kind=kind, text=text, value=0.3, interval=None, threshold=0.1, where=where)

    findings = (
        finding("separation", "Layer <b>one</b> & more.", layer=layer),
        finding("weak_group", "Lower on GE.", column="scanner", group="GE"),
        finding("weak_group", "Lower at low contrast.", column="contrast", group="0.1–0.2"),
        finding("mistake_path", "A path of mistakes.", path="c1 c2/<x>"),
        finding("separation", "An unknown layer.", layer="no such layer"),
    )
    build_site([dataclasses.replace(analysis, findings=findings)], out=tmp_path / "site")
    page = (tmp_path / "site" / "runs" / "01-digits" / "index.html").read_text(encoding="utf-8")
    items = re.findall(r'<li data-kind="[a-z_]+">(.*?)</li>', page[page.index('id="findings"') :])
    assert items[0] == (
        'Layer &lt;b&gt;one&lt;/b&gt; &amp; more. <a class="finding-link" href="index.html?layer=1#maps" data-here="1">'
        f"Show the map of {layer}</a>"
    )
    assert 'href="gallery.html?meta=scanner&amp;value=GE"' in items[1]
    assert items[2] == "Lower at low contrast." and items[4] == "An unknown layer."  # nowhere to show them
    assert 'href="gallery.html?path=c1%20c2%2F%3Cx%3E"' in items[3]
    assert "Nothing stood out" not in page
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<strong>Stands out:</strong> Layer &lt;b&gt;one&lt;/b&gt; &amp; more." in index
    assert '<a href="runs/01-digits/index.html#findings">4 more</a>' in index


def test_every_metadata_column_that_groups_images_colours_the_maps_and_filters_the_gallery(tmp_path, site_runs):
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


# ------------------------------------------------------------------------------------------------ sample pages


def _sample(folder: Path, index: int) -> str:
    return (folder / "samples" / f"{index:05d}.html").read_text(encoding="utf-8")


def _large_image(html: str) -> dict[str, str]:
    tag = re.search(r'<figure class="large">\s*<img ([^>]*)>', html).group(1)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def test_sample_pages_show_each_image_at_its_own_size(built_site, site_runs):
    from PIL import Image

    analysis = ll.load(site_runs[0])
    run = built_site / "runs" / "01-digits"
    pages = sorted(int(p.stem) for p in (run / "samples").glob("*.html"))
    assert set(analysis.pictures) <= set(pages) and analysis.pictures
    for index in pages:
        shown = _large_image(_sample(run, index))
        if index not in analysis.pictures:
            continue
        height, width = analysis.pictures[index].shape[:2]
        with Image.open(run / "pictures" / f"{index:05d}.png") as picture:
            assert picture.size == (width, height)  # written at its own size, not enlarged
        factor = _content.enlargement(height, width)
        assert factor > 1  # the digits are 16 pixels: shown enlarged, their pixels sharp
        assert shown["src"] == f"../pictures/{index:05d}.png"
        assert (shown["width"], shown["height"]) == (str(width * factor), str(height * factor))
        assert "pixelated" in shown["class"].split()


def test_a_large_picture_is_shown_at_its_size_and_a_missing_one_falls_back(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    big, plain = [int(i) for i in _content.gallery_order(analysis) if i not in analysis.explained_images][:2]
    explained = next(i for i in analysis.explained_images if i not in (big, plain))
    pictures = {i: p for i, p in analysis.pictures.items() if i not in (plain, explained)}
    pictures[big] = np.zeros((200, 300, 1), np.uint8)
    build_site([dataclasses.replace(analysis, pictures=pictures)], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits"
    shown = _large_image(_sample(run, big))
    assert (shown["src"], shown["width"], shown["height"]) == (f"../pictures/{big:05d}.png", "300", "200")
    assert "pixelated" not in shown["class"].split()  # at its own size, smoothed when the screen is smaller
    shown = _large_image(_sample(run, plain))
    assert shown["src"] == f"../images/{plain:05d}.png" and "pixelated" in shown["class"].split()
    assert int(shown["width"]) >= _content.ENLARGED
    assert "(its thumbnail: the run kept no larger picture of it)" in _sample(run, plain)
    shown = _large_image(_sample(run, explained))
    assert shown["src"] == f"../explanations/{explained:05d}.png"
    assert not (run / "pictures" / f"{plain:05d}.png").exists()


def test_sample_pages_list_every_metadata_value_and_the_csv_gets_the_columns(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    n = analysis.n_images
    meta = pd.DataFrame(
        {"scanner": np.array(["GE", "Siemens"])[np.arange(n) % 2], "site": [None, "Lyon, 2"] * (n // 2)}
    )
    build_site([dataclasses.replace(analysis, metadata=check_metadata(meta, n, ()))], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits"
    gallery_order = _content.gallery_order(analysis)
    for index in gallery_order[:4].tolist():
        html = _sample(run, index)
        table = html[html.index('<table class="metadata">') : html.index("</table>", html.index('class="metadata"'))]
        rows = re.findall(r'<th scope="row">([^<]*)</th><td>([^<]*)</td>', table)
        site = meta["site"][index]
        assert rows == [("scanner", meta["scanner"][index]), ("site", "–" if pd.isna(site) else site)]
    gallery = (run / "gallery.html").read_text(encoding="utf-8")
    settings = json.loads(re.search(r'id="gallery-meta">(.*?)</script>', gallery).group(1))
    assert settings["columns"] == ["scanner", "site"]
    values = json.loads(re.search(r'id="gallery-values">(.*?)</script>', gallery).group(1))
    assert sorted(map(int, values)) == sorted(gallery_order.tolist())
    for index, row in values.items():
        site = meta["site"][int(index)]
        assert row == [meta["scanner"][int(index)], "" if pd.isna(site) else site]  # missing: an empty field


def test_sample_pages_show_the_nearest_reference_images(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    reference = analysis.reference
    assert reference is not None and reference.thumbnails
    run = built_site / "runs" / "01-digits"
    listed_any = False
    for page in sorted((run / "samples").glob("*.html"))[:8]:
        index = int(page.stem)
        html = page.read_text(encoding="utf-8")
        section = html[html.index("<h2>Nearest reference images</h2>") :]
        assert "the images the layers' clusters were fitted on, such as the training images" in section
        shown = [int(n) for n in re.findall(r'src="\.\./reference/(\d{5})\.png"', section)]
        nearest = analysis.reference_neighbours([index])[0].tolist()
        assert shown == [j for j in nearest if j in reference.thumbnails]
        captions = re.findall(r'<span class="caption">([^<]*)</span>', section)
        assert captions == [analysis.class_names[reference.labels[j]] for j in shown]
        assert all((run / "reference" / f"{j:05d}.png").is_file() for j in shown)
        listed_any |= bool(shown)
    assert listed_any
    assert "Nearest reference images" not in _sample(
        built_site / "runs" / "02-digits-unlabelled", int(_content.gallery_order(ll.load(site_runs[1]))[0])
    )  # no reference, no section


def test_a_run_that_keeps_no_reference_images_says_so(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    kept_none = dataclasses.replace(analysis, reference=dataclasses.replace(analysis.reference, thumbnails={}))
    build_site([kept_none], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits"
    html = _sample(run, int(_content.gallery_order(analysis)[0]))
    assert "This run keeps no reference images" in html and "../reference/" not in html
    assert not list((run / "reference").iterdir())


def test_path_steps_are_named_by_their_clusters_and_mixed_ones_say_so(built_site, site_runs):
    analysis = ll.load(site_runs[0])
    run = built_site / "runs" / "01-digits"
    mixed_seen = False
    for index in _content.gallery_order(analysis)[:10].tolist():
        html = _sample(run, index)
        steps = re.findall(r'<li class="(agrees|differs)"><span class="layer"[^>]*>([^<]*)</span> '
                           r'<span class="cluster">([^<]*)</span>', html)  # fmt: skip
        predicted = int(analysis.predictions[index])
        for (kind, layer_name, cluster), layer, short in zip(steps, analysis.layers, analysis.layer_names):
            c = int(layer.clusters.assignments[index])
            assert (layer_name, cluster) == (short, layer.clusters.names[c])
            assert kind == ("agrees" if layer.clusters.leading[c] == predicted else "differs")
            mixed_seen |= cluster.endswith("· mixed")
        assert "by that class and the share of its images that belong to it" in html
        assert "a cluster no class stands out in is “mixed”" in html
    assert mixed_seen, "no mixed cluster on the first pages: the test shows nothing"


def test_layer_tabs_give_the_full_path_and_mark_layers_without_class_information(tmp_path, site_runs):
    analysis = ll.load(site_runs[0])
    first = analysis.layers[0]
    nested = dataclasses.replace(
        first,
        name=f"outer/{first.name}",
        short_name=first.name,
        clusters=dataclasses.replace(first.clusters, class_information=0.0),
    )
    rows = tuple(
        dataclasses.replace(row, name=f"outer/{row.name}") if row.name == first.name else row
        for row in analysis.model.layers
    )
    doctored = dataclasses.replace(
        analysis, layers=(nested, *analysis.layers[1:]), model=dataclasses.replace(analysis.model, layers=rows)
    )
    build_site([doctored], out=tmp_path / "site")
    page = (tmp_path / "site" / "runs" / "01-digits" / "index.html").read_text(encoding="utf-8")
    tabs = re.findall(r'<button type="button" role="tab"[^>]*>.*?</button>', page)
    assert f'title="outer/{first.name}">{first.name} <span class="no-class"' in tabs[0]
    for tab, layer in zip(tabs[1:], analysis.layers[1:]):
        assert "title=" not in tab.split(">")[0]  # short name and full path are one
        assert ("○" in tab) == (not layer.clusters.carries_class_information)
    assert "A layer marked ○ has clusters that carry no information about the classes" in page
    assert f'<th scope="row">outer/{first.name}</th>' in page  # the architecture keeps the full path
    plain = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "○" not in plain


# ------------------------------------------------------------------------------------------------ explaining later


def test_a_sample_page_says_how_to_explain_its_image_from_the_command_line(tmp_path, site_runs):
    import shlex

    analysis = ll.load(site_runs[0])
    model_file = "/models/my model's <best>.keras"
    readable = dataclasses.replace(
        analysis,
        model=dataclasses.replace(analysis.model, file=model_file),
        source={"reader": "folder", "root": "/data/digits", "image_size": [16, 16]},
    )
    folder = readable.save(tmp_path / "runs & co" / "it's digits").resolve()
    build_site([folder], out=tmp_path / "site")
    run = tmp_path / "site" / "runs" / "01-digits"
    unexplained = int(next(i for i in _content.gallery_order(analysis) if i not in analysis.explained_images))
    html = _sample(run, unexplained)
    command = shlex.join(["layerlens", "explain", str(folder), model_file, "--images", str(unexplained)])
    assert f"<pre><code>{_html(command)}</code></pre>" in html
    assert f"<pre><code>ll.explain_run({_html(json.dumps(str(folder)))}, model, [{unexplained}])</code></pre>" in html
    assert "data=images" not in html and "then build this site again" in html
    for index in analysis.explained_images:
        assert "explain-hint" not in _sample(run, index)  # explained already: nothing to advise
    model_page = (run / "index.html").read_text(encoding="utf-8")
    mistakes = shlex.join(["layerlens", "explain", str(folder), model_file, "--images", "mistakes"])
    assert f"<pre><code>{_html(mistakes)}</code></pre>" in model_page
    assert (
        f"ll.explain_run({_html(json.dumps(str(folder)))}, model, {_html(chr(34))}mistakes{_html(chr(34))})"
        in model_page
    )


def _html(text: str) -> str:
    """``text`` as Jinja's autoescape writes it."""
    from markupsafe import escape

    return str(escape(text))


def test_without_a_model_file_or_a_source_the_advice_is_python_with_the_images(built_site, site_runs, tmp_path):
    analysis = ll.load(site_runs[0])
    assert analysis.source is None and analysis.model.file is None
    folder = Path(site_runs[0]).resolve()
    run = built_site / "runs" / "01-digits"
    unexplained = int(next(i for i in _content.gallery_order(analysis) if i not in analysis.explained_images))
    html = _sample(run, unexplained)
    assert "layerlens explain" not in html
    assert f"ll.explain_run(&#34;{folder}&#34;, model, [{unexplained}], data=images)" in html
    assert "<code>images</code> the analysed images, in the order they were analysed" in html
    model_page = (run / "index.html").read_text(encoding="utf-8")
    wrong = int((analysis.predictions != analysis.labels).sum())
    left = wrong - len(set(np.flatnonzero(analysis.predictions != analysis.labels)) & set(analysis.explained_images))
    assert f"{left} misclassified images have no explanation" in model_page
    assert f"ll.explain_run(&#34;{folder}&#34;, model, &#34;mistakes&#34;, data=images)" in model_page
    assert _content.sentence(analysis.settings.explain_note) in model_page  # how many, and why fewer
    # A model file alone is not enough for the command line: the run cannot read its images again.
    with_file = dataclasses.replace(analysis, model=dataclasses.replace(analysis.model, file="/m.keras"))
    hint = _content.explain_hint(with_file, folder, [3])
    assert hint.shell is None and hint.python == f'll.explain_run("{folder}", model, [3], data=images)'
    hint = _content.explain_hint(with_file, None, "mistakes")
    assert hint.in_memory and hint.python == 'a = ll.explain_run(a, model, "mistakes", data=images)'


# ------------------------------------------------------------------------------------------------ run names


def _fake_run(name: str, model: str = "cnn", created: str | None = "2025-01-01"):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, model=SimpleNamespace(name=model), created=created)


@pytest.mark.parametrize(
    ("runs", "names"),
    [
        ([("Testing", "cnn"), ("Testing", "resnet")], ["Testing (cnn)", "Testing (resnet)"]),
        ([("Testing", "cnn", "2025-01-01"), ("Testing", "cnn", "2025-02-03")],
         ["Testing (2025-01-01)", "Testing (2025-02-03)"]),
        ([("Testing",), ("Testing",)], ["Testing (run 1)", "Testing (run 2)"]),
        ([("Testing", "a"), ("Testing", "a"), ("Testing", "b")],
         ["Testing (a, run 1)", "Testing (a, run 2)", "Testing (b)"]),
        ([("mnist",), ("  ",), ("phantoms",)], ["mnist", "run 2", "phantoms"]),
        ([("Testing", "a", None), ("Testing", "a", "2025-01-01")],
         ["Testing (date not recorded)", "Testing (2025-01-01)"]),
    ],
    ids=["model", "date", "position", "model-then-position", "distinct-or-blank", "unknown-date"],
)  # fmt: skip
def test_runs_of_the_same_name_are_told_apart(runs, names):
    assert _content.run_names([_fake_run(*run) for run in runs]) == names


def test_the_index_and_the_pages_tell_two_runs_of_one_name_apart(tmp_path, site_runs):
    build_site([site_runs[1], site_runs[1]], out=tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    for n in (1, 2):
        name = f"digits unlabelled (run {n})"
        assert f'<h2><a href="runs/0{n}-digits-unlabelled/index.html">{name}</a></h2>' in index
        assert f'<th scope="row"><a href="runs/0{n}-digits-unlabelled/index.html">{name}</a>' in index
        page = (tmp_path / "site" / "runs" / f"0{n}-digits-unlabelled" / "index.html").read_text(encoding="utf-8")
        assert f"<title>{name}: " in page and f"<h1>{name} <span" in page


# ------------------------------------------------------------------------------------------------ problems

COLLAPSED_CLASS = "<script>alert('three')</script>"


@pytest.fixture(scope="module")
def collapsed_run(tmp_path_factory, digits):
    """A stored run of a model that answers class 3 for every image (named by markup): it cannot be right."""
    import keras

    inputs = keras.Input((16, 16, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    head = keras.layers.Dense(10, activation="softmax", name="out")
    model = keras.Model(inputs, head(features), name="one_class")
    head.set_weights([np.zeros((4, 10), np.float32), np.eye(10, dtype=np.float32)[3] * 5])
    test = digits[1]
    names = [COLLAPSED_CLASS if i == 3 else name for i, name in enumerate(test.class_names)]
    with pytest.warns(UnreliableAnalysisWarning, match="this analysis cannot be right"):
        analysis = ll.analyze(
            model, test.images[:40], test.labels[:40], class_names=names, name="collapsed", explain=0, progress=False
        )
    return analysis.save(tmp_path_factory.mktemp("collapsed") / "collapsed")


def test_a_run_that_cannot_be_right_says_so_on_the_index_and_its_model_page(tmp_path, site_runs, collapsed_run):
    analysis = ll.load(collapsed_run)
    assert len(analysis.problems) == 2  # collapsed onto one class, and no better than chance
    build_site([site_runs[1], collapsed_run], out=tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    model_page = (tmp_path / "site" / "runs" / "02-collapsed" / "index.html").read_text(encoding="utf-8")
    healthy = (tmp_path / "site" / "runs" / "01-digits-unlabelled" / "index.html").read_text(encoding="utf-8")
    for page in (index, model_page):
        alert = page[page.index('<div class="alert" role="alert">') :]
        alert = alert[: alert.index("</div>")]
        assert "This analysis cannot be right:" in alert
        for problem in analysis.problems:
            assert f"<li>{_html(_content.sentence(problem))}</li>" in alert
        assert _html("&lt;script&gt;alert(&#39;three&#39;)&lt;/script&gt;") not in alert  # escaped once
        assert "&lt;script&gt;alert(&#39;three&#39;)&lt;/script&gt;" in alert
        assert f"How the pixels reached the model: {_html(analysis.settings.pixel_scale_reason)}." in alert
        assert "<code>--preprocess NAME</code>" in alert and "<code>preprocess=</code>" in alert
    assert index.count('<div class="alert"') == 1 and '<div class="alert"' not in healthy
    row = r'<tr( class="problem")?>\s*<th scope="row"><a [^>]*>([^<]*)</a>( <strong class="flag">⚠ cannot be right)?'
    rows = re.findall(row, index)
    assert [(bool(problem), name, bool(flag)) for problem, name, flag in rows] == [
        (False, "digits unlabelled", False),
        (True, "collapsed", True),
    ]


def test_the_build_shows_its_progress_when_asked(site_runs, tmp_path, capsys):
    from layerlens.site import build_site

    build_site(site_runs[:1], out=tmp_path / "quiet", progress=False)
    assert capsys.readouterr().err == ""
    build_site(site_runs[:1], out=tmp_path / "shown")
    err = capsys.readouterr().err
    assert "pages" in err and "pages/s" in err
