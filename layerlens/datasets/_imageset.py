"""The container every layerlens data set loader returns, and its train/test split."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from layerlens.exceptions import InvalidInputError
from layerlens.options import check_axes

__all__ = ["ImageSet", "Split", "stratified_split"]


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images, or volumes, with integer labels and the names of their classes.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, D, H, W, C), float32
        Pixel (voxel) values in [0, 1]; ``C`` is 1 (grayscale) or 3 (RGB). A 5-D array holds volumes
        (CT, MRI, PET), its three spatial axes in the order ``axes`` names.
    labels : ndarray of shape (N,), int64
        Class index of each image, in ``range(len(class_names))``.
    class_names : tuple of str
        Name of each class; ``class_names[k]`` names label ``k``.
    name : str, default="images"
        Short name of the data set, used to label analysis runs.
    masks : ndarray of shape (N, H, W) or (N, D, H, W), bool, optional
        Pixel (voxel) masks of the region that defines the class (the lesion of a
        phantom); all ``False`` where the class has no such region.
    files : tuple of str, optional
        Source file of each image, relative to the folder it was read from.
    skipped : tuple of str, default=()
        Files that were found but could not be read as images.
    metadata : DataFrame, optional
        One row per image (e.g. the patient and series of a DICOM slice); ``analyze`` carries it into the
        analysis unless given its own.
    source : dict, optional
        How to read the images again from their files (``files`` are relative to its ``"root"``), as
        :func:`from_directory` records it; an analysis keeps it to read the images at their own size and to
        explain more of them later.
    axes : str, default="DHW"
        For volumes, the anatomical meaning of the three spatial axes of ``images`` in their order: a
        permutation of ``D`` (axial: inferior to superior), ``H`` (rows: anterior to posterior) and ``W``
        (columns: the patient's right to left, the radiological view), as :func:`from_nifti` lays volumes out.
        ``"HWD"`` is the order Keras' CT tutorial feeds its model. Images have no depth: theirs must stay
        ``"DHW"``.

    Raises
    ------
    InvalidInputError
        If the arrays disagree in length, have the wrong rank or dtype, or
        hold values outside [0, 1] or labels outside the class range, or
        ``axes`` is not a permutation of ``"DHW"`` (or not ``"DHW"`` for images).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str = "images"
    masks: np.ndarray | None = None
    files: tuple[str, ...] | None = None
    skipped: tuple[str, ...] = field(default=())
    metadata: Any = None
    source: Any = None
    axes: str = "DHW"

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.ndim not in (4, 5) or images.shape[-1] not in (1, 3):
            raise InvalidInputError(
                f"images: expected shape (N, H, W, C), or (N, D, H, W, C) for volumes, with C in (1, 3); "
                f"received shape {images.shape}."
            )
        check_axes(self.axes, volume=images.ndim == 5)
        if images.dtype != np.float32:
            raise InvalidInputError(f"images: expected dtype float32; received {images.dtype}.")
        if images.size and (float(images.min()) < 0.0 or float(images.max()) > 1.0):
            raise InvalidInputError(
                f"images: expected values in [0, 1]; received range "
                f"[{float(images.min()):.3g}, {float(images.max()):.3g}]."
            )
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise InvalidInputError(
                f"labels: expected integers of shape ({len(images)},); received {labels.dtype} of shape {labels.shape}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise InvalidInputError(
                f"labels: expected values in 0..{len(self.class_names) - 1} "
                f"(one per class name); received range {labels.min()}..{labels.max()}."
            )
        if self.masks is not None and self.masks.shape != images.shape[:-1]:
            raise InvalidInputError(f"masks: expected shape {images.shape[:-1]}; received {self.masks.shape}.")
        if self.files is not None and len(self.files) != len(images):
            raise InvalidInputError(f"files: expected {len(images)} names; received {len(self.files)}.")
        if self.metadata is not None and len(self.metadata) != len(images):
            raise InvalidInputError(f"metadata: expected {len(images)} rows; received {len(self.metadata)}.")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def is_volume(self) -> bool:
        """Whether the set holds volumes ``(N, D, H, W, C)`` rather than images ``(N, H, W, C)``."""
        return self.images.ndim == 5

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        per_class = ", ".join(f"{n}={c}" for n, c in zip(self.class_names, counts))
        shape = self.images.shape[1:]
        kind = f"volumes of {shape}, axes={self.axes!r}" if self.is_volume else f"images of {shape}"
        return f"ImageSet({self.name!r}, {len(self)} {kind}, {per_class})"

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageSet:
        """Return the images at ``indices`` (in that order) as a new ImageSet.

        Parameters
        ----------
        indices : sequence of int
            Positions to keep.

        Returns
        -------
        ImageSet
            Same class names and name; images, labels, masks, files and metadata taken at ``indices``.
        """
        idx = np.asarray(indices, dtype=np.intp)
        return ImageSet(
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=self.class_names,
            name=self.name,
            masks=None if self.masks is None else self.masks[idx],
            files=None if self.files is None else tuple(self.files[i] for i in idx),
            skipped=self.skipped,
            metadata=None if self.metadata is None else self.metadata.iloc[idx].reset_index(drop=True),
            source=self.source,
            axes=self.axes,
        )

    def split(self, test_size: float = 0.25, *, seed: int = 0) -> Split:
        """Split into stratified train and test sets, the same for the same ``seed``.

        Parameters
        ----------
        test_size : float, default=0.25
            Share of the images that goes to the test set, strictly between 0 and 1.
        seed : int, default=0
            Seed of the shuffle before the split.

        Returns
        -------
        Split
            ``(train, test)``; each class keeps its share in both parts.

        Raises
        ------
        InvalidInputError
            If ``test_size`` is not in (0, 1) or a class has too few images to
            appear on both sides.

        Examples
        --------
        >>> import numpy as np
        >>> s = ImageSet(np.zeros((8, 2, 2, 1), np.float32), np.array([0, 1] * 4), ("a", "b"))
        >>> train, test = s.split(0.5, seed=0)
        >>> len(train), len(test)
        (4, 4)
        """
        train_idx, test_idx = stratified_split(self.labels, self.class_names, test_size, seed)
        return Split(train=self.subset(train_idx), test=self.subset(test_idx))


def stratified_split(
    labels: np.ndarray, class_names: Sequence[str], test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions of a stratified train and test side, the same for the same ``seed``."""
    if not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size: expected a share in (0, 1); received {test_size!r}.")
    counts = np.bincount(labels, minlength=len(class_names))
    if counts.min() < 2:
        raise InvalidInputError(
            f"labels: every class needs at least 2 images to be split; counts per class are "
            f"{dict(zip(class_names, counts.tolist()))}."
        )
    train, test = train_test_split(np.arange(len(labels)), test_size=test_size, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


@dataclass(frozen=True, eq=False)
class Split:
    """A train set and a test set that share their class names.

    Unpacks like a tuple: ``train, test = layerlens.datasets.load_digits()``.
    """

    train: Any  # ImageSet, or ImageStream for a split of files read batch by batch
    test: Any

    def __iter__(self) -> Iterator[Any]:
        return iter((self.train, self.test))

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes, shared by both parts."""
        return self.train.class_names
