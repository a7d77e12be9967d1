"""What every explanation method asks of a model: probabilities of many images, and gradients of a class score.

Images are ``(N, H, W, C)``, or volumes ``(N, D, H, W, C)`` for a model of 3-D inputs; everything here is
rank-generic, and bounds its memory by the bytes of an input, so that a volume of a few megabytes is
batched as finely as it needs.

A :class:`Scorer` wraps a Keras classifier once: it reads the head (softmax, one sigmoid unit, logits),
resolves the pixel scale as :func:`layerlens.analyze` does, traces one batched probability function, and
gives gradients of the *pre-activation* score of a target class (the logit before the final softmax or
sigmoid, which does not saturate) with respect to the input pixels or to a convolution layer's maps.
The model is replayed through :func:`layerlens.model._graph.run_graph`; it is never changed for good.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from layerlens.exceptions import InvalidInputError
from layerlens.explanations._registry import REGISTRY
from layerlens.model import (
    AUTO,
    BLOCK_LAYERS,
    PixelMap,
    Recorder,
    Sample,
    check_batch,
    check_model,
    check_pixel_scale,
    choose_pixel_scale,
    detect_head,
    forward_at_scale,
    output_activation,
    output_units,
    read_stretch,
    resolve_preprocess,
    rows_within_memory,
    run_graph,
    sample_size,
    spread_positions,
    to_probabilities,
    trace,
)

__all__ = ["Scorer"]

_L = keras.layers
_CONVOLUTIONS = (_L.Conv2D, _L.SeparableConv2D, _L.DepthwiseConv2D, _L.Conv2DTranspose, _L.Conv3D, _L.Conv3DTranspose)
# Layers that finish a convolution's maps: Grad-CAM reads the maps after them.
_FOLLOWERS = (
    _L.BatchNormalization, _L.LayerNormalization, _L.GroupNormalization, _L.Activation, _L.ReLU, _L.LeakyReLU,
    _L.PReLU, _L.ELU,
)  # fmt: skip
# Bytes of input images per call of the model: large batches are fast, and these bound the memory
# of a batch of perturbed or noisy copies (the activations, and for gradients the tape, grow with it).
_FORWARD_BYTES = 16 * 2**20
_GRADIENT_BYTES = 4 * 2**20
# Largest superpixels-by-pixels table LIME's perturbed images are multiplied out of (see composite_probabilities).
_PRODUCT_BYTES = 32 * 2**20
# Bytes of LIME's perturbed images put together in one call (the product and the sum each hold this much):
# binds only for inputs of more than 4 MB (a 128x128x64 volume), where _FORWARD_BYTES gives its floor of 16 rows.
_COMPOSITE_BYTES = 64 * 2**20
# Bytes of copies of the images (integrated gradients' path, SmoothGrad's noisy copies) held at once: 64 steps of
# a 64x128x128 volume are 270 MB, their gradients as much again. Rounded to whole batches of gradient_rows.
_COPIES_BYTES = 64 * 2**20
# Up to this many images go through the model eagerly: tracing it would cost more than it saves.
_EAGER_ROWS = 16


class Scorer:
    """One classifier, ready to be asked for probabilities and gradients.

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional classifier with one image input (nested models are entered).
    images : ndarray of shape (N, H, W, C) or (N, D, H, W, C)
        The images (or volumes) to explain, as the model expects them (their range decides ``pixel_scale="auto"``).
    pixel_scale : float or "auto"
        Factor applied to every image on its way into the model, as in :func:`layerlens.analyze`.
    head : str, optional
        The kind of output (see :func:`layerlens.model._heads.detect_head`), when already known.
    integer_pixels : bool, default=False
        The images came as integers (and may since have been converted to float): read as bytes.
    preprocess : callable or str, optional
        Applied after ``pixel_scale``, as in :func:`layerlens.analyze`; gradients are taken through it.
    """

    def __init__(
        self,
        model: keras.Model,
        images: np.ndarray,
        pixel_scale: float | str = AUTO,
        head: str | None = None,
        *,
        integer_pixels: bool = False,
        preprocess: Any = None,
    ) -> None:
        check_model(model)
        self.model = model
        self.n_units = output_units(model)
        self.n_classes = max(self.n_units, 2)
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self.map_rank = len(self.input_shape)  # a spatial map: (h, w, channels), or (d, h, w, channels) for volumes
        self.traced = trace(model)
        requested = check_pixel_scale(pixel_scale)
        transform, _ = resolve_preprocess(preprocess)
        lo, hi = float(images.min()), float(images.max())
        integer = integer_pixels or np.issubdtype(images.dtype, np.integer)
        sample = np.asarray(images[spread_positions(len(images), None, sample_size(self.input_shape))], np.float32)
        fitting = rows_within_memory([info.output_shape for info in self.traced.infos], tuple(images.shape[1:]))
        sample_rows = 64 if fitting is None else min(64, fitting)
        decision = choose_pixel_scale(
            requested,
            read_stretch(model, transform),
            lo,
            hi,
            integer=integer,
            sample=Sample(sample, None),
            probabilities_at=forward_at_scale(model, transform, sample, output_activation(self.traced), sample_rows),
        )
        self.pixel_scale = decision.factor
        self.pixels = PixelMap(decision.factor, transform)
        image_bytes = 4 * int(np.prod(images.shape[1:]))  # the images' size: the input's may be unknown
        self.forward_rows = int(np.clip(_FORWARD_BYTES // image_bytes, 16, 4096))
        self.gradient_rows = int(np.clip(_GRADIENT_BYTES // image_bytes, 8, 1024))
        # Large volumes: fewer rows than the floors above, so that no activation of a call passes 1 GiB.
        if fitting is not None:
            self.forward_rows, self.gradient_rows = min(self.forward_rows, fitting), min(self.gradient_rows, fitting)
        self._forward: Any = None  # traced on first use with more than _EAGER_ROWS images
        self._composites: dict[tuple[Any, ...], Any] = {}  # by image shape (a model may take any size) and way
        if head is None:
            head = detect_head(output_activation(self.traced), self._raw(images[:8].astype(np.float32)))
        self.head = head
        self._output_op = self._find_output_op()

    # -- probabilities ----------------------------------------------------------------------------

    def _outputs(self, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(run_graph(self.model, self.pixels(x), lambda name, op, inputs, output: output), tf.float32)

    def _trace_forward(self) -> Any:
        spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        return tf.function(self._outputs, autograph=False).get_concrete_function(spec)

    def _trace_composite(self, shape: tuple[int, ...], by_product: bool) -> Any:
        def from_product(hidden: tf.Tensor, changes: tf.Tensor, shown: tf.Tensor) -> tf.Tensor:
            # Row j of ``changes`` holds (kept - hidden) on superpixel j's pixels and 0 elsewhere, so each
            # pixel of the product is one exact product: the image where shown, its hidden copy elsewhere.
            return self._outputs(hidden + tf.reshape(tf.matmul(shown, changes), (-1, *shape)))

        def from_segments(hidden: tf.Tensor, difference: tf.Tensor, segments: tf.Tensor, shown: tf.Tensor) -> tf.Tensor:
            mask = tf.gather(shown, segments, axis=1)[..., tf.newaxis]  # (n, H, W, 1) or (n, D, H, W, 1)
            return self._outputs(hidden + mask * difference)

        image = tf.TensorSpec(shape, tf.float32)
        shown = tf.TensorSpec((None, None), tf.float32)
        if by_product:
            specs = (image, tf.TensorSpec((None, int(np.prod(shape))), tf.float32), shown)
            return tf.function(from_product, autograph=False).get_concrete_function(*specs)
        specs = (image, image, tf.TensorSpec(shape[:-1], tf.int32), shown)
        return tf.function(from_segments, autograph=False).get_concrete_function(*specs)

    def composite_probabilities(
        self, kept: np.ndarray, hidden: np.ndarray, segments: np.ndarray, shown: np.ndarray
    ) -> np.ndarray:
        """Probabilities of images that show ``kept`` where their segment is shown and ``hidden`` elsewhere.

        ``kept`` and ``hidden`` are one image each ``(H, W, C)`` (or one volume ``(D, H, W, C)``),
        ``segments`` its superpixels ``(H, W)`` (supervoxels ``(D, H, W)``) and ``shown`` ``(n, S)`` says
        which superpixels each of the n images shows. The images are put together inside the traced call,
        so only ``shown`` crosses into TensorFlow, not n whole images: as a matrix product with a
        superpixels-by-pixels table when that table is small (the fastest way on a CPU), else by looking
        up each pixel's superpixel. A call puts together at most ``_COMPOSITE_BYTES`` of images (and the
        model's usual batch, ``forward_rows``, when that is fewer).
        """
        n_segments = int(segments.max()) + 1
        by_product = n_segments * kept.size * 4 <= _PRODUCT_BYTES
        key = (kept.shape, by_product)
        if key not in self._composites:
            self._composites[key] = self._trace_composite(kept.shape, by_product)
        composite = self._composites[key]
        difference = (kept - hidden).astype(np.float32)
        if by_product:
            changes = np.zeros((n_segments, kept.size), np.float32)
            changes[np.repeat(segments.ravel(), kept.shape[-1]), np.arange(kept.size)] = difference.ravel()
            constants = (tf.constant(hidden, tf.float32), tf.constant(changes))
        else:
            constants = (tf.constant(hidden, tf.float32), tf.constant(difference), tf.constant(segments, tf.int32))
        step = min(self.forward_rows, max(1, _COMPOSITE_BYTES // kept.nbytes))
        raw = [
            composite(*constants, tf.constant(shown[i : i + step], tf.float32)).numpy()
            for i in range(0, len(shown), step)
        ]
        return to_probabilities(np.concatenate(raw), self.head)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if len(x) <= _EAGER_ROWS and self._forward is None:
            return self._outputs(tf.constant(x)).numpy()
        if self._forward is None:
            self._forward = self._trace_forward()
        step = self.forward_rows
        return np.concatenate([self._forward(tf.constant(x[i : i + step])).numpy() for i in range(0, len(x), step)])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """``(n, K)`` float32 class probabilities of images ``(n, *input_shape)`` (K = 2 for one sigmoid unit)."""
        return to_probabilities(self._raw(np.asarray(x, dtype=np.float32)), self.head)

    # -- the score whose gradient is taken ----------------------------------------------------------

    def _find_output_op(self) -> str:
        """Name of the operation whose output is the model's output (a nested model's last inner operation).

        A nested model is recorded after the operations inside it, which are named ``"outer/inner"``;
        one that is not entered (a subclassed model used as a layer) is itself the operation.
        """
        infos = self.traced.infos
        for position in range(len(infos) - 1, -1, -1):
            entered = position > 0 and infos[position - 1].name.startswith(infos[position].name + "/")
            if not (isinstance(self.traced.operations[position], keras.Model) and entered):
                return infos[position].name
        raise InvalidInputError("model: found no operation that produces its output.")

    def _logits(self, op: Any, inputs: list[Any], output: Any) -> tf.Tensor:
        """The output layer's scores before its softmax or sigmoid (the output itself for a linear head)."""
        if self.head in ("logits", "binary_logit"):
            return output
        if isinstance(op, (_L.Softmax, _L.Activation)):
            return inputs[0]
        activation = getattr(op, "activation", None)
        if activation is not None and getattr(activation, "__name__", "") in ("softmax", "sigmoid"):
            # Call the layer once more without its activation; the attribute is restored at once.
            op.activation = keras.activations.linear
            try:
                return op(*inputs)
            finally:
                op.activation = activation
        # An activation we cannot take apart. One sigmoid unit: its logit is log(p / (1 - p)) exactly.
        # Softmax: the log-probabilities, which differ from the logits by a term shared by every class.
        p = tf.clip_by_value(tf.cast(output, tf.float32), 1e-7, 1.0 - 1e-7)
        return tf.math.log(p) - tf.math.log(1.0 - p) if self.n_units == 1 else tf.math.log(p)

    def _target_score(self, logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        logits = tf.cast(logits, tf.float32)
        if self.n_units == 1:  # one unit scores class 1; class 0 is its negative
            return tf.where(tf.equal(targets, 1), logits[:, 0], -logits[:, 0])
        return tf.gather(logits, targets, axis=1, batch_dims=1)

    def scores_and_maps(
        self, x: np.ndarray, targets: np.ndarray, layer: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Gradient of each image's target score with respect to its pixels, or to ``layer``'s maps.

        Returns the input gradients ``(n, *input_shape)`` (None when ``layer`` is given), and with
        ``layer`` its activation maps and their gradients, both ``(n, h, w, channels)`` (``(n, d, h, w,
        channels)`` for volumes).
        """
        x = tf.constant(np.asarray(x, dtype=np.float32))
        chosen: dict[str, tf.Tensor] = {}
        recorder = Recorder()  # the names of the trace: a shared layer's second call is "name#2"
        with tf.GradientTape() as tape:
            tape.watch(x)

            def record(raw_name: str, op: Any, inputs: list[Any], output: Any) -> Any:
                name = recorder.name(raw_name)
                if name == layer:
                    tape.watch(output)
                    chosen["maps"] = output
                if name == self._output_op:
                    chosen["logits"] = self._logits(op, inputs, output)
                return output

            run_graph(self.model, self.pixels(x), record)
            score = tf.reduce_sum(self._target_score(chosen["logits"], tf.constant(targets, tf.int64)))
        if layer is None:
            return tape.gradient(score, x).numpy(), None, None
        maps = chosen["maps"]
        return None, tf.cast(maps, tf.float32).numpy(), tf.cast(tape.gradient(score, maps), tf.float32).numpy()

    def input_gradients(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Gradients of the target scores with respect to the pixels, in chunks: ``(n, *input_shape)``."""
        step = self.gradient_rows
        parts = [self.scores_and_maps(x[i : i + step], targets[i : i + step])[0] for i in range(0, len(x), step)]
        return np.concatenate(parts)

    def mean_input_gradients(self, copies: Iterable[np.ndarray], targets: np.ndarray, repeats: int) -> np.ndarray:
        """Each image's input gradient averaged over its ``repeats`` copies: ``(N, *image shape)`` float32.

        ``copies`` yields the copies image by image (``repeats`` of image 0, then of image 1, ...), each of
        an image's shape; ``targets`` holds one class per image. The copies are made as they are needed,
        at most ``_COPIES_BYTES`` of them at once (a whole number of :attr:`gradient_rows` batches, at least
        one), and their gradients summed into each image's mean as they come: memory stays bounded by that
        chunk whatever the number of copies or the size of a volume. The batches of the model, and the
        order of the sums, are those of one :meth:`input_gradients` call on all the copies followed by a
        mean over them, so the results are the same to the bit.
        """
        n_images = len(targets)
        produced = iter(copies)
        first = next(produced, None)
        if first is None:
            return np.zeros((0, *self.input_shape), np.float32)
        shape, step = first.shape, self.gradient_rows
        chunk = max(step, (_COPIES_BYTES // max(4 * first.size, 1)) // step * step)
        produced = itertools.chain([first], produced)
        row_targets = np.repeat(targets, repeats)
        means = np.empty((n_images, *shape), np.float32)
        total = np.zeros(shape, np.float32)
        for start in range(0, n_images * repeats, chunk):
            rows = np.stack(list(itertools.islice(produced, min(chunk, n_images * repeats - start))))
            for row, gradient in enumerate(self.input_gradients(rows, row_targets[start : start + len(rows)])):
                image, copy = divmod(start + row, repeats)
                if copy == 0:
                    total[...] = gradient
                else:  # one after another, as numpy's mean over a leading axis adds them
                    total += gradient
                if copy == repeats - 1:
                    means[image] = total / np.float32(repeats)
        return means

    # -- layers -----------------------------------------------------------------------------------

    def _map_words(self) -> str:
        return "(height, width, channels)" if self.map_rank == 3 else "(depth, height, width, channels)"

    def _convolutions(self) -> list[int]:
        """Positions of the convolutions and block outputs with a spatial map, those on the trunk if any."""
        found = [
            i
            for i, (info, op) in enumerate(zip(self.traced.infos, self.traced.operations))
            if len(info.output_shape) == self.map_rank and isinstance(op, _CONVOLUTIONS + BLOCK_LAYERS)
        ]
        on_trunk = [i for i in found if self.traced.infos[i].on_trunk]
        return on_trunk or found

    def has_convolution(self) -> bool:
        """Whether Grad-CAM finds a layer to read (see :meth:`last_convolution`)."""
        return bool(self._convolutions())

    def last_convolution(self) -> str:
        """The layer Grad-CAM reads: the maps of the last convolution, after its normalisation and activation.

        The last convolution (2-D or 3-D) or block output (``Add``, ...) with a spatial map (of the input's
        rank: 2-D maps for images, 3-D maps for volumes), on the trunk when there is
        one, followed through the normalisation and activation layers right after it (a ResNet's last
        ``Add`` then ``Activation``, a MobileNet's ``Conv_1`` then ``Conv_1_bn`` then ``out_relu``), as Grad-CAM
        is usually applied; pooling and anything else stop the walk.
        """
        candidates = self._convolutions()
        if not candidates:
            others = [repr(name) for name, entry in REGISTRY.items() if not entry.needs_convolution]
            named = " or ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
            raise InvalidInputError(
                f"model: Grad-CAM needs a convolution layer with a spatial output {self._map_words()}; this "
                f"model has none. Use method={named}."
            )
        chosen = candidates[-1]
        infos, operations = self.traced.infos, self.traced.operations
        for position in range(chosen + 1, len(infos)):
            if isinstance(operations[position], keras.Model):
                continue  # a nested model is recorded after its own layers: not a step of the walk
            if len(infos[position].output_shape) != self.map_rank or not isinstance(operations[position], _FOLLOWERS):
                break
            chosen = position
        return infos[chosen].name

    def check_layer(self, layer: str) -> str:
        """``layer`` if it is a layer of the model with a spatial map, else an error listing the choices."""
        spatial = [info.name for info in self.traced.infos if len(info.output_shape) == self.map_rank]
        if layer not in spatial:
            raise InvalidInputError(
                f"layer: expected a layer with a spatial output {self._map_words()}, one of {spatial}; "
                f"received {layer!r}."
            )
        return layer


def check_images(images: Any, input_shape: Sequence[int | None]) -> tuple[np.ndarray, bool]:
    """Images as float32 ``(N, *input_shape)``, and whether a single image ``(H, W, C)`` was given.

    A model of volumes (``input_shape`` ``(D, H, W, C)``) takes volumes ``(N, D, H, W, C)``, or one volume
    ``(D, H, W, C)`` (``(D, H, W)`` when it has one channel); anything else, such as 2-D images for a 3-D
    model, volumes for a 2-D one or volumes of another size, is refused naming the shape expected.
    """
    from layerlens.datasets import ImageSet
    from layerlens.exceptions import InvalidTypeError

    if isinstance(images, ImageSet):
        images = images.images
    if isinstance(images, (str, bytes)) or images is None or isinstance(images, (tf.data.Dataset, Iterator)):
        raise InvalidTypeError(
            "images: expected an array of images (N, H, W, C), one image (H, W, C) or an ImageSet; received "
            f"{type(images).__name__}. Collect a stream's images into an array first."
        )
    try:
        array = np.asarray(images)
    except ValueError:
        array = np.empty(0, dtype=object)
    if array.dtype == object:
        raise InvalidInputError("images: expected images of one size; received a list of images of different shapes.")
    if array.ndim == len(input_shape) - 1 and input_shape[-1] == 1:
        array = array[..., np.newaxis]  # one grayscale image (H, W)
    single = array.ndim == len(input_shape) and (array.shape[-1] == input_shape[-1] or input_shape[-1] is None)
    if single:
        array = array[np.newaxis]
    if array.size == 0:
        raise InvalidInputError("images: expected at least one image; received none.")
    dims = ", ".join("any" if d is None else str(d) for d in input_shape)
    fits = array.ndim == len(input_shape) + 1 and all(d is None or d == n for d, n in zip(input_shape, array.shape[1:]))
    if not fits:
        kind = ("images", "image") if len(input_shape) == 3 else ("volumes", "volume")
        raise InvalidInputError(
            f"images: expected {kind[0]} of shape (N, {dims}) or one {kind[1]} ({dims}), as the model takes them; "
            f"received shape {np.asarray(images).shape}."
        )
    return check_batch(array, tuple(input_shape), 0), single


def check_targets(targets: Any, n_images: int, n_classes: int, predicted: np.ndarray) -> np.ndarray:
    """One class index per image: ``targets`` (an int for all, or a sequence), or the predicted classes."""
    if targets is None:
        return predicted.astype(np.int64)
    array = np.asarray(targets)
    if array.ndim == 0:
        array = np.full(n_images, array)
    if array.shape != (n_images,) or not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError(
            f"targets: expected a class index, or one per image ({n_images}); received {np.asarray(targets)!r:.100}."
        )
    if array.min() < 0 or array.max() >= n_classes:
        raise InvalidInputError(
            f"targets: expected class indices in 0..{n_classes - 1}; received range {array.min()}..{array.max()}."
        )
    return array.astype(np.int64)
