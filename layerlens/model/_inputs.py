"""Images in whatever form a user has them, as checked numpy batches; and the pixel scale the model needs.

Arrays, ImageSets, whole tensors, lists of images, ``tf.data`` datasets, Keras ``PyDataset`` objects
and plain iterables of batches all become one iterator of ``(x, y_or_None)`` numpy batches.
"""

from __future__ import annotations

import itertools
import numbers
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from layerlens._util.warn import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import ChannelWarning, InvalidInputError, InvalidTypeError
from layerlens.model._pixelscale import AUTO, SAMPLE_SIZE, sample_size

__all__ = [
    "AUTO",
    "Batches",
    "DatasetOrigin",
    "NoiseSource",
    "batches",
    "check_batch",
    "check_pixel_scale",
    "dataset_origin",
    "display_range",
    "fetch_rows",
    "scale_sample",
    "spread_positions",
    "split_element",
]

# Bytes of images a peek at a stream may hold while it looks for a sample of two classes.
_PEEK_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class Batches:
    """A stream of ``(x, y_or_None)`` numpy batches, with what is known of it before it is read.

    Attributes
    ----------
    stream : iterator of (ndarray, ndarray or None)
        The batches.
    total : int or None
        Number of images, when known in advance.
    whole : ndarray or None
        All images at once, when they came as one array (its pixel range is then exact).
    whole_labels : ndarray or None
        Their labels, when they came with the array (an ImageSet, ``(images, labels)``).
    total_batches : int or None
        Number of batches, when known in advance but the number of images is not (a ``tf.data`` dataset
        whose cardinality is known).
    rows : list of int or None
        For an :class:`~layerlens.datasets.ImageStream`: filled as the batches are read with the position in
        its ``files`` of each image given (unreadable files have none).
    unreadable : list of str
        For an :class:`~layerlens.datasets.ImageStream`: filled with the files that could not be read, for the
        reader of the batches to report once the pass (and its progress line) is over.
    """

    stream: Iterator[tuple[np.ndarray, np.ndarray | None]]
    total: int | None
    whole: np.ndarray | None
    rows: list[int] | None = None
    unreadable: list[str] = field(default_factory=list)
    whole_labels: np.ndarray | None = None
    total_batches: int | None = None


def batches(images: Any, batch_size: int, input_shape: tuple[int | None, ...]) -> Batches:
    """Iterate ``(x, y_or_None)`` numpy batches from an array, ImageSet, tf.data.Dataset or iterable."""
    if isinstance(images, ImageSet):
        images = (images.images, images.labels)
    if isinstance(images, ImageStream):
        rows: list[int] = []
        unreadable: list[str] = []
        return Batches(
            images.batches(batch_size, kept=rows, unreadable=unreadable), len(images), None, rows, unreadable
        )
    if hasattr(images, "numpy") and len(getattr(images, "shape", ())) >= 3:
        images = np.asarray(images)  # a whole tf.Tensor of images, not a stream of batches
    single = len(input_shape)  # a list of single (H, W, C) images or (D, H, W, C) volumes, not of batches
    if isinstance(images, list) and images and all(isinstance(e, np.ndarray) and e.ndim == single for e in images):
        images = np.stack(images)
    if isinstance(images, tuple) and len(images) == 2 and isinstance(images[0], np.ndarray):
        x_all, y_all = images
        _refuse_single_image(x_all.shape, input_shape, "images")
        chunks = ((x_all[i : i + batch_size], y_all[i : i + batch_size]) for i in range(0, len(x_all), batch_size))
        return Batches(chunks, len(x_all), x_all, whole_labels=np.asarray(y_all))
    if isinstance(images, np.ndarray):
        _refuse_single_image(images.shape, input_shape, "images")
        chunks = ((images[i : i + batch_size], None) for i in range(0, len(images), batch_size))
        return Batches(chunks, len(images), images)
    if isinstance(images, tf.data.Dataset):
        spec = images.element_spec
        first = spec[0] if isinstance(spec, (tuple, list)) else spec
        if isinstance(first, tf.TensorSpec):
            _refuse_single_image(tuple(first.shape), input_shape, "images (the tf.data.Dataset's elements)")
        origin = dataset_origin(images)
        total = None if origin.files is None else len(origin.files)
        stream = (split_element(e) for e in images.as_numpy_iterator())
        return Batches(stream, total, None, total_batches=None if total is not None else origin.batches)
    if isinstance(images, Mapping):
        raise InvalidTypeError(
            "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
            f"received a {type(images).__name__} (pass its array of images, e.g. data['x'])."
        )
    if isinstance(images, (str, bytes, Path)):
        raise InvalidTypeError(
            "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
            f"received the {type(images).__name__} {str(images)[:80]!r} (a folder of images is read by "
            "layerlens.datasets.from_directory)."
        )
    if isinstance(images, keras.utils.PyDataset) or (hasattr(images, "__getitem__") and hasattr(images, "__len__")):
        stream = (split_element(images[i]) for i in range(len(images)))
        return Batches(stream, None, None, total_batches=len(images))
    if isinstance(images, Iterable) and not isinstance(images, (str, bytes)):
        return Batches((split_element(e) for e in images), None, None)
    raise InvalidTypeError(
        "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
        f"received {type(images).__name__}."
    )


# tf.data transformations that keep every element and its order: a dataset made of these on top of Keras'
# image_dataset_from_directory still yields its files in the order of its file_paths.
_ORDER_KEEPING = {
    "_PrefetchDataset", "PrefetchDataset", "CacheDataset", "_CacheDataset", "_MapDataset", "MapDataset",
    "_ParallelMapDataset", "ParallelMapDataset", "_BatchDataset", "BatchDataset", "_ParallelBatchDataset",
    "_PaddedBatchDataset", "_UnbatchDataset", "_RestructuredDataset", "_OptionsDataset", "_RebatchDataset",
    "_MapAndBatchDataset", "_AssertCardinalityDataset", "_IgnoreErrorsDataset",
}  # fmt: skip


@dataclass(frozen=True)
class DatasetOrigin:
    """What a ``tf.data.Dataset`` made by Keras' ``image_dataset_from_directory`` tells of its images.

    Attributes
    ----------
    files : tuple of str or None
        Each image's file, in the order the dataset yields them, relative to ``root``; None when the order
        is unknown (the dataset shuffles, or drops or repeats elements).
    root : str or None
        The folder the files are relative to (the one given to Keras).
    class_names : tuple of str or None
        The class sub-folders, in the order of the labels.
    why_no_files : str or None
        Why ``files`` is None although the dataset lists them.
    batches : int or None
        How many batches the dataset yields, when it knows.
    """

    files: tuple[str, ...] | None = None
    root: str | None = None
    class_names: tuple[str, ...] | None = None
    why_no_files: str | None = None
    batches: int | None = None


def dataset_origin(dataset: Any) -> DatasetOrigin:
    """The file names, class names and length a ``tf.data.Dataset`` carries (see :class:`DatasetOrigin`).

    Keras sets ``file_paths`` and ``class_names`` on the dataset it returns; a ``.map``, ``.cache`` or
    ``.prefetch`` on top returns a new dataset without them, so the chain of input datasets is walked down
    to the one that has them. Every step above it must keep the elements and their order, and no step may
    shuffle (``shuffle=True``, Keras' default, shuffles the files and then the batches, anew each epoch).
    """
    if not isinstance(dataset, tf.data.Dataset):
        return DatasetOrigin()
    cardinality = int(dataset.cardinality().numpy())
    batches = cardinality if cardinality >= 0 else None
    chain, node = [], dataset
    while node is not None and len(chain) < 200:
        chain.append(node)
        node = getattr(node, "_input_dataset", None)
    origin = next((i for i, step in enumerate(chain) if hasattr(step, "file_paths")), None)
    if origin is None:
        return DatasetOrigin(batches=batches)
    listed = chain[origin]
    names = getattr(listed, "class_names", None)
    class_names = tuple(str(n) for n in names) if names else None
    kinds = [type(step).__name__ for step in chain]
    why = None
    if any("Shuffle" in kind for kind in kinds):
        why = (
            "the tf.data.Dataset shuffles its images (image_dataset_from_directory(..., shuffle=True) is Keras' "
            "default), so which file each image came from is unknown and the analysis names none; make the "
            "dataset with shuffle=False to see the file names"
        )
    elif any(kind not in _ORDER_KEEPING for kind in kinds[:origin]):
        odd = sorted({kind.strip("_") for kind in kinds[:origin] if kind not in _ORDER_KEEPING})
        why = (
            f"the tf.data.Dataset changes which images it yields or their order ({', '.join(odd)}), so which "
            "file each image came from is unknown"
        )
    paths = [str(p) for p in listed.file_paths]
    if why is not None or not paths:
        return DatasetOrigin(None, None, class_names, why, batches)
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    if class_names and os.path.basename(root) in class_names:
        root = os.path.dirname(root)  # the images of one class only: the folder Keras read is the one above
    files = tuple(Path(p).relative_to(root).as_posix() for p in paths)
    return DatasetOrigin(files, root, class_names, None, batches)


def spread_positions(n: int, labels: np.ndarray | None, size: int = SAMPLE_SIZE) -> np.ndarray:
    """Sorted positions of at most ``size`` of ``n`` images, evenly spread, every class present when labelled.

    Folders are listed class by class, so the first images of a set may all be of one class; each class
    gets its share of the sample (at least one image), taken evenly through its images.
    """
    if n <= size:
        return np.arange(n)
    if labels is None:
        return np.unique(np.linspace(0, n - 1, size).round().astype(np.int64))
    labels = np.asarray(labels)
    chosen = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        count = max(1, round(size * len(members) / n))
        chosen.append(members[np.linspace(0, len(members) - 1, min(count, len(members))).round().astype(np.int64)])
    return np.unique(np.concatenate(chosen))


def scale_sample(
    source: Batches,
    images: Any,
    labels: np.ndarray | None,
    label_order: np.ndarray | None,
    input_shape: tuple[int | None, ...],
) -> tuple[Batches, np.ndarray, np.ndarray | None, np.ndarray]:
    """A sample of the images to decide the pixel scale on, spread over the whole set.

    Arrays and ImageSets are indexed; an ImageStream decodes the sampled files; any other stream is
    peeked at (until :data:`SAMPLE_SIZE` images of two classes at least, or ``_PEEK_BYTES`` of them) and
    the batches read are put back in front of it. Returns the stream to read, the sample's images as
    given (raw, for their dtype) and as checked float32, and its labels in the model's class order
    (``labels`` given beside the images, or those of the data renumbered by ``label_order``).
    """
    known = labels
    if known is None and source.whole_labels is not None:
        known = source.whole_labels
    size = sample_size(input_shape)
    if source.whole is not None:
        picked = spread_positions(len(source.whole), known, size)
        raw = np.asarray(source.whole[picked])
        y = None if known is None else np.asarray(known)[picked]
        found = labels is None  # labels of the data itself are in its own order
    elif isinstance(images, ImageStream):
        picked = spread_positions(len(images), images.labels if labels is None else labels, size)
        raw = _read_readable(images, picked)
        y = (images.labels if labels is None else np.asarray(labels))[picked[: len(raw)]] if len(raw) else None
        found = labels is None
    else:
        source, raw, y = _peeked(source, size)
        found = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChannelWarning)  # the pass says so, once
        x = check_batch(raw, input_shape, 0) if len(raw) else raw.astype(np.float32)
    if y is not None:
        y = _label_vector(y)
        if found and label_order is not None and y is not None:
            y = label_order[y]
    return source, raw, y, x


def _label_vector(y: np.ndarray) -> np.ndarray | None:
    """Labels as class indices (one-hot rows decoded); None when they cannot be read as such."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(len(y)) if y.ndim == 2 and y.shape[1] == 1 else y
    numeric = np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating) or y.dtype == bool
    if y.ndim != 1 or not numeric:
        return None
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        return None
    return y.astype(np.int64)


def _read_readable(stream: ImageStream, positions: np.ndarray) -> np.ndarray:
    """The stream's files at ``positions`` that can be read (a damaged one is left for the pass to report)."""
    try:
        return stream.read(positions)
    except InvalidInputError:
        parts = []
        for position in positions:
            try:
                parts.append(stream.read([position]))
            except InvalidInputError:
                continue
        return np.concatenate(parts) if parts else np.zeros((0, *stream.image_shape), np.float32)


def _peeked(source: Batches, sample: int = SAMPLE_SIZE) -> tuple[Batches, np.ndarray, np.ndarray | None]:
    """Batches read ahead for a sample (put back in front of the stream), their images and labels."""
    taken: list[tuple[np.ndarray, np.ndarray | None]] = []
    count, size, classes = 0, 0, set()
    for raw_x, y in source.stream:
        raw_x = np.asarray(raw_x)
        taken.append((raw_x, y))
        count += len(raw_x)
        size += raw_x.nbytes
        if y is not None:
            decoded = _label_vector(np.asarray(y))
            classes.update(() if decoded is None else np.unique(decoded).tolist())
        two_classes = y is None or len(classes) >= 2
        if (count >= sample and two_classes) or size >= _PEEK_BYTES:
            break
    stream = itertools.chain(taken, source.stream)
    source = replace(source, stream=stream)
    parts = [x for x, _ in taken if len(x)]
    if not parts:
        return source, np.zeros((0,)), None
    try:
        raw = np.concatenate(parts)
    except ValueError:
        return source, parts[0], None  # batches of different sizes: the pass will say so
    labels = None
    if all(y is not None for _, y in taken):
        try:
            labels = np.concatenate([np.asarray(y) for x, y in taken if len(x)])
        except ValueError:
            labels = None
    if len(raw) > sample:
        picked = spread_positions(len(raw), None if labels is None else _label_vector(labels), sample)
        raw = raw[picked]
        labels = None if labels is None else labels[picked]
    return source, raw, labels


def fetch_rows(
    images: Any, indices: np.ndarray, batch_size: int, input_shape: tuple[int | None, ...]
) -> np.ndarray | None:
    """The images at ``indices`` (positions in the whole stream), read again, as float32 ``(n, *input_shape)``.

    Arrays and ImageSets are indexed; datasets, ``PyDataset`` objects and lists of batches are read again
    up to the last index asked for. A one-shot iterator (a generator) cannot be read twice: None.
    """
    if isinstance(images, Iterator):
        return None
    if isinstance(images, ImageStream):
        try:
            return check_batch(images.read(indices), input_shape, 0)
        except InvalidInputError:
            return None  # a file that went away since the pass
    source = batches(images, batch_size, input_shape)
    if source.whole is not None:
        return check_batch(np.asarray(source.whole)[indices], input_shape, 0)
    wanted = {int(i): j for j, i in enumerate(indices)}
    rows: list[np.ndarray | None] = [None] * len(indices)
    start, last = 0, max(wanted, default=-1)
    for index, (raw_x, _) in enumerate(source.stream):
        if start > last:
            break
        x = check_batch(np.asarray(raw_x), input_shape, index)
        for i in range(start, start + len(x)):
            if i in wanted:
                rows[wanted[i]] = x[i - start]
        start += len(x)
    if any(row is None for row in rows):
        return None  # the stream was shorter the second time
    return np.stack(rows)  # type: ignore[arg-type]


def _refuse_single_image(shape: tuple[Any, ...], input_shape: tuple[int | None, ...], argument: str) -> None:
    """A single ``(H, W, C)`` image where batches ``(N, H, W, C)`` are expected: say how to batch it."""
    if len(shape) != len(input_shape):
        return
    fits = all(d is None or s is None or d == s for d, s in zip(input_shape, shape))
    # (N, H, W) grayscale batches have the same rank; they differ from one image in their last axis.
    if fits and shape[-1] == input_shape[-1] and input_shape[-1] is not None:
        expected = f"batches of shape (N, {', '.join(map(str, input_shape))})"
        if "Dataset" in argument:
            found = f"the dataset yields single images of shape {tuple(shape)}: call .batch(32) on it first"
        else:
            found = f"received one image of shape {tuple(shape)}: pass a batch, e.g. image[np.newaxis]"
        raise InvalidInputError(f"{argument}: expected {expected}; {found}.")


def split_element(element: Any) -> tuple[np.ndarray, np.ndarray | None]:
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


# Weights of red, green and blue in the luminance of a colour image (ITU-R BT.709, as scikit-image's rgb2gray).
_LUMINANCE = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def check_batch(x: np.ndarray, input_shape: tuple[int | None, ...], index: int) -> np.ndarray:
    """Batch ``index`` as float32 ``(n, *input_shape)``, or an error naming what is wrong with it.

    Grayscale images for a colour model are repeated into its three channels, and colour images for a
    grayscale model become their luminance, with a :class:`ChannelWarning` (on the first batch).
    """
    spatial = input_shape[:-1]
    spatial_fits = x.ndim == len(input_shape) and all(d is None or d == s for d, s in zip(spatial, x.shape[1:]))
    if input_shape[-1] in (1, 3) and spatial_fits:
        x = x[..., np.newaxis]  # (N, H, W) or (N, D, H, W) grayscale for a model that takes 1 or 3 channels
    x = _to_model_channels(x, input_shape, index)
    expected = "(N, " + ", ".join("any" if d is None else str(d) for d in input_shape) + ")"
    if x.ndim != len(input_shape) + 1 or any(d is not None and d != s for d, s in zip(input_shape, x.shape[1:])):
        kinds = {4: "images", 5: "volumes"}
        taken, given = kinds.get(len(input_shape) + 1), kinds.get(x.ndim)
        what = f" (the model takes {taken}; these are {given})" if taken and given and taken != given else ""
        raise InvalidInputError(
            f"images: expected shape {expected} to match the model's input{what}; batch {index} has shape {x.shape}."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InvalidInputError(f"images: expected numeric pixel values; batch {index} has dtype {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise InvalidInputError(f"images: batch {index} contains NaN or infinite values.")
    return x


def _to_model_channels(x: np.ndarray, input_shape: tuple[int | None, ...], index: int) -> np.ndarray:
    """Grayscale images repeated into a colour model's channels, colour ones reduced to a gray model's luminance."""
    wanted = input_shape[-1]
    if x.ndim != len(input_shape) + 1 or x.ndim not in (4, 5) or (x.shape[-1], wanted) not in ((1, 3), (3, 1)):
        return x
    if not np.issubdtype(x.dtype, np.number):
        return x  # refused as non-numeric below
    if index == 0:
        what = "grayscale images to a colour model" if wanted == 3 else "colour images to a grayscale model"
        how = "repeated into its 3 channels" if wanted == 3 else "converted to their luminance"
        warn_user(ChannelWarning(f"images: received {what} (1 and 3 channels); they were {how}."))
    if wanted == 3:
        return np.repeat(x, 3, axis=-1)
    return (x.astype(np.float32) @ _LUMINANCE)[..., np.newaxis]


def display_range(lo: float, hi: float) -> tuple[float, float]:
    """Pixel range to map to 0..255 in thumbnails, guessed from the images' own range ``lo..hi``."""
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= 0.0 and hi <= 255.0:
        return 0.0, 255.0
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0  # inputs preprocessed to [-1, 1], as for MobileNet or Inception
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)  # a constant image must not divide by zero


def check_pixel_scale(pixel_scale: Any) -> float | str:
    """``"auto"`` or a positive finite number, else an error naming ``pixel_scale``."""
    if isinstance(pixel_scale, str) and pixel_scale == AUTO:
        return AUTO
    ok = isinstance(pixel_scale, numbers.Real) and not isinstance(pixel_scale, bool)
    if not ok or not np.isfinite(pixel_scale) or pixel_scale <= 0:
        raise InvalidInputError(f"pixel_scale: expected 'auto' or a positive number; received {pixel_scale!r}.")
    return float(pixel_scale)


class NoiseSource:
    """Seeded Gaussian noise for noisy copies of images: image ``i`` at a level always gets the same draw.

    Draws come in fixed blocks of :attr:`BLOCK` images keyed by (seed, level, block index), so the noise
    of an image depends on its position in the image stream and on the level, not on the batch size
    nor on which other levels are asked for.
    """

    BLOCK = 64

    def __init__(self, seed: int, levels: tuple[float, ...], image_shape: tuple[int, ...]) -> None:
        self.seed = seed
        self.levels = levels
        self.image_shape = tuple(image_shape)
        self._cache: dict[tuple[float, int], np.ndarray] = {}

    def copies(self, x: np.ndarray, start: int, lo: float, hi: float) -> np.ndarray:
        """``(L, n, *image_shape)`` float32: batch ``x`` (images ``start .. start + n - 1``) plus each level's noise.

        The noise's standard deviation is ``level * (hi - lo)``; the copies are clipped to the pixel range
        ``lo .. hi``, widened to the batch's own range so that no pixel changes before the noise is added.
        """
        floor, ceiling = min(lo, float(x.min())), max(hi, float(x.max()))
        out = np.empty((len(self.levels), *x.shape), dtype=np.float32)
        for j, level in enumerate(self.levels):
            noise = self._normals(level, start, len(x))
            np.clip(x + np.float32(level * (hi - lo)) * noise, floor, ceiling, out=out[j])
        return out

    def _normals(self, level: float, start: int, n: int) -> np.ndarray:
        first, last = start // self.BLOCK, (start + n - 1) // self.BLOCK
        blocks = [self._block(level, b) for b in range(first, last + 1)]
        joined = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        offset = start - first * self.BLOCK
        return joined[offset : offset + n]

    def _block(self, level: float, index: int) -> np.ndarray:
        key = (level, index)
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[1] >= index}  # earlier blocks are done with
            # The level enters the seed as an integer number of millionths: a float is not a valid seed.
            rng = np.random.default_rng([self.seed, round(level * 1_000_000), index])
            self._cache[key] = rng.standard_normal((self.BLOCK, *self.image_shape), dtype=np.float32)
        return self._cache[key]
