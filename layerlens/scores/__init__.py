"""Scores of the predictions: metrics (with the check of the class order and accuracy by group), doubt, the
signs that an analysis cannot be right, and which images get a page of their own.
"""

from layerlens.scores._calibration import CALIBRATION_BINS, Calibration, calibration
from layerlens.scores._doubt import (
    APPROXIMATE_FROM,
    DEFAULT_NEIGHBOURS,
    SEARCHES,
    UNFAMILIAR_AT,
    Doubt,
    Familiarity,
    disagreement,
    doubt_scores,
    familiarity,
    layer_weights,
    mistake_calibration,
    mistake_probability,
    separation,
)
from layerlens.scores._matching import best_class_matching
from layerlens.scores._metrics import ClassificationMetrics, classification_metrics
from layerlens.scores._pages import (
    DOUBTFUL_SHOWN,
    NEIGHBOURS,
    UNSURE_SHOWN,
    doubtful_correct,
    gallery_order,
    page_images,
)
from layerlens.scores._problems import COLLAPSE_SHARE, MIN_IMAGES, problems

__all__ = [
    "APPROXIMATE_FROM",
    "CALIBRATION_BINS",
    "COLLAPSE_SHARE",
    "Calibration",
    "ClassificationMetrics",
    "DEFAULT_NEIGHBOURS",
    "DOUBTFUL_SHOWN",
    "Doubt",
    "Familiarity",
    "MIN_IMAGES",
    "NEIGHBOURS",
    "SEARCHES",
    "UNFAMILIAR_AT",
    "UNSURE_SHOWN",
    "best_class_matching",
    "calibration",
    "classification_metrics",
    "disagreement",
    "doubt_scores",
    "doubtful_correct",
    "familiarity",
    "gallery_order",
    "layer_weights",
    "mistake_calibration",
    "mistake_probability",
    "page_images",
    "problems",
    "separation",
]
