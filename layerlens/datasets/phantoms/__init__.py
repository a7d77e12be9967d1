"""Synthetic brain MRI phantoms in four tumour classes, with exact lesion masks.

Each phantom is a grayscale, T1-contrast-like axial slice of a head: scalp,
skull, cortex, white matter, ventricles and a few bright normal structures,
seen through a bias field, a random contrast curve and Rician noise. Three
classes carry a lesion whose pixel mask is returned with the image.

Run ``python -m layerlens.datasets.phantoms --preview grid.png`` to draw a
labelled grid of examples.

:func:`make_volume_phantoms` renders 3-D head volumes ``(n, size, size, size, 1)`` in lesion classes
(:data:`VOLUME_CLASS_NAMES`), with voxel masks of the lesions.
"""

from layerlens.datasets.phantoms._render import (
    CLASS_NAMES,
    NOISE_LEVELS,
    NOISE_SIGMA,
    make_phantoms,
    noise_levels,
    render_phantoms,
)
from layerlens.datasets.phantoms.preview import main, save_preview
from layerlens.datasets.phantoms.volumes import VOLUME_CLASS_NAMES, make_volume_phantoms

__all__ = [
    "CLASS_NAMES",
    "NOISE_LEVELS",
    "NOISE_SIGMA",
    "VOLUME_CLASS_NAMES",
    "main",
    "make_phantoms",
    "make_volume_phantoms",
    "noise_levels",
    "render_phantoms",
    "save_preview",
]
