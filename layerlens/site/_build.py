"""Write the site: every page of every run, into a staging folder that replaces the output when done."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens._util.atomic import staged_folder
from layerlens._util.png import png_bytes
from layerlens._util.progress import Progress
from layerlens._version import __version__
from layerlens.figures import display_size, esc
from layerlens.figures.explanations import outlined_segments, segment_weights_spec, top_segments
from layerlens.figures.metrics import probabilities_spec
from layerlens.options import VOLUME_AXES
from layerlens.run import explanation_pictures
from layerlens.site import _big as big
from layerlens.site import _content as content
from layerlens.site import _figures as figures
from layerlens.site import _volumes as volumes
from layerlens.site._target import MARKER
from layerlens.site._templates import environment, plotly_js, script_json, static_files

if TYPE_CHECKING:
    from layerlens.run import Analysis

__all__ = ["write_site"]

ASSETS = "assets"
RUNS = "runs"
#: The script of the slice viewer of a volume's sample page (see :mod:`layerlens.site._volumes`).
VOLUME_JS = "volume.js"
#: The script of a big run's paged gallery and of its one data-driven sample page (see :mod:`layerlens.site._big`).
BIG_JS = "big.js"


def write_site(
    analyses: Sequence[Analysis],
    target: Path,
    folders: Sequence[Path | None] | None = None,
    *,
    progress: bool = False,
    options: big.BigRun | None = None,
) -> Path:
    """Write the site of ``analyses`` to ``target``, already checked by :func:`check_site_target`; return its index.

    ``folders`` holds the run folder each analysis was read from (absolute; None for an analysis given in
    memory), for the commands the pages suggest; ``progress`` shows a bar over the image pages written;
    ``options`` says when a run is big and how its pages are cut (see :class:`~layerlens.site._big.BigRun`).
    """
    options = options or big.BigRun()
    env = environment()
    slugs = [content.run_slug(i, a.name) for i, a in enumerate(analyses)]
    names = content.run_names(analyses)
    folders = list(folders) if folders is not None else [None] * len(analyses)
    with staged_folder(target) as staging:
        (staging / MARKER).write_text(f"layerlens site, written by layerlens {__version__}\n", encoding="utf-8")
        assets = staging / ASSETS
        assets.mkdir()
        any_volumes = any(volumes.is_volume_run(a) for a in analyses)
        any_big = any(options.is_big(a) for a in analyses)
        for path in static_files():
            # the slice viewer's script only where there are volumes, the paged gallery's where a run is big
            if (path.name != VOLUME_JS or any_volumes) and (path.name != BIG_JS or any_big):
                shutil.copyfile(path, assets / path.name)
        shutil.copyfile(plotly_js(), assets / "plotly.min.js")
        cards = []
        bar = Progress(None, "page") if progress else None
        for analysis, slug, name, folder in zip(analyses, slugs, names, folders):
            where = _Run(slug, name, folder)
            cards.append(_write_run(env, analysis, staging / RUNS / slug, where, bar, options))
        if bar is not None:
            bar.close()
        page = env.get_template("index.html").render(root="", runs=cards, version=__version__, page_kind="index")
        (staging / "index.html").write_text(page, encoding="utf-8")
    return target / "index.html"


@dataclass(frozen=True)
class _Run:
    """Where a run's pages go, what they call it, and the folder it was read from (None: given in memory)."""

    slug: str
    name: str
    folder: Path | None


def _write_run(
    env: Any,
    analysis: Analysis,
    folder: Path,
    where: _Run,
    bar: Progress | None = None,
    options: big.BigRun | None = None,
) -> dict[str, Any]:
    """Write one run's pages, pictures and data; return what the index says of it.

    A volume run's pages show each volume's axial face where a run of images shows the image (see
    :func:`~layerlens.site._volumes.flat_analysis`), and the sample pages of the volumes the run kept a slice
    viewer, which loads ``data/volumes/<image>.js``. A big run (see :class:`~layerlens.site._big.BigRun`) gets
    sprite sheets, chunked data, a paged gallery, sampled maps and one data-driven page, ``sample.html#i``.
    """
    options = options or big.BigRun()
    volume_run = analysis
    analysis, slices = volumes.flat_analysis(analysis)
    is_big = options.is_big(analysis)
    for sub in ("images", "samples", "data", "explanations", "pictures", "reference"):
        (folder / sub).mkdir(parents=True)
    gallery, others = content.sample_order(analysis)
    sprites = None
    if is_big:  # the images the pages list first, so that a page of them loads few sheets
        first = np.concatenate([gallery, others, content.probe_order(analysis)])
        sprites = big.write_sprites(folder / "images", analysis, options.thumbnails_per_sprite, first)
    else:
        thumbnails = list(analysis.thumbnails)
        if analysis.probes is not None:  # numbered after the images, as in the paths table
            thumbnails += list(analysis.probes.thumbnails)
        for index, thumbnail in enumerate(thumbnails):
            (folder / "images" / f"{content.image_name(index)}.png").write_bytes(png_bytes(thumbnail))
    # A volume's pictures are slices through each map's maximum, cut across the run's axial axis.
    axes = volume_run.settings.axes or VOLUME_AXES
    pictures = explanation_pictures(volume_run.explanations, volume_run.explained_images, volume_run.pictures, axes)
    for name, png in pictures.items():
        (folder / "explanations" / name).write_bytes(png)

    if is_big:  # a page of its own only for an image the site says more of: explained, or doubtful but correct
        explained = frozenset(analysis.explained_images)
        gallery_pages = np.array([i for i in gallery.tolist() if i in explained], dtype=np.int64)
        pages = frozenset(gallery_pages.tolist()) | frozenset(others.tolist())
    else:
        gallery_pages = gallery
        pages = frozenset(gallery.tolist()) | frozenset(others.tolist())
    for index in sorted(pages & analysis.pictures.keys()):
        (folder / "pictures" / f"{content.image_name(index)}.png").write_bytes(png_bytes(analysis.pictures[index]))
    rows = figures.paths_rows(analysis)
    paths_json, mini_paths_json = figures.paths_jsons(analysis)
    run = _run_summary(analysis, where, len(gallery), mini_paths_json)
    common = {"run": run, "version": __version__}

    sample = big.map_sample(analysis, options.map_sample if is_big else big.n_rows(analysis))
    if sprites is None:
        data = content.image_data(analysis, rows, pages)
    else:
        data = big.sample_image_data(analysis, rows, sample, pages, sprites)
    colourings = _map_colours(analysis, np.asarray(data["ids"], dtype=np.int64) if is_big else None)
    data["colourBy"] = colourings
    (folder / "data" / "images.js").write_text(f'layerlens.receive("images", {script_json(data)});\n', encoding="utf-8")
    for i in range(len(analysis.layers)):
        figure = (
            figures.map_json(analysis, i)
            if not is_big
            else figures.map_json(analysis, i, sample.rows, len(sample.rows) > options.webgl_threshold, sample.total)
        )
        (folder / "data" / f"map-{i}.js").write_text(
            f'layerlens.receive("map-{i}", {script_json(figure)});\n', encoding="utf-8"
        )

    meta_filters, meta_codes, code_columns = _meta_filters(analysis, gallery if not is_big else gallery[:0])
    model = _model_context(analysis, pages, paths_json, where.folder, sprites)
    map_colour_columns = [entry["column"] for entry in colourings]
    places = content.FindingPlaces(
        gallery=frozenset(gallery.tolist()),
        meta_filters={entry["column"]: entry["values"] for entry in meta_filters},
        group_tables=[group["column"] for group in model["groups"]],
        map_colours=map_colour_columns,
        probes=bool(model["probes"]),
        calibration=run["metrics"] is not None and model["reliability_json"] is not None,
    )
    model_page = env.get_template("model.html").render(
        root="../../",
        page_kind="model",
        **common,
        **model,
        map_colour_columns=map_colour_columns,
        findings=content.finding_views(analysis, places),
        sample_note=sample.words() if is_big else None,
        sprites=sprites,
    )
    (folder / "index.html").write_text(model_page, encoding="utf-8")

    layers = [(short, list(layer.clusters.names)) for short, layer in zip(analysis.layer_names, analysis.layers)]
    meta_columns = [] if analysis.metadata is None else [str(column) for column in analysis.metadata.columns]
    shared = {"class_names": list(analysis.class_names), "labelled": analysis.labels is not None,
              "has_doubt": analysis.doubt is not None, "meta_columns": meta_columns, "layers": layers}  # fmt: skip
    if is_big:
        paged = big.write_big_data(
            env, analysis, folder, common, shared, gallery, pages, code_columns, options, sprites
        )
        thumbs, clusters, meta_values, paths = [], {}, {}, {}
    else:
        paged = None
        thumbs = [content.thumb(analysis, int(i), pages) for i in gallery]
        clusters = {int(i): [int(layer.clusters.assignments[i]) for layer in analysis.layers] for i in gallery}
        meta_values = {int(i): [value for _, value in content.metadata_values(analysis, int(i), "")] for i in gallery}
        paths = {int(i): str(analysis.paths["path"].iloc[int(i)]) for i in gallery}
    gallery_page = env.get_template("gallery.html").render(
        root="../../",
        page_kind="gallery",
        **common,
        **shared,
        thumbs=thumbs,
        clusters=clusters,
        paths=paths,
        meta_filters=meta_filters,
        meta_codes=meta_codes,
        meta_values=meta_values,
        paged=paged,
    )
    (folder / "gallery.html").write_text(gallery_page, encoding="utf-8")

    with_pages = np.concatenate([gallery_pages, others]).astype(np.int64)
    near = dict(zip(with_pages.tolist(), analysis.neighbours(with_pages, content.NEIGHBOURS).tolist()))
    near_reference = _write_reference(analysis, folder, with_pages)
    first_label = run["gallery_label"] if not is_big else "explained " + run["gallery_label"]
    for sequence, label, in_gallery in ((gallery_pages, first_label, True), (others, "other image", False)):
        for position, index in enumerate(sequence.tolist()):
            page = env.get_template("sample.html").render(
                volume=_volume_viewer(volume_run, folder, index),
                root="../../../",
                page_kind="sample",
                **common,
                **_sample_context(analysis, folder, index, pages, near[index], slices, sprites),
                **_sample_extras(analysis, index, near_reference.get(index, []), where.folder),
                previous=None if position == 0 else content.image_name(int(sequence[position - 1])),
                next=None if position + 1 == len(sequence) else content.image_name(int(sequence[position + 1])),
                position=position + 1,
                sequence_length=len(sequence),
                sequence_label=label,
                in_gallery=in_gallery,
            )
            (folder / "samples" / f"{content.image_name(index)}.html").write_text(page, encoding="utf-8")
            if bar is not None:
                bar.add(1)
    return run


def _volume_viewer(analysis: Analysis, folder: Path, index: int) -> dict[str, Any] | None:
    """Write the data file of the slice viewer of image ``index`` when the run kept its volume; return what its
    page says of the volume (None for a run of images)."""
    payload = volumes.volume_payload(analysis, index)
    data = f"../data/volumes/{content.image_name(index)}.js"
    if payload is not None:
        (folder / "data" / "volumes").mkdir(exist_ok=True)
        (folder / "data" / "volumes" / f"{content.image_name(index)}.js").write_text(
            volumes.volume_script(payload), encoding="ascii"
        )
    return volumes.viewer(analysis, index, payload, data)


def _write_reference(analysis: Analysis, folder: Path, with_pages: np.ndarray) -> dict[int, list[int]]:
    """Write the kept thumbnails of the reference images nearest to the images with a page; return, per page
    image, its nearest reference images (positions, nearest first)."""
    reference = analysis.reference
    if reference is None or not len(with_pages):
        return {}
    near = analysis.reference_neighbours(with_pages, content.NEIGHBOURS)
    for j in sorted(set(near.reshape(-1).tolist()) & reference.thumbnails.keys()):
        (folder / "reference" / f"{content.image_name(j)}.png").write_bytes(png_bytes(reference.thumbnails[j]))
    return dict(zip(with_pages.tolist(), near.tolist()))


def _sample_extras(
    analysis: Analysis, index: int, nearest_reference: list[int], run_folder: Path | None
) -> dict[str, Any]:
    """What a sample page shows besides its own numbers: what is known of the image, its nearest reference
    images (None for a run without a reference), and how to explain it when it was not."""
    reference = None
    if analysis.reference is not None:
        reference = {
            "name": analysis.reference.name,
            "thumbs": content.reference_thumbs(analysis, nearest_reference),
            "kept_any": bool(analysis.reference.thumbnails),
        }
    unexplained = not analysis.explanations_of(index)
    return {
        "metadata": content.metadata_values(analysis, index),
        "reference": reference,
        "explain_hint": content.explain_hint(analysis, run_folder, [index]) if unexplained else None,
    }


def _run_summary(analysis: Analysis, where: _Run, n_gallery: int, mini_paths_json: str) -> dict[str, Any]:
    """What the index card, the comparison table and every page header say of a run."""
    metrics = analysis.metrics
    stats = analysis.path_statistics
    return {
        "slug": where.slug,
        "name": where.name,
        "problems": [content.sentence(problem) for problem in analysis.problems],
        "pixels": content.pixels_sentence(analysis),
        "preprocess": analysis.settings.preprocess,
        "model_name": analysis.model.name,
        "n_images": analysis.n_images,
        "volumes": _volume_words(analysis),
        "n_probes": 0 if analysis.probes is None else analysis.probes.n_images,
        "class_names": list(analysis.class_names),
        "created": analysis.created,
        "n_layers": len(analysis.layers),
        "n_model_layers": len(analysis.model.layers),
        "n_parameters": analysis.model.n_parameters,
        "metrics": metrics,
        "n_paths": stats.n_distinct,
        "alignment": stats.heldout_alignment if stats.heldout_alignment is not None else stats.decision_alignment,
        "alignment_heldout": stats.heldout_alignment is not None,
        "n_gallery": n_gallery,
        "gallery_label": "mistake" if analysis.labels is not None else "unsure prediction",
        "n_explained": len(analysis.explained_images),
        "mini_paths_json": mini_paths_json,
        "findings": [finding.text for finding in analysis.findings],
    }


def _volume_words(analysis: Analysis) -> str | None:
    """How a volume run's header names its images ("volumes of 64×128×128 voxels, axes D×H×W"); None for images."""
    axes = analysis.settings.axes
    if axes is None:
        return None
    sizes = "×".join(str(d) for d in analysis.model.input_shape[:3])
    return f"volumes of {sizes} voxels ({'×'.join(axes)})"


# A big run's model page lists this many false negatives and probes at most (the gallery filters the false
# negatives, sample.html#N shows any probe).
_MOST_LISTED = 200


def _model_context(
    analysis: Analysis, pages: frozenset[int], paths_json: str, folder: Path | None, sprites: big.Sprites | None = None
) -> dict[str, Any]:
    def thumb(i: int) -> content.Thumb:
        return content.thumb(analysis, int(i), pages, sprites)

    analysed = {layer.name: layer for layer in analysis.layers}
    architecture = [
        {
            "name": row.name,
            "kind": row.kind,
            "shape": _shape(row.output_shape),
            "parameters": row.n_parameters,
            "analysed": row.name in analysed,
            "k": len(analysed[row.name].clusters.names) if row.name in analysed else None,
        }
        for row in analysis.model.layers
    ]
    metrics = analysis.metrics
    false_negatives: list[content.Thumb] = []
    n_false_negatives = 0
    if metrics is not None and metrics.negative_class is not None:
        negative = analysis.class_names.index(metrics.negative_class)
        predicted = analysis.probabilities.argmax(axis=1)
        missed = np.flatnonzero((analysis.labels != negative) & (predicted == negative))
        n_false_negatives = len(missed)
        false_negatives = [thumb(i) for i in (missed if sprites is None else missed[:_MOST_LISTED])]
    per_class = []
    if metrics is not None:
        for name, row in metrics.per_class.iterrows():
            per_class.append({"name": str(name), **{col: row[col] for col in metrics.per_class.columns}})
            per_class[-1]["support"] = int(row["support"])
    return {
        "architecture": architecture,
        "layers": [
            {
                "name": short,
                "full_name": layer.name,
                "kind": layer.kind,
                "k": len(layer.clusters.names),
                "parallel": layer.parallel_to_previous,
                "class_information": layer.clusters.carries_class_information,
            }
            for short, layer in zip(analysis.layer_names, analysis.layers)
        ],
        "per_class": per_class,
        "confusion_json": figures.confusion_json(analysis),
        "reliability_json": figures.reliability_json(analysis),
        "false_negatives": false_negatives,
        "n_false_negatives": n_false_negatives,
        "paths_json": paths_json,
        "separability_json": figures.separability_json(analysis),
        "statistics": analysis.path_statistics,
        "explained": [thumb(i) for i in analysis.explained_images],
        "explain_note": content.sentence(analysis.settings.explain_note),
        **_unexplained_mistakes(analysis, folder),
        "doubtful": [thumb(i) for i in content.doubtful_correct(analysis)],
        "probes": [thumb(i) for i in content.probe_order(analysis)[: None if sprites is None else _MOST_LISTED]],
        "probe_summary": _probe_summary(analysis),
        "groups": _groups(analysis),
        "has_doubt": analysis.doubt is not None,
        "settings": analysis.settings,
    }


def _unexplained_mistakes(analysis: Analysis, folder: Path | None) -> dict[str, Any]:
    """How many misclassified images have no explanation, and how to explain them all."""
    if analysis.labels is None:
        return {"n_unexplained": 0, "mistakes_hint": None}
    wrong = np.flatnonzero(analysis.predictions != analysis.labels)
    left = len(set(wrong.tolist()) - set(analysis.explained_images))
    hint = content.explain_hint(analysis, folder, "mistakes") if left else None
    return {"n_unexplained": left, "mistakes_hint": hint}


# A metadata column gets an accuracy table on the model page when it splits the images into this many groups
# at most (a patient id, one group per image, would not tell a reviewer anything).
_MAX_GROUPS = 30
# A metadata column with more values than this gets no gallery filter (a select of thousands of options helps
# nobody); a patient id shared by a few slices each is still a filter, and any column colours the maps.
_MAX_FILTER_VALUES = 1000


def _groups_images(values: pd.Series, most: int | None = None) -> bool:
    """Whether a metadata column groups the images: at least 2 values, fewer than the images (so some share
    one), and at most ``most``."""
    count = values.nunique(dropna=True)
    return 2 <= count < len(values) and (most is None or count <= most)


def _meta_filters(
    analysis: Analysis, shown: np.ndarray
) -> tuple[list[dict[str, Any]], dict[int, list[int]], list[list[int]]]:
    """The gallery's metadata filters (columns that group the images, of at most :data:`_MAX_FILTER_VALUES`
    values), each shown image's codes (the value's position in its filter, -1 when missing) and, per filter,
    every image's code."""
    if analysis.metadata is None:
        return [], {int(i): [] for i in shown}, []
    filters, codes = [], []
    for column in analysis.metadata.columns:
        values = analysis.metadata[column]
        if not _groups_images(values, _MAX_FILTER_VALUES):
            continue
        kinds = sorted(values.dropna().unique())
        position = {value: i for i, value in enumerate(kinds)}
        filters.append({"column": str(column), "values": [str(v) for v in kinds]})
        codes.append([-1 if pd.isna(v) else position[v] for v in values.tolist()])
    return filters, {int(i): [column[int(i)] for column in codes] for i in shown}, codes


def _map_colours(analysis: Analysis, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    """What the layer maps can be coloured by instead of clusters: each metadata column that groups the
    images, with every image's group (probes have none; see :func:`~layerlens.figures.maps.colour_groups`)
    and the groups' names (as text, and escaped for plotly's legend) and colours; only the groups of
    ``rows`` (a big run's map sample) when given."""
    from layerlens.figures.maps import colour_groups

    if analysis.metadata is None:
        return []
    colourings = []
    for column in analysis.metadata.columns:
        values = analysis.metadata[column]
        if not _groups_images(values):
            continue
        codes, names, colours = colour_groups(values)
        colourings.append(
            {
                "column": str(column),
                "title": esc(str(column)),
                "names": names,
                "labels": [esc(name) for name in names],
                "colours": colours,
                "codes": big.codes_of(codes, rows).tolist(),
            }
        )
    return colourings


def _groups(analysis: Analysis) -> list[dict[str, Any]]:
    """Accuracy per value of each metadata column with 2 to :data:`_MAX_GROUPS` values (labelled runs only)."""
    if analysis.metadata is None or analysis.labels is None:
        return []
    groups = []
    for column in analysis.metadata.columns:
        table = analysis.accuracy_by(column)
        if not 2 <= len(table) <= _MAX_GROUPS:
            continue
        rows = [
            {"value": str(value), "images": int(row["images"]), "accuracy": float(row["accuracy"]),
             "low": float(row["low"]), "high": float(row["high"])}
            for value, row in table.iterrows()
        ]  # fmt: skip
        worst = min(rows, key=lambda r: (r["accuracy"], -r["images"]))
        groups.append({"column": str(column), "rows": rows, "worst": worst["value"]})
    return groups


def _probe_summary(analysis: Analysis) -> dict[str, Any] | None:
    """What the probes section says of them in numbers: how sure the model was, how far doubt caught them."""
    probes = analysis.probes
    if probes is None:
        return None
    counts = np.bincount(probes.predictions, minlength=len(analysis.class_names))
    top = int(counts.argmax())
    return {
        "n": probes.n_images,
        "confident": int((probes.confidence >= 0.9).sum()),
        "doubted": int((probes.doubt.doubt >= 0.5).sum()),
        "median_confidence": float(np.median(probes.confidence)),
        "top_class": analysis.class_names[top],
        "top_count": int(counts[top]),
    }


def _shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "–"
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def _sample_context(
    analysis: Analysis,
    folder: Path,
    index: int,
    pages: frozenset[int],
    near: list[int],
    slices: dict[tuple[int, str], volumes.ExplainedSlice] | None = None,
    sprites: big.Sprites | None = None,
) -> dict[str, Any]:
    """What a sample page shows of image ``index``; ``slices`` says, for a volume run, which axial slice each
    explanation is pictured by (see :func:`~layerlens.site._volumes.flat_analysis`)."""
    slices = slices or {}
    name = content.image_name(index)
    labelled = analysis.labels is not None
    true = int(analysis.labels[index]) if labelled else None
    predicted = int(analysis.probabilities[index].argmax())
    path = []
    for short, layer in zip(analysis.layer_names, analysis.layers):
        cluster = int(layer.clusters.assignments[index])
        path.append(
            {
                "layer": short,
                "full_name": layer.name,
                "cluster": cluster + 1,
                "name": layer.clusters.names[cluster],
                "agrees": int(layer.clusters.leading[cluster]) == predicted,
                "parallel": layer.parallel_to_previous,
            }
        )
    views = []
    explanations = analysis.explanations_of(index)
    for explanation in explanations:
        outline, weights = None, None
        where = slices.get((index, explanation.method))
        if explanation.segments is not None and explanation.segment_weights is not None:
            image = analysis.explained_images[index] if where is None else where.image
            picture = outlined_segments(
                image,
                explanation.segments,
                explanation.segment_weights,
                top_segments(explanation),
                display_size(*image.shape[:2]),
            )
            outline = f"{name}_{explanation.method}_segments.png"
            (folder / "explanations" / outline).write_bytes(png_bytes(picture))
            weights = figures.figure_json(segment_weights_spec(explanation, class_names=analysis.class_names))
        views.append(
            content.ExplanationView(
                title=content.method_title(explanation.method),
                caption=content.method_caption(explanation.method),
                picture=f"{name}_{explanation.method}.png",
                outline=outline,
                weights_json=weights,
                where=None if where is None else where.words,
            )
        )
    return {
        "sample": content.thumb(analysis, index, pages, sprites),
        "name": name,
        "large": content.large_picture(analysis, index),
        "explanations_pixelated": content.explanation_pixelated(analysis, index),
        "probabilities_json": figures.figure_json(
            probabilities_spec(
                analysis.probabilities[index], analysis.class_names, true=true, title="Class probabilities"
            )
        ),
        "path": path,
        "layers_agreeing": int(analysis.paths["layers_agreeing"].iloc[index]),
        "doubt": None
        if analysis.doubt is None
        else {
            part: float(getattr(analysis.doubt, part)[index])
            for part in ("doubt", "mistake", "unfamiliarity", "disagreement")
        },
        "explanations": views,
        "explained_target": analysis.class_names[explanations[0].target] if explanations else None,
        "neighbours": [content.thumb(analysis, j, pages, sprites) for j in near],
    }
