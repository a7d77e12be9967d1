"""Benchmark the neighbour search of doubt: from which size does an approximate index beat exact search?

Run ``.venv/bin/python benchmarks/bench_neighbours.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run). It measures the k-nearest-neighbour query of
``layerlens.scores._doubt.disagreement``: a float32 reference of R images and N = R analysed images in one
layer's reduced space (d = 16 and 50, the most PCA keeps), k = 50, Euclidean. R = N = 1,000, 4,000,
16,000 and 64,000 (``--quick``: 1,000 and 8,000). Everything is measured in one process, side by side:

- data: a seeded Gaussian mixture of 10 classes, shaped like a PCA space (the spread of dimension j
  falls as 1/sqrt(j), class centres drawn with the same profile, each class its own spread in 0.75-1.25);
  the reference and the analysed images are separate draws of it (seeds 1 and 2), like training and test
  images. Each analysed image's own class stands for its prediction.
- exact: ``NearestNeighbors(n_neighbors=k + 1).fit(ref).kneighbors(x, n_neighbors=k)``, as ``disagreement``
  calls it (scikit-learn picks brute force for d > 15); median of 3 runs, 1 run at 64,000.
- approximate: ``pynndescent.NNDescent(ref, n_neighbors=30, random_state=0)`` (build; numba threads:
  all cores) then ``.query(x, k=50, epsilon=0.1, return_distances=False)`` (serial, the default), timed
  apart; median of 3 runs, 2 at 64,000, each on a fresh index. The same with
  ``parallel_batch_queries=True`` (the query on all cores too), 2 runs. "det" says whether the runs,
  with the same inputs and seed, returned the very same neighbours (layerlens requires it), and if not,
  for how many images the set of neighbours differed.
- quality: recall@50 (share of the exact neighbours that the approximate search found) and the
  quantity doubt reads, the share of the 50 neighbours labelled otherwise than the prediction: its mean
  under exact search, and the mean and largest absolute difference exact - approximate per image.
- compile cost: pynndescent's numba kernels compile on first use. numba's on-disk cache is sent to a
  fresh temporary folder (``NUMBA_CACHE_DIR``, removed at the end; the installed packages are not written
  to). A worker subprocess first times import, a tiny first build and query (300 x 16) and a first
  parallel query with that empty cache: the one-off cost on a fresh install. This process then times the
  same tiny calls before the measured ones, with the cache the worker filled: what every new process
  pays. The worker also checks that a fixed small problem gives the same neighbours in both processes.

The last lines name, for each d, the smallest size from which the approximate search (serial query,
build + query) is faster than exact, without and with this process' first-call cost, or say that exact
wins at every size measured. Run it on an otherwise idle machine (the load average is printed at start
and end). About 4-5 minutes on 2 cores (``--quick``: about 2 minutes, without the cold worker).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

K = 50
GRAPH_NEIGHBOURS = 30
EPSILON = 0.1
SEED = 0
N_CLASSES = 10
SIZES = (1_000, 4_000, 16_000, 64_000)
QUICK_SIZES = (1_000, 8_000)
DIMS = (16, 50)
RUNS = 3
#: From this size on, exact search runs once and the approximate one twice (enough to check determinism).
FEWER_RUNS_FROM = 64_000
PARALLEL_RUNS = 2
#: The fixed small problem whose neighbours must be the same in the worker and in this process.
CHECK_SIZE, CHECK_DIM = 2_000, 16

Result = dict[str, Any]


# --- data and searches ---------------------------------------------------------------------------------------------


def mixture(n: int, d: int, seed: int) -> tuple[Any, Any]:
    """``n`` points of the 10-class mixture in ``d`` dimensions (float32) and their classes."""
    import numpy as np

    scale = np.arange(1, d + 1) ** -0.5
    shape = np.random.default_rng(SEED)  # the same classes for every draw of a given d
    centres = shape.normal(size=(N_CLASSES, d)) * scale * 0.9
    spreads = shape.uniform(0.75, 1.25, size=N_CLASSES)
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, N_CLASSES, n)
    points = centres[classes] + rng.normal(size=(n, d)) * scale * spreads[classes, None]
    return points.astype(np.float32), classes


def exact(ref: Any, x: Any) -> Any:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=K + 1).fit(ref).kneighbors(x, n_neighbors=K, return_distance=False)


def exact_method(ref: Any) -> str:
    from sklearn.neighbors import NearestNeighbors

    return str(NearestNeighbors(n_neighbors=K + 1).fit(ref)._fit_method)


def approximate(ref: Any, x: Any, *, parallel: bool = False) -> tuple[Any, float, float]:
    """Neighbour indices from a fresh index, with the build and the query seconds."""
    import pynndescent

    start = time.perf_counter()
    index = pynndescent.NNDescent(ref, n_neighbors=GRAPH_NEIGHBOURS, random_state=SEED, parallel_batch_queries=parallel)
    built = time.perf_counter()
    neighbours = index.query(x, k=K, epsilon=EPSILON, return_distances=False)
    return neighbours, built - start, time.perf_counter() - built


def first_calls() -> Result:
    """Import pynndescent, then a tiny build and query, serial and parallel: numba compiles (or loads) here."""
    start = time.perf_counter()
    import pynndescent  # noqa: F401

    imported = time.perf_counter() - start
    ref, _ = mixture(300, 16, 7)
    _, build_s, query_s = approximate(ref, ref[:10])
    _, _, parallel_s = approximate(ref, ref[:10], parallel=True)
    return {"import_s": imported, "build_s": build_s, "query_s": query_s, "parallel_query_s": parallel_s}


def check_digest() -> str:
    """SHA-256 of the approximate neighbours of the fixed small problem."""
    ref, _ = mixture(CHECK_SIZE, CHECK_DIM, 1)
    x, _ = mixture(CHECK_SIZE, CHECK_DIM, 2)
    neighbours, _, _ = approximate(ref, x)
    return hashlib.sha256(neighbours.astype("int64").tobytes()).hexdigest()


def recall(found: Any, truth: Any, n_ref: int) -> float:
    """Share of the exact neighbours that were found (row by row)."""
    import numpy as np

    rows = np.arange(len(truth))[:, None] * n_ref
    return float(np.isin(found + rows, truth + rows).mean())


def rows_differing(runs: list[Any]) -> int:
    """Most images whose set of neighbours differs between the first run and another."""
    import numpy as np

    first = np.sort(runs[0], axis=1)
    return max(int((np.sort(other, axis=1) != first).any(axis=1).sum()) for other in runs[1:])


# --- measurement ---------------------------------------------------------------------------------------------------


def measure(size: int, d: int) -> Result:
    import numpy as np

    ref, ref_labels = mixture(size, d, 1)
    x, predictions = mixture(size, d, 2)
    runs = 1 if size >= FEWER_RUNS_FROM else RUNS
    exact_times = []
    for _ in range(runs):
        start = time.perf_counter()
        truth = exact(ref, x)
        exact_times.append(time.perf_counter() - start)
    results, builds, queries = [], [], []
    for _ in range(RUNS if size < FEWER_RUNS_FROM else 2):
        neighbours, build_s, query_s = approximate(ref, x)
        results.append(neighbours)
        builds.append(build_s)
        queries.append(query_s)
    parallel_results, parallel_queries = [], []
    for _ in range(PARALLEL_RUNS):
        neighbours, _, query_s = approximate(ref, x, parallel=True)
        parallel_results.append(neighbours)
        parallel_queries.append(query_s)
    found = results[0]
    share_exact = (ref_labels[truth] != predictions[:, None]).mean(axis=1)
    share_approx = (ref_labels[found] != predictions[:, None]).mean(axis=1)
    gap = np.abs(share_exact - share_approx)
    return {
        "size": size,
        "d": d,
        "method": exact_method(ref),
        "exact_s": statistics.median(exact_times),
        "exact_runs": exact_times,
        "build_s": statistics.median(builds),
        "query_s": statistics.median(queries),
        "approx_s": statistics.median(b + q for b, q in zip(builds, queries)),
        "build_runs": builds,
        "query_runs": queries,
        "parallel_query_s": statistics.median(parallel_queries),
        "recall": recall(found, truth, size),
        "parallel_recall": recall(parallel_results[0], truth, size),
        "share_exact": float(share_exact.mean()),
        "share_gap_mean": float(gap.mean()),
        "share_gap_max": float(gap.max()),
        "deterministic": all(np.array_equal(found, other) for other in results[1:]),
        "parallel_deterministic": all(np.array_equal(parallel_results[0], o) for o in parallel_results[1:]),
        "rows_differing": rows_differing(results),
        "parallel_rows_differing": rows_differing(parallel_results),
    }


def run_cold_worker() -> Result:
    """This script with ``--worker``, in a fresh interpreter, with the (still empty) numba cache."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    if proc.returncode != 0:
        raise RuntimeError(f"the cold worker exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def worker() -> int:
    """Cold first calls, then the digest of the fixed problem, printed as one JSON line."""
    result = first_calls()
    result["digest"] = check_digest()
    print(json.dumps(result))
    return 0


# --- report --------------------------------------------------------------------------------------------------------


def first_call_s(calls: Result) -> float:
    """What a process pays before its first (serial) search: import, first build and first query."""
    return calls["import_s"] + calls["build_s"] + calls["query_s"]


def format_calls(label: str, calls: Result) -> str:
    return (
        f"  {label}: import {calls['import_s']:.2f} s, first build {calls['build_s']:.2f} s, first query "
        f"{calls['query_s']:.2f} s (together {first_call_s(calls):.2f} s); first parallel query "
        f"{calls['parallel_query_s']:.2f} s more"
    )


def table(rows: list[Result], overhead: float) -> list[str]:
    head = (
        f"{'R = N':>7} {'d':>3} {'exact':>13} {'build':>7} {'query':>7} {'b+q':>7} {'exact/':>7} {'exact/':>8} "
        f"{'recall':>7} {'share':>6} {'|diff| of share':>16} {'det':>5} {'query':>7} {'recall':>7} {'det':>6}"
    )
    sub = (
        f"{'':>7} {'':>3} {'s (method)':>13} {'s':>7} {'s':>7} {'s':>7} {'(b+q)':>7} {'(b+q+1st)':>8} "
        f"{'@50':>7} {'exact':>6} {'mean':>8} {'max':>7} {'':>5} {'par. s':>7} {'par.':>7} {'par.':>6}"
    )
    lines = [head, sub]
    for r in rows:
        lines.append(
            f"{r['size']:>7,} {r['d']:>3} {r['exact_s']:>6.2f} ({r['method']:<5}) {r['build_s']:>7.2f} "
            f"{r['query_s']:>7.2f} {r['approx_s']:>7.2f} {r['exact_s'] / r['approx_s']:>7.2f} "
            f"{r['exact_s'] / (r['approx_s'] + overhead):>8.3f} {r['recall']:>7.4f} {r['share_exact']:>6.3f} "
            f"{r['share_gap_mean']:>8.4f} {r['share_gap_max']:>7.3f} {_det(r, ''):>5} "
            f"{r['parallel_query_s']:>7.2f} {r['parallel_recall']:>7.4f} {_det(r, 'parallel_'):>6}"
        )
    return lines


def _det(row: Result, prefix: str) -> str:
    if row[f"{prefix}deterministic"]:
        return "yes"
    return f"NO {row[f'{prefix}rows_differing']}"


def threshold(rows: list[Result], d: int, overhead: float) -> int | None:
    """Smallest size from which (at it and every larger size measured) approximate beats exact, else None."""
    sizes = sorted((r for r in rows if r["d"] == d), key=lambda r: r["size"])
    wins = [r["approx_s"] + overhead < r["exact_s"] for r in sizes]
    for i in range(len(sizes)):
        if all(wins[i:]):
            return int(sizes[i]["size"])
    return None


def verdict(rows: list[Result], overhead: float, label: str) -> str:
    found = {d: threshold(rows, d, overhead) for d in DIMS}
    parts = [f"d = {d}: from R = N = {size:,}" if size else f"d = {d}: exact wins" for d, size in found.items()]
    if all(size is None for size in found.values()):
        return f"{label}: exact wins at every size measured ({'; '.join(parts)})"
    return f"{label}: approximate faster {'; '.join(parts)}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: R = N = 1,000 and 8,000, without the cold-cache worker"
    )
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold-cache worker")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker()
    sizes = QUICK_SIZES if args.quick else SIZES
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="layerlens-numba-") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache  # before numba's first import: it reads its settings then
        import numba

        print(
            f"layerlens neighbour-search benchmark, {time.strftime('%Y-%m-%d %H:%M')}, load average "
            f"{load_start:.2f}, {os.cpu_count()} cores, numba threads {numba.get_num_threads()}",
            flush=True,
        )
        cold = None if args.quick or args.skip_cold else run_cold_worker()
        if cold:
            print(f"cold worker done in {cold['wall_s']:.0f} s", flush=True)
        warm = first_calls()
        tiny, _ = mixture(300, 16, 7)
        exact(tiny, tiny)  # scikit-learn's first call (imports, thread pools), not measured
        digest = check_digest() if cold else None
        rows = []
        for size in sizes:
            for d in DIMS:
                rows.append(measure(size, d))
                print(f"measured R = N = {size:,}, d = {d}", flush=True)
    overhead = first_call_s(warm)
    cache_state = "filled by the cold worker" if cold else "empty: full compile"
    lines = [
        "",
        f"k = {K}, Euclidean, float32; approximate: NNDescent(n_neighbors={GRAPH_NEIGHBOURS}, "
        f"random_state={SEED}), query(k={K}, epsilon={EPSILON}); data: {N_CLASSES}-class Gaussian mixture",
        "",
        "first calls (numba compile), before any measured call",
    ]
    if cold:
        lines.append(format_calls("fresh process, empty numba cache (one-off, fresh install)", cold))
    lines.append(format_calls(f"this process, numba cache {cache_state}", warm))
    if cold:
        same = cold["digest"] == digest
        lines.append(
            f"  same neighbours in both processes ({CHECK_SIZE:,} x {CHECK_DIM}, same seed): {'yes' if same else 'NO'}"
        )
    lines += [
        "",
        f"seconds are medians; b+q = build + serial query; 1st = this process' first-call cost ({overhead:.2f} s)",
        f"share = mean share of the {K} neighbours labelled otherwise than the prediction (exact search); "
        "|diff| of share = per image, exact - approximate",
        "det = same neighbours in every run (NO n: n images got another set of neighbours); "
        "par. = parallel_batch_queries=True",
        "",
    ]
    lines += table(rows, overhead)
    lines += [
        "",
        verdict(rows, 0.0, "without the compile cost"),
        verdict(rows, overhead, f"with this process' first-call cost ({overhead:.1f} s)"),
    ]
    if cold:
        lines.append(verdict(rows, first_call_s(cold), f"with the cold-cache cost ({first_call_s(cold):.1f} s)"))
    lines.append(f"load average at the end {os.getloadavg()[0]:.2f}; total {time.perf_counter() - started:.0f} s")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"cold": cold, "warm": warm, "rows": rows}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
