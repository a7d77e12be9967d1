"""An analysis as a whole: its result types, the checks of its inputs, the pipeline that makes it
(:func:`analyze`: extract → fit → assign → gather → explain), and run folders (:func:`load`, ``Analysis.save``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layerlens.run._analysis import (
        NOISE_LEVELS,
        Analysis,
        AnalysisSettings,
        LayerAnalysis,
        LayerRow,
        ModelSummary,
        ProbeSet,
        ReferenceSet,
        analyze,
        path_ids,
        paths_table,
    )
    from layerlens.run._compute import FitSet, ProbeInput, compute_analysis, probe_input, reference_fit_set
    from layerlens.run._data import FILE_COLUMN, DataFacts, data_facts, split_file_column
    from layerlens.run._explain_run import explain_run
    from layerlens.run._explanations_io import (
        explanation_arrays,
        explanation_entries,
        explanation_pictures,
        picture_names,
        read_explanations,
    )
    from layerlens.run._format import FORMAT, FORMAT_VERSION, check_run_target, holds_run
    from layerlens.run._labels import (
        check_labels,
        precheck_reference,
        renumber_by_name,
        resolve_class_names,
        warn_about_class_order,
    )
    from layerlens.run._metadata import check_metadata, group_accuracy
    from layerlens.run._pictures import LONGEST_SIDE, PICTURES_MAX, page_pictures, reference_neighbours
    from layerlens.run._store import load, save_analysis

__all__ = [
    "Analysis",
    "AnalysisSettings",
    "DataFacts",
    "FILE_COLUMN",
    "FORMAT",
    "FORMAT_VERSION",
    "FitSet",
    "LONGEST_SIDE",
    "LayerAnalysis",
    "LayerRow",
    "ModelSummary",
    "NOISE_LEVELS",
    "PICTURES_MAX",
    "ProbeInput",
    "ProbeSet",
    "ReferenceSet",
    "analyze",
    "check_labels",
    "check_metadata",
    "check_run_target",
    "compute_analysis",
    "data_facts",
    "explain_run",
    "explanation_arrays",
    "explanation_entries",
    "explanation_pictures",
    "group_accuracy",
    "holds_run",
    "load",
    "page_pictures",
    "path_ids",
    "paths_table",
    "picture_names",
    "precheck_reference",
    "probe_input",
    "read_explanations",
    "reference_fit_set",
    "reference_neighbours",
    "renumber_by_name",
    "resolve_class_names",
    "save_analysis",
    "split_file_column",
    "warn_about_class_order",
]

# Where each public name lives; a name is imported on first use (TensorFlow only when it is needed).
_HOMES = {
    "Analysis": "layerlens.run._analysis",
    "AnalysisSettings": "layerlens.run._analysis",
    "DataFacts": "layerlens.run._data",
    "FILE_COLUMN": "layerlens.run._data",
    "FORMAT": "layerlens.run._format",
    "FORMAT_VERSION": "layerlens.run._format",
    "FitSet": "layerlens.run._compute",
    "LONGEST_SIDE": "layerlens.run._pictures",
    "LayerAnalysis": "layerlens.run._analysis",
    "LayerRow": "layerlens.run._analysis",
    "ModelSummary": "layerlens.run._analysis",
    "NOISE_LEVELS": "layerlens.run._analysis",
    "PICTURES_MAX": "layerlens.run._pictures",
    "ProbeInput": "layerlens.run._compute",
    "ProbeSet": "layerlens.run._analysis",
    "ReferenceSet": "layerlens.run._analysis",
    "analyze": "layerlens.run._analysis",
    "check_labels": "layerlens.run._labels",
    "check_metadata": "layerlens.run._metadata",
    "check_run_target": "layerlens.run._format",
    "compute_analysis": "layerlens.run._compute",
    "data_facts": "layerlens.run._data",
    "explain_run": "layerlens.run._explain_run",
    "explanation_arrays": "layerlens.run._explanations_io",
    "explanation_entries": "layerlens.run._explanations_io",
    "explanation_pictures": "layerlens.run._explanations_io",
    "group_accuracy": "layerlens.run._metadata",
    "holds_run": "layerlens.run._format",
    "load": "layerlens.run._store",
    "page_pictures": "layerlens.run._pictures",
    "path_ids": "layerlens.run._analysis",
    "paths_table": "layerlens.run._analysis",
    "picture_names": "layerlens.run._explanations_io",
    "precheck_reference": "layerlens.run._labels",
    "probe_input": "layerlens.run._compute",
    "read_explanations": "layerlens.run._explanations_io",
    "reference_fit_set": "layerlens.run._compute",
    "reference_neighbours": "layerlens.run._pictures",
    "renumber_by_name": "layerlens.run._labels",
    "resolve_class_names": "layerlens.run._labels",
    "save_analysis": "layerlens.run._store",
    "split_file_column": "layerlens.run._data",
    "warn_about_class_order": "layerlens.run._labels",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'layerlens.run' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
