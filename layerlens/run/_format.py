"""Names and version of the run folder format, and the checks on a folder about to receive a run.

Kept apart from :mod:`layerlens.run._store` so the command line can refuse a bad ``--out`` at once,
before it imports the analysis (and scikit-learn, and TensorFlow).
"""

from __future__ import annotations

import json
from pathlib import Path

from layerlens.exceptions import InvalidInputError

__all__ = ["FORMAT", "FORMAT_VERSION", "check_run_target", "holds_run"]

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
