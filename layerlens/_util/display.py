"""Pieces of the short reprs and notebook tables of layerlens' results."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["count", "frame_html", "listed", "shape_text", "summary_frame"]


def count(n: int, noun: str) -> str:
    """``"10,000 images"``, ``"1 image"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def shape_text(shape: Sequence[int | None]) -> str:
    """``"64x64x1"``; ``?`` for an unknown size."""
    return "x".join("?" if d is None else str(d) for d in shape)


def listed(items: Sequence[str], most: int = 4) -> str:
    """The first ``most`` items joined by commas, then how many more."""
    shown = ", ".join(items[:most])
    return shown + (f", ... ({len(items) - most} more)" if len(items) > most else "")


def summary_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A describe()-like table of per-image numbers: count, mean, spread and quantiles of each column."""
    import pandas as pd  # lazy: the text reprs need no pandas

    frame = pd.DataFrame({name: np.asarray(values, dtype=np.float64) for name, values in columns.items()})
    return frame.describe(percentiles=[0.1, 0.25, 0.5, 0.75, 0.9])


def frame_html(title: str, frame: pd.DataFrame, *, lines: Sequence[str] = ()) -> str:
    """A notebook view: the title in bold, a few lines of text, then the table."""
    heading = f"<p><b>{html.escape(title)}</b></p>"
    text = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return f"<div>{heading}{text}{frame.to_html(float_format=lambda v: f'{v:.3f}', na_rep='–')}</div>"
