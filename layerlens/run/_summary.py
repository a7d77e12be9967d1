"""What a run records of the model it analysed: its summary and its layers, as the architecture table shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = ['LayerRow', 'ModelSummary', 'architecture']


@dataclass(frozen=True)
class LayerRow:
    """One layer of the analysed model, as the architecture table of a run shows it."""

    name: str
    kind: str
    output_shape: tuple[int | None, ...] | None
    n_parameters: int


@dataclass(frozen=True)
class ModelSummary:
    """What a run records of the model it analysed: its name, kind of output, input, size and layers.

    ``layers`` lists every layer in execution order (those of a nested model as ``"outer/inner"``);
    runs written before layerlens recorded it have none. ``file`` is the model file the analysis
    loaded, when it loaded one (the command line does), for the commands the site suggests.
    """

    name: str
    head: str
    input_shape: tuple[int | None, ...]
    n_parameters: int
    layers: tuple[LayerRow, ...] = ()
    file: str | None = None


def architecture(model: keras.Model) -> tuple[LayerRow, ...]:
    """Every layer of ``model`` in execution order with its output shape and parameters (nested models entered)."""
    import keras

    from layerlens.model import trace

    traced = trace(model)
    return tuple(
        LayerRow(info.name, info.kind, info.output_shape, _parameters(op))
        for info, op in zip(traced.infos, traced.operations)
        if not isinstance(op, keras.Model)  # a nested model is its layers, listed already
    )


def _parameters(op: Any) -> int:
    """Weights of a layer; 0 for an unbuilt one and for a plain operation (``keras.ops`` in a functional graph)."""
    return int(op.count_params()) if getattr(op, "built", False) and hasattr(op, "count_params") else 0
