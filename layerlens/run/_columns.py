"""The arrays of a big run (format version 5): one ``.npy`` file per array, written and read without copies.

A run of more than :data:`COLUMNS_ABOVE` images keeps its arrays in ``arrays/<name>.npy`` and its thumbnails in
``thumbnails.npy`` instead of one ``arrays.npz`` built in memory and one PNG per image: each file is written
from its array straight to disk, its SHA-256 computed from the file in chunks, and loading maps the files into
memory rather than reading them (a million images' features need not fit in the reader's memory). Smaller runs
keep format version 4, which every earlier layerlens reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from layerlens._util.mapped import release
from layerlens.exceptions import RunFormatError

__all__ = ["ARRAY_FOLDER", "COLUMNS_ABOVE", "THUMBNAIL_ARRAY", "read_columns", "write_columns"]

#: Runs of more images than this are written as format version 5 (files per array, memory-mapped on loading).
COLUMNS_ABOVE = 20_000
ARRAY_FOLDER = "arrays"
THUMBNAIL_ARRAY = "thumbnails.npy"
_CHUNK = 16 * 2**20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_columns(folder: Path, arrays: Mapping[str, np.ndarray], thumbnails: np.ndarray) -> dict[str, str]:
    """Write every array as ``arrays/<name>.npy`` and the thumbnails as ``thumbnails.npy`` in ``folder``; their
    checksums, by the names the manifest gives them."""
    (folder / ARRAY_FOLDER).mkdir()
    checksums = {}
    named = {f"{ARRAY_FOLDER}/{key}.npy": array for key, array in arrays.items()}
    named[THUMBNAIL_ARRAY] = thumbnails
    for name, array in named.items():
        path = folder / name
        with open(path, "wb") as file:
            np.lib.format.write_array(file, np.asarray(array), allow_pickle=False)
        release(array)  # a column mapped from a file: its pages, read to write it, go
        checksums[name] = _file_sha256(path)
    return checksums


def read_columns(folder: Path, checksums: Mapping[str, str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The arrays and the thumbnails of a version-5 run, memory-mapped, each checked against its checksum."""
    arrays = {}
    thumbnails = None
    where = repr(str(folder))
    for name, expected in checksums.items():
        if not (name.startswith(f"{ARRAY_FOLDER}/") or name == THUMBNAIL_ARRAY):
            continue
        path = folder / name
        try:
            matches = _file_sha256(path) == expected
        except OSError as err:
            raise RunFormatError(f"path: the run in {where} is incomplete: cannot read {name} ({err}).") from err
        if not matches:
            raise RunFormatError(f"path: {name} in {where} is corrupt (its SHA-256 does not match the manifest).")
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if name == THUMBNAIL_ARRAY:
            thumbnails = array
        else:
            arrays[name[len(ARRAY_FOLDER) + 1 : -len(".npy")]] = array
    if thumbnails is None:
        raise RunFormatError(f"path: the run in {where} is incomplete: its manifest lists no {THUMBNAIL_ARRAY}.")
    return arrays, thumbnails
