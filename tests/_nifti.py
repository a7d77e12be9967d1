"""Small synthetic NIfTI trees (``root/<class>/*.nii.gz``) for the tests, written from arrays in layerlens' layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Voxel axes towards the patient's Left, Posterior, Superior: how DICOM-derived files (dcm2niix, ITK) often
#: store their voxels.
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def to_ras(volume: np.ndarray) -> np.ndarray:
    """A ``(D, H, W)`` array in layerlens' layout as the ``ras[i, j, k]`` array ``from_nifti`` reads it from:
    ``ras[i, j, k] = volume[k, H - 1 - j, W - 1 - i]``."""
    return np.ascontiguousarray(np.transpose(volume[:, ::-1, ::-1], (2, 1, 0)))


def nifti_image(volume: np.ndarray, affine: np.ndarray | None = None, *, zooms=(1.0, 1.0, 1.0)):
    """A nibabel image of a ``(D, H, W)`` volume (``zooms`` = its spacing ``(sd, sh, sw)`` in mm), its voxels
    stored in the orientation of ``affine`` (by default RAS+): reordered and flipped so that the file shows the
    same anatomy whatever the orientation. Only the axis directions of ``affine`` are used."""
    import nibabel as nib

    ras = to_ras(np.asarray(volume))
    sd, sh, sw = zooms
    canonical = np.diag([sw, sh, sd, 1.0])
    canonical[:3, 3] = -0.5 * np.asarray(ras.shape) * np.diag(canonical)[:3]
    image = nib.Nifti1Image(ras, canonical)
    if affine is None:
        return image
    wanted = nib.orientations.io_orientation(np.asarray(affine, float))
    return image.as_reoriented(nib.orientations.ornt_transform(nib.orientations.io_orientation(canonical), wanted))


def write_nifti_tree(
    root: Path,
    volumes: np.ndarray,
    labels,
    class_names,
    *,
    affine: np.ndarray | None = None,
    gz: bool = True,
    zooms=(1.0, 1.0, 1.0),
) -> list[Path]:
    """Write ``volumes`` as ``root/<class name>/vol-<i>.nii.gz`` (``.nii`` with ``gz=False``), one file each.

    Parameters
    ----------
    root : Path
        Created if needed.
    volumes : ndarray of shape (N, D, H, W) or (N, D, H, W, 1)
        In layerlens' layout (``axes="DHW"``), e.g. ``ImageSet.images``; written as float32.
    labels : sequence of int
        Class index of each volume.
    class_names : sequence of str
        Folder name of each class.
    affine : ndarray of shape (4, 4), optional
        Orientation to store the voxels in (e.g. :data:`LPS`); by default RAS+. ``from_nifti`` reads the same
        array back whatever it is.
    gz : bool, default=True
        Compress (``.nii.gz``) or not (``.nii``).
    zooms : (float, float, float), default=(1, 1, 1)
        Voxel spacing ``(sd, sh, sw)`` in mm.

    Returns
    -------
    list of Path
        The files written, in the order of ``volumes``.
    """
    import nibabel as nib

    arrays = np.asarray(volumes, dtype=np.float32)
    if arrays.ndim == 5:
        arrays = arrays[..., 0]
    paths = []
    for i, (volume, label) in enumerate(zip(arrays, labels)):
        path = Path(root) / class_names[int(label)] / f"vol-{i:03d}.nii{'.gz' if gz else ''}"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nifti_image(volume, affine, zooms=zooms), str(path))
        paths.append(path)
    return paths
