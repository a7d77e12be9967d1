"""Volumes (depth, height, width, channels): the order of their axes, the one picture that shows each, and how
many go through the model at once.

A volume's three spatial axes are named by a permutation of ``"DHW"``: D the axial axis (head to foot), H the
rows of an axial slice (front to back), W its columns (side to side). Readers that know the orientation
(:func:`layerlens.datasets.from_nifti`) say which order they return; arrays are taken as ``"DHW"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerlens.exceptions import InvalidInputError
from layerlens.options import VOLUME_AXES, VOLUME_VIEWS

__all__ = [
    "ACTIVATION_BYTES", "auto_batch_size", "check_view", "resolve_batch_size", "rows_within_memory",
    "to_dhw", "volume_face",
]  # fmt: skip

#: ``batch_size="auto"`` keeps the largest activation of a batch under this many bytes.
ACTIVATION_BYTES = 2**30
#: ... and takes at most this many images at once (more gains nothing on a CPU).
MOST_PER_BATCH = 64


def check_view(view: Any, name: str = "volume_view") -> str:
    """``view`` as one of :data:`~layerlens.options.VOLUME_VIEWS`, or a clear error naming ``name``."""
    if view not in VOLUME_VIEWS:
        raise InvalidInputError(f"{name}: expected one of {list(VOLUME_VIEWS)}; received {view!r}.")
    return str(view)


def to_dhw(array: np.ndarray, axes: str) -> np.ndarray:
    """``array`` whose first three axes are a volume's in the order ``axes``, with them put in the order D, H, W.

    Trailing axes (channels) stay where they are; ``axes="DHW"`` returns ``array`` itself.
    """
    order = [axes.index(axis) for axis in VOLUME_AXES]
    return array if order == [0, 1, 2] else np.transpose(array, (*order, *range(3, array.ndim)))


def volume_face(x: Any, axes: str = VOLUME_AXES, view: str = "slice") -> Any:
    """One picture per volume: its central axial slice, or its maximum-intensity projection along the axial axis.

    Parameters
    ----------
    x : ndarray or tf.Tensor of shape (n, ...three spatial axes in the order ``axes``, C)
        Volumes; images ``(n, H, W, C)`` are returned as they are.
    axes : str, default="DHW"
        The order of the spatial axes (a permutation of ``"DHW"``).
    view : {"slice", "mip"}, default="slice"

    Returns
    -------
    Same type as ``x``, of shape (n, H, W, C)
        Rows front to back and columns side to side, whatever the order of the volume's axes.
    """
    if len(x.shape) != 5:
        return x
    depth = axes.index("D") + 1
    swap = axes.replace("D", "") == "WH"
    if isinstance(x, np.ndarray):  # numpy in, numpy out: the site and the run need no TensorFlow
        face = x.max(axis=depth) if view == "mip" else np.take(x, x.shape[depth] // 2, axis=depth)
        return face.transpose(0, 2, 1, 3) if swap else face
    import tensorflow as tf

    face = tf.reduce_max(x, axis=depth) if view == "mip" else tf.gather(x, int(x.shape[depth]) // 2, axis=depth)
    return tf.transpose(face, (0, 2, 1, 3)) if swap else face


def rows_within_memory(shapes: list[tuple[int | None, ...]], input_shape: tuple[int | None, ...]) -> int | None:
    """How many images fit through the model at once with its largest activation under :data:`ACTIVATION_BYTES`.

    ``None`` when the input's size is not fixed (the activations' size is not known before the images are).
    """
    if any(d is None for d in input_shape):
        return None
    known = [s for s in [*shapes, input_shape] if all(d is not None for d in s)]
    largest = max((int(np.prod(s, dtype=np.int64)) for s in known), default=1) * 4
    return max(1, ACTIVATION_BYTES // max(largest, 1))


def auto_batch_size(shapes: list[tuple[int | None, ...]], input_shape: tuple[int | None, ...]) -> int:
    """How many images or volumes go through the model at once so that no activation of a batch passes 1 GiB.

    Parameters
    ----------
    shapes : list of tuple
        The output shape of every operation of the model for one image (``None`` for unknown sizes).
    input_shape : tuple
        The model's input for one image.

    Returns
    -------
    int
        ``ACTIVATION_BYTES`` over the largest activation's bytes (float32), between 1 and 64. A 224x224
        ResNet50 gets 64; 64x128x128 volumes through a 32-channel Conv3D (134 MB each) get 8. A model whose
        input size is not fixed gets 64, as the activations' size is not known before the images are.
    """
    rows = rows_within_memory(shapes, input_shape)
    return MOST_PER_BATCH if rows is None else int(min(MOST_PER_BATCH, rows))


def resolve_batch_size(batch_size: Any, model: Any) -> int:
    """``batch_size`` as a number: itself when a positive integer, :func:`auto_batch_size` of ``model`` for "auto"."""
    from layerlens.model._layers import trace

    if isinstance(batch_size, str) and batch_size == "auto":
        shapes = [info.output_shape for info in trace(model).infos]
        return auto_batch_size(shapes, tuple(model.inputs[0].shape[1:]))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive integer or 'auto'; received {batch_size!r}.")
    return int(batch_size)
