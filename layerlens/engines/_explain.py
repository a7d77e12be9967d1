"""The explanations of a Ray run: the chosen images explained by Ray tasks on the cluster, each loading the model.

The images are dealt out in turn (the first to one task, the second to the next, ...) so that every task starts
with the images that come first (the most confident mistakes), each with the whole time budget; the results are
put back in the order of the images, and the images explained are the longest run from the first on that every
task finished (what the local engine's budget keeps too).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from layerlens.engines._cluster import ClusterShape

__all__ = ["RayExplainer"]

#: Models loaded in a Ray worker process, by what was shipped: tasks that land in the same process load once.
_LOADED: dict[Any, Any] = {}


class RayExplainer:
    """:func:`layerlens.explanations.explain_images` on a Ray cluster, with the pass's workers.

    Parameters
    ----------
    model : object
        What the workers load: a ``.keras`` path, or an object-store reference to a ``.keras`` file's bytes.
    shape : ClusterShape
        The workers of the pass and their resources.
    """

    def __init__(self, model: Any, shape: ClusterShape) -> None:
        self.model = model
        self.shape = shape

    def __call__(self, model: Any, x: np.ndarray, chosen: np.ndarray, *, progress: bool, **options: Any) -> Any:
        """The :class:`~layerlens.explanations.Explained` of ``x`` (``model`` is the driver's, unused here)."""
        import ray

        from layerlens.explanations import Explained

        count = min(self.shape.workers, len(chosen))
        if count == 0:
            return Explained((), 0, tuple(options.get("methods", ())), 0.0)
        task = ray.remote(_explain_part).options(
            num_cpus=self.shape.cpus_per_worker, num_gpus=self.shape.gpus_per_worker or None, max_retries=3
        )
        parts = [np.arange(start, len(chosen), count) for start in range(count)]
        pending = [
            task.remote(self.model, x[rows], chosen[rows], options, self.shape.threads, options["targets"][rows])
            for rows in parts
        ]
        results = ray.get(pending)
        done = np.zeros(len(chosen), bool)
        by_image: dict[int, list[Any]] = {}
        for rows, made in zip(parts, results):
            done[rows[: made.n_explained]] = True
            for explanation in made.explanations:
                by_image.setdefault(int(explanation.image_index), []).append(explanation)
        first_missing = np.flatnonzero(~done)
        n_explained = int(first_missing[0]) if len(first_missing) else len(chosen)
        methods = min((made.methods for made in results), key=len)
        kept = [e for image in chosen[:n_explained] for e in by_image.get(int(image), []) if e.method in methods]
        return Explained(tuple(kept), n_explained, methods, max(made.seconds for made in results))


def _explain_part(
    model: Any, x: np.ndarray, chosen: np.ndarray, options: dict[str, Any], threads: int, targets: np.ndarray
) -> Any:
    """One task: load the model (once per worker process) and explain its share of the images."""
    from layerlens.engines._worker import load_model, set_threads
    from layerlens.explanations import explain_images

    set_threads(threads)
    key = model if isinstance(model, str) else hashlib.sha256(bytes(model)).hexdigest()
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_model(model)
    return explain_images(_LOADED[key], x, chosen, progress=False, **{**options, "targets": targets})
