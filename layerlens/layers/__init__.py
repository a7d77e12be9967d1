"""Per-layer math on arrays: each layer's feature space (standardise + PCA), its clusters and their number,
its 2-D map, and how far apart the classes are in it. Nothing here knows of models or pages.
"""

from layerlens.layers._alignment import agreement, decision_alignment, extend_path_ids, heldout_alignment, majority
from layerlens.layers._clusters import (
    AUTO_K_RANGE,
    LEAD_P_VALUE,
    LEAD_RATIO,
    NO_CLASS_INFORMATION,
    LayerClusters,
    LayerSpace,
    cluster_layer,
    fit_space,
    reduce_features,
)
from layerlens.layers._fit import FIT_SAMPLE_MAX, LayerFit, Placement, fit_sample, own_rows
from layerlens.layers._kchoice import (
    ALIGNMENT_TOLERANCE,
    DECISION_GAIN,
    Choice,
    choose_faithful,
    choose_fixed,
    choose_silhouette,
    fit_kmeans,
    nearest_center,
    sample_rows,
)
from layerlens.layers._maps import LayerMap, ProjectionFallbackWarning, map_centers, project_2d, project_with_fit
from layerlens.layers._separability import (
    SEPARABILITY_SAMPLES,
    Separability,
    loo_knn_predict,
    separability,
    without_self,
)

__all__ = [
    "FIT_SAMPLE_MAX",
    "SEPARABILITY_SAMPLES",
    "ALIGNMENT_TOLERANCE",
    "AUTO_K_RANGE",
    "Choice",
    "DECISION_GAIN",
    "LEAD_P_VALUE",
    "LEAD_RATIO",
    "LayerClusters",
    "LayerFit",
    "LayerMap",
    "LayerSpace",
    "NO_CLASS_INFORMATION",
    "Placement",
    "ProjectionFallbackWarning",
    "Separability",
    "agreement",
    "choose_faithful",
    "choose_fixed",
    "choose_silhouette",
    "cluster_layer",
    "decision_alignment",
    "extend_path_ids",
    "fit_kmeans",
    "fit_sample",
    "fit_space",
    "heldout_alignment",
    "loo_knn_predict",
    "majority",
    "map_centers",
    "nearest_center",
    "own_rows",
    "project_2d",
    "project_with_fit",
    "reduce_features",
    "sample_rows",
    "separability",
    "without_self",
]
