"""Where the stages of an analysis run: in this process (``engine="local"``) or on a Ray cluster (``"ray"``).

The local engine is :func:`layerlens.model.extract` and the run's own stages; this package holds what the Ray
engine adds: joining a cluster and sizing its workers, the actors that run the pass on parts of the images, and
the work folder that keeps the finished parts so that an interrupted pass resumes. Nothing here imports Ray
until the Ray engine is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerlens._util.lazy import lazy_names
from layerlens.exceptions import InvalidInputError
from layerlens.options import ENGINES

if TYPE_CHECKING:
    from layerlens.engines._explain import RayExplainer
    from layerlens.engines._ray import RayPass, ray_extract

__all__ = ["ENGINES", "RayExplainer", "RayPass", "check_engine", "ray_extract"]


def check_engine(engine: Any) -> str:
    """``engine`` checked: one of :data:`ENGINES`."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise InvalidInputError(f"engine: expected one of {ENGINES}; received {engine!r}.")
    return engine


__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "RayExplainer": "layerlens.engines._explain",
        "RayPass": "layerlens.engines._ray",
        "ray_extract": "layerlens.engines._ray",
    },
    __all__,
)
