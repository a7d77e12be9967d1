"""Image data sets for layerlens: bundled with installed packages, generated, or read from folders.

Every loader returns float32 images ``(N, H, W, C)`` in [0, 1] with integer
labels and class names, as an :class:`ImageSet` or a seeded train/test
:class:`Split` of two; folders can also be read batch by batch as an
:class:`ImageStream` (``stream=True``). :func:`match_shape` and :func:`structured_noise` make
probes: images of no class to show a model beside its own.
"""

from layerlens.datasets._for_model import load_data_for, load_probes_for
from layerlens.datasets._imageset import ImageSet, Split
from layerlens.datasets._stream import ImageStream
from layerlens.datasets.bundled import load_digits, load_faces, load_mnist
from layerlens.datasets.dicom import from_dicom
from layerlens.datasets.folder import from_directory, read_images
from layerlens.datasets.phantoms import make_phantoms, render_phantoms
from layerlens.datasets.probes import match_shape, structured_noise

__all__ = [
    "ImageSet",
    "ImageStream",
    "Split",
    "from_dicom",
    "from_directory",
    "load_digits",
    "load_faces",
    "load_mnist",
    "make_phantoms",
    "load_data_for",
    "load_probes_for",
    "match_shape",
    "read_images",
    "render_phantoms",
    "structured_noise",
]
