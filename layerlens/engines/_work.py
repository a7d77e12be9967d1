"""The work folder of a distributed pass: its fingerprint, one file per finished block, and the joined columns.

A pass is cut into *units* of whole batches (the local engine's batch boundaries). Each finished unit is one
``blocks/NNNNNN.npz`` file, written whole or not at all, so a driver that is interrupted leaves every finished
unit behind and the same call again redoes only the missing ones. The folder's ``fingerprint.json`` names the
model weights, the images and the options; a folder made for another analysis is refused, not mixed in. When
every unit is done, the blocks are joined column by column into ``columns/*.npy``, which the analysis reads
memory-mapped: the driver never holds every image's features at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from layerlens._util.atomic import write_atomically
from layerlens._util.mapped import release
from layerlens.exceptions import InvalidInputError

__all__ = ["WorkFolder", "from_block", "to_block"]

_FINGERPRINT = "fingerprint.json"


def to_block(columns: Mapping[str, np.ndarray]) -> bytes:
    """The columns of one unit as the bytes of an ``.npz`` file (uncompressed: features do not compress)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(values) for name, values in columns.items()})
    return buffer.getvalue()


def from_block(data: bytes | Path) -> dict[str, np.ndarray]:
    """The columns of one unit, from :func:`to_block`'s bytes or a block file."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    with np.load(source, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


class WorkFolder:
    """The folder where a distributed pass keeps its finished units.

    Parameters
    ----------
    path : Path
        The folder (made if missing).
    fingerprint : dict
        What the units depend on (model weights, images, options), as JSON-able values.

    Raises
    ------
    InvalidInputError
        If ``path`` holds the units of another analysis (another fingerprint).
    """

    def __init__(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.fingerprint = dict(fingerprint)
        stamp = self.path / _FINGERPRINT
        if stamp.is_file():
            found = json.loads(stamp.read_text(encoding="utf-8"))
            if found != json.loads(json.dumps(self.fingerprint)):
                differs = sorted(k for k in {*found, *self.fingerprint} if found.get(k) != self.fingerprint.get(k))
                raise InvalidInputError(
                    f"work_dir: {str(self.path)!r} holds the blocks of another analysis (its {', '.join(differs)} "
                    "differ); remove the folder to start again, or pass another work_dir."
                )
        elif self.path.exists() and any(self.path.iterdir()):
            raise InvalidInputError(
                f"work_dir: expected an empty or new folder for the pass's blocks; {str(self.path)!r} holds other "
                "files."
            )
        (self.path / "blocks").mkdir(parents=True, exist_ok=True)
        if not stamp.is_file():
            write_atomically(stamp, json.dumps(self.fingerprint, indent=1, sort_keys=True).encode())

    def clear(self) -> None:
        """Forget every finished unit (a pass that cannot resume starts again)."""
        shutil.rmtree(self.path / "blocks", ignore_errors=True)
        (self.path / "blocks").mkdir()

    def block_path(self, unit: int) -> Path:
        """Where unit ``unit`` is kept."""
        return self.path / "blocks" / f"{unit:06d}.npz"

    def done(self) -> set[int]:
        """The units already finished."""
        return {int(p.stem) for p in (self.path / "blocks").glob("[0-9]*.npz") if p.stem.isdigit()}

    def write(self, unit: int, data: bytes) -> None:
        """Keep one finished unit (its :func:`to_block` bytes), whole or not at all."""
        write_atomically(self.block_path(unit), data)

    def join(self, units: Iterable[int]) -> dict[str, np.ndarray]:
        """Every column of the units, in unit order, as arrays memory-mapped from ``columns/``.

        The blocks are read one at a time and copied into one ``.npy`` file per column, so the memory this
        takes is one block's.
        """
        order = sorted(units)
        shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        total = 0
        for unit in order:
            with np.load(self.block_path(unit), allow_pickle=False) as block:
                for name in block.files:
                    if name.startswith("_"):
                        continue  # a unit's own notes (unreadable files), not a column
                    array = block[name]
                    shape, dtype = shapes.setdefault(name, (array.shape[1:], array.dtype))
                    if dtype.kind == "U" and array.dtype.itemsize > dtype.itemsize:  # the longest text of any block
                        shapes[name] = (shape, array.dtype)
                total += len(block["rows"])
        folder = self.path / "columns"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        files = {
            name: np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype, shape=(total, *shape))
            for name, (shape, dtype) in shapes.items()
        }
        filled = 0
        for unit in order:
            block = from_block(self.block_path(unit))
            n = len(block["rows"])
            for name, target in files.items():
                target[filled : filled + n] = block[name]
                release(target)  # the pages just written stay in the file, not in this process
            filled += n
        for target in files.values():
            target.flush()
        del files
        return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in shapes}

    def notes(self, units: Iterable[int], key: str) -> list[str]:
        """The text notes ``key`` (e.g. the unreadable files) of the units, in unit order."""
        found: list[str] = []
        for unit in sorted(units):
            with np.load(self.block_path(unit), allow_pickle=False) as block:
                if key in block.files:
                    found += [str(v) for v in block[key]]
        return found


def digest(*parts: Any) -> str:
    """A short hex digest of arrays, bytes and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.shape, part.dtype.str)).encode())
            h.update(np.ascontiguousarray(part).data)
        elif isinstance(part, (bytes, bytearray)):
            h.update(part)
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]
