"""Images in whatever form a user has them, as checked numpy batches; and the pixel scale the model needs.

Arrays, ImageSets, whole tensors, lists of images, ``tf.data`` datasets, Keras ``PyDataset`` objects
and plain iterables of batches all become one iterator of ``(x, y_or_None)`` numpy batches.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from layerlens._warnings import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import ChannelWarning, InvalidInputError, InvalidTypeError, PixelScaleWarning

__all__ = [
    "AUTO",
    "Batches",
    "NoiseSource",
    "batches",
    "check_batch",
    "check_pixel_scale",
    "display_range",
    "fetch_rows",
    "resolve_pixel_scale",
    "split_element",
]

#: ``pixel_scale="auto"``: 255 for [0, 1] images and a model that starts with ``Rescaling(1/255)``, else 1.
AUTO = "auto"
# Pixel values above this (and none negative) look like bytes, not [0, 1] intensities; a little
# above 1 is left alone, as resizing with overshoot or augmentation can push values there.
_BYTE_LIKE_ABOVE = 1.5


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
    if isinstance(images, list) and images and all(isinstance(e, np.ndarray) and e.ndim == 3 for e in images):
        images = np.stack(images)  # a list of single (H, W, C) images
    if isinstance(images, tuple) and len(images) == 2 and isinstance(images[0], np.ndarray):
        x_all, y_all = images
        _refuse_single_image(x_all.shape, input_shape, "images")
        chunks = ((x_all[i : i + batch_size], y_all[i : i + batch_size]) for i in range(0, len(x_all), batch_size))
        return Batches(chunks, len(x_all), x_all)
    if isinstance(images, np.ndarray):
        _refuse_single_image(images.shape, input_shape, "images")
        chunks = ((images[i : i + batch_size], None) for i in range(0, len(images), batch_size))
        return Batches(chunks, len(images), images)
    if isinstance(images, tf.data.Dataset):
        spec = images.element_spec
        first = spec[0] if isinstance(spec, (tuple, list)) else spec
        if isinstance(first, tf.TensorSpec):
            _refuse_single_image(tuple(first.shape), input_shape, "images (the tf.data.Dataset's elements)")
        return Batches((split_element(e) for e in images.as_numpy_iterator()), None, None)
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
        return Batches((split_element(images[i]) for i in range(len(images))), None, None)
    if isinstance(images, Iterable) and not isinstance(images, (str, bytes)):
        return Batches((split_element(e) for e in images), None, None)
    raise InvalidTypeError(
        "images: expected a numpy array (N, H, W, C), an ImageSet, a tf.data.Dataset or an iterable of batches; "
        f"received {type(images).__name__}."
    )


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
    spatial_fits = x.ndim == 3 and all(d is None or d == s for d, s in zip(input_shape[:2], x.shape[1:]))
    if len(input_shape) == 3 and input_shape[-1] in (1, 3) and spatial_fits:
        x = x[..., np.newaxis]  # (N, H, W) grayscale for a model that takes (H, W, 1) or (H, W, 3)
    x = _to_model_channels(x, input_shape, index)
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


def _to_model_channels(x: np.ndarray, input_shape: tuple[int | None, ...], index: int) -> np.ndarray:
    """Grayscale images repeated into a colour model's channels, colour ones reduced to a gray model's luminance."""
    wanted = input_shape[-1]
    if x.ndim != 4 or len(input_shape) != 3 or (x.shape[-1], wanted) not in ((1, 3), (3, 1)):
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


def resolve_pixel_scale(
    requested: float | str, expects_bytes: bool, lo: float, hi: float, *, integer_pixels: bool
) -> float:
    """The factor to multiply the images by, and a :class:`PixelScaleWarning` when they disagree with the model.

    ``lo..hi`` is the images' range as given (the whole array, or the first batch of a stream).
    ``expects_bytes`` says the model starts with ``Rescaling(1/255)`` (or 1/127.5), so it wants 0..255.
    ``"auto"`` multiplies [0, 1] float images by 255 for such a model and leaves everything else alone.
    """
    unit_range = not integer_pixels and lo >= 0.0 and hi <= 1.0
    scale = (255.0 if expects_bytes and unit_range else 1.0) if requested == AUTO else float(requested)
    low, high = lo * scale, hi * scale
    if expects_bytes and (high <= 1.0 or low < 0.0) and hi > lo:
        # What the model's own Rescaling layer says is known, so this warns even for an explicit scale.
        warn_user(
            f"images: the model starts with a Rescaling layer that divides by about 255, so it expects pixel "
            f"values 0..255, but receives values in [{low:.3g}, {high:.3g}] (pixel_scale={scale:g}); its "
            "predictions are likely wrong. Pass pixel_scale='auto' or the factor that brings the images to 0..255.",
            PixelScaleWarning,
        )
    elif not expects_bytes and requested == AUTO and low >= 0.0 and high > _BYTE_LIKE_ABOVE:
        warn_user(
            f"images: pixel values reach {high:.3g}, but the model has no Rescaling layer, and most models without "
            "one are trained on [0, 1] images. If this one was, pass pixel_scale=1/255; if it was trained on "
            f"values like these, pass pixel_scale=1 to say so.",
            PixelScaleWarning,
        )
    return scale


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
