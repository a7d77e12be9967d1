"""``layerlens.analyze``: one pass through the model, then clusters, maps, paths and metrics per layer."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerlens._util.warn import warn_user
from layerlens.datasets import ImageStream
from layerlens.engines import check_engine
from layerlens.exceptions import InvalidInputError, UnreliableAnalysisWarning
from layerlens.explanations import DEFAULT_METHODS, check_explain
from layerlens.model import IMAGE_PROPERTIES, detect_head, short_layer_names, to_probabilities
from layerlens.options import STABILITY_NOISE, VOLUME_AXES
from layerlens.paths import FIXED_COLUMNS
from layerlens.run._analysis import Analysis
from layerlens.run._checks import check_k_per_layer, check_options
from layerlens.run._data import check_files, data_facts, split_file_column
from layerlens.run._explained import candidate_capacity, with_explanations
from layerlens.run._labels import (
    check_labels,
    precheck_probes,
    precheck_reference,
    warn_about_class_order,
)
from layerlens.run._metadata import check_metadata
from layerlens.run._parts import AnalysisSettings
from layerlens.run._pass import run_pass
from layerlens.run._pictures import PICTURES_MAX
from layerlens.run._summary import ModelSummary, architecture

if TYPE_CHECKING:
    import keras


__all__ = ["analyze"]


def analyze(
    model: keras.Model,
    images: Any,
    labels: Sequence[int] | Sequence[str] | np.ndarray | None = None,
    *,
    class_names: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    n_clusters: int | str | Mapping[str, int | str] = "auto",
    projection: str = "pca",
    batch_size: int | str = "auto",
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
    axes: str | None = None,
    volume_view: str = "slice",
    engine: str = "local",
    workers: int | None = None,
    gpus_per_worker: float = 0,
    work_dir: str | Path | None = None,
    ray_address: str | None = None,
) -> Analysis:
    """Analyse what a trained Keras image classifier does with a set of images, layer by layer.

    The images go through the model once, in batches; each chosen layer's
    activation is reduced on the fly to a small vector per image. Per layer
    the vectors are standardised and PCA-reduced, clustered with k-means and
    mapped to 2-D; every image's path through the clusters, the metrics of
    the predictions and the separability of the classes by depth follow.

    Parameters
    ----------
    model : keras.Model or str
        A built Sequential or functional classifier with one image input:
        softmax, a single sigmoid unit (binary) or logits. Nested models
        (a base network inside a Sequential) are entered. A path to a
        ``.keras`` file is loaded (and, with ``engine="ray"``, loaded by
        each worker from that path, which every node must see).
    images : ndarray, ImageSet, ImageStream, tf.data.Dataset or iterable of batches
        ``(N, H, W, C)`` images as the model expects them (``(N, D, H, W, C)``
        volumes for a Conv3D model: see ``axes``), an
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
        How each layer is mapped to 2-D. UMAP is slower and compiles its
        kernels on first use in a process.
    batch_size : int or "auto", default="auto"
        Images per forward pass (arrays, ImageSets and ImageStreams). ``"auto"``: as many as keep the
        model's largest activation of a batch under 1 GiB, at most 64 (64 for common 2-D models, a few for
        large volumes; the number used is in ``settings.batch_size``).
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
        channel fired; see :func:`layerlens.model.extract`).
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
        with Gaussian noise of :data:`layerlens.options.STABILITY_NOISE` (0.02 and 0.05 of the
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
    explain_methods : sequence of str, optional
        Methods of :func:`layerlens.explanations.explain` to explain them by, with
        their default options; by default
        :data:`layerlens.explanations.DEFAULT_METHODS` (the registry says why).
        A method that needs a convolution layer (Grad-CAM) is left out for a
        model without one (with a warning when it was asked for by name).
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

    axes : str, optional
        For volumes ``(N, D, H, W, C)``: the order of their three spatial axes, a permutation of ``"DHW"``
        (D the axial axis; Keras' CT tutorial feeds ``"HWD"``). Default: what an ImageSet or ImageStream
        of volumes says (:func:`layerlens.datasets.from_nifti` records it), else ``"DHW"``. The
        thumbnails show axial slices and the site names its planes from it.
    volume_view : {"slice", "mip"}, default="slice"
        How one picture shows a volume (thumbnails, gallery): its central axial slice, or its
        maximum-intensity projection along the axial axis (the habit for PET).

    engine : {"local", "ray"}, default="local"
        Where the pass runs. ``"ray"`` runs it on a Ray cluster (``pip install "layerlens[ray]"``): actors
        that each hold the model read and pass parts of the images (an array, an ImageSet, an
        :class:`~layerlens.datasets.ImageStream` whose files the workers read, or a ``ray.data.Dataset``
        with an ``image`` column, optional ``label`` and ``file`` columns and metadata columns), each
        finished part kept in ``work_dir``; the driver fits and gathers as the local engine does, on the
        parts memory-mapped. The answers are the local engine's (same batches; floats within 1e-5).
        The local engine never imports Ray.
    workers : int, optional
        Ray actors; default one per GPU of the cluster when ``gpus_per_worker`` > 0, else one per CPU
        (leaving one CPU for reading a ``ray.data.Dataset``). More than the cluster holds is refused.
    gpus_per_worker : float, default=0
        GPUs each actor reserves.
    work_dir : str or Path, optional
        Folder of the Ray pass's finished parts. A call interrupted (Ctrl-C, a killed driver) leaves them
        there; the same call again runs only the missing parts. It holds a fingerprint of the model's
        weights, the images and the options, and a call with another fingerprint is refused. Default: a
        folder named by that fingerprint in the temporary directory (``layerlens analyze --out RUN``:
        ``RUN.work`` beside the run).
    ray_address : str, optional
        The cluster to join when this process has not joined one (``ray.init`` was not called): its
        head's ``HOST:PORT``, ``"auto"``, or ``ray://HOST:PORT``; default ``RAY_ADDRESS``, else a new
        local cluster. An address that does not answer within 5 s is refused.

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
        (see :func:`layerlens.model.extract`), or the images' accuracy at
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
    check_options(n_clusters, projection, seed, stability)
    engine = check_engine(engine)
    model, model_file = _model_of(model)
    explain_asked, explain_methods, explain_budget = check_explain(explain, explain_methods, explain_budget)
    if reference is not None:
        precheck_reference(reference)
    if probes is not None:
        precheck_probes(probes, images)
    elif probe_files is not None:
        raise InvalidInputError("probe_files: expected probes to name; received probe_files without probes.")
    from layerlens.model import output_units, resolve_batch_size
    from layerlens.run._compute import compute_analysis
    from layerlens.run._fit import probe_input, reference_fit_set

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
    batch_size = resolve_batch_size(batch_size, model)
    axes, volume_view = _volume_options(axes, volume_view, facts.axes)
    options = dict(
        batch_size=batch_size, conv_features=conv_features, seed=seed, progress=progress, preprocess=preprocess,
        axes=axes, volume_view=volume_view,
    )  # fmt: skip
    from layerlens.explanations import Candidates
    from layerlens.model import model_output_activation

    # Kept during the pass: the images to explain, and the pictures of the pages when no file can be read again.
    candidates = Candidates(
        max(candidate_capacity(explain_asked), PICTURES_MAX),
        model_output_activation(model),
        labels=labels,
        label_order=renumber,
    )
    done = run_pass(
        model,
        images,
        engine=engine,
        engine_options=dict(
            model_file=model_file,
            address=ray_address,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
            work_dir=work_dir,
        ),  # fmt: skip
        candidates=candidates,
        explaining=explain_asked != 0,
        class_names=class_names,
        layers=layers,
        pixel_scale=pixel_scale,
        noise=STABILITY_NOISE if stability else (),
        labels=labels,
        label_order=renumber,
        **options,
    )
    extraction = done.extraction
    options["model_range"] = extraction.pixels.target
    if done.metadata is not None and metadata is None:  # the columns of a ray.data.Dataset
        metadata, named = split_file_column(done.metadata)
        files = files if named is None else named
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
    k = check_k_per_layer(
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
        axes=axes if len(extraction.image_shape) == 4 else None,
        volume_view=volume_view,
        engine=engine,
        engine_note=done.note,
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
        facts={
            "source": facts.source,
            "display_range": extraction.display_range,
            "image_properties": None
            if extraction.image_properties is None
            else pd.DataFrame(extraction.image_properties, columns=list(IMAGE_PROPERTIES)),
            "created": datetime.now(timezone.utc).date().isoformat(),
        },
    )
    if analysis.metrics is not None:
        warn_about_class_order(analysis.metrics)
    _warn_about_problems(analysis)
    if explain_asked != 0:
        analysis = with_explanations(analysis, model, candidates, extraction, progress, preprocess, done.explainer)
    return _with_pictures(analysis, candidates.images(), fit, bool(keep_reference_images))


def _model_of(model: Any) -> tuple[Any, str | None]:
    """The model, loaded when it came as a ``.keras`` file, and that file (None for a model object)."""
    if not isinstance(model, (str, os.PathLike)):
        return model, None
    import keras

    path = Path(model)
    if not path.is_file():
        raise InvalidInputError(f"model: expected a Keras model or a .keras file; {str(model)!r} is not a file.")
    try:
        return keras.models.load_model(path, compile=False), str(path.resolve())
    except Exception as error:
        raise InvalidInputError(f"model: could not load {str(model)!r} as a Keras model: {error}") from None


def _volume_options(axes: Any, volume_view: Any, data_axes: str | None) -> tuple[str, str]:
    """The order of a volume's axes (as given, else as the data says, else ``"DHW"``) and its picture's view."""
    from layerlens.model import check_view
    from layerlens.options import check_axes

    view = check_view(volume_view)
    if axes is None:
        return data_axes or VOLUME_AXES, view
    axes = check_axes(axes)
    if data_axes is not None and data_axes != axes:
        raise InvalidInputError(
            f"axes: the images' reader says their axes are in the order {data_axes!r}; received {axes!r}. Leave "
            "axes out to use the reader's order."
        )
    return axes, view


def _with_pictures(analysis: Analysis, kept: dict[int, np.ndarray], fit: Any, keep_reference: bool) -> Analysis:
    """``analysis`` with its page images at their own size, and the thumbnails of their nearest reference images."""
    from layerlens.run._pictures import page_pictures
    from layerlens.run._volumes import page_volumes
    from layerlens.scores import page_images

    doubt = None if analysis.doubt is None else analysis.doubt.doubt
    gallery, others = page_images(analysis.probabilities, analysis.labels, doubt, list(analysis.explained_images))
    pages = np.concatenate([gallery[:PICTURES_MAX], others]).astype(np.int64)
    channels = int(analysis.thumbnails.shape[-1])
    settings = analysis.settings
    face = (settings.axes or VOLUME_AXES, settings.volume_view)
    pictures = page_pictures(pages, analysis.files, analysis.source, kept, analysis.display_range, channels, face)
    # Explained volumes first: their pages show the heat maps through the volume.
    in_order = [*sorted(analysis.explained_images), *pages.tolist()]
    volumes = page_volumes(in_order, kept, analysis.display_range) if settings.axes is not None else {}
    analysis = replace(analysis, pictures=pictures, volumes=volumes)
    if analysis.reference is None:
        return analysis
    near = np.unique(analysis.reference_neighbours(pages).reshape(-1)) if keep_reference and len(pages) else []
    thumbnails = {int(i): fit.thumbnails[int(i)] for i in near}
    return replace(analysis, reference=replace(analysis.reference, thumbnails=thumbnails, files=fit.files))


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
