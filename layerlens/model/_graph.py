"""Walk a Keras 3 model's layer graph, nested models included, without changing it.

Keras exposes inner layers of a nested model (a pretrained base inside a
Sequential) only on the inner model's own graph, so ``keras.Model(model.inputs,
inner_layer.output)`` fails with "graph disconnected". Instead of rebuilding
the graph on new symbolic inputs — which would add nodes to the user's layers —
we replay the model's existing graph on real tensors and record what each
operation returns. Replaying creates no Keras nodes, so the user's model is
left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from layerlens.exceptions import InvalidInputError, InvalidTypeError

__all__ = ["functional_graph", "functional_graph_or_none", "run_graph"]

#: ``record(name, operation, inputs, output) -> output``; ``inputs`` are the tensors the operation received.
RecordFn = Callable[[str, Any, list[Any], Any], Any]


def functional_graph(model: keras.Model) -> Any:
    """Return the Functional graph behind ``model`` (Sequential models keep one internally)."""
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_run_through_graph"):
        if isinstance(model, keras.Sequential):
            raise InvalidInputError(
                f"model: the Sequential model {model.name!r} has no known input shape; start it with "
                "keras.Input(shape=...) or call model.build((None, H, W, C)) first."
            )
        raise InvalidTypeError(
            f"model: expected a Sequential or functional Keras model whose layer graph can be read; received "
            f"the subclassed model {type(model).__name__!r}, whose call() hides its layers."
        )
    return graph


def functional_graph_or_none(model: keras.Model) -> Any:
    """Like :func:`functional_graph` but None for models whose graph cannot be read."""
    try:
        return functional_graph(model)
    except (InvalidInputError, InvalidTypeError):
        return None


def _accepts_training(op: Any) -> bool:
    return "training" in getattr(op, "_call_context_args", ()) or getattr(op, "_call_has_training_arg", False)


def run_graph(model: keras.Model, inputs: Any, record: RecordFn, prefix: str = "") -> Any:
    """Run ``model`` on ``inputs`` in inference mode, calling ``record(name, op, inputs, output)`` for each operation.

    Nested models are entered: their operations are recorded as
    ``"outer/inner"`` and the nested model itself under its own name after
    its operations. ``record`` gets the tensors the operation received (so a
    caller can tell which operation fed which) and returns the output to pass
    on (normally the one it received). Works on eager tensors and inside
    ``tf.function``.
    """

    def wrap(op: Any) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            received = [t for t in keras.tree.flatten((args, kwargs)) if hasattr(t, "shape")]
            if isinstance(op, keras.Model) and functional_graph_or_none(op) is not None:
                output = run_graph(op, args[0] if len(args) == 1 else list(args), record, f"{prefix}{op.name}/")
            else:
                if _accepts_training(op):
                    kwargs["training"] = False
                output = op(*args, **kwargs)
            return record(f"{prefix}{op.name}", op, received, output)

        return call

    return functional_graph(model)._run_through_graph(inputs, operation_fn=wrap)
