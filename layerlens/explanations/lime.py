"""LIME: which superpixels of the image, kept or hidden, move the model's probability for the class.

The image is cut into superpixels (SLIC, on the intensity of a grayscale scan or the colours of a photo);
``num_samples`` copies with random superpixels hidden go through the model in large batches, and a
locally weighted linear model of the class probability on "superpixel shown" gives each superpixel its
weight. Sampling, distances, weights and the linear model are the ``lime`` package's own
(``LimeImageExplainer``); layerlens replaces its one-image-at-a-time perturbation loop with array
operations, gives it a segmentation fit for grayscale scans, hides a superpixel by blurring it, and seeds
every step.

Volumes ``(D, H, W, C)`` are cut into supervoxels by SLIC in 3-D and hidden by a 3-D blur; everything else
is the same.

A hidden superpixel shows the image blurred there (Gaussian, sigma 1/16 of the image's longer side), as
in Fong & Vedaldi's meaningful perturbations. lime's own default, the superpixel's mean colour, leaves a
superpixel that is already uniform unchanged when it is "hidden": a uniformly bright lesion, which SLIC
cuts out along its edges, could then never get a weight.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from skimage.filters import gaussian
from skimage.segmentation import slic

from layerlens._util.quiet_tqdm import import_quietly
from layerlens.explanations._result import Explanation

lime_image = import_quietly("lime.lime_image")  # without tqdm's "IProgress not found" in a notebook

__all__ = ["blurred", "default_segments", "explain_lime", "segment"]
# SLIC's balance of space against intensity, for images scaled to [0, 1]: superpixels follow edges of
# about a tenth of the intensity range and stay compact where there are none. SLIC divides the spatial
# distance by its grid step (the cube root of voxels per supervoxel in 3-D), so the same value means the
# same in a volume: an intensity step of 0.1 weighs as much as one grid step.
_COMPACTNESS = 0.1
# Gaussian smoothing (pixels, voxels on each of the three axes) before SLIC, so that superpixels follow
# structures, not pixel noise.
_SMOOTHING = 1.0
# A hidden superpixel shows the image blurred with sigma = (longer side) / this.
_BLUR_SHARE = 16
# Superpixels of an image unless told otherwise (see segment).
_IMAGE_SEGMENTS = 100
# A volume's supervoxels: about 4x4x4 voxels each, the size of a small lesion, and between these counts (see
# default_segments).
_SUPERVOXEL_VOXELS = 64
_VOLUME_SEGMENTS = (100, 600)


class _BatchedExplainer(lime_image.LimeImageExplainer):
    """lime's image explainer with its neighbourhood drawn in whole batches, in the model's own channels.

    The same draws of ``self.random_state`` as lime's own loop (so the same samples for a seed); the
    perturbed images are put together inside the model's traced call from the image, its blurred copy
    and the drawn on/off table, instead of one mask per hidden superpixel per sample in Python. lime
    itself works in RGB; this explainer keeps the image as the model takes it (one channel, three, or
    any other number).
    """

    def __init__(self, image: np.ndarray, scorer: Any, *, random_state: int) -> None:
        # Every segment is kept in the explanation, so lime's "auto" selection (a ridge fit ranking all
        # of them, then a second fit on the same set) gives what one fit without selection gives.
        super().__init__(random_state=random_state, feature_selection="none")
        self.kept = image.astype(np.float32)
        self.hidden = blurred(self.kept)
        self.scorer = scorer

    def data_labels(
        self,
        image: np.ndarray,
        fudged_image: np.ndarray,
        segments: np.ndarray,
        classifier_fn: Any,
        num_samples: int,
        batch_size: int = 256,
        **ignored: Any,  # newer lime passes progress_bar=
    ) -> tuple[np.ndarray, np.ndarray]:
        n_features = np.unique(segments).shape[0]
        data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
        data[0, :] = 1
        return data, self.scorer.composite_probabilities(self.kept, self.hidden, segments, data)


def blurred(image: np.ndarray) -> np.ndarray:
    """The image ``(H, W, C)`` as LIME hides it: Gaussian blur of sigma 1/16 of its longer side, channel by channel.

    A volume ``(D, H, W, C)`` is blurred in 3-D, with the same sigma on its three spatial axes (1/16 of the
    longest) and none across the channels.
    """
    sigma = max(image.shape[:-1]) / _BLUR_SHARE
    return gaussian(image, sigma=sigma, channel_axis=-1, preserve_range=True, mode="reflect").astype(np.float32)


def default_segments(shape: tuple[int, ...]) -> int:
    """How many superpixels LIME cuts an image ``(H, W, C)`` or a volume ``(D, H, W, C)`` into, unless told.

    An image: 100 (see :func:`segment`). A volume: one supervoxel per 64 voxels (about 4x4x4), at least
    100 and at most 600. Lesions in a volume are small against its voxels: with 100 supervoxels of a
    32x32x32 volume (330 voxels each) the lesion was a small part of LIME's top supervoxel, whose maximum
    then lay on the lesion in 24% of the held-out phantoms of ``benchmarks/bench_explain_volumes.py``,
    against 91% with 512 (figures in ``benchmarks/README.md``). Beyond 600, LIME's linear fit would have
    fewer than two of its 1,000 default samples per supervoxel; below 100, as coarse as an image.
    """
    if len(shape) <= 3:
        return _IMAGE_SEGMENTS
    voxels = int(np.prod(shape[:-1]))
    return int(np.clip(voxels // _SUPERVOXEL_VOXELS, *_VOLUME_SEGMENTS))


def segment(image: np.ndarray, n_segments: int | None = None, seed: int = 0) -> np.ndarray:
    """SLIC superpixels of one image ``(H, W, C)``: grayscale by intensity, colour in Lab; ids ``0 .. S - 1``.

    A volume ``(D, H, W, C)`` gets supervoxels: SLIC in 3-D, on the intensity of one channel, on the
    channels' values for several (MRI sequences, PET and CT: not colours, so never Lab), with the same
    compactness and smoothing as images. The voxels are taken as cubes (``spacing`` 1): the model sees the
    grid, not the scanner's millimetres.

    Parameters
    ----------
    image : ndarray of shape (H, W, C) or (D, H, W, C)
        Any range: it is scaled to [0, 1] first. ``C`` is 1, 3 (a grayscale image repeated into RGB
        counts as grayscale) or any other number of channels.
    n_segments : int, optional
        Roughly how many superpixels; by default :func:`default_segments`: 100 for an image, one
        supervoxel per 64 voxels (100 to 600) for a volume. Small lesions need small superpixels: on
        64x64 brain phantoms 100 put LIME's maximum on the lesion far more often than 50 (figures in
        the design doc).
    seed : int, default=0
        Unused by SLIC (deterministic); kept so every step takes the same ``seed``.

    Returns
    -------
    ndarray of shape (H, W) or (D, H, W), int32
    """
    n_segments = default_segments(image.shape) if n_segments is None else n_segments
    lo, hi = float(image.min()), float(image.max())
    scaled = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image, dtype=np.float64)
    gray = scaled.shape[-1] == 1 or bool(np.allclose(scaled[..., :1], scaled))
    common = {"n_segments": n_segments, "sigma": _SMOOTHING, "start_label": 0}
    if gray:
        labels = slic(scaled[..., 0], compactness=_COMPACTNESS, channel_axis=None, **common)
    elif scaled.shape[-1] == 3 and scaled.ndim == 3:  # colour: SLIC works in Lab, whose scale wants its compactness
        labels = slic(scaled, compactness=10.0, channel_axis=-1, **common)
    else:  # other channel counts (e.g. several MRI sequences) keep the intensity scale
        labels = slic(scaled, compactness=_COMPACTNESS, channel_axis=-1, convert2lab=False, **common)
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int32)


def explain_lime(
    scorer: Any, images: np.ndarray, targets: np.ndarray, seed: int, *, num_samples: int, n_segments: int | None
) -> list[Explanation]:
    """LIME explanations of ``images`` ``(N, H, W, C)`` or volumes ``(N, D, H, W, C)``, each by its own seeded sampler.

    Notes
    -----
    M. T. Ribeiro, S. Singh and C. Guestrin, "'Why Should I Trust You?': Explaining the Predictions of
    Any Classifier", KDD 2016. Each image gets a sampler seeded with ``seed`` alone, so its explanation
    does not depend on the other images of the call. The heat map gives every pixel its superpixel's
    weight. R. C. Fong and A. Vedaldi, "Interpretable Explanations of Black Boxes by Meaningful
    Perturbation", ICCV 2017, hide regions by blurring them, as done here.
    """
    from layerlens._util.validation import check_int

    check_int(num_samples, "num_samples", minimum=10)
    if n_segments is not None:
        check_int(n_segments, "n_segments", minimum=2)
    channels = images.shape[-1]
    explanations = []
    for image, target in zip(images, targets):
        start = time.perf_counter()
        segments = segment(image, n_segments, seed)
        explainer = _BatchedExplainer(image, scorer, random_state=seed)
        # lime reads the image only to build what the explainer above replaces: an RGB stand-in will do,
        # and a constant hide_color spares lime its per-superpixel means.
        # A volume is its own stand-in (lime converts only a 2-D array to RGB).
        stand_in = image if channels == 3 or image.ndim == 4 else np.repeat(image[..., :1], 3, axis=-1)
        result = explainer.explain_instance(
            stand_in.astype(np.float32),
            scorer.probabilities,
            labels=(int(target),),
            hide_color=0.0,
            top_labels=None,
            num_samples=num_samples,
            segmentation_fn=lambda _, cut=segments: cut,
            random_seed=seed,
        )
        weights = np.zeros(int(segments.max()) + 1, dtype=np.float32)
        for index, weight in result.local_exp[int(target)]:
            weights[index] = weight
        explanations.append(
            Explanation(
                method="lime",
                target=int(target),
                heatmap=weights[segments],
                seconds=time.perf_counter() - start,
                segments=segments,
                segment_weights=weights,
            )
        )
    return explanations
