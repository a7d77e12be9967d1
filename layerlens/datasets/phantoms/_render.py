"""Rendering of the brain MRI phantoms: anatomy, acquisition effects and lesions.

Each phantom is a grayscale, T1-contrast-like axial slice of a head: scalp,
skull, cortex, white matter, ventricles and a few bright normal structures,
seen through a bias field, a random contrast curve and Rician noise. Three
classes carry a lesion whose pixel mask is returned with the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import expit

from layerlens._util.validation import check_int, check_seed
from layerlens.datasets._imageset import ImageSet, Split
from layerlens.exceptions import InvalidInputError

__all__ = ["CLASS_NAMES", "NOISE_LEVELS", "NOISE_SIGMA", "make_phantoms", "noise_levels", "render_phantoms"]

CLASS_NAMES = ("glioma", "meningioma", "no_tumor", "pituitary")
GLIOMA, MENINGIOMA, NO_TUMOR, PITUITARY = range(len(CLASS_NAMES))

#: Range of the standard deviation of each phantom's Rician noise, and the words for its thirds (the
#: ``noise`` column of the phantoms' metadata: what a scanner's field strength and coil change in real scans).
NOISE_SIGMA = (0.015, 0.045)
NOISE_LEVELS = ("low", "medium", "high")

MIN_IMAGES = 2 * len(CLASS_NAMES)
MIN_SIZE = 32

# Radii in head-normalised units (the outer scalp edge is 1): the inner table
# of the skull (= brain surface) and its outer table.
BRAIN_R = 0.84
BONE_R = 0.92


@dataclass(frozen=True, eq=False)
class _Frame:
    """Pixel coordinates in the rotated, shifted frame of one head.

    ``u`` runs left to right and ``v`` top (anterior) to bottom (posterior),
    both in image half-widths, from the head centre ``(cx, cy)``; ``r`` is
    the elliptical radius (1 on the scalp) and ``angle`` the index of each
    pixel's polar angle in :data:`_ANGLES`.
    """

    u: np.ndarray
    v: np.ndarray
    r: np.ndarray
    angle: np.ndarray
    a: float
    b: float
    theta: float
    cx: float
    cy: float
    size: int

    def inside(self, distance: np.ndarray | float) -> np.ndarray:
        """Soft membership of a signed distance (negative inside), ramping over one pixel."""
        # A one-pixel ramp instead of a hard edge: shapes look anti-aliased at 64 px
        # and the mask (membership > 0.5) is exactly the set ``distance < 0``.
        return np.clip(0.5 - np.asarray(distance) * (self.size / 2.0), 0.0, 1.0)

    def window(self, cu: float, cv: float, extent: float) -> tuple[slice, slice]:
        """Rows and columns of the pixels within ``extent`` of the frame point ``(cu, cv)``."""
        c, s = np.cos(self.theta), np.sin(self.theta)
        half = self.size / 2.0
        col = (self.cx + c * cu - s * cv + 1.0) * half - 0.5
        row = (self.cy + s * cu + c * cv + 1.0) * half - 0.5
        reach = extent * half + 2.0
        return (
            slice(max(0, int(row - reach)), max(0, min(self.size, int(row + reach) + 2))),
            slice(max(0, int(col - reach)), max(0, min(self.size, int(col + reach) + 2))),
        )


@dataclass(frozen=True, eq=False)
class _Phantom:
    """One rendered phantom: image (H, W) in [0, 1], lesion mask (H, W), its head frame and the standard
    deviation of its scanner noise."""

    image: np.ndarray
    mask: np.ndarray
    frame: _Frame
    noise: float = 0.0


@dataclass(frozen=True, eq=False)
class _Acquisition:
    """Scanner effects drawn before any lesion, so a lesion never changes them."""

    bias: np.ndarray
    gamma: float
    scale: float
    sigma: float
    noise: np.ndarray


@lru_cache(maxsize=16)
def _blur_matrix(size: int, cells: int) -> np.ndarray:
    """(size, cells + 1) Gaussian weights that spread a coarse grid smoothly over ``size`` pixels."""
    pixels = np.linspace(0.0, 1.0, size)[:, None]
    centres = np.linspace(-0.5 / cells, 1.0 + 0.5 / cells, cells + 1)[None, :]
    weights = np.exp(-0.5 * ((pixels - centres) * cells) ** 2)
    weights = weights / weights.sum(axis=1, keepdims=True)
    weights.flags.writeable = False
    return weights


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-std smooth random field with about ``cells`` bumps across the image."""
    # Interpolating a coarse random grid gives a low-pass Gaussian field like a blurred
    # white-noise image, at a fraction of the cost of filtering size**2 pixels.
    weights = _blur_matrix(size, cells)
    field = weights @ rng.standard_normal((cells + 1, cells + 1)) @ weights.T
    return (field - field.mean()) / (field.std() + 1e-12)


# Polar angles are looked up in a 0.5-degree table: functions of the angle alone
# (skull outline, gyri, lesion borders) cost one table and one gather per image.
_ANGLES = np.linspace(-np.pi, np.pi, 721)


def _angle_index(du: np.ndarray, dv: np.ndarray) -> np.ndarray:
    """Index in :data:`_ANGLES` of the polar angle of each ``(du, dv)``."""
    return np.rint((np.arctan2(dv, du) + np.pi) * (720 / (2 * np.pi))).astype(np.intp)


@lru_cache(maxsize=1)
def _harmonics(max_order: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of ``k * _ANGLES`` for ``k = 0..max_order``, rows by order."""
    k_angles = np.arange(max_order + 1)[:, None] * _ANGLES
    cos, sin = np.cos(k_angles), np.sin(k_angles)
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


def _angular_noise(rng: np.random.Generator, orders: Sequence[int], amplitude: float) -> np.ndarray:
    """Table over :data:`_ANGLES` of cosines with random phases, amplitude about ``amplitude / order``."""
    k = np.asarray(orders)
    amps = amplitude * rng.uniform(0.3, 1.0, size=k.shape) / k
    phases = rng.uniform(0.0, 2 * np.pi, size=k.shape)
    cos, sin = _harmonics()
    # cos(k a + p) = cos(k a) cos(p) - sin(k a) sin(p): two small matrix products per table.
    return (amps * np.cos(phases)) @ cos[k] - (amps * np.sin(phases)) @ sin[k]


_Window = tuple[slice, slice]


def _ellipse(
    frame: _Frame,
    cu: float,
    cv: float,
    ru: float,
    rv: float,
    angle: float = 0.0,
    *,
    near: _Window | None = None,
) -> tuple[_Window, np.ndarray]:
    """Approximate signed distance (negative inside) to a rotated ellipse, in frame units.

    Only the pixels near the ellipse (or those of the window ``near``) are
    computed: returns ``(window, distance)`` with ``distance`` of the window's shape.
    """
    window = frame.window(cu, cv, max(ru, rv)) if near is None else near
    c, s = np.cos(angle), np.sin(angle)
    du, dv = frame.u[window] - cu, frame.v[window] - cv
    eu, ev = (c * du + s * dv) / ru, (-s * du + c * dv) / rv
    return window, (np.hypot(eu, ev) - 1.0) * min(ru, rv)


def _stamp(image: np.ndarray, window: _Window, alpha: np.ndarray, value: float) -> None:
    """Blend ``value`` over the ``window`` of ``image`` in place, with opacity ``alpha``."""
    image[window] += alpha * (value - image[window])


def _paint(image: np.ndarray, alpha: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    """Blend ``value`` over ``image`` with opacity ``alpha``."""
    return image + alpha * (value - image)


def _head_frame(rng: np.random.Generator, size: int) -> _Frame:
    """Draw the head's ellipse, rotation and offset and return its pixel frame."""
    a, b = rng.uniform(0.74, 0.84), rng.uniform(0.88, 0.96)
    theta = np.deg2rad(rng.uniform(4.0, 20.0) * rng.choice([-1.0, 1.0]))
    cx, cy = (float(c) for c in rng.uniform(-0.04, 0.04, size=2))
    x = (np.arange(size) + 0.5) * 2.0 / size - 1.0
    dx, dy = x[None, :] - cx, x[:, None] - cy
    u = np.cos(theta) * dx + np.sin(theta) * dy
    v = -np.sin(theta) * dx + np.cos(theta) * dy
    return _Frame(u, v, np.hypot(u / a, v / b), _angle_index(u / a, v / b), a, b, float(theta), cx, cy, size)


def _paint_head(frame: _Frame, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scalp, skull, CSF, folded cortex and textured white matter; returns (image, white-matter level)."""
    size, scale, at = frame.size, 0.5 * (frame.a + frame.b), frame.angle
    wm = rng.uniform(0.56, 0.66)
    gm = wm * rng.uniform(0.7, 0.8)
    outer = 1.0 + _angular_noise(rng, (2, 3, 5), 0.03)
    bone = BONE_R + _angular_noise(rng, (3, 4, 7), 0.04)
    image = rng.uniform(0.7, 0.9) * frame.inside((frame.r - outer[at]) * scale)
    image = _paint(image, frame.inside((frame.r - bone[at]) * scale), rng.uniform(0.05, 0.12))
    image = _paint(image, frame.inside((frame.r - BRAIN_R) * scale), 0.15)
    texture = 1.0 + 0.05 * _smooth_noise(rng, size, 12)
    image = _paint(image, frame.inside((frame.r - (BRAIN_R - 0.03)) * scale), gm * texture)
    gyri = _angular_noise(rng, range(9, 15), 0.45) + _angular_noise(rng, (2, 3), 0.1)
    image = _paint(image, frame.inside((frame.r - (BRAIN_R - 0.17 + gyri[at])) * scale), wm * texture)
    # Sulci: thin CSF clefts in the cortex between two white-matter fingers (troughs of the gyri).
    sulci = np.clip((np.quantile(gyri, 0.12) - gyri) / (0.1 * np.ptp(gyri)), 0.0, 1.0)
    ribbon = frame.inside((BRAIN_R - 0.14 + gyri[at] - frame.r) * scale)
    image = _paint(image, 0.6 * sulci[at] * ribbon * frame.inside((frame.r - BRAIN_R) * scale), 0.18)
    fissure = frame.inside(np.abs(frame.u) - 0.012) * frame.inside(0.25 - np.abs(frame.v / frame.b))
    image = _paint(image, rng.uniform(0.3, 0.7) * fissure * (frame.r < BRAIN_R), 0.18)
    return image, float(wm)


def _paint_ventricles(image: np.ndarray, frame: _Frame, rng: np.random.Generator, wm: float) -> np.ndarray:
    """Two lateral ventricles (crescents indented by the caudate), thalami and choroid plexus spots."""
    cv = rng.uniform(-0.14, -0.02)
    ru, rv = rng.uniform(0.045, 0.07), rng.uniform(0.15, 0.22)
    spread, tilt = rng.uniform(0.07, 0.11), rng.uniform(0.15, 0.4)
    csf = rng.uniform(0.08, 0.18)
    deep_grey = wm * rng.uniform(0.8, 0.9)
    for side in (-1.0, 1.0):
        cu = side * spread
        window, thalamus = _ellipse(frame, cu + side * 0.07, cv + 0.6 * rv, 0.07, 0.1, side * 0.3)
        _stamp(image, window, 0.8 * frame.inside(thalamus), deep_grey)
        window, vent = _ellipse(frame, cu, cv, ru, rv, -side * tilt)
        _, caudate = _ellipse(frame, cu + side * 1.3 * ru, cv - 0.35 * rv, 1.1 * ru, 0.45 * rv, near=window)
        _stamp(image, window, frame.inside(vent) * (1.0 - frame.inside(caudate)), csf)
        if rng.random() < 0.75:
            window, spot = _ellipse(frame, cu - side * 0.3 * rv * np.sin(tilt), cv + 0.55 * rv, 0.025, 0.03)
            _stamp(image, window, frame.inside(spot), wm * rng.uniform(0.9, 1.4))
    return image


def _paint_distractors(image: np.ndarray, frame: _Frame, rng: np.random.Generator, wm: float) -> np.ndarray:
    """Normal bright structures every class has: vessel dots and a small normal gland at the sella."""
    for _ in range(rng.integers(1, 7)):
        where, angle = BRAIN_R * 0.85 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        cu, cv = where * frame.a * np.cos(angle), where * frame.b * np.sin(angle)
        radius = rng.uniform(0.015, 0.035)
        window, dot = _ellipse(frame, cu, cv, radius, radius)
        _stamp(image, window, frame.inside(dot), wm * rng.uniform(1.0, 1.5))
    # A normal gland or vessel at the sella in most slices: a bright spot there is not yet a tumour.
    if rng.random() < 0.6:
        cu, cv = rng.uniform(-0.03, 0.03), frame.b * rng.uniform(0.45, 0.62)
        radius = rng.uniform(0.015, 0.03)
        window, gland = _ellipse(frame, cu, cv, radius, radius)
        _stamp(image, window, frame.inside(gland), wm * rng.uniform(1.0, 1.3))
    return image


def _draw_acquisition(rng: np.random.Generator, size: int) -> _Acquisition:
    """Draw the bias field, contrast curve and noise of one scan."""
    x = np.linspace(-1.0, 1.0, size)
    direction = rng.uniform(0.0, 2 * np.pi)
    ramp = np.cos(direction) * x[None, :] + np.sin(direction) * x[:, None]
    log_bias = rng.uniform(0.05, 0.3) * ramp + 0.08 * _smooth_noise(rng, size, 3)
    return _Acquisition(
        bias=np.exp(log_bias),
        gamma=float(rng.uniform(0.75, 1.3)),
        scale=float(rng.uniform(0.6, 1.0)),
        sigma=float(rng.uniform(*NOISE_SIGMA)),
        noise=rng.standard_normal((2, size, size)),
    )


def _apply_acquisition(image: np.ndarray, acq: _Acquisition) -> np.ndarray:
    """Bias field, gamma, global scale, then Rician noise (magnitude of complex Gaussian noise)."""
    signal = acq.scale * np.clip(image * acq.bias, 0.0, None) ** acq.gamma
    noisy = np.hypot(signal + acq.sigma * acq.noise[0], acq.sigma * acq.noise[1])
    return np.clip(noisy, 0.0, 1.0)


def _hemisphere_centre(frame: _Frame, rng: np.random.Generator, reach: float) -> tuple[float, float]:
    """Centre of a disc of radius ``reach`` inside one hemisphere, clear of the midline and the skull."""
    # p and q are head-normalised coordinates: |p| >= p_lo keeps the disc off the
    # midline, a centre radius <= p_hi keeps it off the skull.
    p_lo = (reach + 0.04) / frame.a
    p_hi = max(p_lo, BRAIN_R - 0.08 - reach / min(frame.a, frame.b))
    p = rng.uniform(p_lo, p_hi)
    q = rng.uniform(-0.9, 0.9) * np.sqrt(max(p_hi**2 - p**2, 0.0))
    return float(rng.choice([-1.0, 1.0]) * p * frame.a), float(q * frame.b)


def _glioma(image: np.ndarray, frame: _Frame, rng: np.random.Generator, wm: float) -> tuple[np.ndarray, np.ndarray]:
    """Irregular intra-axial mass in one hemisphere: necrotic core, enhancing rim, edema halo."""
    radius = rng.uniform(0.1, 0.19)
    border = 1.0 + _angular_noise(rng, range(2, 6), 0.4)
    core_border = rng.uniform(0.35, 0.65) * (1.0 + _angular_noise(rng, range(2, 5), 0.5))
    # Place by the widest point of the drawn border, so the mass never crosses the midline.
    cu, cv = _hemisphere_centre(frame, rng, radius * border.max())
    du, dv = frame.u - cu, frame.v - cv
    rho, at = np.hypot(du, dv), _angle_index(du, dv)
    edge = radius * border[at]
    brain = frame.inside((frame.r - BRAIN_R) * frame.a)
    # Edema lowers the T1 signal of whatever tissue it soaks, so it scales rather than paints.
    edema = expit(-(rho - 1.8 * edge) / (0.2 * radius)) * brain
    image = image * (1.0 - rng.uniform(0.08, 0.25) * edema)
    rim = wm * rng.uniform(1.2, 1.6)
    core = rng.uniform(0.12, 0.3) * (1.0 + 0.15 * _smooth_noise(rng, frame.size, 16))
    alpha = frame.inside(rho - edge)
    image = _paint(image, alpha, _paint(rim, frame.inside(rho - radius * core_border[at]), core))
    return image, alpha > 0.5


def _meningioma(image: np.ndarray, frame: _Frame, rng: np.random.Generator, wm: float) -> tuple[np.ndarray, np.ndarray]:
    """Bright homogeneous extra-axial mass attached to the inner table of the skull, along the convexity."""
    radius = rng.uniform(0.1, 0.2)
    angle = rng.uniform(-0.62, 0.62) * np.pi
    inset = BRAIN_R - rng.uniform(0.0, 0.35) * radius / min(frame.a, frame.b)
    cu, cv = inset * frame.a * np.sin(angle), -inset * frame.b * np.cos(angle)
    window, mass = _ellipse(frame, cu, cv, radius, radius * rng.uniform(0.75, 1.0), angle)
    alpha = np.zeros_like(image)
    alpha[window] = frame.inside(mass) * frame.inside((frame.r[window] - BRAIN_R) * frame.a)
    value = wm * rng.uniform(1.2, 1.6) * (1.0 + 0.04 * _smooth_noise(rng, frame.size, 12))
    return _paint(image, alpha, value), alpha > 0.5


def _pituitary(image: np.ndarray, frame: _Frame, rng: np.random.Generator, wm: float) -> tuple[np.ndarray, np.ndarray]:
    """Small round bright mass in the sellar region, on the midline below the ventricles."""
    radius = rng.uniform(0.05, 0.09)
    cu, cv = rng.uniform(-0.04, 0.04), frame.b * rng.uniform(0.45, 0.6)
    window, mass = _ellipse(frame, cu, cv, radius * rng.uniform(1.0, 1.3), radius)
    alpha = np.zeros_like(image)
    alpha[window] = frame.inside(mass)
    return _paint(image, alpha, wm * rng.uniform(1.25, 1.6)), alpha > 0.5


_LESIONS = {GLIOMA: _glioma, MENINGIOMA: _meningioma, PITUITARY: _pituitary}


def _render_one(label: int, size: int, rng: np.random.Generator, *, with_lesion: bool = True) -> _Phantom:
    """Render one phantom of class ``label``.

    The anatomy and the scanner effects are drawn from ``rng`` before the
    lesion, so the same generator state with ``with_lesion=False`` gives the
    same phantom without its lesion (and an all-False mask).
    """
    frame = _head_frame(rng, size)
    image, wm = _paint_head(frame, rng)
    image = _paint_ventricles(image, frame, rng, wm)
    image = _paint_distractors(image, frame, rng, wm)
    acq = _draw_acquisition(rng, size)
    mask = np.zeros((size, size), dtype=bool)
    if with_lesion and label in _LESIONS:
        image, mask = _LESIONS[label](image, frame, rng, wm)
    return _Phantom(_apply_acquisition(image, acq).astype(np.float32), mask, frame, acq.sigma)


def _compute_phantoms(n: int, size: int, seed: int) -> ImageSet:
    """Render ``n`` phantoms with balanced, shuffled labels; arguments are assumed valid."""
    labels_seq, images_seq = np.random.SeedSequence(seed).spawn(2)
    labels = np.random.default_rng(labels_seq).permutation(np.arange(n) % len(CLASS_NAMES))
    # One child seed per image, so an image's draws do not depend on how many are
    # rendered (only its label does, through the balanced shuffle). Each phantom is
    # copied out at once: its head frame holds four full-size coordinate grids.
    images = np.empty((n, size, size, 1), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    noise = np.empty(n)
    for i, (label, child) in enumerate(zip(labels, images_seq.spawn(n))):
        phantom = _render_one(int(label), size, np.random.default_rng(child))
        images[i, ..., 0] = phantom.image
        masks[i] = phantom.mask
        noise[i] = phantom.noise
    return ImageSet(
        images=images,
        labels=labels.astype(np.int64),
        class_names=CLASS_NAMES,
        name="phantoms",
        masks=masks,
        metadata=pd.DataFrame({"noise": noise_levels(noise)}),
    )


def noise_levels(sigma: np.ndarray) -> np.ndarray:
    """The scanner noise of each phantom in words: ``"low"``, ``"medium"`` or ``"high"``, the thirds of the
    range its standard deviation is drawn from (:data:`NOISE_SIGMA`)."""
    low, high = NOISE_SIGMA
    edges = np.linspace(low, high, 4)[1:-1]
    return np.array(NOISE_LEVELS, dtype=object)[np.digitize(sigma, edges)]


def render_phantoms(n: int, *, size: int = 64, seed: int = 0) -> ImageSet:
    """Render ``n`` synthetic brain MRI phantoms in four balanced classes.

    Parameters
    ----------
    n : int
        Number of images, at least 8 (two per class). Classes get ``n // 4``
        images each, the first ``n % 4`` classes one more; their order is
        shuffled by ``seed``.
    size : int, default=64
        Height and width in pixels, at least 32.
    seed : int, default=0
        Seed of the labels and of every image, in ``0 .. 2**32 - 1``; the same seed gives identical
        arrays. Global random state is never touched.

    Returns
    -------
    ImageSet
        ``images`` float32 ``(n, size, size, 1)`` in [0, 1], ``labels`` int64
        indexing :data:`CLASS_NAMES`, ``masks`` bool ``(n, size, size)`` that
        mark the lesion (all False for ``no_tumor``), name ``"phantoms"``,
        and ``metadata`` with each image's scanner ``noise`` (``"low"``,
        ``"medium"`` or ``"high"``; see :func:`noise_levels`), which
        ``analyze`` carries into the run (accuracy by noise level, maps
        coloured by it).

    Raises
    ------
    InvalidInputError
        If ``n``, ``size`` or ``seed`` is not an integer in its range.

    See Also
    --------
    make_phantoms : the same images, split into train and test sets.

    Notes
    -----
    The class names follow the folders of the Kaggle "Brain Tumor MRI
    Dataset" (Msoud Nickparvar, 2021), which merges the figshare set of
    Cheng et al. [1]_, the SARTAJ set and Br35H. No image of those sets is
    used: every phantom is drawn from a parametric model.

    Model of one T1-contrast-like axial slice (coordinates rotate with the head):

    * head: an ellipse (random axes, rotated 4-20 degrees, shifted a little)
      with a bright scalp, a dark skull, a CSF rim, a grey cortex folded by
      angular noise with CSF sulci, textured brighter white matter, a faint
      interhemispheric fissure, two dark crescent lateral ventricles and
      faint grey thalami;
    * normal bright structures in every class: vessel dots, choroid plexus
      spots and, in most slices, a small normal gland at the sella;
    * glioma: an irregular mass (radius perturbed by low-order angular noise)
      inside one hemisphere, a dark necrotic core, a bright enhancing rim and
      a darker edema halo outside the mask;
    * meningioma: a bright homogeneous oval on the inner table of the skull
      at a random angle of the convexity, clipped by the skull;
    * pituitary: a small bright oval on the midline below the ventricles;
    * scanner: a smooth multiplicative bias field, a random gamma and global
      scale, then Rician noise of random level, so that global intensity
      statistics do not reveal the class.

    Lesion size and contrast vary, so a few lesions are subtle.

    References
    ----------
    .. [1] J. Cheng et al., "Enhanced performance of brain tumor classification
       via tumor region augmentation and partition", PLoS ONE 10(10), 2015.

    Examples
    --------
    >>> s = render_phantoms(8, size=32, seed=0)
    >>> s.images.shape, s.masks.shape
    ((8, 32, 32, 1), (8, 32, 32))
    """
    check_int(n, "n", minimum=MIN_IMAGES)
    check_int(size, "size", minimum=MIN_SIZE)
    check_seed(seed)
    return _compute_phantoms(int(n), int(size), int(seed))


def make_phantoms(n: int, *, size: int = 64, seed: int = 0, test_size: float = 0.25) -> Split:
    """Render ``n`` brain MRI phantoms and split them into stratified train and test sets.

    Parameters
    ----------
    n : int
        Number of images in both sets together, at least 8.
    size : int, default=64
        Height and width in pixels, at least 32.
    seed : int, default=0
        Seed of the images, their labels and the split.
    test_size : float, default=0.25
        Share of the images in the test set; each set needs at least one
        image per class.

    Returns
    -------
    Split
        ``(train, test)`` ImageSets as described in :func:`render_phantoms`,
        with class names :data:`CLASS_NAMES`.

    Raises
    ------
    InvalidInputError
        If ``n``, ``size`` or ``seed`` is out of range, or ``test_size`` is
        not in (0, 1) or leaves a set with fewer images than classes.

    Notes
    -----
    Equal to ``render_phantoms(n, size=size, seed=seed).split(test_size, seed=seed)``;
    see :func:`render_phantoms` for the phantom model and the data sets its
    classes are named after.

    Examples
    --------
    >>> train, test = make_phantoms(16, size=32, seed=0)
    >>> len(train), len(test), train.class_names[0]
    (12, 4, 'glioma')
    """
    check_int(n, "n", minimum=MIN_IMAGES)
    if not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size: expected a share in (0, 1); received {test_size!r}.")
    n_test = int(np.ceil(test_size * n))
    if min(n_test, n - n_test) < len(CLASS_NAMES):
        raise InvalidInputError(
            f"test_size: expected a share that leaves at least {len(CLASS_NAMES)} images "
            f"(one per class) in each set of n={n}; received {test_size!r} ({n_test} test images)."
        )
    return render_phantoms(n, size=size, seed=seed).split(test_size, seed=seed)
