"""Benchmark reading DICOM series: a 40-patient tree of the challenge layout, as the issue sets it.

Run ``.venv/bin/python benchmarks/bench_dicom.py`` from the repository root. It writes a synthetic tree of 40
patients x 4 sequences (FLAIR, T1w, T1wCE, T2w) x 24 slices of 256x256 uint16 pixels (rescale slope 2,
intercept -100; file names and instance numbers shuffled against the slice positions; the writer of the tests,
``tests/_dicom.py``), then times ``layerlens.datasets.from_dicom`` (FLAIR, middle slice, 128x128; median of
3 runs, the first one cold) and checks that every patient's image is its middle slice by position (each slice
carries a bright bar at a column that tells its place). Also ``slices=5``, and the tree read as a stream
(``stream=True``: headers when listed, pixels batch by batch). Target (issue 11): under 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

N_PATIENTS, N_SEQUENCES, N_SLICES, SIZE = 40, 4, 24, 256
TARGET_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    repository = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(repository), str(repository / "tests")]
    import numpy as np
    from _dicom import bar_column, slice_pixels, write_tree

    from layerlens.datasets import from_dicom

    print(f"layerlens DICOM benchmark, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "train"
        start = time.perf_counter()
        csv = write_tree(root, N_PATIENTS, N_SLICES, size=SIZE)
        files = sum(1 for _ in root.rglob("*.dcm"))
        print(
            f"wrote {files} slices ({N_PATIENTS} patients x {N_SEQUENCES} sequences x {N_SLICES}) of {SIZE}x{SIZE} "
            f"in {time.perf_counter() - start:.1f} s"
        )
        expected = bar_column(slice_pixels(N_SLICES // 2, N_SLICES, SIZE)[..., None] * np.ones((1, 1, 1)))
        for slices in ("middle", 5):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                data = from_dicom(root, csv, sequence="FLAIR", slices=slices, image_size=SIZE)
                times.append(time.perf_counter() - start)
            if slices == "middle":
                found = [bar_column(image) for image in data.images]
                right = sum(column == expected for column in found)
                print(f"middle slice by position in {right} of {len(found)} patients")
            median = statistics.median(times)
            ok = "ok" if median < TARGET_S else "MISS"
            print(
                f"from_dicom(slices={slices!r}): {len(data.images)} images, median {median:.2f} s (runs "
                + " ".join(f"{t:.2f}" for t in times)
                + f"); target < {TARGET_S:.0f} s {ok}"
            )
        # The same tree as a stream: headers read when listed, pixels batch by batch (as analyze reads them).
        start = time.perf_counter()
        stream = from_dicom(root, csv, sequence="FLAIR", image_size=SIZE, stream=True)
        listed = time.perf_counter() - start
        images = np.concatenate([x for x, _ in stream.batches(16)])
        total = time.perf_counter() - start
        right = sum(bar_column(image) == expected for image in images)
        ok = "ok" if total < TARGET_S else "MISS"
        print(
            f"from_dicom(stream=True): listed {len(stream)} slices in {listed:.2f} s, read in batches of 16 in "
            f"{total:.2f} s in all; middle slice by position in {right} of {len(images)}; "
            f"target < {TARGET_S:.0f} s {ok}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
