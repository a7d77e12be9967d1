"""The slice viewer of a volume's sample page in a real browser: Debian's chromium (tests/_browser.py) driven by
playwright, every page opened from file:// with every request but file:// ones refused.

The site holds three runs of the same small Conv3D model (see test_site_volumes.py):

1. "boxes": the run as ``analyze(..., explain=2, explain_methods=("integrated_gradients", "smoothgrad"))`` gave
   it, real heat maps over real volumes;
2. "encoded": the same, but the unexplained pages' volumes replaced by three channels that encode each voxel's
   place (red 8·d, green 8·h, blue 8·w), so a pixel read back from a canvas tells which slice it shows;
3. "encoded HWD": run 2 as if its volumes had been given with their axes in the order H, W, D.

Screenshots go to /tmp/site_volume_*.png.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _browser import launch
from playwright.sync_api import Page, sync_playwright
from test_site_volumes import SHAPE, read_payload, volume_run, with_axes

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
D, H, W = SHAPE
# The RGBA of a canvas pixel, read by the page itself (the canvas drew decoded arrays: it is not tainted).
PIXEL = """([plane, x, y]) =>
  Array.from(document.querySelector(`#plane-${plane} canvas`).getContext("2d").getImageData(x, y, 1, 1).data)"""
# Every pixel of a plane's canvas, RGBA.
PIXELS = """(plane) => {
  const canvas = document.querySelector(`#plane-${plane} canvas`);
  return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
}"""
# Elements that stick out of the viewport on the right.
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll("*")]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest(".figure-scroll, .table-scroll"))
    .slice(0, 10).map(e => `${e.tagName.toLowerCase()}.${e.getAttribute("class")}`);
}"""


def encoded_volume() -> np.ndarray:
    """A volume (D, H, W, 3) whose red is 8·d, green 8·h and blue 8·w."""
    d, h, w = np.meshgrid(np.arange(D), np.arange(H), np.arange(W), indexing="ij")
    return (np.stack([d, h, w], axis=-1) * 8).astype(np.uint8)


@pytest.fixture(scope="module")
def run():
    return volume_run(methods=("integrated_gradients", "smoothgrad"))


@pytest.fixture(scope="module")
def site(run, tmp_path_factory) -> Path:
    from layerlens.site import build_site

    code = encoded_volume()
    encoded = dataclasses.replace(
        run,
        name="encoded",
        volumes={i: (v if i in run.explained_images else code) for i, v in run.volumes.items()},
    )
    out = tmp_path_factory.mktemp("volume-browser") / "site"
    build_site([run, encoded, dataclasses.replace(with_axes(encoded, "HWD"), name="encoded HWD")], out, progress=False)
    return out


@pytest.fixture(scope="module")
def tab() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport=WIDE)
        context.set_default_timeout(10_000)
        # Offline: anything but the site's own files is refused (and noted).
        context.route(
            "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
        )
        yield context.new_page()
        browser.close()


@pytest.fixture
def open_page(tab, site):
    """Open a sample page of run ``run`` (1, 2 or 3) and wait until its viewer has drawn; the test fails on any
    console error, uncaught exception, failed load or request for anything but a local file."""
    problems: list[str] = []
    listeners = {
        "console": lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        "pageerror": lambda error: problems.append(f"uncaught: {error}"),
        # a load the page itself cancelled (leaving the page before its lazy thumbnails came) is no missing file
        "requestfailed": lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(f"failed: {r.url}"),
        "request": lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else problems.append(r.url),
    }
    for event, listener in listeners.items():
        tab.on(event, listener)

    def open_(run_number: int, index: int, viewport: dict[str, int] = WIDE) -> Page:
        folder = sorted((site / "runs").iterdir())[run_number - 1]
        tab.set_viewport_size(viewport)
        tab.goto((folder / "samples" / f"{index:05d}.html").as_uri())
        tab.wait_for_selector("#volume[data-ready='1']")
        return tab

    yield open_
    for event, listener in listeners.items():
        tab.remove_listener(event, listener)
    assert not problems


def payload_of(site: Path, run_number: int, index: int) -> dict:
    folder = sorted((site / "runs").iterdir())[run_number - 1]
    return read_payload(folder / "data" / "volumes" / f"{index:05d}.js")


def explained(run) -> int:
    """The explained image whose heat map speaks for its class (a box of class 1)."""
    return next(e.image_index for e in run.explanations if e.target == 1 and e.heatmap.max() > 0)


def unexplained(run) -> int:
    return next(i for i in sorted(run.volumes) if i not in run.explained_images)


def pixel(page: Page, plane: str, x: int, y: int) -> list[int]:
    return page.evaluate(PIXEL, [plane, x, y])


def sliders(page: Page) -> dict[str, int]:
    return {p: int(page.input_value(f"#slider-{p}")) for p in ("axial", "coronal", "sagittal")}


def test_three_planes_render_large_and_sharp(open_page, run):
    page = open_page(1, explained(run))
    for plane, (width, height) in {"axial": (W, H), "coronal": (W, D), "sagittal": (H, D)}.items():
        canvas = page.locator(f"#plane-{plane} canvas")
        assert (int(canvas.get_attribute("width")), int(canvas.get_attribute("height"))) == (width, height)
        values = np.array(page.evaluate(PIXELS, plane)).reshape(height, width, 4)
        assert values[..., 3].min() == 255 and values[..., :3].std() > 5  # drawn, and not one flat colour
        box = canvas.bounding_box()
        assert box["width"] == pytest.approx(width * 13, abs=1)  # 256 px at least on the volume's longest side
        assert (
            page.evaluate(f"getComputedStyle(document.querySelector('#plane-{plane} canvas')).imageRendering")
            == "pixelated"
        )
        assert page.locator(f"label[for=slider-{plane}]").is_visible()
    assert page.locator("#plane-axial figcaption").inner_text().startswith("Axial across D (array axis 1)")


def test_the_slices_start_at_the_heat_maximum(open_page, run, site):
    index = explained(run)
    page = open_page(1, index)
    start = payload_of(site, 1, index)["start"]
    heat = next(e.heatmap for e in run.explanations if e.image_index == index and e.method == "integrated_gradients")
    assert start == list(np.unravel_index(int(heat.argmax()), SHAPE))
    assert sliders(page) == dict(zip(("axial", "coronal", "sagittal"), start))
    assert page.locator("#at-axial").inner_text() == f"slice {start[0] + 1} of {D}"
    assert f"maximum of the integrated gradients heat map (voxel D {start[0]}" in page.locator("#volume").inner_text()
    # the crosshair of the coronal plane sits on the axial slice, counted from the bottom
    top = page.evaluate("parseFloat(document.querySelector('#plane-coronal .cross-row').style.top)")
    assert top == pytest.approx(100 * (D - 1 - start[0] + 0.5) / D)


def test_the_sliders_move_through_the_slices(open_page, run):
    """The pixels drawn are the voxels of the slice each slider names: red encodes d, green h, blue w."""
    page = open_page(2, unexplained(run))
    assert sliders(page) == {"axial": D // 2, "coronal": H // 2, "sagittal": W // 2}  # no heat map: the centre
    assert page.locator("#volume-heat").count() == 0
    axial = page.locator("#slider-axial")
    axial.focus()
    page.keyboard.press("Home")
    for k in range(4):
        assert pixel(page, "axial", 3, 2)[:3] == [8 * k, 8 * 2, 8 * 3]
        assert page.locator("#at-axial").inner_text() == f"slice {k + 1} of {D}"
        page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    assert pixel(page, "axial", 0, 0)[0] == 8 * (D - 1)
    for k in (0, 7, H - 1):
        page.locator("#slider-coronal").fill(str(k))
        assert pixel(page, "coronal", 5, 0)[:3] == [8 * (D - 1), 8 * k, 8 * 5]  # top row: the last slice of D
        assert pixel(page, "coronal", 5, D - 1)[:3] == [0, 8 * k, 8 * 5]  # bottom row: slice 0
    for k in (0, 13, W - 1):
        page.locator("#slider-sagittal").fill(str(k))
        assert pixel(page, "sagittal", 9, D - 1 - 4)[:3] == [8 * 4, 8 * 9, 8 * k]
        assert page.locator("#at-sagittal").inner_text() == f"slice {k + 1} of {W}"


def test_a_click_moves_the_other_planes_there(open_page, run):
    page = open_page(2, unexplained(run))
    page.locator("#slider-axial").fill("5")
    box = page.locator("#plane-axial canvas").bounding_box()
    h, w = 3, 17
    page.mouse.click(box["x"] + (w + 0.5) * box["width"] / W, box["y"] + (h + 0.5) * box["height"] / H)
    assert sliders(page) == {"axial": 5, "coronal": h, "sagittal": w}
    assert pixel(page, "sagittal", h, D - 1 - 5)[:3] == [40, 8 * h, 8 * w]
    left = page.evaluate("parseFloat(document.querySelector('#plane-coronal .cross-column').style.left)")
    assert left == pytest.approx(100 * (w + 0.5) / W)
    box = page.locator("#plane-sagittal canvas").bounding_box()
    page.mouse.click(box["x"] + 10.5 * box["width"] / H, box["y"] + 0.5 * box["height"] / D)  # top row: last slice
    assert sliders(page) == {"axial": D - 1, "coronal": 10, "sagittal": w}


def test_the_heat_map_overlay_shows_switches_and_hides(open_page, run):
    page = open_page(1, explained(run))
    coloured = np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3]
    assert (coloured[..., 0] != coloured[..., 2]).any()  # red (or blue) over gray voxels
    page.locator("#volume-heat").uncheck()
    plain = np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3]
    assert (plain[..., 0] == plain[..., 1]).all() and (plain[..., 1] == plain[..., 2]).all()  # the gray volume
    assert (plain != coloured).any()
    page.locator("#volume-heat").check()
    np.testing.assert_array_equal(np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3], coloured)
    page.locator("#volume-opacity").fill("0")
    np.testing.assert_array_equal(np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3], plain)
    page.locator("#volume-opacity").fill("65")
    # the method selector switches the heat map and its legend
    legend = page.locator("#volume-legend span:visible")
    assert legend.inner_text().startswith("Integrated gradients: pixels for (red) and against (blue)")
    page.select_option("#volume-method", label="SmoothGrad")
    assert legend.inner_text().startswith("SmoothGrad:")
    other = np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3]
    assert (other != coloured).any()
    # SmoothGrad's map may be too faint to colour this slice (it starts where integrated gradients peak): some
    # slice of the volume shows it.
    shown = []
    for k in range(D):
        page.locator("#slider-axial").fill(str(k))
        drawn = np.array(page.evaluate(PIXELS, "axial")).reshape(H, W, 4)[..., :3]
        shown.append(bool((drawn[..., 0] != drawn[..., 2]).any()))
    assert any(shown)
    page.locator("#volume-reset").click()
    assert sliders(page)["axial"] == payload_of_start(page)


def payload_of_start(page: Page) -> int:
    return page.evaluate("window.LAYERLENS_VOLUME.start[0]")


def test_the_same_anatomy_looks_the_same_whatever_the_order_of_the_axes(open_page, run):
    index = unexplained(run)
    drawn = {}
    for run_number in (2, 3):
        page = open_page(run_number, index)
        page.locator("#slider-axial").fill("2")
        drawn[run_number] = {p: page.evaluate(PIXELS, p) for p in ("axial", "coronal", "sagittal")}
        assert sliders(page) == {"axial": 2, "coronal": H // 2, "sagittal": W // 2}
    assert drawn[2] == drawn[3]
    assert "across D (array axis 3)" in page.locator("#plane-axial figcaption").inner_text()


def test_screenshots_at_two_widths(open_page, run):
    index = explained(run)
    page = open_page(1, index)
    page.locator("#volume").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/site_volume_wide.png", full_page=True)
    page.locator("#volume").screenshot(path="/tmp/site_volume_viewer.png")
    page = open_page(1, index, PHONE)
    assert page.evaluate(TOO_WIDE) == []
    page.screenshot(path="/tmp/site_volume_phone.png", full_page=True)
    page = open_page(2, unexplained(run))
    page.locator("#volume").screenshot(path="/tmp/site_volume_encoded.png")
