"""Big runs on the site: thumbnails in sprite sheets, per-image data in chunked scripts, maps from a sample.

A run with more images (probes included) than :attr:`BigRun.sprite_threshold` gets no file and no HTML per
image: its thumbnails are packed into sprite sheets (``images/sprite-00000.png``, a grid of
:attr:`BigRun.thumbnails_per_sprite` thumbnails each, as TensorBoard's projector packs its sprites), every
image's data goes into data scripts of :attr:`BigRun.rows_per_chunk` rows (``data/rows/00000.js``; script
elements, since ``fetch`` does not work from ``file://``), which one page, ``sample.html#i``, reads for any
image; the gallery is paged from its own chunks (``data/gallery/00000.js``); the layer maps and the model page's
image lists draw from a seeded sample that keeps the mistakes and the probes (up to a cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens._util.mapped import release
from layerlens._util.png import png_bytes
from layerlens.exceptions import InvalidInputError
from layerlens.figures.maps import WEBGL_THRESHOLD
from layerlens.site._templates import script_json

if TYPE_CHECKING:
    from layerlens.run import Analysis

__all__ = [
    "BigRun",
    "MapSample",
    "Sprites",
    "codes_of",
    "gallery_rows",
    "map_sample",
    "row_columns",
    "sample_image_data",
    "write_rows",
    "write_big_data",
    "write_sprites",
]

#: The seed of the map sample: the same run gives the same sample, and so the same site.
SAMPLE_SEED = 0


@dataclass(frozen=True)
class BigRun:
    """When a run counts as big, and how its site is cut into pieces (see :func:`layerlens.build_site`)."""

    sprite_threshold: int = 5000
    gallery_page_size: int = 100
    map_sample: int = 20000
    thumbnails_per_sprite: int = 256
    rows_per_chunk: int = 5000
    webgl_threshold: int = WEBGL_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("sprite_threshold", "gallery_page_size", "map_sample", "thumbnails_per_sprite",
                     "rows_per_chunk", "webgl_threshold"):  # fmt: skip
            value = getattr(self, name)
            least = 0 if name.endswith("threshold") else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise InvalidInputError(f"{name}: expected a whole number of at least {least}; received {value!r}.")

    def is_big(self, analysis: Analysis) -> bool:
        """Whether ``analysis`` (its images and probes) is past :attr:`sprite_threshold`."""
        return n_rows(analysis) > self.sprite_threshold


def n_rows(analysis: Analysis) -> int:
    """The rows of the paths table: the images, then the probes."""
    return analysis.n_images + (0 if analysis.probes is None else analysis.probes.n_images)


# ------------------------------------------------------------------------------------------------ sprites


@dataclass(frozen=True, eq=False)
class Sprites:
    """How thumbnails sit in sprite sheets: ``per_sheet`` of them, row by row in a grid of ``columns`` ×
    ``rows`` cells of ``height`` × ``width`` pixels; the thumbnail of row ``i`` is in cell ``cells[i]``, of
    sheet ``cells[i] // per_sheet``.

    The images the pages list come first (the gallery's, in its order, then the other images with a page, then
    the probes), so that a page of them loads a few sheets rather than a sheet per thumbnail.
    """

    per_sheet: int
    columns: int
    rows: int
    height: int
    width: int
    cells: np.ndarray

    @classmethod
    def of(cls, per_sheet: int, height: int, width: int, first: np.ndarray, total: int) -> Sprites:
        """The layout of ``total`` thumbnails with the rows ``first`` (in their order) in the first cells."""
        columns = math.ceil(math.sqrt(per_sheet))
        seen = np.zeros(total, dtype=bool)
        order = []
        for row in np.asarray(first, dtype=np.int64).tolist():
            if not seen[row]:
                seen[row] = True
                order.append(row)
        order = np.concatenate([np.array(order, dtype=np.int64), np.flatnonzero(~seen).astype(np.int64)])
        cells = np.empty(total, dtype=np.int64)
        cells[order] = np.arange(total, dtype=np.int64)
        return cls(per_sheet, columns, math.ceil(per_sheet / columns), int(height), int(width), cells)

    @property
    def order(self) -> np.ndarray:
        """The row of each cell, cell by cell."""
        return np.argsort(self.cells, kind="stable")

    def sheet_name(self, sheet: int) -> str:
        return f"sprite-{sheet:05d}.png"

    def style(self, index: int, base: str) -> str:
        """The inline CSS that shows thumbnail ``index`` as the background of an element (as site.js does)."""
        sheet, cell = divmod(int(self.cells[index]), self.per_sheet)
        row, column = divmod(cell, self.columns)
        x = 100 * column / (self.columns - 1) if self.columns > 1 else 0
        y = 100 * row / (self.rows - 1) if self.rows > 1 else 0
        return (
            f"background-image:url('{base}{self.sheet_name(sheet)}');background-size:{100 * self.columns}% "
            f"{100 * self.rows}%;background-position:{x:.4f}% {y:.4f}%;aspect-ratio:{self.width}/{self.height}"
        )

    def script(self) -> dict[str, Any]:
        """What site.js needs to place a thumbnail."""
        return {"per": self.per_sheet, "columns": self.columns, "rows": self.rows,
                "ratio": f"{self.width}/{self.height}"}  # fmt: skip


def write_sprites(folder: Path, analysis: Analysis, per_sheet: int, first: np.ndarray) -> Sprites:
    """Write the thumbnails of the images and the probes as sprite sheets in ``folder``, the rows ``first``
    first (see :class:`Sprites`); return their layout."""
    thumbnails = analysis.thumbnails
    probes = None if analysis.probes is None else analysis.probes.thumbnails
    height, width = thumbnails.shape[1:3]
    total = n_rows(analysis)
    sprites = Sprites.of(per_sheet, height, width, first, total)
    order = sprites.order
    channels = thumbnails.shape[3] if thumbnails.ndim == 4 else 1
    for sheet in range(math.ceil(total / per_sheet)):
        rows = order[sheet * per_sheet : (sheet + 1) * per_sheet].tolist()
        grid = np.zeros((sprites.rows * height, sprites.columns * width, channels), dtype=np.uint8)
        for k, row in enumerate(rows):
            thumbnail = thumbnails[row] if row < len(thumbnails) or probes is None else probes[row - len(thumbnails)]
            row, column = divmod(k, sprites.columns)
            grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = thumbnail.reshape(
                height, width, -1
            )[..., :channels]
        (folder / sprites.sheet_name(sheet)).write_bytes(png_bytes(grid))
        release(thumbnails, probes)  # a big run's thumbnails are mapped from its file
    return sprites


# ------------------------------------------------------------------------------------------------ map sample


@dataclass(frozen=True)
class MapSample:
    """The images (rows of the paths table) the maps and the model page's lists draw, and what they keep."""

    rows: np.ndarray
    total: int
    mistakes: int
    mistakes_kept: int
    probes: int
    probes_kept: int

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.total

    def words(self) -> str:
        """The sentence that states the sample on the page."""
        if not self.sampled:
            return f"All {self.total:,} images are drawn."
        kept = []
        if self.mistakes:
            every = "every one of the" if self.mistakes_kept == self.mistakes else f"{self.mistakes_kept:,} of the"
            kept.append(f"{every} {self.mistakes:,} misclassified images")
        if self.probes:
            every = "every one of the" if self.probes_kept == self.probes else f"{self.probes_kept:,} of the"
            kept.append(f"{every} {self.probes:,} probes")
        text = f"A seeded sample of {len(self.rows):,} of the {self.total:,} images is drawn"
        return text + (f", keeping {' and '.join(kept)}." if kept else ".")


def map_sample(analysis: Analysis, size: int, seed: int = SAMPLE_SEED) -> MapSample:
    """The rows a map draws: all of them up to ``size``; past it a seeded sample of ``size`` rows keeping every
    mistake (up to half of ``size``) and every probe (up to a quarter), the rest drawn from the other images."""
    total = n_rows(analysis)
    wrong = np.zeros(0, dtype=np.int64)
    if analysis.labels is not None:
        wrong = np.flatnonzero(analysis.predictions != analysis.labels).astype(np.int64)
    probes = np.arange(analysis.n_images, total, dtype=np.int64)
    if total <= size:
        return MapSample(np.arange(total, dtype=np.int64), total, len(wrong), len(wrong), len(probes), len(probes))
    rng = np.random.default_rng(seed)

    def some(rows: np.ndarray, most: int) -> np.ndarray:
        return rows if len(rows) <= most else np.sort(rng.choice(rows, most, replace=False))

    kept_probes = some(probes, size // 4)
    kept_wrong = some(wrong, size // 2)
    others = np.ones(analysis.n_images, dtype=bool)
    others[wrong] = False
    rest = some(np.flatnonzero(others).astype(np.int64), size - len(kept_probes) - len(kept_wrong))
    rows = np.sort(np.concatenate([kept_wrong, rest, kept_probes]))
    return MapSample(rows, total, len(wrong), len(kept_wrong), len(probes), len(kept_probes))


def sample_image_data(
    analysis: Analysis, diagram_rows: np.ndarray, sample: MapSample, pages: frozenset[int], sprites: Sprites
) -> dict[str, Any]:
    """What the model page's script needs of the sampled images (as :func:`~layerlens.site._content.image_data`
    of every image, with ``ids`` naming the image of each entry)."""
    rows = sample.rows[np.argsort(sprites.cells[sample.rows], kind="stable")]  # as the sheets list them
    paths = analysis.paths
    true = None
    if analysis.labels is not None:
        true = paths["true"].cat.codes.to_numpy(np.int64)[rows].tolist()
    return {
        "classes": list(analysis.class_names),
        "layers": list(analysis.layer_names),
        "clusterNames": [list(layer.clusters.names) for layer in analysis.layers],
        "nImages": analysis.n_images,
        "nRows": sample.total,
        "ids": rows.tolist(),
        "true": true,
        "predicted": paths["predicted"].cat.codes.to_numpy(np.int64)[rows].tolist(),
        "confidence": np.round(paths["confidence"].to_numpy(np.float64)[rows], 4).tolist(),
        "clusters": [_clusters(analysis, layer)[rows].tolist() for layer in range(len(analysis.layers))],
        "row": diagram_rows[rows].astype(np.int64).tolist(),
        "pages": sorted(pages),
        "sprites": sprites.script(),
        "cells": sprites.cells[rows].tolist(),
    }


def codes_of(codes: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Each image's group (``codes``), or only those of ``rows`` in their order (-1 for a probe's row)."""
    if rows is None:
        return codes
    return np.where(rows < len(codes), codes[np.minimum(rows, len(codes) - 1)], -1)


def _clusters(analysis: Analysis, layer: int) -> np.ndarray:
    own = analysis.layers[layer].clusters.assignments
    if analysis.probes is None:
        return np.asarray(own, dtype=np.int64)
    return np.concatenate([own, analysis.probes.clusters[layer]]).astype(np.int64)


# ------------------------------------------------------------------------------------------------ data scripts


def _column(analysis: Analysis, images: np.ndarray, probes: np.ndarray | None) -> np.ndarray:
    return images if analysis.probes is None or probes is None else np.concatenate([images, probes])


def _files(analysis: Analysis) -> list[str | None]:
    own = list(analysis.files) if analysis.files is not None else [None] * analysis.n_images
    if analysis.probes is not None:
        own += list(analysis.probes.files) if analysis.probes.files is not None else [None] * analysis.probes.n_images
    return own


def row_columns(analysis: Analysis) -> dict[str, Any]:
    """Every row's values, whole columns (numpy where it can), for slicing into chunks."""
    paths = analysis.paths
    probes = analysis.probes
    columns: dict[str, Any] = {
        "predicted": paths["predicted"].cat.codes.to_numpy(np.int64),
        "confidence": np.round(paths["confidence"].to_numpy(np.float64), 4),
        "probabilities": np.round(
            _column(analysis, analysis.probabilities, None if probes is None else probes.probabilities), 4
        ),
        "clusters": [_clusters(analysis, layer) for layer in range(len(analysis.layers))],
        "path": paths["path"].astype(str).to_numpy(object),
        "file": np.array(_files(analysis), dtype=object),
        "agreeing": paths["layers_agreeing"].to_numpy(np.int64),
    }
    if analysis.labels is not None:
        columns["true"] = paths["true"].cat.codes.to_numpy(np.int64)
    if analysis.doubt is not None:
        for part in ("doubt", "mistake", "unfamiliarity", "disagreement"):
            own = np.asarray(getattr(analysis.doubt, part), dtype=np.float64)
            placed = None if probes is None else np.asarray(getattr(probes.doubt, part), dtype=np.float64)
            columns[part] = np.round(_column(analysis, own, placed), 4)
    if analysis.metadata is not None:
        missing = [""] * (n_rows(analysis) - analysis.n_images)
        columns["meta"] = [
            np.array(["" if pd.isna(v) else str(v) for v in analysis.metadata[c].tolist()] + missing, dtype=object)
            for c in analysis.metadata.columns
        ]
    return columns


def _chunk(columns: dict[str, Any], rows: np.ndarray | slice) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in columns.items():
        if isinstance(value, list):
            out[key] = [part[rows].tolist() for part in value]
        else:
            out[key] = value[rows].tolist()
    return out


def write_rows(folder: Path, analysis: Analysis, columns: dict[str, Any], gallery: np.ndarray, per_chunk: int) -> int:
    """Write every row's data (images, then probes) as ``folder/NNNNN.js``, ``per_chunk`` rows each; return the
    number of chunks. Each row also says its place in the gallery (-1: not there)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = n_rows(analysis)
    columns = dict(columns)
    place = np.full(total, -1, dtype=np.int64)
    place[gallery] = np.arange(len(gallery))
    columns["gallery"] = place
    chunks = math.ceil(total / per_chunk)
    for k in range(chunks):
        data = _chunk(columns, slice(k * per_chunk, (k + 1) * per_chunk))
        (folder / f"{k:05d}.js").write_text(f'layerlens.receive("rows-{k}", {script_json(data)});\n', encoding="utf-8")
    return chunks


def gallery_rows(
    folder: Path,
    analysis: Analysis,
    columns: dict[str, Any],
    gallery: np.ndarray,
    meta_codes: list[list[int]],
    per_chunk: int,
) -> int:
    """Write the gallery's images, in its order, as ``folder/NNNNN.js`` of ``per_chunk`` rows; return the chunks.

    ``columns`` are :func:`row_columns`; ``meta_codes`` holds, per metadata filter, every image's value code.
    """
    folder.mkdir(parents=True, exist_ok=True)
    columns = {key: value for key, value in columns.items() if key != "probabilities"}
    columns["index"] = np.arange(n_rows(analysis), dtype=np.int64)
    if meta_codes:
        columns["codes"] = [np.asarray(codes, dtype=np.int64) for codes in meta_codes]
    chunks = math.ceil(len(gallery) / per_chunk)
    for k in range(chunks):
        data = _chunk(columns, gallery[k * per_chunk : (k + 1) * per_chunk])
        (folder / f"{k:05d}.js").write_text(
            f'layerlens.receive("gallery-{k}", {script_json(data)});\n', encoding="utf-8"
        )
    return chunks


def write_big_data(
    env: Any,
    analysis: Analysis,
    folder: Path,
    common: dict[str, Any],
    shared: dict[str, Any],
    gallery: np.ndarray,
    pages: frozenset[int],
    code_columns: list[list[int]],
    options: BigRun,
    sprites: Sprites,
) -> dict[str, Any]:
    """Write a big run's chunked data (every row, and the gallery's) and its one data-driven sample page,
    ``sample.html``; return what the paged gallery needs to load its chunks."""
    columns = {**row_columns(analysis), "cell": sprites.cells}
    per_chunk = options.rows_per_chunk
    row_chunks = write_rows(folder / "data" / "rows", analysis, columns, gallery, per_chunk)
    n_gallery = gallery_rows(folder / "data" / "gallery", analysis, columns, gallery, code_columns, per_chunk)
    setup = {
        "slug": common["run"]["slug"],
        "classes": shared["class_names"],
        "layers": [name for name, _ in shared["layers"]],
        "clusterNames": [names for _, names in shared["layers"]],
        "leading": [[int(c) for c in layer.clusters.leading] for layer in analysis.layers],
        "labelled": shared["labelled"],
        "doubt": shared["has_doubt"],
        "columns": shared["meta_columns"],
        "nImages": analysis.n_images,
        "nRows": n_rows(analysis),
        "perChunk": per_chunk,
        "rowChunks": row_chunks,
        "galleryChunks": n_gallery,
        "galleryLength": len(gallery),
        "pageSize": options.gallery_page_size,
        "sprites": sprites.script(),
        "pages": sorted(pages),
        "galleryLabel": common["run"]["gallery_label"],
    }
    page = env.get_template("sample_data.html").render(root="../../", page_kind="sample-data", **common, setup=setup)
    (folder / "sample.html").write_text(page, encoding="utf-8")
    return setup
