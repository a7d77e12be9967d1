"""Doubt: how far each prediction can be trusted, read from the activation space (arrays only, no model).

In the manner of deep k-nearest-neighbours, every analysed image is placed among labelled reference
images (the training images) in each analysed layer's reduced space, and two signals are read there:

- **disagreement**: the share of the image's nearest reference neighbours labelled otherwise than the
  image's prediction, in the layers where the classes have come apart;
- **unfamiliarity**: how far the image lies from the reference (mean distance to its nearest reference
  neighbours), as the share of reference images that lie closer to their own neighbours.

Measured on the example models (held-out test images, the training images as the reference), the
neighbours' labels add nothing to the softmax confidence for spotting mistakes, while an unfamiliar
image is what the confidence misses: the phantoms model gave MNIST digits a higher confidence than its
own test images (max-softmax AUROC 0.32), and every early layer tells them apart (1.000). So
:func:`doubt_scores` reads mistakes from the (calibrated) confidence and the unknown from the early
layers: ``doubt = 1 - (1 - p_mistake) (1 - p_unfamiliar)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layerlens._util.display import count, frame_html, summary_frame
from layerlens._util.validation import check_int, check_label_vector, check_matrix, check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.layers import loo_knn_predict, without_self

__all__ = [
    "APPROXIMATE_FROM", "DEFAULT_NEIGHBOURS", "SEARCHES", "UNFAMILIAR_AT", "Doubt", "Familiarity", "disagreement",
    "doubt_scores", "familiarity", "layer_weights", "mistake_calibration", "mistake_probability", "separation",
]  # fmt: skip

#: Reference neighbours read per image and layer.
DEFAULT_NEIGHBOURS = 50
#: Reference x analysed image pairs from which :func:`disagreement` searches an approximate index
#: (pynndescent) instead of all pairs: where the two break even in ``benchmarks/bench_neighbours.py`` (the index
#: also pays a numba compile in every new process; its figures are in ``benchmarks/README.md``). Below it, exact
#: search is faster, and exact.
APPROXIMATE_FROM = 25_000_000_000
#: How :func:`disagreement` may search neighbours.
SEARCHES = ("auto", "exact", "approximate")
#: Robust z-score of unfamiliarity (over the early layers) from which an image counts as unlike the reference:
#: 3 keeps the doubt of nearly every in-distribution test image at its confidence's and reaches nearly every
#: out-of-distribution probe of ``benchmarks/bench_doubt.py`` (2 cost AUROC on mistakes; figures in the design doc).
UNFAMILIAR_AT = 3.0


def disagreement(
    reference: np.ndarray,
    reference_labels: np.ndarray,
    features: np.ndarray,
    predictions: np.ndarray,
    *,
    k: int = DEFAULT_NEIGHBOURS,
    leave_one_out: bool = False,
    search: str = "auto",
    seed: int = 0,
    own: np.ndarray | None = None,
) -> np.ndarray:
    """Share of each image's ``k`` nearest reference images (Euclidean) labelled otherwise than its prediction.

    Parameters
    ----------
    reference : ndarray of shape (R, d)
        The reference images in one layer's reduced space.
    reference_labels : ndarray of shape (R,), int
        Their true classes.
    features : ndarray of shape (N, d)
        The analysed images in the same space.
    predictions : ndarray of shape (N,), int
        The model's prediction for each analysed image.
    k : int, default=50
        Neighbours read per image (at most ``R - 1``).
    leave_one_out : bool, default=False
        True when ``features`` are the reference images themselves (same rows, same order): each
        image's own row is then left out of its neighbours.
    own : ndarray of shape (N,), int, optional
        Each image's row in ``reference`` when some images are among the reference images (a sample of
        them), -1 for the others: each is left out of its own neighbours (the others lose their farthest).
    search : {"auto", "exact", "approximate"}, default="auto"
        ``"exact"``: all pairs (scikit-learn); ``"approximate"``: a nearest-neighbour-descent index
        (pynndescent; nearly the exact neighbours, see ``benchmarks/README.md``; the same for the same ``seed``);
        ``"auto"``: approximate from :data:`APPROXIMATE_FROM` reference x analysed pairs on.
    seed : int, default=0
        Seed of the approximate index.

    Returns
    -------
    ndarray of shape (N,), float64, in [0, 1]

    Raises
    ------
    InvalidInputError
        If the arrays do not fit together, or the reference has fewer than 2 images.
    """
    from sklearn.neighbors import NearestNeighbors

    ref = check_matrix(reference, "reference", min_rows=2)
    x = check_matrix(features, "features", min_rows=1)
    if x.shape[1] != ref.shape[1]:
        raise InvalidInputError(
            f"features: expected {ref.shape[1]} columns, as the reference has; received {x.shape[1]}."
        )
    labels = check_label_vector(reference_labels, "reference_labels", length=len(ref), n_classes=None)
    predicted = check_label_vector(predictions, "predictions", length=len(x), n_classes=None)
    if leave_one_out and len(x) != len(ref):
        raise InvalidInputError("leave_one_out: the features must be the reference's own rows; their counts differ.")
    if own is not None:
        leave_one_out, own = True, np.asarray(own, dtype=np.int64)
    else:
        own = np.arange(len(ref)) if leave_one_out else None
    k = min(check_int(k, "k", minimum=1), len(ref) - 1)
    if search not in SEARCHES:
        raise InvalidInputError(f"search: expected one of {SEARCHES}; received {search!r}.")
    approximate = search == "approximate" or (search == "auto" and len(ref) * len(x) >= APPROXIMATE_FROM)
    if approximate:
        neighbours = _approximate_neighbours(ref, x, k + leave_one_out, check_seed(seed))
    else:
        neighbours = NearestNeighbors(n_neighbors=k + 1).fit(ref).kneighbors(x, k + leave_one_out, False)
    if leave_one_out:
        neighbours = without_self(neighbours, own)
    return (labels[neighbours] != predicted[:, None]).mean(axis=1)


def _approximate_neighbours(reference: np.ndarray, queries: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The ``k`` nearest reference rows of each query by nearest-neighbour descent, nearest first.

    Serial queries: pynndescent's parallel batch queries return other neighbours from run to run.
    """
    from pynndescent import NNDescent

    index = NNDescent(reference.astype(np.float32), n_neighbors=min(30, len(reference) - 1), random_state=seed)
    found, _ = index.query(queries.astype(np.float32), k=k, epsilon=0.1)
    return found


def separation(space: np.ndarray, labels: np.ndarray, *, k: int = 5, samples: int = 1000, seed: int = 0) -> float:
    """Leave-one-out k-NN accuracy of ``labels`` in one layer's space, on a seeded sample of at most ``samples``.

    Read from the reference itself, so a layer's weight (:func:`layer_weights`) is the same whether
    the analysed images have labels or not.
    """
    ref = check_matrix(space, "space", min_rows=2)
    classes = check_label_vector(labels, "labels", length=len(ref), n_classes=None)
    queries = np.random.default_rng(seed).permutation(len(ref))[:samples]
    voted = loo_knn_predict(ref, classes, queries, min(k, len(ref) - 1))
    return float((voted == classes[queries]).mean())


def layer_weights(knn_accuracy: np.ndarray, chance: float) -> np.ndarray:
    """How much each layer's neighbours may speak: the layer's k-NN accuracy above chance, to the fourth power.

    A layer where the classes have not come apart gives its neighbours' labels no weight; the fourth
    power leaves the weight with the layers where they separate best (in practice the last ones).

    Parameters
    ----------
    knn_accuracy : ndarray of shape (L,)
        Leave-one-out k-nearest-neighbour accuracy of the classes in each layer (NaN counts as chance).
    chance : float
        The accuracy of always naming the most common class.

    Returns
    -------
    ndarray of shape (L,), float64
        Weights in [0, 1].
    """
    accuracy = np.nan_to_num(np.asarray(knn_accuracy, dtype=np.float64), nan=chance)
    excess = np.clip((accuracy - chance) / max(1.0 - chance, 1e-12), 0.0, 1.0)
    return excess**4


@dataclass(frozen=True, eq=False)
class Familiarity:
    """One layer's reference, summarised to tell how far an image lies from it.

    The distance is the Mahalanobis distance to the nearest class mean (shared within-class covariance),
    a robust z-score of its logarithm against the reference images' own distances.

    Attributes
    ----------
    means : ndarray of shape (C, d), float64
        Mean of each class present in the reference.
    whitening : ndarray of shape (d, d), float64
        ``W`` with ``W Wᵀ`` the inverse of the pooled within-class covariance (with a small ridge): the
        Mahalanobis distance is the Euclidean distance after multiplying by ``W``.
    centre, spread : float
        Median and scaled median absolute deviation (1.4826 MAD) of the reference's log distances.
    """

    means: np.ndarray
    whitening: np.ndarray
    centre: float
    spread: float

    def __repr__(self) -> str:
        return (
            f"<Familiarity: {len(self.means)} class means in {self.means.shape[1]} dimensions, "
            f"log distance median {self.centre:.3f}, spread {self.spread:.3f}>"
        )

    def z(self, features: np.ndarray) -> np.ndarray:
        """Robust z-score of each image's log distance: about N(0, 1) for images like the reference."""
        x = check_matrix(features, "features", min_rows=1)
        if x.shape[1] != self.means.shape[1]:
            raise InvalidInputError(
                f"features: expected {self.means.shape[1]} columns, as the reference has; received {x.shape[1]}."
            )
        return (np.log(_nearest_mean_distance(self, x)) - self.centre) / self.spread


def familiarity(reference: np.ndarray, reference_labels: np.ndarray) -> Familiarity:
    """Summarise one layer's reference images for :meth:`Familiarity.z`.

    Parameters
    ----------
    reference : ndarray of shape (R, d)
        The reference images in the layer's reduced space (at least 3).
    reference_labels : ndarray of shape (R,), int
        Their classes.

    Returns
    -------
    Familiarity
    """
    ref = check_matrix(reference, "reference", min_rows=3)
    labels = check_label_vector(reference_labels, "reference_labels", length=len(ref), n_classes=None)
    classes = np.unique(labels)
    means = np.stack([ref[labels == c].mean(axis=0) for c in classes])
    centred = ref - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / len(ref)
    ridge = 1e-6 * max(float(np.trace(covariance)), 1e-12) / covariance.shape[0]
    # Whitening by the eigenvectors: exact for any (ridged, so positive-definite) covariance.
    values, vectors = np.linalg.eigh(covariance + ridge * np.eye(covariance.shape[0]))
    whitening = vectors / np.sqrt(np.maximum(values, ridge))
    summary = Familiarity(means, whitening, 0.0, 1.0)
    # A reference image pulls its own class mean towards itself: its distance to the mean of the others is
    # n / (n - 1) times its distance to the whole class's, an image of a class of one has no such mean and
    # says nothing of how far images of the class lie (without this, small references look too tight).
    sizes = np.bincount(np.searchsorted(classes, labels))[np.searchsorted(classes, labels)]
    usable = sizes > 1
    if usable.sum() < 3:
        usable[:] = True  # too few to leave any out: the in-sample distances it is
    loo = (sizes[usable] / np.maximum(sizes[usable] - 1, 1)) ** 2
    own = np.log(_nearest_mean_distance(summary, ref[usable]) * np.where(sizes[usable] > 1, loo, 1.0))
    centre = float(np.median(own))
    spread = 1.4826 * float(np.median(np.abs(own - centre)))
    return Familiarity(means, whitening, centre, spread if spread > 0 else 1.0)


def _nearest_mean_distance(summary: Familiarity, x: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance to the nearest class mean (floored, so that its log is finite)."""
    white = x @ summary.whitening
    centres = summary.means @ summary.whitening
    distances = np.stack([((white - centre) ** 2).sum(axis=1) for centre in centres], axis=1)
    return np.maximum(distances.min(axis=1), 1e-12)


def mistake_calibration(
    confidence: np.ndarray, correct: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Learn how the chance of a mistake follows the confidence, for :func:`mistake_probability`.

    Parameters
    ----------
    confidence : ndarray of shape (N,)
        The probability the model gave its prediction, on images whose truth is known.
    correct : ndarray of shape (N,), bool, optional
        Whether each prediction was right.

    Returns
    -------
    callable
        Maps confidences of any images (e.g. probes, which have no truth) to the chance that their
        predictions are wrong, in [0, 1]: a logistic fit of the mistakes on the confidence's
        log-odds, strictly decreasing in the confidence; ``1 - confidence`` when there is nothing to
        fit (no ``correct``, no mistake, only mistakes, or more mistakes at higher confidence).
    """
    conf = _clipped(confidence)
    if correct is None:
        return _one_minus
    wrong = ~np.asarray(correct, dtype=bool)
    if wrong.shape != conf.shape:
        raise InvalidInputError(f"correct: expected {len(conf)} values, one per image; received {wrong.shape}.")
    if wrong.all() or not wrong.any():
        return _one_minus
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1e4).fit(_log_odds(conf), wrong)
    if fit.coef_[0, 0] >= 0:  # more confident, more often wrong: nothing to calibrate with
        return _one_minus
    return lambda values: fit.predict_proba(_log_odds(_clipped(values)))[:, 1]


def mistake_probability(confidence: np.ndarray, correct: np.ndarray | None = None) -> np.ndarray:
    """The chance that each prediction is wrong, read from its confidence.

    With ``correct`` (labelled images), a logistic fit of the mistakes on the confidence's log-odds
    makes the number a calibrated probability; it is strictly monotone in the confidence, so it ranks
    the images as ``1 - confidence`` does. Without labels, or when the fit cannot be made (no mistake,
    or only mistakes), it is ``1 - confidence``. :func:`mistake_calibration` gives the fit itself, to
    read other images' confidences with.

    Parameters
    ----------
    confidence : ndarray of shape (N,)
        The probability the model gave its prediction.
    correct : ndarray of shape (N,), bool, optional
        Whether each prediction was right.

    Returns
    -------
    ndarray of shape (N,), float64, in [0, 1]
    """
    return mistake_calibration(confidence, correct)(confidence)


def _clipped(confidence: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(confidence, dtype=np.float64), 1e-7, 1 - 1e-7)


def _log_odds(conf: np.ndarray) -> np.ndarray:
    return np.log(conf / (1 - conf))[:, None]


def _one_minus(confidence: np.ndarray) -> np.ndarray:
    return 1.0 - _clipped(confidence)


@dataclass(frozen=True, eq=False)
class Doubt:
    """How far each prediction can be trusted, and why.

    Attributes
    ----------
    doubt : ndarray of shape (N,), float64
        ``1 - (1 - mistake) (1 - unfamiliarity)``: the chance that the prediction is wrong or the image is
        unlike anything the model was shown, in [0, 1].
    mistake : ndarray of shape (N,), float64
        The chance that the prediction is wrong, from the confidence (see :func:`mistake_probability`).
    disagreement : ndarray of shape (N,), float64
        Share of the nearest reference images labelled otherwise than the prediction, averaged over the
        layers with the weights of :func:`layer_weights`; reported beside the doubt.
    unfamiliarity : ndarray of shape (N,), float64
        ``1 - exp(-max(0, z - UNFAMILIAR_AT))`` of the mean robust z-score over the early layers: 0 for
        images like the reference, towards 1 far from it.
    """

    doubt: np.ndarray
    mistake: np.ndarray
    disagreement: np.ndarray
    unfamiliarity: np.ndarray

    def __repr__(self) -> str:
        if not len(self.doubt):
            return "<Doubt of 0 images>"
        return (
            f"<Doubt of {count(len(self.doubt), 'image')}: median doubt {np.median(self.doubt):.3f} "
            f"(90th percentile {np.quantile(self.doubt, 0.9):.3f}), {int((self.doubt > 0.5).sum()):,} above 0.5; "
            f"median chance of a mistake {np.median(self.mistake):.3f}, "
            f"{int((self.unfamiliarity > 0).sum()):,} unfamiliar>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per image, one column per signal: ``doubt``, ``mistake``, ``disagreement``, ``unfamiliarity``."""
        return pd.DataFrame(
            {
                "doubt": self.doubt,
                "mistake": self.mistake,
                "disagreement": self.disagreement,
                "unfamiliarity": self.unfamiliarity,
            }
        )

    def _repr_html_(self) -> str:
        summary = summary_frame(self.to_frame().to_dict("series"))
        return frame_html(f"Doubt of {count(len(self.doubt), 'image')}", summary)


def doubt_scores(
    mistake: np.ndarray, unfamiliarity_z: np.ndarray, disagreement: np.ndarray, *, threshold: float = UNFAMILIAR_AT
) -> Doubt:
    """Combine the chance of a mistake and the unfamiliarity of each image into its doubt.

    Parameters
    ----------
    mistake : ndarray of shape (N,)
        From :func:`mistake_probability`.
    unfamiliarity_z : ndarray of shape (N, L)
        :meth:`Familiarity.z` of each image in each early layer (every analysed layer but the last:
        the last one is where the classes are, not where the unknown shows).
    disagreement : ndarray of shape (N,)
        Weighted disagreement, reported beside the doubt.
    threshold : float, default=UNFAMILIAR_AT
        Mean z-score from which an image starts to count as unfamiliar.

    Returns
    -------
    Doubt
    """
    p = np.asarray(mistake, dtype=np.float64)
    z = np.asarray(unfamiliarity_z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != len(p) or np.asarray(disagreement).shape != p.shape:
        raise InvalidInputError(
            f"unfamiliarity_z and disagreement: expected shapes ({len(p)}, L) and ({len(p)},); received "
            f"{z.shape} and {np.asarray(disagreement).shape}."
        )
    unfamiliar = 1.0 - np.exp(-np.maximum(0.0, z.mean(axis=1) - threshold)) if z.shape[1] else np.zeros(len(p))
    return Doubt(
        doubt=1.0 - (1.0 - p) * (1.0 - unfamiliar),
        mistake=p,
        disagreement=np.asarray(disagreement, dtype=np.float64),
        unfamiliarity=unfamiliar,
    )
