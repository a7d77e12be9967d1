"""The actor of a distributed pass: it loads the model once and runs the local pass on each unit it is given.

Each call takes one unit (a range of whole batches of an array or an ImageStream, or as many rows of a
``ray.data.Dataset``), runs :func:`layerlens.model.extract` on it with the pass's plan (the pixel factor and
range decided once on the driver) and returns its columns as the bytes of one block. Errors of layerlens
(images of another shape, a model the worker cannot load) come back as text, for the driver to raise at once.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any

import numpy as np

from layerlens.engines._work import to_block

__all__ = ["SKIPPED", "PassWorker", "image_columns", "load_model", "set_threads"]

#: Columns of a ``ray.data.Dataset`` that are the images, their labels and their files.
IMAGE, LABEL, FILE = "image", "label", "file"
#: The count of a unit a worker skipped, the driver having finished it.
SKIPPED = -1
#: Seconds a worker waits for the board's answer before it runs the unit anyway.
BOARD_TIMEOUT = 10.0


def image_columns(batch: dict[str, Any]) -> list[str]:
    """The metadata columns of a dataset's batch: every column but the image and the label."""
    return [name for name in batch if name not in (IMAGE, LABEL)]


class PassWorker:
    """One actor of the pass (Ray Data builds it with :class:`~ray.data.ActorPoolStrategy`).

    Parameters
    ----------
    model : str or bytes
        A ``.keras`` file the worker reads, or the bytes of one (a model object, shipped once).
    images : ndarray, ImageStream or None
        The whole array (from the object store) or stream; None when the batches bring their images.
    labels : ndarray or None
        Labels given beside an array, by position.
    options : dict
        Keyword arguments of :func:`~layerlens.model.extract` (layers, batch size, plan, ...) and ``unit``,
        the images per unit.
    threads : int
        TensorFlow threads: the CPUs the actor holds.
    class_names : tuple of str
        To read a dataset's labels given as class names.
    board : ray.actor.ActorHandle, optional
        The :class:`~layerlens.engines._share.Board` of the units the driver has finished, which this worker
        skips.
    """

    def __init__(
        self,
        model: Any,
        images: Any,
        labels: Any,
        options: dict[str, Any],
        threads: int,
        class_names: tuple[str, ...],
        board: Any = None,
    ) -> None:
        set_threads(threads)
        model, images, labels = (_resolved(v) for v in (model, images, labels))
        self._hold(images, labels, options, class_names)
        self.board = board
        try:
            self.model = load_model(model)
        except Exception as error:  # said to the driver on the first call, with the file's name
            where = repr(model) if isinstance(model, str) else "the model sent by the driver"
            self.error = f"model: a worker could not load {where}: {type(error).__name__}: {error}"

    @classmethod
    def beside(
        cls, model: Any, images: Any, labels: Any, options: dict[str, Any], class_names: tuple[str, ...]
    ) -> PassWorker:
        """The workers' code in the driver's process, on the driver's model (see :mod:`._share`)."""
        worker = cls.__new__(cls)
        worker._hold(images, labels, options, class_names)
        worker.model = model
        return worker

    def _hold(self, images: Any, labels: Any, options: dict[str, Any], class_names: tuple[str, ...]) -> None:
        self.images, self.labels, self.options = images, labels, dict(options)
        self.unit = int(self.options.pop("unit"))
        self.class_names = tuple(class_names)
        self.error: str | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One unit's block (``payload``), or the error (``error``) that stopped it; a count of -1 for a unit the
        driver has finished."""
        from layerlens.exceptions import LayerlensError

        unit = int(batch["unit"][0]) if "unit" in batch else -1
        if unit >= 0 and self._finished_by_driver(unit):
            return _answer(unit, b"", SKIPPED, "")
        message = self.error
        if message is None:
            try:
                payload, count = self._run(batch, unit)
                return _answer(unit, payload, count, "")
            except LayerlensError as error:
                message = str(error) if unit < 0 else f"{error} (images {unit * self.unit} onwards)"
        return _answer(unit, b"", 0, message)

    def _finished_by_driver(self, unit: int) -> bool:
        if self.board is None:
            return False
        import ray

        try:
            return bool(ray.get(self.board.has.remote(unit), timeout=BOARD_TIMEOUT))
        except Exception:  # a board that does not answer: the unit is run (the driver keeps the first copy)
            return False

    def run_unit(self, unit: int, keep: Any = None) -> tuple[bytes, int]:
        """Unit ``unit`` of an array or stream: its block's bytes and its number of images; ``keep`` is called
        after each batch (as :func:`~layerlens.model.extract` calls it)."""
        return self._run({"unit": np.array([unit])}, unit, keep)

    def _run(self, batch: dict[str, np.ndarray], unit: int, keep: Any = None) -> tuple[bytes, int]:
        from layerlens.datasets import ImageStream
        from layerlens.model import extract

        labels = None
        metadata: dict[str, np.ndarray] = {}
        if unit < 0:  # a batch of a ray.data.Dataset
            images = _stacked(batch[IMAGE])
            if LABEL in batch:
                labels = self._label_indices(batch[LABEL])
            metadata = {name: np.asarray(batch[name]).astype(str) for name in image_columns(batch)}
            start = 0
        else:
            start = unit * self.unit
            stop = start + self.unit
            if isinstance(self.images, ImageStream):
                images = self.images.subset(np.arange(start, min(stop, len(self.images))))
            else:
                images = self.images[start:stop]
                labels = None if self.labels is None else self.labels[start:stop]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the driver has said what there is to say about the images
            extraction = extract(self.model, images, first_index=start, progress=False, keep=keep, **self.options)
        rows = np.arange(len(extraction.outputs)) if extraction.source_rows is None else extraction.source_rows
        columns: dict[str, np.ndarray] = {
            "rows": (start + rows).astype(np.int64),
            "outputs": extraction.outputs,
            "thumbnails": extraction.thumbnails,
            "properties": extraction.image_properties,
        }
        for i, features in enumerate(extraction.features):
            columns[f"f{i}"] = features
        for j, level in enumerate(extraction.noisy_features):
            columns[f"noisy{j}_outputs"] = extraction.noisy_outputs[level]
            for i, features in enumerate(extraction.noisy_features[level]):
                columns[f"noisy{j}_f{i}"] = features
        found = labels if labels is not None else extraction.labels
        if found is not None:
            columns["labels"] = np.asarray(found)
        for name, values in metadata.items():
            columns[f"meta_{name}"] = values
        if isinstance(images, ImageStream) and len(extraction.outputs) < len(images):
            kept = set(rows.tolist())
            columns["_unreadable"] = np.array([f for i, f in enumerate(images.files) if i not in kept], dtype=str)
        return to_block(columns), len(extraction.outputs)

    def _label_indices(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype.kind in "USO":
            index = {name: i for i, name in enumerate(self.class_names)}
            return np.array([index.get(str(v), -1) for v in values], dtype=np.int64)
        return values


def _resolved(value: Any) -> Any:
    """``value``, fetched from the object store when the driver put it there (Ray Data passes a constructor's
    arguments as they are)."""
    import ray

    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def _answer(unit: int, payload: bytes, count: int, error: str) -> dict[str, np.ndarray]:
    """One row: the unit, its block, how many images it holds, and the error that stopped it (or "")."""
    return {
        "unit": np.array([unit]),
        "payload": np.array([payload], dtype=object),
        "count": np.array([count]),
        "error": np.array([error], dtype=object),
    }


def _stacked(column: Any) -> np.ndarray:
    """A dataset's image column as one float32 array (Ray Data gives ragged columns as arrays of arrays)."""
    array = np.asarray(column)
    if array.dtype == object:
        images = [np.asarray(v) for v in array]
        shapes = sorted({image.shape for image in images})
        if len(shapes) > 1:
            from layerlens.exceptions import InvalidInputError

            raise InvalidInputError(
                f"images: every image must have the same size; the ray.data.Dataset holds images of {shapes[0]} "
                f"and of {shapes[1]}."
            )
        array = np.stack(images)
    return array.astype(np.float32, copy=False)


def set_threads(threads: int) -> bool:
    """Give TensorFlow in this worker process the CPUs it holds as threads; whether it could (only before
    TensorFlow has run anything: a reused worker process keeps the threads it had)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:
        return False
    return True


def load_model(model: Any) -> Any:
    """The Keras model from a ``.keras`` path or the bytes of one."""
    import keras

    if isinstance(model, str):
        return keras.models.load_model(model, compile=False)
    with tempfile.TemporaryDirectory(prefix="layerlens-model-") as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(bytes(model))
        return keras.models.load_model(path, compile=False)
