"""What every figure shares: colours, the layout, escaping of user strings, checks of the paths table.

Strings from users (class, cluster and layer names) reach plotly's text renderer, which reads a small
subset of HTML; :func:`esc` escapes them wherever plotly would interpret them.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors

from layerlens.exceptions import InvalidInputError
from layerlens.paths import layer_columns, probe_rows

FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"
MISCLASSIFIED_EDGE = "#1a1a1a"
# A mixed cluster (no class leads it) on the maps: grey, in darker and lighter shades when there are several.
MIXED_COLOUR = "#8c8c8c"
# Share of white mixed into a class colour for correctly classified paths (see paths_figure).
PALE = 0.62
# Share of black mixed into a class colour for misclassified paths.
DARK = 0.2


def esc(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` for plotly's pseudo-HTML text.

    Quotes stay as they are: plotly decodes only a few named entities (``&amp;``,
    ``&lt;``, ``&gt;`` …), so an escaped quote would be shown as ``&quot;``.
    """
    return html.escape(str(text), quote=False)


def palette(n: int, base: Sequence[str]) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours: ``base`` if long enough, else Dark24, else evenly spaced hues."""
    if n <= len(base):
        colours = list(base[:n])
    elif n <= len(plotly.colors.qualitative.Dark24):
        colours = list(plotly.colors.qualitative.Dark24[:n])
    else:
        colours = [
            "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in colorsys.hls_to_rgb(i / n, 0.45, 0.65)))
            for i in range(n)
        ]
    return [hex(c) for c in colours]


def hex(colour: str) -> str:
    """Normalise ``#RRGGBB`` or ``rgb(r, g, b)`` to lower-case ``#rrggbb``."""
    if colour.startswith("#"):
        return colour.lower()
    r, g, b = plotly.colors.unlabel_rgb(colour)
    return "#{:02x}{:02x}{:02x}".format(round(r), round(g), round(b))


def mix_white(colour: str, share: float) -> str:
    """Blend ``#rrggbb`` with white; ``share`` = 0 keeps the colour, 1 gives white."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * share) for c in rgb))


def mix_black(colour: str, share: float) -> str:
    """Blend ``#rrggbb`` with black; ``share`` = 0 keeps the colour, 1 gives black."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c * (1 - share)) for c in rgb))


# D3's Category10 with its grey (the eighth colour) made indigo: grey means a mixed cluster on the maps and the
# rare paths in the diagram, and must never also name a class.
_CLASS_BASE = tuple("#393b79" if c.lower() == "#7f7f7f" else c for c in plotly.colors.qualitative.D3)


def class_colours(n_classes: int) -> list[str]:
    """Colour of each class (D3 Category10 without its grey, then Dark24, then evenly spaced hues)."""
    return palette(n_classes, _CLASS_BASE)


def layout(title: str, **extra) -> dict:
    """Layout shared by all figures.

    The explicit ``"none"`` template keeps the output independent of plotly's global default
    template (and about 6 kB smaller than embedding plotly's own).
    """
    layout = dict(
        template="none",
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16)),
        font=dict(family=FONT, size=12, color="#222222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel=dict(font=dict(family=FONT, size=12)),
    )
    layout.update(extra)
    return layout


# --------------------------------------------------------------------------------------------- validation


def check_paths(paths: pd.DataFrame, class_names: Sequence[str]) -> tuple[str, ...]:
    """Check the columns every figure reads from ``paths``; return the class names as a tuple."""
    if not isinstance(paths, pd.DataFrame):
        raise InvalidInputError(
            f"paths: expected the DataFrame of layerlens.paths._table.build_paths; received {type(paths).__name__}."
        )
    missing = [c for c in ("true", "predicted", "confidence", "correct") if c not in paths.columns]
    if missing:
        raise InvalidInputError(f"paths: expected the columns of build_paths; missing {missing}.")
    if isinstance(class_names, str):
        raise InvalidInputError(f"class_names: expected a sequence of str; received the str {class_names!r}.")
    classes = tuple(class_names)
    categories = (
        tuple(paths["predicted"].cat.categories) if isinstance(paths["predicted"].dtype, pd.CategoricalDtype) else ()
    )
    if classes != categories:
        raise InvalidInputError(
            f"class_names: expected the classes of paths['predicted'] {list(categories)}; received {list(classes)}."
        )
    return classes


def layer_column(paths: pd.DataFrame, layer_name: str, arg: str = "layer_name") -> pd.Series:
    """The Categorical column of one layer, or an error listing the layers ``paths`` holds."""
    available = layer_columns(paths)
    if layer_name not in available or not isinstance(paths[layer_name].dtype, pd.CategoricalDtype):
        raise InvalidInputError(f"{arg}: expected one of the layers in paths {available}; received {layer_name!r}.")
    return paths[layer_name]


def probe_mask(paths: pd.DataFrame) -> np.ndarray:
    """Which rows are probes (images of no class shown beside the analysed ones); see :func:`probe_rows`."""
    return probe_rows(paths)


def is_labelled(paths: pd.DataFrame) -> bool:
    """True when every image that is not a probe has a true class (build_paths gives all or none)."""
    images = ~probe_mask(paths)
    return bool(paths["true"].notna().to_numpy()[images].all()) and bool(images.any())


def misclassified_mask(paths: pd.DataFrame, labelled: bool) -> np.ndarray:
    """Which images are known to be misclassified: none without labels, and never a probe (it has no class)."""
    if not labelled:
        return np.zeros(len(paths), dtype=bool)
    return ~paths["correct"].to_numpy(dtype=bool, na_value=True) & ~probe_mask(paths)
