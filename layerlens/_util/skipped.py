"""The one warning a loader gives about the files it could not read."""

from __future__ import annotations

from collections.abc import Sequence

from layerlens._util.warn import warn_user
from layerlens.exceptions import SkippedFilesWarning

__all__ = ["warn_skipped"]

#: Files named in the message; the warning's ``files`` attribute lists every one.
SHOWN_SKIPPED = 10


def warn_skipped(skipped: Sequence[str], listed_in: str = "ImageSet.skipped") -> None:
    """Warn once about ``skipped`` files, naming the first few and where the whole list is."""
    shown = ", ".join(skipped[:SHOWN_SKIPPED])
    more = (
        f" and {len(skipped) - SHOWN_SKIPPED} more (all listed in {listed_in})" if len(skipped) > SHOWN_SKIPPED else ""
    )
    message = f"Skipped {len(skipped)} file(s) that could not be read as images: {shown}{more}."
    warn_user(SkippedFilesWarning(message, list(skipped)))
