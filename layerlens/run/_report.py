"""A run's figures as files for a report, and its findings in Markdown beside them: :func:`save_figures`.

The files are named for LaTeX's ``\\includegraphics`` and Word alike (lower-case ASCII, no spaces, one dot)
and numbered so that sorting them by name gives the order of a report:

=====================================================  ==========================================
``01-paths``                                           paths through the layers, by true class
``02-paths-doubt``                                     the same, by doubt (runs that measured it)
``03-separability``                                    separability by depth (with labels)
``04-confusion``, ``05-reliability``                   confusion matrix, reliability diagram
``10-layer-01-conv1``, ``10-layer-02-pool1``, ...      each layer's 2-D map, in depth order
``40-explanation-00012-integrated_gradients``, ...     each explanation, by image number and method
=====================================================  ==========================================

``findings.md`` gives the run's summary, what stands out and a caption for each figure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from layerlens._util.atomic import write_atomically
from layerlens.explanations import method_title
from layerlens.figures import export_figures

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from layerlens.run._analysis import Analysis

__all__ = ["FINDINGS_FILE", "save_figures"]

#: The Markdown file written beside the figures.
FINDINGS_FILE = "findings.md"
_LONGEST_SLUG = 60


@dataclass(frozen=True)
class _Figure:
    """A figure to draw, by the name of its files without extension, and its caption."""

    stem: str
    caption: str
    draw: Callable[[], go.Figure]


def save_figures(analysis: Analysis, folder: str | Path, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write every figure of ``analysis`` into ``folder`` in each of ``formats``, and ``findings.md`` beside them.

    The figures are those :class:`~layerlens.run.Analysis` draws: the paths (also coloured by doubt, when
    the run measured it), separability by depth, the confusion matrix and the reliability diagram (with
    labels), every layer's map and every explanation. See the module's documentation for the file names.
    All are drawn by one installed Chrome or Chromium (see :func:`layerlens.figures.export_figures`);
    each file is written whole or not at all, and other files in ``folder`` are left alone.

    Parameters
    ----------
    analysis : Analysis
        The run, e.g. from :func:`layerlens.load`.
    folder : str or Path
        Where to write; made if missing.
    formats : sequence of str, default=("png", "svg")
        Any of :data:`layerlens.figures.EXPORT_FORMATS`.

    Returns
    -------
    list of Path
        The files written: the figures in the order of their names, each in the order of ``formats``,
        then ``findings.md``.

    Raises
    ------
    InvalidInputError
        If ``formats`` names a format that cannot be written.
    MissingDependencyError
        If no Chrome or Chromium is installed (the message says how to install one), or it does not start.
    """
    planned = figures_of(analysis)
    written = export_figures({figure.stem: figure.draw for figure in planned}, folder, formats)
    findings = Path(folder) / FINDINGS_FILE
    kinds = [path.suffix[1:] for path in written if path.stem == planned[0].stem]
    write_atomically(findings, findings_markdown(analysis, planned, kinds).encode("utf-8"))
    return [*written, findings]


def figures_of(analysis: Analysis) -> list[_Figure]:
    """The figures ``analysis`` can draw, in the order of their file names, each with its caption."""
    doubt = analysis.doubt is not None and "doubt" in analysis.paths.columns
    metrics = analysis.metrics
    planned = [
        _Figure(
            "01-paths",
            "Paths of the images through the clusters of each layer to the prediction, coloured by true class.",
            lambda: _paths(analysis),
        )
    ]
    if doubt:
        planned.append(
            _Figure(
                "02-paths-doubt",
                "The same paths coloured by the doubt of each prediction, from trusted (blue) to doubtful (red).",
                lambda: _paths(analysis, colour_by="doubt"),
            )
        )
    if analysis.separability is not None:
        planned.append(
            _Figure(
                "03-separability",
                "How far apart the true classes lie in each layer: silhouette, k-NN accuracy and variance explained.",
                analysis.separability_figure,
            )
        )
    if metrics is not None:
        from layerlens.figures import confusion_figure, reliability_figure

        planned.append(
            _Figure(
                "04-confusion",
                "Confusion matrix: true classes in rows, predictions in columns, shaded by share of the true class.",
                lambda: confusion_figure(metrics.confusion, analysis.class_names, title=f"{analysis.name}: confusion"),
            )
        )
        if metrics.calibration is not None:
            planned.append(
                _Figure(
                    "05-reliability",
                    "Reliability diagram: accuracy against the model's confidence (a calibrated model follows the "
                    "diagonal).",
                    lambda: reliability_figure(metrics.calibration, title=f"{analysis.name}: reliability"),
                )
            )
    projection = analysis.settings.projection.upper()
    for number, name in enumerate(analysis.layer_names, start=1):
        planned.append(
            _Figure(
                f"10-layer-{number:02d}-{slug(name)}",
                f"Layer {name}: 2-D map ({projection}) of the images, coloured by cluster; misclassified images "
                "marked.",
                lambda name=name: analysis.layer_figure(name),
            )
        )
    width = max(5, len(str(max(analysis.n_images - 1, 0))))
    explained: dict[str, _Figure] = {}
    for explanation in analysis.explanations:
        image, method = explanation.image_index, explanation.method
        if image is None or image not in analysis.explained_images:
            continue
        stem = f"40-explanation-{image:0{width}d}-{slug(method)}"
        explained.setdefault(
            stem,
            _Figure(
                stem,
                f"{method_title(method)} explanation of image {image}{_verdict(analysis, image)}.",
                lambda image=image, method=method: analysis.explanation_figure(image, method),
            ),
        )
    planned.extend(explained[stem] for stem in sorted(explained))
    return planned


def findings_markdown(analysis: Analysis, figures: Sequence[_Figure], formats: Sequence[str]) -> str:
    """``findings.md``: a heading, the run's summary line, its findings and the figures' files with captions."""
    lines = [f"# {analysis.name}", "", summary_line(analysis), ""]
    lines += [f"**Warning, this analysis cannot be right:** {problem}." for problem in analysis.problems]
    if analysis.problems:
        lines.append("")
    lines += ["## What stands out", ""]
    lines += [f"- {finding.text}" for finding in analysis.findings] or ["No finding passed its threshold."]
    lines += ["", "## Figures", ""]
    for figure in figures:
        files = ", ".join(f"`{figure.stem}.{kind}`" for kind in formats)
        lines.append(f"- {files}: {figure.caption}")
    return "\n".join(lines) + "\n"


def summary_line(analysis: Analysis) -> str:
    """The run in one line: name, images, classes, model and (with labels) accuracy with its 95% interval."""
    line = (
        f"Run {analysis.name!r}: {analysis.n_images} images, {len(analysis.class_names)} classes, "
        f"model {analysis.model.name}"
    )
    if analysis.metrics is not None:
        low, high = analysis.metrics.accuracy_ci
        line += f"; accuracy {analysis.metrics.accuracy:.3f} (95% interval {low:.3f} to {high:.3f})"
    if analysis.created:
        line += f"; analysed {analysis.created}"
    return line + "."


def slug(text: str) -> str:
    """``text`` as part of a file name: lower-case ASCII letters, digits, ``_`` and ``-`` (for ``/``, spaces, dots).

    Examples
    --------
    >>> slug("mobilenetv2_1.00_128/Block 15 Add")
    'mobilenetv2_1-00_128-block-15-add'
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    cleaned = re.sub(r"[^a-z0-9_]+", "-", plain).strip("-_")
    return cleaned[:_LONGEST_SLUG].rstrip("-_") or "x"


def _paths(analysis: Analysis, colour_by: str = "class") -> go.Figure:
    from layerlens.figures import PATHS_WIDTH

    figure = analysis.paths_figure(colour_by=colour_by)
    # The width its layer and cluster labels were shortened to fit; exported narrower, they overlap.
    return figure.update_layout(width=PATHS_WIDTH)


def _verdict(analysis: Analysis, image: int) -> str:
    predicted = analysis.class_names[int(analysis.predictions[image])]
    if analysis.labels is None:
        return f" (predicted {predicted})"
    truth = analysis.class_names[int(analysis.labels[image])]
    return f" (predicted {predicted}, true {truth})"
