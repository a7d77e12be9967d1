"""Which images get a page of their own on the site: one rule, read by the analysis and by the site builder.

The analysis needs it too: it keeps a full-size picture of each image with a page, and the thumbnails of
the reference images nearest to them. Arrays only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DOUBTFUL_SHOWN", "NEIGHBOURS", "UNSURE_SHOWN", "doubtful_correct", "gallery_order", "page_images"]

#: Unlabelled runs have no mistakes to list; their gallery shows this many least confident predictions instead.
UNSURE_SHOWN = 100
#: Correct predictions the model page lists as most in doubt.
DOUBTFUL_SHOWN = 24
#: Nearest neighbours shown on a sample page.
NEIGHBOURS = 8


def gallery_order(probabilities: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """The images the gallery lists: every mistake, most confident first (the ones a user trusts wrongly).

    Without labels there are no mistakes to show; the :data:`UNSURE_SHOWN` least confident predictions
    take their place, least confident first.
    """
    confidence = probabilities.max(axis=1).astype(np.float64)
    if labels is None:
        return np.argsort(confidence, kind="stable")[:UNSURE_SHOWN].astype(np.int64)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    return wrong[np.argsort(-confidence[wrong], kind="stable")].astype(np.int64)


def doubtful_correct(
    probabilities: np.ndarray, labels: np.ndarray | None, doubt: np.ndarray | None, n: int = DOUBTFUL_SHOWN
) -> np.ndarray:
    """The correct predictions most in doubt, most doubtful first (none without labels or doubt).

    Right for now, but unfamiliar or barely decided: the images a reviewer should not trust blindly.
    """
    if labels is None or doubt is None:
        return np.zeros(0, dtype=np.int64)
    correct = np.flatnonzero(probabilities.argmax(axis=1) == labels)
    order = correct[np.argsort(-np.asarray(doubt)[correct], kind="stable")]
    return order[:n].astype(np.int64)


def page_images(
    probabilities: np.ndarray, labels: np.ndarray | None, doubt: np.ndarray | None, explained: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The images with a sample page: the gallery's (in its order), then the other explained and doubtful ones."""
    gallery = gallery_order(probabilities, labels)
    others = set(explained) | set(doubtful_correct(probabilities, labels, doubt).tolist())
    return gallery, np.array(sorted(others - set(gallery.tolist())), dtype=np.int64)
