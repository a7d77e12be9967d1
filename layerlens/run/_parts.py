"""The parts of an analysis: its settings, each layer's results, the reference set and the probes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from layerlens.layers import LayerClusters, Separability
from layerlens.scores import Doubt

__all__ = ["AnalysisSettings", "LayerAnalysis", "ProbeSet", "ReferenceSet"]


@dataclass(frozen=True)
class AnalysisSettings:
    """The options an analysis ran with (enough to run it again).

    ``pixel_scale`` is the factor the images were multiplied by on their way into the model, as
    resolved (see :func:`analyze`), ``pixel_scale_reason`` says why in a sentence, and ``preprocess``
    names what was applied after it (``preprocess=``), if anything. ``reference`` names the reference set
    the clusters were fitted on (None: the analysed images themselves); ``stability`` says whether
    paths were measured under noise; ``explain`` is how many images were explained, by
    ``explain_methods``, of what ``explain_asked`` asked (a number, ``"auto"`` or ``"mistakes"``)
    within ``explain_budget`` seconds (None: no limit); ``explain_note`` says so in a sentence, and
    why fewer when fewer. For volumes, ``axes`` names the order of their three spatial axes (a
    permutation of ``"DHW"``, D the axial axis; None for images) and ``volume_view`` how one picture shows
    each (``"slice"``: the central axial slice; ``"mip"``: the maximum-intensity projection).
    ``engine`` names where the pass ran (``"local"`` or ``"ray"``) and ``engine_note`` how it went on a
    cluster (workers, blocks run and found in the work folder).
    """

    n_clusters: int | str | dict[str, int | str]
    projection: str
    batch_size: int
    seed: int
    conv_features: str
    negative_class: str | None
    pixel_scale: float = 1.0
    reference: str | None = None
    stability: bool = False
    explain: int = 0
    explain_methods: tuple[str, ...] = ()
    pixel_scale_reason: str = ""
    preprocess: str | None = None
    explain_asked: int | str = 0
    explain_budget: float | None = None
    explain_note: str = ""
    axes: str | None = None
    volume_view: str = "slice"
    engine: str = "local"
    engine_note: str = ""

    def __repr__(self) -> str:
        # The sentences (why this pixel scale, how many explanations) are left to their fields.
        parts = [
            f"n_clusters={self.n_clusters!r}",
            f"projection={self.projection!r}",
            f"batch_size={self.batch_size}",
            f"seed={self.seed}",
            f"pixel_scale={self.pixel_scale:g}",
        ]
        if self.preprocess is not None:
            parts.append(f"preprocess={self.preprocess!r}")
        if self.reference is not None:
            parts.append(f"reference={self.reference!r}")
        if self.negative_class is not None:
            parts.append(f"negative_class={self.negative_class!r}")
        if self.stability:
            parts.append("stability=True")
        if self.engine != "local":
            parts.append(f"engine={self.engine!r}")
        if self.explain:
            parts.append(f"explain={self.explain} by {'/'.join(self.explain_methods)}")
        return f"AnalysisSettings({', '.join(parts)})"


@dataclass(frozen=True, eq=False)
class LayerAnalysis:
    """Everything computed for one layer.

    Attributes
    ----------
    name, kind : str
        Layer name (``"outer/inner"`` inside a nested model) and class name.
    output_shape : tuple
        The layer's output shape for one image.
    reduction : str
        How each activation map became a vector (e.g. ``"channel mean"``).
    features : ndarray of shape (N, D), float32
        The reduced activations.
    reduced : ndarray of shape (N, d), float32
        Standardised, PCA-reduced features (d <= 50): the space of the
        clusters, the map and the separability measures.
    clusters : LayerClusters
        k-means clusters with names, dominant classes and purity.
    coords : ndarray of shape (N, 2), float32
        2-D map of the images.
    map_centers : ndarray of shape (k, 2), float32
        Map position of each cluster (mean of its members).
    separability : Separability or None
        How well the true classes separate here (None without labels).
    parallel_to_previous : bool
        True when this layer does not receive the output of the analysed layer
        before it: the two run side by side in parallel branches.
    noisy_clusters : dict of float to ndarray of shape (N,), int64
        With ``stability=True``: per noise level, the cluster of each image's
        noisy copy.
    short_name : str
        How tables and figures name the layer: for a layer inside a nested
        model, the shortest end of its path that no other analysed layer
        shares (``"block_15_add"``); empty for runs stored before layerlens
        shortened names (``name`` is used then).
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    reduction: str
    features: np.ndarray
    reduced: np.ndarray
    clusters: LayerClusters
    coords: np.ndarray
    map_centers: np.ndarray
    separability: Separability | None
    parallel_to_previous: bool = False
    noisy_clusters: dict[float, np.ndarray] = field(default_factory=dict)
    short_name: str = ""

    @property
    def centers(self) -> np.ndarray:
        """Deprecated name of :attr:`map_centers` (k-means centres are ``clusters.centers``)."""
        warnings.warn(
            "LayerAnalysis.centers is deprecated: use LayerAnalysis.map_centers.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.map_centers

    @property
    def noisy_labels(self) -> dict[float, np.ndarray]:
        """Deprecated name of :attr:`noisy_clusters` (they are clusters, not labels)."""
        warnings.warn(
            "LayerAnalysis.noisy_labels is deprecated: use LayerAnalysis.noisy_clusters.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.noisy_clusters

    def __repr__(self) -> str:
        shape = "x".join("?" if d is None else str(d) for d in self.output_shape)
        scores = ""
        if self.separability is not None:
            s = self.separability
            scores = f", k-NN accuracy {s.knn_accuracy:.3f}, silhouette {s.silhouette:.3f}"
        branch = ", parallel to the previous layer" if self.parallel_to_previous else ""
        return (
            f"<LayerAnalysis {self.name!r} ({self.kind}, output {shape}): {self.features.shape[1]} features "
            f"({self.reduction}), {self.clusters.k} clusters{scores}{branch}>"
        )


@dataclass(frozen=True, eq=False)
class ReferenceSet:
    """The images the layers' spaces and clusters were fitted on (e.g. the training images), as a run keeps them.

    A run keeps the reference's reduced features, clusters and map positions, and small copies of the
    reference images nearest to the images with a page (unless ``keep_reference_images=False``).

    Attributes
    ----------
    name : str
        Name of the reference set.
    labels : ndarray of shape (R,), int64
        True class of each reference image.
    predictions : ndarray of shape (R,), int64
        The model's prediction for each reference image.
    reduced : tuple of ndarray of shape (R, d), float32
        Per layer, the reference images in the layer's reduced space.
    clusters : tuple of ndarray of shape (R,), int64
        Per layer, the cluster of each reference image.
    coords : tuple of ndarray of shape (R, 2), float32
        Per layer, the reference images' map positions.
    thumbnails : dict of int to ndarray of shape (h, w, C), uint8
        Small copies of the reference images that are some page image's nearest neighbours (see
        :meth:`Analysis.reference_neighbours`), by position; none with ``keep_reference_images=False``.
    files : tuple of str or None
        The file of each reference image, when they came from files.
    """

    name: str
    labels: np.ndarray
    predictions: np.ndarray
    reduced: tuple[np.ndarray, ...]
    clusters: tuple[np.ndarray, ...]
    coords: tuple[np.ndarray, ...]
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)
    files: tuple[str, ...] | None = None

    @property
    def n_images(self) -> int:
        """Number of reference images."""
        return len(self.labels)

    def __repr__(self) -> str:
        return f"<ReferenceSet {self.name!r}: {self.n_images:,} images, {len(self.clusters)} layers>"


class _Predicted:
    """What follows from the class probabilities of a set of images: their count, predictions and confidence."""

    probabilities: np.ndarray

    @property
    def n_images(self) -> int:
        """Number of images."""
        return len(self.probabilities)

    @property
    def predictions(self) -> np.ndarray:
        """(N,) int64 predicted class of each image."""
        return self.probabilities.argmax(axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) float32 probability of each image's predicted class."""
        return self.probabilities.max(axis=1)


@dataclass(frozen=True, eq=False)
class ProbeSet(_Predicted):
    """Images that may belong to no class, shown to the model beside the analysed ones (``probes=``).

    They went through the same pass and were placed in every layer's space, clusters and map; they
    have predictions, paths and doubt, and no part in any metric. In the paths table of the analysis
    they are the rows marked ``probe``, numbered after the analysed images (probe ``j`` is row
    ``n_images + j``).

    Attributes
    ----------
    name : str
        Name of the probe set.
    probabilities : ndarray of shape (P, K), float32
        What the model said of each probe.
    thumbnails : ndarray of shape (P, h, w, C), uint8
        Small copies of the probes.
    files : tuple of str or None
        The file of each probe, when they came from files.
    reduced : tuple of ndarray of shape (P, d), float32
        Per layer, the probes in the layer's reduced space.
    clusters : tuple of ndarray of shape (P,), int64
        Per layer, the cluster each probe was placed in (nearest centre).
    coords : tuple of ndarray of shape (P, 2), float32
        Per layer, the probes' map positions.
    doubt : Doubt
        How far each probe's prediction can be trusted (see :class:`~layerlens.scores._doubt.Doubt`).
    """

    name: str
    probabilities: np.ndarray
    thumbnails: np.ndarray
    files: tuple[str, ...] | None
    reduced: tuple[np.ndarray, ...]
    clusters: tuple[np.ndarray, ...]
    coords: tuple[np.ndarray, ...]
    doubt: Doubt

    def __repr__(self) -> str:
        return f"<ProbeSet {self.name!r}: {self.n_images:,} probes, median doubt {np.median(self.doubt.doubt):.2f}>"
