"""What a layer shows of an image: the classes of its nearest neighbours there."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from layerlens.findings._evidence import Evidence, LayerEvidence
from layerlens.layers import fit_sample, own_rows

__all__ = ["neighbour_classes"]


def neighbour_classes(evidence: Evidence, layer: LayerEvidence, images: np.ndarray, count: int) -> np.ndarray:
    """The classes of the ``count`` nearest neighbours of ``images`` in ``layer``, nearest first.

    Neighbours are the reference images with their true classes when the clusters were fitted on a
    reference; else the other analysed images (each left out of its own neighbours, as doubt does), with
    their true classes, or their predicted ones without labels.

    Returns
    -------
    ndarray of shape (len(images), min(count, available)), int64
    """
    images = np.asarray(images, dtype=np.int64)
    if layer.reference is not None and evidence.reference_labels is not None:
        space, classes, leave_out = layer.reference, evidence.reference_labels, False
        rows = images
    else:
        space = layer.reduced
        classes = evidence.labels if evidence.labels is not None else evidence.predictions
        leave_out = True
        rows = images
        sample = fit_sample(len(space), evidence.seed)
        if sample is not None:  # many images: the neighbours among the sample the layers were fitted on
            space, classes, rows = space[sample], np.asarray(classes)[sample], own_rows(sample, images)
    count = min(count, len(space) - int(leave_out))
    if count < 1 or not len(images):
        return np.zeros((len(images), 0), dtype=np.int64)
    search = NearestNeighbors(n_neighbors=count + int(leave_out)).fit(np.asarray(space, dtype=np.float64))
    found = search.kneighbors(np.asarray(layer.reduced[images], dtype=np.float64), return_distance=False)
    if leave_out:
        # The image itself is usually first; drop it wherever it is (a duplicate may come before it).
        own = found == rows[:, None]
        keep = ~own
        keep[~own.any(axis=1), -1] = False
        found = found[keep].reshape(len(images), count)
    return np.asarray(classes)[found].astype(np.int64)
