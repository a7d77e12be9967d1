"""The layers of a model: what each one is, how they connect, and which ones an analysis reads by default.

The model's graph is replayed once, symbolically (see :mod:`layerlens.model._graph`); every operation is
recorded with the operations whose outputs it received, so the analysis knows which layers follow
one another and which run side by side in parallel branches.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.model._extraction import LayerInfo
from layerlens.model._graph import functional_graph, run_graph

__all__ = [
    "BLOCK_LAYERS",
    "Recorder",
    "Traced",
    "check_model",
    "default_infos",
    "default_layers",
    "list_layers",
    "model_output_activation",
    "output_activation",
    "output_units",
    "parallel_to_previous",
    "select_layers",
    "trace",
]

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
# Fewer layers than this on the trunk (e.g. two towers joined just before the head) and the
# default choice takes the branch layers too; the paths diagram then marks the parallel ones.
_MIN_TRUNK_LAYERS = 3


@dataclass(frozen=True, eq=False)
class Traced:
    """Every operation of a model in execution order, with the graph that links them.

    Attributes
    ----------
    infos : list of LayerInfo
        One per operation.
    operations : list
        The Keras operation behind each entry of ``infos``.
    ancestors : list of int
        Bit ``j`` of ``ancestors[i]`` is set when operation ``j`` feeds operation ``i``, directly
        or through others.
    """

    infos: tuple[LayerInfo, ...]
    operations: tuple[Any, ...]
    ancestors: tuple[int, ...]


class Recorder:
    """Gives every recorded operation a unique name (a shared layer called twice gets ``name#2``)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def name(self, raw: str) -> str:
        self.counts[raw] = self.counts.get(raw, 0) + 1
        return raw if self.counts[raw] == 1 else f"{raw}#{self.counts[raw]}"


def check_model(model: Any) -> None:
    """Raise unless ``model`` is a built, graph-readable Keras model with one image input and one output."""
    if not isinstance(model, keras.Model):
        raise InvalidTypeError(f"model: expected a keras.Model; received {type(model).__name__}.")
    functional_graph(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InvalidInputError(
            f"model: expected one image input and one class output; received {len(model.inputs)} input(s) and "
            f"{len(model.outputs)} output(s)."
        )
    if len(model.inputs[0].shape) not in (4, 5):
        raise InvalidInputError(
            f"model: expected an image input of shape (batch, height, width, channels) or a volume input of shape "
            f"(batch, depth, height, width, channels); received {tuple(model.inputs[0].shape)}."
        )


def output_units(model: keras.Model) -> int:
    """Number of output units of a classifier (1 for a single sigmoid or logit unit).

    Raises
    ------
    InvalidTypeError, InvalidInputError
        As :func:`list_layers`, and if the output is not ``(batch, K)``.
    """
    check_model(model)
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2 or shape[1] is None:
        raise InvalidInputError(
            f"model: expected a classifier whose output has shape (batch, classes); received {shape}."
        )
    return int(shape[1])


# Traces by model, with the layers they were made of: tracing takes tens of milliseconds, as much as
# explaining one image, and analyze, extract and explain each need the trace of the same model.
_TRACES: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], Traced]] = weakref.WeakKeyDictionary()


def _structure(model: Any) -> tuple[Any, ...]:
    """What a trace depends on: the input shape and the layers, nested models' layers included.

    A nested model without a graph of its own (a subclassed model used as a layer) has neither; it
    counts by its identity.
    """
    inputs = getattr(model, "inputs", None)
    shape = tuple(inputs[0].shape) if inputs else None
    layers = tuple(
        (id(layer), _structure(layer)) if isinstance(layer, keras.Model) else id(layer)
        for layer in getattr(model, "layers", ())
    )
    return shape, layers


def trace(model: keras.Model) -> Traced:
    """Replay ``model`` symbolically and record every operation, its output shape and what fed it.

    The result is kept for the model (weakly) and made again when its layers change.
    """
    structure = _structure(model)
    cached = _TRACES.get(model)
    if cached is not None and cached[0] == structure:
        return cached[1]
    traced = _trace(model)
    _TRACES[model] = (structure, traced)
    return traced


def _trace(model: keras.Model) -> Traced:
    names: list[str] = []
    operations: list[Any] = []
    shapes: list[tuple[int | None, ...] | None] = []
    parents: list[list[int]] = []
    producer: dict[int, int] = {}  # id of a tensor -> index of the operation that returned it
    alive: list[Any] = []  # keeps every recorded tensor alive, so no id is reused while tracing
    recorder = Recorder()

    def record(name: str, op: Any, inputs: list[Any], output: Any) -> Any:
        index = len(names)
        # A tensor the recording never saw (the model input, or a cast Keras inserted) counts as
        # coming from the operation just before: the graph then reads as a chain, the old assumption.
        # A nested model is recorded after its own operations and returns the output of its last one:
        # that operation, not the nested model's input, is what feeds it.
        inner = [producer[id(t)] for t in keras.tree.flatten(output) if id(t) in producer]
        fed_by = set(inner) or {producer.get(id(t), index - 1) for t in inputs} or {index - 1}
        parents.append(sorted(fed_by))
        names.append(recorder.name(name))
        operations.append(op)
        # None marks an operation with several outputs: there is no single activation to reduce.
        shapes.append(tuple(output.shape[1:]) if hasattr(output, "shape") else None)
        for tensor in keras.tree.flatten(output):
            producer[id(tensor)] = index
            alive.append(tensor)
        return output

    def replay(x: tf.Tensor) -> Any:
        producer[id(x)] = -1  # the model input
        return run_graph(model, x, record)

    spec = tf.TensorSpec(model.inputs[0].shape, dtype=tf.float32)
    tf.function(replay, autograph=False).get_concrete_function(spec)
    trunk = _on_trunk(parents)
    scopes = _scopes(names, operations)
    infos = [_info(*entry) for entry in zip(names, operations, shapes, trunk, scopes)]
    return Traced(tuple(infos), tuple(operations), tuple(_ancestors(parents)))


def _scopes(names: list[str], operations: list[Any]) -> list[tuple[str, ...]]:
    """The nested models each operation sits in: the entered models whose recorded name starts its own."""
    from layerlens.model._graph import functional_graph_or_none

    models = [n for n, op in zip(names, operations) if isinstance(op, keras.Model) and functional_graph_or_none(op)]
    scopes = []
    for name in names:
        levels: list[str] = []
        for model in sorted(models, key=len):  # outer models have the shorter names
            if name.startswith(model + "/"):
                levels.append(model)
        # Each level keeps its own name only: "outer/mid" is the level "mid" inside "outer".
        scopes.append(tuple(level[len(levels[i - 1]) + 1 :] if i else level for i, level in enumerate(levels)))
    return scopes


def _on_trunk(parents: list[list[int]]) -> list[bool]:
    """Whether every input-to-output path passes through each operation (index -1 is the input).

    In execution order every edge goes forwards, so operation ``i`` lies on every path exactly
    when no edge jumps over it: no operation before ``i`` (nor the input) feeds one after ``i``.
    """
    n = len(parents)
    last_use = [-1] * (n + 1)  # last_use[p + 1]: the latest operation that p feeds
    for child, fed_by in enumerate(parents):
        for p in fed_by:
            last_use[p + 1] = max(last_use[p + 1], child)
    trunk, reach = [], last_use[0]
    for i in range(n):
        trunk.append(reach <= i)
        reach = max(reach, last_use[i + 1])
    return trunk


def _ancestors(parents: list[list[int]]) -> list[int]:
    masks: list[int] = []
    for fed_by in parents:
        mask = 0
        for p in fed_by:
            if p >= 0:
                mask |= masks[p] | (1 << p)
        masks.append(mask)
    return masks


def _info(
    name: str, op: Any, shape: tuple[int | None, ...] | None, on_trunk: bool, scope: tuple[str, ...]
) -> LayerInfo:
    if shape is None:
        return LayerInfo(name, type(op).__name__, (), False, False, on_trunk, scope)
    is_block = isinstance(op, BLOCK_LAYERS)
    transforms = isinstance(op, TRANSFORM_LAYERS) or is_block
    return LayerInfo(name, type(op).__name__, shape, transforms, is_block, on_trunk, scope)


def parallel_to_previous(traced: Traced, chosen: Sequence[LayerInfo]) -> tuple[bool, ...]:
    """Per chosen layer (in depth order), True when the one before it does not feed it: they run side by side."""
    index = {info.name: i for i, info in enumerate(traced.infos)}
    flags = [False]
    for before, after in zip(chosen[:-1], chosen[1:]):
        flags.append(not (traced.ancestors[index[after.name]] >> index[before.name]) & 1)
    return tuple(flags)


def spread(candidates: list[LayerInfo], max_layers: int) -> list[LayerInfo]:
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


def default_infos(infos: Sequence[LayerInfo], max_layers: int) -> list[LayerInfo]:
    """The layers :func:`default_layers` names (see there)."""
    # The classifier layer is the last one that transforms, even when an Activation("softmax"), a
    # Dropout or the end of a nested model follows it; its output is the prediction, drawn as its own axis.
    transforming = [info for info in infos if info.transforms][:-1]
    if not transforming:
        raise InvalidInputError(
            "model: found no layer that transforms (convolution, pooling, dense, Add/Concatenate) besides the "
            "output layer; name the layers to analyse with layers=[...]."
        )
    # A path through the layers reads as "this layer, then the next": layers inside parallel branches
    # would be drawn as if one fed the other, so the trunk is preferred when it has enough layers.
    trunk = [info for info in transforming if info.on_trunk]
    candidates = trunk if len(trunk) >= min(_MIN_TRUNK_LAYERS, len(transforming)) else transforming
    return candidates if len(candidates) <= max_layers else spread(candidates, max_layers)


def select_layers(infos: Sequence[LayerInfo], layers: Sequence[str] | None) -> list[LayerInfo]:
    """The layers named in ``layers`` (or the default ones), checked and in depth order."""
    if layers is None:
        return default_infos(infos, 8)
    if isinstance(layers, str) or not all(isinstance(name, str) for name in layers):
        raise InvalidTypeError(f"layers: expected a list of layer names; received {layers!r}.")
    by_name = {info.name: info for info in infos}
    layers = [_by_suffix(name, by_name) for name in layers]
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


def _by_suffix(name: str, by_name: dict[str, LayerInfo]) -> str:
    """``name``, or the one full ``"outer/inner"`` name that ends with it (a nested layer named as figures name it)."""
    if name in by_name:
        return name
    matches = [full for full in by_name if full.endswith("/" + name)]
    return matches[0] if len(matches) == 1 else name


def output_activation(traced: Traced) -> str | None:
    """Activation name of the layer that produces the model's output, None when it cannot be read."""
    for op in reversed(traced.operations):
        if isinstance(op, keras.Model):
            continue  # a nested model's output is its last inner layer's, recorded before it
        if isinstance(op, _L.Softmax):
            return "softmax"
        activation = getattr(op, "activation", None)
        return getattr(activation, "__name__", None)
    return None


def model_output_activation(model: keras.Model) -> str | None:
    """The activation of the layer that makes ``model``'s output (``"softmax"``, ``"sigmoid"``, ...), when readable."""
    check_model(model)
    return output_activation(trace(model))


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
    check_model(model)
    return list(trace(model).infos)


def default_layers(model: keras.Model, *, max_layers: int = 8) -> list[str]:
    """The layers analysed when none are named.

    The layers that transform — convolution, pooling, dense and block outputs
    such as ``Add``/``Concatenate`` — without the final classifier layer (the
    prediction is shown separately), taken from the model's trunk: the layers
    every input-to-output path passes through. Layers inside parallel branches
    (the towers of an Inception block, the convolutions a residual connection
    bypasses) are left out, because a path through them would read as if one
    branch fed the other; their merge layer stands for them. When the trunk
    holds fewer than 3 such layers, branch layers are taken too. When there
    are more than ``max_layers``, ``max_layers`` of them are spread evenly
    through the depth, each snapping to a block output nearby when there is
    one, so paths stay readable.

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
    return [info.name for info in default_infos(list_layers(model), max_layers)]
