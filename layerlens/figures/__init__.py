"""Plotly figures of an analysis: image paths through the layers, per-layer maps, separability by depth,
the confusion matrix and the reliability diagram, and single images (class probabilities, explanations);
:func:`export_figures` writes figures as PNG, SVG or PDF files through an installed Chrome or Chromium.

Every drawing function returns a :class:`plotly.graph_objects.Figure` and never shows it; the
same inputs give the same ``fig.to_json()`` byte for byte (no random colours, no trace
uids, an explicit template instead of plotly's global default). Nothing here needs the
network: no CDN, no map tiles, no TensorFlow.

Strings from users (class, cluster and layer names) reach plotly's text renderer, which
reads a small subset of HTML; they are escaped wherever plotly would interpret them
(hover text, tick and category labels, legend entries, annotations, titles) so a class
called ``<b>`` shows as ``<b>``. The one exception is a parallel-categories dimension
label, which plotly writes as plain text; it gets the raw layer name.
"""

from layerlens.figures._export import EXPORT_FORMATS, export_figures
from layerlens.figures._overlay import (
    AGAINST_COLOUR,
    FOR_COLOUR,
    display_size,
    heat_limit,
    overlay_on,
    through_maximum,
    upscale,
)
from layerlens.figures._sketch import paths_sketch
from layerlens.figures._style import FONT, esc
from layerlens.figures.explanations import explanation_figure, segment_weights_figure
from layerlens.figures.maps import DOUBT_MARKED, WEBGL_THRESHOLD, layer_figure
from layerlens.figures.metrics import confusion_figure, probabilities_figure, reliability_figure
from layerlens.figures.paths import COLOUR_BY, DOUBT_BANDS, PATHS_WIDTH, paths_figure, paths_figure_rows
from layerlens.figures.separability import separability_figure

__all__ = [
    "AGAINST_COLOUR",
    "COLOUR_BY",
    "DOUBT_BANDS",
    "DOUBT_MARKED",
    "EXPORT_FORMATS",
    "FONT",
    "FOR_COLOUR",
    "PATHS_WIDTH",
    "WEBGL_THRESHOLD",
    "confusion_figure",
    "display_size",
    "esc",
    "explanation_figure",
    "export_figures",
    "heat_limit",
    "layer_figure",
    "overlay_on",
    "paths_figure",
    "paths_figure_rows",
    "paths_sketch",
    "probabilities_figure",
    "reliability_figure",
    "segment_weights_figure",
    "separability_figure",
    "through_maximum",
    "upscale",
]
