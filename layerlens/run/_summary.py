"""What a run records of the model it analysed: its summary and its layers, as the architecture table shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import pandas as pd

__all__ = ["LayerRow", "ModelSummary", "architecture"]


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

    def __repr__(self) -> str:
        shape = "x".join("?" if d is None else str(d) for d in self.input_shape)
        return (
            f"<ModelSummary {self.name!r}: {self.head} output, input {shape}, {self.n_parameters:,} parameters, "
            f"{len(self.layers)} layers>"
        )

    def to_frame(self) -> pd.DataFrame:
        """The architecture table: one row per layer, its ``name``, ``kind``, ``output_shape`` and ``parameters``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "name": [row.name for row in self.layers],
                "kind": [row.kind for row in self.layers],
                "output_shape": [row.output_shape for row in self.layers],
                "parameters": [row.n_parameters for row in self.layers],
            },
            columns=["name", "kind", "output_shape", "parameters"],
        )

    def _repr_html_(self) -> str:
        from layerlens._util.display import frame_html

        return frame_html(repr(self).strip("<>"), self.to_frame())


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
