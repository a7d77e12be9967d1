"""Names and version of the run folder format, and the checks on a folder about to receive a run.

Kept apart from :mod:`layerlens.run._store` so the command line can refuse a bad ``--out`` at once,
before it imports the analysis (and scikit-learn, and TensorFlow).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._version import __version__
from layerlens.exceptions import InvalidInputError, RunFormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "check_run_target", "holds_run", "read_manifest", "upgraded"]

FORMAT = "layerlens-run"
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
THUMBNAILS = "thumbnails"
PICTURES = "pictures"
REFERENCE_THUMBNAILS = "reference"
EXPLANATIONS = "explanations"
PATHS_CSV = "paths.csv"
METADATA_CSV = "metadata.csv"
README = "README.md"


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds a layerlens run (its manifest says so; a file of that name alone proves nothing)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def check_run_target(
    path: str | Path, *, overwrite: bool, argument: str = "path", flag: str = "overwrite=True"
) -> Path:
    """Raise unless a run may be written to ``path``: missing, an empty folder, or (with ``overwrite``) a run.

    A file, or a folder holding anything but a run, is never overwritten. ``argument`` and ``flag``
    name the argument and the switch in the message (``--out`` and ``--force`` on the command line).
    """
    target = Path(path)
    if not target.exists():
        return target
    if not target.is_dir() or (any(target.iterdir()) and not holds_run(target)):
        raise InvalidInputError(
            f"{argument}: {str(target)!r} exists and is not a layerlens run folder; refusing to overwrite it."
        )
    if not overwrite and holds_run(target):
        raise InvalidInputError(
            f"{argument}: {str(target)!r} already holds a layerlens run; pass {flag} to replace it, or choose "
            "another folder."
        )
    return target


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the run in ``folder``, checked to be a run of a version this layerlens reads."""
    if not (folder / MANIFEST).is_file():
        raise RunFormatError(f"path: {str(folder)!r} is not a layerlens run folder (it has no {MANIFEST}).")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFormatError(f"path: {MANIFEST} in {str(folder)!r} is not valid JSON ({err}).") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RunFormatError(f"path: {MANIFEST} in {str(folder)!r} does not describe a {FORMAT!r}.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise RunFormatError(f"path: {MANIFEST} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise RunFormatError(
            f"path: the run in {str(folder)!r} has format version {version}, written by layerlens "
            f"{manifest.get('layerlens_version', '?')}; this layerlens {__version__} reads versions up to "
            f"{FORMAT_VERSION}. Upgrade layerlens to read it."
        )
    return manifest


def _upgrade_from_version_1(manifest: dict[str, Any]) -> None:
    """Read a version-1 manifest as version 2: what version 1 did not record takes its old implicit value."""
    _upgrade_early_version_2(manifest)
    for entry in manifest["layers"]:
        scores = entry.get("separability")
        if scores is not None and "variance_explained" not in scores:
            # Version 1 stored only the ratio r = B / W; the share B / (B + W) is r / (1 + r), 1 where r is infinite.
            ratio = decode_float(scores["variance_ratio"])
            scores["variance_explained"] = encode_float(1.0 if math.isinf(ratio) else ratio / (1.0 + ratio))


def _upgrade_early_version_2(manifest: dict[str, Any]) -> None:
    """What version 1 and the first version-2 runs (before reference sets and the faithful k) did not record."""
    manifest["settings"].setdefault("pixel_scale", 1.0)
    manifest.setdefault("reference", None)
    manifest.setdefault("noise_levels", [])
    for entry in manifest["layers"]:
        entry.setdefault("parallel_to_previous", False)
        scores = entry.get("separability")
        if scores is not None and "variance_ratio" not in scores:
            # The first version-2 runs stored only the share e = B / (B + W); the ratio B / W is e / (1 - e).
            share = decode_float(scores["variance_explained"])
            scores["variance_ratio"] = encode_float(math.inf if share >= 1.0 else share / (1.0 - share))
        clusters = entry["clusters"]
        if "k_rule" in clusters:
            continue
        # k was chosen by silhouette ("auto" then), with one silhouette kept per k tried.
        clusters["k_rule"] = "fixed" if len(clusters["k_scores"]) == 1 else "silhouette"
        clusters["k_reason"] = ""
        clusters["k_scores"] = {
            k: {"silhouette": v, "decision_alignment": None, "paths": None} for k, v in clusters["k_scores"].items()
        }


def _upgrade_from_version_2(manifest: dict[str, Any]) -> None:
    """Read a version-2 manifest as version 3: version 2 had no explanations."""
    manifest["settings"].setdefault("explain", 0)
    manifest["settings"].setdefault("explain_methods", [])
    manifest.setdefault("explained_images", [])
    manifest.setdefault("explanations", [])


def upgraded(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` of any earlier version read as the present one: what older versions did not record takes its
    old implicit value (in place; returned for convenience)."""
    version = manifest["format_version"]
    if version < 2:
        _upgrade_from_version_1(manifest)
    elif version == 2 and "noise_levels" not in manifest:  # written before version 2 was complete
        _upgrade_early_version_2(manifest)
    if version < 3:
        _upgrade_from_version_2(manifest)
    return manifest
