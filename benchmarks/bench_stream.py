"""Benchmark ``analyze`` over a folder read as a stream: peak memory and time at 2,000 and 20,000 PNGs.

Run ``.venv/bin/python benchmarks/bench_stream.py`` from the repository root (about 4 minutes on 2 cores).
It writes folders of 64x64 grayscale PNGs (brain-MRI phantoms, one sub-folder per class, rendered 1,000 at a
time so that writing them stays small too), trains the example phantoms CNN once (``bench_extract.py``'s
worker), then, each in a fresh subprocess:

- ``stream``: ``from_directory(folder, stream=True)`` (the listing, timed) and ``layerlens.analyze`` of the
  stream with ``explain=0`` (the pass, clusters, maps, paths and doubt; explanations cost the same at any N),
  measured from a settled baseline (TensorFlow imported, model loaded, files listed) to its peak; three runs
  per N (``--repeats``), the median reported;
- ``predict``: the plain pass a user would write instead (decode each batch, ``model.predict_on_batch``), the
  time ``analyze`` is compared with;
- ``loaded`` (at the largest N only): ``from_directory`` reading the whole folder into memory, then
  ``analyze``, to show what streaming saves.

Memory figures are peak resident set size minus the baseline before the call (``bench_extract.py``'s helpers:
garbage collected, heap trimmed, kernel peak counter reset). The issue's target: from 2,000 to 20,000 images
the peak grows by the N x D arrays the analysis keeps (features, reduced features, maps, clusters,
probabilities, the paths table) and the thumbnails, no more; the script prints both figures and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extract import _analysis_bytes, _measure, _settle, _timed, machine_facts  # noqa: E402
from bench_extract import run_worker as run_extract_worker  # noqa: E402

SIZES = (2000, 20000)
QUICK_SIZES = (500, 2000)
IMAGE_SIZE = 64
RENDER_CHUNK = 1000
BATCH_SIZE = 64
MIB = 1024.0 * 1024.0
KIB_PER_MIB = 1024.0


def worker_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write ``args.n`` phantom PNGs into ``args.folder``/<class>/."""
    import numpy as np
    from skimage import io

    from layerlens.datasets import render_phantoms

    root = Path(args.folder)
    start = time.perf_counter()
    for first in range(0, args.n, RENDER_CHUNK):
        chunk = render_phantoms(min(RENDER_CHUNK, args.n - first), size=IMAGE_SIZE, seed=1000 + first)
        for i, (image, label) in enumerate(zip(chunk.images, chunk.labels)):
            folder = root / chunk.class_names[label]
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.round(image[..., 0] * 255).astype(np.uint8)
            io.imsave(folder / f"{first + i:06d}.png", pixels, check_contrast=False)
    size = sum(p.stat().st_size for p in root.rglob("*.png"))
    return {"n": args.n, "seconds": time.perf_counter() - start, "bytes": size}


def worker_stream(args: argparse.Namespace) -> dict[str, Any]:
    """``analyze`` of ``from_directory(..., stream=True)``: listing time, analysis time and peak memory."""
    import keras

    import layerlens
    from layerlens.datasets import from_directory

    model = keras.saving.load_model(args.model)
    stream, list_s = _timed(
        lambda: from_directory(args.folder, image_size=IMAGE_SIZE, color_mode="grayscale", stream=True)
    )
    analysis, measured = _measure(
        lambda: layerlens.analyze(model, stream, batch_size=BATCH_SIZE, progress=False, explain=0)
    )
    return {
        "n": analysis.n_images,
        "list_s": list_s,
        **measured,
        **_analysis_bytes(analysis),
        "accuracy": None if analysis.metrics is None else float(analysis.metrics.accuracy),
    }


def worker_predict(args: argparse.Namespace) -> dict[str, Any]:
    """The plain pass: decode each batch of files and run the model on it."""
    import keras

    from layerlens.datasets import from_directory

    model = keras.saving.load_model(args.model)
    stream = from_directory(args.folder, image_size=IMAGE_SIZE, color_mode="grayscale", stream=True)
    model.predict_on_batch(next(stream.batches(BATCH_SIZE))[0])  # the graph built outside the timing
    _settle()

    def run() -> int:
        return sum(len(model.predict_on_batch(x)) for x, _ in stream.batches(BATCH_SIZE))

    count, measured = _measure(run)
    return {"n": count, **measured}


def worker_loaded(args: argparse.Namespace) -> dict[str, Any]:
    """Read the whole folder into memory, then ``analyze`` the ImageSet: peak over both, from before reading."""
    import keras

    import layerlens
    from layerlens.datasets import from_directory

    model = keras.saving.load_model(args.model)

    def run() -> Any:
        data = from_directory(args.folder, image_size=IMAGE_SIZE, color_mode="grayscale")
        return layerlens.analyze(model, data, batch_size=BATCH_SIZE, progress=False, explain=0)

    analysis, measured = _measure(run)
    return {"n": analysis.n_images, **measured}


WORKERS = {"generate": worker_generate, "stream": worker_stream, "predict": worker_predict, "loaded": worker_loaded}


def run_worker(kind: str, tmp: Path, **options: Any) -> dict[str, Any]:
    """This script as ``--worker kind`` in a fresh interpreter; its JSON result."""
    out = tmp / f"{kind}-{options.get('n', '')}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--result", str(out)]
    for key, value in options.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    print(f"  running {kind} {options.get('n', '')} ...", end="", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    print(f" {time.perf_counter() - start:.1f} s", flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n" + "\n".join(proc.stderr.strip().splitlines()[-25:]))
    return json.loads(out.read_text())


def _mib(kib: float) -> float:
    return kib / KIB_PER_MIB


def _growth_mib(run: dict[str, Any]) -> float:
    return _mib(run["peak_kib"] - run["baseline_kib"])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median peak growth (separability runs on a second thread beside the next layer's work, so
    the peak moves by some MiB from run to run), with every run's growth and time beside it."""
    ordered = sorted(runs, key=_growth_mib)
    median = dict(ordered[len(ordered) // 2])
    median["growths_mib"] = [_growth_mib(r) for r in runs]
    median["all_seconds"] = [r["seconds"] for r in runs]
    median["seconds"] = statistics.median(median["all_seconds"])
    return median


def report(sizes: tuple[int, ...], streamed: dict[int, Any], plain: dict[int, Any], loaded: Any) -> dict[str, Any]:
    """Print the table and the target's figures; return them."""
    print(
        f"\n{'N':>7} {'list s':>7} {'analyze s':>10} {'predict s':>10} {'ratio':>6} {'peak-base MiB':>14} "
        f"{'kept MiB':>9} {'thumbs MiB':>10}"
    )
    for n in sizes:
        s, p = streamed[n], plain[n]
        growth = _mib(s["peak_kib"] - s["baseline_kib"])
        ratio = s["seconds"] / p["seconds"]
        print(
            f"{n:>7,} {s['list_s']:>7.2f} {s['seconds']:>10.2f} {p['seconds']:>10.2f} {ratio:>6.2f} "
            f"{growth:>14.1f} {s['arrays_bytes'] / MIB:>9.1f} {s['thumbnails_bytes'] / MIB:>10.1f}"
        )
    for n in sizes:
        growths = ", ".join(f"{g:.1f}" for g in streamed[n]["growths_mib"])
        times = ", ".join(f"{t:.2f}" for t in streamed[n]["all_seconds"])
        print(f"  N = {n:,}: peak growth of each run {growths} MiB; analyze {times} s")
    small, large = streamed[sizes[0]], streamed[sizes[-1]]
    peak_growth = _mib((large["peak_kib"] - large["baseline_kib"]) - (small["peak_kib"] - small["baseline_kib"]))
    kept_growth = (
        large["arrays_bytes"] + large["thumbnails_bytes"] - small["arrays_bytes"] - small["thumbnails_bytes"]
    ) / MIB
    images_growth = (sizes[-1] - sizes[0]) * IMAGE_SIZE * IMAGE_SIZE * 4 / MIB
    print(
        f"\nfrom {sizes[0]:,} to {sizes[-1]:,} images: peak grew {peak_growth:.1f} MiB; the N x D arrays and "
        f"thumbnails the analysis keeps grew {kept_growth:.1f} MiB (ratio {peak_growth / kept_growth:.2f}); the "
        f"images themselves would be {images_growth:.1f} MiB more as float32"
    )
    figures = {"peak_growth_mib": peak_growth, "kept_growth_mib": kept_growth, "images_growth_mib": images_growth}
    if loaded is not None:
        loaded_growth = _mib(loaded["peak_kib"] - loaded["baseline_kib"])
        streamed_growth = _mib(large["peak_kib"] - large["baseline_kib"])
        print(
            f"the same {sizes[-1]:,} images read into memory first (from_directory, then analyze): peak "
            f"{loaded_growth:.1f} MiB above the baseline, against {streamed_growth:.1f} "
            f"MiB streamed; {loaded['seconds']:.1f} s against {large['seconds']:.1f} s"
        )
        figures["loaded_peak_mib"] = loaded_growth
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"N = {QUICK_SIZES} (a smoke run)")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of analyze per N; the median is reported")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        Path(args.result).write_text(json.dumps(WORKERS[args.worker](args)))
        return 0
    sizes = QUICK_SIZES if args.quick else SIZES
    print(f"layerlens stream benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(json.dumps(machine_facts()))
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        model = tmp / "phantoms.keras"
        run_extract_worker("train", tmp, model, quick=args.quick)
        streamed, plain = {}, {}
        for n in sizes:
            folder = tmp / f"pngs{n}"
            written = run_worker("generate", tmp, n=n, folder=folder)
            print(f"  wrote {n:,} PNGs ({written['bytes'] / MIB:.1f} MiB) in {written['seconds']:.1f} s")
            runs = [run_worker("stream", tmp, n=n, folder=folder, model=model) for _ in range(args.repeats)]
            streamed[n] = _median_run(runs)
            plain[n] = run_worker("predict", tmp, n=n, folder=folder, model=model)
        loaded = run_worker("loaded", tmp, n=sizes[-1], folder=tmp / f"pngs{sizes[-1]}", model=model)
        figures = report(sizes, streamed, plain, loaded)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"streamed": streamed, "predict": plain, "loaded": loaded, **figures}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
