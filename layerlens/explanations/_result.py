"""The one result type of the explanation methods: a leaf module, which every method's module imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlens._util.heat import heat_picture
from layerlens._util.jsonfloats import decode_float, encode_float
from layerlens._util.png import png_bytes

__all__ = ["Explanation"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why a classifier gave an image a class, as a heat map over the image.

    Attributes
    ----------
    method : str
        The method's name in :data:`~layerlens.explanations.REGISTRY`.
    target : int
        The class explained (by default the predicted one).
    heatmap : ndarray of shape (H, W), or (D, H, W) for a volume, float32
        At the image's (the volume's) resolution; positive values speak for ``target``, negative ones against it (LIME,
        integrated gradients, SmoothGrad; Grad-CAM keeps only the positive part, as its authors do).
    seconds : float
        Wall time spent on this image (a batch's time shared evenly among its images); NaN for an
        explanation read from a run folder, which does not store timings.
    segments : ndarray of shape (H, W) or (D, H, W), int32, or None
        LIME only: the superpixel (supervoxel) of every pixel (voxel), ``0 .. S - 1``.
    segment_weights : ndarray of shape (S,), float32, or None
        LIME only: each superpixel's weight for ``target`` in LIME's local linear model.
    layer : str or None
        Grad-CAM only: the layer whose maps were weighted.
    image_index : int or None
        Position of the image in the analysed set, for explanations stored with an analysis.
    """

    method: str
    target: int
    heatmap: np.ndarray
    seconds: float
    segments: np.ndarray | None = None
    segment_weights: np.ndarray | None = None
    layer: str | None = None
    image_index: int | None = None

    def __repr__(self) -> str:
        where = "" if self.image_index is None else f" image {self.image_index},"
        extra = "" if self.segments is None else f", {len(self.segment_weights)} segments"
        size = "x".join(str(side) for side in self.heatmap.shape)
        return (
            f"<Explanation {self.method}:{where} class {self.target}, heat map {size} in "
            f"[{self.heatmap.min():.3g}, {self.heatmap.max():.3g}]{extra}, {self.seconds:.3f} s>"
        )

    def _repr_png_(self) -> bytes:
        """The heat map as a notebook shows it: red for the class, blue against, white where it says nothing.

        A volume's map is shown by its axial slice through the map's maximum (as
        :func:`layerlens.figures._overlay.through_maximum` chooses it; repeated here, which keeps this
        module free of the figures).
        """
        heat = self.heatmap
        if heat.ndim == 3:
            heat = heat[int(np.unravel_index(np.argmax(np.nan_to_num(heat, nan=-np.inf)), heat.shape)[0])]
        return png_bytes(heat_picture(heat))

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """JSON-ready description; the heat map and segments are stored as arrays beside it.

        ``timing=False`` leaves ``seconds`` out (a run folder does, so that the same analysis always
        saves to the same bytes); :meth:`from_dict` then gives NaN seconds.
        """
        return {
            "method": self.method,
            "target": int(self.target),
            **({"seconds": encode_float(self.seconds)} if timing else {}),
            "layer": self.layer,
            "image_index": self.image_index,
            "segment_weights": None
            if self.segment_weights is None
            else [encode_float(float(w)) for w in self.segment_weights],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, heatmap: np.ndarray, segments: np.ndarray | None = None
    ) -> Explanation:
        """Rebuild an explanation from :meth:`to_dict` and its arrays."""
        weights = data["segment_weights"]
        return cls(
            method=data["method"],
            target=int(data["target"]),
            heatmap=heatmap,
            seconds=decode_float(data["seconds"]) if "seconds" in data else float("nan"),
            segments=segments,
            segment_weights=None if weights is None else np.array([decode_float(w) for w in weights], np.float32),
            layer=data["layer"],
            image_index=data["image_index"],
        )
