"""Where a site may be written: a missing or empty folder, or an earlier layerlens site."""

from __future__ import annotations

from pathlib import Path

from layerlens.exceptions import InvalidInputError

__all__ = ["MARKER", "check_site_target"]

#: The file that marks a folder as a layerlens site, so that building again may replace it.
MARKER = ".layerlens-site"


def check_site_target(out: str | Path, *, argument: str = "out") -> Path:
    """Raise unless a site may be written to ``out``; return it as a path.

    A missing folder, an empty one or an earlier layerlens site (it holds :data:`MARKER`) is fine.
    Anything else (a file, a home folder, a project) is refused, so a mistyped ``--out`` cannot wipe
    it: the new site replaces the whole folder.
    """
    if not isinstance(out, (str, Path)) or str(out) == "":
        raise InvalidInputError(f"{argument}: expected the path of the folder to write the site to; received {out!r}.")
    target = Path(out).expanduser()
    if not target.exists() and not target.is_symlink():
        return target
    if target.is_symlink() or not target.is_dir():
        raise InvalidInputError(
            f"{argument}: {str(target)!r} exists and is not a folder; refusing to replace it with a site."
        )
    if any(target.iterdir()) and not (target / MARKER).is_file():
        raise InvalidInputError(
            f"{argument}: {str(target)!r} is a folder that holds other files, not an earlier layerlens site "
            f"(no {MARKER} file); refusing to replace it. Choose a new or empty folder."
        )
    return target
