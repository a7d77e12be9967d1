"""An analysis as a whole: its result types, the pipeline that makes it and run folders.

:func:`analyze` runs the stages in order — the pass through the model (:mod:`layerlens.model`), the fit of each
layer's space, clusters and map, the assignment of the images to them, the gathering of paths, metrics and doubt,
and the explanations — and returns an :class:`Analysis`. :meth:`Analysis.save` writes a run folder and
:func:`load` reads it back without TensorFlow. The stages can also be called one by one (:func:`ordered`,
:func:`fit_layers`, :func:`assign_layer`, :func:`gather`), as an engine that runs them apart does. Names load
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlens._util.lazy import lazy_names

if TYPE_CHECKING:
    from layerlens.run._analysis import Analysis
    from layerlens.run._analyze import analyze
    from layerlens.run._explain_run import explain_run
    from layerlens.run._explanations_io import explanation_pictures
    from layerlens.run._fit import FitSet
    from layerlens.run._format import FORMAT_VERSION, check_run_target, holds_run
    from layerlens.run._gather import gather, layer_separability, metrics_of
    from layerlens.run._layers import Assigned, OrderedFitSet, assign_layer, fit_layer, fit_layers, ordered
    from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet
    from layerlens.run._store import load, save_analysis
    from layerlens.run._summary import LayerRow, ModelSummary

__all__ = [
    "Analysis",
    "AnalysisSettings",
    "Assigned",
    "FORMAT_VERSION",
    "FitSet",
    "LayerAnalysis",
    "LayerRow",
    "ModelSummary",
    "OrderedFitSet",
    "ProbeSet",
    "ReferenceSet",
    "analyze",
    "assign_layer",
    "check_run_target",
    "explain_run",
    "explanation_pictures",
    "fit_layer",
    "fit_layers",
    "gather",
    "holds_run",
    "layer_separability",
    "load",
    "metrics_of",
    "ordered",
    "save_analysis",
]

# Where each public name lives; a name is imported on first use (TensorFlow only when a model is analysed).
_HOMES = {
    "Analysis": "layerlens.run._analysis",
    "AnalysisSettings": "layerlens.run._parts",
    "Assigned": "layerlens.run._layers",
    "FORMAT_VERSION": "layerlens.run._format",
    "FitSet": "layerlens.run._fit",
    "LayerAnalysis": "layerlens.run._parts",
    "LayerRow": "layerlens.run._summary",
    "ModelSummary": "layerlens.run._summary",
    "OrderedFitSet": "layerlens.run._layers",
    "ProbeSet": "layerlens.run._parts",
    "ReferenceSet": "layerlens.run._parts",
    "analyze": "layerlens.run._analyze",
    "assign_layer": "layerlens.run._layers",
    "check_run_target": "layerlens.run._format",
    "explain_run": "layerlens.run._explain_run",
    "explanation_pictures": "layerlens.run._explanations_io",
    "fit_layer": "layerlens.run._layers",
    "fit_layers": "layerlens.run._layers",
    "gather": "layerlens.run._gather",
    "holds_run": "layerlens.run._format",
    "layer_separability": "layerlens.run._gather",
    "load": "layerlens.run._store",
    "metrics_of": "layerlens.run._gather",
    "ordered": "layerlens.run._layers",
    "save_analysis": "layerlens.run._store",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
