"""How a notebook shows an analysis: its summary, its findings and a small paths picture, as one HTML block.

:func:`analysis_html` is what ``Analysis._repr_html_`` returns. The block is self-contained (inline
styles, an inline SVG; no script, no plotly.js, nothing fetched), so it shows the same in Jupyter,
JupyterLab, VS Code and Colab, in a notebook saved with its outputs, and on GitHub's rendering of one;
it stays a few tens of kilobytes whatever the number of images.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from layerlens.figures import FONT, paths_sketch

if TYPE_CHECKING:
    from layerlens.findings import Finding
    from layerlens.run._analysis import Analysis

__all__ = ["analysis_html"]

# Findings and class names listed before "and N more".
_MAX_FINDINGS = 10
_MAX_CLASSES = 12
_BOX = (
    f"font-family:{FONT};font-size:13px;line-height:1.45;color:#222222;background:#ffffff;"
    "border:1px solid #d0d0d0;border-radius:6px;padding:10px 14px;max-width:880px"
)
# Jupyter's own table styles (right-aligned, striped) would otherwise apply to the summary's table.
_HEAD = (
    "font-size:inherit;text-align:left;vertical-align:top;padding:1px 12px 1px 0;color:#555555;"
    "font-weight:600;white-space:nowrap;background:none"
)
_CELL = "font-size:inherit;text-align:left;vertical-align:top;padding:1px 0;background:none"
_ALARM = "background:#fdecea;border:1px solid #d93025;color:#a50e0e;border-radius:4px;padding:6px 10px;margin:8px 0"
_NOTE = "color:#666666;font-size:12px"


def analysis_html(analysis: Analysis) -> str:
    """The analysis as a notebook shows it: a compact, self-contained HTML block.

    Parameters
    ----------
    analysis : Analysis
        The analysis to show.

    Returns
    -------
    str
        One ``<div>``, styled inline: the run's name; the data (images, classes, probes, reference
        set); accuracy and balanced accuracy with their 95% intervals (with true labels); how many
        predictions are in doubt; the model and the analysed layers with their number of clusters;
        a red warning for each reason the analysis cannot be right; the findings ("What stands
        out"), each with its number, interval and threshold on hover; and a small picture of the
        common paths (:func:`layerlens.figures._sketch.paths_sketch`). Every user string is escaped.
    """
    rows = [
        ("Data", _data(analysis)),
        ("Accuracy", _accuracy(analysis)),
        ("Doubt", _doubt(analysis)),
        ("Model", _model(analysis)),
        ("Layers", _layers(analysis)),
    ]
    table = "".join(
        f'<tr><th style="{_HEAD}">{name}</th><td style="{_CELL}">{value}</td></tr>' for name, value in rows if value
    )
    created = (
        f' <span style="{_NOTE};font-weight:normal">analysed {_e(analysis.created)}</span>' if analysis.created else ""
    )
    sketch = paths_sketch(analysis.paths, analysis.layer_names, analysis.class_names)
    return (
        f'<div class="layerlens-analysis" style="{_BOX}">'
        f'<div style="font-size:15px;font-weight:600;margin-bottom:4px">layerlens analysis '
        f"“{_e(analysis.name)}”{created}</div>"
        f"{_problems(analysis)}"
        f'<table style="border-collapse:collapse;margin:4px 0 8px 0;font-size:inherit;color:inherit">{table}</table>'
        f"{_findings(analysis.findings)}"
        f'<div style="margin-top:8px">{sketch}</div>'
        f'<div style="{_NOTE};margin-top:4px">More: <code>.paths_figure()</code>, <code>.layer_figure(name)</code>, '
        "<code>.findings</code>, <code>.doubt</code>, <code>.metrics</code>; the whole site: "
        "<code>ll.build_site(...)</code> and <code>layerlens.site.show_site(...)</code>.</div>"
        "</div>"
    )


def _e(text: object) -> str:
    return html.escape(str(text))


def _data(analysis: Analysis) -> str:
    classes = [_e(name) for name in analysis.class_names]
    shown = ", ".join(classes[:_MAX_CLASSES]) + (
        f" and {len(classes) - _MAX_CLASSES} more" if len(classes) > _MAX_CLASSES else ""
    )
    parts = [f"{analysis.n_images:,} images of {len(classes)} classes ({shown})"]
    if analysis.labels is None:
        parts.append("no true labels")
    if analysis.probes is not None:
        parts.append(f"{analysis.probes.n_images:,} probes “{_e(analysis.probes.name)}”")
    if analysis.reference is not None:
        parts.append(
            f"clusters fitted on {analysis.reference.n_images:,} reference images “{_e(analysis.reference.name)}”"
        )
    return "; ".join(parts)


def _accuracy(analysis: Analysis) -> str:
    metrics = analysis.metrics
    if metrics is None:
        return ""
    parts = [
        f"<b>{_rate(metrics.accuracy, metrics.accuracy_ci)}</b>",
        f"balanced accuracy {_rate(metrics.balanced_accuracy, metrics.balanced_accuracy_ci)}",
    ]
    if metrics.negative_class is not None and metrics.sensitivity is not None and metrics.specificity is not None:
        parts.append(
            f"sensitivity {_rate(metrics.sensitivity, metrics.sensitivity_ci)} and specificity "
            f"{_rate(metrics.specificity, metrics.specificity_ci)} against “{_e(metrics.negative_class)}”"
        )
    return "; ".join(parts)


def _rate(value: float, interval: tuple[float, float] | None) -> str:
    if not np.isfinite(value):
        return "n/a"
    if interval is None or not all(np.isfinite(v) for v in interval):
        return f"{value:.3f}"
    return f'{value:.3f} <span style="color:#666666">(95% interval {interval[0]:.3f} to {interval[1]:.3f})</span>'


def _doubt(analysis: Analysis) -> str:
    if analysis.doubt is None:
        return ""
    doubtful = int(np.sum(analysis.doubt.doubt >= 0.5))
    line = f"{doubtful:,} of {analysis.n_images:,} predictions in doubt (0.5 or more)"
    if analysis.probes is not None:
        probes = int(np.sum(analysis.probes.doubt.doubt >= 0.5))
        line += f"; {probes:,} of {analysis.probes.n_images:,} probes"
    return line


def _model(analysis: Analysis) -> str:
    model = analysis.model
    shape = "×".join("?" if side is None else str(side) for side in model.input_shape)
    return f"{_e(model.name)}: input {shape}, {_e(model.head)} head, {model.n_parameters:,} parameters"


def _layers(analysis: Analysis) -> str:
    """Each analysed layer with its number of clusters; the mark of a layer whose clusters follow no class."""
    blind = [not layer.clusters.carries_class_information for layer in analysis.layers]
    names = [
        f'{_e(name)}&nbsp;<span style="color:#666666">k={layer.clusters.k}{"&nbsp;○" if mark else ""}</span>'
        for name, layer, mark in zip(analysis.layer_names, analysis.layers, blind)
    ]
    note = f' <span style="{_NOTE}">(○: its clusters carry no class information)</span>' if any(blind) else ""
    return " · ".join(names) + note


def _problems(analysis: Analysis) -> str:
    problems = analysis.problems
    if not problems:
        return ""
    lines = "".join(f"<div><b>This analysis cannot be right:</b> {_e(problem)}.</div>" for problem in problems)
    reason = _e(analysis.settings.pixel_scale_reason) if analysis.settings.pixel_scale_reason else ""
    pixels = f'<div style="margin-top:4px">How the images reached the model: {reason}.</div>' if reason else ""
    return f'<div role="alert" style="{_ALARM}">{lines}{pixels}</div>'


def _findings(findings: tuple[Finding, ...]) -> str:
    heading = '<div style="font-size:14px;font-weight:600;margin-top:4px">What stands out</div>'
    if not findings:
        return f'{heading}<div style="{_NOTE}">No finding passed its threshold.</div>'
    items = "".join(
        f'<li title="{_e(_backing(finding))}">{_e(finding.text)}</li>' for finding in findings[:_MAX_FINDINGS]
    )
    more = len(findings) - _MAX_FINDINGS
    rest = f'<div style="{_NOTE}">and {more} more in <code>.findings</code></div>' if more > 0 else ""
    return f'{heading}<ol style="margin:2px 0 0 0;padding-left:22px">{items}</ol>{rest}'


def _backing(finding: Finding) -> str:
    """The numbers behind a finding, for its hover title."""
    interval = (
        "" if finding.interval is None else f" (95% interval {finding.interval[0]:.3g} to {finding.interval[1]:.3g})"
    )
    return f"{finding.kind}: {finding.value:.3g}{interval}, threshold {finding.threshold:.3g}"
