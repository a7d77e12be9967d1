"""Exception and warning classes raised by layerlens.

Every error layerlens raises on bad input is one of these, so a caller can catch
``layerlens.exceptions.LayerlensError`` and still rely on the builtin base
(``ValueError`` / ``TypeError``) that plain Python code expects.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChannelWarning",
    "ClassOrderWarning",
    "DatasetWarning",
    "ExplanationWarning",
    "InvalidInputError",
    "InvalidTypeError",
    "LayerlensError",
    "LayerlensWarning",
    "MissingDependencyError",
    "PixelScaleWarning",
    "RunFormatError",
    "SkippedFilesWarning",
    "UnreliableAnalysisWarning",
]


class LayerlensError(Exception):
    """Base class of every error raised by layerlens."""


class InvalidInputError(LayerlensError, ValueError):
    """An argument has the right type but a wrong value, shape or content."""


class InvalidTypeError(LayerlensError, TypeError):
    """An argument has a type layerlens cannot work with."""


class RunFormatError(LayerlensError, ValueError):
    """A stored run folder is corrupt, incomplete, or written by a newer layerlens."""


class MissingDependencyError(LayerlensError, ImportError):
    """An optional package a feature needs is not installed; the message names what to install."""


class LayerlensWarning(UserWarning):
    """Base class of every warning layerlens gives about its input."""


class SkippedFilesWarning(LayerlensWarning):
    """Some input files could not be read and were left out.

    Parameters
    ----------
    message : str
        What happened, with the first few file names.
    files : sequence of str, default=()
        Every skipped file, so a program (the command line) can report them its own way.
    """

    def __init__(self, message: str, files: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.files = tuple(files)


class PixelScaleWarning(LayerlensWarning):
    """The images' pixel range looks wrong for the model (e.g. [0, 1] images for a model that divides by 255)."""


class ChannelWarning(LayerlensWarning):
    """Grayscale images were given to a colour model, or colour images to a grayscale one, and were converted."""


class ClassOrderWarning(LayerlensWarning):
    """The predictions match the labels far better under another order of the classes: the names are likely swapped."""


class ExplanationWarning(LayerlensWarning):
    """Some explanations asked of :func:`layerlens.analyze` could not be made, and were left out."""


class UnreliableAnalysisWarning(LayerlensWarning):
    """The analysis cannot be right: the predictions collapsed onto one class, or the accuracy is at chance level.

    Most often the images reached the model in another pixel range or preprocessing than it was trained
    with; the run, its repr and the site say so too.
    """


class DatasetWarning(LayerlensWarning):
    """A ``tf.data`` pipeline hides something the analysis would show (e.g. it shuffles, so file names are unknown)."""
