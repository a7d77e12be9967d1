"""All the findings of an analysis, most telling first: :func:`find`."""

from __future__ import annotations

from layerlens.findings._depth import confounders, late_decisions, separation, separation_layer
from layerlens.findings._evidence import Evidence
from layerlens.findings._finding import Finding
from layerlens.findings._images import label_issues, sure_probes, weak_groups
from layerlens.findings._mistakes import (
    calibration_findings,
    confident_mistakes,
    confusions,
    mistake_paths,
    mixed_clusters,
)

__all__ = ["find"]


def find(evidence: Evidence) -> tuple[Finding, ...]:
    """Every finding that passes its threshold, most telling first.

    Parameters
    ----------
    evidence : Evidence
        What the analysis holds (see :class:`~layerlens.findings._evidence.Evidence`).

    Returns
    -------
    tuple of Finding
        Ordered by effect size (:attr:`Finding.effect`), largest first; the kinds in
        :data:`~layerlens.findings.KINDS` order among equal effects. Empty when nothing passes.

    Notes
    -----
    Each kind's rule and threshold are in its function's documentation: :func:`separation`,
    :func:`confusions`, :func:`mistake_paths`, :func:`mixed_clusters` (from the layer where the classes
    come apart on: before it, every cluster mixes classes), :func:`confident_mistakes`,
    :func:`calibration_findings`, :func:`weak_groups`, :func:`confounders`, :func:`sure_probes`,
    :func:`label_issues` and :func:`late_decisions`.
    """
    apart = separation_layer(evidence)
    found = [
        *separation(evidence),
        *confusions(evidence),
        *mistake_paths(evidence),
        *mixed_clusters(evidence, from_layer=len(evidence.layers) - 1 if apart is None else apart),
        *confident_mistakes(evidence),
        *calibration_findings(evidence),
        *weak_groups(evidence),
        *confounders(evidence),
        *sure_probes(evidence),
        *label_issues(evidence),
        *late_decisions(evidence),
    ]
    return tuple(sorted(found, key=lambda f: -f.effect))
