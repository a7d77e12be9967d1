"""Volumes on the site: what a sample page's slice viewer loads, and the 2-D faces the rest of the pages show.

A sample page of a volume run whose image the run kept a volume of (:attr:`Analysis.volumes`) shows three
orthogonal slices through it, drawn in the browser by ``static/volume.js`` from a data file beside the pages,
``data/volumes/<image>.js``. The page is opened from ``file://``, where a script cannot read a file and a canvas
that drew a ``file://`` picture cannot be read back, so the voxels travel in a ``<script>`` that sets
``window.LAYERLENS_VOLUME`` to (see :func:`volume_payload`)::

    {"image": 12, "axes": "HWD", "shape": [D, H, W], "channels": 1,
     "voxels": "<base64 of uint8 D x H x W x channels, C order>",
     "heat": [{"method": "integrated_gradients", "title": "Integrated gradients", "caption": "...",
               "limit": 0.03, "data": "<base64 of int8 D x H x W>"}],
     "start": [d, h, w], "startFrom": "heat" | "centre", "startMethod": "integrated_gradients" | null,
     "opacity": 0.65, "forColour": [220, 38, 38], "againstColour": [37, 99, 235]}

Whatever the order of the run's axes (``axes``, as the run stored the arrays), the payload holds the volume in
the canonical order D (axial axis), H (rows of an axial slice), W (its columns), so the page draws the same
anatomy the same way. The slices first cross at the largest value of the first heat map with a voxel for the
class (``start``, in the kept volume's voxels), else at the centre. Each heat map is resampled to the kept
volume's shape (the run may have shrunk the volume, never the map) and quantised to int8, ±127 where the 2-D
overlays saturate (:func:`~layerlens.figures.heat_limit` of the map at its own size): the page blends red (for the
class) or blue (against) over the voxels with strength ``|q| / 127 × opacity``, as
:func:`~layerlens.figures.overlay` does.

Everything else of a volume run's pages (thumbnails, the large picture) shows each volume's axial face: its
central axial slice, or its maximum-intensity projection along D (``settings.volume_view``); each explanation's
picture shows the axial slice through its heat map's maximum (as the run folder's pictures do);
:func:`flat_analysis` gives the analysis those parts are drawn from.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens.explanations import method_title
from layerlens.figures import AGAINST_COLOUR, FOR_COLOUR, heat_limit, through_maximum
from layerlens.model import to_dhw, volume_face
from layerlens.options import VOLUME_AXES
from layerlens.site._content import method_caption

if TYPE_CHECKING:
    from layerlens.run import Analysis

__all__ = [
    "OPACITY",
    "ExplainedSlice",
    "canonical_explained",
    "face",
    "flat_analysis",
    "is_volume_run",
    "quantise",
    "resample",
    "volume_payload",
    "volume_script",
]

#: The opacity of the heat map where it saturates, as in the 2-D overlays.
OPACITY = 0.65
#: A quantised heat map is ±this where the map reaches its limit.
HEAT_STEPS = 127


def is_volume_run(analysis: Analysis) -> bool:
    """Whether ``analysis`` is a run of volumes (its settings name the order of their axes)."""
    return analysis.settings.axes is not None


def resample(heat: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A heat map ``(a, b, c)`` at ``shape``, float32: area averages where it shrinks (as the run shrank the
    volume, see :func:`layerlens.run._volumes.shrink_volume`), linear where it grows; itself when it fits."""
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape == tuple(shape):
        return heat
    from skimage.transform import resize

    shrinks = any(n > m for n, m in zip(heat.shape, shape))
    resized = resize(heat, tuple(shape), order=1, anti_aliasing=shrinks, preserve_range=True)
    return resized.astype(np.float32)


def quantise(heat: np.ndarray, limit: float) -> np.ndarray:
    """``heat`` as int8, ±:data:`HEAT_STEPS` at ``±limit`` and beyond (the overlay's colour saturates there)."""
    scaled = np.nan_to_num(np.asarray(heat, dtype=np.float64) / limit, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.round(np.clip(scaled, -1.0, 1.0) * HEAT_STEPS).astype(np.int8)


def face(volume: np.ndarray, axes: str, view: str) -> np.ndarray:
    """The axial face ``(H, W[, C])`` of ``volume`` ``(a, b, c[, C])``: its central axial slice (``view`` "slice"),
    or its maximum along D ("mip"), as the thumbnails show it (see :func:`layerlens.model.volume_face`)."""
    volume = np.asarray(volume)
    bare = volume.ndim == 3  # a heat map or supervoxels: no channel axis
    shown = volume_face((volume[..., np.newaxis] if bare else volume)[np.newaxis], axes, view)[0]
    return shown[..., 0] if bare else shown


@dataclass(frozen=True)
class ExplainedSlice:
    """The axial slice a volume's explanation is pictured by on its page: through its heat map's maximum."""

    image: np.ndarray  # (H, W, C) uint8: the explained volume's slice
    index: int  # its position along D
    depth: int  # the slices along D

    @property
    def words(self) -> str:
        """Which slice, for the caption under the picture."""
        return f"axial slice {self.index + 1} of {self.depth}, through its maximum"


def canonical_explained(analysis: Analysis) -> Analysis:
    """``analysis`` with its explained volumes, heat maps and supervoxels in the order D, H, W (as
    :func:`layerlens.run.explanation_pictures` takes volumes: the axial axis first); any other run as it is."""
    if not is_volume_run(analysis) or not analysis.explained_images:
        return analysis
    axes = analysis.settings.axes

    def turned(array: np.ndarray | None) -> np.ndarray | None:
        return array if array is None or array.ndim < 3 else to_dhw(array, axes)

    return dataclasses.replace(
        analysis,
        explained_images={i: turned(image) for i, image in analysis.explained_images.items()},
        explanations=tuple(
            dataclasses.replace(e, heatmap=turned(e.heatmap), segments=turned(e.segments))
            for e in analysis.explanations
        ),
    )


def flat_analysis(analysis: Analysis) -> tuple[Analysis, dict[tuple[int, str], ExplainedSlice]]:
    """``analysis`` as the 2-D parts of the site draw it, and where each explanation of a volume is pictured.

    For a volume run: each explained image is its axial face (see :func:`face`, as the large picture shows it),
    and each explanation's heat map (and LIME's supervoxels) its axial slice through the map's maximum, which the
    returned slices hold by (image, method). Any other run as it is, and no slices.
    """
    explained = canonical_explained(analysis)
    if explained is analysis:
        return analysis, {}
    view = analysis.settings.volume_view
    slices: dict[tuple[int, str], ExplainedSlice] = {}
    explanations = []
    for explanation in explained.explanations:
        volume = explained.explained_images.get(explanation.image_index)
        if explanation.heatmap.ndim != 3 or volume is None or volume.ndim != 4:
            explanations.append(explanation)
            continue
        plane, heat, k = through_maximum(volume, explanation.heatmap)
        slices[(explanation.image_index, explanation.method)] = ExplainedSlice(plane, k, volume.shape[0])
        segments = None if explanation.segments is None else explanation.segments[k]
        explanations.append(dataclasses.replace(explanation, heatmap=heat, segments=segments))
    shown = explained.explained_images
    images = {i: face(image, VOLUME_AXES, view) if image.ndim == 4 else image for i, image in shown.items()}
    return dataclasses.replace(analysis, explanations=tuple(explanations), explained_images=images), slices


def _base64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def volume_payload(analysis: Analysis, index: int) -> dict[str, Any] | None:
    """What the slice viewer of image ``index``'s page loads (see the module's description); None when the run
    kept no volume of it."""
    volume = analysis.volumes.get(index) if is_volume_run(analysis) else None
    if volume is None:
        return None
    axes = analysis.settings.axes
    if volume.ndim == 3:
        volume = volume[..., np.newaxis]
    voxels = to_dhw(volume, axes).astype(np.uint8)
    shape = tuple(int(n) for n in voxels.shape[:3])
    heat, start, start_method = [], None, None
    for explanation in analysis.explanations_of(index):
        if explanation.heatmap.ndim != 3:
            continue
        full = to_dhw(np.asarray(explanation.heatmap, dtype=np.float32), axes)
        limit = heat_limit(full)
        shown = resample(full, shape)
        finite = np.nan_to_num(shown, nan=-np.inf)
        if start is None and finite.max() > 0:  # a map with no voxel for the class has no maximum to show
            start = [int(i) for i in np.unravel_index(int(finite.argmax()), shape)]
            start_method = explanation.method
        heat.append(
            {
                "method": explanation.method,
                "title": method_title(explanation.method),
                "caption": method_caption(explanation.method),
                "limit": float(limit),
                "data": _base64(quantise(shown, limit)),
            }
        )
    return {
        "image": int(index),
        "axes": axes,
        "shape": list(shape),
        "channels": int(voxels.shape[3]),
        "voxels": _base64(voxels),
        "heat": heat,
        "start": start if start is not None else [n // 2 for n in shape],
        "startFrom": "heat" if start is not None else "centre",  # the centre also when no map speaks for the class
        "startMethod": start_method,
        "opacity": OPACITY,
        "forColour": list(FOR_COLOUR),
        "againstColour": list(AGAINST_COLOUR),
    }


def volume_script(payload: dict[str, Any]) -> str:
    """The data file of a page's slice viewer: a script that sets ``window.LAYERLENS_VOLUME``."""
    text = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.LAYERLENS_VOLUME = {text};\n"


#: A plane's canvas is drawn at least this many pixels on the volume's longest side (a whole factor).
VIEWER_SIDE = 256
#: What each plane of the viewer cuts across, and the axes of its picture (rows, columns), in the canonical order.
PLANES = (
    ("axial", "Axial", "D", "H", "W"),
    ("coronal", "Coronal", "H", "D", "W"),
    ("sagittal", "Sagittal", "W", "D", "H"),
)
#: What each view of a volume run's one picture is, in words.
FACES = {"slice": "its central axial slice", "mip": "its maximum-intensity projection along D (the axial axis)"}


def _plane_scale(scale: int, rows: int, columns: int) -> int:
    """The whole factor a plane's canvas is enlarged by: the volume's (the same voxel size on every plane), more
    when that leaves the plane under half of :data:`VIEWER_SIDE` (a plane of two short axes of a long volume)."""
    return max(scale, -(-VIEWER_SIDE // (2 * max(rows, columns))))


def face_words(analysis: Analysis) -> str | None:
    """What the one picture of a volume shows, in words; None for a run of images."""
    if not is_volume_run(analysis):
        return None
    return FACES.get(analysis.settings.volume_view, FACES["slice"])


def viewer(analysis: Analysis, index: int, payload: dict[str, Any] | None, data: str) -> dict[str, Any] | None:
    """What a volume run's sample page says of its volume: the slice viewer's planes, sliders and heat maps
    (``data`` the page's link to its data file), or only that the run kept no volume (``payload`` None);
    None for a run of images.

    Planes are named from the run's axes: each says which axis of the array it cuts across, and the viewer
    draws D upward (slice 0 at the bottom: D runs from the feet to the head, as :func:`layerlens.datasets.
    from_nifti` lays volumes out), H and W as an axial slice shows them (row 0 at the top, column 0 on the left).
    """
    if not is_volume_run(analysis):
        return None
    axes = analysis.settings.axes
    if payload is None:
        return {"kept": False, "axes": axes, "face": face_words(analysis)}
    shape = dict(zip(VOLUME_AXES, payload["shape"]))
    start = dict(zip(VOLUME_AXES, payload["start"]))
    scale = max(1, -(-VIEWER_SIDE // max(shape.values())))
    planes = [
        {
            "key": key,
            "name": name,
            "across": across,
            "array_axis": axes.index(across) + 1,
            "rows": rows,
            "columns": columns,
            "slices": shape[across],
            "start": start[across],
            "width": shape[columns],
            "height": shape[rows],
            "shown_width": shape[columns] * _plane_scale(scale, shape[rows], shape[columns]),
        }
        for key, name, across, rows, columns in PLANES
    ]
    start_method = payload["startMethod"]
    return {
        "kept": True,
        "axes": axes,
        "face": face_words(analysis),
        "data": data,
        "shape": " × ".join(f"{shape[axis]} {axis}" for axis in axes),
        "planes": planes,
        "heat": [{"method": h["method"], "title": h["title"], "caption": h["caption"]} for h in payload["heat"]],
        "start": start,
        "start_title": None if start_method is None else method_title(start_method),
        "heat_silent": start_method is None and bool(payload["heat"]),
        "opacity": round(100 * OPACITY),
    }
