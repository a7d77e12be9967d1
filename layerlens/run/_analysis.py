"""``layerlens.analyze``: one pass through the model, then clusters, maps, paths and metrics per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens._util.validation import check_seed
from layerlens._util.warn import warn_user
from layerlens.datasets import ImageStream
from layerlens.exceptions import InvalidInputError, UnreliableAnalysisWarning
from layerlens.explanations import DEFAULT_METHODS, Explanation, check_explain
from layerlens.layers import K_RULES, PROJECTIONS, LayerClusters, Separability
from layerlens.model import detect_head, short_layer_names, to_probabilities
from layerlens.paths import FIXED_COLUMNS, PathStatistics, build_paths, path_id_strings
from layerlens.run._data import check_files, data_facts, split_file_column
from layerlens.run._labels import (
    check_labels,
    precheck_probes,
    precheck_reference,
    warn_about_class_order,
)
from layerlens.run._metadata import check_metadata
from layerlens.run._pictures import PICTURES_MAX
from layerlens.scores import ClassificationMetrics, Doubt

if TYPE_CHECKING:
    import keras
    import plotly.graph_objects as go

__all__ = [
    "NOISE_LEVELS",
    "Analysis",
    "AnalysisSettings",
    "LayerAnalysis",
    "LayerRow",
    "ModelSummary",
    "ProbeSet",
    "ReferenceSet",
    "analyze",
    "path_ids",
    "paths_table",
]

#: The noise levels of ``stability=True``: standard deviations, as shares of the images' pixel range.
NOISE_LEVELS: tuple[float, ...] = (0.02, 0.05)


@dataclass(frozen=True)
class LayerRow:
    """One layer of the analysed model, as the architecture table of a run shows it."""

    name: str
    kind: str
    output_shape: tuple[int | None, ...] | None
    n_parameters: int


@dataclass(frozen=True)
class ModelSummary:
    """What a run records of the model it analysed: its name, kind of output, input, size and layers.

    ``layers`` lists every layer in execution order (those of a nested model as ``"outer/inner"``);
    runs written before layerlens recorded it have none. ``file`` is the model file the analysis
    loaded, when it loaded one (the command line does), for the commands the site suggests.
    """

    name: str
    head: str
    input_shape: tuple[int | None, ...]
    n_parameters: int
    layers: tuple[LayerRow, ...] = ()
    file: str | None = None


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
    why fewer when fewer.
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
    noisy_labels : dict of float to ndarray of shape (N,), int64
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
    centers: np.ndarray
    separability: Separability | None
    parallel_to_previous: bool = False
    noisy_labels: dict[float, np.ndarray] = field(default_factory=dict)
    short_name: str = ""

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
        return f"<ReferenceSet {self.name!r}: {self.n_images} images, {len(self.clusters)} layers>"


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
        return f"<ProbeSet {self.name!r}: {self.n_images} probes, median doubt {np.median(self.doubt.doubt):.2f}>"


@dataclass(frozen=True, eq=False)
class Analysis(_Predicted):
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
        showed; see :func:`layerlens.paths._table.build_paths`. Then ``doubt``,
        ``disagreement`` and ``unfamiliarity`` (see ``doubt``). With probes,
        their rows follow the images (numbered from N on, without a true
        class) and a ``probe`` column is True for them, False for the images.
    path_statistics : PathStatistics
        Number of distinct paths, their purity, how well they predict the
        model's decisions (in-sample and held out) and, with
        ``stability=True``, how many survive noise.
    metrics : ClassificationMetrics or None
        Accuracy and per-class scores with intervals; None without labels.
    thumbnails : ndarray of shape (N, h, w, C), uint8
        Small copies of the images.
    files : tuple of str or None
        The file of each image, when the images came from files.
    reference : ReferenceSet or None
        The reference set the clusters were fitted on, when one was given.
    noisy_predictions : dict of float to ndarray of shape (N,), int64
        With ``stability=True``: per noise level, the prediction for each
        image's noisy copy.
    explanations : tuple of Explanation
        Explanations of the images chosen by ``explain`` (each names its
        image by ``image_index``), image by image in the order chosen
        (mistakes first), each image's methods in the order asked for.
    explained_images : dict of int to ndarray of shape (H, W, 1 or 3), uint8
        The explained images at full resolution, as displayed, by image index,
        in the order chosen (mistakes first).
    created : str or None
        The day the analysis ran (UTC, ``"YYYY-MM-DD"``); None for runs written
        before layerlens recorded it.
    doubt : Doubt or None
        How far each prediction can be trusted (:mod:`layerlens.scores._doubt`): the
        chance of a mistake read from the calibrated confidence, the image's
        unfamiliarity in the early layers, and the disagreement of its nearest
        reference images; also the ``doubt``, ``disagreement`` and
        ``unfamiliarity`` columns of ``paths``. None for runs written before
        layerlens measured it.
    probes : ProbeSet or None
        The probes (``probes=``): images that may belong to no class, with
        their predictions, places in every layer and doubt. They are in
        ``paths`` (``probe`` is True) and in no metric.
    metadata : DataFrame or None
        What ``analyze(metadata=...)`` was given of each image (patient id,
        scanner, site, ...), as text, one row per image; its columns are also
        in ``paths`` (missing for probes). See :meth:`accuracy_by`.
    source : dict or None
        Where the images came from, enough to read them again from their
        files (a folder read by ``from_directory``, a dataset of Keras'
        ``image_dataset_from_directory``, a bundled data set); None for
        arrays and other batches. :func:`layerlens.explain_run` reads it.
    display_range : (float, float)
        The pixel values shown as black and white in the run's pictures.
    pictures : dict of int to ndarray of shape (h, w, 1 or 3), uint8
        The images with a page on the site (mistakes, explained and doubtful
        ones) at their own size: the file read again at up to 512 pixels on
        its longer side, else as the model took them; by image index.
    """

    name: str
    class_names: tuple[str, ...]
    model: ModelSummary
    settings: AnalysisSettings
    labels: np.ndarray | None
    probabilities: np.ndarray
    layers: tuple[LayerAnalysis, ...]
    paths: pd.DataFrame
    path_statistics: PathStatistics
    metrics: ClassificationMetrics | None
    thumbnails: np.ndarray
    files: tuple[str, ...] | None = None
    reference: ReferenceSet | None = None
    noisy_predictions: dict[float, np.ndarray] = field(default_factory=dict)
    explanations: tuple[Explanation, ...] = ()
    explained_images: dict[int, np.ndarray] = field(default_factory=dict)
    created: str | None = None
    doubt: Doubt | None = None
    probes: ProbeSet | None = None
    metadata: pd.DataFrame | None = None
    source: dict[str, Any] | None = None
    display_range: tuple[float, float] = (0.0, 1.0)
    pictures: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def path_stats(self) -> PathStatistics:
        """Former name of :attr:`path_statistics`."""
        return self.path_statistics

    @property
    def problems(self) -> tuple[str, ...]:
        """Why this analysis cannot be right, in sentences; empty when nothing says so.

        Predictions collapsed onto one class, or a balanced accuracy at chance level (see
        :func:`layerlens.scores._problems.problems`): most often the images reached the model in another pixel
        range or preprocessing than it was trained with (``settings.pixel_scale_reason`` says what was
        done; ``analyze(..., preprocess=...)`` applies a preprocessing done outside the model).
        """
        from layerlens.scores import problems

        return problems(self.probabilities, self.labels, self.class_names, self.metrics)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the analysed layers in depth order, as tables and figures show them.

        A layer inside a nested model is named by the shortest end of its path that no other analysed
        layer shares (``"block_15_add"`` for ``"mobilenetv2_1.00_128/block_15_add"``); its full path
        is ``layer.name`` (see :attr:`layers`). :meth:`layer` takes either.
        """
        return layer_labels(self.layers)

    @property
    def separability(self) -> pd.DataFrame | None:
        """Separability by depth: one row per layer (silhouette, knn_accuracy, variance_ratio); None without labels."""
        if any(layer.separability is None for layer in self.layers):
            return None  # no labels, or a single class among them
        rows = [layer.separability.as_floats() for layer in self.layers]
        return pd.DataFrame(rows, index=pd.Index(self.layer_names, name="layer"), dtype=np.float64)

    def accuracy_by(self, column: str) -> pd.DataFrame:
        """Accuracy per value of a metadata column (a scanner or a site where the model fails shows here).

        Returns one row per value, most images first: ``images``, ``accuracy`` and its 95% Wilson interval
        (``low``, ``high``). Images without a value are left out.
        """
        from layerlens.run._metadata import group_accuracy

        if self.labels is None:
            raise InvalidInputError("labels: accuracy by group needs true labels, and this analysis has none.")
        columns = [] if self.metadata is None else list(self.metadata.columns)
        if column not in columns:
            raise InvalidInputError(f"column: expected one of the metadata columns {columns}; received {column!r}.")
        return group_accuracy(self.predictions == self.labels, self.metadata[column])

    def layer(self, name: str) -> LayerAnalysis:
        """The :class:`LayerAnalysis` of layer ``name``; the error lists the analysed layers."""
        for layer, short in zip(self.layers, self.layer_names):
            if name in (layer.name, short):
                return layer
        raise InvalidInputError(f"layer_name: expected one of {list(self.layer_names)}; received {name!r}.")

    def paths_figure(
        self,
        *,
        min_share: float = 0.005,
        max_ribbons: int = 30,
        colour_by: str = "class",
        title: str | None = None,
    ) -> go.Figure:
        """Parallel-categories diagram of every image's path through the layers' clusters to its prediction.

        Paths holding less than ``min_share`` of the images are folded into a grey "other" ribbon and at
        most ``max_ribbons`` ribbons are drawn between two axes; ribbons take the colour of the true class
        (probes near black) or, with ``colour_by="doubt"``, of the image's doubt (see
        :func:`layerlens.figures.paths_figure`).
        """
        from layerlens.figures import paths_figure

        return paths_figure(
            self.paths,
            self.layer_names,
            self.class_names,
            parallel=[layer.parallel_to_previous for layer in self.layers],
            uninformative=[not layer.clusters.carries_class_information for layer in self.layers],
            min_share=min_share,
            max_ribbons=max_ribbons,
            colour_by=colour_by,
            title=title or f"{self.name}: paths",
        )

    def layer_figure(self, layer_name: str, *, title: str | None = None, colour_by: str | None = None) -> go.Figure:
        """2-D map of one layer, coloured by cluster (or by the metadata column ``colour_by``), misclassified
        and doubtful images and probes marked (see :func:`layerlens.figures.layer_figure`)."""
        from layerlens.figures import layer_figure

        layer = self.layer(layer_name)
        column = self.layer_names[self.layers.index(layer)]
        coords = layer.coords
        if self.probes is not None:
            coords = np.concatenate([coords, self.probes.coords[self.layers.index(layer)]])
        return layer_figure(
            coords,
            self.paths,
            column,
            self.class_names,
            centers=layer.centers,
            cluster_classes=layer.clusters.leading,
            title=title or f"{self.name}: {_full(column, layer.name)} ({self.settings.projection.upper()})",
            colour_by=colour_by,
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

    def neighbours(self, images: Sequence[int], n: int = 8, *, layer: str | None = None) -> np.ndarray:
        """The ``n`` images nearest to each of ``images`` in one layer's space, nearest first.

        Parameters
        ----------
        images : sequence of int
            Positions of images in the analysed set.
        n : int, default=8
            How many neighbours per image (fewer when the set is smaller).
        layer : str, optional
            The analysed layer whose space to search (its standardised, PCA-reduced features, where
            the clusters were found); by default the last one, where the classes are most apart.

        Returns
        -------
        ndarray of shape (len(images), min(n, N - 1)), int64
            Positions of the neighbours; an image is never its own neighbour (a duplicate of it may be).

        Raises
        ------
        InvalidInputError
            If a position is outside the analysed set, ``n`` is not a positive whole number or the
            layer is unknown.
        """
        from sklearn.neighbors import NearestNeighbors

        from layerlens._util.validation import check_int
        from layerlens.layers import without_self

        space = (self.layers[-1] if layer is None else self.layer(layer)).reduced.astype(np.float64)
        wanted = np.asarray(images)
        total = len(space)
        if wanted.ndim != 1 or not (np.issubdtype(wanted.dtype, np.integer) or wanted.size == 0):
            raise InvalidInputError(f"images: expected positions of analysed images (integers); received {images!r}.")
        if wanted.size and (wanted.min() < 0 or wanted.max() >= total):
            raise InvalidInputError(f"images: expected positions in 0..{total - 1}; received {wanted.tolist()}.")
        count = min(check_int(n, "n", minimum=1), total - 1)
        if wanted.size == 0 or count == 0:
            return np.zeros((wanted.size, max(count, 0)), dtype=np.int64)
        found = NearestNeighbors(n_neighbors=count + 1).fit(space).kneighbors(space[wanted], return_distance=False)
        return without_self(found, wanted).astype(np.int64)

    def reference_neighbours(self, images: Sequence[int], n: int = 8) -> np.ndarray:
        """The ``n`` reference images nearest to each of ``images`` in the last layer's space, nearest first.

        Returns ``(len(images), min(n, R))`` int64 positions among the reference images (see
        :attr:`reference`); the thumbnails of those that were some page image's neighbours are in
        ``reference.thumbnails``.

        Raises
        ------
        InvalidInputError
            If the analysis has no reference set, or a position is outside the analysed images.
        """
        from layerlens.run._pictures import reference_neighbours

        if self.reference is None:
            raise InvalidInputError("reference: this analysis has no reference set; analyse with reference=...")
        wanted = np.asarray(images, dtype=np.int64).reshape(-1)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.n_images):
            raise InvalidInputError(
                f"images: expected positions in 0..{self.n_images - 1}; received {wanted.tolist()}."
            )
        return reference_neighbours(self.reference.reduced[-1], self.layers[-1].reduced[wanted], n)

    def explanations_of(self, image: int) -> tuple[Explanation, ...]:
        """The explanations of the image at position ``image`` (empty when it was not explained)."""
        return tuple(e for e in self.explanations if e.image_index == image)

    def explanation_figure(self, image: int, method: str | None = None, *, title: str | None = None) -> go.Figure:
        """The explained image beside its heat map; for LIME also its top segments and their weights.

        ``method`` defaults to the first method the image was explained by. See
        :func:`layerlens.figures.explanation_figure`.
        """
        from layerlens.figures import explanation_figure

        found = self.explanations_of(image)
        if not found:
            explained = sorted(self.explained_images)
            raise InvalidInputError(
                f"image: expected the index of an explained image, one of {explained[:20]}"
                f"{' ...' if len(explained) > 20 else ''}; received {image!r}."
                if explained
                else "image: this analysis has no explanations; analyse with explain=N to make some."
            )
        methods = [e.method for e in found]
        if method is not None and method not in methods:
            raise InvalidInputError(f"method: image {image} was explained by {methods}; received {method!r}.")
        explanation = found[methods.index(method) if method is not None else 0]
        truth = None if self.labels is None else self.class_names[int(self.labels[image])]
        predicted = self.class_names[int(self.predictions[image])]
        heading = f"image {image}: predicted {predicted} ({self.confidence[image]:.2f})"
        if truth is not None:
            heading += f", true {truth}"
        return explanation_figure(
            self.explained_images[image],
            explanation,
            class_names=self.class_names,
            title=title or f"{self.name}, {heading}",
        )

    def save(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write this analysis to the run folder ``path`` (see :mod:`layerlens.run._store`); returns the folder.

        An earlier run in ``path`` is replaced unless ``overwrite`` is False; a folder holding anything
        else is never touched.
        """
        from layerlens.run._store import save_analysis

        return save_analysis(self, path, overwrite=overwrite)

    def __repr__(self) -> str:
        accuracy = "" if self.metrics is None else f", accuracy {self.metrics.accuracy:.3f}"
        layers = ", ".join(f"{name}(k={layer.clusters.k})" for name, layer in zip(self.layer_names, self.layers))
        explained = f"; {len(self.explained_images)} images explained" if self.explained_images else ""
        probes = f"; {self.probes.n_images} probes" if self.probes is not None else ""
        alarm = "".join(f"\n  WARNING, this analysis cannot be right: {problem}." for problem in self.problems)
        return (
            f"<Analysis {self.name!r}: {self.n_images} images, {len(self.class_names)} classes{accuracy}; "
            f"{len(self.layers)} layers: {layers}{explained}{probes}{alarm}>"
        )


def analyze(
    model: keras.Model,
    images: Any,
    labels: Sequence[int] | Sequence[str] | np.ndarray | None = None,
    *,
    class_names: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    n_clusters: int | str | Mapping[str, int | str] = "auto",
    projection: str = "pca",
    batch_size: int = 64,
    seed: int = 0,
    name: str | None = None,
    progress: bool = True,
    conv_features: str = "mean",
    negative_class: str | None = None,
    pixel_scale: float | str = "auto",
    preprocess: Any = None,
    reference: Any = None,
    probes: Any = None,
    probe_files: Sequence[str] | None = None,
    metadata: Any = None,
    stability: bool = False,
    explain: int | str = "auto",
    explain_methods: Sequence[str] = DEFAULT_METHODS,
    explain_budget: float | None = None,
    keep_reference_images: bool = True,
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
    images : ndarray, ImageSet, ImageStream, tf.data.Dataset or iterable of batches
        ``(N, H, W, C)`` images as the model expects them, an
        :class:`~layerlens.datasets.ImageSet` (its labels, class names, name,
        file names and metadata are used), an
        :class:`~layerlens.datasets.ImageStream` (the same, its files decoded
        ``batch_size`` at a time, so memory stays bounded for folders of any
        size), or batches ``x`` / ``(x, y)``.
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
    n_clusters : int, "auto", "silhouette" or dict, default="auto"
        Clusters per layer. ``"auto"`` chooses k in 2..12 so that paths stay
        faithful to the model's decisions with as few clusters as that
        takes: the smallest k whose clusters predict the model's decisions
        about as well as any, and the smallest k for a layer whose clusters
        do not follow decisions at all (see
        :func:`layerlens.layers._clusters.cluster_layer`). ``"silhouette"`` picks the
        k with the highest silhouette; an int fixes k; a dict gives a rule per
        layer name (layers it leaves out get ``"auto"``). Every k tried is
        scored in ``layer.clusters.k_scores``.
    projection : {"pca", "umap"}, default="pca"
        How each layer is mapped to 2-D. UMAP is slower and compiles on
        first use (15-60 s).
    batch_size : int, default=64
        Images per forward pass (arrays, ImageSets and ImageStreams).
    seed : int, default=0
        Seed of every random choice (k-means, subsamples, projections, UMAP,
        bootstrap); the same inputs and seed give the same analysis.
    name : str, optional
        Name of the run; defaults to the ImageSet's name or the model's.
    progress : bool, default=True
        Show a progress bar during the forward pass.
    conv_features : {"mean", "mean_max", "grid"}, default="mean"
        Reduction of convolution maps: channel means, means and maxima, or
        channel means on a coarse 4x4 grid of the map (which keeps where a
        channel fired; see :func:`layerlens.model._extract.extract`).
    negative_class : str, optional
        Class meaning "no finding" (e.g. ``"no_tumor"``): adds sensitivity
        and specificity of "any lesion" against it.
    pixel_scale : float or "auto", default="auto"
        Images are multiplied by this on their way into the model. ``"auto"``
        reads the pixel range the model takes from its graph (what happens
        before its first learned layer: ``Rescaling``, an adapted
        ``Normalization``, a ``keras.applications`` family's
        ``preprocess_input``, any arithmetic on the input) and checks it on up
        to 256 images spread over the set: with labels, a scale whose accuracy
        is clearly better (by 0.2, with 95% intervals apart) wins, with a
        :class:`PixelScaleWarning`. Images in [0, 1] (what layerlens' loaders
        give) and 0..255 (what Keras' ``image_dataset_from_directory`` gives)
        are brought to that range; others are passed as they are. The factor
        and why are recorded in ``settings.pixel_scale`` and
        ``settings.pixel_scale_reason`` and shown on the model page.
    preprocess : callable or str, optional
        For a model trained on a ``tf.data`` pipeline that preprocessed its
        images outside the model (nothing in its graph says so): applied to
        the images after ``pixel_scale``, before the model. A
        ``keras.applications`` family name (``"mobilenet_v2"``,
        ``"resnet50"``, ``"efficientnet"``, or a model's class name such as
        ``"MobileNetV2"``) means its ``preprocess_input``; a callable takes a
        float32 batch tensor of 0..255 pixel values (as ``dataset.map`` gives
        them) and returns what the model takes. Gradients of the explanations
        are taken through it. A ``tf.data.Dataset`` that preprocesses its
        images already is analysed as it is, without ``preprocess``. Its name
        is recorded in ``settings.preprocess``.
    reference : ImageSet, (images, labels) or iterable of (x, y) batches, optional
        Labelled images the model was trained on. Each layer's space,
        clusters and map are then fitted on them and the analysed images are
        placed in them (nearest cluster centre), so their paths compare with
        the paths the model learnt, and the held-out decision alignment is
        measured against them. The run keeps the reference's reduced
        features, clusters and map positions, not its images. Default: fit
        everything on the analysed images.
    probes : ndarray, tf.data.Dataset or iterable of batches, optional
        Images that may belong to no class (another data set, noise,
        another organ), of the analysed images' shape and without labels:
        ``(P, H, W, C)`` or batches ``x``. They go through the same layers,
        are placed in every layer's space, clusters and map (never fitted
        on), and get predictions, paths and doubt: ``Analysis.probes`` and
        the rows of ``paths`` whose ``probe`` is True. No metric counts them.
        Their doubt reads the neighbours among the reference images when
        there are some, else among the analysed images. Their pixel scale is
        resolved on their own range (``pixel_scale="auto"``), as the
        reference's is.
    metadata : DataFrame or dict of columns, optional
        One row per image: patient id, scanner, site, sex, acquisition date,
        ... Kept as text in ``Analysis.metadata``, carried into the paths
        table and the run; :meth:`Analysis.accuracy_by` and the site give the
        accuracy per value of each column. Default: the ImageSet's (or
        ImageStream's) own metadata (``from_dicom`` gives each slice's
        patient and series). For an ImageStream, one row per listed file
        (as ``labels``): the rows of files that turn out unreadable are
        dropped with them.
    probe_files : sequence of str, optional
        The file of each probe (e.g. the names :func:`layerlens.datasets.read_images`
        returns), shown with them in the paths table and the site.
    stability : bool, default=False
        Also measure how the paths hold under noise: copies of the images
        with Gaussian noise of :data:`NOISE_LEVELS` (0.02 and 0.05 of the
        pixel range) go through the model in the same pass, and
        ``path_statistics`` reports the share of images whose whole path,
        whose cluster in each layer, and whose prediction stay the same.
        Runs the model three times per batch.
    explain : int, "auto" or "mistakes", default="auto"
        Which images to explain, in this order: the misclassified ones
        (most confident mistakes first), then the correct ones most in
        doubt, then the most confident correct image of each class. An int
        explains that many (up to half of them kept for the typical images);
        ``"mistakes"`` every misclassified image (without labels: the 100
        least confident predictions, as the gallery lists them); ``"auto"``
        every mistake and up to 10 doubtful correct images and one typical
        image per class, as many as ``explain_budget`` allows. ``0`` makes
        none. Each is explained for its predicted class. The candidates are
        kept during the pass (a buffer of at most 256 MB of images), so a
        shuffled ``tf.data`` set or a one-shot generator is explained too;
        ``settings.explain_note`` says how many were explained, and why fewer
        when fewer. Images left out can be explained later with
        :func:`layerlens.explain_run` (``layerlens explain RUN MODEL
        --images ...``).
    explain_methods : sequence of str, default=("integrated_gradients",)
        Methods of :func:`layerlens.explanations.explain` to explain them by, with
        their default options. Integrated gradients is the default because
        ``benchmarks/bench_explain.py`` measured it best at pointing at small
        lesions, and cheap (32 gradient passes an image); LIME runs the model
        1,000 times an image, so for a large network on a CPU it costs most
        of a budget. Grad-CAM is left out for a model without a convolution
        layer (with a warning when it was asked for by name).
    keep_reference_images : bool, default=True
        Keep small copies (thumbnails) of the reference images that are the
        nearest neighbours of some image with a page on the site, which the
        site shows beside it. They are images of the reference set (patients'
        scans, perhaps): ``False`` keeps none.
    explain_budget : float, optional
        Seconds the explanations may take; with ``explain="auto"`` 120 by
        default, otherwise no limit. Images are explained in order and the
        phase stops before an image that would not fit (measured on the
        images explained so far), so it ends within the budget plus about
        one image. The number explained then depends on the machine's
        speed; an int ``explain`` without a budget gives the same run every
        time.

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
        (see :func:`layerlens.model._extract.extract`), or the images' accuracy at
        another scale overruled what the model's graph says.
    ClassOrderWarning
        If the predictions match the labels far better (by 0.2 of accuracy or
        more) once the classes are renamed: the class names are then most
        likely in another order than the model's outputs.
    UnreliableAnalysisWarning
        If the analysis cannot be right: the predictions collapsed onto one
        class, or the balanced accuracy is at chance level (see
        :attr:`Analysis.problems`, which the repr and the site show too).
    DatasetWarning
        If a ``tf.data`` dataset lists its files but shuffles them (or drops
        some), so that no file can be named.
    ExplanationWarning
        If some explanations asked for could not be made.

    Examples
    --------
    >>> import layerlens as ll                                   # doctest: +SKIP
    >>> a = ll.analyze(model, test_images, test_labels)          # doctest: +SKIP
    >>> a.paths_figure().show()                                  # doctest: +SKIP
    """
    _check_options(n_clusters, projection, seed, stability)
    explain_asked, explain_methods, explain_budget = check_explain(explain, explain_methods, explain_budget)
    if reference is not None:
        precheck_reference(reference)
    if probes is not None:
        precheck_probes(probes, images)
    elif probe_files is not None:
        raise InvalidInputError("probe_files: expected probes to name; received probe_files without probes.")
    from layerlens.model import extract, output_units
    from layerlens.run._compute import compute_analysis, probe_input, reference_fit_set

    n_classes = max(output_units(model), 2)
    facts = data_facts(images, class_names, n_classes)
    class_names, renumber = facts.class_names, facts.renumber
    if negative_class is not None and negative_class not in class_names:
        raise InvalidInputError(f"negative_class: expected one of {list(class_names)}; received {negative_class!r}.")
    # A stream's labels and metadata given here have one entry per listed file (unreadable ones dropped after).
    known_n = facts.count
    if labels is not None:
        labels = check_labels(labels, class_names, known_n, "labels")
    files = facts.files
    if metadata is not None:
        metadata, named = split_file_column(metadata)
        files = files if named is None else named
        if metadata is not None:  # its type, columns and (when known) length now, rather than after the pass
            check_metadata(metadata, known_n, {*FIXED_COLUMNS, "probe"})
    if files is not None and known_n is not None:
        files = check_files(files, known_n, "metadata (its file column)")
    metadata = facts.metadata if metadata is None else metadata
    options = dict(
        batch_size=batch_size, conv_features=conv_features, seed=seed, progress=progress, preprocess=preprocess
    )
    from layerlens.explanations import Candidates
    from layerlens.model import model_output_activation

    # Kept during the pass: the images to explain, and the pictures of the pages when no file can be read again.
    candidates = Candidates(
        max(_candidate_capacity(explain_asked), PICTURES_MAX),
        model_output_activation(model),
        labels=labels,
        label_order=renumber,
    )
    extraction = extract(
        model,
        images,
        layers=layers,
        pixel_scale=pixel_scale,
        noise=NOISE_LEVELS if stability else (),
        labels=labels,
        label_order=renumber,
        keep=candidates.add,
        **options,
    )
    options["model_range"] = extraction.pixels.target
    n_images = len(extraction.outputs)
    if isinstance(images, ImageStream) and n_images < len(images):
        # Some files could not be read: their rows go from the stream's lists, the labels and the metadata.
        rows = extraction.source_rows
        labels = None if labels is None else labels[rows]
        metadata = _rows_of(metadata, rows)
        files = None if files is None else tuple(files[i] for i in rows)
    files = check_files(files, n_images, "metadata (its file column)") if files is not None else None
    if n_images < 3 and reference is None:  # with a reference, the images are only placed in its clusters
        raise InvalidInputError(f"images: expected at least 3 images to cluster; received {n_images}.")
    if labels is None and extraction.labels is not None:
        found = extraction.labels if renumber is None else renumber[extraction.labels]
        labels = check_labels(found, class_names, n_images, "images (its labels)")
    elif labels is not None and len(labels) != n_images:
        raise InvalidInputError(f"labels: expected {n_images} labels, one per image; received {len(labels)}.")
    head = detect_head(extraction.output_activation, extraction.outputs[:512])
    fit = None
    if reference is not None:
        fit = reference_fit_set(model, reference, extraction, class_names, head, pixel_scale, options)
    probe_set = None
    if probes is not None:
        probe_set = probe_input(model, probes, extraction, head, pixel_scale, options, probe_files)
    k = _check_k_per_layer(
        n_clusters,
        [info.name for info in extraction.layers],
        n_images if fit is None else len(fit.labels),
        [info.parts for info in extraction.layers],
    )
    settings = AnalysisSettings(
        k,
        projection,
        int(batch_size),
        int(seed),
        conv_features,
        negative_class,
        extraction.pixel_scale,
        None if fit is None else fit.name,
        bool(stability),
        0,
        explain_methods,
        extraction.pixels.reason,
        extraction.preprocess,
        explain_asked,
        explain_budget,
    )
    summary = ModelSummary(
        model.name, head, tuple(model.inputs[0].shape[1:]), int(model.count_params()), architecture(model)
    )
    taken = {*FIXED_COLUMNS, *short_layer_names([info.parts for info in extraction.layers]), "probe"}
    table = None if metadata is None else check_metadata(metadata, n_images, taken)
    analysis = compute_analysis(
        extraction,
        to_probabilities(extraction.outputs, head),
        labels,
        class_names,
        settings,
        summary,
        name=name or facts.name or model.name,
        files=files,
        reference=fit,
        probes=probe_set,
        noisy_probabilities={level: to_probabilities(o, head) for level, o in extraction.noisy_outputs.items()},
        metadata=table,
    )
    analysis = replace(analysis, source=facts.source, display_range=extraction.display_range)
    if analysis.metrics is not None:
        warn_about_class_order(analysis.metrics)
    _warn_about_problems(analysis)
    analysis = replace(analysis, created=datetime.now(timezone.utc).date().isoformat())
    if explain_asked != 0:
        analysis = _with_explanations(analysis, model, candidates, extraction, progress, preprocess)
    return _with_pictures(analysis, candidates.images(), fit, bool(keep_reference_images))


def _with_pictures(analysis: Analysis, kept: dict[int, np.ndarray], fit: Any, keep_reference: bool) -> Analysis:
    """``analysis`` with its page images at their own size, and the thumbnails of their nearest reference images."""
    from layerlens.run._pictures import page_pictures
    from layerlens.scores import page_images

    doubt = None if analysis.doubt is None else analysis.doubt.doubt
    gallery, others = page_images(analysis.probabilities, analysis.labels, doubt, list(analysis.explained_images))
    pages = np.concatenate([gallery[:PICTURES_MAX], others]).astype(np.int64)
    channels = int(analysis.thumbnails.shape[-1])
    pictures = page_pictures(pages, analysis.files, analysis.source, kept, analysis.display_range, channels)
    analysis = replace(analysis, pictures=pictures)
    if analysis.reference is None:
        return analysis
    near = np.unique(analysis.reference_neighbours(pages).reshape(-1)) if keep_reference and len(pages) else []
    thumbnails = {int(i): fit.thumbnails[int(i)] for i in near}
    return replace(analysis, reference=replace(analysis.reference, thumbnails=thumbnails, files=fit.files))


def _candidate_capacity(explain: int | str) -> int:
    """How many mistakes (and unsure correct images) the pass keeps to choose the ones to explain from."""
    if explain == "mistakes":
        return 1_000_000  # all of them, as far as the buffer's bytes go
    if explain == "auto":
        return 2000
    return 3 * int(explain) + 10


def _warn_about_problems(analysis: Analysis) -> None:
    """One :class:`UnreliableAnalysisWarning` naming what makes the analysis wrong, and what to try."""
    found = analysis.problems
    if not found:
        return
    settings = analysis.settings
    how = settings.pixel_scale_reason or f"×{settings.pixel_scale:g}"
    preprocess = f", then preprocess {settings.preprocess!r}" if settings.preprocess else ""
    warn_user(
        f"images: this analysis cannot be right: {'; '.join(found)}. The images reached the model {how}"
        f"{preprocess}. If the model was trained on images preprocessed outside it (in tf.data), pass "
        "preprocess= (a keras.applications family such as 'mobilenet_v2', or the function; on the command line "
        "--preprocess NAME); else check pixel_scale and the class order.",
        UnreliableAnalysisWarning,
    )


def _rows_of(metadata: Any, rows: np.ndarray) -> Any:
    """``metadata`` (a DataFrame or a dict of columns, one row per listed file of a stream) at ``rows``."""
    if isinstance(metadata, pd.DataFrame):
        return metadata.iloc[rows].reset_index(drop=True)
    if isinstance(metadata, Mapping):
        return {name: np.asarray(values, dtype=object)[rows] for name, values in metadata.items()}
    return metadata


def architecture(model: keras.Model) -> tuple[LayerRow, ...]:
    """Every layer of ``model`` in execution order with its output shape and parameters (nested models entered)."""
    import keras

    from layerlens.model import trace

    traced = trace(model)
    return tuple(
        LayerRow(info.name, info.kind, info.output_shape, _parameters(op))
        for info, op in zip(traced.infos, traced.operations)
        if not isinstance(op, keras.Model)  # a nested model is its layers, listed already
    )


def _parameters(op: Any) -> int:
    """Weights of a layer; 0 for an unbuilt one and for a plain operation (``keras.ops`` in a functional graph)."""
    return int(op.count_params()) if getattr(op, "built", False) and hasattr(op, "count_params") else 0


def _with_explanations(
    analysis: Analysis,
    model: keras.Model,
    candidates: Any,
    extraction: Any,
    progress: bool,
    preprocess: Any = None,
) -> Analysis:
    """``analysis`` with explanations of the images chosen among the candidates kept during the pass."""
    from layerlens.explanations import choose_images, explain_images, explanation_note, images_to_choose, to_display

    settings = analysis.settings
    kept = candidates.images()
    positions = np.array(sorted(kept), dtype=np.int64)
    count = images_to_choose(settings.explain_asked, analysis.predictions, analysis.labels, len(analysis.class_names))
    order = np.zeros(0, dtype=np.int64)
    if len(positions) and count:
        labels = None if analysis.labels is None else analysis.labels[positions]
        doubt = None if analysis.doubt is None else analysis.doubt.doubt[positions]
        order = choose_images(
            analysis.predictions[positions],
            analysis.confidence[positions],
            labels,
            count,
            doubt,
            mistakes_only=settings.explain_asked == "mistakes",
        )
    chosen = positions[order]
    made = None
    if len(chosen):
        made = explain_images(
            model,
            np.stack([kept[int(i)] for i in chosen]),
            chosen,
            targets=analysis.predictions[chosen],
            methods=settings.explain_methods,
            head=analysis.model.head,
            pixel_scale=settings.pixel_scale,
            preprocess=preprocess,
            seed=settings.seed,
            progress=progress,
            budget=settings.explain_budget,
        )
    note = explanation_note(
        settings.explain_asked,
        analysis.predictions,
        analysis.labels,
        chosen,
        made,
        settings.explain_budget,
        truncated=candidates.truncated,
    )
    if made is None or not made.explanations:
        return replace(analysis, settings=replace(settings, explain=0, explain_note=note))
    done = chosen[: made.n_explained]
    shown = dict(zip(done.tolist(), to_display(np.stack([kept[int(i)] for i in done]), extraction.display_range)))
    return replace(
        analysis,
        settings=replace(settings, explain=int(made.n_explained), explain_methods=made.methods, explain_note=note),
        explanations=made.explanations,
        explained_images=shown,
    )


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
    paths = _paths_rows(layers, [layer.clusters.labels for layer in layers], probabilities, labels, class_names, files)
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


def _full(short: str, full: str) -> str:
    """A layer's short name, with its full path beside it when they differ."""
    return short if short == full else f"{short} ({full})"


def path_ids(clusters: Sequence[np.ndarray], n_clusters: Sequence[int]) -> np.ndarray:
    """Path id (``"c1-c3-c2"``) of every image from its cluster in each layer, as in the paths table."""
    return np.asarray(path_id_strings(clusters, n_clusters), dtype=object)


def _check_options(n_clusters: Any, projection: Any, seed: Any, stability: Any) -> None:
    """Cheap checks that fail before the forward pass rather than after it."""
    rules = n_clusters.values() if isinstance(n_clusters, Mapping) else [n_clusters]
    for rule in rules:
        _check_k_rule(rule)
    if isinstance(n_clusters, Mapping) and not all(isinstance(name, str) for name in n_clusters):
        raise InvalidInputError(
            f"n_clusters: expected layer names as the keys of the dict; received {list(n_clusters)}."
        )
    if projection not in PROJECTIONS:
        raise InvalidInputError(f"projection: expected one of {PROJECTIONS}; received {projection!r}.")
    check_seed(seed)
    if not isinstance(stability, (bool, np.bool_)):
        raise InvalidInputError(f"stability: expected True or False; received {stability!r}.")


def _check_k_rule(rule: Any) -> None:
    valid = (isinstance(rule, str) and rule in K_RULES) or (
        isinstance(rule, (int, np.integer)) and not isinstance(rule, bool) and rule >= 2
    )
    if not valid:
        raise InvalidInputError(
            f"n_clusters: expected 'auto', 'silhouette', an integer >= 2, or a dict of them by layer name; "
            f"received {rule!r}."
        )


def _check_k_per_layer(
    n_clusters: int | str | Mapping[str, int | str],
    layer_names: list[str],
    n_fit: int,
    paths: Sequence[Sequence[str]] | None = None,
) -> int | str | dict[str, int | str]:
    """``n_clusters`` as stored in the settings, checked against the analysed layers and the fit images.

    A dict may name a layer by its full path or by its short name (see :attr:`Analysis.layer_names`); the
    settings keep full paths.
    """
    from layerlens.model import short_layer_names

    shorts = short_layer_names(paths if paths is not None else [(name,) for name in layer_names])
    full = dict(zip(shorts, layer_names)) | {name: name for name in layer_names}
    if isinstance(n_clusters, Mapping):
        rules = {full.get(name, name): rule for name, rule in n_clusters.items()}
    else:
        rules = {name: n_clusters for name in layer_names}
    unknown = sorted(set(rules) - set(layer_names))
    if unknown:
        raise InvalidInputError(
            f"n_clusters: expected layer names among the analysed layers {layer_names}; received unknown {unknown}."
        )
    for rule in rules.values():
        if not isinstance(rule, str) and rule >= n_fit:
            raise InvalidInputError(f"n_clusters: expected fewer clusters than images ({n_fit}); received {rule}.")
    if isinstance(n_clusters, Mapping):
        return {name: (rule if isinstance(rule, str) else int(rule)) for name, rule in rules.items()}
    return n_clusters if isinstance(n_clusters, str) else int(n_clusters)
