"""Warnings that point at the user's line, however deep inside layerlens they are raised."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parents[1])  # layerlens/, this file being in layerlens/_util/


def warn_user(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the stack level of the first caller outside the layerlens package.

    A fixed ``stacklevel`` is right for one call chain only: the same check reached from
    ``layerlens.analyze`` and from ``layerlens.model.extract`` sits at different depths.
    """
    level, frame = 2, sys._getframe(1)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    if isinstance(message, Warning):
        warnings.warn(message, stacklevel=level)
    else:
        warnings.warn(message, category, stacklevel=level)
