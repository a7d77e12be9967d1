"""What a run keeps of volumes for the site: each page's volume, small and in bytes, to slice in the browser.

A sample page of a volume run shows three orthogonal slices and a slider through each plane. The run keeps,
for the images with a page (explained ones first, then the gallery's order), the volume as uint8 on the
display scale, at most :data:`VOLUME_SIDE` voxels along each axis, in the order of the run's axes, until
:data:`VOLUMES_BYTES` are used; the other pages show their axial picture only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

__all__ = ["VOLUMES_BYTES", "VOLUME_SIDE", "page_volumes", "shrink_volume"]

#: A kept volume has at most this many voxels along each axis.
VOLUME_SIDE = 128
#: A run keeps volumes up to this many bytes (32 volumes of 128^3, 2,000 of 32^3).
VOLUMES_BYTES = 64 * 2**20


def shrink_volume(volume: np.ndarray, side: int = VOLUME_SIDE) -> np.ndarray:
    """``volume`` ``(a, b, c, ...)`` averaged down so no spatial axis has more than ``side`` voxels.

    Each axis longer than ``side`` is cut into ``side`` equal stretches (area averages, fractional at the
    borders); the others stay. Trailing axes (channels) are kept as they are.
    """
    from skimage.transform import resize

    spatial = volume.shape[:3]
    if max(spatial) <= side:
        return volume
    target = (*(min(side, n) for n in spatial), *volume.shape[3:])
    shrunk = resize(volume.astype(np.float32), target, order=1, anti_aliasing=True, preserve_range=True)
    return shrunk.astype(volume.dtype) if volume.dtype != np.uint8 else np.round(shrunk).astype(np.uint8)


def page_volumes(
    pages: Iterable[int],
    kept: Mapping[int, np.ndarray],
    display_range: tuple[float, float],
    used: int = 0,
) -> dict[int, np.ndarray]:
    """uint8 volumes ``(≤128, ≤128, ≤128, 1 or 3)`` of the kept images at ``pages``, in order, under the byte cap.

    ``kept`` holds volumes as the model took them (float32, the data's own range), by position; ``used`` is
    how many bytes of the cap the run's volumes already take.
    """
    from layerlens.explanations import to_display

    volumes: dict[int, np.ndarray] = {}
    for index in (int(i) for i in pages):
        if index in volumes or index not in kept or kept[index].ndim != 4:
            continue
        volume = shrink_volume(to_display(kept[index][np.newaxis], display_range)[0])
        if used + volume.nbytes > VOLUMES_BYTES:
            break
        volumes[index] = volume
        used += volume.nbytes
    return volumes
