"""The result of an analysis: :class:`Analysis`, what it holds and what it draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens.exceptions import InvalidInputError
from layerlens.explanations import Explanation
from layerlens.findings import Finding
from layerlens.paths import PathStatistics
from layerlens.run._parts import AnalysisSettings, LayerAnalysis, ProbeSet, ReferenceSet, _Predicted
from layerlens.run._summary import ModelSummary
from layerlens.run._table import full_name, layer_labels
from layerlens.scores import ClassificationMetrics, Doubt

if TYPE_CHECKING:
    import plotly.graph_objects as go


__all__ = ["Analysis"]


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
    findings : tuple of Finding
        What the analysis found, in sentences, most telling first (see :mod:`layerlens.findings`); each
        backed by its number, its interval and the threshold it passed.
    image_properties : DataFrame or None
        Simple properties of each image measured during the pass (see
        :data:`layerlens.model.IMAGE_PROPERTIES`): ``mean_intensity``, ``contrast`` and
        ``bright_area``, on the displayed scale (0 black, 1 white); None for runs written before
        layerlens measured them.
    volumes : dict of int to ndarray of shape (a, b, c, 1 or 3), uint8
        For a run of volumes: the volumes of images with a page (explained ones first), on the display
        scale, at most 128 voxels along each axis, their spatial axes in the order ``settings.axes``, up to
        64 MB for the run (see :mod:`layerlens.run._volumes`); by image index. Empty for images. The
        pictures and thumbnails of a volume run show each volume's axial face (its central slice, or its
        projection: ``settings.volume_view``); its ``explained_images`` are the explained volumes whole.
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
    findings: tuple[Finding, ...] = ()
    image_properties: pd.DataFrame | None = None
    volumes: dict[int, np.ndarray] = field(default_factory=dict)

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
            centers=layer.map_centers,
            cluster_classes=layer.clusters.leading,
            title=title or f"{self.name}: {full_name(column, layer.name)} ({self.settings.projection.upper()})",
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

    def save_figures(self, folder: str | Path, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
        """Write every figure of this analysis as PNG and SVG into ``folder``, the findings as Markdown beside them.

        See :func:`layerlens.run._report.save_figures` for the names of the files (made to be included by a
        LaTeX or Word report) and what the export needs (an installed Chrome or Chromium).
        """
        from layerlens.run._report import save_figures

        return save_figures(self, folder, formats=formats)

    def _repr_html_(self) -> str:
        """The summary, the findings and a small paths picture, as a notebook shows the analysis."""
        from layerlens.run._notebook import analysis_html

        return analysis_html(self)

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
