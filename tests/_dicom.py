"""Small synthetic DICOM series in the layout of the brain tumour radiogenomic challenge, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEQUENCES = ("FLAIR", "T1w", "T1wCE", "T2w")


def write_slice(path: Path, pixels: np.ndarray, *, position: float | None, number: int | None, **extra) -> None:
    """One MR slice: uint16 pixels, rescale slope 2 and intercept -100, at ``position`` mm along z."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    if position is not None:
        ds.ImagePositionPatient = [0.0, 0.0, float(position)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    if number is not None:
        ds.InstanceNumber = number
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def slice_pixels(index: int, n_slices: int, size: int = 32) -> np.ndarray:
    """A slice whose bright bar sits at a column that tells its place in the series (0 = first)."""
    pixels = np.full((size, size), 200, np.uint16)
    column = 2 + (index * (size - 6)) // max(n_slices - 1, 1)
    pixels[:, column : column + 2] = 3000
    return pixels


def bar_column(image: np.ndarray) -> int:
    """The column of the bright bar in an image written by :func:`slice_pixels` (after any resizing)."""
    return int(np.argmax(image[..., 0].mean(axis=0)))


def write_tree(root: Path, n_patients: int, n_slices: int, *, seed: int = 0, sequences=SEQUENCES, size: int = 32):
    """Patients ``00000``.. with every sequence; file names and instance numbers shuffled against the positions.

    Returns the labels CSV (``BraTS21ID,MGMT_value`` with unpadded ids, labels alternating 0 and 1).
    """
    rng = np.random.default_rng(seed)
    for patient in range(n_patients):
        for sequence in sequences:
            names = rng.permutation(n_slices) + 1
            numbers = rng.permutation(n_slices) + 1
            for place in range(n_slices):
                write_slice(
                    root / f"{patient:05d}" / sequence / f"Image-{names[place]}.dcm",
                    slice_pixels(place, n_slices, size),
                    position=-40.0 + 2.5 * place,
                    number=int(numbers[place]),
                )
    csv = root.parent / f"{root.name}_labels.csv"
    csv.write_text("BraTS21ID,MGMT_value\n" + "".join(f"{p},{p % 2}\n" for p in range(n_patients)))
    return csv


def write_report(path: Path, *, number: int = 1) -> None:
    """A DICOM object that is no image: a Basic Text SR, with an instance number as a slice would have."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BasicTextSRStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = BasicTextSRStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.InstanceNumber = "SR", number
    ds.save_as(path, enforce_file_format=True)


def write_stray(path: Path) -> None:
    """A file that is not DICOM, of the kind its name says: a note, a JPEG or PNG preview, a thumbnail cache."""
    from PIL import Image

    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg", ".png"):
        Image.fromarray(slice_pixels(0, 2).astype(np.uint8)).save(path)
    elif path.name == "Thumbs.db":
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # an OLE compound file
    elif path.name == ".DS_Store":
        path.write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(600))
    else:
        path.write_text("Series exported from the scanner on 2021-07-01; FLAIR looks fine.\n" * 5)
