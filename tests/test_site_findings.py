"""The model page's "What stands out", in a real browser: every finding's link leads to the place it names.

The run is run 1 "digits" of conftest's ``site_runs`` (labelled, a scanner for each image, probes) with a finding
of every shape of ``where`` made by hand; chromium is Debian's, launched by tests/_browser.py, every page opened
from file://. The screenshot of the model page's top is kept as /tmp/ll_site_findings.png.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _browser import launch
from playwright.sync_api import Page, expect, sync_playwright
from test_site_browser import GRID_STEP, PHONE, WIDE, Watched, first_number, shown_images

import layerlens as ll
from layerlens.findings import Finding
from layerlens.site import build_site

RUN = "runs/01-digits"
SCREENSHOT = Path("/tmp/ll_site_findings.png")
HOSTILE = 'Labels look wrong for <script>alert("x")</script> & "these" images.'
# Where a selector's element sits against the top of the window (0: scrolled to it).
TOP = "selector => document.querySelector(selector).getBoundingClientRect().top"
# The parts of "What stands out" that stick out of the window on the right.
TOO_WIDE_FINDINGS = """() => [document.getElementById("findings"), ...document.querySelectorAll("#findings *")]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map(e => e.tagName + " " + e.textContent.slice(0, 40))"""


def _finding(kind: str, text: str, **where: Any) -> Finding:
    return Finding(kind=kind, text=text, value=0.5, interval=(0.4, 0.6), threshold=0.1, where=where, effect=0.5)


@dataclasses.dataclass(frozen=True)
class Case:
    """A hand-made run's findings and what each link must show."""

    analysis: Any
    findings: dict[str, Finding]
    expected: dict[str, Any]


@pytest.fixture(scope="module")
def case(site_runs) -> Case:
    run = ll.load(site_runs[0])
    paths = run.paths.iloc[: run.n_images]
    wrong = paths[~paths["correct"].to_numpy(bool)]
    layers = list(run.layer_names)
    first = run.layer(layers[0]).clusters.assignments[: run.n_images]
    mixed = int(np.bincount(first).argmax())  # the biggest cluster of the first layer
    last = run.layer(layers[-1]).clusters.assignments
    mistake_cluster = int(np.bincount(last[wrong.index]).argmax())
    path = str(wrong["path"].value_counts().index[0])
    pair = wrong.groupby(["true", "predicted"], observed=True).size().idxmax()
    confident = [int(i) for i in wrong["confidence"].sort_values(ascending=False).index[:3]]
    late = [int(paths.index[paths["correct"].to_numpy(bool)][0]), confident[-1]]  # a correct image, then a mistake
    in_pair = wrong.index[(wrong["true"] == pair[0]) & (wrong["predicted"] == pair[1])]
    # As layerlens.findings writes them: a place, and the images in it, most telling first.
    findings = {
        "separation": _finding("separation", f"The classes separate from layer {layers[1]} on.", layer=layers[1]),
        "confounder": _finding(
            "confounder",
            f"Layer {layers[2]} groups the images by scanner.",
            layer=layers[2],
            layers=layers[2:],
            column="scanner",
        ),
        "mixed_cluster": _finding(
            "mixed_cluster",
            f"Cluster c{mixed + 1} of {layers[0]} mixes the classes.",
            layer=layers[0],
            cluster=mixed,
            images=confident,
        ),
        "mistake_cluster": _finding(
            "mistake_path", "Many mistakes gather in one cluster.", layer=layers[-1], cluster=mistake_cluster
        ),
        "mistake_path": _finding("mistake_path", f"Path {path} holds many mistakes.", path=path, images=confident),
        "confusion": _finding(
            "confusion",
            f"{pair[0]} is often taken for {pair[1]}.",
            true=pair[0],
            predicted=pair[1],
            images=[int(i) for i in in_pair],
        ),
        "weak_group": _finding("weak_group", "Accuracy is lower on GE images.", column="scanner", group="GE"),
        "weak_range": _finding(
            "weak_group", "Accuracy is lower at low contrast.", column="contrast", group="0.12–0.31", images=late[1:]
        ),
        "weak_nowhere": _finding("weak_group", "Accuracy is lower at high contrast.", column="contrast", group="0.5–1"),
        "confident_mistakes": _finding("confident_mistakes", "Three mistakes are very confident.", images=confident),
        "label_issues": _finding("label_issues", HOSTILE, images=confident[:2]),
        "late_decision": _finding("late_decision", "Some images are decided late.", layer=layers[-1], images=late),
        "probes": _finding("probes", "The probes are taken for a class.", probes=[0, 1]),
        "calibration": _finding("calibration", "The confidence is too high."),
    }
    expected = {
        "mixed": (0, mixed, [int(i) for i in np.flatnonzero(run.paths[layers[0]].cat.codes.to_numpy() == mixed)]),
        "mistake_cluster": sorted(int(i) for i in wrong.index[last[wrong.index] == mistake_cluster]),
        "path": (path, sorted(int(i) for i in wrong.index[wrong["path"] == path])),
        "pair": sorted(int(i) for i in wrong.index[(wrong["true"] == pair[0]) & (wrong["predicted"] == pair[1])]),
        "group": sorted(int(i) for i in wrong.index[run.metadata["scanner"].iloc[wrong.index].to_numpy() == "GE"]),
        "confident": confident,
        "late": late,
    }
    return Case(dataclasses.replace(run, findings=tuple(findings.values())), findings, expected)


@pytest.fixture(scope="module")
def site(tmp_path_factory, case) -> Path:
    out = tmp_path_factory.mktemp("findings") / "site"
    build_site([case.analysis], out=out)
    return out


@pytest.fixture(scope="module")
def tab() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport=WIDE)
        context.set_default_timeout(10_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def model_page(tab, site) -> Iterator[Watched]:
    """The model page of the run, opened afresh and watched for errors and network requests."""
    watched = Watched(tab)
    tab.goto((site / RUN / "index.html").as_uri())
    yield watched
    watched.stop()


def _link(page: Page, key: str, case: Case) -> Any:
    position = list(case.findings).index(key)
    return page.locator("#findings li").nth(position).locator("a")


def _visible(page: Page) -> list[dict[str, str]]:
    return page.locator("#gallery > li:not([hidden])").evaluate_all("all => all.map(li => ({...li.dataset}))")


def test_the_findings_come_first_in_their_order_and_escaped(model_page, case):
    page = model_page.page
    first = page.evaluate("() => document.querySelector('main section').id")
    assert first == "findings"
    expect(page.locator("#findings h2")).to_have_text("What stands out")
    items = page.locator("#findings li")
    expect(items).to_have_count(len(case.findings))
    for position, finding in enumerate(case.findings.values()):
        assert items.nth(position).text_content().startswith(finding.text)
    assert page.locator("#findings script").count() == 0  # the hostile text stays text
    expect(_link(page, "weak_nowhere", case)).to_have_count(0)  # a range with nowhere to show it: no link
    page.set_viewport_size(WIDE)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOT, clip={"x": 0, "y": 0, "width": WIDE["width"], "height": 700})
    page.set_viewport_size(PHONE)
    assert page.evaluate(TOO_WIDE_FINDINGS) == []
    page.set_viewport_size(WIDE)
    assert model_page.problems == []


def test_a_layer_finding_selects_its_map_on_the_same_page(model_page, case):
    page = model_page.page
    _link(page, "separation", case).click()
    expect(page.locator("#tab-1")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-0")).to_have_attribute("aria-selected", "false")
    assert page.url.endswith("index.html?layer=1#maps")
    assert abs(page.evaluate(TOP, "#maps")) < 5
    page.evaluate("() => window.scrollTo(0, 0)")
    _link(page, "confounder", case).click()  # a second link on the same page, coloured by the scanner
    expect(page.locator("#tab-2")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#map-colour")).to_have_value("0")
    expect(page.locator("#map-figure .legendtitletext")).to_contain_text("scanner")
    page.go_back()
    expect(page.locator("#tab-1")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#map-colour")).to_have_value("")
    page.reload()  # the address alone selects the tab on load
    expect(page.locator("#tab-1")).to_have_attribute("aria-selected", "true")
    assert model_page.problems == []


def test_a_cluster_finding_lists_the_clusters_images(model_page, case):
    page = model_page.page
    layer, cluster, images = case.expected["mixed"]
    _link(page, "mixed_cluster", case).click()
    status = page.locator("#grid-status")
    expect(status).to_contain_text(" in c")
    assert first_number(status.text_content()) == len(images)
    grid = page.locator("#image-grid > li")
    expect(grid).to_have_count(min(len(images), GRID_STEP))
    assert shown_images(grid) == images[:GRID_STEP]
    expect(page.locator("#cluster-filter select[name=layer]")).to_have_value(str(layer))
    expect(page.locator("#cluster-filter select[name=cluster]")).to_have_value(str(cluster))
    page.locator("#grid-clear").click()
    expect(status).to_contain_text("All ")
    assert "?" not in page.url
    assert model_page.problems == []


def test_an_image_finding_of_a_correct_image_lists_them_in_the_grid(model_page, case):
    page = model_page.page
    link = _link(page, "late_decision", case)
    expect(link).to_have_attribute("href", "index.html?images=" + ",".join(map(str, case.expected["late"])) + "#paths")
    link.click()
    expect(page.locator("#grid-status")).to_have_text("The 2 images a finding names, most telling first.")
    assert shown_images(page.locator("#image-grid > li")) == case.expected["late"]
    assert abs(page.evaluate(TOP, "#cluster-filter")) < 5
    assert model_page.problems == []


@pytest.mark.parametrize("key", ["probes", "calibration"])
def test_a_section_finding_scrolls_to_its_section(model_page, case, key):
    page = model_page.page
    _link(page, key, case).click()
    page.wait_for_url(f"**/index.html#{key}")
    page.wait_for_function(f"() => Math.abs(document.getElementById('{key}').getBoundingClientRect().top) < 5")
    assert model_page.problems == []


def _gallery(model_page: Watched, case: Case, key: str) -> Page:
    page = model_page.page
    _link(page, key, case).click()
    page.wait_for_url("**/gallery.html?*")
    expect(page.locator("#gallery-clear")).to_be_visible()
    return page


def test_a_confusion_finding_shows_the_class_pairs_mistakes(model_page, case):
    page = _gallery(model_page, case, "confusion")
    finding = case.findings["confusion"].where
    classes = list(case.analysis.class_names)
    shown = _visible(page)
    assert sorted(int(item["index"]) for item in shown) == case.expected["pair"]
    assert {(item["true"], item["predicted"]) for item in shown} == {
        (str(classes.index(finding["true"])), str(classes.index(finding["predicted"])))
    }
    expect(page.locator("#gallery-status")).to_contain_text(f"{len(shown)} of ")
    assert model_page.problems == []


def test_a_mistake_cluster_finding_shows_its_mistakes_in_the_gallery(model_page, case):
    page = _gallery(model_page, case, "mistake_cluster")
    assert sorted(int(item["index"]) for item in _visible(page)) == case.expected["mistake_cluster"]
    assert model_page.problems == []


def test_a_group_finding_shows_the_groups_mistakes(model_page, case):
    page = _gallery(model_page, case, "weak_group")
    assert sorted(int(item["index"]) for item in _visible(page)) == case.expected["group"]
    option = page.locator("select[data-column=scanner] option", has_text="GE")
    expect(page.locator("select[data-column=scanner]")).to_have_value(option.get_attribute("value"))
    assert model_page.problems == []


def test_a_path_finding_shows_the_paths_mistakes_and_clears(model_page, case):
    path, images = case.expected["path"]
    page = _gallery(model_page, case, "mistake_path")
    shown = _visible(page)
    assert sorted(int(item["index"]) for item in shown) == images
    assert {item["path"] for item in shown} == {path}
    status = page.locator("#gallery-status")
    expect(status).to_contain_text(f"the mistakes of path {path}")
    total = page.locator("#gallery > li").count()
    page.locator("#gallery-clear").click()
    expect(status).to_have_text(f"{total} of {total} images shown.")
    expect(page.locator("#gallery-clear")).to_be_hidden()
    assert "?" not in page.url
    assert model_page.problems == []


@pytest.mark.parametrize("key", ["confident_mistakes", "label_issues", "weak_range"])
def test_an_image_finding_shows_its_images_in_its_order(model_page, case, key):
    page = _gallery(model_page, case, key)
    wanted = list(case.findings[key].where["images"])
    assert [int(item["index"]) for item in _visible(page)] == wanted
    expect(page.locator("#gallery-status")).to_contain_text("a finding names, most telling first")
    assert model_page.problems == []


def test_an_unknown_group_in_the_address_is_said_and_clearable(tab, site):
    watched = Watched(tab)
    tab.goto((site / RUN / "gallery.html").as_uri() + "?meta=scanner&value=Unknown%20one")
    status = tab.locator("#gallery-status")
    total = tab.locator("#gallery > li").count()
    expect(status).to_have_text(f"{total} of {total} images shown. No filter here for scanner “Unknown one”.")
    tab.locator("#gallery-clear").click()
    expect(status).to_have_text(f"{total} of {total} images shown.")
    watched.stop()
    assert watched.problems == []


def test_the_index_card_gives_the_first_finding(tab, site, case):
    tab.goto((site / "index.html").as_uri())
    card = tab.locator(".card-finding")
    expect(card).to_contain_text(case.analysis.findings[0].text)
    expect(card.locator("a")).to_have_text(f"{len(case.findings) - 1} more")
