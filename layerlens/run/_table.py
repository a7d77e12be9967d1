"""The paths table of an analysis: one row per image (and per probe), from its layers' clusters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from layerlens.exceptions import InvalidInputError
from layerlens.paths import build_paths
from layerlens.run._parts import LayerAnalysis, ProbeSet
from layerlens.scores import Doubt

__all__ = ['full_name', 'layer_labels', 'paths_table']


def paths_table(
    layers: Sequence[LayerAnalysis],
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    files: Sequence[str] | None = None,
    doubt: Doubt | None = None,
    probes: ProbeSet | None = None,
    metadata: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The per-image paths DataFrame of an analysis (see :func:`layerlens.paths._table.build_paths`).

    With ``doubt``, its ``doubt``, ``disagreement`` and ``unfamiliarity`` columns. With ``probes``, their rows
    follow the analysed images (numbered from N on, without a true class) and a ``probe`` column says which
    rows they are.
    """
    assignments = [layer.clusters.assignments for layer in layers]
    paths = _paths_rows(layers, assignments, probabilities, labels, class_names, files)
    _add_doubt(paths, doubt)
    if metadata is not None:
        for column in metadata.columns:
            paths[column] = metadata[column].to_numpy()
            paths[column] = paths[column].astype("string")
    if probes is None:
        return paths
    if "probe" in layer_labels(layers):
        raise InvalidInputError(
            "probes: the paths table marks probes in a 'probe' column, and the model has a layer of that name; "
            "leave the layer out of layers=[...] to show this model probes."
        )
    paths["probe"] = False
    extra = _paths_rows(layers, probes.clusters, probes.probabilities, None, class_names, probes.files)
    _add_doubt(extra, probes.doubt)
    for column in [] if metadata is None else metadata.columns:
        extra[column] = pd.array([None] * len(extra), dtype="string")
    extra["probe"] = True
    extra.index = pd.RangeIndex(len(paths), len(paths) + len(extra), name=paths.index.name)
    if labels is not None:  # the same dtype on both sides keeps the column Categorical
        extra["true"] = pd.Categorical([None] * len(extra), categories=paths["true"].cat.categories)
    return pd.concat([paths, extra])


def _paths_rows(
    layers: Sequence[LayerAnalysis],
    clusters: Sequence[np.ndarray],
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    files: Sequence[str] | None,
) -> pd.DataFrame:
    return build_paths(
        clusters,
        [layer.clusters.names for layer in layers],
        [layer.clusters.leading for layer in layers],
        layer_labels(layers),
        predicted=probabilities.argmax(axis=1),
        confidence=probabilities.max(axis=1),
        class_names=class_names,
        true=labels,
        files=files,
    )


def _add_doubt(paths: pd.DataFrame, doubt: Doubt | None) -> None:
    if doubt is not None:
        paths["doubt"] = doubt.doubt
        paths["disagreement"] = doubt.disagreement
        paths["unfamiliarity"] = doubt.unfamiliarity


def layer_labels(layers: Sequence[LayerAnalysis]) -> tuple[str, ...]:
    """The names the paths table and the figures give the layers (see :attr:`LayerAnalysis.short_name`)."""
    return tuple(layer.short_name or layer.name for layer in layers)


def full_name(short: str, full: str) -> str:
    """A layer's short name, with its full path beside it when they differ."""
    return short if short == full else f"{short} ({full})"
