"""``engine="ray"``: the pass on a Ray cluster (Ray Data actors that hold the model), its blocks in a work folder.

The driver decides once what the local pass decides on its first batches (the pixel factor and range, the
layers), runs one batch itself to know the layout and fail early on bad input, then hands the units of the
images to an actor pool, running units from the end of the list itself while the actors start
(:mod:`._share`). Each finished unit comes back as a block and is written to the work folder, whole; when
all are there they are joined into memory-mapped columns, and the :class:`~layerlens.model.Extraction` the local
engine would have made is built from them. Ray restarts a worker that dies and redoes its units; a unit that
reached the folder is never redone, so a driver run again after an interruption redoes only the missing ones.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.progress import Progress
from layerlens._util.skipped import warn_skipped
from layerlens.datasets import ImageSet, ImageStream
from layerlens.engines._cluster import ClusterShape, join_cluster, size_workers
from layerlens.engines._share import Board, DriverShare, Ledger
from layerlens.engines._work import WorkFolder, digest
from layerlens.engines._worker import IMAGE, LABEL, SKIPPED, PassWorker
from layerlens.exceptions import InvalidInputError, InvalidTypeError

__all__ = ["RayPass", "ray_extract"]

#: Images per unit of work at most (fewer when they are large): a block of the work folder, a resume's grain.
UNIT_IMAGES = 1024
#: Bytes of float32 images per unit at most.
UNIT_BYTES = 128 * 2**20
#: Whether the driver runs units itself while the workers start (:mod:`._share`); an array's or a stream's.
DRIVER_SHARE = True


@dataclass(frozen=True)
class RayPass:
    """How a distributed pass went.

    Attributes
    ----------
    units : int
        Units of the images in all.
    redone : int
        Units this call ran (the others were found finished in the work folder).
    workers : ClusterShape
        The actors and their resources.
    work_dir : Path
        The work folder.
    seconds : float
        Wall time of the pass on the cluster (planning and joining the blocks included).
    metadata : dict of str to list of str, or None
        The metadata columns of a ``ray.data.Dataset`` (its ``file`` column among them), one value per image.
    model : object
        What the workers load the model from (a ``.keras`` path, or the object-store reference of its bytes),
        for the explanations' tasks.
    by_driver : int
        Of the units this call ran, those the driver ran while the workers started (see :mod:`._share`).
    """

    units: int
    redone: int
    workers: ClusterShape
    work_dir: Path
    seconds: float
    metadata: dict[str, list[str]] | None = None
    model: Any = None
    by_driver: int = 0


def unit_images(batch_size: int, image_shape: Sequence[int]) -> int:
    """Images per unit: whole batches, at most :data:`UNIT_IMAGES` and :data:`UNIT_BYTES` of them."""
    per_image = max(int(np.prod(image_shape)) * 4, 1)
    most = max(min(UNIT_IMAGES, UNIT_BYTES // per_image), 1)
    return max(most // batch_size, 1) * batch_size


def ray_extract(
    model: Any,
    images: Any,
    *,
    model_file: str | None,
    labels: np.ndarray | None,
    label_order: np.ndarray | None,
    class_names: tuple[str, ...],
    layers: Sequence[str] | None,
    batch_size: int,
    conv_features: str,
    seed: int,
    progress: bool,
    pixel_scale: float | str,
    noise: tuple[float, ...],
    axes: str,
    volume_view: str,
    preprocess: Any,
    address: str | None,
    workers: int | None,
    gpus_per_worker: float,
    work_dir: str | Path | None,
) -> tuple[Any, RayPass]:
    """The :class:`~layerlens.model.Extraction` of ``images`` made on a Ray cluster, and how the pass went.

    Its features, thumbnails and noisy copies are memory-mapped from the work folder. Parameters are
    :func:`layerlens.analyze`'s; ``model_file`` is the ``.keras`` file the workers load, when the model came
    as one.
    """
    from layerlens.model import extract, plan_pass, select_layers, trace

    started = time.perf_counter()
    original, given = images, labels
    images, labels = _inputs(images, labels)
    ray = join_cluster(address)
    shape = size_workers(ray, workers, gpus_per_worker, reads_apart=_is_dataset(images))
    first = _first_batch(images, batch_size)
    plan = plan_pass(
        model, original if first is None else None, batch_size=batch_size, pixel_scale=pixel_scale,
        preprocess=preprocess, labels=given, label_order=label_order, first_batch=first,
    )  # fmt: skip
    names = [info.name for info in select_layers(trace(model).infos, layers)]
    options = dict(
        layers=names, batch_size=batch_size, conv_features=conv_features, seed=seed, pixel_scale=plan.decision.factor,
        noise=noise, axes=axes, volume_view=volume_view, preprocess=preprocess, plan=plan,
    )  # fmt: skip
    # One batch here: the layout of the blocks, and bad input named before any worker starts.
    head = extract(model, _head_of(images, first, batch_size), progress=False, **options)
    per_unit = unit_images(batch_size, head.image_shape)
    total = None if _is_dataset(images) else len(images if not isinstance(images, tuple) else images[0])
    fingerprint = _fingerprint(model, images, labels, options, per_unit)
    folder = _work_folder(work_dir, fingerprint)
    work = WorkFolder(folder, fingerprint)
    if total is None:
        work.clear()  # a ray.data.Dataset is read once: blocks of an earlier read of it are not resumed
    units = list(range(math.ceil(total / per_unit))) if total is not None else None
    missing = [u for u in units if u not in work.done()] if units is not None else None
    if units is not None and len(missing) < len(units) and progress:
        found = len(units) - len(missing)
        print(f"layerlens: resuming the pass: {found} of {len(units)} blocks found in {folder}.", file=sys.stderr)
    if missing is not None and 0 < len(missing) < shape.workers:  # no actor without a part to run
        shape = shape.fewer(len(missing))
    shipped = model_file if model_file is not None else ray.put(_model_bytes(model))
    redone, by_driver = _run(
        ray, shape, model, images, labels, shipped, options, per_unit, class_names, work, missing, total, progress
    )
    done = sorted(work.done()) if units is not None else list(range(redone))
    unreadable = work.notes(done, "_unreadable")
    if unreadable:
        warn_skipped(unreadable, "the warning's files")
    columns = work.join(done)
    extraction = _extraction(columns, head, plan, isinstance(images, ImageStream))
    metadata = {name[5:]: np.asarray(values).tolist() for name, values in columns.items() if name.startswith("meta_")}
    if work_dir is None and os.name == "posix":
        # The default folder served only to resume an interrupted call: the columns stay readable (mapped)
        # after their files are removed.
        shutil.rmtree(folder, ignore_errors=True)
    seconds = time.perf_counter() - started
    info = RayPass(len(done), redone, shape, folder, seconds, metadata or None, shipped, by_driver)
    return extraction, info


def _inputs(images: Any, labels: np.ndarray | None) -> tuple[Any, np.ndarray | None]:
    """The images as the pass cuts them (an array, a stream or a ray.data.Dataset) and their labels."""
    if isinstance(images, ImageSet):
        return np.asarray(images.images), images.labels if labels is None else labels
    if isinstance(images, tuple) and len(images) == 2 and isinstance(images[0], np.ndarray):
        return images[0], np.asarray(images[1]) if labels is None else labels
    if isinstance(images, (ImageStream, np.ndarray)) or _is_dataset(images):
        return images, labels
    if type(images).__module__.startswith("tensorflow"):
        raise InvalidTypeError(
            'images: engine="ray" does not take a tf.data.Dataset (it cannot be cut into parts for the workers); '
            "pass an array, an ImageStream (layerlens.datasets.from_directory(..., stream=True)) or a "
            "ray.data.Dataset with an 'image' column."
        )
    raise InvalidTypeError(
        'images: engine="ray" expected a numpy array, an ImageSet, an ImageStream or a ray.data.Dataset with an '
        f"'image' column; received {type(images).__name__}."
    )


def _is_dataset(images: Any) -> bool:
    return type(images).__module__.startswith("ray.data")


def _first_batch(images: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A dataset's first batch (the pixel decision is taken on it); None for inputs the plan reads itself."""
    if not _is_dataset(images):
        return None
    columns = images.columns()
    if IMAGE not in columns:
        raise InvalidInputError(
            f"images: expected a ray.data.Dataset with an {IMAGE!r} column (and optionally {LABEL!r}); its columns "
            f"are {columns}."
        )
    with _quiet_data(ordered=True):
        batch = images.take_batch(batch_size, batch_format="numpy")
    x = np.asarray(batch[IMAGE])
    if x.dtype == object:
        x = np.stack([np.asarray(v) for v in x])
    y = np.asarray(batch[LABEL]) if LABEL in batch and np.asarray(batch[LABEL]).dtype.kind in "iub" else None
    return x.astype(np.float32, copy=False), y


def _head_of(images: Any, first: Any, batch_size: int) -> Any:
    if first is not None:
        return first[0]
    if isinstance(images, ImageStream):
        return images.subset(np.arange(min(batch_size, len(images))))
    return images[:batch_size]


def _model_bytes(model: Any) -> bytes:
    """The model as the bytes of a ``.keras`` file, to ship once to every worker."""
    with tempfile.TemporaryDirectory(prefix="layerlens-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _fingerprint(model: Any, images: Any, labels: Any, options: dict[str, Any], per_unit: int) -> dict[str, Any]:
    """What the blocks depend on: the model's weights, the images, and the options of the pass."""
    weights = digest(*[np.asarray(w) for w in model.get_weights()])
    if isinstance(images, ImageStream):
        seen = [(f, *_stat(images.root / f)) for f in images.files]
        source = digest(str(images.root), seen, images.labels, list(images.image_shape), images.axes)
    elif isinstance(images, np.ndarray):
        source = digest(images, None if labels is None else np.asarray(labels))
    else:
        source = "a ray.data.Dataset"  # read once, never resumed
    plan = options["plan"]
    chosen = {
        key: value if isinstance(value, (int, float, str, list, tuple, type(None))) else repr(value)
        for key, value in options.items()
        if key != "plan"
    }
    chosen["preprocess"] = _name_of(options["preprocess"])
    chosen["pixel_range"] = list(plan.pixel_range)
    return {"weights": weights, "images": source, "options": digest(chosen), "unit": per_unit}


def _name_of(preprocess: Any) -> str | None:
    if preprocess is None or isinstance(preprocess, str):
        return preprocess
    return f"{getattr(preprocess, '__module__', '')}.{getattr(preprocess, '__qualname__', type(preprocess).__name__)}"


def _stat(path: Path) -> tuple[int, int]:
    try:
        found = path.stat()
    except OSError:
        return (-1, -1)
    return (found.st_size, found.st_mtime_ns)


def _work_folder(work_dir: Any, fingerprint: dict[str, Any]) -> Path:
    """``work_dir``, or a folder in the temporary directory named by the fingerprint (so that the same call
    again, after an interruption, finds it)."""
    if work_dir is not None:
        if not isinstance(work_dir, (str, os.PathLike)):
            raise InvalidTypeError(f"work_dir: expected a folder path; received {type(work_dir).__name__}.")
        return Path(work_dir)
    stamp = digest(fingerprint)[:16]
    return Path(tempfile.gettempdir()) / "layerlens-work" / stamp


def _run(
    ray: Any,
    shape: ClusterShape,
    model: Any,
    images: Any,
    labels: Any,
    shipped: Any,
    options: dict[str, Any],
    per_unit: int,
    class_names: tuple[str, ...],
    work: WorkFolder,
    missing: list[int] | None,
    total: int | None,
    progress: bool,
) -> tuple[int, int]:
    """Run the missing units on the cluster (and the driver's share of them, see :mod:`._share`), each written
    to the work folder as it arrives; how many this call ran, and how many of them the driver ran."""
    import ray.data

    dataset = _is_dataset(images)
    if missing is not None and not missing:
        return 0, 0
    shared = ray.put(images) if isinstance(images, np.ndarray) else images
    sharing = DRIVER_SHARE and not dataset
    board = ray.remote(num_cpus=0)(Board).remote() if sharing else None
    kwargs = dict(
        model=shipped, images=None if dataset else shared, labels=None if labels is None or dataset else labels,
        options={**options, "unit": per_unit}, threads=shape.threads, class_names=class_names, board=board,
    )  # fmt: skip
    if dataset:
        source = images.select_columns([c for c in images.columns()])
        batch_size = per_unit  # whole batches of the pass, as many as a unit holds
    else:
        source = ray.data.from_items([{"unit": u} for u in missing], override_num_blocks=len(missing))
        batch_size = 1
    mapped = source.map_batches(
        PassWorker,
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=shape.workers),
        fn_constructor_kwargs=kwargs,
        num_cpus=shape.cpus_per_worker,
        num_gpus=shape.gpus_per_worker or None,
    )  # Ray Data restarts a dead actor and retries its batches (max_restarts=-1, max_task_retries=-1)
    bar = Progress(total, "image") if progress else None
    ledger = Ledger(work, missing or [], bar, board)
    share = None
    if sharing:
        driver = PassWorker.beside(model, images, labels, {**options, "unit": per_unit}, class_names)
        share = DriverShare(driver, missing, shape.workers, ledger).start()
    ran = 0
    try:
        with _quiet_data(ordered=dataset):
            for batch in mapped.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
                for unit, payload, error, count in zip(batch["unit"], batch["payload"], batch["error"], batch["count"]):
                    if error:
                        raise InvalidInputError(str(error))
                    if dataset:
                        work.write(ran, bytes(payload))
                        if bar is not None:
                            bar.add(int(count))
                    elif count != SKIPPED:
                        ledger.keep(int(unit), bytes(payload), int(count))
                    if share is not None:
                        share.reached(int(unit))
                    ran += 1
                if share is not None:
                    share.raise_error()
    finally:
        if share is not None:
            share.stop()
        if board is not None:
            ray.kill(board)
    if share is not None:
        share.raise_error()
    if bar is not None:
        bar.close()
    if not dataset and not ledger.complete():
        raise RuntimeError(f"the pass ended with units missing: {sorted(set(missing) - work.done())[:10]}")
    return (ran if dataset else len(missing)), (0 if share is None else share.ran)


@contextlib.contextmanager
def _quiet_data(*, ordered: bool) -> Iterator[None]:
    """Ray Data without its own progress bars (layerlens draws one), keeping input order when asked."""
    import ray.data

    context = ray.data.DataContext.get_current()
    saved = (context.enable_progress_bars, context.execution_options.preserve_order)
    context.enable_progress_bars = False
    context.execution_options.preserve_order = ordered
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        context.enable_progress_bars, context.execution_options.preserve_order = saved
        logger.setLevel(level)


def _extraction(columns: dict[str, np.ndarray], head: Any, plan: Any, listed: bool) -> Any:
    """The Extraction of the whole pass, from the joined columns (features memory-mapped)."""
    from dataclasses import replace

    n_layers = len(head.layers)
    levels = list(head.noisy_features)
    return replace(
        head,
        features=tuple(columns[f"f{i}"] for i in range(n_layers)),
        outputs=np.asarray(columns["outputs"]),
        labels=np.asarray(columns["labels"]) if "labels" in columns else None,
        thumbnails=columns["thumbnails"],
        image_properties=np.asarray(columns["properties"]),
        noisy_features={
            level: tuple(columns[f"noisy{j}_f{i}"] for i in range(n_layers)) for j, level in enumerate(levels)
        },
        noisy_outputs={level: np.asarray(columns[f"noisy{j}_outputs"]) for j, level in enumerate(levels)},
        source_rows=np.asarray(columns["rows"]) if listed else None,
        pixels=plan.decision,
        seconds=float("nan"),
    )
