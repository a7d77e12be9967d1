"""Images (or volumes) listed from their files and decoded batch by batch, so that a folder of any size keeps memory
bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.skipped import warn_skipped
from layerlens.datasets._imageset import ImageSet, Split, stratified_split
from layerlens.datasets.probes import match_shape
from layerlens.exceptions import InvalidInputError
from layerlens.options import VOLUME_AXES, check_axes

__all__ = ["ImageStream"]

#: Reads one file as a float32 ``(H, W, C)`` image (or ``(D, H, W, C)`` volume) in [0, 1]; raises on a file it
#: cannot read.
Reader = Callable[[Path], np.ndarray]


@dataclass(frozen=True, eq=False)
class ImageStream:
    """Labelled images that stay in their files until they are read, one batch at a time.

    What ``from_directory(..., stream=True)``, ``from_dicom(..., stream=True)`` and
    ``from_nifti(..., stream=True)`` return. The files are listed (and their labels known) up front; iterating
    decodes ``batch_size`` files at a time and yields ``(x, y)`` batches, so ``analyze``
    of 50,000 files holds one batch of images at a time besides what it keeps per
    image. Files that turn out unreadable while being read are left out of their
    batch and named in one :class:`~layerlens.exceptions.SkippedFilesWarning` at
    the end of the pass; ``analyze`` then leaves their rows out of ``files`` and
    ``metadata`` too.

    Parameters
    ----------
    root : Path
        The folder the files are relative to.
    files : tuple of str
        Each image's file, relative to ``root`` (``/``-separated).
    labels : ndarray of shape (N,), int64
        Class index of each file.
    class_names : tuple of str
        Name of each class.
    image_shape : (int, int, int) or (int, int, int, int)
        ``(H, W, C)`` of every image the reader returns, or ``(D, H, W, C)`` of every volume (in the order
        ``axes`` names); batches are then 5-D.
    reader : callable
        Reads one file (its full path) as a float32 array of ``image_shape`` in [0, 1].
    name : str, default="images"
        Name of the data set.
    batch_size : int, default=64
        Files decoded per batch when the stream is iterated (``analyze`` uses its own ``batch_size``).
    skipped : tuple of str, default=()
        Files found while listing that are not images.
    metadata : DataFrame, optional
        One row per file.
    source : dict, optional
        How to read the files again (see :class:`ImageSet`).
    axes : str, default="DHW"
        The order of a volume's spatial axes, as :class:`ImageSet` records it; ``"DHW"`` for images.
    """

    root: Path
    files: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]
    reader: Reader = field(repr=False)
    name: str = "images"
    batch_size: int = 64
    skipped: tuple[str, ...] = ()
    metadata: Any = None
    source: Any = None
    axes: str = VOLUME_AXES

    def __post_init__(self) -> None:
        n = len(self.files)
        shape = tuple(self.image_shape) if isinstance(self.image_shape, (tuple, list)) else self.image_shape
        if (
            not isinstance(shape, tuple)
            or len(shape) not in (3, 4)
            or shape[-1] not in (1, 3)
            or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in shape)
        ):
            raise InvalidInputError(
                f"image_shape: expected (H, W, C), or (D, H, W, C) for volumes, with C in (1, 3); received {shape!r}."
            )
        object.__setattr__(self, "image_shape", tuple(int(d) for d in shape))
        check_axes(self.axes, volume=len(shape) == 4)
        if self.labels.shape != (n,) or not np.issubdtype(self.labels.dtype, np.integer):
            raise InvalidInputError(
                f"labels: expected {n} integer labels, one per file; received shape {self.labels.shape}."
            )
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise InvalidInputError(f"labels: expected values in 0..{len(self.class_names) - 1}, one per class name.")
        if self.metadata is not None and len(self.metadata) != n:
            raise InvalidInputError(f"metadata: expected {n} rows, one per file; received {len(self.metadata)}.")
        _check_batch_size(self.batch_size)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.batches()

    @property
    def is_volume(self) -> bool:
        """Whether the files are read as volumes ``(D, H, W, C)`` rather than images ``(H, W, C)``."""
        return len(self.image_shape) == 4

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        per_class = ", ".join(f"{n}={c}" for n, c in zip(self.class_names, counts))
        axes = f", axes={self.axes!r}" if self.is_volume else ""
        return f"ImageStream({self.name!r}, {len(self)} files of {self.image_shape}{axes}, {per_class})"

    def batches(
        self, batch_size: int | None = None, *, kept: list[int] | None = None, unreadable: list[str] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Decode the files in order and yield ``(x, y)`` batches of float32 images and int64 labels.

        Parameters
        ----------
        batch_size : int, optional
            Files per batch; by default the stream's own.
        kept : list of int, optional
            Filled as the batches go with the position of each image yielded (files that could not be
            read have none).
        unreadable : list of str, optional
            Filled with the files that could not be read, which are then the caller's to report; without
            it they are named in one :class:`~layerlens.exceptions.SkippedFilesWarning` after the last batch.

        Yields
        ------
        (ndarray of shape (n, H, W, C) or (n, D, H, W, C), ndarray of shape (n,))
            One batch; ``n`` is smaller than ``batch_size`` for the last one and where files were unreadable.
        """
        size = _check_batch_size(self.batch_size if batch_size is None else batch_size)
        failures: list[str] = [] if unreadable is None else unreadable
        for start in range(0, len(self.files), size):
            images, rows, failed = self._decode(range(start, min(start + size, len(self.files))))
            failures += failed
            if kept is not None:
                kept.extend(rows)
            if rows:
                yield images, self.labels[rows]
        if failures and unreadable is None:
            warn_skipped(failures, "the warning's files")

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The images at ``indices`` (positions in ``files``), decoded now.

        Raises
        ------
        InvalidInputError
            If one of them cannot be read.
        """
        images, _, failed = self._decode([int(i) for i in np.asarray(indices, dtype=np.intp).reshape(-1)])
        if failed:
            raise InvalidInputError(f"files: could not read {failed[0]!r} as an image.")
        return images

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageStream:
        """The files at ``indices`` (in that order), as a new stream."""
        idx = np.asarray(indices, dtype=np.intp).reshape(-1)
        return replace(
            self,
            files=tuple(self.files[i] for i in idx),
            labels=self.labels[idx],
            metadata=None if self.metadata is None else self.metadata.iloc[idx].reset_index(drop=True),
        )

    def split(self, test_size: float = 0.25, *, seed: int = 0) -> Split:
        """Split the files into stratified train and test streams, as :meth:`ImageSet.split` splits images.

        Raises
        ------
        InvalidInputError
            If ``test_size`` is not in (0, 1) or a class has fewer than 2 files.
        """
        train, test = stratified_split(self.labels, self.class_names, test_size, seed)
        return Split(train=self.subset(train), test=self.subset(test))

    def with_channels(self, channels: int) -> ImageStream:
        """The same files read with ``channels`` channels: gray repeated into RGB, or RGB averaged to gray."""
        if channels not in (1, 3):
            raise InvalidInputError(f"channels: expected 1 or 3; received {channels!r}.")
        if channels == self.image_shape[-1]:
            return self
        shape = (*self.image_shape[:-1], channels)
        source = None if self.source is None else {**self.source, "channels": channels}
        reader = _ChannelReader(self.reader, np.zeros((1, *shape), np.float32))
        return replace(self, reader=reader, image_shape=shape, source=source)

    def load(self) -> ImageSet:
        """Every image read into memory, as an :class:`ImageSet` (unreadable files left out, with a warning)."""
        kept: list[int] = []
        parts = [x for x, _ in self.batches(kept=kept)]
        if not parts:
            raise InvalidInputError(
                f"files: expected at least one readable image under {str(self.root)!r}; found none."
            )
        chosen = self.subset(kept)
        read = set(kept)
        return ImageSet(
            np.concatenate(parts),
            chosen.labels.astype(np.int64),
            self.class_names,
            name=self.name,
            files=chosen.files,
            skipped=self.skipped + tuple(f for i, f in enumerate(self.files) if i not in read),
            metadata=chosen.metadata,
            source=self.source,
            axes=self.axes,
        )

    def _decode(self, positions: Sequence[int]) -> tuple[np.ndarray, list[int], list[str]]:
        """The images at ``positions`` that could be read, their positions, and the files that could not."""
        images: list[np.ndarray] = []
        rows: list[int] = []
        failed: list[str] = []
        for i in positions:
            try:
                image = self.reader(self.root / self.files[i])
            except Exception:  # noqa: BLE001 - any failure to decode means "not a readable image"
                failed.append(self.files[i])
                continue
            if image.shape != self.image_shape:
                failed.append(self.files[i])
                continue
            images.append(image)
            rows.append(i)
        stacked = np.stack(images) if images else np.empty((0, *self.image_shape), np.float32)
        return stacked, rows, failed


@dataclass(frozen=True)
class _ChannelReader:
    """A reader whose images are brought to the channels of ``like`` as :func:`match_shape` brings a whole set
    (gray repeated, colour averaged), so a stream reads as its loaded set does."""

    reader: Reader
    like: np.ndarray

    def __call__(self, path: Path) -> np.ndarray:
        image = self.reader(path)
        if image.ndim == 4:  # a volume: same rule, without the resizing match_shape knows for images only
            channels = self.like.shape[-1]
            grey = image.mean(axis=-1, keepdims=True, dtype=np.float32)
            return np.repeat(grey, channels, axis=-1) if channels > 1 else grey
        return match_shape(image[np.newaxis], self.like)[0]


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive integer; received {batch_size!r}.")
    return int(batch_size)
