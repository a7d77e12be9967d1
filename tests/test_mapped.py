"""layerlens._util.mapped: the pages a pass over a memory-mapped column brought into memory are let go."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from layerlens._util.mapped import release

MIB = 2**20


def _resident_mib() -> float:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * 4096 / MIB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_mapped_column_read_whole_leaves_no_pages_behind(tmp_path):
    size = 64 * MIB
    np.save(tmp_path / "column.npy", np.arange(size // 4, dtype=np.float32))
    column = np.load(tmp_path / "column.npy", mmap_mode="r")
    before = _resident_mib()
    first = float(column[: size // 8].max()) + float(column[size // 8 :].max())
    assert _resident_mib() - before > 48  # reading it mapped most of its 64 MiB in
    release(column[10:])  # a view of it lets the whole mapping go
    assert _resident_mib() - before < 8
    # The data is still there, read again from the file.
    assert float(column[: size // 8].max()) + float(column[size // 8 :].max()) == first
    np.testing.assert_array_equal(column[:5], np.arange(5, dtype=np.float32))


def test_anything_but_a_mapped_array_is_left_alone():
    array = np.ones(10)
    release(array, None, [1, 2], "text")
    assert array.sum() == 10


def test_pages_written_through_a_mapping_and_let_go_reach_the_file(tmp_path):
    column = np.lib.format.open_memmap(tmp_path / "column.npy", mode="w+", dtype=np.int64, shape=(1 << 20,))
    for start in range(0, len(column), 1 << 16):
        column[start : start + (1 << 16)] = np.arange(start, start + (1 << 16))
        release(column)
    column.flush()
    del column
    np.testing.assert_array_equal(np.load(tmp_path / "column.npy"), np.arange(1 << 20))
