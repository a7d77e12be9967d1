"""Exception and warning classes raised by layerlens.

Every error layerlens raises on bad input is one of these, so a caller can catch
``layerlens.exceptions.LayerlensError`` and still rely on the builtin base
(``ValueError`` / ``TypeError``) that plain Python code expects.
"""

from __future__ import annotations

__all__ = [
    "LayerlensError",
    "InvalidInputError",
    "InvalidTypeError",
    "RunFormatError",
    "SkippedFilesWarning",
]


class LayerlensError(Exception):
    """Base class of every error raised by layerlens."""


class InvalidInputError(LayerlensError, ValueError):
    """An argument has the right type but a wrong value, shape or content."""


class InvalidTypeError(LayerlensError, TypeError):
    """An argument has a type layerlens cannot work with."""


class RunFormatError(LayerlensError, ValueError):
    """A stored run folder is corrupt, incomplete, or written by a newer layerlens."""


class SkippedFilesWarning(UserWarning):
    """Some input files could not be read and were left out (their names are listed)."""
