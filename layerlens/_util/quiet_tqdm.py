"""Import libraries that load ``tqdm.auto`` (lime, umap-learn) without its ipywidgets warning.

In a Jupyter kernel without ipywidgets, importing ``tqdm.auto`` warns ``TqdmWarning: IProgress not
found`` and falls back to the text bar. layerlens never shows those libraries' bars, so the warning
only alarms: :func:`import_quietly` imports ``tqdm.auto`` once with that warning silenced (the module
is then cached and never warns again), then the library asked for.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

__all__ = ["import_quietly"]


def import_quietly(name: str) -> ModuleType:
    """The module ``name`` (``"lime.lime_image"``, ``"umap"``), imported without tqdm's ipywidgets warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        importlib.import_module("tqdm.auto")
        return importlib.import_module(name)
