"""What a run keeps of images besides thumbnails: each page's image at its own size, and the reference images
nearest to them.

A sample page shows its image large: the source file read again at up to 512 pixels on the longer side
when the image came from a file, else the image as the model took it (kept during the pass). A run with a
reference keeps the thumbnails of the reference images that are some page image's nearest neighbours in
the last analysed layer, and no others (they are patients' images too: ``keep_reference_images=False``
keeps none).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from layerlens.scores import NEIGHBOURS

__all__ = ["LONGEST_SIDE", "PICTURES_MAX", "page_pictures", "reference_neighbours"]

#: A page's picture is at most this many pixels on its longer side.
LONGEST_SIDE = 512
#: Pictures are kept for at most this many gallery images (the most confident mistakes first), besides the
#: explained and doubtful ones; the others' pages show the thumbnail.
PICTURES_MAX = 500


def page_pictures(
    pages: np.ndarray,
    files: tuple[str, ...] | None,
    source: Mapping[str, Any] | None,
    kept: Mapping[int, np.ndarray],
    display_range: tuple[float, float],
    channels: int,
    face: tuple[str, str] = ("DHW", "slice"),
) -> dict[int, np.ndarray]:
    """uint8 pictures ``(h, w, 1 or 3)`` of the images at ``pages``: their files at their own size, else as kept.

    ``kept`` holds images as the model took them (float32, the data's own range), by position; a volume's
    picture is its axial face (``face``: the order of its axes and ``"slice"`` or ``"mip"``, see
    :func:`layerlens.model.volume_face`).
    """
    from layerlens.explanations import to_display
    from layerlens.model import volume_face

    readable = files is not None and source is not None and source.get("reader") in ("folder", "keras")
    mode = "grayscale" if channels == 1 else "rgb"
    pictures = {}
    for index in (int(i) for i in pages):
        picture = None
        if readable:
            picture = _from_file(Path(source["root"]) / files[index], mode)
        if picture is None and index in kept:
            picture = to_display(volume_face(kept[index][np.newaxis], *face), display_range)[0]
        if picture is not None:
            pictures[index] = picture
    return pictures


def _from_file(path: Path, mode: str) -> np.ndarray | None:
    from layerlens.datasets.folder import read_picture

    try:
        return read_picture(path, LONGEST_SIDE, mode)
    except Exception:  # noqa: BLE001 - a file gone or changed since: the page falls back on what was kept
        return None


def reference_neighbours(reference_space: np.ndarray, query: np.ndarray, n: int = NEIGHBOURS) -> np.ndarray:
    """The ``n`` reference images nearest to each row of ``query`` in one layer's space, nearest first.

    ``reference_space`` ``(R, d)`` and ``query`` ``(q, d)`` are reduced features of the same layer; returns
    ``(q, min(n, R))`` int64 positions among the reference images.
    """
    from sklearn.neighbors import NearestNeighbors

    count = min(n, len(reference_space))
    if count == 0 or len(query) == 0:
        return np.zeros((len(query), count), dtype=np.int64)
    search = NearestNeighbors(n_neighbors=count).fit(reference_space.astype(np.float64))
    return search.kneighbors(query.astype(np.float64), return_distance=False).astype(np.int64)
