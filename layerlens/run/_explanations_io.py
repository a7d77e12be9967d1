"""How a run folder holds explanations: compact heat maps, LIME's superpixels, and pictures for a web page.

Heat maps are stored in float16, each divided by its largest finite magnitude (its ``heat_scale`` in the
manifest), so that a map of any magnitude keeps about three significant digits. The pictures are drawn
from the maps as stored, so a run read back and saved again gives the same bytes.

Volumes keep their 3-D heat maps and supervoxels ``(D, H, W)`` beside the volumes as displayed
``(D, H, W, C)``; their pictures show one axial slice: the explained volume's central one (as its
thumbnail), each overlay the slice through its own heat map's maximum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.png import png_bytes
from layerlens.exceptions import RunFormatError
from layerlens.explanations import METHODS, Explanation
from layerlens.figures import display_size, overlay_on, through_maximum, upscale
from layerlens.model import to_dhw
from layerlens.options import VOLUME_AXES

__all__ = ["explanation_arrays", "explanation_entries", "explanation_pictures", "picture_names", "read_explanations"]


def _scaled(heatmap: np.ndarray) -> tuple[np.ndarray, float]:
    """The heat map divided by its largest finite magnitude, in float16, and that magnitude (1 for a zero map).

    Non-finite values (a model that overflowed) are clipped to the largest finite magnitude, NaN to 0.
    """
    finite = np.isfinite(heatmap)
    largest = float(np.abs(heatmap[finite]).max()) if finite.any() else 0.0
    scale = largest if largest > 0.0 else 1.0
    clean = np.nan_to_num(heatmap.astype(np.float64), nan=0.0, posinf=scale, neginf=-scale)
    return (clean / scale).astype(np.float16), scale


def _as_stored(heatmap: np.ndarray) -> np.ndarray:
    """The heat map as it reads back from a run folder."""
    scaled, scale = _scaled(heatmap)
    return scaled.astype(np.float32) * np.float32(scale)


def explanation_arrays(explanations: Sequence[Explanation], images: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of ``arrays.npz``: heat maps (float16), explained images (uint8), LIME's superpixels (int16).

    Each of the same shape for every explanation of a run: ``(H, W)`` and images ``(H, W, C)``, or for
    volumes ``(D, H, W)`` and ``(D, H, W, C)``.
    """
    if not explanations:
        return {}
    arrays = {
        "explanation_heatmaps": np.stack([_scaled(e.heatmap)[0] for e in explanations]),
        "explained_images": np.stack(list(images.values())),
    }
    segments = [e.segments for e in explanations if e.segments is not None]
    if segments:
        stacked = np.stack(segments)
        arrays["explanation_segments"] = stacked.astype(np.int16 if stacked.max() < 2**15 else np.int32)
    return arrays


def explanation_entries(explanations: Sequence[Explanation]) -> list[dict[str, Any]]:
    """The manifest's description of each explanation (no timings: the same analysis saves to the same bytes)."""
    return [{**e.to_dict(timing=False), "heat_scale": encode_float(_scaled(e.heatmap)[1])} for e in explanations]


def explanation_pictures(
    explanations: Sequence[Explanation],
    images: Mapping[int, np.ndarray],
    large: Mapping[int, np.ndarray] | None = None,
    axes: str = VOLUME_AXES,
) -> dict[str, bytes]:
    """PNGs by file name: each explained image (``00012.png``) and its heat map over it (``00012_lime.png``).

    Drawn over the image's picture at its own size when ``large`` has one (see
    :attr:`~layerlens.run._analysis.Analysis.pictures`), else over the image as the model took it; either
    enlarged by a whole factor to at least 128 pixels, ready for a web page. A volume ``(D, H, W, C)``
    is pictured by its central axial slice (``large``'s picture when there is one), and each of its heat
    maps over the axial slice through that map's maximum (see
    :func:`~layerlens.figures._overlay.through_maximum`); ``axes`` is the order of the volumes' axes (the
    run's ``settings.axes``), the axial one D.
    """
    pictures: dict[str, bytes] = {}
    for index, image in images.items():
        volume = image.ndim == 4
        image = to_dhw(image, axes) if volume else image
        own = image[image.shape[0] // 2] if volume else image
        base = own if large is None or index not in large else large[index]
        factor = display_size(*base.shape[:2])
        pictures[f"{index:05d}.png"] = png_bytes(upscale(base, factor))
        for explanation in explanations:
            if explanation.image_index == index:
                heat = _as_stored(explanation.heatmap)
                if volume:
                    heat = to_dhw(heat, axes)
                    plane, heat, _ = through_maximum(image, heat)
                    shown = overlay_on(plane, heat)
                    scale = display_size(*plane.shape[:2])
                else:
                    shown, scale = overlay_on(base, heat), factor
                pictures[f"{index:05d}_{explanation.method}.png"] = png_bytes(upscale(shown, scale))
    return pictures


def picture_names(entries: Sequence[Mapping[str, Any]], image_indices: Sequence[int]) -> list[str]:
    """The names :func:`explanation_pictures` gives, from the manifest."""
    names = [f"{int(i):05d}.png" for i in image_indices]
    return names + [f"{int(e['image_index']):05d}_{e['method']}.png" for e in entries]


def read_explanations(
    manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> tuple[tuple[Explanation, ...], dict[int, np.ndarray]]:
    """The explanations and explained images of a run, or a :class:`RunFormatError` if they do not fit together."""
    entries, indices = manifest["explanations"], [int(i) for i in manifest["explained_images"]]
    if not entries:
        return (), {}
    images = arrays["explained_images"]
    heatmaps = arrays["explanation_heatmaps"]
    segments = arrays.get("explanation_segments", np.empty((0, 0, 0), np.int16))
    lime = [entry["segment_weights"] is not None for entry in entries]
    spatial = images.shape[1 : heatmaps.ndim]  # (H, W) of images (n, H, W, C); (D, H, W) of volumes
    if (
        len(images) != len(indices)
        or len(heatmaps) != len(entries)
        or len(segments) != sum(lime)
        or heatmaps.ndim not in (3, 4)
        or images.ndim != heatmaps.ndim + 1
        or heatmaps.shape[1:] != spatial
        or (len(segments) and segments.shape[1:] != spatial)
        or any(int(entry["image_index"]) not in indices for entry in entries)
    ):
        raise RunFormatError("path: the run's explanations do not match their arrays (counts or shapes differ).")
    unknown = sorted({str(entry["method"]) for entry in entries} - set(METHODS))
    if unknown:  # a method names files of the run and of the site: only known names may
        raise RunFormatError(f"path: the run's explanations name unknown methods {unknown}; expected {METHODS}.")
    explanations = []
    lime_seen = 0
    for entry, heatmap, is_lime in zip(entries, heatmaps, lime):
        heat = heatmap.astype(np.float32) * np.float32(decode_float(entry["heat_scale"]))
        cut = segments[lime_seen].astype(np.int32) if is_lime else None
        lime_seen += is_lime
        explanations.append(Explanation.from_dict(entry, heatmap=heat, segments=cut))
    return tuple(explanations), dict(zip(indices, images))
