"""The site in a real browser: Debian's chromium (launched by tests/_browser.py) driven by playwright's sync API,
every page opened from file://.

One browser tab serves the module (see :func:`browser_tab`); each test watches the pages it opens for console errors,
uncaught exceptions, failed loads and any request that would leave the machine (:class:`Watched`). The site is the
``built_site`` fixture of conftest: run 1 "digits" (labelled, negative class "0", four explained images) and run 2
"digits unlabelled".

Set ``LAYERLENS_SCREENSHOTS`` to a folder to keep the screenshots of :func:`test_screenshots_of_every_page_kind`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _browser import launch
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LABELLED = "runs/01-digits"
UNLABELLED = "runs/02-digits-unlabelled"
#: The model page's image grid lists this many images, then offers "Show more" (GRID_STEP in site.js).
GRID_STEP = 48
#: What a page may request: its own files and what it makes in memory.
LOCAL_SCHEMES = ("file:", "data:", "blob:")
#: Every page kind, as keys of the ``page_paths`` fixture.
KINDS = [
    "index",
    "model",
    "model-unlabelled",
    "gallery",
    "gallery-unlabelled",
    "sample",
    "sample-explained",
    "sample-unlabelled",
]
CSV_HEADER = ["file", "true", "predicted", "confidence", "path", "doubt"]

# The plotly figures of the page that have not drawn their SVG yet.
UNDRAWN = "() => [...document.querySelectorAll('.figure')].filter(f => !f.querySelector('.main-svg')).map(f => f.id)"
# Loads the lazy images too; returns the sources of the images that failed to load.
LOAD_ALL_IMAGES = """async () => {
  const images = [...document.images].filter(img => img.getAttribute("src"));
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done);
    img.addEventListener("error", done);
  })));
  return images.filter(img => img.naturalWidth === 0).map(img => img.getAttribute("src"));
}"""
# Elements that stick out of the viewport on the right, outside the boxes meant to scroll sideways.
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll("*")]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest(".figure-scroll, .table-scroll"))
    .slice(0, 10)
    .map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.getAttribute("class")} right=${e.getBoundingClientRect().right}`);
}"""
# A map point that the mouse can reach (not under a label or the legend): of any trace, or of the trace whose name
# starts with the given text (e.g. "probes", the black stars).
FREE_MAP_POINT = """(traceName) => {
  for (const trace of document.querySelectorAll("#map-figure g.trace.scatter")) {
    if (traceName && !trace.__data__[0].trace.name.startsWith(traceName)) { continue; }
    for (const point of trace.querySelectorAll("path.point.plotly-customdata")) {
      const box = point.getBoundingClientRect();
      const x = box.x + box.width / 2, y = box.y + box.height / 2;
      const top = document.elementFromPoint(x, y);
      if (top && top.classList.contains("nsewdrag")) { return [x, y]; }
    }
  }
  return null;
}"""


@dataclass
class Watched:
    """A page, and what went wrong on it while watched: console errors, uncaught exceptions, failed loads and
    requests for anything but local files and in-memory data."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listeners = {
            "console": self._console,
            "pageerror": lambda error: self.problems.append(f"uncaught exception: {error}"),
            "request": self._request,
            "requestfailed": self._failed,
        }
        for event, listener in self._listeners.items():
            self.page.on(event, listener)

    def stop(self) -> None:
        for event, listener in self._listeners.items():
            self.page.remove_listener(event, listener)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request: Any) -> None:
        # A load the page itself cancelled (a new src, leaving the page) is no missing file.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed to load {request.url}: {request.failure}")

    def _request(self, request: Any) -> None:
        if not request.url.startswith(LOCAL_SCHEMES):
            self.problems.append(f"network request: {request.method} {request.url}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, launched once for the module; a clear error when it is missing."""
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def runs(site_runs) -> list:
    """The two runs of the site, as loaded analyses: what the pages must agree with."""
    import layerlens

    return [layerlens.load(folder) for folder in site_runs]


@pytest.fixture(scope="module")
def page_paths(runs) -> dict[str, str]:
    """Each page kind of :data:`KINDS`: its path inside the site."""
    labelled, unlabelled = runs
    paths = labelled.paths
    mistakes = paths[~paths["correct"].to_numpy(bool, na_value=True)]
    most_confident = int(mistakes["confidence"].idxmax())  # the gallery's first image
    # An explained image that is no mistake has its page in the "other image" sequence, after the gallery's.
    explained = sorted(labelled.explained_images, key=lambda i: (not paths["correct"].iloc[i], i))
    least_confident = int(unlabelled.paths["confidence"].idxmin())  # the unlabelled gallery's first image
    return {
        "index": "index.html",
        "model": f"{LABELLED}/index.html",
        "model-unlabelled": f"{UNLABELLED}/index.html",
        "gallery": f"{LABELLED}/gallery.html",
        "gallery-unlabelled": f"{UNLABELLED}/gallery.html",
        "sample": f"{LABELLED}/samples/{most_confident:05d}.html",
        "sample-explained": f"{LABELLED}/samples/{explained[0]:05d}.html",
        "sample-unlabelled": f"{UNLABELLED}/samples/{least_confident:05d}.html",
    }


@pytest.fixture(scope="module")
def browser_tab(browser) -> Iterator[Page]:
    """One browser tab for the module, navigated anew by every test.

    Its renderer keeps plotly.js (4 MB) compiled from page to page: a fresh tab per test would compile it again on
    every page and make the module three times slower.
    """
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def open_page(browser_tab, built_site) -> Iterator[Callable[..., Watched]]:
    """Open a page of the site (a path inside it; of another site with ``site=``) at a viewport size; the test's
    pages are watched together."""
    watched = Watched(browser_tab)

    def open_(relative: str, viewport: dict[str, int] = WIDE, site: Path | None = None) -> Watched:
        browser_tab.set_viewport_size(viewport)
        browser_tab.mouse.move(0, 0)  # away from where the last page had its figures: no stray hover
        browser_tab.goto(((site or built_site) / relative).as_uri())
        return watched

    yield open_
    watched.stop()


def wait_drawn(page: Page) -> None:
    """Wait until every plotly figure of the page has drawn."""
    try:
        page.wait_for_function(f"() => ({UNDRAWN})().length === 0")
    except PlaywrightTimeoutError:
        pytest.fail(f"figures never drawn on {page.url}: {page.evaluate(UNDRAWN)}")


def first_number(text: str) -> int:
    """The number a status line starts with: ``"17 of 37 images shown."`` gives 17."""
    found = re.match(r"\s*(\d+)", text)
    assert found, f"expected a status that starts with a number; got {text!r}"
    return int(found.group(1))


def image_number(address: str) -> int:
    """The image of a thumbnail or sample page, from its file name (``images/00012.png``, ``samples/00012.html``)."""
    found = re.search(r"(\d{5})\.(png|html)$", address)
    assert found, f"expected an image or sample file name; got {address!r}"
    return int(found.group(1))


def shown_images(items: Any) -> list[int]:
    """The images of a list of thumbnails (a locator of ``li``), in page order, read from their pictures."""
    sources = items.locator("img").evaluate_all("all => all.map(img => img.getAttribute('src'))")
    return [image_number(src) for src in sources]


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def plotly_array(value: Any) -> np.ndarray:
    """An array of a plotly figure's JSON: a list, or a typed array packed as ``{"dtype": ..., "bdata": base64}``."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
    return np.asarray(value)


def map_title(page: Page) -> Any:
    return page.locator("#map-figure .gtitle")


def test_journey_from_the_index_to_the_next_mistake(open_page, runs):
    """Index → run card → model page → gallery → first mistake → "next →" → ArrowRight, each on its own page."""
    run = runs[0]
    n_mistakes = int((~run.paths["correct"].to_numpy(bool, na_value=True)).sum())
    watched = open_page("index.html")
    page = watched.page
    page.locator(".card h2 a").first.click()
    page.wait_for_url(f"**/{LABELLED}/index.html")
    expect(page.locator("h1")).to_contain_text(run.name)

    page.locator("main a[href='gallery.html']").first.click()
    page.wait_for_url(f"**/{LABELLED}/gallery.html")
    links = page.locator("#gallery > li.wrong a")
    samples = [links.nth(i).get_attribute("href") for i in range(3)]
    links.first.click()
    page.wait_for_url(f"**/{LABELLED}/{samples[0]}")

    truth = run.paths.iloc[image_number(samples[0])]
    expect(page.locator("h1")).to_contain_text(f"{truth['true']} → {truth['predicted']}")
    expect(page.locator("h1")).to_contain_text("misclassified")
    expect(page.locator(".pager")).to_contain_text(f"Mistake 1 of {n_mistakes}")
    assert page.locator(".large img").evaluate("img => img.complete && img.naturalWidth > 0"), "large image missing"
    expect(page.locator("#probabilities-figure g.barlayer g.point")).to_have_count(len(run.class_names))

    page.locator("#next").click()
    page.wait_for_url(f"**/{LABELLED}/{samples[1]}")
    expect(page.locator(".pager")).to_contain_text(f"Mistake 2 of {n_mistakes}")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/{LABELLED}/{samples[2]}")
    expect(page.locator(".pager")).to_contain_text(f"Mistake 3 of {n_mistakes}")
    assert watched.problems == []


@pytest.mark.parametrize("kind", KINDS)
def test_pages_load_without_errors_or_network(open_page, page_paths, runs, kind):
    """Every page kind draws, loads all its pictures (and every layer map) with no error and no network request."""
    watched = open_page(page_paths[kind])
    page = watched.page
    wait_drawn(page)
    run = runs[1 if kind.endswith("unlabelled") else 0]
    for position, tab in enumerate(page.get_by_role("tab").all()):
        tab.click()
        expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[position]}:")
    broken = page.evaluate(LOAD_ALL_IMAGES)
    assert watched.problems == []
    assert broken == [], "pictures that did not load"


def test_index_draws_a_mini_diagram_per_run(open_page, runs):
    page = open_page("index.html").page
    minis = page.locator(".card .figure")
    expect(minis).to_have_count(len(runs))
    for position, run in enumerate(runs):
        mini = minis.nth(position)
        expect(mini.locator(".main-svg").first).to_be_attached()
        expect(mini.locator("g.parcatslayer g.dimension")).to_have_count(len(run.layer_names) + 1)
        assert mini.locator("g.category").count() > len(run.layer_names)
        assert mini.locator("path.path").count() > 0


def test_model_page_draws_paths_map_confusion_reliability_and_separability(open_page, runs):
    run = runs[0]
    page = open_page(f"{LABELLED}/index.html").page
    diagram = page.locator("#paths-figure")
    expect(diagram.locator(".main-svg").first).to_be_attached()
    expect(diagram.locator("g.parcatslayer g.dimension")).to_have_count(len(run.layer_names) + 1)
    assert diagram.locator("g.category rect.catrect").count() >= sum(
        len(run.paths[name].cat.categories) for name in run.layer_names
    )
    assert diagram.locator("g.paths path.path").count() > 0
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[0]}:")
    expect(page.locator("#map-figure path.point.plotly-customdata")).to_have_count(len(run.paths))
    expect(page.locator("#confusion-figure g.heatmaplayer image")).to_have_count(1)
    assert page.locator("#separability-figure g.scatterlayer path.point").count() >= len(run.layer_names)
    filled = int((run.metrics.calibration.counts > 0).sum())
    expect(page.locator("#reliability-figure g.barlayer g.point")).to_have_count(filled)


def test_sample_page_draws_probabilities_and_explanations(open_page, page_paths, runs):
    run = runs[0]
    page = open_page(page_paths["sample-explained"]).page
    index = image_number(page_paths["sample-explained"])
    wait_drawn(page)
    bars = page.locator("#probabilities-figure g.barlayer g.point path")
    expect(bars).to_have_count(len(run.class_names))
    lengths = bars.evaluate_all("all => all.map(bar => bar.getBoundingClientRect().width)")
    assert run.class_names[int(np.argmax(lengths))] == run.paths["predicted"].iloc[index], "the longest bar"
    assert page.locator(".weights g.barlayer g.point").count() > 0, "LIME's segment weights are not drawn"
    pictures = page.locator(".explanations img")
    assert pictures.count() >= 2
    assert pictures.evaluate_all("all => all.every(img => img.complete && img.naturalWidth > 0)")


def test_layer_tab_loads_and_draws_its_map(open_page, runs):
    """A map's data file is loaded (by a script element) only when its tab is chosen, then drawn in place."""
    run = runs[0]
    page = open_page(f"{LABELLED}/index.html").page
    points = page.locator("#map-figure path.point.plotly-customdata")
    expect(points).to_have_count(len(run.paths))
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[0]}:")
    first_place = points.first.get_attribute("transform")
    expect(page.locator('script[src="data/map-2.js"]')).to_have_count(0)

    tab = page.get_by_role("tab").nth(2)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator('script[src="data/map-2.js"]')).to_have_count(1)
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[2]}:")
    expect(points).to_have_count(len(run.paths))
    assert points.first.get_attribute("transform") != first_place, "the points did not move to the new layer's map"

    page.get_by_role("tab").first.click()  # back: drawn again from the data already loaded
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[0]}:")
    expect(page.locator('script[src="data/map-0.js"]')).to_have_count(1)


def test_clicking_a_box_of_the_paths_diagram_filters_the_grid(open_page, runs):
    """A click on a category of the first layer lists the images in it; "Show all images" lists them all again."""
    run = runs[0]
    layer = run.layer_names[0]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    status = page.locator("#grid-status")
    grid = page.locator("#image-grid > li")
    n_probes = int(run.paths["probe"].sum())
    assert n_probes > 0  # the probes are listed too, after the images
    all_images = f"All {run.n_images} images and {n_probes} probes, mistakes first (outlined in red)."
    expect(status).to_have_text(all_images)
    expect(grid).to_have_count(GRID_STEP)

    # What the diagram draws: a row per path with its count; rare paths sit in an "other" box on every axis.
    trace = json.loads(page.locator('script[data-figure="paths-figure"]').text_content())["data"][0]
    axis = trace["dimensions"][0]
    values, counts = plotly_array(axis["values"]), plotly_array(trace["counts"])
    clusters = list(run.paths[layer].cat.categories)
    box = page.locator("#paths-figure g.dimension").first.locator("g.category").first
    label = box.locator("text.catlabel").text_content()
    assert label in clusters, f"the first box of {layer!r} is {label!r}, not one of its clusters {clusters}"
    code = axis["categoryarray"][axis["ticktext"].index(label)]
    in_box = int(counts[values == code].sum())
    real = [c for c, text in zip(axis["categoryarray"], axis["ticktext"]) if text in clusters]
    on_rare_paths = int(counts[~np.isin(values, real)].sum())
    in_cluster = int((run.paths[layer] == label).sum())
    assert in_cluster - on_rare_paths <= in_box <= in_cluster

    box.scroll_into_view_if_needed()
    page.mouse.click(*centre(box.locator("rect.catrect").bounding_box()))
    expect(status).not_to_have_text(all_images)
    text = status.text_content()
    assert first_number(text) == in_box, f"clicked box {label!r} of {in_box} images; the grid says {text!r}"
    assert "box" in text, text
    expect(grid).to_have_count(min(in_box, GRID_STEP))
    assert all(run.paths[layer].iloc[i] == label for i in shown_images(grid))
    if in_box > GRID_STEP:
        page.locator("#grid-more").click()
        expect(grid).to_have_count(min(in_box, 2 * GRID_STEP))

    page.locator("#grid-clear").click()
    expect(status).to_have_text(all_images)
    expect(grid).to_have_count(GRID_STEP)
    expect(page.locator("#grid-clear")).to_be_hidden()
    assert watched.problems == []


def test_the_keyboard_lists_a_clusters_images_without_the_diagram(open_page, runs):
    """The layer and cluster lists under the diagram do what a click on a box does, for every image of the cluster."""
    run = runs[0]
    layer = run.layer_names[-1]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    form = page.locator("#cluster-filter")
    form.locator("select[name=layer]").select_option(label=layer)
    names = form.locator("select[name=cluster] option").all_text_contents()
    assert names == list(run.layer(layer).clusters.names)
    form.locator("select[name=cluster]").select_option(index=1)
    form.locator("select[name=cluster]").focus()
    page.keyboard.press("Tab")  # to the button
    page.keyboard.press("Enter")
    in_cluster = int((run.paths[layer].cat.codes == 1).sum())  # the probes placed in it included
    status = page.locator("#grid-status")
    expect(status).to_contain_text(f"{in_cluster} image")
    assert run.layer(layer).clusters.names[1] in status.text_content()
    grid = page.locator("#image-grid > li")
    expect(grid).to_have_count(min(in_cluster, GRID_STEP))
    assert all(run.paths[layer].cat.codes.iloc[i] == 1 for i in shown_images(grid))
    assert watched.problems == []


def test_hovering_a_map_point_shows_its_image(open_page, runs):
    run = runs[0]
    layer = run.layer_names[0]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    expect(page.locator("#map-figure path.point.plotly-customdata")).to_have_count(len(run.paths))
    page.locator("#map-figure").scroll_into_view_if_needed()
    spot = page.evaluate(FREE_MAP_POINT)
    assert spot, "every map point is covered by a label or the legend"
    page.mouse.move(*spot)

    card = page.locator("#map-hover")
    expect(card).to_be_visible()
    src = card.locator("img").get_attribute("src")
    assert src.endswith(".png"), src
    truth = run.paths.iloc[image_number(src)]
    text = card.locator("span").text_content()
    assert text.startswith(f"image {image_number(src)}: {truth['true']} → {truth['predicted']} "), text
    assert text.endswith(f"· {truth[layer]}"), text
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=card.locator("img").element_handle())
    page.mouse.move(2, 2)
    expect(card).to_be_hidden()
    assert watched.problems == []


def test_gallery_filters_sort_and_csv(open_page, runs):
    run = runs[0]
    mistakes = run.paths[~run.paths["correct"].to_numpy(bool, na_value=True)]
    n = len(mistakes)
    watched = open_page(f"{LABELLED}/gallery.html")
    page = watched.page
    status = page.locator("#gallery-status")
    shown = page.locator("#gallery > li:not([hidden])")

    def choose(name: str, value: str) -> None:
        page.locator(f"#gallery-filters select[name={name}]").select_option(value)

    def order() -> list[int]:
        return [int(i) for i in shown.evaluate_all("all => all.map(li => li.dataset.index)")]

    expect(status).to_have_text(f"{n} of {n} images shown.")
    expect(shown).to_have_count(n)
    layer = run.layer_names[0]
    choose("layer", "0")
    for name in ("true", "predicted", "cluster"):
        column = mistakes[layer if name == "cluster" else name]
        common = column.value_counts().idxmax()
        wanted = column == common
        assert 0 < wanted.sum() < n, "the filter would not change what is shown"
        choose(name, str(list(column.cat.categories).index(common)))
        expect(status).to_have_text(f"{wanted.sum()} of {n} images shown.")
        assert sorted(order()) == sorted(mistakes.index[wanted]), f"{name} = {common}"
        choose(name, "")
        expect(status).to_have_text(f"{n} of {n} images shown.")

    most_confident_first = order()
    assert most_confident_first == list(mistakes.sort_values("confidence", ascending=False, kind="stable").index)
    assert mistakes["confidence"].is_unique, "ties would make the reversed order ambiguous"
    choose("sort", "confidence-asc")
    expect(shown.first).to_have_attribute("data-index", str(most_confident_first[-1]))
    assert order() == most_confident_first[::-1]

    predicted = mistakes["predicted"].value_counts().idxmax()
    choose("predicted", str(run.class_names.index(predicted)))
    listed = order()
    assert 0 < len(listed) < n
    with page.expect_download() as started:
        page.locator("#gallery-csv").click()
    download = started.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == [*CSV_HEADER, *run.metadata.columns]  # then every metadata column: the scanner
    assert [row[0] for row in rows] == [f"image {i}" for i in listed]
    for row, i in zip(rows, listed):
        truth = run.paths.loc[i]
        assert row[1:3] == [str(truth["true"]), str(truth["predicted"])]
        assert float(row[3]) == pytest.approx(truth["confidence"], abs=5e-5)
        assert row[4] == truth["path"]
        assert float(row[5]) == pytest.approx(truth["doubt"], abs=5e-5)
        assert row[6] == truth["scanner"]
    choose("sort", "doubt-desc")
    doubts = [float(item.get_attribute("data-doubt")) for item in shown.all()]
    assert doubts == sorted(doubts, reverse=True) and len(doubts) == len(listed)
    assert watched.problems == []


@pytest.mark.parametrize("kind", ["index", "model", "gallery", "sample", "sample-explained"])
def test_pages_fit_a_phone_screen(open_page, page_paths, kind):
    """At 390 px nothing scrolls sideways but the tables and figures inside their own scroll boxes."""
    page = open_page(page_paths[kind], viewport=PHONE).page
    wait_drawn(page)
    scroll_width, client_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width + 1, f"{kind} scrolls sideways; too wide: {page.evaluate(TOO_WIDE)}"


def test_keyboard_reaches_the_skip_link_and_walks_the_layer_tabs(open_page, runs):
    run = runs[0]
    page = open_page(f"{LABELLED}/index.html").page
    wait_drawn(page)
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    expect(focused).to_have_attribute("href", "#main")
    expect(focused).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    tabs = page.get_by_role("tab")
    tabs.first.focus()
    page.keyboard.press("ArrowRight")
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(tabs.first).to_have_attribute("aria-selected", "false")
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[1]}:")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # from the first tab round to the last
    expect(tabs.last).to_be_focused()
    expect(tabs.last).to_have_attribute("aria-selected", "true")
    expect(map_title(page)).to_contain_text(f"Layer {run.layer_names[-1]}:")


def test_screenshots_of_every_page_kind(open_page, page_paths, tmp_path):
    """Full-page screenshots at 1280 and 390 px, kept in $LAYERLENS_SCREENSHOTS when set, for a person to look at."""
    folder = Path(os.environ.get("LAYERLENS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for viewport in (WIDE, PHONE):
        for kind in ("index", "model", "gallery", "sample", "sample-explained"):
            page = open_page(page_paths[kind], viewport=viewport).page
            wait_drawn(page)
            assert page.evaluate(LOAD_ALL_IMAGES) == [], f"pictures of {kind} that did not load"
            shot = folder / f"{kind}-{viewport['width']}.png"
            page.screenshot(path=shot, full_page=True)
            assert shot.stat().st_size > 0


def hover_free_point(page: Page, trace_name: str) -> tuple[Any, int]:
    """Move the mouse onto a map point of the trace ``trace_name`` that nothing covers; the hover card and the
    number of the image it shows."""
    page.locator("#map-figure").scroll_into_view_if_needed()
    spot = page.evaluate(FREE_MAP_POINT, trace_name)
    assert spot, f"every point of {trace_name!r} on the map is covered by a label, the legend or another point"
    page.mouse.move(*spot)
    card = page.locator("#map-hover")
    expect(card).to_be_visible()
    return card, image_number(card.locator("img").get_attribute("src"))


def test_hovering_a_probe_on_the_map_says_it_is_a_probe(open_page, runs):
    run = runs[0]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    expect(page.locator("#map-figure path.point.plotly-customdata")).to_have_count(len(run.paths))
    card, index = hover_free_point(page, "probes")
    assert index >= run.n_images and run.paths["probe"].iloc[index]
    text = card.locator("span").text_content()
    assert text.startswith(f"image {index}: probe → {run.paths['predicted'].iloc[index]} "), text
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=card.locator("img").element_handle())
    assert watched.problems == []


def test_the_gallery_filters_by_a_metadata_column(open_page, runs):
    run = runs[0]
    mistakes = run.paths[~run.paths["correct"].to_numpy(bool, na_value=True)]
    watched = open_page(f"{LABELLED}/gallery.html")
    page = watched.page
    select = page.locator("#gallery-filters select[data-meta]")
    expect(select).to_have_count(1)
    values = select.locator("option").all_text_contents()[1:]
    assert values == sorted(run.metadata["scanner"].unique())
    wanted = mistakes["scanner"] == values[0]
    select.select_option("0")
    expect(page.locator("#gallery-status")).to_have_text(f"{int(wanted.sum())} of {len(mistakes)} images shown.")
    shown = page.locator("#gallery > li:not([hidden])").evaluate_all("all => all.map(li => Number(li.dataset.index))")
    assert sorted(shown) == sorted(mistakes.index[wanted])
    assert watched.problems == []


# Each drawn map trace: its name and the images (customdata) of its points.
MAP_TRACES = """() => [...document.querySelectorAll("#map-figure g.trace.scatter")].map(g => {
  const trace = g.__data__[0].trace;
  const ids = [...g.querySelectorAll("path.point")].map(p => p.__data__.data);
  return { name: trace.name, ids: ids, symbol: trace.marker.symbol };
})"""


def test_the_maps_colour_by_a_metadata_column(open_page, runs):
    run = runs[0]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    points = page.locator("#map-figure path.point.plotly-customdata")
    expect(points).to_have_count(len(run.paths))
    select = page.locator("#map-colour")
    assert select.locator("option").all_text_contents() == ["cluster", "scanner"]
    select.select_option(label="scanner")
    expect(page.locator("#map-figure .legendtitletext")).to_have_text("scanner")
    expect(points).to_have_count(len(run.paths))  # every image and probe still drawn, once
    scanners = run.paths["scanner"]
    by_group = {}
    for trace in page.evaluate(MAP_TRACES):
        if trace["symbol"] in ("circle", "diamond") and trace["ids"]:
            by_group.setdefault(trace["name"].removesuffix(" misclassified"), []).extend(trace["ids"])
    assert sorted(by_group) == sorted(scanners.dropna().unique())
    for value, ids in by_group.items():
        assert set(scanners.iloc[ids]) == {value}
    assert sum(len(ids) for ids in by_group.values()) == run.n_images

    card, index = hover_free_point(page, "GE")
    assert card.locator("span").text_content().endswith(f"· scanner: {scanners.iloc[index]}")

    page.locator("#tab-1").click()  # another layer keeps the colouring
    expect(page.locator("#map-figure .legendtitletext")).to_have_text("scanner")
    select.select_option(label="cluster")
    expect(page.locator("#map-figure .legendtitletext")).to_have_text("cluster")
    assert watched.problems == []


# ------------------------------------------------------------------------------------------------ a second site
# Two runs both named "Testing", as two folders of that name would be: the digits CNN on a tf.data dataset read by
# Keras from a folder of 48-pixel PNG files (with a metadata column), and a model that answers one class for every
# image, whose analysis cannot be right.

FOLDER_RUN = "runs/01-testing"
COLLAPSED_RUN = "runs/02-testing"
PICTURE_SIZE = 48


@pytest.fixture(scope="module")
def folder_runs(tmp_path_factory, sequential_model, digits) -> list:
    """The two runs of the second site, as analyses in memory: (the tf.data run, the collapsed run)."""
    import keras
    from PIL import Image

    import layerlens as ll
    from layerlens.exceptions import UnreliableAnalysisWarning

    test = digits[1]
    root = tmp_path_factory.mktemp("images") / "Testing"
    for i in range(60):
        folder = root / test.class_names[test.labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        big = np.kron(test.images[i, ..., 0], np.ones((PICTURE_SIZE // 16, PICTURE_SIZE // 16)))
        Image.fromarray((255 * big).round().astype(np.uint8)).save(folder / f"scan {i:02d}.png")
    for name in test.class_names:  # a class without images still has its folder, as Keras wants all ten
        (root / name).mkdir(exist_ok=True)
    dataset = keras.utils.image_dataset_from_directory(
        root, color_mode="grayscale", image_size=(16, 16), shuffle=False, batch_size=16, verbose=False
    )
    sites = np.array(["Lyon", "Nice", None], dtype=object)[np.arange(60) % 3]
    from_files = ll.analyze(
        sequential_model,
        dataset,
        pixel_scale=1 / 255,
        metadata={"site": sites},
        n_clusters={"conv1": 6},
        explain=2,
        explain_methods=("gradcam",),
        progress=False,
    )
    inputs = keras.Input((16, 16, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    head = keras.layers.Dense(10, activation="softmax", name="out")
    one_class = keras.Model(inputs, head(features), name="one_class")
    head.set_weights([np.zeros((4, 10), np.float32), np.eye(10, dtype=np.float32)[3] * 5])
    with pytest.warns(UnreliableAnalysisWarning, match="this analysis cannot be right"):
        collapsed = ll.analyze(
            one_class, test.images[:40], test.labels[:40], class_names=test.class_names, name="Testing", explain=0,
            progress=False,
        )  # fmt: skip
    return [from_files, collapsed]


@pytest.fixture(scope="module")
def folder_site(tmp_path_factory, folder_runs) -> Path:
    from layerlens.site import build_site

    out = tmp_path_factory.mktemp("folder_site") / "site"
    build_site(folder_runs, out=out)
    return out


def sample_with_a_mixed_cluster(run: Any) -> int:
    """An image with a page whose path passes through a mixed cluster."""
    from layerlens.site import _content

    gallery, others = _content.sample_order(run)
    for index in [*gallery.tolist(), *others.tolist()]:
        if any(layer.clusters.leading[layer.clusters.assignments[index]] < 0 for layer in run.layers):
            return int(index)
    pytest.fail("no image with a page passes through a mixed cluster: the test would show nothing")


def test_two_runs_of_one_name_are_told_apart(open_page, folder_site, folder_runs):
    assert [run.name for run in folder_runs] == ["Testing", "Testing"]
    page = open_page("index.html", site=folder_site).page
    expect(page.locator(".card h2")).to_have_text(["Testing (small_cnn)", "Testing (one_class)"])
    expect(page.locator(".compare tbody th a")).to_have_text(["Testing (small_cnn)", "Testing (one_class)"])
    page.locator(".card h2 a").nth(1).click()
    page.wait_for_url(f"**/{COLLAPSED_RUN}/index.html")
    expect(page.locator("h1")).to_contain_text("Testing (one_class)")
    assert page.title().startswith("Testing (one_class):")


def test_the_files_of_a_tf_data_dataset_name_the_images(open_page, folder_site, folder_runs):
    run = folder_runs[0]
    assert run.files is not None and run.source is not None  # Keras' dataset told layerlens its files
    watched = open_page(f"{FOLDER_RUN}/gallery.html", site=folder_site)
    page = watched.page
    items = page.locator("#gallery > li")
    indices = [int(i) for i in items.evaluate_all("all => all.map(li => li.dataset.index)")]
    assert indices, "the gallery lists no image"
    expect(items.locator(".file")).to_have_text([run.files[i] for i in indices])
    first = indices[0]
    items.first.locator("a").click()
    page.wait_for_url(f"**/{FOLDER_RUN}/samples/{first:05d}.html")
    expect(page.locator(".large figcaption")).to_have_text(run.files[first])
    assert watched.problems == []


def test_a_sample_page_shows_the_image_at_its_size_and_what_is_known_of_it(open_page, folder_site, folder_runs):
    run = folder_runs[0]
    index = next(i for i in sorted(run.pictures) if i not in run.explained_images)
    watched = open_page(f"{FOLDER_RUN}/samples/{index:05d}.html", site=folder_site)
    page = watched.page
    large = page.locator(".large img")
    expect(large).to_have_attribute("src", f"../pictures/{index:05d}.png")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=large.element_handle())
    natural = large.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [PICTURE_SIZE, PICTURE_SIZE]  # the file itself, not the 16-pixel thumbnail
    assert natural[0] > run.thumbnails.shape[2]
    shown = large.bounding_box()
    assert shown["width"] >= 256 and shown["width"] % PICTURE_SIZE == 0  # small: enlarged by a whole factor
    assert large.evaluate("img => getComputedStyle(img).imageRendering") == "pixelated"
    site = run.metadata["site"].iloc[index]
    row = page.locator("table.metadata tr", has=page.locator("th", has_text="site"))
    expect(row.locator("td")).to_have_text("–" if pd.isna(site) else site)
    expect(page.locator("#explain pre code").last).to_contain_text(f"ll.explain_run(a, model, [{index}])")

    page.set_viewport_size(PHONE)  # on a phone it is scaled down to the screen, never wider
    width = large.bounding_box()["width"]
    assert width <= PHONE["width"]
    assert watched.problems == []


def test_a_mixed_cluster_is_named_so_and_not_green(open_page, folder_site, folder_runs):
    run = folder_runs[0]
    index = sample_with_a_mixed_cluster(run)
    watched = open_page(f"{FOLDER_RUN}/samples/{index:05d}.html", site=folder_site)
    page = watched.page
    steps = page.locator("ol.path > li")
    expect(steps).to_have_count(len(run.layers))
    for position, layer in enumerate(run.layers):
        cluster = int(layer.clusters.assignments[index])
        step = steps.nth(position)
        expect(step.locator(".cluster")).to_have_text(layer.clusters.names[cluster])
        if layer.clusters.leading[cluster] < 0:
            expect(step.locator(".cluster")).to_have_text(re.compile(r"^c\d+ · mixed$"))
            colour = step.locator(".cluster").evaluate("e => getComputedStyle(e).color")
            assert colour != "rgb(46, 125, 50)", "a mixed cluster is drawn in the green of agreement"
    expect(page.locator("main")).to_contain_text("a cluster no class stands out in is “mixed”")
    assert watched.problems == []


def test_sample_pages_show_the_reference_images_the_layers_put_closest(open_page, page_paths, runs):
    run = runs[0]
    index = image_number(page_paths["sample"])
    watched = open_page(page_paths["sample"])
    page = watched.page
    expect(page.get_by_role("heading", name="Nearest reference images")).to_be_visible()
    nearest = [j for j in run.reference_neighbours([index])[0].tolist() if j in run.reference.thumbnails]
    assert nearest, "no reference image kept for this page"
    pictures = page.locator("ul.reference img")
    expect(pictures).to_have_count(len(nearest))
    sources = pictures.evaluate_all("all => all.map(img => img.getAttribute('src'))")
    assert sources == [f"../reference/{j:05d}.png" for j in nearest]
    expect(page.locator("ul.reference .caption")).to_have_text(
        [run.class_names[run.reference.labels[j]] for j in nearest]
    )
    assert page.evaluate(LOAD_ALL_IMAGES) == []
    assert watched.problems == []


def test_a_run_that_cannot_be_right_is_flagged_on_the_index_and_its_pages(
    open_page, folder_site, folder_runs, tmp_path
):
    run = folder_runs[1]
    assert run.problems
    folder = Path(os.environ.get("LAYERLENS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    watched = open_page("index.html", site=folder_site)
    page = watched.page
    alerts = page.locator(".card [role=alert]")
    expect(alerts).to_have_count(1)
    expect(page.locator(".card").nth(1).locator("[role=alert]")).to_be_visible()
    expect(alerts).to_contain_text("This analysis cannot be right:")
    expect(alerts).to_contain_text("its predictions have collapsed onto one class")
    expect(page.locator(".compare tr.problem")).to_have_count(1)
    expect(page.locator(".compare tr.problem")).to_contain_text("⚠ cannot be right")

    open_page(f"{COLLAPSED_RUN}/index.html", site=folder_site)
    wait_drawn(page)
    alert = page.locator("main > [role=alert]")
    expect(alert).to_be_visible()
    assert alert.bounding_box()["y"] < WIDE["height"] / 2, "the alarm is not on the first screen"
    for problem in run.problems:
        expect(alert).to_contain_text(problem[1:])
    expect(alert).to_contain_text(f"How the pixels reached the model: {run.settings.pixel_scale_reason}")
    expect(alert).to_contain_text("--preprocess NAME")
    page.screenshot(path=folder / "model-problems-1280.png", full_page=False)

    mistake = int(np.flatnonzero(run.predictions != run.labels)[0])
    open_page(f"{COLLAPSED_RUN}/samples/{mistake:05d}.html", site=folder_site)
    expect(page.locator("main > [role=alert]")).to_contain_text("This analysis cannot be right:")
    page.screenshot(path=folder / "sample-problems-1280.png", full_page=True)
    healthy = open_page(f"{FOLDER_RUN}/index.html", site=folder_site).page
    expect(healthy.locator("[role=alert]")).to_have_count(0)
    expect(healthy.locator(".pixels")).to_contain_text("How the images reached the model:")
    assert watched.problems == []


@pytest.mark.parametrize("kind", ["index", "model", "model-collapsed", "gallery", "sample"])
def test_the_second_site_loads_without_errors_and_fits_a_phone(open_page, folder_site, folder_runs, kind):
    run = folder_runs[0]
    index = sorted(run.pictures)[0]
    relative = {
        "index": "index.html",
        "model": f"{FOLDER_RUN}/index.html",
        "model-collapsed": f"{COLLAPSED_RUN}/index.html",
        "gallery": f"{FOLDER_RUN}/gallery.html",
        "sample": f"{FOLDER_RUN}/samples/{index:05d}.html",
    }[kind]
    watched = open_page(relative, site=folder_site)
    wait_drawn(watched.page)
    assert watched.page.evaluate(LOAD_ALL_IMAGES) == []
    open_page(relative, viewport=PHONE, site=folder_site)
    wait_drawn(watched.page)
    scroll_width, client_width = watched.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width + 1, f"{kind} scrolls sideways: {watched.page.evaluate(TOO_WIDE)}"
    assert watched.problems == []


def test_layer_tabs_mark_the_layers_whose_clusters_carry_no_class_information(open_page, runs):
    run = runs[0]
    watched = open_page(f"{LABELLED}/index.html")
    page = watched.page
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_count(len(run.layers))
    blind = [not layer.clusters.carries_class_information for layer in run.layers]
    for position, (name, marked) in enumerate(zip(run.layer_names, blind)):
        text = tabs.nth(position).text_content()
        assert text.startswith(name) and ("○" in text) == marked, text
    note = page.locator("#maps p").first
    if any(blind):
        expect(note).to_contain_text("A layer marked ○ has clusters that carry no information about the classes")
    else:
        expect(note).not_to_contain_text("○")
    assert watched.problems == []
