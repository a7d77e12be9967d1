"""A big run's site in a real browser (Debian's chromium through playwright, every page from file://, every other
request blocked): the paged gallery, its filters and CSV across pages, thumbnails drawn from sprite sheets, the one
sample page ``sample.html#N`` and the sampled layer maps drawn with WebGL.

The site is conftest's 312-row digits run built with small thresholds (``tests/_big_site.py``): 37-odd mistakes on
pages of 10, sheets of 64 thumbnails, data chunks of 64 rows, maps of 150 points.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _big_site import OPTIONS, RUN, expected_cells
from _browser import launch
from playwright.sync_api import Page, expect, sync_playwright

LOCAL = ("file:", "data:", "blob:")


@pytest.fixture(scope="module")
def tab() -> Iterator[tuple[Page, list[str]]]:
    """One chromium tab for the module, and the problems seen on it (console errors, uncaught exceptions, blocked
    requests); every request for anything but a local file or in-memory data is aborted."""
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        context.set_default_timeout(15_000)

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(LOCAL):
                request_route.continue_()
            else:
                problems.append(f"network request: {url}")
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
        yield page, problems
        context.close()
        browser.close()


@pytest.fixture
def open_page(tab, big_site):
    page, problems = tab
    problems.clear()

    def open_(relative: str) -> Page:
        file, _, anchor = relative.partition("#")
        page.goto((big_site / RUN / file).as_uri() + (f"#{anchor}" if anchor else ""))
        return page

    yield open_
    assert problems == []


def gallery_ready(page: Page) -> None:
    page.wait_for_selector("#gallery[data-ready='1']")


def shown_on_page(page: Page) -> list[int]:
    return [int(i) for i in page.locator("#gallery > li").evaluate_all("all => all.map(li => li.dataset.index)")]


def every_page(page: Page) -> list[int]:
    """The images of every gallery page, from the first page to the last."""
    while not page.locator("#page-previous").is_disabled():
        page.locator("#page-previous").click()
    seen = shown_on_page(page)
    while not page.locator("#page-next").is_disabled():
        page.locator("#page-next").click()
        seen += shown_on_page(page)
    return seen


def first_number(text: str) -> int:
    return int(re.match(r"\s*(\d+)", text).group(1))


def test_the_gallery_pages_through_every_mistake(open_page, big_run):
    from layerlens.site._content import gallery_order

    page = open_page("gallery.html")
    gallery_ready(page)
    order = gallery_order(big_run).tolist()
    assert len(shown_on_page(page)) == OPTIONS["gallery_page_size"]
    pages = -(-len(order) // OPTIONS["gallery_page_size"])
    expect(page.locator("#page-at")).to_have_text(f"Page 1 of {pages}")
    assert first_number(page.locator("#gallery-status").inner_text()) == len(order)
    assert every_page(page) == order
    page.locator("#page-previous").click()  # back from the last page, with the pager below the thumbnails
    page.locator("#page-next-bottom").click()
    expect(page.locator("#page-at")).to_have_text(f"Page {pages} of {pages}")
    expect(page.locator("#page-at-bottom")).to_have_text(f"Page {pages} of {pages}")
    assert page.locator("#page-next-bottom").is_disabled()


def test_filters_apply_across_pages_and_the_csv_holds_every_filtered_row(open_page, big_run):
    page = open_page("gallery.html")
    gallery_ready(page)
    wrong = big_run.predictions != big_run.labels
    scanners = big_run.metadata["scanner"].to_numpy()
    # The predicted class with the most mistakes: more than a page of them, with the scanner filter fewer.
    counts = np.bincount(big_run.predictions[wrong], minlength=len(big_run.class_names))
    chosen = int(counts.argmax())
    page.select_option("#gallery-filters select[name=predicted]", str(chosen))
    expected = set(np.flatnonzero(wrong & (big_run.predictions == chosen)).tolist())
    assert first_number(page.locator("#gallery-status").inner_text()) == len(expected)
    assert set(every_page(page)) == expected

    with page.expect_download() as download:
        page.locator("#gallery-csv").click()
    text = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(expected)
    assert {row["predicted"] for row in rows} == {big_run.class_names[chosen]}
    assert rows and set(rows[0]) == {"file", "true", "predicted", "confidence", "path", "doubt", "scanner"}

    page.select_option("#gallery-filters select[data-column=scanner]", label="GE")
    both = {i for i in expected if scanners[i] == "GE"}
    assert first_number(page.locator("#gallery-status").inner_text()) == len(both)
    assert set(every_page(page)) == both


def test_a_link_from_a_finding_filters_the_paged_gallery(open_page, big_run):
    wrong = np.flatnonzero(big_run.predictions != big_run.labels)
    listed = [int(i) for i in wrong[:3]] + [0 if 0 not in wrong else 1]
    page = open_page("gallery.html")
    page.goto(page.url + "?images=" + ",".join(map(str, listed)))
    gallery_ready(page)
    assert shown_on_page(page) == listed[:3]
    expect(page.locator("#gallery-status")).to_contain_text("1 of them not among the mistakes")


def test_thumbnails_are_drawn_from_the_sprite_sheets(open_page, big_run):
    from PIL import Image

    page = open_page("gallery.html")
    gallery_ready(page)
    first = page.locator("#gallery > li").first
    index = int(first.get_attribute("data-index"))
    sprite = first.locator(".sprite")
    style = sprite.evaluate("s => [getComputedStyle(s).backgroundImage, getComputedStyle(s).backgroundPosition]")
    per = OPTIONS["thumbnails_per_sprite"]
    cell = expected_cells(big_run)[index]
    assert f"sprite-{cell // per:05d}.png" in style[0]
    column, row = (cell % per) % 8, (cell % per) // 8
    assert style[1] == f"{100 * column / 7:g}% {100 * row / 7:g}%"
    loaded = page.evaluate(
        """url => new Promise(done => { const img = new Image(); img.onload = () => done(img.naturalWidth);
        img.onerror = () => done(0); img.src = url; })""",
        re.search(r'url\("?([^")]+)"?\)', style[0]).group(1),
    )
    assert loaded > 0, "the sprite sheet did not load"
    # What the browser drew is the image's thumbnail: its screenshot, brought back to the thumbnail's size.
    shot = Image.open(io.BytesIO(sprite.screenshot())).convert("L")
    height, width = big_run.thumbnails.shape[1:3]
    drawn = np.asarray(shot.resize((width, height), Image.NEAREST), dtype=np.float64)
    thumbnail = big_run.thumbnails[index][..., 0].astype(np.float64)
    assert np.corrcoef(drawn.ravel(), thumbnail.ravel())[0, 1] > 0.9


def test_the_sample_page_shows_the_data_of_the_image_its_address_names(open_page, big_run):
    paths = big_run.paths
    wrong = np.flatnonzero(big_run.predictions != big_run.labels)
    i = int(wrong[-1])  # in the last gallery chunk
    page = open_page(f"sample.html#{i}")
    body = page.locator("#sample-body")
    expect(body).to_have_attribute("data-image", str(i))
    expect(page.locator("h1")).to_contain_text(f"{paths['true'].iloc[i]} → {paths['predicted'].iloc[i]}")
    expect(page.locator("h1")).to_contain_text(f"image {i}, misclassified")
    confidence = f"{100 * paths['confidence'].iloc[i]:.1f}%"
    expect(page.locator("#sample-facts")).to_contain_text(confidence)
    path = page.locator("#sample-path > li .cluster").all_inner_texts()
    assert path == [layer.clusters.names[layer.clusters.assignments[i]] for layer in big_run.layers]
    expect(page.locator("#sample-position")).to_contain_text(f"of {len(wrong)}")
    expect(page.locator("#sample-metadata")).to_contain_text(str(big_run.metadata["scanner"].iloc[i]))

    j = int(np.flatnonzero(big_run.predictions == big_run.labels)[5])  # a correct image: no gallery pager
    page.evaluate(f"window.location.hash = '{j}'")
    expect(body).to_have_attribute("data-image", str(j))
    expect(page.locator("h1")).to_contain_text(f"image {j}, correct")
    expect(page.locator("#sample-pager")).to_be_hidden()

    page.evaluate("window.location.hash = '99999'")
    expect(page.locator("#sample-missing")).to_be_visible()


def test_the_gallery_leads_to_the_sample_page_and_on_to_the_next_mistake(open_page, big_run):
    from layerlens.site._content import gallery_order

    order = gallery_order(big_run).tolist()
    explained = set(big_run.explained_images)
    # A mistake on the first gallery page whose page and the next one's are the data-driven page.
    first_page = order[: OPTIONS["gallery_page_size"]]
    position = next(k for k, i in enumerate(first_page) if i not in explained and order[k + 1] not in explained)
    page = open_page("gallery.html")
    gallery_ready(page)
    page.locator(f"#gallery > li[data-index='{order[position]}'] a").click()
    page.wait_for_url(f"**/sample.html#{order[position]}")
    expect(page.locator("#sample-body")).to_have_attribute("data-image", str(order[position]))
    expect(page.locator("#sample-position")).to_have_text(f"Mistake {position + 1} of {len(order)}")
    page.locator("#next").click()
    expect(page.locator("#sample-body")).to_have_attribute("data-image", str(order[position + 1]))
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#sample-body")).to_have_attribute("data-image", str(order[position]))


def test_the_model_page_states_the_map_sample_and_draws_it_with_webgl(open_page, big_run):
    rows = big_run.n_images + big_run.probes.n_images
    page = open_page("index.html")
    expect(page.locator("#map-sample")).to_contain_text(f"A seeded sample of {OPTIONS['map_sample']} of the {rows}")
    expect(page.locator("#map-figure .gtitle")).to_contain_text(f"a sample of {OPTIONS['map_sample']} of {rows}")
    types = page.evaluate(
        "() => [...new Set(document.getElementById('map-figure').data.filter(t => t.customdata).map(t => t.type))]"
    )
    assert types == ["scattergl"]
    assert page.locator("#map-figure canvas").count() > 0, "no WebGL canvas"
    # The image grid lists the sampled images, drawn from the sheets.
    expect(page.locator("#grid-status")).to_contain_text(f"sampled images (of {big_run.n_images})")
    assert page.locator("#image-grid .sprite").count() > 0
    page.locator("#image-grid > li a").first.click()
    page.wait_for_url(re.compile(r".*(sample\.html#\d+|samples/\d{5}\.html)$"))


def test_an_unlabelled_big_run_in_the_browser(tab, tmp_path_factory, site_runs):
    import layerlens
    from layerlens.site import build_site
    from layerlens.site._content import gallery_order

    page, problems = tab
    problems.clear()
    out = tmp_path_factory.mktemp("unlabelled") / "site"
    build_site(site_runs[1:], out=out, progress=False, **{**OPTIONS, "sprite_threshold": 50})
    run = layerlens.load(site_runs[1])
    folder = out / "runs" / "01-digits-unlabelled"
    page.goto((folder / "gallery.html").as_uri())
    gallery_ready(page)
    assert first_number(page.locator("#gallery-status").inner_text()) == len(gallery_order(run))
    shown = every_page(page)  # sorted as the form says: most confident first, as a small run's gallery
    assert sorted(shown) == sorted(gallery_order(run).tolist())
    confidence = np.round(run.paths["confidence"].to_numpy(np.float64)[shown], 4)  # as the data scripts hold it
    assert (np.diff(confidence) <= 0).all()
    page.goto((folder / "sample.html").as_uri() + "#7")
    expect(page.locator("#sample-body")).to_have_attribute("data-image", "7")
    expect(page.locator("h1")).to_have_text(f"{run.paths['predicted'].iloc[7]} image 7")
    page.goto((folder / "index.html").as_uri())
    page.wait_for_function("() => document.querySelector('#map-figure .main-svg')")
    assert problems == []


def test_the_sampled_map_can_be_coloured_by_metadata(open_page, big_run):
    scanners = big_run.metadata["scanner"].to_numpy()
    page = open_page("index.html")
    page.wait_for_function("() => document.querySelector('#map-figure .main-svg')")
    page.select_option("#map-colour", label="scanner")
    expect(page.locator("#map-figure .legendtitletext")).to_have_text("scanner")
    groups = page.evaluate(
        """() => document.getElementById('map-figure').data
             .filter(t => t.customdata && t.legendgroup && t.legendgroup.startsWith('group-'))
             .map(t => [t.name, Array.from(t.customdata)])"""
    )
    drawn = [i for _, ids in groups for i in ids]
    assert len(drawn) == len(set(drawn)) and set(drawn) <= set(range(big_run.n_images))
    assert len(drawn) == OPTIONS["map_sample"] - big_run.probes.n_images
    for name, ids in groups:
        assert {scanners[i] for i in ids} == {name.replace(" misclassified", "")}
