"""The site of a big run, as the builder writes it: sprite sheets instead of one PNG per thumbnail, chunked data
scripts, a page only for the images the site says more of, layer maps drawn from a stated, seeded sample.

The run is conftest's 312-row digits run built with small thresholds (``tests/_big_site.py``); the browser tests of
the same site are in ``test_site_big_browser.py``.
"""

from __future__ import annotations

import filecmp
import io
import math

import numpy as np
import pytest
from _big_site import OPTIONS, RUN, data_script, expected_cells, n_sheets

from layerlens.exceptions import InvalidInputError


def rows_of(run) -> int:
    return run.n_images + run.probes.n_images


def mistakes_of(run) -> np.ndarray:
    return np.flatnonzero(run.predictions != run.labels)


def test_thumbnails_are_packed_in_sprite_sheets(big_site, big_run):
    from PIL import Image

    images = big_site / RUN / "images"
    sheets = sorted(p.name for p in images.iterdir())
    assert sheets == [f"sprite-{k:05d}.png" for k in range(n_sheets(rows_of(big_run)))]
    assert len(sheets) <= math.ceil(rows_of(big_run) / OPTIONS["thumbnails_per_sprite"])
    # 64 thumbnails a sheet, an 8 × 8 grid filled row by row, the gallery's images first.
    cells = expected_cells(big_run)
    height, width = big_run.thumbnails.shape[1:3]
    sheets_read = {}
    for row in [0, 70, int(mistakes_of(big_run)[0]), big_run.n_images, big_run.n_images + 11]:
        sheet, cell = divmod(cells[row], 64)
        if sheet not in sheets_read:
            sheets_read[sheet] = np.asarray(Image.open(io.BytesIO((images / f"sprite-{sheet:05d}.png").read_bytes())))
        grid = sheets_read[sheet]
        assert grid.shape[:2] == (8 * height, 8 * width)
        top, left = (cell // 8) * height, (cell % 8) * width
        thumbnail = big_run.thumbnails[row] if row < big_run.n_images else big_run.probes.thumbnails[row - 300]
        np.testing.assert_array_equal(
            grid[top : top + height, left : left + width].reshape(height, width, -1), thumbnail
        )
    from layerlens.site._content import gallery_order

    assert [cells[int(i)] for i in gallery_order(big_run)] == list(range(len(gallery_order(big_run))))


def test_only_the_images_the_site_says_more_of_get_a_page(big_site, big_run):
    from layerlens.site._content import sample_order

    gallery, others = sample_order(big_run)
    expected = set(others.tolist()) | (set(gallery.tolist()) & set(big_run.explained_images))
    pages = {int(p.stem) for p in (big_site / RUN / "samples").iterdir()}
    assert pages == expected
    assert len(pages) < len(gallery) + len(others), "every gallery image got a page of its own"
    assert (big_site / RUN / "sample.html").is_file()
    assert (big_site / "assets" / "big.js").is_file()


def test_every_row_is_in_the_chunked_data_scripts(big_site, big_run):
    folder = big_site / RUN / "data" / "rows"
    chunks = sorted(folder.iterdir())
    per = OPTIONS["rows_per_chunk"]
    assert len(chunks) == math.ceil(rows_of(big_run) / per)
    predicted, clusters, gallery_place = [], [], []
    for k, path in enumerate(chunks):
        key, data = data_script(path)
        assert key == f"rows-{k}"
        predicted += data["predicted"]
        clusters += data["clusters"][-1]
        gallery_place += data["gallery"]
    paths = big_run.paths
    np.testing.assert_array_equal(predicted, paths["predicted"].cat.codes.to_numpy())
    np.testing.assert_array_equal(clusters[: big_run.n_images], big_run.layers[-1].clusters.assignments)
    wrong = mistakes_of(big_run)
    in_gallery = np.flatnonzero(np.array(gallery_place) >= 0)
    np.testing.assert_array_equal(in_gallery, wrong)


def test_the_gallery_data_holds_every_mistake_in_order(big_site, big_run):
    from layerlens.site._content import gallery_order

    folder = big_site / RUN / "data" / "gallery"
    order = []
    for k, path in enumerate(sorted(folder.iterdir())):
        key, data = data_script(path)
        assert key == f"gallery-{k}"
        order += data["index"]
    assert order == gallery_order(big_run).tolist()
    page = (big_site / RUN / "gallery.html").read_text(encoding="utf-8")
    assert 'id="gallery-paged"' in page and "data-index" not in page, "the paged gallery has no thumbnails in HTML"


def test_maps_draw_a_stated_sample_that_keeps_every_mistake_and_probe(big_site, big_run):
    _, figure = data_script(big_site / RUN / "data" / "map-0.js")
    drawn = set()
    for trace in figure["data"]:
        ids = trace.get("customdata")
        if isinstance(ids, dict):
            import base64

            ids = np.frombuffer(base64.b64decode(ids["bdata"]), dtype=np.dtype(ids["dtype"]).newbyteorder("<"))
        if ids is not None and np.ndim(ids) == 1:
            drawn |= {int(i) for i in ids}
    assert len(drawn) == OPTIONS["map_sample"]
    assert set(mistakes_of(big_run).tolist()) <= drawn
    assert set(range(big_run.n_images, rows_of(big_run))) <= drawn
    assert {trace["type"] for trace in figure["data"] if "customdata" in trace} == {"scattergl"}
    assert f"a sample of {OPTIONS['map_sample']} of {rows_of(big_run)} images" in figure["layout"]["title"]["text"]
    model = (big_site / RUN / "index.html").read_text(encoding="utf-8")
    assert f"A seeded sample of {OPTIONS['map_sample']} of the {rows_of(big_run)} images is drawn" in model
    _, images = data_script(big_site / RUN / "data" / "images.js")
    assert sorted(images["ids"]) == sorted(drawn)


def test_the_model_page_shows_thumbnails_from_the_sheets(big_site):
    model = (big_site / RUN / "index.html").read_text(encoding="utf-8")
    assert 'class="sprite"' in model and "sprite-0000" in model
    assert 'src="images/0' not in model, "a thumbnail points at a PNG of its own"


def test_the_same_run_gives_the_same_big_site(tmp_path, site_runs, big_site):
    from layerlens.site import build_site

    again = tmp_path / "again"
    build_site(site_runs[:1], out=again, progress=False, **OPTIONS)
    compared = filecmp.dircmp(big_site, again)

    def differences(c: filecmp.dircmp) -> list[str]:
        found = c.left_only + c.right_only + c.diff_files
        for sub in c.subdirs.values():
            found += differences(sub)
        return found

    assert differences(compared) == []


def test_a_small_run_keeps_its_pages(built_site):
    run = built_site / "runs" / "01-digits"
    assert (run / "images" / "00000.png").is_file()
    assert not (run / "sample.html").exists()
    assert not (run / "data" / "rows").exists()
    assert not (built_site / "assets" / "big.js").exists()


@pytest.mark.parametrize(
    "option", ["gallery_page_size", "map_sample", "thumbnails_per_sprite", "rows_per_chunk", "sprite_threshold"]
)
def test_bad_options_are_refused_before_anything_is_read(tmp_path, option):
    from layerlens.site import build_site

    with pytest.raises(InvalidInputError, match=option):
        build_site([tmp_path / "no-such-run"], out=tmp_path / "site", **{option: -1})


def test_an_unlabelled_big_run_lists_its_least_sure_predictions(tmp_path, site_runs):
    import layerlens
    from layerlens.site import build_site
    from layerlens.site._content import gallery_order

    build_site(site_runs[1:], out=tmp_path / "site", progress=False, **{**OPTIONS, "sprite_threshold": 50})
    run = layerlens.load(site_runs[1])
    folder = tmp_path / "site" / "runs" / "01-digits-unlabelled"
    order = []
    for path in sorted((folder / "data" / "gallery").iterdir()):
        order += data_script(path)[1]["index"]
    assert order == gallery_order(run).tolist()
    _, rows = data_script(folder / "data" / "rows" / "00000.js")
    assert "true" not in rows and len(rows["predicted"]) == OPTIONS["rows_per_chunk"]
    assert len(list((folder / "images").iterdir())) == math.ceil(run.n_images / OPTIONS["thumbnails_per_sprite"])
    assert "Least confident predictions" in (folder / "gallery.html").read_text(encoding="utf-8")


def test_every_picture_a_page_names_exists(big_site):
    """No page of a big run points at a thumbnail PNG of its own (there are none): each src and sprite is a file."""
    import re

    run = big_site / RUN
    for page in [run / "index.html", run / "gallery.html", run / "sample.html", *(run / "samples").iterdir()]:
        text = page.read_text(encoding="utf-8")
        for name in re.findall(r'src="([^"]+\.png)"', text) + re.findall(r"url\(&#39;([^&]+)&#39;\)", text):
            assert (page.parent / name).resolve().is_file(), f"{page.name} names a missing {name}"


def test_a_finding_of_many_images_links_its_most_telling_ones(big_run, monkeypatch):
    import dataclasses

    import layerlens.site._content as content
    from layerlens.findings import Finding
    from layerlens.site._content import FindingPlaces, finding_views

    most = 100
    monkeypatch.setattr(content, "LINK_IMAGES_MAX", most)  # 500 in a site; the run has 300 images
    many = [int(i) for i in np.arange(big_run.n_images)[::-1]]  # most telling first, as a finding lists them
    finding = Finding(
        kind="label_issues", text="Labels look wrong.", value=0.5, interval=(0.4, 0.6), threshold=0.1,
        where={"images": many}, effect=0.5,
    )  # fmt: skip
    places = FindingPlaces(frozenset(range(big_run.n_images)), {}, [], [], False, False)
    (view,) = finding_views(dataclasses.replace(big_run, findings=(finding,)), places)
    listed = [int(i) for i in view.href.split("images=")[1].split("&")[0].split("#")[0].split(",")]
    assert listed == many[:most]
    assert f"{most} most telling of its {len(many):,} images" in view.label
