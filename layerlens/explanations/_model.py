"""What every explanation method asks of a model: probabilities of many images, and gradients of a class score.

A :class:`Scorer` wraps a Keras classifier once: it reads the head (softmax, one sigmoid unit, logits),
resolves the pixel scale as :func:`layerlens.analyze` does, traces one batched probability function, and
gives gradients of the *pre-activation* score of a target class (the logit before the final softmax or
sigmoid, which does not saturate) with respect to the input pixels or to a convolution layer's maps.
The model is replayed through :func:`layerlens.model._graph.run_graph`; it is never changed for good.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    run_graph,
    spread_positions,
    to_probabilities,
    trace,
)

__all__ = ["Scorer"]

_L = keras.layers
_CONVOLUTIONS = (_L.Conv2D, _L.SeparableConv2D, _L.DepthwiseConv2D, _L.Conv2DTranspose)
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
# Up to this many images go through the model eagerly: tracing it would cost more than it saves.
_EAGER_ROWS = 16


class Scorer:
    """One classifier, ready to be asked for probabilities and gradients.

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional classifier with one image input (nested models are entered).
    images : ndarray of shape (N, H, W, C)
        The images to explain, as the model expects them (their range decides ``pixel_scale="auto"``).
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
        self.traced = trace(model)
        requested = check_pixel_scale(pixel_scale)
        transform, _ = resolve_preprocess(preprocess)
        lo, hi = float(images.min()), float(images.max())
        integer = integer_pixels or np.issubdtype(images.dtype, np.integer)
        sample = np.asarray(images[spread_positions(len(images), None)], dtype=np.float32)
        decision = choose_pixel_scale(
            requested,
            read_stretch(model, transform),
            lo,
            hi,
            integer=integer,
            sample=Sample(sample, None),
            probabilities_at=forward_at_scale(model, transform, sample, output_activation(self.traced)),
        )
        self.pixel_scale = decision.factor
        self.pixels = PixelMap(decision.factor, transform)
        image_bytes = 4 * int(np.prod(images.shape[1:]))  # the images' size: the input's may be unknown
        self.forward_rows = int(np.clip(_FORWARD_BYTES // image_bytes, 16, 4096))
        self.gradient_rows = int(np.clip(_GRADIENT_BYTES // image_bytes, 8, 1024))
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
            mask = tf.gather(shown, segments, axis=1)[..., tf.newaxis]  # (n, H, W, 1)
            return self._outputs(hidden + mask * difference)

        image = tf.TensorSpec(shape, tf.float32)
        shown = tf.TensorSpec((None, None), tf.float32)
        if by_product:
            specs = (image, tf.TensorSpec((None, int(np.prod(shape))), tf.float32), shown)
            return tf.function(from_product, autograph=False).get_concrete_function(*specs)
        specs = (image, image, tf.TensorSpec(shape[:2], tf.int32), shown)
        return tf.function(from_segments, autograph=False).get_concrete_function(*specs)

    def composite_probabilities(
        self, kept: np.ndarray, hidden: np.ndarray, segments: np.ndarray, shown: np.ndarray
    ) -> np.ndarray:
        """Probabilities of images that show ``kept`` where their segment is shown and ``hidden`` elsewhere.

        ``kept`` and ``hidden`` are one image each ``(H, W, C)``, ``segments`` its superpixels ``(H, W)``
        and ``shown`` ``(n, S)`` says which superpixels each of the n images shows. The images are put
        together inside the traced call, so only ``shown`` crosses into TensorFlow, not n whole images:
        as a matrix product with a superpixels-by-pixels table when that table is small (the fastest way
        on a CPU), else by looking up each pixel's superpixel.
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
        step = self.forward_rows
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
        ``layer`` its activation maps and their gradients, both ``(n, h, w, channels)``.
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

    # -- layers -----------------------------------------------------------------------------------

    def _convolutions(self) -> list[int]:
        """Positions of the convolutions and block outputs with a spatial map, those on the trunk if any."""
        found = [
            i
            for i, (info, op) in enumerate(zip(self.traced.infos, self.traced.operations))
            if len(info.output_shape) == 3 and isinstance(op, _CONVOLUTIONS + BLOCK_LAYERS)
        ]
        on_trunk = [i for i in found if self.traced.infos[i].on_trunk]
        return on_trunk or found

    def has_convolution(self) -> bool:
        """Whether Grad-CAM finds a layer to read (see :meth:`last_convolution`)."""
        return bool(self._convolutions())

    def last_convolution(self) -> str:
        """The layer Grad-CAM reads: the maps of the last convolution, after its normalisation and activation.

        The last convolution or block output (``Add``, ...) with a spatial map, on the trunk when there is
        one, followed through the normalisation and activation layers right after it (a ResNet's last
        ``Add`` then ``Activation``, a MobileNet's ``Conv_1`` then ``Conv_1_bn`` then ``out_relu``), as Grad-CAM
        is usually applied; pooling and anything else stop the walk.
        """
        candidates = self._convolutions()
        if not candidates:
            others = [repr(name) for name, entry in REGISTRY.items() if not entry.needs_convolution]
            named = " or ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
            raise InvalidInputError(
                "model: Grad-CAM needs a convolution layer with a spatial output (height, width, channels); this "
                f"model has none. Use method={named}."
            )
        chosen = candidates[-1]
        infos, operations = self.traced.infos, self.traced.operations
        for position in range(chosen + 1, len(infos)):
            if isinstance(operations[position], keras.Model):
                continue  # a nested model is recorded after its own layers: not a step of the walk
            if len(infos[position].output_shape) != 3 or not isinstance(operations[position], _FOLLOWERS):
                break
            chosen = position
        return infos[chosen].name

    def check_layer(self, layer: str) -> str:
        """``layer`` if it is a layer of the model with a spatial map, else an error listing the choices."""
        spatial = [info.name for info in self.traced.infos if len(info.output_shape) == 3]
        if layer not in spatial:
            raise InvalidInputError(
                f"layer: expected a layer with a spatial output (height, width, channels), one of {spatial}; "
                f"received {layer!r}."
            )
        return layer


def check_images(images: Any, input_shape: Sequence[int | None]) -> tuple[np.ndarray, bool]:
    """Images as float32 ``(N, *input_shape)``, and whether a single image ``(H, W, C)`` was given."""
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
        raise InvalidInputError(
            f"images: expected images of shape (N, {dims}) or one image ({dims}), as the model takes them; "
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
