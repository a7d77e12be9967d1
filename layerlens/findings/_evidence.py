"""What the findings are computed from: the small per-image columns an analysis holds, as one bundle."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from layerlens.scores import Calibration

__all__ = ["Evidence", "LayerEvidence"]


@dataclass(frozen=True, eq=False)
class LayerEvidence:
    """One analysed layer as the findings see it.

    Attributes
    ----------
    name : str
        The layer's short name (as tables and figures show it).
    clusters : ndarray of shape (N,), int64
        The cluster of each analysed image.
    leading : ndarray of shape (k,), int64
        The class that leads each cluster, -1 for a mixed one.
    knn_accuracy : float or None
        Leave-one-out k-NN accuracy of the true classes here (None without labels).
    reduced : ndarray of shape (N, d), float32
        The images in the layer's reduced space.
    reference : ndarray of shape (R, d) or None
        The reference images in that space, when the clusters were fitted on a reference.
    """

    name: str
    clusters: np.ndarray
    leading: np.ndarray
    knn_accuracy: float | None
    reduced: np.ndarray
    reference: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"<LayerEvidence {self.name!r}: {len(self.clusters):,} images, {len(self.leading)} clusters>"


@dataclass(frozen=True, eq=False)
class Evidence:
    """Everything the findings read, all of it already computed by the analysis (no model runs again).

    Attributes
    ----------
    class_names : tuple of str
        Name of each class.
    probabilities : ndarray of shape (N, K)
        Class probabilities of the analysed images.
    labels : ndarray of shape (N,) or None
        True classes; None when unknown.
    layers : tuple of LayerEvidence
        The analysed layers in depth order.
    paths : ndarray of shape (N,), object
        The path id of each image (``"c1-c3-c2"``).
    knn_samples : int
        How many images the k-NN accuracies were measured on (for their intervals).
    metadata : DataFrame or None
        Metadata columns, as text, one row per image.
    properties : DataFrame or None
        Image properties measured during the pass (mean intensity, contrast, bright area).
    calibration : Calibration or None
        The reliability of the confidence, with the ECE's interval.
    reference_labels : ndarray of shape (R,) or None
        True classes of the reference images.
    probe_probabilities : ndarray of shape (P, K) or None
        What the model said of each probe.
    seed : int
        Seed of the resamplings.
    """

    class_names: tuple[str, ...]
    probabilities: np.ndarray
    labels: np.ndarray | None
    layers: tuple[LayerEvidence, ...]
    paths: np.ndarray
    knn_samples: int
    metadata: pd.DataFrame | None = None
    properties: pd.DataFrame | None = None
    calibration: Calibration | None = None
    reference_labels: np.ndarray | None = None
    probe_probabilities: np.ndarray | None = None
    seed: int = 0

    def __repr__(self) -> str:
        labels = "labelled" if self.labels is not None else "unlabelled"
        return (
            f"<Evidence: {len(self.probabilities):,} {labels} images, {len(self.class_names)} classes, "
            f"{len(self.layers)} layers>"
        )

    # Cached: the findings read them image by image, and an argmax over a million rows is not free.
    @cached_property
    def predictions(self) -> np.ndarray:
        """(N,) predicted class of each image."""
        return self.probabilities.argmax(axis=1)

    @cached_property
    def confidence(self) -> np.ndarray:
        """(N,) probability of each image's predicted class."""
        return self.probabilities.max(axis=1)

    @cached_property
    def wrong(self) -> np.ndarray | None:
        """(N,) bool: the image is misclassified; None without labels."""
        return None if self.labels is None else self.predictions != self.labels
