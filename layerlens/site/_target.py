"""Where a site may be written: a missing or empty folder, or an earlier layerlens site."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layerlens.exceptions import InvalidInputError

__all__ = ["MARKER", "SITE_ENTRIES", "check_site_target"]

#: The file that marks a folder as a layerlens site, so that building again may replace it.
MARKER = ".layerlens-site"
#: What a site folder holds; an earlier site with anything more is not replaced (it may be a user's file).
SITE_ENTRIES = frozenset({MARKER, "assets", "index.html", "runs"})


def check_site_target(out: Any, *, runs: Sequence[Path] = (), argument: str = "out") -> Path:
    """Raise unless a site may be written to ``out``; return it as an absolute path.

    A missing folder, an empty one or an earlier layerlens site (it holds :data:`MARKER` and nothing but
    what a site holds) is fine. Anything else (a file, a home folder, a project, the current folder or
    one that holds it) is refused, so a mistyped ``--out`` cannot wipe it: the new site replaces the
    whole folder. So is a folder that holds one of the ``runs`` being read, or lies inside one.
    """
    if not isinstance(out, (str, os.PathLike)) or os.fspath(out) == "":
        raise InvalidInputError(f"{argument}: expected the path of the folder to write the site to; received {out!r}.")
    given = Path(os.fspath(out)).expanduser().absolute()
    if given.is_symlink():
        raise InvalidInputError(f"{argument}: {str(given)!r} is a symbolic link; give the folder it points to.")
    target = given.resolve()
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise InvalidInputError(
            f"{argument}: {str(target)!r} is the current folder or holds it; refusing to replace it with a site. "
            "Choose a new or empty folder, such as output_site."
        )
    for run in runs:
        folder = Path(os.fspath(run)).expanduser().resolve()
        if folder == target or target in folder.parents or folder in target.parents:
            raise InvalidInputError(
                f"{argument}: {str(target)!r} and the run folder {str(folder)!r} lie one inside the other; the "
                "site replaces its whole folder, so write it elsewhere."
            )
    if not target.exists():
        return target
    if not target.is_dir():
        raise InvalidInputError(
            f"{argument}: {str(target)!r} exists and is not a folder; refusing to replace it with a site."
        )
    entries = {entry.name for entry in target.iterdir()}
    if entries and MARKER not in entries:
        raise InvalidInputError(
            f"{argument}: {str(target)!r} is a folder that holds other files, not an earlier layerlens site "
            f"(no {MARKER} file); refusing to replace it. Choose a new or empty folder."
        )
    extra = sorted(entries - SITE_ENTRIES)
    if extra:
        raise InvalidInputError(
            f"{argument}: the earlier site in {str(target)!r} also holds {extra[:5]}, which building again would "
            "delete; move them out or choose another folder."
        )
    return target
