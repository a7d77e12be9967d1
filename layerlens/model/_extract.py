"""Stream images through a model once, keeping a small feature vector per image for each chosen layer.

One ``tf.function`` replays the model's graph (see :mod:`layerlens.model._graph`) and
reduces every chosen layer's activation inside the graph, batch by batch:
convolution and pooling maps become per-channel means (optionally means and
maxima), and vectors wider than :data:`MAX_FEATURE_DIM` go through a fixed,
seeded Gaussian random projection. Only these ``(batch, D)`` vectors leave
the graph, so memory never holds an activation map for every image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.random_projection import GaussianRandomProjection

from layerlens._util.progress import Progress
from layerlens._util.skipped import warn_skipped
from layerlens.exceptions import InvalidInputError
from layerlens.model._extraction import Extraction, LayerInfo, PixelDecision
from layerlens.model._graph import run_graph
from layerlens.model._inputs import (
    NoiseSource,
    batches,
    check_batch,
    check_pixel_scale,
    display_range,
    scale_sample,
)
from layerlens.model._layers import (
    Recorder,
    check_model,
    output_activation,
    parallel_to_previous,
    select_layers,
    trace,
)
from layerlens.model._pixelscale import (
    AUTO,
    PixelMap,
    Sample,
    choose_pixel_scale,
    forward_at_scale,
    read_stretch,
    resolve_preprocess,
)
from layerlens.model._properties import IMAGE_PROPERTIES, image_properties
from layerlens.model._volumes import check_view, resolve_batch_size, volume_face
from layerlens.options import CONV_FEATURES, VOLUME_AXES, check_axes

__all__ = ["MAX_FEATURE_DIM", "PassPlan", "extract", "plan_pass"]

MAX_FEATURE_DIM = 256
#: ``conv_features="grid"`` averages each channel over this many cells along each spatial axis.
GRID_SIZE = 4
THUMBNAIL_SIZE = 64


def _thumbnail_shape(x: np.ndarray, axes: str) -> tuple[int, int]:
    """Size of the thumbnails of a batch of images (or of volumes' axial faces), longest side THUMBNAIL_SIZE."""
    if x.ndim == 5:
        height, width = x.shape[1 + axes.index("H")], x.shape[1 + axes.index("W")]
    else:
        height, width = x.shape[1], x.shape[2]
    scale = min(1.0, THUMBNAIL_SIZE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _projection(dim: int, seed: int, position: int) -> np.ndarray | None:
    if dim <= MAX_FEATURE_DIM:
        return None
    # One independent stream per (seed, layer position), always a valid 32-bit seed for scikit-learn.
    stream_seed = int(np.random.SeedSequence([seed, position]).generate_state(1)[0])
    projector = GaussianRandomProjection(n_components=MAX_FEATURE_DIM, random_state=stream_seed)
    projector.fit(np.zeros((1, dim), dtype=np.float32))
    return projector.components_.T.astype(np.float32)


def _grid_cells(shape: tuple[int | None, ...]) -> tuple[int, ...] | None:
    """Cells of the spatial grid of a (H, W, C) or (D, H, W, C) map for ``conv_features="grid"``; None for other
    ranks and for 3-D maps of unknown size."""
    if len(shape) == 3:
        return tuple(GRID_SIZE if d is None else min(GRID_SIZE, d) for d in shape[:2])
    if len(shape) == 4 and all(d is not None for d in shape[:3]):
        return tuple(min(GRID_SIZE, int(d)) for d in shape[:3])  # type: ignore[arg-type]
    return None  # 1-D convolutions keep channel means


def _area_weights(size: int, cells: int) -> np.ndarray:
    """(size, cells) weights that average each of ``cells`` equal stretches of ``size`` positions (area resampling).

    A position split between two stretches counts in each by the share of it that lies there, as
    ``tf.image.resize(method="area")`` does in 2-D.
    """
    edges = np.arange(cells + 1) * size / cells
    start, stop = np.arange(size)[:, None], np.arange(size)[:, None] + 1
    overlap = np.clip(np.minimum(stop, edges[1:]) - np.maximum(start, edges[:-1]), 0.0, None)
    return (overlap / (size / cells)).astype(np.float32)


def _pooled_dim(info: LayerInfo, conv_features: str) -> int:
    shape = info.output_shape
    if len(shape) == 0:
        return 1
    channels = int(np.prod([d for d in shape[-1:] if d is not None] or [1]))
    if len(shape) == 1:
        return channels
    cells = _grid_cells(shape) if conv_features == "grid" else None
    if cells is not None:
        return channels * int(np.prod(cells))
    return channels * (2 if conv_features == "mean_max" else 1)


def _describe(info: LayerInfo, conv_features: str, projection: np.ndarray | None) -> str:
    cells = _grid_cells(info.output_shape) if conv_features == "grid" else None
    if len(info.output_shape) <= 1:
        text = "identity"
    elif cells is not None:
        text = f"channel means on a {'x'.join(str(c) for c in cells)} grid"
    else:
        text = "channel mean and max" if conv_features == "mean_max" else "channel mean"
    if projection is not None:
        text += f", random projection {projection.shape[0]}→{projection.shape[1]}"
    return text


def _reduce(
    output: tf.Tensor, conv_features: str, cells: tuple[int, ...] | None, projection: tf.Tensor | None
) -> tf.Tensor:
    """One layer's activation as a (batch, D) matrix; ``cells`` is the grid of ``"grid"`` features, if any."""
    output = tf.cast(output, tf.float32)
    rank = len(output.shape)
    if cells is not None and len(cells) == 2:
        # Area resampling averages each cell's pixels (fractional at uneven borders): where in the
        # image a channel fired survives, coarsely, which a mean over the whole map averages away.
        pooled = tf.image.resize(output, cells, method="area")
        pooled = tf.reshape(pooled, (-1, cells[0] * cells[1] * output.shape[-1]))
    elif cells is not None:  # 3-D: the same area averages, one spatial axis at a time
        pooled = output
        for axis, count in enumerate(cells, start=1):
            weights = tf.constant(_area_weights(int(output.shape[axis]), count))
            pooled = tf.experimental.numpy.moveaxis(tf.tensordot(pooled, weights, axes=[[axis], [0]]), -1, axis)
        pooled = tf.reshape(pooled, (-1, int(np.prod(cells)) * output.shape[-1]))
    elif rank > 2:
        axes = list(range(1, rank - 1))
        pooled = tf.reduce_mean(output, axis=axes)
        if conv_features == "mean_max":
            pooled = tf.concat([pooled, tf.reduce_max(output, axis=axes)], axis=-1)
    elif rank == 2:
        pooled = output
    else:
        pooled = tf.reshape(output, (-1, 1))
    return pooled if projection is None else tf.matmul(pooled, projection)


def _step_function(
    model: keras.Model,
    chosen: list[LayerInfo],
    projections: list[np.ndarray | None],
    conv_features: str,
    thumbnail_shape: tuple[int, int],
    input_shape: tuple[int, ...],
    n_levels: int,
    preprocess: Any = None,
    face: tuple[str, str] = (VOLUME_AXES, "slice"),
) -> Any:
    wanted = {info.name: i for i, info in enumerate(chosen)}
    constants = [None if p is None else tf.constant(p) for p in projections]
    # From the traced shapes, as the feature widths were: a map's size must not change the layout.
    grids = [_grid_cells(info.output_shape) if conv_features == "grid" else None for info in chosen]

    def features_and_outputs(x: tf.Tensor) -> tf.Tensor:
        """(batch, sum of feature widths + outputs) float32: one pass of the model, every chosen layer reduced."""
        features: list[tf.Tensor | None] = [None] * len(chosen)
        recorder = Recorder()

        def record(name: str, op: Any, inputs: list[Any], output: Any) -> Any:
            i = wanted.get(recorder.name(name))
            if i is not None:
                features[i] = _reduce(output, conv_features, grids[i], constants[i])
            return output

        raw = run_graph(model, x, record)
        return tf.concat([*features, tf.cast(raw, tf.float32)], axis=1)

    def step(x: tf.Tensor, scale: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor, *noisy: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Packed features and outputs of the images, then of each noisy copy (``noisy[0][j]``); thumbnails."""
        to_model = PixelMap(1.0, preprocess)
        packed = [features_and_outputs(to_model(x * scale))]
        for j in range(n_levels):
            packed.append(features_and_outputs(to_model(noisy[0][j] * scale)))
        shown = volume_face(x, *face)  # a volume by its central axial slice or projection
        scaled = tf.clip_by_value((shown - lo) / (hi - lo), 0.0, 1.0)
        if scaled.shape[-1] not in (1, 3):
            scaled = scaled[..., :1]
        if tuple(thumbnail_shape) != tuple(shown.shape[1:3]):
            scaled = tf.image.resize(scaled, thumbnail_shape, method="area")
        thumbs = tf.cast(tf.round(scaled * 255.0), tf.uint8)
        return tf.concat(packed, axis=1), thumbs

    # One trace with an unknown batch size serves every batch, the short last one too. Tracing the
    # concrete function directly (rather than on a first call) keeps TensorFlow's retracing detector
    # out of it, which otherwise warns once a process has analysed a few models.
    scalar = tf.TensorSpec((), tf.float32)
    signature = [tf.TensorSpec((None, *input_shape), tf.float32), scalar, scalar, scalar]
    if n_levels:
        signature.append(tf.TensorSpec((n_levels, None, *input_shape), tf.float32))
    return tf.function(step, autograph=False).get_concrete_function(*signature)


def extract(
    model: keras.Model,
    images: Any,
    *,
    layers: Sequence[str] | None = None,
    batch_size: int | str = "auto",
    conv_features: str = "mean",
    seed: int = 0,
    progress: bool = True,
    pixel_scale: float | str = AUTO,
    noise: Sequence[float] = (),
    axes: str = VOLUME_AXES,
    volume_view: str = "slice",
    preprocess: Any = None,
    labels: np.ndarray | None = None,
    label_order: np.ndarray | None = None,
    model_range: str | None = None,
    keep: Callable[[int, np.ndarray, np.ndarray, np.ndarray | None], None] | None = None,
    plan: PassPlan | None = None,
    first_index: int = 0,
) -> Extraction:
    """Run the images through the model once and keep reduced activations of the chosen layers.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional classifier with one image input;
        nested models are entered (their layers are ``"outer/inner"``).
    images : ndarray, ImageSet, ImageStream, tf.data.Dataset or iterable of batches
        An array ``(N, H, W, C)`` (``(N, H, W)`` for one channel) is cut into
        batches of ``batch_size``; an :class:`~layerlens.datasets.ImageStream`
        decodes its files ``batch_size`` at a time; a dataset or iterable
        yields batches ``x`` or ``(x, y)`` at its own batch size, so the
        images never have to sit in memory together. Labels found in an
        ImageSet, ImageStream or ``(x, y)`` batches are returned too.
    layers : sequence of str, optional
        Layers to keep, by name (see :func:`list_layers`); default
        :func:`default_layers`.
    batch_size : int or "auto", default="auto"
        Images per forward pass when ``images`` is an array, ImageSet or ImageStream. ``"auto"``
        (:func:`~layerlens.model._volumes.auto_batch_size`): as many as keep the model's largest activation
        of a batch under 1 GiB, at most 64 (64 for most 2-D models; a few for large volumes).
    conv_features : {"mean", "mean_max", "grid"}, default="mean"
        Reduction of a convolution or pooling map: per-channel mean, mean
        and maximum side by side, or per-channel means over a coarse
        :data:`GRID_SIZE` x :data:`GRID_SIZE` grid of the map, which keeps
        where in the image a channel fired. Reductions wider than
        :data:`MAX_FEATURE_DIM` go through the fixed random projection.
    seed : int, default=0
        Seed of the random projections of wide layers.
    progress : bool, default=True
        Show a progress bar.
    pixel_scale : float or "auto", default="auto"
        Every batch is multiplied by this before it reaches the model.
        ``"auto"`` works out the pixel range the model takes from its graph
        (the operations before its first learned layer: ``Rescaling``,
        ``Normalization``, a ``keras.applications`` family's
        ``preprocess_input``, arithmetic) and checks it on up to 256 images
        spread over the set (with labels, by accuracy: a scale that is
        clearly better wins, with a :class:`PixelScaleWarning`); images in
        [0, 1] and 0..255 are brought to that range (see
        :mod:`layerlens.model._pixelscale`). The choice and why are returned in
        ``pixels``.
    noise : sequence of float, default=()
        Noise levels, as shares of the images' pixel range (e.g. ``(0.02,
        0.05)``): for each, a copy of every batch with seeded Gaussian noise of
        that standard deviation (clipped to the pixel range) goes through the
        model in the same pass, and its features and outputs are returned
        too. Each image's noise depends on its position in the images, the
        level and ``seed``, not on ``batch_size``; the clean images' results do
        not change with it.
    axes : str, default="DHW"
        For volumes ``(N, D, H, W, C)``: the order of the three spatial axes (a permutation of ``"DHW"``, D
        the axial axis); the thumbnails show axial slices. Ignored for images.
    volume_view : {"slice", "mip"}, default="slice"
        A volume's thumbnail: its central axial slice, or its maximum-intensity projection along the axial
        axis (the habit for PET).
    preprocess : callable or str, optional
        Applied to every batch after ``pixel_scale``, before the model: a
        function of a batch tensor of 0..255 pixels (as in ``dataset.map``),
        or a ``keras.applications`` family name (its ``preprocess_input``),
        for models trained on a ``tf.data`` pipeline that preprocessed the
        images outside the model.
    labels : ndarray of shape (N,), optional
        Labels of the images in the model's class order, when they come
        apart from them (an array of images); only used to check the pixel
        scale.
    label_order : ndarray, optional
        How labels found in the data (an ImageSet, ImageStream or ``(x, y)``
        batches) become the model's class indices, for that check.
    model_range : {"unit", "bytes"}, optional
        The pixel range the model takes, already decided on other images
        (an analysis' reference and probes follow its analysed images):
        ``"auto"`` then brings these images to it from their own range.
    keep : callable, optional
        Called after each batch with the position of its first image, the
        images (float32, as given), the model's raw outputs and the batch's
        labels (None without): how an analysis keeps the images it may
        explain without reading the data twice.
    plan : PassPlan, optional
        The pixel factor and pixel range decided once for the whole set (:func:`plan_pass`), when these
        images are one part of it (a block of a distributed pass): no decision is taken on the part.
    first_index : int, default=0
        The position of the first of these images in the whole set, which seeds their noisy copies.

    Returns
    -------
    Extraction
        Reduced features per layer, raw outputs, labels found, thumbnails
        and the pixel scale used.

    Raises
    ------
    InvalidTypeError
        If ``model`` or ``images`` has an unusable type.
    InvalidInputError
        If image shapes do not match the model's input (a single image, or an
        unbatched ``tf.data`` set, is named as such), pixel values are not
        finite, a layer name is unknown, or there are no images.

    Warns
    -----
    PixelScaleWarning
        If the images' range disagrees with what the model expects: [0, 1]
        images reaching a model that divides by 255, or 0..255 images with
        ``pixel_scale="auto"`` reaching a model without a Rescaling layer.
    """
    check_model(model)
    if conv_features not in CONV_FEATURES:
        raise InvalidInputError(f"conv_features: expected one of {CONV_FEATURES}; received {conv_features!r}.")
    requested_scale = check_pixel_scale(pixel_scale)
    transform, preprocess_name = resolve_preprocess(preprocess)
    axes, volume_view = check_axes(axes), check_view(volume_view)
    levels = _check_noise(noise)
    traced = trace(model)
    input_shape = tuple(model.inputs[0].shape[1:])
    batch_size = resolve_batch_size(batch_size, model)
    chosen = select_layers(traced.infos, layers)
    projections = [_projection(_pooled_dim(info, conv_features), seed, i) for i, info in enumerate(chosen)]
    source = batches(images, batch_size, input_shape)
    if plan is None:
        source, decision = _decide_pixels(
            model, traced, source, images, requested_scale, transform, labels, label_order, model_range, batch_size
        )
    else:
        decision = plan.decision
    scale = decision.factor
    # Counted in images when their number is known, else in batches when theirs is (a tf.data set of known
    # cardinality), so the line can say how far it is and how long is left.
    by_batch = source.total is None and source.total_batches is not None
    bar = None
    if progress:
        bar = Progress(source.total_batches, "batch") if by_batch else Progress(source.total, "image")

    widths = [_pooled_dim(info, conv_features) if p is None else p.shape[1] for info, p in zip(chosen, projections)]
    edges = np.cumsum([0, *widths, int(model.outputs[0].shape[-1])])  # one copy: features, then outputs
    width = int(edges[-1])
    # Each batch's packed row is cut into one growing array per layer and copy (and the outputs), so that
    # no table of every feature is kept beside them.
    columns = [
        [_Rows(source.total, int(b - a), np.float32) for a, b in zip(edges[:-1], edges[1:])]
        for _ in range(1 + len(levels))
    ]
    thumbnails: _Rows | None = None
    properties = _Rows(source.total, (len(IMAGE_PROPERTIES),), np.float32)
    labels: list[np.ndarray | None] = []
    step = None
    started = time.perf_counter()
    for index, (raw_x, y) in enumerate(source.stream):
        x = check_batch(raw_x, input_shape, index)
        if len(x) == 0:
            continue  # an empty batch (the last of a stream, say) adds nothing
        if step is None:
            first_shape = x.shape[1:]
            # Pixel range as given: of the whole array when there is one, else of the first batch.
            if plan is None:
                ranged = x if source.whole is None else source.whole
                lo, hi = float(ranged.min()), float(ranged.max())
            else:
                lo, hi = plan.pixel_range
            shown = display_range(lo, hi)
            constants = [tf.constant(v, tf.float32) for v in (scale, *shown)]
            face = (axes, volume_view)
            how = (chosen, projections, conv_features, _thumbnail_shape(x, axes), first_shape, len(levels), transform)
            names = tuple(info.name for info in chosen)
            key = (id(model), names, conv_features, seed, *how[3:6], id(transform), face)  # what the step depends on
            step = None if plan is None else plan.traced.get(key)
            if step is None:
                step = _step_function(model, *how, face)
                if plan is not None:
                    plan.traced[key] = step
            noise_source = NoiseSource(seed, levels, first_shape)
        elif x.shape[1:] != first_shape:
            raise InvalidInputError(
                f"images: every image must have the same size; batch 0 has images of {first_shape}, batch {index} "
                f"of {x.shape[1:]}."
            )
        start = columns[0][0].filled
        copies = [tf.constant(noise_source.copies(x, first_index + start, lo, hi))] if levels else []
        values, thumbs = step(tf.constant(x), *constants, *copies)
        values = values.numpy()
        if keep is not None:
            keep(start, x, values[:, edges[-2] : edges[-1]], y)
        for j, parts in enumerate(columns):
            for rows, a, b in zip(parts, edges[:-1], edges[1:]):
                rows.add(values[:, width * j + a : width * j + b])
        thumbs = thumbs.numpy()
        if thumbnails is None:
            thumbnails = _Rows(source.total, thumbs.shape[1:], np.uint8)
        thumbnails.add(thumbs)
        properties.add(image_properties(x, shown))
        labels.append(y)
        if bar is not None:
            bar.add(1 if by_batch else len(x))
    seconds = time.perf_counter() - started
    if bar is not None:
        bar.close()
    if source.unreadable:  # said once the progress line is complete, not across it
        warn_skipped(source.unreadable, "the warning's files")
    if step is None:
        raise InvalidInputError("images: expected at least one image; received none.")
    results = [[rows.result() for rows in parts] for parts in columns]
    noisy = {level: (tuple(results[j + 1][:-1]), results[j + 1][-1]) for j, level in enumerate(levels)}
    return Extraction(
        layers=tuple(chosen),
        features=tuple(results[0][:-1]),
        reductions=tuple(_describe(info, conv_features, p) for info, p in zip(chosen, projections)),
        parallel=parallel_to_previous(traced, chosen),
        outputs=results[0][-1],
        output_activation=output_activation(traced),
        labels=_join_labels(labels),
        thumbnails=thumbnails.result(),
        image_properties=properties.result(),
        pixel_scale=scale,
        display_range=shown,
        pixels=decision,
        preprocess=preprocess_name,
        seconds=seconds,
        noisy_features={level: features for level, (features, _) in noisy.items()},
        noisy_outputs={level: outputs for level, (_, outputs) in noisy.items()},
        image_shape=tuple(int(d) for d in first_shape),
        source_rows=None if source.rows is None else np.asarray(source.rows, dtype=np.int64),
    )


@dataclass(frozen=True)
class PassPlan:
    """What is decided once for every image of a pass, before it: the pixel factor and the images' pixel range.

    Attributes
    ----------
    decision : PixelDecision
        The factor every image is multiplied by, and why.
    pixel_range : tuple of float
        The lowest and highest pixel value as given: of the whole array when there is one, else of the first
        batch. It sets the thumbnails' display range and clips the noisy copies.
    traced : dict
        The pass's traced step functions, by what they were traced for, so that the parts of a pass that run
        in one process trace it once (not pickled: each process traces its own).
    """

    decision: PixelDecision
    pixel_range: tuple[float, float]
    traced: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "traced": {}}


def plan_pass(
    model: keras.Model,
    images: Any,
    *,
    batch_size: int,
    pixel_scale: float | str = AUTO,
    preprocess: Any = None,
    labels: np.ndarray | None = None,
    label_order: np.ndarray | None = None,
    model_range: str | None = None,
    first_batch: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> PassPlan:
    """The :class:`PassPlan` :func:`extract` would make for ``images``, for a pass cut into parts.

    ``first_batch`` is the first ``(x, y_or_None)`` batch of a stream that cannot be read here (a
    ``ray.data.Dataset``), on which the decision is then taken;
    arrays, ImageSets and ImageStreams are read as :func:`extract` reads them.
    """
    check_model(model)
    requested = check_pixel_scale(pixel_scale)
    transform, _ = resolve_preprocess(preprocess)
    input_shape = tuple(model.inputs[0].shape[1:])
    source = batches(images if first_batch is None else [first_batch], batch_size, input_shape)
    source, decision = _decide_pixels(
        model, trace(model), source, images, requested, transform, labels, label_order, model_range, batch_size
    )
    if source.whole is not None:
        ranged = source.whole
    else:
        ranged = next((check_batch(x, input_shape, 0) for x, _ in source.stream if len(x)), None)
        if ranged is None:
            raise InvalidInputError("images: expected at least one image; received none.")
    return PassPlan(decision, (float(np.min(ranged)), float(np.max(ranged))))


def _decide_pixels(
    model: keras.Model,
    traced: Any,
    source: Any,
    images: Any,
    requested: float | str,
    transform: Any,
    labels: np.ndarray | None,
    label_order: np.ndarray | None,
    model_range: str | None,
    batch_size: int = 64,
) -> tuple[Any, PixelDecision]:
    """The factor the images are multiplied by (see :mod:`layerlens.model._pixelscale`), decided before the pass."""
    input_shape = tuple(model.inputs[0].shape[1:])
    source, raw, sample_labels, x = scale_sample(source, images, labels, label_order, input_shape)
    if len(x) == 0:
        return source, PixelDecision(1.0 if requested == AUTO else float(requested), model_range, "no images")
    whole = source.whole if source.whole is not None else x
    lo, hi = float(np.min(whole)), float(np.max(whole))
    integer = np.issubdtype(np.asarray(raw).dtype, np.integer)
    stretch = read_stretch(model, transform)
    probabilities_at = forward_at_scale(model, transform, x, output_activation(traced), batch_size)
    sample = Sample(x, sample_labels)
    decision = choose_pixel_scale(
        requested, stretch, lo, hi, integer=integer, sample=sample, probabilities_at=probabilities_at,
        target=model_range,
    )  # fmt: skip
    return source, decision


def _check_noise(noise: Sequence[float]) -> tuple[float, ...]:
    if isinstance(noise, (str, bytes)) or not isinstance(noise, Sequence):
        raise InvalidInputError(f"noise: expected a sequence of noise levels such as (0.02, 0.05); received {noise!r}.")
    levels = tuple(noise)
    good = all(isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool) for v in levels)
    if not good or any(not 0.0 < float(v) <= 1.0 for v in levels) or len(set(levels)) != len(levels):
        raise InvalidInputError(
            f"noise: expected distinct noise levels in (0, 1], shares of the pixel range; received {list(levels)}."
        )
    return tuple(float(v) for v in levels)


class _Rows:
    """Rows gathered batch by batch: written into one array when the count is known, else joined at the end."""

    def __init__(self, total: int | None, row_shape: int | tuple[int, ...], dtype: type) -> None:
        shape = (row_shape,) if isinstance(row_shape, int) else tuple(row_shape)
        self.array = None if total is None else np.empty((total, *shape), dtype)
        self.parts: list[np.ndarray] = []
        self.filled = 0

    def add(self, rows: np.ndarray) -> None:
        if self.array is None:
            self.parts.append(np.array(rows))  # its own copy: ``rows`` may be a slice of a larger batch
        else:
            self.array[self.filled : self.filled + len(rows)] = rows
        self.filled += len(rows)

    def result(self) -> np.ndarray:
        if self.array is not None:
            # Fewer rows than announced (a stream's unreadable files): a copy, so the unused rows are freed.
            return self.array if self.filled == len(self.array) else self.array[: self.filled].copy()
        joined, self.parts = np.concatenate(self.parts), []  # the parts go as soon as they are joined
        return joined


def _join_labels(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """Labels of all batches, or None unless every batch had them; one-hot labels become indices."""
    if not parts or any(part is None for part in parts):
        return None
    labels = np.concatenate([np.asarray(part) for part in parts])
    if labels.ndim == 2 and labels.shape[1] > 1 and np.allclose(labels.sum(axis=1), 1.0):
        labels = labels.argmax(axis=1)  # one-hot (categorical_crossentropy) labels
    if labels.ndim > 2 or (labels.ndim == 2 and labels.shape[1] != 1):
        raise InvalidInputError(
            f"images: the labels y in the batches have shape {labels.shape}; expected class indices (N,) or "
            "one-hot rows (N, K)."
        )
    return labels.reshape(len(labels))
