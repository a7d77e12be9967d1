"""Image data sets for layerlens: bundled with installed packages, generated, or read from folders.

Every loader returns float32 images ``(N, H, W, C)`` in [0, 1] with integer
labels and class names, as an :class:`ImageSet` or a seeded train/test
:class:`Split` of two.
"""

from layerlens.datasets._imageset import ImageSet, Split
from layerlens.datasets.bundled import load_digits, load_faces, load_mnist
from layerlens.datasets.folder import from_directory
from layerlens.datasets.phantoms import make_phantoms, render_phantoms

__all__ = [
    "ImageSet",
    "Split",
    "from_directory",
    "load_digits",
    "load_faces",
    "load_mnist",
    "make_phantoms",
    "render_phantoms",
]
