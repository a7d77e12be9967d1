"""Run folders: how an :class:`~layerlens.run._analysis.Analysis` is saved and loaded.

A run folder holds::

    manifest.json   format name and version, settings, model summary, class names,
                    per-layer cluster names and scores, metrics, path statistics,
                    and the SHA-256 of every other file
    arrays.npz      numpy arrays (labels, probabilities, per-layer features,
                    reduced features, clusters, 2-D maps; the volumes of a
                    volume run's pages, uint8, at most 128 voxels per axis)
    thumbnails/     one PNG per image, 00000.png, 00001.png, ...
    (a run of more than 20,000 images, format version 5: arrays/<name>.npy,
    one file per array of arrays.npz, and thumbnails.npy, all memory-mapped
    when loaded; see :mod:`layerlens.run._columns`)
    pictures/       the images with a page on the site, at their own size (up to 512 px;
                    a volume's axial face)
    reference/      thumbnails of the reference images nearest to those
    explanations/   per explained image, the image (00012.png) and its heat
                    map over it by each method (00012_lime.png, ...), enlarged
                    to at least 128 pixels, ready for a web page
    paths.csv       the per-image paths table, for reading in a spreadsheet
    README.md       this description

Saving writes into a temporary sibling folder and renames it into place, so
an interrupted save never leaves a half-written run. Loading checks the
format version and every checksum, and needs neither TensorFlow nor Keras.
The same analysis always gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.atomic import staged_folder
from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.png import png_bytes
from layerlens._version import __version__
from layerlens.exceptions import RunFormatError
from layerlens.explanations import Explanation
from layerlens.findings import Finding
from layerlens.layers import LayerClusters, Separability
from layerlens.options import VOLUME_AXES
from layerlens.paths import PathStatistics
from layerlens.run._analysis import Analysis
from layerlens.run._columns import COLUMNS_ABOVE, read_columns, write_columns
from layerlens.run._explanations_io import (
    explanation_arrays,
    explanation_entries,
    explanation_pictures,
    picture_names,
    read_explanations,
)
from layerlens.run._format import (
    ARRAYS,
    EXPLANATIONS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    METADATA_CSV,
    PATHS_CSV,
    PICTURES,
    README,
    README_TEXT,
    REFERENCE_THUMBNAILS,
    SMALL_RUN_VERSION,
    THUMBNAILS,
    check_run_target,
    read_manifest,
    upgraded,
)
from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet
from layerlens.run._summary import LayerRow, ModelSummary
from layerlens.run._table import paths_table
from layerlens.scores import ClassificationMetrics, Doubt

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save_analysis"]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates keep arrays.npz byte-identical between saves


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An .npz archive (readable by ``np.load``) with fixed member dates, unlike ``np.savez``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _noise_key(level: float) -> str:
    return f"noise{level!r}"


def _layer_arrays(index: int, layer: LayerAnalysis, reference: ReferenceSet | None) -> dict[str, np.ndarray]:
    prefix = f"layer{index}_"
    arrays = {
        prefix + "features": layer.features,
        prefix + "reduced": layer.reduced,
        prefix + "clusters": layer.clusters.assignments,
        prefix + "kmeans_centers": layer.clusters.centers,
        prefix + "coords": layer.coords,
        prefix + "map_centers": layer.map_centers,
    }
    arrays.update({f"{prefix}clusters_{_noise_key(level)}": labels for level, labels in layer.noisy_clusters.items()})
    if reference is not None:
        arrays[prefix + "reference_reduced"] = reference.reduced[index]
        arrays[prefix + "reference_clusters"] = reference.clusters[index]
        arrays[prefix + "reference_coords"] = reference.coords[index]
    return arrays


def _analysis_arrays(analysis: Analysis) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"probabilities": analysis.probabilities}
    if analysis.labels is not None:
        arrays["labels"] = analysis.labels
    arrays.update({f"predictions_{_noise_key(level)}": p for level, p in analysis.noisy_predictions.items()})
    if analysis.reference is not None:
        arrays["reference_labels"] = analysis.reference.labels
        arrays["reference_predictions"] = analysis.reference.predictions
    for i, layer in enumerate(analysis.layers):
        arrays.update(_layer_arrays(i, layer, analysis.reference))
    arrays.update(explanation_arrays(analysis.explanations, analysis.explained_images))
    if analysis.doubt is not None:
        arrays.update(_doubt_arrays("doubt_", analysis.doubt))
    if analysis.image_properties is not None:
        arrays["image_properties"] = analysis.image_properties.to_numpy(dtype=np.float32)
    if analysis.volumes:
        arrays["volumes"] = np.stack([analysis.volumes[i] for i in sorted(analysis.volumes)])
    if analysis.probes is not None:
        probes = analysis.probes
        arrays.update(probe_probabilities=probes.probabilities, probe_thumbnails=probes.thumbnails)
        arrays.update(_doubt_arrays("probe_doubt_", probes.doubt))
        for i in range(len(analysis.layers)):
            arrays[f"layer{i}_probe_reduced"] = probes.reduced[i]
            arrays[f"layer{i}_probe_clusters"] = probes.clusters[i]
            arrays[f"layer{i}_probe_coords"] = probes.coords[i]
    return arrays


# The arrays of a Doubt, stored as doubt_<part>.
_DOUBT_PARTS = ("doubt", "mistake", "disagreement", "unfamiliarity")


def _doubt_arrays(prefix: str, doubt: Doubt) -> dict[str, np.ndarray]:
    return {f"{prefix}{part}": getattr(doubt, part) for part in _DOUBT_PARTS}


def _doubt_from(arrays: Mapping[str, np.ndarray], n: int, prefix: str = "doubt_") -> Doubt | None:
    """The doubt of a run's images or probes (None for runs written before layerlens measured it)."""
    if f"{prefix}doubt" not in arrays:
        return None
    parts = {part: arrays[f"{prefix}{part}"] for part in _DOUBT_PARTS}
    if any(values.shape != (n,) for values in parts.values()):
        raise RunFormatError(f"path: the run's {prefix}* arrays do not hold one value per image ({n}).")
    return Doubt(**parts)


def _probes_from(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ProbeSet | None:
    entry = manifest.get("probes")
    if entry is None:
        return None
    n, layers = entry["n_images"], range(len(manifest["layers"]))
    doubt = _doubt_from(arrays, n, "probe_doubt_")
    probabilities = arrays["probe_probabilities"]
    if doubt is None or probabilities.shape != (n, len(manifest["class_names"])):
        raise RunFormatError(f"path: the run's probe arrays do not match the manifest's {n} probes.")
    return ProbeSet(
        name=entry["name"],
        probabilities=probabilities,
        thumbnails=arrays["probe_thumbnails"],
        files=None if entry["files"] is None else tuple(entry["files"]),
        reduced=tuple(arrays[f"layer{i}_probe_reduced"] for i in layers),
        clusters=tuple(arrays[f"layer{i}_probe_clusters"] for i in layers),
        coords=tuple(arrays[f"layer{i}_probe_coords"] for i in layers),
        doubt=doubt,
    )


def _layer_manifest(layer: LayerAnalysis) -> dict[str, Any]:
    return {
        "name": layer.name,
        "kind": layer.kind,
        "output_shape": list(layer.output_shape),
        "reduction": layer.reduction,
        "feature_dim": int(layer.features.shape[1]),
        "reduced_dim": int(layer.reduced.shape[1]),
        "clusters": layer.clusters.to_dict(),
        "separability": None if layer.separability is None else layer.separability.to_dict(),
        "parallel_to_previous": layer.parallel_to_previous,
        "short_name": layer.short_name,
    }


def _settings_manifest(settings: AnalysisSettings) -> dict[str, Any]:
    """Every field of the settings, tuples as lists (the dataclass is the one list of what a run records)."""
    return {
        f.name: list(value) if isinstance(value, tuple) else value
        for f in fields(settings)
        for value in [getattr(settings, f.name)]
    }


def _manifest(analysis: Analysis, checksums: Mapping[str, str], version: int) -> dict[str, Any]:
    settings, model = analysis.settings, analysis.model
    return {
        "format": FORMAT,
        "format_version": version,
        "layerlens_version": __version__,
        "name": analysis.name,
        "n_images": analysis.n_images,
        "class_names": list(analysis.class_names),
        "has_labels": analysis.labels is not None,
        "files": None if analysis.files is None else list(analysis.files),
        "model": asdict(model),  # its fields, in their order (the dataclass is the one list)
        "created": analysis.created,
        "settings": _settings_manifest(settings),
        "reference": None
        if analysis.reference is None
        else {
            "name": analysis.reference.name,
            "n_images": analysis.reference.n_images,
            "files": None if analysis.reference.files is None else list(analysis.reference.files),
            "thumbnails": sorted(analysis.reference.thumbnails),
        },
        "probes": None
        if analysis.probes is None
        else {
            "name": analysis.probes.name,
            "n_images": analysis.probes.n_images,
            "files": None if analysis.probes.files is None else list(analysis.probes.files),
        },
        "metadata": None if analysis.metadata is None else [str(c) for c in analysis.metadata.columns],
        "source": analysis.source,
        "display_range": [encode_float(v) for v in analysis.display_range],
        "pictures": sorted(analysis.pictures),
        "volumes": sorted(analysis.volumes),
        "noise_levels": sorted(analysis.noisy_predictions),
        "layers": [_layer_manifest(layer) for layer in analysis.layers],
        "metrics": None if analysis.metrics is None else analysis.metrics.to_dict(),
        "path_statistics": analysis.path_statistics.to_dict(),
        "explained_images": list(analysis.explained_images),
        "explanations": explanation_entries(analysis.explanations),
        "image_properties": None
        if analysis.image_properties is None
        else [str(c) for c in analysis.image_properties.columns],
        "findings": [finding.to_dict() for finding in analysis.findings],
        "checksums": dict(checksums),
    }


def _thumbnail_name(index: int) -> str:
    return f"{index:05d}.png"


def _pngs(images: Mapping[int, np.ndarray]) -> dict[str, bytes]:
    """PNG files by name (the image's position), in the order of the positions."""
    return {_thumbnail_name(i): png_bytes(images[i]) for i in sorted(images)}


def _read_pngs(folder: Path, name: str, positions: list[int], checksums: Mapping[str, str]) -> dict[int, np.ndarray]:
    """The PNGs of ``folder/name`` at ``positions`` (checked against their checksum) as uint8 ``(h, w, C)``."""
    from PIL import Image

    if not positions:
        return {}
    data = [_read_file(folder, f"{name}/{_thumbnail_name(i)}") for i in positions]
    _verified(folder, name, b"".join(data), checksums)
    images = [np.asarray(Image.open(io.BytesIO(png))) for png in data]
    return {i: image[..., np.newaxis] if image.ndim == 2 else image for i, image in zip(positions, images)}


def save_analysis(analysis: Analysis, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write ``analysis`` to the run folder ``path`` atomically; see the module docstring for the layout.

    Parameters
    ----------
    analysis : Analysis
        What :func:`layerlens.analyze` returned.
    path : str or Path
        Run folder to create, or an empty folder.
    overwrite : bool, default=True
        Replace an earlier run in ``path``. A folder that holds anything
        else is never overwritten.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    InvalidInputError
        If ``path`` exists and is a file, or a non-empty folder that is not a
        layerlens run, or holds a run and ``overwrite`` is False.
    """
    target = check_run_target(path, overwrite=overwrite)
    big = len(analysis.probabilities) > COLUMNS_ABOVE  # format version 5: files per array, no PNG per image
    arrays = _analysis_arrays(analysis)
    npz = None if big else _npz_bytes(arrays)
    pngs = [] if big else [png_bytes(thumbnail) for thumbnail in analysis.thumbnails]
    explained = explanation_pictures(
        analysis.explanations, analysis.explained_images, analysis.pictures, analysis.settings.axes or VOLUME_AXES
    )
    csv = analysis.paths.to_csv(lineterminator="\n").encode("utf-8")
    folders = {PICTURES: _pngs(analysis.pictures)}
    if analysis.reference is not None:
        folders[REFERENCE_THUMBNAILS] = _pngs(analysis.reference.thumbnails)
    checksums = {PATHS_CSV: _sha256(csv)}
    if not big:
        checksums.update({ARRAYS: _sha256(npz), THUMBNAILS: _sha256(b"".join(pngs))})
    for folder, files in folders.items():
        if files:
            checksums[folder] = _sha256(b"".join(files.values()))
    if explained:
        checksums[EXPLANATIONS] = _sha256(b"".join(explained[name] for name in sorted(explained)))
    metadata_csv = None
    if analysis.metadata is not None:
        metadata_csv = analysis.metadata.to_csv(index=False, lineterminator="\n").encode("utf-8")
        checksums[METADATA_CSV] = _sha256(metadata_csv)

    with staged_folder(target) as staging:
        if big:
            checksums.update(write_columns(staging, arrays, analysis.thumbnails))
        else:
            (staging / ARRAYS).write_bytes(npz)
            (staging / THUMBNAILS).mkdir()
            for i, png in enumerate(pngs):
                (staging / THUMBNAILS / _thumbnail_name(i)).write_bytes(png)
        (staging / PATHS_CSV).write_bytes(csv)
        if metadata_csv is not None:
            (staging / METADATA_CSV).write_bytes(metadata_csv)
        if explained:
            (staging / EXPLANATIONS).mkdir()
            for name, png in explained.items():
                (staging / EXPLANATIONS / name).write_bytes(png)
        for folder, files in folders.items():
            if files:
                (staging / folder).mkdir()
                for name, png in files.items():
                    (staging / folder / name).write_bytes(png)
        version = FORMAT_VERSION if big else SMALL_RUN_VERSION
        manifest = json.dumps(_manifest(analysis, checksums, version), indent=1, ensure_ascii=False, allow_nan=False)
        readme = README_TEXT.format(version=__version__, format=FORMAT, format_version=version)
        (staging / README).write_text(readme, encoding="utf-8")
        (staging / MANIFEST).write_text(manifest + "\n", encoding="utf-8")
    return target


def _verified(folder: Path, name: str, data: bytes, checksums: Mapping[str, str]) -> bytes:
    if checksums.get(name) != _sha256(data):
        raise RunFormatError(f"path: {name} in {str(folder)!r} is corrupt (its SHA-256 does not match the manifest).")
    return data


def _read_file(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except OSError as err:
        raise RunFormatError(f"path: the run in {str(folder)!r} is incomplete: cannot read {name} ({err}).") from err


def _read_thumbnails(folder: Path, n_images: int, checksums: Mapping[str, str]) -> np.ndarray:
    from PIL import Image

    pngs = [_read_file(folder, f"{THUMBNAILS}/{_thumbnail_name(i)}") for i in range(n_images)]
    _verified(folder, THUMBNAILS, b"".join(pngs), checksums)
    images = [np.asarray(Image.open(io.BytesIO(png))) for png in pngs]
    return np.stack([image[..., np.newaxis] if image.ndim == 2 else image for image in images])


def _explanations_from(
    folder: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray], checksums: Mapping[str, str]
) -> tuple[tuple[Explanation, ...], dict[int, np.ndarray]]:
    explanations, images = read_explanations(manifest, arrays)
    if explanations:
        names = sorted(picture_names(manifest["explanations"], manifest["explained_images"]))
        pictures = b"".join(_read_file(folder, f"{EXPLANATIONS}/{name}") for name in names)
        _verified(folder, EXPLANATIONS, pictures, checksums)
    return explanations, images


def _layer_from(
    entry: Mapping[str, Any], arrays: Mapping[str, np.ndarray], index: int, noise_levels: list[float]
) -> LayerAnalysis:
    prefix = f"layer{index}_"
    clusters = LayerClusters.from_dict(
        entry["clusters"], assignments=arrays[prefix + "clusters"], centers=arrays[prefix + "kmeans_centers"]
    )
    return LayerAnalysis(
        name=entry["name"],
        kind=entry["kind"],
        output_shape=tuple(entry["output_shape"]),
        reduction=entry["reduction"],
        features=arrays[prefix + "features"],
        reduced=arrays[prefix + "reduced"],
        clusters=clusters,
        coords=arrays[prefix + "coords"],
        map_centers=arrays[prefix + "map_centers"],
        separability=None if entry["separability"] is None else Separability.from_dict(entry["separability"]),
        parallel_to_previous=bool(entry["parallel_to_previous"]),
        noisy_clusters={level: arrays[f"{prefix}clusters_{_noise_key(level)}"] for level in noise_levels},
        short_name=str(entry.get("short_name", "")),
    )


def _reference_from(
    folder: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray], checksums: Mapping[str, str]
) -> ReferenceSet | None:
    entry = manifest["reference"]
    if entry is None:
        return None
    layers = range(len(manifest["layers"]))
    files = entry.get("files")
    thumbnails = [int(i) for i in entry.get("thumbnails", [])]
    return ReferenceSet(
        name=entry["name"],
        labels=arrays["reference_labels"],
        predictions=arrays["reference_predictions"],
        reduced=tuple(arrays[f"layer{i}_reference_reduced"] for i in layers),
        clusters=tuple(arrays[f"layer{i}_reference_clusters"] for i in layers),
        coords=tuple(arrays[f"layer{i}_reference_coords"] for i in layers),
        thumbnails=_read_pngs(folder, REFERENCE_THUMBNAILS, thumbnails, checksums),
        files=None if files is None else tuple(files),
    )


def _metadata_from(
    folder: Path, manifest: Mapping[str, Any], checksums: Mapping[str, str], n: int
) -> pd.DataFrame | None:
    """The run's metadata table (text, missing values as <NA>), or None when it has none."""
    columns = manifest.get("metadata")
    if columns is None:
        return None
    data = _verified(folder, METADATA_CSV, _read_file(folder, METADATA_CSV), checksums)
    table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    if list(table.columns) != list(columns) or len(table) != n:
        raise RunFormatError(f"path: {METADATA_CSV} in {str(folder)!r} does not match the manifest.")
    table = table.astype("string")
    table.index = pd.RangeIndex(n, name="image")
    return table


def _properties_from(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray], n: int) -> pd.DataFrame | None:
    columns = manifest.get("image_properties")
    if columns is None:
        return None
    values = arrays["image_properties"]
    if values.shape != (n, len(columns)):
        raise RunFormatError(f"path: the run's image_properties array does not hold {len(columns)} values per image.")
    return pd.DataFrame(values, columns=list(columns))


def _volumes_from(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
    indices = [int(i) for i in manifest.get("volumes", [])]
    if not indices:
        return {}
    stacked = arrays["volumes"]
    if len(stacked) != len(indices) or stacked.ndim != 5 or stacked.dtype != np.uint8:
        raise RunFormatError("path: the run's volumes do not match the manifest (count, rank or type differ).")
    return dict(zip(indices, stacked))


def _model_from(entry: Mapping[str, Any]) -> ModelSummary:
    """The model summary from its manifest entry, field by field; fields older runs lack keep their defaults."""

    def shape(value: Any) -> tuple[int | None, ...] | None:
        return None if value is None else tuple(value)

    rows = tuple(
        LayerRow(**{f.name: shape(row[f.name]) if f.name == "output_shape" else row[f.name] for f in fields(LayerRow)})
        for row in entry.get("layers", ())
    )
    known = {f.name for f in fields(ModelSummary)} & set(entry)
    values = {name: entry[name] for name in known} | {"input_shape": tuple(entry["input_shape"]), "layers": rows}
    return ModelSummary(**values)


def load(path: str | Path) -> Analysis:
    """Read a run folder written by :meth:`Analysis.save` (no TensorFlow needed).

    Parameters
    ----------
    path : str or Path
        The run folder.

    Returns
    -------
    Analysis
        Equal, array for array, to the analysis that was saved.

    Raises
    ------
    RunFormatError
        If the folder is not a run, is incomplete or corrupt (a checksum
        differs), or was written by a newer layerlens.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    checksums = manifest.get("checksums", {})
    columns = manifest.get("format_version", 0) >= 5
    npz = None if columns else _verified(folder, ARRAYS, _read_file(folder, ARRAYS), checksums)
    _verified(folder, PATHS_CSV, _read_file(folder, PATHS_CSV), checksums)
    try:
        if columns:
            arrays, thumbnails = read_columns(folder, checksums)
        else:
            with np.load(io.BytesIO(npz), allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        upgraded(manifest)
        n = manifest["n_images"]
        class_names = tuple(manifest["class_names"])
        noise_levels = [float(level) for level in manifest["noise_levels"]]
        layers = tuple(_layer_from(entry, arrays, i, noise_levels) for i, entry in enumerate(manifest["layers"]))
        probabilities = arrays["probabilities"]
        labels = arrays.get("labels") if manifest["has_labels"] else None
        if probabilities.shape != (n, len(class_names)) or any(len(layer.features) != n for layer in layers):
            raise RunFormatError(f"path: the arrays in {str(folder)!r} do not match the manifest's {n} images.")
        settings, model = manifest["settings"], manifest["model"]
        settings["explain_methods"] = tuple(settings["explain_methods"])
        files = manifest["files"]
        explanations, explained_images = _explanations_from(folder, manifest, arrays, checksums)
        doubt = _doubt_from(arrays, n)
        probes = _probes_from(manifest, arrays)
        metadata = _metadata_from(folder, manifest, checksums, n)
        analysis = Analysis(
            name=manifest["name"],
            class_names=class_names,
            model=_model_from(model),
            settings=AnalysisSettings(**settings),
            labels=labels,
            probabilities=probabilities,
            layers=layers,
            paths=paths_table(layers, probabilities, labels, class_names, files, doubt, probes, metadata),
            path_statistics=PathStatistics.from_dict(manifest["path_statistics"]),
            metrics=None if manifest["metrics"] is None else ClassificationMetrics.from_dict(manifest["metrics"]),
            thumbnails=thumbnails if columns else _read_thumbnails(folder, n, checksums),
            files=None if files is None else tuple(files),
            reference=_reference_from(folder, manifest, arrays, checksums),
            noisy_predictions={level: arrays[f"predictions_{_noise_key(level)}"] for level in noise_levels},
            explanations=explanations,
            explained_images=explained_images,
            created=manifest.get("created"),
            doubt=doubt,
            probes=probes,
            metadata=metadata,
            source=manifest.get("source"),
            display_range=tuple(decode_float(v) for v in manifest.get("display_range", [0.0, 1.0])),
            pictures=_read_pngs(folder, PICTURES, [int(i) for i in manifest.get("pictures", [])], checksums),
            findings=tuple(Finding.from_dict(entry) for entry in manifest.get("findings", [])),
            image_properties=_properties_from(manifest, arrays, n),
            volumes=_volumes_from(manifest, arrays),
        )
        if "findings" not in manifest:
            # Runs written before layerlens said what it found: found now, from what they hold.
            from layerlens.run._findings import findings_of

            analysis = replace(analysis, findings=findings_of(analysis))
    except (AttributeError, IndexError, KeyError, OverflowError, TypeError, ValueError, zipfile.BadZipFile) as err:
        if isinstance(err, RunFormatError):
            raise
        raise RunFormatError(f"path: the run in {str(folder)!r} is malformed ({type(err).__name__}: {err}).") from err
    return analysis
