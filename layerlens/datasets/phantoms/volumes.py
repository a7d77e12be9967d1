"""Synthetic 3-D head volumes in a few lesion classes, with exact voxel masks of the lesions.

Each volume is a head like a fat-suppressed, contrast-enhanced T1 scan (a dim scalp) in layerlens' layout
``(D, H, W)`` (inferior to superior, anterior to posterior, the patient's right to left): scalp, skull, CSF,
grey and white matter, two lateral ventricles, seen through a smooth bias field and Rician noise. The lesion
classes carry one small lesion at a random place inside the brain: a bright solid one, a dark fluid-filled one,
or a bright ring around a dark core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from layerlens._util.validation import check_int, check_names, check_seed
from layerlens.datasets._imageset import ImageSet
from layerlens.datasets.phantoms._render import NOISE_SIGMA, _blur_matrix, noise_levels
from layerlens.exceptions import InvalidInputError

__all__ = ["VOLUME_CLASS_NAMES", "make_volume_phantoms"]

#: The classes of the volume phantoms, in sorted order (as the class folders of a written tree sort).
VOLUME_CLASS_NAMES = ("cystic", "enhancing", "no_tumor", "ring_enhancing")
CYSTIC, ENHANCING, NO_TUMOR, RING = range(len(VOLUME_CLASS_NAMES))

MIN_SIZE = 16

# Radii in head-normalised units (the scalp's outer surface is 1), as in the 2-D phantoms.
BRAIN_R = 0.84
BONE_R = 0.92
#: Lesion centres lie within this head-normalised radius, so that a lesion stays inside the brain.
LESION_REACH = 0.62
#: Lesion radii in voxels at ``size=32`` (scaled with the size): solid lesions of about 20 to 120 voxels, rings
#: of about 55 to 140.
SOLID_RADIUS = (1.8, 3.0)
RING_RADIUS = (2.4, 3.2)
# Tissue intensities, before the bias field and noise. The scalp is dim (fat suppression) and the skull and CSF
# grey rather than black, so that only a lesion is brighter than white matter by far or darker than CSF: what a
# small network with global pooling keys on.
SCALP = (0.45, 0.6)
CSF = (0.2, 0.28)
SKULL = (0.12, 0.2)


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-std smooth random field ``(size, size, size)`` with about ``cells`` bumps along each axis."""
    # A coarse random grid interpolated along each axis: a low-pass field at the cost of three small products.
    weights = _blur_matrix(size, cells)
    grid = rng.standard_normal((cells + 1,) * 3)
    field = np.einsum("ia,jb,kc,abc->ijk", weights, weights, weights, grid, optimize=True)
    return (field - field.mean()) / (field.std() + 1e-12)


def _soft(distance: np.ndarray, size: int) -> np.ndarray:
    """Membership of a signed distance (head-normalised units, negative inside), ramping over one voxel: the mask
    of a shape (membership > 0.5) is then exactly the set ``distance < 0``."""
    return np.clip(0.5 - distance * (size / 2.0), 0.0, 1.0)


class _Head:
    """Voxel coordinates in the frame of one head: ``d`` (up), ``v`` (back) and ``u`` (towards the patient's
    left) in head-normalised units from its centre, after its tilt; ``r`` the ellipsoidal radius (1 on the scalp)."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.size = size
        axes = np.array([rng.uniform(0.78, 0.9), rng.uniform(0.86, 0.95), rng.uniform(0.72, 0.82)])  # D, H, W
        self.axes = axes
        centre = rng.uniform(-0.04, 0.04, size=3)
        theta = np.deg2rad(rng.uniform(-12.0, 12.0))  # a turn of the head about the vertical axis
        x = (np.arange(size) + 0.5) * 2.0 / size - 1.0
        d = x[:, None, None] - centre[0]
        h, w = x[None, :, None] - centre[1], x[None, None, :] - centre[2]
        self.d = d
        self.v = np.cos(theta) * h + np.sin(theta) * w
        self.u = -np.sin(theta) * h + np.cos(theta) * w
        self.r = np.sqrt((d / axes[0]) ** 2 + (self.v / axes[1]) ** 2 + (self.u / axes[2]) ** 2)

    def ellipsoid(self, centre: Sequence[float], radii: Sequence[float]) -> np.ndarray:
        """Approximate signed distance (head-normalised units) to an axis-aligned ellipsoid of the head's frame."""
        dd, dv, du = (self.d - centre[0]) / radii[0], (self.v - centre[1]) / radii[1], (self.u - centre[2]) / radii[2]
        return (np.sqrt(dd**2 + dv**2 + du**2) - 1.0) * min(radii)


def _anatomy(head: _Head, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scalp, skull, CSF, grey matter, textured white matter and ventricles; returns (volume, white-matter level)."""
    size, scale = head.size, float(head.axes.mean())
    wm = rng.uniform(0.55, 0.65)
    gm = wm * rng.uniform(0.7, 0.8)
    csf = rng.uniform(*CSF)
    outer = 1.0 + 0.03 * _smooth_field(rng, size, 3)
    volume = rng.uniform(*SCALP) * _soft((head.r - outer) * scale, size)
    volume += _soft((head.r - BONE_R) * scale, size) * (rng.uniform(*SKULL) - volume)
    volume += _soft((head.r - BRAIN_R) * scale, size) * (csf - volume)
    texture = 1.0 + 0.05 * _smooth_field(rng, size, 6)
    volume += _soft((head.r - (BRAIN_R - 0.04)) * scale, size) * (gm * texture - volume)
    folds = 0.05 * _smooth_field(rng, size, 5)
    volume += _soft((head.r - (BRAIN_R - 0.18 + folds)) * scale, size) * (wm * texture - volume)
    spread = rng.uniform(0.08, 0.12)
    radii = (rng.uniform(0.1, 0.16), rng.uniform(0.18, 0.26), rng.uniform(0.05, 0.08))
    for side in (-1.0, 1.0):
        ventricle = head.ellipsoid((rng.uniform(0.0, 0.1), rng.uniform(-0.12, 0.0), side * spread), radii)
        volume += _soft(ventricle, size) * (csf - volume)
    return volume, float(wm)


def _lesion_place(head: _Head, rng: np.random.Generator) -> np.ndarray:
    """A centre ``(d, v, u)`` drawn uniformly within :data:`LESION_REACH` of the brain (any octant)."""
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    return direction * LESION_REACH * rng.random() ** (1.0 / 3.0) * head.axes


def _lesion(volume: np.ndarray, head: _Head, rng: np.random.Generator, label: int, wm: float) -> np.ndarray:
    """Paint the lesion of class ``label`` into ``volume`` in place; returns its mask."""
    size = head.size
    voxel = 2.0 / size  # one voxel in head-normalised units
    per_voxel = size / 32.0
    low, high = RING_RADIUS if label == RING else SOLID_RADIUS
    radius = rng.uniform(low, high) * per_voxel * voxel
    centre = _lesion_place(head, rng)
    stretch = rng.uniform(0.8, 1.25, size=3)
    distance = head.ellipsoid(centre, radius * stretch / np.cbrt(stretch.prod()))
    alpha = _soft(distance, size)
    if label == ENHANCING:
        value = wm * rng.uniform(1.45, 1.7)
    elif label == CYSTIC:
        value = rng.uniform(0.0, 0.06)
    else:  # a bright rim about one voxel thick around a dark core
        core = _soft(distance + rng.uniform(1.0, 1.3) * voxel * per_voxel, size)
        rim = wm * rng.uniform(1.45, 1.7)
        value = rim + core * (rng.uniform(0.0, 0.08) - rim)
    volume += alpha * (value - volume)
    return distance < 0


def _render(label: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """One volume of class ``label``: (volume in [0, 1], lesion mask, noise sigma)."""
    head = _Head(rng, size)
    volume, wm = _anatomy(head, rng)
    # Scanner effects are drawn before the lesion, so that they never depend on the class.
    bias = np.exp(rng.uniform(0.05, 0.2) * _smooth_field(rng, size, 2))
    sigma = float(rng.uniform(*NOISE_SIGMA))
    noise = rng.standard_normal((2, size, size, size))
    mask = np.zeros((size, size, size), dtype=bool)
    if label != NO_TUMOR:
        mask = _lesion(volume, head, rng, label, wm)
    signal = np.clip(volume * bias, 0.0, None)
    noisy = np.hypot(signal + sigma * noise[0], sigma * noise[1])
    return np.clip(noisy, 0.0, 1.0), mask, sigma


def make_volume_phantoms(n: int, *, size: int = 32, seed: int = 0, classes: Sequence[str] | None = None) -> ImageSet:
    """Render ``n`` synthetic head volumes in balanced lesion classes, with exact lesion masks.

    Parameters
    ----------
    n : int
        Number of volumes, at least 2 per class. Classes get ``n // k`` volumes each (the first ``n % k`` one
        more), in an order shuffled by ``seed``.
    size : int, default=32
        Side of the cubic volumes in voxels, at least 16. Lesions scale with it.
    seed : int, default=0
        Seed of the labels and of every volume, in ``0 .. 2**32 - 1``; the same seed gives identical arrays.
        Global random state is never touched.
    classes : sequence of str, optional
        The classes to render, in label order: names among :data:`VOLUME_CLASS_NAMES` (``"cystic"``,
        ``"enhancing"``, ``"no_tumor"``, ``"ring_enhancing"``), at least two; by default all four.

    Returns
    -------
    ImageSet
        ``images`` float32 ``(n, size, size, size, 1)`` in [0, 1] with ``axes="DHW"``, ``labels`` int64 indexing
        ``classes``, ``masks`` bool ``(n, size, size, size)`` marking the lesion (all False for ``no_tumor``),
        name ``"volume phantoms"`` and ``metadata`` with each volume's scanner ``noise`` (``"low"``,
        ``"medium"``, ``"high"``, as for the 2-D phantoms).

    Raises
    ------
    InvalidInputError
        If ``n``, ``size`` or ``seed`` is not an integer in its range, or ``classes`` names an unknown class,
        repeats one or names fewer than two.

    Notes
    -----
    Model of one head volume like a fat-suppressed, contrast-enhanced T1 scan, laid out ``(D, H, W)`` (inferior
    to superior, anterior to posterior, the patient's right to left):

    * head: an ellipsoid (random semi-axes, turned up to 12 degrees about the vertical axis, shifted a
      little) with a dim scalp, a darker skull, a CSF rim, grey matter and textured, brighter white matter
      with a wavy border, and two darker lateral ventricles;
    * scanner: a smooth multiplicative bias field and Rician noise of random level (:data:`NOISE_SIGMA`);
    * ``enhancing``: a bright solid ellipsoid (radius 1.8 to 3 voxels at ``size=32``: about 20 to 120
      voxels), ``cystic``: a dark one (darker than CSF) of the same size, ``ring_enhancing``: a bright rim about
      one voxel thick around a dark core (radius 2.4 to 3.2 voxels: about 55 to 140 voxels), each centred
      uniformly at random inside the brain (any octant) and slightly stretched; the mask is the whole lesion
      (rim and core).

    The classes differ in brightness and shape only: a small Conv3D (two convolutions, max pooling between
    them, global max pooling, softmax) trained for ten epochs on 300 volumes of 32³ tells them apart on 100
    held-out ones (accuracy 0.87 to 0.94 over three seeds). With global average pooling instead, the same
    network stays at chance for ten epochs: a lesion is 0.2 % of the volume.

    Examples
    --------
    >>> data = make_volume_phantoms(8, size=16, seed=0)
    >>> data.images.shape, data.masks.shape, data.axes
    ((8, 16, 16, 16, 1), (8, 16, 16, 16), 'DHW')
    """
    check_int(size, "size", minimum=MIN_SIZE)
    seed = check_seed(seed)
    names = VOLUME_CLASS_NAMES if classes is None else check_names(classes, "classes")
    unknown = [c for c in names if c not in VOLUME_CLASS_NAMES]
    if unknown or len(names) < 2:
        raise InvalidInputError(
            f"classes: expected at least two distinct names among {list(VOLUME_CLASS_NAMES)}; received {classes!r}."
        )
    check_int(n, "n", minimum=2 * len(names))
    kinds = [VOLUME_CLASS_NAMES.index(c) for c in names]
    labels_seq, volumes_seq = np.random.SeedSequence(seed).spawn(2)
    labels = np.random.default_rng(labels_seq).permutation(np.arange(n) % len(names))
    images = np.empty((n, size, size, size, 1), dtype=np.float32)
    masks = np.empty((n, size, size, size), dtype=bool)
    noise = np.empty(n)
    # One child seed per volume: a volume does not depend on how many are rendered, only on its label.
    for i, (label, child) in enumerate(zip(labels, volumes_seq.spawn(n))):
        images[i, ..., 0], masks[i], noise[i] = _render(kinds[int(label)], int(size), np.random.default_rng(child))
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        class_names=tuple(names),
        name="volume phantoms",
        masks=masks,
        metadata=pd.DataFrame({"noise": noise_levels(noise)}),
    )
