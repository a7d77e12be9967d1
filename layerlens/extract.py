"""Stream images through a model once, keeping a small feature vector per image for each chosen layer.

One ``tf.function`` replays the model's graph (see :mod:`layerlens._graph`) and
reduces every chosen layer's activation inside the graph, batch by batch:
convolution and pooling maps become per-channel means (optionally means and
maxima), and vectors wider than :data:`MAX_FEATURE_DIM` go through a fixed,
seeded Gaussian random projection. Only these ``(batch, D)`` vectors leave
the graph, so memory never holds an activation map for every image.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.random_projection import GaussianRandomProjection

from layerlens._graph import functional_graph, run_graph
from layerlens.datasets import ImageSet
from layerlens.exceptions import InvalidInputError, InvalidTypeError

__all__ = [
    "CONV_FEATURES",
    "MAX_FEATURE_DIM",
    "Extraction",
    "LayerInfo",
    "default_layers",
    "expects_byte_pixels",
    "extract",
    "list_layers",
    "output_units",
]

MAX_FEATURE_DIM = 256
CONV_FEATURES = ("mean", "mean_max")
THUMBNAIL_SIZE = 64

_L = keras.layers
TRANSFORM_LAYERS: tuple[type, ...] = (
    _L.Conv1D, _L.Conv2D, _L.Conv3D, _L.SeparableConv1D, _L.SeparableConv2D, _L.DepthwiseConv1D,
    _L.DepthwiseConv2D, _L.Conv1DTranspose, _L.Conv2DTranspose, _L.Conv3DTranspose,
    _L.MaxPooling1D, _L.MaxPooling2D, _L.MaxPooling3D, _L.AveragePooling1D, _L.AveragePooling2D,
    _L.AveragePooling3D, _L.GlobalAveragePooling1D, _L.GlobalAveragePooling2D, _L.GlobalAveragePooling3D,
    _L.GlobalMaxPooling1D, _L.GlobalMaxPooling2D, _L.GlobalMaxPooling3D, _L.Dense, _L.EinsumDense,
)  # fmt: skip
BLOCK_LAYERS: tuple[type, ...] = (
    _L.Add, _L.Concatenate, _L.Multiply, _L.Average, _L.Maximum, _L.Minimum, _L.Subtract,
)  # fmt: skip


@dataclass(frozen=True)
class LayerInfo:
    """One addressable layer of a model.

    Attributes
    ----------
    name : str
        Unique name; layers of a nested model are ``"outer/inner"``.
    kind : str
        Class name of the layer (``"Conv2D"``, ``"Add"``, ...).
    output_shape : tuple of int or None
        Shape of the layer's output for one image.
    transforms : bool
        True for layers that transform (convolution, pooling, dense, merge);
        False for input, dropout, flatten, reshape, normalisation, activation...
    is_block : bool
        True for block outputs (``Add``, ``Concatenate``, ...), preferred when
        a deep model's default layers are thinned out.
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    transforms: bool
    is_block: bool


@dataclass(frozen=True, eq=False)
class Extraction:
    """What one pass over the images produced.

    Attributes
    ----------
    layers : tuple of LayerInfo
        The chosen layers, in depth order.
    features : tuple of ndarray
        Per layer, ``(N, D_l)`` float32 reduced activations.
    reductions : tuple of str
        Per layer, how the activation was reduced (e.g. ``"channel mean"``,
        ``"identity"``, ``"random projection 1024→256"``).
    outputs : ndarray of shape (N, K)
        Raw model outputs (``K = 1`` for a single sigmoid or logit unit).
    output_activation : str or None
        Activation of the output layer when it can be read.
    labels : ndarray of shape (N,) or None
        Labels that came with the data (an ImageSet or ``(x, y)`` batches).
    thumbnails : ndarray of shape (N, h, w, C), uint8
        Small copies of the images (longest side at most 64 pixels).
    """

    layers: tuple[LayerInfo, ...]
    features: tuple[np.ndarray, ...]
    reductions: tuple[str, ...]
    outputs: np.ndarray
    output_activation: str | None
    labels: np.ndarray | None
    thumbnails: np.ndarray


class _Recorder:
    """Gives every recorded operation a unique name (a shared layer called twice gets ``name#2``)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def name(self, raw: str) -> str:
        self.counts[raw] = self.counts.get(raw, 0) + 1
        return raw if self.counts[raw] == 1 else f"{raw}#{self.counts[raw]}"


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise InvalidTypeError(f"model: expected a keras.Model; received {type(model).__name__}.")
    functional_graph(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InvalidInputError(
            f"model: expected one image input and one class output; received {len(model.inputs)} input(s) and "
            f"{len(model.outputs)} output(s)."
        )
    if len(model.inputs[0].shape) != 4:
        raise InvalidInputError(
            f"model: expected an image input of shape (batch, height, width, channels); received "
            f"{tuple(model.inputs[0].shape)}."
        )


def expects_byte_pixels(model: keras.Model) -> bool:
    """True when the model's first layer that changes pixel values is ``Rescaling`` by about 1/255 or 1/127.5.

    Such models (the Keras tutorials' way, for images from ``image_dataset_from_directory``) expect pixel
    values 0..255; layerlens' loaders give [0, 1].
    """
    for _, op, _ in _trace(model):
        if isinstance(op, _L.Rescaling):
            scale = np.asarray(op.scale, dtype=np.float64)
            return bool(np.all((scale > 0) & (scale < 0.01)))
        if isinstance(op, TRANSFORM_LAYERS + BLOCK_LAYERS):
            return False
    return False


def output_units(model: keras.Model) -> int:
    """Number of output units of a classifier (1 for a single sigmoid or logit unit).

    Raises
    ------
    InvalidTypeError, InvalidInputError
        As :func:`list_layers`, and if the output is not ``(batch, K)``.
    """
    _check_model(model)
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2 or shape[1] is None:
        raise InvalidInputError(
            f"model: expected a classifier whose output has shape (batch, classes); received {shape}."
        )
    return int(shape[1])


def _trace(model: keras.Model) -> list[tuple[str, Any, tuple[int | None, ...]]]:
    """(name, operation, per-image output shape) of every operation, in execution order."""
    traced: list[tuple[str, Any, tuple[int | None, ...]]] = []
    recorder = _Recorder()

    def record(name: str, op: Any, output: Any) -> Any:
        # None marks an operation with several outputs: there is no single activation to reduce.
        shape = tuple(output.shape[1:]) if hasattr(output, "shape") else None
        traced.append((recorder.name(name), op, shape))
        return output

    spec = tf.TensorSpec(model.inputs[0].shape, dtype=tf.float32)
    tf.function(lambda x: run_graph(model, x, record), autograph=False).get_concrete_function(spec)
    return traced


def _info(name: str, op: Any, shape: tuple[int | None, ...] | None) -> LayerInfo:
    if shape is None:
        return LayerInfo(name, type(op).__name__, (), False, False)
    is_block = isinstance(op, BLOCK_LAYERS)
    return LayerInfo(name, type(op).__name__, shape, isinstance(op, TRANSFORM_LAYERS) or is_block, is_block)


def list_layers(model: keras.Model) -> list[LayerInfo]:
    """Every addressable layer of ``model`` in execution order, nested models entered.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional model, possibly holding nested models.

    Returns
    -------
    list of LayerInfo
        Layers of a nested model appear as ``"outer/inner"``, followed by
        the nested model itself (``"outer"``), whose output is the block's.

    Raises
    ------
    InvalidTypeError
        If ``model`` is not a Keras model or is subclassed (its graph is hidden).
    InvalidInputError
        If the model is unbuilt, or has several inputs or outputs.
    """
    _check_model(model)
    return [_info(*entry) for entry in _trace(model)]


def _spread(candidates: list[LayerInfo], max_layers: int) -> list[LayerInfo]:
    """``max_layers`` candidates spread evenly through the depth, snapping to nearby block outputs."""
    n = len(candidates)
    blocks = [j for j, info in enumerate(candidates) if info.is_block]
    reach = (n - 1) / (max_layers - 1) / 2
    chosen: list[int] = []
    for target in np.linspace(0, n - 1, max_layers):
        near = [b for b in blocks if abs(b - target) <= reach and b not in chosen]
        free = [j for j in range(n) if j not in chosen]
        pool = near or free
        chosen.append(min(pool, key=lambda j: (abs(j - target), j)))
    return [candidates[j] for j in sorted(chosen)]


def default_layers(model: keras.Model, *, max_layers: int = 8) -> list[str]:
    """The layers analysed when none are named.

    The layers that transform — convolution, pooling, dense and block outputs
    such as ``Add``/``Concatenate`` — without the final classifier layer (the
    prediction is shown separately). When there are more than ``max_layers``,
    ``max_layers`` of them are spread evenly through the depth, each snapping
    to a block output nearby when there is one, so paths stay readable.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional model.
    max_layers : int, default=8
        Most layers to return, at least 2.

    Returns
    -------
    list of str
        Layer names in depth order.

    Raises
    ------
    InvalidInputError
        If ``max_layers < 2`` or the model has no layer that transforms.
    """
    if max_layers < 2:
        raise InvalidInputError(f"max_layers: expected at least 2; received {max_layers}.")
    infos = list_layers(model)
    return [info.name for info in _default_infos(infos, max_layers)]


def _default_infos(infos: list[LayerInfo], max_layers: int) -> list[LayerInfo]:
    # The classifier layer is the last one that transforms, even when an Activation("softmax"), a
    # Dropout or the end of a nested model follows it; its output is the prediction, drawn as its own axis.
    candidates = [info for info in infos if info.transforms][:-1]
    if not candidates:
        raise InvalidInputError(
            "model: found no layer that transforms (convolution, pooling, dense, Add/Concatenate) besides the "
            "output layer; name the layers to analyse with layers=[...]."
        )
    return candidates if len(candidates) <= max_layers else _spread(candidates, max_layers)


def _select(infos: list[LayerInfo], layers: Sequence[str] | None) -> list[LayerInfo]:
    if layers is None:
        return _default_infos(infos, 8)
    if isinstance(layers, str) or not all(isinstance(name, str) for name in layers):
        raise InvalidTypeError(f"layers: expected a list of layer names; received {layers!r}.")
    by_name = {info.name: info for info in infos}
    unknown = [name for name in layers if name not in by_name]
    if unknown:
        names = list(by_name)
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        raise InvalidInputError(f"layers: unknown layer name(s) {unknown}; available layers: {shown}.")
    if len(set(layers)) != len(layers) or not layers:
        raise InvalidInputError(f"layers: expected distinct layer names, at least one; received {list(layers)}.")
    shapeless = [name for name in layers if not by_name[name].output_shape]
    if shapeless:
        raise InvalidInputError(
            f"layers: {shapeless} do not output one activation per image (several outputs, or a scalar); "
            "choose another layer."
        )
    order = {info.name: i for i, info in enumerate(infos)}
    return sorted((by_name[name] for name in layers), key=lambda info: order[info.name])


def _output_activation(traced: list[tuple[str, Any, tuple[int | None, ...]]]) -> str | None:
    """Activation name of the layer that produces the model's output, None when it cannot be read."""
    for _, op, _ in reversed(traced):
        if isinstance(op, keras.Model):
            continue  # a nested model's output is its last inner layer's, recorded before it
        if isinstance(op, _L.Softmax):
            return "softmax"
        activation = getattr(op, "activation", None)
        return getattr(activation, "__name__", None)
    return None


def _batches(images: Any, batch_size: int) -> tuple[Iterator[tuple[np.ndarray, np.ndarray | None]], int | None]:
    """Iterate ``(x, y_or_None)`` numpy batches from an array, ImageSet, tf.data.Dataset or iterable."""
    if isinstance(images, ImageSet):
        images = (images.images, images.labels)
    if hasattr(images, "numpy") and len(getattr(images, "shape", ())) >= 3:
        images = np.asarray(images)  # a whole tf.Tensor of images, not a stream of batches
    if isinstance(images, list) and images and all(isinstance(e, np.ndarray) and e.ndim == 3 for e in images):
        images = np.stack(images)  # a list of single (H, W, C) images
    if isinstance(images, tuple) and len(images) == 2 and isinstance(images[0], np.ndarray):
        x_all, y_all = images
        return ((x_all[i : i + batch_size], y_all[i : i + batch_size]) for i in range(0, len(x_all), batch_size)), len(
            x_all
        )
    if isinstance(images, np.ndarray):
        return ((images[i : i + batch_size], None) for i in range(0, len(images), batch_size)), len(images)
    if isinstance(images, tf.data.Dataset):
        return (_split_element(e) for e in images.as_numpy_iterator()), None
    if isinstance(images, keras.utils.PyDataset) or (hasattr(images, "__getitem__") and hasattr(images, "__len__")):
        return (_split_element(images[i]) for i in range(len(images))), None
    if isinstance(images, Iterable) and not isinstance(images, (str, bytes)):
        return (_split_element(e) for e in images), None
    raise InvalidTypeError(
        "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
        f"received {type(images).__name__}."
    )


def _split_element(element: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if isinstance(element, (tuple, list)):
        if not 1 <= len(element) <= 3:
            raise InvalidInputError(
                f"images: expected batches x or (x, y) or (x, y, weights); received a tuple of {len(element)}."
            )
        x = np.asarray(element[0])
        y = None if len(element) == 1 else np.asarray(element[1])
        return x, y
    return np.asarray(element), None


def _check_batch(x: np.ndarray, input_shape: tuple[int | None, ...], index: int) -> np.ndarray:
    if x.ndim == len(input_shape) and input_shape[-1] == 1:
        x = x[..., np.newaxis]  # (N, H, W) grayscale for a model that takes (H, W, 1)
    expected = "(N, " + ", ".join("any" if d is None else str(d) for d in input_shape) + ")"
    if x.ndim != len(input_shape) + 1 or any(d is not None and d != s for d, s in zip(input_shape, x.shape[1:])):
        raise InvalidInputError(
            f"images: expected shape {expected} to match the model's input; batch {index} has shape {x.shape}."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InvalidInputError(f"images: expected numeric pixel values; batch {index} has dtype {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise InvalidInputError(f"images: batch {index} contains NaN or infinite values.")
    return x


def _display_range(x: np.ndarray) -> tuple[float, float]:
    """Pixel range to map to 0..255 in thumbnails, guessed from ``x``.

    ``x`` is the whole array when the images come as one, else the first batch of the stream.
    """
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= 0.0 and hi <= 255.0:
        return 0.0, 255.0
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0  # inputs preprocessed to [-1, 1], as for MobileNet or Inception
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)  # a constant image must not divide by zero


def _thumbnail_shape(x: np.ndarray) -> tuple[int, int]:
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


def _pooled_dim(info: LayerInfo, conv_features: str) -> int:
    shape = info.output_shape
    if len(shape) == 0:
        return 1
    channels = int(np.prod([d for d in shape[-1:] if d is not None] or [1]))
    if len(shape) == 1:
        return channels
    return channels * (2 if conv_features == "mean_max" else 1)


def _describe(info: LayerInfo, conv_features: str, projection: np.ndarray | None) -> str:
    if len(info.output_shape) <= 1:
        text = "identity"
    else:
        text = "channel mean and max" if conv_features == "mean_max" else "channel mean"
    if projection is not None:
        text += f", random projection {projection.shape[0]}→{projection.shape[1]}"
    return text


def _reduce(output: tf.Tensor, conv_features: str, projection: tf.Tensor | None) -> tf.Tensor:
    output = tf.cast(output, tf.float32)
    rank = len(output.shape)
    if rank > 2:
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
) -> Any:
    wanted = {info.name: i for i, info in enumerate(chosen)}
    constants = [None if p is None else tf.constant(p) for p in projections]

    signature = [
        tf.TensorSpec((None, *input_shape), tf.float32),
        tf.TensorSpec((), tf.float32),
        tf.TensorSpec((), tf.float32),
    ]

    # A fixed signature with an unknown batch size: one trace serves every batch, the short last one too.
    @tf.function(autograph=False, input_signature=signature)
    def step(x: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(batch, sum of feature widths + outputs) float32, packed to leave the graph in one copy; thumbnails."""
        features: list[tf.Tensor | None] = [None] * len(chosen)
        recorder = _Recorder()

        def record(name: str, op: Any, output: Any) -> Any:
            i = wanted.get(recorder.name(name))
            if i is not None:
                features[i] = _reduce(output, conv_features, constants[i])
            return output

        raw = run_graph(model, x, record)
        scaled = tf.clip_by_value((x - lo) / (hi - lo), 0.0, 1.0)
        if scaled.shape[-1] not in (1, 3):
            scaled = scaled[..., :1]
        if tuple(thumbnail_shape) != tuple(input_shape[:2]):
            scaled = tf.image.resize(scaled, thumbnail_shape, method="area")
        thumbs = tf.cast(tf.round(scaled * 255.0), tf.uint8)
        return tf.concat([*features, tf.cast(raw, tf.float32)], axis=1), thumbs

    return step


def extract(
    model: keras.Model,
    images: Any,
    *,
    layers: Sequence[str] | None = None,
    batch_size: int = 64,
    conv_features: str = "mean",
    seed: int = 0,
    progress: bool = True,
    pixel_scale: float = 1.0,
) -> Extraction:
    """Run the images through the model once and keep reduced activations of the chosen layers.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional classifier with one image input;
        nested models are entered (their layers are ``"outer/inner"``).
    images : ndarray, ImageSet, tf.data.Dataset or iterable of batches
        An array ``(N, H, W, C)`` (``(N, H, W)`` for one channel) is cut into
        batches of ``batch_size``; a dataset or iterable yields batches ``x``
        or ``(x, y)`` at its own batch size, so the images never have to sit
        in memory together. Labels found in an ImageSet or ``(x, y)`` batches
        are returned too.
    layers : sequence of str, optional
        Layers to keep, by name (see :func:`list_layers`); default
        :func:`default_layers`.
    batch_size : int, default=64
        Images per forward pass when ``images`` is an array or ImageSet.
    conv_features : {"mean", "mean_max"}, default="mean"
        Reduction of a convolution or pooling map: per-channel mean, or mean
        and maximum side by side.
    seed : int, default=0
        Seed of the random projections of wide layers.
    progress : bool, default=True
        Show a progress bar.
    pixel_scale : float, default=1.0
        Every batch is multiplied by this before it reaches the model: 255
        feeds [0, 1] images to a model that starts with ``Rescaling(1/255)``.

    Returns
    -------
    Extraction
        Reduced features per layer, raw outputs, labels found, thumbnails.

    Raises
    ------
    InvalidTypeError
        If ``model`` or ``images`` has an unusable type.
    InvalidInputError
        If image shapes do not match the model's input, pixel values are not
        finite, a layer name is unknown, or there are no images.
    """
    _check_model(model)
    if conv_features not in CONV_FEATURES:
        raise InvalidInputError(f"conv_features: expected one of {CONV_FEATURES}; received {conv_features!r}.")
    if not np.isfinite(pixel_scale) or pixel_scale <= 0:
        raise InvalidInputError(f"pixel_scale: expected a positive number; received {pixel_scale!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive integer; received {batch_size!r}.")
    traced = _trace(model)
    chosen = _select([_info(*entry) for entry in traced], layers)
    projections = [_projection(_pooled_dim(info, conv_features), seed, i) for i, info in enumerate(chosen)]
    input_shape = tuple(model.inputs[0].shape[1:])
    batches, total = _batches(images, batch_size)
    whole = images.images if isinstance(images, ImageSet) else images if isinstance(images, np.ndarray) else None
    bar = keras.utils.Progbar(total, unit_name="image") if progress else None

    widths = [_pooled_dim(info, conv_features) if p is None else p.shape[1] for info, p in zip(chosen, projections)]
    packed = _Rows(total, sum(widths) + int(model.outputs[0].shape[-1]), np.float32)
    thumbnails: _Rows | None = None
    labels: list[np.ndarray | None] = []
    step = None
    for index, (x, y) in enumerate(batches):
        x = _check_batch(x, input_shape, index)
        if step is None:
            first_shape = x.shape[1:]
            # The thumbnails' pixel range is guessed on the images as given: the whole array, else the first batch.
            guess = _display_range(x if whole is None else whole)
            lo, hi = (tf.constant(v * pixel_scale, tf.float32) for v in guess)
            step = _step_function(model, chosen, projections, conv_features, _thumbnail_shape(x), first_shape)
        elif x.shape[1:] != first_shape:
            raise InvalidInputError(
                f"images: every image must have the same size; batch 0 has images of {first_shape}, batch {index} "
                f"of {x.shape[1:]}."
            )
        if pixel_scale != 1.0:
            x = x * np.float32(pixel_scale)
        values, thumbs = step(x, lo, hi)
        packed.add(values.numpy())
        thumbs = thumbs.numpy()
        if thumbnails is None:
            thumbnails = _Rows(total, thumbs.shape[1:], np.uint8)
        thumbnails.add(thumbs)
        labels.append(y)
        if bar is not None:
            bar.add(len(x))
    if step is None:
        raise InvalidInputError("images: expected at least one image; received none.")
    table = packed.result()
    edges = np.cumsum([0, *widths])
    return Extraction(
        layers=tuple(chosen),
        features=tuple(np.ascontiguousarray(table[:, a:b]) for a, b in zip(edges[:-1], edges[1:])),
        reductions=tuple(_describe(info, conv_features, p) for info, p in zip(chosen, projections)),
        outputs=np.ascontiguousarray(table[:, edges[-1] :]),
        output_activation=_output_activation(traced),
        labels=_join_labels(labels),
        thumbnails=thumbnails.result(),
    )


class _Rows:
    """Rows gathered batch by batch: written into one array when the count is known, else joined at the end."""

    def __init__(self, total: int | None, row_shape: int | tuple[int, ...], dtype: type) -> None:
        shape = (row_shape,) if isinstance(row_shape, int) else tuple(row_shape)
        self.array = None if total is None else np.empty((total, *shape), dtype)
        self.parts: list[np.ndarray] = []
        self.filled = 0

    def add(self, rows: np.ndarray) -> None:
        if self.array is None:
            self.parts.append(rows)
        else:
            self.array[self.filled : self.filled + len(rows)] = rows
        self.filled += len(rows)

    def result(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.array is None else self.array[: self.filled]


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
