"""Memory-mapped arrays: letting go of the pages a pass over one has brought into this process's memory.

Reading a memory-mapped column (a big run's features, its thumbnails) maps each page it touches into the
process, and those pages count in its resident memory until the mapping goes, although the file holds them. A
stage that has finished with a column releases them: the data stays in the file (and the page cache) and is
read again if touched.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

__all__ = ["release"]


def release(*arrays: Any) -> None:
    """Drop the resident pages of each memory-mapped array (or view of one) of ``arrays``; others are ignored."""
    for array in arrays:
        mapping = getattr(array, "_mmap", None) if isinstance(array, np.memmap) else None
        if mapping is None or not hasattr(mmap, "MADV_DONTNEED"):
            continue
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # a closed mapping, or a system without madvise: nothing to drop
            continue
