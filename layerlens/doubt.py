"""Doubt: how far each prediction can be trusted, read from the activation space (arrays only, no model).

In the manner of deep k-nearest-neighbours, every analysed image is placed among labelled reference
images (the training images) in each analysed layer's reduced space, and two signals are read there:

- **disagreement**: the share of the image's nearest reference neighbours labelled otherwise than the
  image's prediction, in the layers where the classes have come apart;
- **unfamiliarity**: how far the image lies from the reference (mean distance to its nearest reference
  neighbours), as the share of reference images that lie closer to their own neighbours.

This module builds the per-layer signals; see :func:`layer_neighbours`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerlens._validation import check_int, check_matrix
from layerlens.exceptions import InvalidInputError

__all__ = ["DEFAULT_NEIGHBOURS", "LayerNeighbours", "layer_neighbours"]

#: Reference neighbours read per image and layer.
DEFAULT_NEIGHBOURS = 50


@dataclass(frozen=True)
class LayerNeighbours:
    """What one layer says of the analysed images, from their nearest reference images.

    Attributes
    ----------
    disagreement : ndarray of shape (N,), float64
        Share of each image's ``k`` nearest reference images whose label is not the image's
        prediction, in [0, 1].
    distance : ndarray of shape (N,), float64
        Mean distance from each image to its ``k`` nearest reference images.
    unfamiliarity : ndarray of shape (N,), float64
        Share of the reference images whose own mean distance to their ``k`` nearest other reference
        images is smaller than the image's ``distance``, in [0, 1]: about uniform for images like the
        reference, near 1 for images unlike anything in it.
    """

    disagreement: np.ndarray
    distance: np.ndarray
    unfamiliarity: np.ndarray


def layer_neighbours(
    reference: np.ndarray,
    reference_labels: np.ndarray,
    features: np.ndarray,
    predictions: np.ndarray,
    *,
    k: int = DEFAULT_NEIGHBOURS,
    leave_one_out: bool = False,
) -> LayerNeighbours:
    """Read one layer's disagreement and unfamiliarity for each image (exact Euclidean neighbours).

    Parameters
    ----------
    reference : ndarray of shape (R, d)
        The reference images in the layer's reduced space.
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
        image's own row is then left out of its neighbours, as it is for the reference's own distances.

    Returns
    -------
    LayerNeighbours

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
    labels = _labels(reference_labels, "reference_labels", len(ref))
    predicted = _labels(predictions, "predictions", len(x))
    if leave_one_out and len(x) != len(ref):
        raise InvalidInputError("leave_one_out: the features must be the reference's own rows; their counts differ.")
    k = min(check_int(k, "k", minimum=1), len(ref) - 1)
    index = NearestNeighbors(n_neighbors=k + 1).fit(ref)
    # The reference's own typical distance: each reference image among the others.
    own_distance, own_neighbours = _without_self(*index.kneighbors(ref))
    typical = np.sort(own_distance.mean(axis=1))
    if leave_one_out:
        distance, neighbours = own_distance, own_neighbours
    else:
        distance, neighbours = index.kneighbors(x, n_neighbors=k)
    mean_distance = distance.mean(axis=1)
    return LayerNeighbours(
        disagreement=(labels[neighbours] != predicted[:, None]).mean(axis=1),
        distance=mean_distance,
        unfamiliarity=np.searchsorted(typical, mean_distance, side="left") / len(typical),
    )


def _labels(value: np.ndarray, name: str, length: int) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != (length,) or not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError(f"{name}: expected {length} class indices (integers); received shape {array.shape}.")
    return array.astype(np.int64)


def _without_self(distances: np.ndarray, neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The k + 1 neighbours of each reference image among the reference, its own row left out.

    An image is usually its own first neighbour, but an exact duplicate may come first: the row is
    dropped by position, and the farthest neighbour where the row is not among them.
    """
    rows = np.arange(len(neighbours))[:, None]
    own = neighbours == rows
    own[~own.any(axis=1), -1] = True
    keep = ~own
    k = neighbours.shape[1] - 1
    return distances[keep].reshape(-1, k), neighbours[keep].reshape(-1, k)
