"""Paths of images through the per-layer clusters: the per-image paths table, path ids, and the measures that
summarise a set of paths.
"""

from layerlens.paths._statistics import PathStatistics, path_statistics
from layerlens.paths._table import (
    FIXED_COLUMNS,
    PATH_PATTERN,
    build_paths,
    check_cluster_classes,
    layer_columns,
    path_id_strings,
    path_ids,
    probe_rows,
)

__all__ = [
    "FIXED_COLUMNS",
    "PATH_PATTERN",
    "PathStatistics",
    "build_paths",
    "check_cluster_classes",
    "layer_columns",
    "path_id_strings",
    "path_ids",
    "path_statistics",
    "probe_rows",
]
