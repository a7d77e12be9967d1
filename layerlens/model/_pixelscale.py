"""The pixel values a model takes: read from its graph, checked on a sample of images, applied on the way in.

Keras' folder reader gives pixel values 0..255 and layerlens' loaders [0, 1]; a model may rescale them
inside its graph (``Rescaling``, an adapted ``Normalization``, a ``keras.applications`` family's
``preprocess_input``, any arithmetic on the input) or may have been trained on a ``tf.data`` pipeline
that preprocessed them outside it (``preprocess=``). Feeding it the wrong range gives a wrong analysis
without an error: every image "glioma" at 94 %.

The graph says which range a model takes. The operations between its input and its first learned
layer (the first layer with weights that is not a normalisation) are replayed on a ramp of flat images
over [0, 1] and over 0..255; the range those operations bring to a spread of order one around zero
(or starting at zero) is the one they were written for: ``x / 127.5 - 1`` maps 0..255 to [-1, 1] but
[0, 1] to [-1, -0.99]. When the graph says nothing (the input reaches the first learned layer unchanged)
or to be sure, the model's accuracy on a sample of labelled images at each candidate scale decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from layerlens._util.intervals import wilson_interval
from layerlens._util.warn import warn_user
from layerlens.exceptions import InvalidInputError, InvalidTypeError, PixelScaleWarning
from layerlens.model._extraction import PixelDecision
from layerlens.model._graph import run_graph
from layerlens.model._heads import detect_head, to_probabilities
from layerlens.model._layers import check_model
from layerlens.options import PREPROCESS_FAMILIES, preprocess_family

__all__ = [
    "AUTO",
    "RANGE_NAMES",
    "Sample",
    "PixelMap",
    "Stretch",
    "choose_pixel_scale",
    "expects_byte_pixels",
    "forward_at_scale",
    "range_kind",
    "read_stretch",
    "resolve_preprocess",
]

#: ``pixel_scale="auto"``: the factor is worked out from the model's graph and a sample of the images.
AUTO = "auto"
#: The pixel ranges models are trained on, by the name layerlens gives them.
RANGES: dict[str, tuple[float, float]] = {"unit": (0.0, 1.0), "bytes": (0.0, 255.0)}
RANGE_NAMES: dict[str, str] = {"unit": "[0, 1]", "bytes": "0..255"}
#: Images checked at each candidate scale (spread over the whole set, every class present when labelled).
SAMPLE_SIZE = 256
#: Volumes checked at most: as many as fit in this many bytes (float32), at least 16. A large volume costs
#: as much as hundreds of images to run, and the check must stay a small part of the pass.
SAMPLE_VOLUME_BYTES = 64 * 2**20


def sample_size(input_shape: tuple[int | None, ...]) -> int:
    """How many images the pixel-scale check runs: :data:`SAMPLE_SIZE`, fewer for large volumes.

    64x128x128 volumes (4 MB) get 16; 32^3 volumes and every 2-D image get 256.
    """
    if len(input_shape) != 4 or any(d is None for d in input_shape):
        return SAMPLE_SIZE
    voxels = int(np.prod(input_shape, dtype=np.int64))
    return int(min(SAMPLE_SIZE, max(16, SAMPLE_VOLUME_BYTES // (4 * voxels))))


#: A candidate scale replaces another when its accuracy on the sample is higher by at least this much and
#: their 95% Wilson intervals do not overlap.
CLEARLY_BETTER = 0.2
#: Without labels, predictions of one class for this share of the sample or more have collapsed.
COLLAPSED = 0.95

# Layers whose weights normalise (statistics, not learned filters): part of the stretch, not its end.
_NORMALISING = (
    keras.layers.Normalization, keras.layers.BatchNormalization, keras.layers.LayerNormalization,
    keras.layers.GroupNormalization, keras.layers.UnitNormalization,
)  # fmt: skip
_RAMP_STEPS = 5
_FREE_SIZE = 32  # a model that takes any image size is read at 32x32
# A stretch "prefers" one range over the other only when the spreads differ by a factor of 10 or more.
_CLEAR_LOG_GAP = 1.0


@dataclass(frozen=True)
class PixelMap:
    """How images reach the model: multiplied by ``factor``, then ``preprocess`` (a tensor function), if any."""

    factor: float = 1.0
    preprocess: Callable[[Any], Any] | None = None

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        scaled = x * np.float32(self.factor)
        if self.preprocess is None:
            return scaled
        return tf.cast(self.preprocess(scaled), tf.float32)


def resolve_preprocess(preprocess: Any) -> tuple[Callable[[Any], Any] | None, str | None]:
    """``preprocess`` as a tensor function and the name a run records, or an error naming the argument.

    A string names a ``keras.applications`` family (``"mobilenet_v2"``, or a model's class name such as
    ``"MobileNetV2"``); a callable is recorded by its qualified name.
    """
    if preprocess is None:
        return None, None
    if isinstance(preprocess, str):
        family = preprocess_family(preprocess)
        if family is None:
            raise InvalidInputError(
                f"preprocess: expected a keras.applications family such as {', '.join(PREPROCESS_FAMILIES)} "
                f"(or a callable); received {preprocess!r}."
            )
        return getattr(keras.applications, family).preprocess_input, family
    if not callable(preprocess):
        raise InvalidTypeError(
            "preprocess: expected a callable that takes a batch tensor of 0..255 pixels (as in dataset.map) or "
            f"the name of a keras.applications family; received {type(preprocess).__name__}."
        )
    name = getattr(preprocess, "__qualname__", None) or type(preprocess).__name__
    module = getattr(preprocess, "__module__", None)
    return preprocess, f"{module}.{name}" if module else name


def range_kind(lo: float, hi: float, *, integer: bool) -> str | None:
    """Which range the images are in: ``"unit"`` ([0, 1] floats), ``"bytes"`` (0..255), or None (neither).

    Integer pixels are bytes whatever their values (uint8 images of 0s and 1s are not [0, 1] intensities).
    A little outside the range is allowed, as resizing with overshoot leaves it.
    """
    if integer:
        return "bytes" if lo >= 0 and hi <= 255 else None
    if lo >= -0.01 and hi <= 1.01:
        return "unit"
    if lo >= -0.5 and hi <= 255.5:
        return "bytes"
    return None


def factor_between(kind: str, target: str) -> float:
    """The factor that takes images in range ``kind`` to range ``target``."""
    return RANGES[target][1] / RANGES[kind][1]


@dataclass(frozen=True)
class Stretch:
    """What a model does to pixel values before its first learned layer.

    Attributes
    ----------
    first_layer : str or None
        The first layer with weights that does not normalise (None: none found).
    operations : tuple of str
        Kinds of the operations before it (``"Rescaling"``, ``"TrueDivide"``, ``"preprocess"``, ...).
    landed : dict of str to (float, float)
        Per range (``"unit"``, ``"bytes"``), where flat images over it arrive at the first learned layer.
    unchanged : bool
        The images arrive as they were given (no operation changes pixel values).
    preferred : str or None
        The range the operations were written for, when they tell clearly.
    """

    first_layer: str | None
    operations: tuple[str, ...]
    landed: dict[str, tuple[float, float]]
    unchanged: bool
    preferred: str | None

    def describe(self) -> str:
        """The operations and where each range lands, for a sentence of the run's report."""
        where = f"before its first learned layer {self.first_layer!r}" if self.first_layer else "in its graph"
        if self.unchanged:
            return f"the model passes pixel values unchanged {where}"
        steps = ", ".join(dict.fromkeys(self.operations)) or "its input"
        landed = "; ".join(f"{RANGE_NAMES[name]} to [{lo:.3g}, {hi:.3g}]" for name, (lo, hi) in self.landed.items())
        return f"the model's {steps} {where} take {landed}"


class _Reached(Exception):
    """Raised inside the replay to stop it at the first learned layer, carrying what that layer received."""

    def __init__(self, name: str, value: Any) -> None:
        super().__init__(name)
        self.name, self.value = name, value


def _learns(op: Any) -> bool:
    """A layer with weights that are not normalisation statistics (a frozen base's layers count too)."""
    if isinstance(op, keras.Model) or isinstance(op, _NORMALISING):
        return False
    return bool(getattr(op, "weights", None))


def _first_learned_input(model: keras.Model, x: tf.Tensor) -> tuple[str | None, list[str], np.ndarray]:
    operations: list[str] = []

    def record(name: str, op: Any, inputs: list[Any], output: Any) -> Any:
        if _learns(op):
            raise _Reached(name, inputs[0] if inputs else output)
        if not isinstance(op, (keras.Model, keras.layers.InputLayer)):
            operations.append(type(op).__name__)
        return output

    try:
        output = run_graph(model, x, record)
    except _Reached as reached:
        return reached.name, operations, np.asarray(reached.value, dtype=np.float64)
    return None, operations, np.asarray(output, dtype=np.float64)


def _ramp(name: str, input_shape: tuple[int | None, ...]) -> np.ndarray:
    shape = tuple(_FREE_SIZE if d is None else int(d) for d in input_shape)
    if input_shape and input_shape[-1] is None:
        shape = (*shape[:-1], 3)
    values = np.linspace(*RANGES[name], _RAMP_STEPS, dtype=np.float32)
    return np.broadcast_to(values.reshape(-1, *([1] * len(shape))), (_RAMP_STEPS, *shape)).copy()


def _rank(lo: float, hi: float) -> tuple[int, float]:
    """Lower is more like what normalising operations give: a spread around (or from) zero, of order one."""
    spread = hi - lo
    if not spread > 0:
        return 1, math.inf
    slack = 0.01 * spread
    return (0 if lo <= slack and hi >= -slack else 1), abs(math.log10(spread))


def read_stretch(model: keras.Model, preprocess: Callable[[Any], Any] | None = None) -> Stretch:
    """Replay ``model`` (after ``preprocess``) on flat images over [0, 1] and 0..255 up to its first learned layer.

    Parameters
    ----------
    model : keras.Model
        A checked model with one image input.
    preprocess : callable, optional
        A tensor function applied to the images before the model (see :func:`resolve_preprocess`).

    Returns
    -------
    Stretch
    """
    input_shape = tuple(model.inputs[0].shape[1:])
    landed: dict[str, tuple[float, float]] = {}
    unchanged = True
    first, operations = None, []
    for name in RANGES:
        ramp = _ramp(name, input_shape)
        given = tf.constant(ramp)
        x = given if preprocess is None else PixelMap(1.0, preprocess)(given)
        try:
            first, operations, received = _first_learned_input(model, x)
        except Exception:  # noqa: BLE001 - the model cannot run flat images: the graph says nothing
            return Stretch(None, (), {}, False, None)
        if preprocess is not None:
            operations = ["preprocess", *operations]
        landed[name] = (float(received.min()), float(received.max()))
        # The same range (within 1% of it) after Flatten, Resizing, a crop or a fresh BatchNormalization (mean 0,
        # variance 1 plus its epsilon): nothing rescaled the pixel values.
        low, high = RANGES[name]
        slack = 0.01 * (high - low)
        unchanged &= abs(landed[name][0] - low) <= slack and abs(landed[name][1] - high) <= slack
    ranks = {name: _rank(*interval) for name, interval in landed.items()}
    best, other = sorted(ranks, key=lambda name: ranks[name])
    clear = ranks[best][0] != ranks[other][0] or ranks[other][1] - ranks[best][1] >= _CLEAR_LOG_GAP
    preferred = best if clear and not unchanged else None
    return Stretch(first, tuple(operations), landed, unchanged, preferred)


@dataclass(frozen=True)
class Sample:
    """Images to check a scale on, with their labels in the model's class order (None when unknown)."""

    images: np.ndarray
    labels: np.ndarray | None


def choose_pixel_scale(
    requested: float | str,
    stretch: Stretch,
    lo: float,
    hi: float,
    *,
    integer: bool,
    sample: Sample | None = None,
    probabilities_at: Callable[[float], np.ndarray] | None = None,
    target: str | None = None,
) -> PixelDecision:
    """The factor to multiply images in ``lo..hi`` by, and why (see the module docstring).

    Parameters
    ----------
    requested : float or "auto"
        ``pixel_scale`` as given (checked).
    stretch : Stretch
        What the model does to pixel values (:func:`read_stretch`).
    lo, hi : float
        The images' range (of the sample, or of the whole array).
    integer : bool
        The images came as integers.
    sample : Sample, optional
        Images to check the choice on.
    probabilities_at : callable, optional
        ``factor -> (n, K)`` probabilities of the sample's images at that factor.
    target : str, optional
        The range the model takes, already decided on other images of the same analysis: these images
        are brought to it without a check of their own.

    Warns
    -----
    PixelScaleWarning
        When the sample overrules the graph, or the images cannot be right for the model.
    """
    kind = range_kind(lo, hi, integer=integer)
    if requested != AUTO:
        factor = float(requested)
        chosen = _target_of(kind, factor) or stretch.preferred
        decision = PixelDecision(factor, chosen, f"×{factor:g}, as given (pixel_scale={factor:g})")
    elif kind is None:
        reason = f"×1: the images ({lo:.3g}..{hi:.3g}) are in neither [0, 1] nor 0..255, so they are passed as they are"
        decision = PixelDecision(1.0, stretch.preferred, reason)
    elif target is not None:
        factor = factor_between(kind, target)
        reason = f"×{factor:g}, from {RANGE_NAMES[kind]} to {RANGE_NAMES[target]}, the range the model takes"
        decision = PixelDecision(factor, target, reason)
    else:
        decision = _checked(stretch, kind, sample, probabilities_at)
    _warn_if_wrong(decision, stretch, kind, lo, hi, requested, sample)
    return decision


def _target_of(kind: str | None, factor: float) -> str | None:
    if kind is None:
        return None
    for name in RANGES:
        if math.isclose(factor, factor_between(kind, name), rel_tol=1e-6):
            return name
    return None


def _checked(
    stretch: Stretch, kind: str, sample: Sample | None, probabilities_at: Callable[[float], np.ndarray] | None
) -> PixelDecision:
    """The range the graph prefers (the images' own when it says nothing), checked on the sample."""
    first = stretch.preferred or kind
    other = next(name for name in RANGES if name != first)
    graph = stretch.describe()
    why = graph if stretch.preferred else f"{graph}, so the images are passed in their own range"
    if sample is None or probabilities_at is None or len(sample.images) == 0:
        return _decision(kind, first, why)
    first_p = probabilities_at(factor_between(kind, first))
    if sample.labels is not None:
        silent = stretch.preferred is None
        return _checked_by_accuracy(kind, first, other, first_p, sample.labels, why, graph, probabilities_at, silent)
    if stretch.preferred is not None or not _collapsed(first_p):
        return _decision(kind, first, why)
    other_p = probabilities_at(factor_between(kind, other))
    if _collapsed(other_p):
        return _decision(kind, first, why)
    share = _top_share(first_p)
    reason = (
        f"at {RANGE_NAMES[first]} the model predicted one class for {share:.0%} of {len(first_p)} sampled images, "
        f"at {RANGE_NAMES[other]} for {_top_share(other_p):.0%} ({graph})"
    )
    return _decision(kind, other, reason, warn=True)


def _checked_by_accuracy(
    kind: str,
    first: str,
    other: str,
    first_p: np.ndarray,
    labels: np.ndarray,
    why: str,
    graph: str,
    probabilities_at: Callable[[float], np.ndarray],
    silent: bool,
) -> PixelDecision:
    """The graph's range unless the other is clearly more accurate on the sample.

    When the graph has spoken and its range is clearly better than chance on the sample, the other range is
    not tried (one forward pass of the sample, not two); when it is silent, the data alone decide.
    """
    n = len(labels)
    right = int((first_p.argmax(axis=1) == labels).sum())
    low, _ = wilson_interval(right, n)
    majority = np.bincount(labels).max() / n
    checked = f"{why}; accuracy {right / n:.2f} on {n} sampled images"
    if not silent and float(low) > majority:
        return _decision(kind, first, checked)
    other_right = int((probabilities_at(factor_between(kind, other)).argmax(axis=1) == labels).sum())
    other_low, _ = wilson_interval(other_right, n)
    _, high = wilson_interval(right, n)
    if (other_right - right) / n >= CLEARLY_BETTER and float(other_low) > float(high):
        reason = (
            f"accuracy {other_right / n:.2f} at {RANGE_NAMES[other]} against {right / n:.2f} at "
            f"{RANGE_NAMES[first]} on {n} sampled images ({graph})"
        )
        return _decision(kind, other, reason, warn=True)
    return _decision(kind, first, f"{checked}, no better at {RANGE_NAMES[other]} ({other_right / n:.2f})")


def _decision(kind: str, target: str, why: str, *, warn: bool = False) -> PixelDecision:
    factor = factor_between(kind, target)
    reason = f"×{factor:g}, the images taken from {RANGE_NAMES[kind]} to {RANGE_NAMES[target]}: {why}"
    if kind == target:
        reason = f"×1, the images passed in {RANGE_NAMES[kind]}: {why}"
    if warn:
        warn_user(f"images: pixel_scale='auto' chose {reason}.", PixelScaleWarning)
    return PixelDecision(factor, target, reason)


def _top_share(probabilities: np.ndarray) -> float:
    return float(np.bincount(probabilities.argmax(axis=1)).max() / len(probabilities))


def _collapsed(probabilities: np.ndarray) -> bool:
    return len(probabilities) >= 20 and _top_share(probabilities) >= COLLAPSED


def _warn_if_wrong(
    decision: PixelDecision,
    stretch: Stretch,
    kind: str | None,
    lo: float,
    hi: float,
    requested: float | str,
    sample: Sample | None,
) -> None:
    """Warn when the images, as scaled, cannot be in the range the model takes."""
    low, high = lo * decision.factor, hi * decision.factor
    if requested == AUTO and kind is not None:
        if decision.target == "bytes" and high <= 1.0 and hi > lo:
            _warn_range("0..255", stretch, low, high, decision.factor)  # integer 0s and 1s: masks, not intensities
        elif stretch.preferred is None and kind == "bytes" and high > 1.5 and not _has_labels(sample):
            warn_user(
                f"images: pixel values reach {high:.3g}, but {stretch.describe()}, and most models that do not "
                "rescale their input are trained on [0, 1] images. If this one was, pass pixel_scale=1/255; if it "
                "was trained on values like these, pass pixel_scale=1 to say so.",
                PixelScaleWarning,
            )
        return
    if stretch.preferred == "bytes" and (high <= 1.0 or low < 0.0) and hi > lo:
        _warn_range("0..255", stretch, low, high, decision.factor)
    elif stretch.preferred == "unit" and (high > 1.5 or low < -0.01) and hi > lo:
        _warn_range("[0, 1]", stretch, low, high, decision.factor)


def _warn_range(wanted: str, stretch: Stretch, low: float, high: float, factor: float) -> None:
    warn_user(
        f"images: the model expects pixel values {wanted} ({stretch.describe()}), but receives values in "
        f"[{low:.3g}, {high:.3g}] (pixel_scale={factor:g}); its predictions are likely wrong. Pass "
        f"pixel_scale='auto' or the factor that brings the images to {wanted}.",
        PixelScaleWarning,
    )


def forward_at_scale(
    model: keras.Model,
    preprocess: Callable[[Any], Any] | None,
    x: np.ndarray,
    activation: str | None,
    batch_size: int = 64,
) -> Callable[[float], np.ndarray]:
    """``factor -> (n, K)`` class probabilities of the images ``x`` multiplied by ``factor`` (then ``preprocess``).

    One traced function serves every factor, ``batch_size`` images at a time; ``activation`` is the output
    layer's, for the head's kind.
    """
    spec = (tf.TensorSpec((None, *x.shape[1:]), tf.float32), tf.TensorSpec((), tf.float32))

    def run(batch: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
        outputs = run_graph(model, PixelMap(1.0, preprocess)(batch * factor), lambda name, op, inputs, out: out)
        return tf.cast(outputs, tf.float32)

    forward = tf.function(run, autograph=False).get_concrete_function(*spec)

    def probabilities(factor: float) -> np.ndarray:
        scale = tf.constant(factor, tf.float32)
        step = batch_size
        raw = np.concatenate([forward(tf.constant(x[i : i + step]), scale).numpy() for i in range(0, len(x), step)])
        return to_probabilities(raw, detect_head(activation, raw[:512]))

    return probabilities


def _has_labels(sample: Sample | None) -> bool:
    return sample is not None and sample.labels is not None and len(sample.labels) > 0


def expects_byte_pixels(model: keras.Model) -> bool:
    """True when the model's graph takes pixel values 0..255 (it rescales them before its first learned layer).

    Such models (``Rescaling(1/255)``, a ``keras.applications`` family's ``preprocess_input``, a
    ``Normalization`` adapted on 0..255) expect what Keras' ``image_dataset_from_directory`` gives;
    layerlens' loaders give [0, 1].
    """
    check_model(model)
    return read_stretch(model).preferred == "bytes"
