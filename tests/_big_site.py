"""The site of a big run as the tests build it: the 312-row digits run of conftest's ``site_runs`` (300 images and
12 probes, four explained) with thresholds small enough to make it big."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

#: The options that make conftest's 312-row run a big run with several sheets, chunks, gallery pages and a sample.
OPTIONS = {
    "sprite_threshold": 100,
    "gallery_page_size": 10,
    "map_sample": 150,
    "thumbnails_per_sprite": 64,
    "rows_per_chunk": 64,
    "webgl_threshold": 100,
}
RUN = "runs/01-digits"


def build_big_site(tmp_path_factory: Any, site_runs: list[Path]) -> Path:
    """The labelled digits run of ``site_runs`` built as a big run (see :data:`OPTIONS`); returns the site's
    folder (the test modules' ``big_site`` fixture)."""
    from layerlens.site import build_site

    out = tmp_path_factory.mktemp("big_site") / "output_site"
    build_site(site_runs[:1], out=out, progress=False, **OPTIONS)
    return out


def data_script(path: Path) -> tuple[str, Any]:
    """The key and the value of a data script (``layerlens.receive("key", value);``)."""
    found = re.fullmatch(r'layerlens\.receive\("([^"]+)", (.*)\);\n', path.read_text(encoding="utf-8"), re.S)
    assert found, f"{path} is no data script"
    return found.group(1), json.loads(found.group(2))


def n_sheets(rows: int) -> int:
    return math.ceil(rows / OPTIONS["thumbnails_per_sprite"])


def expected_cells(run: Any) -> dict[int, int]:
    """Each row's cell in the sprite sheets: the gallery's images in its order, then the other images with a page,
    then the probes (most confident first), then every other row in order."""
    from layerlens.site._content import probe_order, sample_order

    gallery, others = sample_order(run)
    order: list[int] = []
    for row in [*gallery.tolist(), *others.tolist(), *probe_order(run).tolist()]:
        if row not in order:
            order.append(row)
    total = run.n_images + (0 if run.probes is None else run.probes.n_images)
    order += [row for row in range(total) if row not in set(order)]
    return {row: cell for cell, row in enumerate(order)}
