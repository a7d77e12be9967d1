"""What the pages show of one analysis, as plain values for the templates.

Formatting lives in the templates; this module decides which images get a page, in what order,
and gathers each page's numbers, names and pictures.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd

from layerlens import scores
from layerlens.explanations import REGISTRY, method_title
from layerlens.figures import display_size
from layerlens.scores import DOUBTFUL_SHOWN, NEIGHBOURS, UNSURE_SHOWN

if TYPE_CHECKING:
    from layerlens.run import Analysis
    from layerlens.site._big import Sprites

__all__ = [
    "NEIGHBOURS",
    "UNSURE_SHOWN",
    "ExplainHint",
    "FindingPlaces",
    "FindingView",
    "LargePicture",
    "ReferenceThumb",
    "Thumb",
    "doubtful_correct",
    "explain_hint",
    "finding_views",
    "gallery_order",
    "image_data",
    "large_picture",
    "metadata_values",
    "pixels_sentence",
    "probe_order",
    "reference_thumbs",
    "run_names",
    "run_slug",
    "sample_order",
    "sentence",
    "thumb",
]


def run_slug(position: int, name: str) -> str:
    """The folder of a run inside the site: its position, then its name reduced to ``[a-z0-9-]``.

    Names come from users; only the position makes the folder unique, and no character of a name can
    lead the folder elsewhere.
    """
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return f"{position + 1:02d}-{words}" if words else f"{position + 1:02d}-run"


def image_name(index: int) -> str:
    """The file of an image's thumbnail and the page of its sample: its position in the run."""
    return f"{index:05d}"


@dataclass(frozen=True)
class Thumb:
    """One image as a thumbnail in a list: what it is, what the model said, where its page is."""

    index: int
    true: str | None
    predicted: str
    confidence: float
    correct: bool | None
    file: str | None
    has_page: bool
    doubt: float | None = None
    probe: bool = False
    sprites: Sprites | None = None  # a big run's: the thumbnail is a cell of a sprite sheet

    def sprite_style(self, base: str) -> str | None:
        """The inline CSS that shows the thumbnail from its sprite sheet in ``base``; None without sprites."""
        return None if self.sprites is None else self.sprites.style(self.index, base)

    @property
    def label(self) -> str:
        """``"true → predicted"``, or the prediction alone without labels (``"probe → predicted"`` for a probe)."""
        if self.probe:
            return f"probe → {self.predicted}"
        return self.predicted if self.true is None else f"{self.true} → {self.predicted}"

    @property
    def caption(self) -> str:
        """The label and the confidence, as under a thumbnail (and a probe's doubt)."""
        text = f"{self.label} {100 * self.confidence:.0f}%"
        if self.probe and self.doubt is not None:
            text += f" · doubt {100 * self.doubt:.0f}%"
        return text


def thumb(analysis: Analysis, index: int, pages: frozenset[int], sprites: Sprites | None = None) -> Thumb:
    """The thumbnail entry of image ``index`` (a probe from ``analysis.n_images`` on, as in the paths table);
    ``sprites`` says where a big run's thumbnails are."""
    row = analysis.paths.iloc[index]
    probe = index >= analysis.n_images
    labelled = analysis.labels is not None and not probe
    files, position = analysis.files, index
    if probe:
        files, position = (None if analysis.probes is None else analysis.probes.files), index - analysis.n_images
    return Thumb(
        index=index,
        true=str(row["true"]) if labelled else None,
        predicted=str(row["predicted"]),
        confidence=float(row["confidence"]),
        correct=bool(row["correct"]) if labelled else None,
        file=files[position] if files is not None else None,
        has_page=index in pages,
        doubt=float(row["doubt"]) if "doubt" in analysis.paths.columns else None,
        probe=probe,
        sprites=sprites,
    )


def gallery_order(analysis: Analysis) -> np.ndarray:
    """The images the gallery lists (see :func:`layerlens.scores.gallery_order`)."""
    return scores.gallery_order(analysis.probabilities, analysis.labels)


def doubtful_correct(analysis: Analysis, n: int = DOUBTFUL_SHOWN) -> np.ndarray:
    """The correct predictions most in doubt (see :func:`layerlens.scores.doubtful_correct`)."""
    doubt = None if analysis.doubt is None else analysis.doubt.doubt
    return scores.doubtful_correct(analysis.probabilities, analysis.labels, doubt, n)


def probe_order(analysis: Analysis) -> np.ndarray:
    """The probes' rows in the paths table, most confident prediction first (trusted most, and least deserving it)."""
    if analysis.probes is None:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-analysis.probes.confidence.astype(np.float64), kind="stable")
    return (analysis.n_images + order).astype(np.int64)


def sample_order(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """The images that get a sample page: the gallery's, then the other explained and the doubtful correct ones."""
    doubt = None if analysis.doubt is None else analysis.doubt.doubt
    return scores.page_images(analysis.probabilities, analysis.labels, doubt, list(analysis.explained_images))


def image_data(analysis: Analysis, rows: np.ndarray, pages: frozenset[int]) -> dict:
    """What the model page's script needs of every image and probe: labels, clusters, diagram rows, pages.

    Probes follow the images (``nImages`` on), with -1 as their true class.
    """
    paths = analysis.paths
    codes = paths["predicted"].cat.codes.to_numpy(np.int64)
    true = None
    if analysis.labels is not None:
        true = paths["true"].cat.codes.to_numpy(np.int64).tolist()  # -1 for the probes
    clusters = [layer.clusters.assignments for layer in analysis.layers]
    if analysis.probes is not None:
        clusters = [np.concatenate([own, placed]) for own, placed in zip(clusters, analysis.probes.clusters)]
    return {
        "classes": list(analysis.class_names),
        "layers": list(analysis.layer_names),
        "clusterNames": [list(layer.clusters.names) for layer in analysis.layers],
        "nImages": analysis.n_images,
        "true": true,
        "predicted": codes.tolist(),
        "confidence": [round(float(c), 4) for c in paths["confidence"]],
        "clusters": [[int(c) for c in layer] for layer in clusters],
        "row": [int(r) for r in rows],
        "pages": sorted(pages),
    }


@dataclass(frozen=True)
class ExplanationView:
    """One explanation of a sample as the page shows it: a picture, and for LIME a weights chart."""

    title: str
    caption: str
    picture: str
    outline: str | None
    weights_json: str | None
    where: str | None = None  # of a volume: the slice pictured


def method_caption(method: str) -> str:
    """What the heat map of ``method`` shows, for the caption under it: its title and its registered caption."""
    entry = REGISTRY.get(method)
    return f"{method_title(method)}: {'red for the class, blue against it' if entry is None else entry.caption}"


def run_names(analyses: Sequence[Analysis]) -> list[str]:
    """What the pages call each run: its name, and where runs share a name, what tells them apart.

    Two folders both named "Testing" must not look alike on the index: runs of the same name get the
    model's name when their models differ, then the date when their dates differ, and where that is not
    enough, their place on the index ("run 2"), in parentheses. A run without a name is "run N".
    """
    names = [a.name.strip() or f"run {i + 1}" for i, a in enumerate(analyses)]
    details: list[list[str]] = [[] for _ in analyses]
    tellers = (lambda a: a.model.name or "unnamed model", lambda a: a.created or "date not recorded")
    for teller in tellers:
        for group in _same_names(names, details):
            values = [teller(analyses[i]) for i in group]
            if len(set(values)) > 1:
                for i, value in zip(group, values):
                    details[i].append(value)
    for group in _same_names(names, details):
        for i in group:
            details[i].append(f"run {i + 1}")
    return [_run_label(name, detail) for name, detail in zip(names, details)]


def _run_label(name: str, details: list[str]) -> str:
    return f"{name} ({', '.join(details)})" if details else name


def _same_names(names: list[str], details: list[list[str]]) -> list[list[int]]:
    """The runs whose labels are still alike, in groups of two or more, in index order."""
    groups: dict[str, list[int]] = {}
    for i, (name, detail) in enumerate(zip(names, details)):
        groups.setdefault(_run_label(name, detail), []).append(i)
    return [group for group in groups.values() if len(group) > 1]


def sentence(text: str) -> str:
    """``text`` as a sentence: its first letter capitalised, a full stop at the end."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def pixels_sentence(analysis: Analysis) -> str:
    """How the pixels reached the model (the scale they were multiplied by, and why), as the run recorded it."""
    settings = analysis.settings
    return settings.pixel_scale_reason or f"×{settings.pixel_scale:g} (the run does not say why)"


@dataclass(frozen=True)
class ExplainHint:
    """How to explain images of a run later: a shell command (when the run can be named by folder and model
    file and can read its images again) and a Python call, as a page shows them."""

    shell: str | None
    python: str
    needs_data: bool
    in_memory: bool


def explain_hint(analysis: Analysis, folder: Path | None, images: Sequence[int] | str) -> ExplainHint:
    """The commands that explain ``images`` (positions, or ``"mistakes"``) of a run given as ``folder`` (None:
    an analysis in memory) with :func:`layerlens.explain_run` or ``layerlens explain``."""
    mistakes = isinstance(images, str)
    numbers = [str(int(i)) for i in ([] if mistakes else images)]
    shell = None
    if folder is not None and analysis.model.file and analysis.source is not None:
        which = "mistakes" if mistakes else ",".join(numbers)
        shell = shlex.join(["layerlens", "explain", str(folder), analysis.model.file, "--images", which])
    chosen = '"mistakes"' if mistakes else "[" + ", ".join(numbers) + "]"
    data = ", data=images" if analysis.source is None else ""
    run = "a" if folder is None else json.dumps(str(folder), ensure_ascii=False)  # a Python string literal too
    python = f"ll.explain_run({run}, model, {chosen}{data})"
    return ExplainHint(
        shell=shell,
        python=f"a = {python}" if folder is None else python,
        needs_data=analysis.source is None,
        in_memory=folder is None,
    )


#: A picture smaller than this on its longer side is shown enlarged (by a whole factor, its pixels sharp).
SMALL_PICTURE = 128
#: ... to at least this many pixels on its longer side.
ENLARGED = 256


@dataclass(frozen=True)
class LargePicture:
    """The image of a sample page as it is shown: its file (relative to the page), its size on the page, and
    whether it is enlarged (its pixels then drawn sharp)."""

    src: str
    width: int
    height: int
    pixelated: bool
    kind: str  # "picture" (its own size), "explained" (as the model took it) or "thumbnail"


def large_picture(analysis: Analysis, index: int) -> LargePicture:
    """The biggest picture the site has of image ``index``: its picture at its own size (see
    :attr:`Analysis.pictures`), else the explained image, else the thumbnail."""
    name = image_name(index)
    if index in analysis.pictures:
        height, width = analysis.pictures[index].shape[:2]
        src, kind = f"../pictures/{name}.png", "picture"
    elif index in analysis.explained_images:
        height, width = analysis.explained_images[index].shape[:2]
        src, kind = f"../explanations/{name}.png", "explained"  # drawn enlarged already (display_size)
    else:
        height, width = analysis.thumbnails.shape[1:3]
        src, kind = f"../images/{name}.png", "thumbnail"
    factor = enlargement(height, width)
    return LargePicture(src, int(width) * factor, int(height) * factor, factor > 1, kind)


def enlargement(height: int, width: int) -> int:
    """The whole factor a picture of this size is shown enlarged by on a sample page (1 from 128 pixels)."""
    longest = max(int(height), int(width), 1)
    return 1 if longest >= SMALL_PICTURE else math.ceil(ENLARGED / longest)


def explanation_pixelated(analysis: Analysis, index: int) -> bool:
    """Whether the explanation pictures of image ``index`` were enlarged (see :func:`display_size`)."""
    base = analysis.pictures.get(index, analysis.explained_images.get(index))
    return base is not None and display_size(*base.shape[:2]) > 1


@dataclass(frozen=True)
class ReferenceThumb:
    """A reference image (one the layers were fitted on) near a sample, as its page lists it."""

    position: int
    true: str
    file: str | None

    @property
    def picture(self) -> str:
        """Its thumbnail's file in the run's ``reference/`` folder."""
        return f"{image_name(self.position)}.png"


def reference_thumbs(analysis: Analysis, nearest: Sequence[int]) -> list[ReferenceThumb]:
    """The reference images among ``nearest`` (positions, nearest first) whose thumbnails the run kept."""
    reference = analysis.reference
    if reference is None:
        return []
    return [
        ReferenceThumb(
            position=int(j),
            true=analysis.class_names[int(reference.labels[int(j)])],
            file=None if reference.files is None else reference.files[int(j)],
        )
        for j in nearest
        if int(j) in reference.thumbnails
    ]


#: How the pages show a metadata value that is missing.
MISSING = "–"


def metadata_values(analysis: Analysis, index: int, missing: str = MISSING) -> list[tuple[str, str]]:
    """Every metadata column of image ``index`` and its value (``missing`` where it has none)."""
    if analysis.metadata is None:
        return []
    row = analysis.metadata.iloc[index]
    return [(str(column), missing if pd.isna(value) else str(value)) for column, value in row.items()]


# ------------------------------------------------------------------------------------------------ findings


@dataclass(frozen=True)
class FindingPlaces:
    """What a run's pages hold that a finding can point at.

    Attributes
    ----------
    gallery : frozenset of int
        The images the gallery lists (the mistakes, or the least sure predictions of a run without labels).
    meta_filters : dict
        The gallery's metadata filters: each column's values, as text.
    group_tables : list of str
        The metadata columns with an accuracy table on the model page, in its order (``#group-<n>``).
    map_colours : list of str
        The metadata columns the layer maps can be coloured by.
    probes : bool
        Whether the model page lists probes (``#probes``).
    calibration : bool
        Whether the model page draws a reliability diagram (``#calibration``).
    """

    gallery: frozenset[int]
    meta_filters: dict[str, list[str]]
    group_tables: list[str]
    map_colours: list[str]
    probes: bool
    calibration: bool


@dataclass(frozen=True)
class FindingView:
    """One finding as the model page lists it: its sentence, and a link to what shows it (None: nothing does).

    ``here`` marks a link to the model page itself, which site.js follows without loading the page again.
    """

    kind: str
    text: str
    href: str | None
    label: str | None
    here: bool = False


def finding_views(analysis: Analysis, places: FindingPlaces) -> list[FindingView]:
    """The findings of ``analysis`` in their order (most telling first), each with the link that shows it.

    A finding's ``where`` decides its link, its most precise key first: a path (the gallery's filter), a
    layer's cluster (its images on the model page; for a mistake path, the gallery's mistakes in it), a class
    pair (the gallery's filters), a metadata group the gallery can filter by, listed images (the gallery when
    it lists them all, else the model page's image grid), a layer (its map, coloured by ``column`` when the
    maps can be), a metadata column (its accuracy table), several layers (the first one's map), probes and
    calibration (their sections). Clusters are counted from 0, as in the clustering's assignments (``c1``
    is 0).
    """
    views = []
    for finding in analysis.findings:
        link = _finding_link(analysis, finding.kind, dict(finding.where), places)
        href, label, here = link if link is not None else (None, None, False)
        views.append(FindingView(finding.kind, finding.text, href, label, here))
    return views


#: Images a finding's link lists at most (its most telling ones): a million-image run's finding may name tens
#: of thousands, which would make one link of hundreds of kilobytes.
LINK_IMAGES_MAX = 500


def _url(page: str, params: dict[str, Any], anchor: str = "") -> str:
    query = urlencode({key: str(value) for key, value in params.items()}, quote_via=quote, safe=",")
    return page + (f"?{query}" if query else "") + (f"#{anchor}" if anchor else "")


def _finding_link(
    analysis: Analysis, kind: str, where: dict[str, Any], places: FindingPlaces
) -> tuple[str, str, bool] | None:
    """The link of a finding, its most precise place first (see :func:`finding_views`): href, text, and whether
    it leads to the model page itself; None when the site has no place that shows it."""
    layers = list(analysis.layer_names)
    labelled = analysis.labels is not None
    shown = "mistakes" if labelled else "unsure predictions"
    layer = where.get("layer")
    layer = layers.index(layer) if layer in layers else None
    column = None if where.get("column") is None else str(where["column"])
    group = None if where.get("group") is None else str(where["group"])

    if where.get("path") is not None:
        path = str(where["path"])
        return _url("gallery.html", {"path": path}), f"Show the {shown} of path {path}", False
    cluster = where.get("cluster")
    if layer is not None and cluster is not None and 0 <= int(cluster) < len(analysis.layers[layer].clusters.names):
        cluster, name = int(cluster), f"c{int(cluster) + 1} of {layers[layer]}"
        if kind == "mistake_path" and labelled:
            return _url("gallery.html", {"layer": layer, "cluster": cluster}), f"Show the mistakes in {name}", False
        return _url("index.html", {"layer": layer, "cluster": cluster}, "paths"), f"Show the images in {name}", True
    pair = _class_pair(analysis, where)
    if pair:
        what = " → ".join(str(where[key]) for key in ("true", "predicted") if key in pair)
        return _url("gallery.html", pair), f"Show the {what} {shown}", False
    if column is not None and group is not None and group in places.meta_filters.get(column, []):
        label = f"Show the {shown} of {column} {group}"
        return _url("gallery.html", {"meta": column, "value": group}), label, False
    found = [int(i) for i in where.get("images") or () if 0 <= int(i) < analysis.n_images]
    images = found[:LINK_IMAGES_MAX]  # a finding lists its images most telling first
    if images:
        label = f"Show the {len(images)} images" if len(images) > 1 else "Show the image"
        if column is not None and group is not None:
            label = f"Show the {shown} of {column} {group}"
        if len(found) > len(images):
            label = f"Show the {len(images)} most telling of its {len(found):,} images"
        numbers = {"images": ",".join(map(str, images))}
        if set(images) <= places.gallery:
            return _url("gallery.html", numbers), label, False
        return _url("index.html", numbers, "paths"), label, True
    if layer is not None:
        params: dict[str, Any] = {"layer": layer}
        label = f"Show the map of {layers[layer]}"
        if column in places.map_colours:
            params["colour"] = column
            label += f" coloured by {column}"
        return _url("index.html", params, "maps"), label, True
    if column is not None and column in places.group_tables:
        return f"index.html#group-{places.group_tables.index(column)}", f"Show the accuracy by {column}", False
    named = [layers.index(name) for name in where.get("layers") or () if name in layers]
    if named:
        return _url("index.html", {"layer": named[0]}, "maps"), f"Show the map of {layers[named[0]]}", True
    if (where.get("probes") is not None or kind == "probes") and places.probes:
        return "index.html#probes", "Show the probes", False
    if kind == "calibration" and places.calibration:
        return "index.html#calibration", "Show the reliability diagram", False
    return None


def _class_pair(analysis: Analysis, where: dict[str, Any]) -> dict[str, int]:
    """The gallery's class filters a finding names: its true class (labelled runs) and its predicted one."""
    classes = list(analysis.class_names)
    pair = {}
    if analysis.labels is not None and where.get("true") in classes:
        pair["true"] = classes.index(where["true"])
    if where.get("predicted") in classes:
        pair["predicted"] = classes.index(where["predicted"])
    return pair
