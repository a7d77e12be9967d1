"""``layerlens.analyze``: one pass through the model, then clusters, maps, paths and metrics per layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens._labels import check_labels, resolve_class_names, warn_about_class_order
from layerlens._validation import check_seed
from layerlens.cluster import LayerClusters, cluster_layer, reduce_features
from layerlens.datasets import ImageSet
from layerlens.exceptions import InvalidInputError
from layerlens.metrics import ClassificationMetrics, classification_metrics
from layerlens.outputs import detect_head, to_probabilities
from layerlens.paths import PathStatistics, build_paths, path_statistics
from layerlens.project import PROJECTIONS, map_centers, project_2d
from layerlens.separability import Separability, separability

if TYPE_CHECKING:
    import keras
    import plotly.graph_objects as go

__all__ = ["Analysis", "AnalysisSettings", "LayerAnalysis", "ModelSummary", "analyze"]


@dataclass(frozen=True)
class ModelSummary:
    """What a run records of the model it analysed."""

    name: str
    head: str
    input_shape: tuple[int | None, ...]
    n_parameters: int


@dataclass(frozen=True)
class AnalysisSettings:
    """The options an analysis ran with (enough to run it again).

    ``pixel_scale`` is the factor the images were multiplied by on their way into the model, as
    resolved (``"auto"`` gives 255 or 1, see :func:`analyze`).
    """

    n_clusters: int | str
    projection: str
    batch_size: int
    seed: int
    conv_features: str
    negative_class: str | None
    pixel_scale: float = 1.0


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
    centers : ndarray of shape (k, 2), float32
        Map position of each cluster (mean of its members).
    separability : Separability or None
        How well the true classes separate here (None without labels).
    parallel_to_previous : bool
        True when this layer does not receive the output of the analysed layer
        before it: the two run side by side in parallel branches.
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    reduction: str
    features: np.ndarray
    reduced: np.ndarray
    clusters: LayerClusters
    coords: np.ndarray
    centers: np.ndarray
    separability: Separability | None
    parallel_to_previous: bool = False

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
class Analysis:
    """The result of :func:`analyze`: per-layer clusters and maps, paths and metrics of one model on a set of images.

    Save it with :meth:`save` and read it back with :func:`layerlens.load`
    (which needs no TensorFlow).

    Attributes
    ----------
    name : str
        Name of the run.
    class_names : tuple of str
        Name of each class, in the order of the model's outputs.
    model : ModelSummary
        Name, head kind, input shape and size of the model.
    settings : AnalysisSettings
        The options the analysis ran with, the pixel scale used included.
    labels : ndarray of shape (N,), int64, or None
        True class of each image; None when unknown.
    probabilities : ndarray of shape (N, K), float32
        Class probabilities (a single sigmoid unit becomes two columns).
    layers : tuple of LayerAnalysis
        Per analysed layer, in depth order.
    paths : DataFrame
        One row per image, indexed by its position in the analysed set
        (``"image"``, which also numbers its thumbnail): ``file`` (the image's
        file, missing when the images did not come from files), ``true`` and
        ``predicted`` class, ``confidence``, ``correct``, the cluster in every
        layer (one column per layer, named after it), ``path`` (the cluster
        numbers joined, e.g. ``"c1-c3-c2"``) and ``layers_agreeing``: in how
        many layers the image sat in a cluster dominated by the class it was
        finally predicted as. Few layers agreeing with a confident prediction
        marks an image the network decided late, against what its layers
        showed; see :func:`layerlens.paths.build_paths`.
    path_stats : PathStatistics
        Number of distinct paths, their purity and how well they predict the
        model's decisions.
    metrics : ClassificationMetrics or None
        Accuracy and per-class scores with intervals; None without labels.
    thumbnails : ndarray of shape (N, h, w, C), uint8
        Small copies of the images.
    files : tuple of str or None
        The file of each image, when the images came from files.
    """

    name: str
    class_names: tuple[str, ...]
    model: ModelSummary
    settings: AnalysisSettings
    labels: np.ndarray | None
    probabilities: np.ndarray
    layers: tuple[LayerAnalysis, ...]
    paths: pd.DataFrame
    path_stats: PathStatistics
    metrics: ClassificationMetrics | None
    thumbnails: np.ndarray
    files: tuple[str, ...] | None = None

    @property
    def n_images(self) -> int:
        """Number of images analysed."""
        return len(self.probabilities)

    @property
    def predictions(self) -> np.ndarray:
        """(N,) int64 predicted class of each image."""
        return self.probabilities.argmax(axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) float32 probability of the predicted class."""
        return self.probabilities.max(axis=1)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the analysed layers, in depth order."""
        return tuple(layer.name for layer in self.layers)

    @property
    def separability(self) -> pd.DataFrame | None:
        """Separability by depth: one row per layer (silhouette, knn_accuracy, variance_ratio); None without labels."""
        if any(layer.separability is None for layer in self.layers):
            return None  # no labels, or a single class among them
        rows = [layer.separability.as_floats() for layer in self.layers]
        return pd.DataFrame(rows, index=pd.Index(self.layer_names, name="layer"), dtype=np.float64)

    def layer(self, name: str) -> LayerAnalysis:
        """The :class:`LayerAnalysis` of layer ``name``; the error lists the analysed layers."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InvalidInputError(f"layer_name: expected one of {list(self.layer_names)}; received {name!r}.")

    def paths_figure(self, *, title: str | None = None) -> go.Figure:
        """Parallel-categories diagram of every image's path through the layers' clusters to its prediction."""
        from layerlens.figures import paths_figure

        return paths_figure(
            self.paths,
            self.layer_names,
            self.class_names,
            parallel=[layer.parallel_to_previous for layer in self.layers],
            title=title or f"{self.name}: paths",
        )

    def layer_figure(self, layer_name: str, *, title: str | None = None) -> go.Figure:
        """2-D map of one layer, coloured by cluster, misclassified images marked."""
        from layerlens.figures import layer_figure

        layer = self.layer(layer_name)
        return layer_figure(
            layer.coords,
            self.paths,
            layer.name,
            self.class_names,
            centers=layer.centers,
            title=title or f"{self.name}: {layer.name} ({self.settings.projection.upper()})",
        )

    def separability_figure(self, *, title: str | None = None) -> go.Figure:
        """Silhouette, k-NN accuracy and variance explained by the true classes, against depth."""
        from layerlens.figures import separability_figure

        table = self.separability
        if table is None:
            raise InvalidInputError(
                "labels: separability needs true labels of at least two classes, and this analysis has none."
            )
        return separability_figure(
            self.layer_names,
            table["silhouette"].tolist(),
            table["knn_accuracy"].tolist(),
            table["variance_explained"].tolist(),
            title=title or f"{self.name}: separability by depth",
        )

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write this analysis to the run folder ``path`` (see :mod:`layerlens.store`); returns the folder.

        An earlier run in ``path`` is replaced unless ``overwrite`` is False; a folder holding anything
        else is never touched.
        """
        from layerlens.store import save_analysis

        return save_analysis(self, path, overwrite=overwrite)

    def __repr__(self) -> str:
        accuracy = "" if self.metrics is None else f", accuracy {self.metrics.accuracy:.3f}"
        layers = ", ".join(f"{layer.name}(k={layer.clusters.k})" for layer in self.layers)
        return (
            f"<Analysis {self.name!r}: {self.n_images} images, {len(self.class_names)} classes{accuracy}; "
            f"{len(self.layers)} layers: {layers}>"
        )


def analyze(
    model: keras.Model,
    images: Any,
    labels: Sequence[int] | Sequence[str] | np.ndarray | None = None,
    *,
    class_names: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    n_clusters: int | str = "auto",
    projection: str = "pca",
    batch_size: int = 64,
    seed: int = 0,
    name: str | None = None,
    progress: bool = True,
    conv_features: str = "mean",
    negative_class: str | None = None,
    pixel_scale: float | str = "auto",
) -> Analysis:
    """Analyse what a trained Keras image classifier does with a set of images, layer by layer.

    The images go through the model once, in batches; each chosen layer's
    activation is reduced on the fly to a small vector per image. Per layer
    the vectors are standardised and PCA-reduced, clustered with k-means and
    mapped to 2-D; every image's path through the clusters, the metrics of
    the predictions and the separability of the classes by depth follow.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional classifier with one image input:
        softmax, a single sigmoid unit (binary) or logits. Nested models
        (a base network inside a Sequential) are entered.
    images : ndarray, ImageSet, tf.data.Dataset or iterable of batches
        ``(N, H, W, C)`` images as the model expects them, an
        :class:`~layerlens.datasets.ImageSet` (its labels, class names, name
        and file names are used), or batches ``x`` / ``(x, y)``.
    labels : array-like of shape (N,), optional
        True class of each image, as class indices (ints, bools, whole floats
        or one-hot rows) or as class names (str, looked up in
        ``class_names``); taken from ``images`` when it carries them.
        Without labels, clusters are named by predicted class and the
        accuracy metrics and separability are left out.
    class_names : sequence of str, optional
        One name per class, in the order of the model's outputs (two for a
        single sigmoid unit); defaults to the ImageSet's names or
        ``"class 0"``, ``"class 1"``, ... When ``images`` is an ImageSet
        whose classes are the same names in another order (class folders are
        read in sorted order), its labels are renumbered to this order.
    layers : sequence of str, optional
        Layers to analyse (``"outer/inner"`` inside nested models); default:
        the layers that transform on the model's trunk (a merge layer stands
        for the parallel branches it joins), at most 8 spread through the depth.
    n_clusters : int or "auto", default="auto"
        Clusters per layer; "auto" picks k in 2..12 by silhouette.
    projection : {"pca", "umap"}, default="pca"
        How each layer is mapped to 2-D. UMAP is slower and compiles on
        first use (15-60 s).
    batch_size : int, default=64
        Images per forward pass (arrays and ImageSets).
    seed : int, default=0
        Seed of every random choice (k-means, subsamples, projections, UMAP,
        bootstrap); the same inputs and seed give the same analysis.
    name : str, optional
        Name of the run; defaults to the ImageSet's name or the model's.
    progress : bool, default=True
        Show a progress bar during the forward pass.
    conv_features : {"mean", "mean_max"}, default="mean"
        Reduction of convolution maps: channel means, or means and maxima.
    negative_class : str, optional
        Class meaning "no finding" (e.g. ``"no_tumor"``): adds sensitivity
        and specificity of "any lesion" against it.
    pixel_scale : float or "auto", default="auto"
        Images are multiplied by this on their way into the model. ``"auto"``
        gives 255 for float images in [0, 1] (what layerlens' loaders return)
        and a model that starts with ``Rescaling(1/255)``, which expects
        0..255, and 1 otherwise. The factor used is recorded in
        ``settings.pixel_scale``.

    Returns
    -------
    Analysis

    Raises
    ------
    InvalidTypeError
        If ``model`` is not a Keras model with a readable graph, or
        ``images`` has an unusable type.
    InvalidInputError
        If shapes, labels, class names, layer names or options are invalid;
        the message names the argument and what was expected.

    Warns
    -----
    PixelScaleWarning
        If the images' pixel range disagrees with what the model expects
        (see :func:`layerlens.extract.extract`).
    ClassOrderWarning
        If the predictions match the labels far better (by 0.2 of accuracy or
        more) once the classes are renamed: the class names are then most
        likely in another order than the model's outputs.

    Examples
    --------
    >>> import layerlens as ll                                   # doctest: +SKIP
    >>> a = ll.analyze(model, test_images, test_labels)          # doctest: +SKIP
    >>> a.paths_figure().show()                                  # doctest: +SKIP
    """
    _check_options(n_clusters, projection, seed)
    from layerlens.extract import extract, output_units

    n_classes = max(output_units(model), 2)
    image_set = images if isinstance(images, ImageSet) else None
    class_names, renumber = resolve_class_names(class_names, image_set, n_classes)
    if negative_class is not None and negative_class not in class_names:
        raise InvalidInputError(f"negative_class: expected one of {list(class_names)}; received {negative_class!r}.")
    if labels is not None:
        known_n = len(images) if isinstance(images, (np.ndarray, ImageSet)) else None
        labels = check_labels(labels, class_names, known_n, "labels")
    extraction = extract(
        model,
        images,
        layers=layers,
        batch_size=batch_size,
        conv_features=conv_features,
        seed=seed,
        progress=progress,
        pixel_scale=pixel_scale,
    )
    n_images = len(extraction.outputs)
    if n_images < 3:
        raise InvalidInputError(f"images: expected at least 3 images to cluster; received {n_images}.")
    if n_clusters != "auto" and n_clusters >= n_images:
        raise InvalidInputError(f"n_clusters: expected fewer clusters than images ({n_images}); received {n_clusters}.")
    if labels is None and extraction.labels is not None:
        found = extraction.labels if renumber is None else renumber[extraction.labels]
        labels = check_labels(found, class_names, n_images, "images (its labels)")
    elif labels is not None and len(labels) != n_images:
        raise InvalidInputError(f"labels: expected {n_images} labels, one per image; received {len(labels)}.")
    head = detect_head(extraction.output_activation, extraction.outputs[:512])
    k = n_clusters if n_clusters == "auto" else int(n_clusters)
    settings = AnalysisSettings(
        k, projection, int(batch_size), int(seed), conv_features, negative_class, extraction.pixel_scale
    )
    summary = ModelSummary(model.name, head, tuple(model.inputs[0].shape[1:]), int(model.count_params()))
    default_name = image_set.name if image_set is not None else model.name
    analysis = _compute_analysis(
        extraction,
        to_probabilities(extraction.outputs, head),
        labels,
        class_names,
        settings,
        summary,
        name=name or default_name,
        files=image_set.files if image_set is not None else None,
    )
    if analysis.metrics is not None:
        warn_about_class_order(analysis.metrics)
    return analysis


def _compute_analysis(
    extraction: Any,
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    settings: AnalysisSettings,
    summary: ModelSummary,
    *,
    name: str,
    files: tuple[str, ...] | None,
) -> Analysis:
    """Everything after the forward pass; arrays only, inputs assumed valid."""
    predictions = probabilities.argmax(axis=1)
    reference = labels if labels is not None else predictions
    can_separate = labels is not None and len(np.unique(labels)) >= 2
    layers = []
    for i, (info, features) in enumerate(zip(extraction.layers, extraction.features)):
        reduced = reduce_features(features, seed=settings.seed)
        clusters = cluster_layer(reduced, reference, class_names, n_clusters=settings.n_clusters, seed=settings.seed)
        coords = project_2d(reduced, method=settings.projection, seed=settings.seed)
        layers.append(
            LayerAnalysis(
                name=info.name,
                kind=info.kind,
                output_shape=info.output_shape,
                reduction=extraction.reductions[i],
                features=features,
                reduced=reduced,
                clusters=clusters,
                coords=coords,
                centers=map_centers(coords, clusters.labels, clusters.k),
                separability=(
                    separability(reduced, labels, n_neighbors=min(5, len(labels) - 1), seed=settings.seed)
                    if can_separate
                    else None
                ),
                parallel_to_previous=extraction.parallel[i],
            )
        )
    paths = paths_table(layers, probabilities, labels, class_names, files)
    metrics = None
    if labels is not None:
        metrics = classification_metrics(
            labels,
            predictions,
            probabilities,
            class_names,
            negative_class=settings.negative_class,
            seed=settings.seed,
        )
    return Analysis(
        name=name,
        class_names=class_names,
        model=summary,
        settings=settings,
        labels=labels,
        probabilities=probabilities,
        layers=tuple(layers),
        paths=paths,
        path_stats=path_statistics(paths),
        metrics=metrics,
        thumbnails=extraction.thumbnails,
        files=files,
    )


def paths_table(
    layers: Sequence[LayerAnalysis],
    probabilities: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    files: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The per-image paths DataFrame of an analysis (see :func:`layerlens.paths.build_paths`)."""
    return build_paths(
        [layer.clusters.labels for layer in layers],
        [layer.clusters.names for layer in layers],
        [layer.clusters.dominant for layer in layers],
        [layer.name for layer in layers],
        predicted=probabilities.argmax(axis=1),
        confidence=probabilities.max(axis=1),
        class_names=class_names,
        true=labels,
        files=files,
    )


def _check_options(n_clusters: Any, projection: Any, seed: Any) -> None:
    """Cheap checks that fail before the forward pass rather than after it."""
    valid_k = n_clusters == "auto" or (
        isinstance(n_clusters, (int, np.integer)) and not isinstance(n_clusters, bool) and n_clusters >= 2
    )
    if not valid_k:
        raise InvalidInputError(f"n_clusters: expected 'auto' or an integer >= 2; received {n_clusters!r}.")
    if projection not in PROJECTIONS:
        raise InvalidInputError(f"projection: expected one of {PROJECTIONS}; received {projection!r}.")
    check_seed(seed)
