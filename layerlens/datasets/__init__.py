"""Image data sets for layerlens: bundled with installed packages, generated, or read from folders.

Every loader returns float32 images ``(N, H, W, C)`` in [0, 1] with integer
labels and class names, as an :class:`ImageSet` or a seeded train/test
:class:`Split` of two; folders can also be read batch by batch as an
:class:`ImageStream` (``stream=True``). :func:`match_shape` and :func:`structured_noise` make
probes: images of no class to show a model beside its own.

Volumes (CT, MRI, PET, for Conv3D classifiers) are float32 ``(N, D, H, W, C)`` in the same containers, whose
``axes`` name the order of their spatial axes: :func:`from_nifti` reads ``root/<class>/*.nii[.gz]``,
``from_dicom(..., slices="volume")`` stacks whole DICOM series, and :func:`make_volume_phantoms` renders
synthetic head volumes with lesion masks. Every volume is laid out as ``D`` inferior to superior, ``H``
anterior to posterior, ``W`` from the patient's right to left (an axial slice shown as radiologists read it).
"""

from layerlens.datasets._for_model import load_data_for, load_probes_for
from layerlens.datasets._imageset import ImageSet, Split
from layerlens.datasets._stream import ImageStream
from layerlens.datasets.bundled import load_digits, load_faces, load_mnist
from layerlens.datasets.dicom import from_dicom
from layerlens.datasets.folder import from_directory, read_images
from layerlens.datasets.nifti import from_nifti
from layerlens.datasets.phantoms import make_phantoms, make_volume_phantoms, render_phantoms
from layerlens.datasets.probes import match_shape, structured_noise

__all__ = [
    "ImageSet",
    "ImageStream",
    "Split",
    "from_dicom",
    "from_directory",
    "from_nifti",
    "load_digits",
    "load_faces",
    "load_mnist",
    "make_phantoms",
    "make_volume_phantoms",
    "load_data_for",
    "load_probes_for",
    "match_shape",
    "read_images",
    "render_phantoms",
    "structured_noise",
]
