"""The pass of :func:`layerlens.analyze` on the engine asked for: :func:`layerlens.model.extract` here, or the
Ray engine's, and in both cases the candidates to explain kept."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlens._util.warn import warn_user
from layerlens.datasets import ImageSet, ImageStream
from layerlens.exceptions import ExplanationWarning

__all__ = ["PassDone", "run_pass"]


@dataclass(frozen=True, eq=False)
class PassDone:
    """The pass on either engine: its :class:`~layerlens.model.Extraction`, a sentence on how it went on a
    cluster (empty here), the metadata columns a ``ray.data.Dataset`` brought (else None), and what explains
    the chosen images (None: :func:`~layerlens.explanations.explain_images` in this process)."""

    extraction: Any
    note: str = ""
    metadata: dict[str, list[str]] | None = None
    explainer: Any = None


def run_pass(
    model: Any,
    images: Any,
    *,
    engine: str,
    engine_options: dict[str, Any],
    candidates: Any,
    class_names: tuple[str, ...],
    labels: np.ndarray | None,
    label_order: np.ndarray | None,
    explaining: bool = True,
    **options: Any,
) -> PassDone:
    """The pass over ``images`` on ``engine``; ``options`` are :func:`~layerlens.model.extract`'s."""
    from layerlens.model import extract

    if engine == "local":
        return PassDone(extract(model, images, labels=labels, label_order=label_order, keep=candidates.add, **options))
    from layerlens.engines import RayExplainer, ray_extract

    extraction, went = ray_extract(
        model, images, labels=labels, label_order=label_order, class_names=class_names, **engine_options,
        **{k: v for k, v in options.items() if k != "model_range"},
    )  # fmt: skip
    _keep_candidates(candidates, extraction, images, labels, explaining)
    shape = went.workers
    note = (
        f"Ray: {shape.workers} worker{'s' if shape.workers != 1 else ''} ({shape.cpus_per_worker:g} CPU"
        f"{f', {shape.gpus_per_worker:g} GPU' if shape.gpus_per_worker else ''} each) on a cluster of "
        f"{shape.cpus:g} CPUs and {shape.gpus:g} GPUs; {went.units} blocks, {went.redone} run by this call"
        f"{f' ({went.by_driver} by the driver while the workers started)' if went.by_driver else ''}"
        f"{f', {went.units - went.redone} found in the work folder' if went.redone < went.units else ''}."
    )
    if options.get("progress", True):
        print(f"layerlens: {note} Blocks in {went.work_dir}.", file=sys.stderr)
    return PassDone(extraction, note, went.metadata, RayExplainer(went.model, shape))


def _keep_candidates(
    candidates: Any, extraction: Any, images: Any, labels: np.ndarray | None, explaining: bool
) -> None:
    """The candidates the local pass would have kept: chosen from the outputs, then their images read again."""
    outputs = extraction.outputs
    shape = tuple(extraction.image_shape)
    stand_in = np.zeros(shape, np.float32)
    step = 4096
    found = extraction.labels
    for start in range(0, len(outputs), step):
        stop = min(start + step, len(outputs))
        y = None if found is None or labels is not None else found[start:stop]
        candidates.add(start, np.broadcast_to(stand_in, (stop - start, *shape)), outputs[start:stop], y)
    wanted = np.array(sorted(candidates.images()), dtype=np.int64)
    if not len(wanted):
        return
    if isinstance(images, ImageSet):
        read = np.asarray(images.images)[wanted]
    elif isinstance(images, tuple):
        read = np.asarray(images[0])[wanted]
    elif isinstance(images, np.ndarray):
        read = images[wanted]
    elif isinstance(images, ImageStream):
        read = images.read(extraction.source_rows[wanted])
    else:  # a ray.data.Dataset is read once, by the workers
        candidates.refill({})
        if not explaining:
            return
        warn_user(
            "explain: the images of a ray.data.Dataset cannot be read again here, so none were explained; explain "
            "some later with layerlens.explain_run(run, model, images).",
            ExplanationWarning,
        )
        return
    from layerlens.model import check_batch

    read = check_batch(np.asarray(read), shape, 0)
    candidates.refill({int(p): image for p, image in zip(wanted, read)})
