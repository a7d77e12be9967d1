"""Benchmark layerlens' streamed extraction and ``analyze`` against plain ``predict`` and a naive approach.

Run ``.venv/bin/python benchmarks/bench_extract.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run of one to two minutes). What is measured, on synthetic brain-MRI
phantoms at 64x64 (``render_phantoms(N, size=64, seed=1)``, N = 2,000 and 8,000 by default):

(a) Extraction overhead. ``layerlens.model.extract(model, x, batch_size=64)`` (default layers) and
    ``model.predict(x, batch_size=64)`` on the same images, in the same process, alternating: one
    warm-up call each (it includes tracing), then 7 rounds; medians and their ratio
    (and the ratio of the fastest runs, less sensitive to other load on the machine). ``extract``
    builds and traces a fresh ``tf.function`` on every call, so each timed call includes that fixed
    cost, which is also reported alone (``extract`` of a single batch of 64 images).
(b) Memory and time against the naive approach, which ``analyze`` replaces: one multi-output
    ``predict`` of every default layer (``layerlens.model.default_layers``; not every layer of the
    model), keeping the full activation maps, then per layer the maps flattened to (N, H*W*C) float32,
    standardised, PCA-reduced to 50 components, clustered with ``layerlens.layers._clusters.cluster_layer``
    (k-means, k = 2..12 by silhouette, as ``analyze``) and mapped to 2-D. Two variants of the reduction:
    "exact" calls ``layerlens.layers._clusters.reduce_features``, the very kernel ``analyze`` uses (float64,
    exact PCA), so the only difference is where the reduction happens; "lean" is what a user might
    write instead, ``PCA(50).fit_transform(StandardScaler().fit_transform(flat))`` in float32 with
    scikit-learn's default (randomized) solver, cheaper in time and memory. The naive approach runs at
    one N only (2,000 by default): its memory grows linearly with N (about 10 GB for "exact" and 5 GB
    for "lean" at 2,000 here), so it would not fit at 8,000 on a 24 GB machine.
    ``layerlens.analyze(model, x, labels, projection="pca")`` runs at every N.
(c) Whole ``analyze`` with ``projection="pca"`` and ``projection="umap"`` at every N. The UMAP worker
    imports umap-learn (timed apart), then calls ``analyze`` twice: the first call includes numba's
    compilation of whatever is not in its on-disk cache yet, the second is warm.

Every measurement runs in a fresh subprocess (this script with ``--worker KIND``) that loads the
model from a ``.keras`` file trained once by ``layerlens.app.zoo.train_example("phantoms", seed=0)``.
Memory is the peak resident set size, ``getrusage(RUSAGE_SELF).ru_maxrss``. Before each measured
phase the worker collects garbage, hands freed heap back to the OS (glibc ``malloc_trim``: rendering
the phantoms leaves ~1 GB of freed small blocks at N = 8,000 that later allocations would silently
reuse) and resets the kernel's peak counter (``/proc/self/clear_refs``), so "peak" is the peak of
that phase and "baseline" the RSS right before it: TensorFlow imported, model loaded, images in
memory. "peak - baseline" is what the method itself used. Image generation is timed but not counted.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (2000, 8000)
QUICK_SIZES = (200, 400)
IMAGE_SIZE = 64
DATA_SEED = 1  # not the training seed (0): the analysed images are not the training images
MODEL_SEED = 0
BATCH_SIZE = 64
REPEATS = 7
NAIVE_VARIANTS = ("exact", "lean")
QUICK_EPOCHS = 1  # --quick only: same network, barely trained; timings do not depend on the weights
TARGET_EXTRACT_RATIO = 1.3
TARGET_MEMORY_RATIO = 4.0
MIB = 1024.0  # ru_maxrss and /proc figures are KiB

Result = dict[str, Any]


# -- memory and time helpers (worker side) -----------------------------------------------------


def _proc_status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM``-style field of /proc/self/status in KiB, None where there is no /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _settle() -> int:
    """Collect garbage and return freed heap to the OS; the resident set size afterwards, KiB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: freed heap may stay resident and be reused unseen
    rss = _proc_status_kib("VmRSS")
    return rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Reset the peak RSS that ru_maxrss reports to the current RSS (Linux >= 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _measure(fn: Callable[[], Any]) -> tuple[Any, Result]:
    """Run ``fn`` once: its result, wall time, baseline RSS before it and peak RSS during it."""
    baseline = _settle()
    reset = _reset_peak()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return value, {
        "seconds": seconds,
        "baseline_kib": baseline,
        "peak_kib": usage.ru_maxrss,
        "vm_hwm_kib": _proc_status_kib("VmHWM"),
        "peak_reset": reset,
    }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


# -- workers -----------------------------------------------------------------------------------


def _setup(model_path: str, n: int) -> tuple[Any, Any, Result]:
    """Import TensorFlow, load the model and render the images; their times and the RSS after them."""
    start = time.perf_counter()
    import keras
    import tensorflow  # noqa: F401  (timed: the import is part of every worker's fixed cost)

    import_s = time.perf_counter() - start
    model, load_s = _timed(lambda: keras.saving.load_model(model_path))
    from layerlens.datasets import render_phantoms

    data, generate_s = _timed(lambda: render_phantoms(n, size=IMAGE_SIZE, seed=DATA_SEED))
    setup = {
        "n": n,
        "import_s": import_s,
        "load_s": load_s,
        "generate_s": generate_s,
        "setup_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "images_bytes": int(data.images.nbytes),
    }
    return model, data, setup


def worker_train(args: argparse.Namespace) -> Result:
    """Train the example phantoms CNN and save it to ``args.model``."""
    from layerlens.app.zoo import train_example

    epochs = QUICK_EPOCHS if args.quick else None
    trained, seconds = _timed(lambda: train_example("phantoms", seed=MODEL_SEED, epochs=epochs))
    trained.model.save(args.model)
    from layerlens.model import default_layers

    return {
        "train_s": seconds,
        "epochs": len(trained.history.get("loss", [])),
        "test_accuracy": trained.test_accuracy,
        "n_parameters": int(trained.model.count_params()),
        "default_layers": default_layers(trained.model),
    }


def worker_speed(args: argparse.Namespace) -> Result:
    """(a) ``extract`` against ``model.predict`` on the same images, alternating, in one process."""
    import numpy as np

    from layerlens.model import extract

    model, data, setup = _setup(args.model, args.n)
    x = data.images

    def predict() -> Any:
        return model.predict(x, batch_size=BATCH_SIZE, verbose=0)

    def run_extract() -> Any:
        return extract(model, x, batch_size=BATCH_SIZE, progress=False)

    predicted, warm_predict = _timed(predict)
    # The warm-up call of extract also gives its peak memory (features, thumbnails, tracing).
    extraction, extract_memory = _measure(run_extract)
    warm_extract = extract_memory["seconds"]
    times: dict[str, list[float]] = {"predict": [], "extract": []}
    for _ in range(args.repeats):
        times["predict"].append(_timed(predict)[1])
        times["extract"].append(_timed(run_extract)[1])
    one_batch = [
        _timed(lambda: extract(model, x[:BATCH_SIZE], batch_size=BATCH_SIZE, progress=False))[1]
        for _ in range(args.repeats)
    ]
    predict_s, extract_s = statistics.median(times["predict"]), statistics.median(times["extract"])
    return {
        **setup,
        "warmup_predict_s": warm_predict,
        "warmup_extract_s": warm_extract,
        "extract_memory": extract_memory,
        "extract_kept_bytes": int(sum(f.nbytes for f in extraction.features) + extraction.thumbnails.nbytes),
        "predict_s": times["predict"],
        "extract_s": times["extract"],
        "predict_median_s": predict_s,
        "extract_median_s": extract_s,
        "ratio": extract_s / predict_s,
        "ratio_of_minima": min(times["extract"]) / min(times["predict"]),
        "extract_one_batch_median_s": statistics.median(one_batch),
        "max_abs_output_diff": float(np.max(np.abs(extraction.outputs - predicted))),
        "feature_dims": [int(f.shape[1]) for f in extraction.features],
    }


def _lean_reduce(flat: Any) -> Any:
    """StandardScaler + PCA(50) in float32 with scikit-learn's default solver (randomized here)."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(flat)
    n_components = min(50, *flat.shape)
    return PCA(n_components=n_components, random_state=0).fit_transform(scaled).astype(np.float32)


def _naive(model: Any, x: Any, labels: Any, class_names: Any, variant: str) -> Result:
    """Full activation maps of every default layer from one predict, then reduce, cluster and map each."""
    import keras

    from layerlens.layers._clusters import cluster_layer, reduce_features
    from layerlens.layers._maps import project_2d
    from layerlens.model import default_layers

    reduce = _lean_reduce if variant == "lean" else (lambda flat: reduce_features(flat, seed=0))

    names = default_layers(model)
    start = time.perf_counter()
    feature_model = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    maps = feature_model.predict(x, batch_size=BATCH_SIZE, verbose=0)
    predict_s = time.perf_counter() - start
    layers = []
    for name, activation in zip(names, maps):
        flat = activation.reshape(len(activation), -1)  # (N, H*W*C) float32, a view
        begin = time.perf_counter()
        reduced = reduce(flat)
        clusters = cluster_layer(reduced, labels, class_names, seed=0)
        project_2d(reduced, method="pca")
        layers.append(
            {"name": name, "dim": int(flat.shape[1]), "k": clusters.k, "seconds": time.perf_counter() - begin}
        )
    return {"predict_s": predict_s, "maps_bytes": int(sum(m.nbytes for m in maps)), "layers": layers}


def worker_naive(args: argparse.Namespace) -> Result:
    """(b) The naive approach: its time and peak memory."""
    model, data, setup = _setup(args.model, args.n)
    detail, measured = _measure(lambda: _naive(model, data.images, data.labels, data.class_names, args.variant))
    return {**setup, **measured, **detail, "variant": args.variant}


def _analysis_bytes(analysis: Any) -> Result:
    """Bytes of the N x D arrays an Analysis keeps, and of its thumbnails."""
    layers = analysis.layers
    arrays = sum(
        a.nbytes for layer in layers for a in (layer.features, layer.reduced, layer.coords, layer.clusters.assignments)
    )
    arrays += analysis.probabilities.nbytes + int(analysis.paths.memory_usage(deep=True).sum())
    return {
        "arrays_bytes": int(arrays),
        "thumbnails_bytes": int(analysis.thumbnails.nbytes),
        "feature_dims": [int(layer.features.shape[1]) for layer in layers],
        "clusters": [int(layer.clusters.k) for layer in layers],
    }


def worker_analyze(args: argparse.Namespace) -> Result:
    """(b)/(c) ``layerlens.analyze``: time and peak memory; for UMAP a first and a second call."""
    import layerlens

    model, data, setup = _setup(args.model, args.n)

    def run() -> Any:
        return layerlens.analyze(
            model,
            data.images,
            data.labels,
            class_names=data.class_names,
            progress=False,
            projection=args.projection,
            conv_features=args.conv_features,
            explain=0,  # the analysis alone; bench_explain.py measures what explanations add
        )

    result: Result = {**setup, "projection": args.projection, "conv_features": args.conv_features}
    if args.projection == "umap":
        _, result["umap_import_s"] = _timed(lambda: __import__("umap"))
    analysis, measured = _measure(run)
    result.update(measured)
    result.update(_analysis_bytes(analysis))
    result["accuracy"] = None if analysis.metrics is None else float(analysis.metrics.accuracy)
    del analysis
    if args.projection == "umap":
        _, second = _measure(run)
        result["second"] = second
    return result


WORKERS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "train": worker_train,
    "speed": worker_speed,
    "naive": worker_naive,
    "analyze": worker_analyze,
}


def run_as_worker(args: argparse.Namespace) -> int:
    """Run one worker, write its result as JSON to ``args.result``; non-zero exit and traceback on failure."""
    try:
        result = WORKERS[args.worker](args)
    except BaseException:  # noqa: B036  (report anything, even KeyboardInterrupt, as a failed worker)
        traceback.print_exc()
        return 1
    Path(args.result).write_text(json.dumps(result, indent=1))
    return 0


# -- orchestration (parent side: imports neither TensorFlow nor layerlens) -----------------------


class WorkerFailed(RuntimeError):
    """A worker subprocess exited non-zero."""


def run_worker(kind: str, tmp: Path, model: Path, *extra: str, quick: bool = False) -> Result:
    """Run ``--worker kind`` in a fresh interpreter and return its JSON result plus its wall time."""
    out = tmp / f"{kind}-{'-'.join(extra).replace('--', '')}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--result",
        str(out),
        "--model",
        str(model),
        *extra,
    ] + (["--quick"] if quick else [])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    label = f"{kind} {' '.join(extra)}".strip()
    print(f"  running {label} ...", end="", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    print(f" {wall:.1f} s" + ("" if proc.returncode == 0 else f" FAILED (exit {proc.returncode})"), flush=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise WorkerFailed(f"worker {label!r} exited with {proc.returncode}:\n{tail}")
    result = json.loads(out.read_text())
    result["wall_s"] = wall
    return result


def machine_facts() -> Result:
    """Cores, memory, CPU, load and package versions, read without importing TensorFlow."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": pages * page_size / 2**30,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            p: version(p) for p in ("layerlens", "tensorflow", "keras", "numpy", "scikit-learn", "umap-learn", "numba")
        },
        "load_start": os.getloadavg(),
    }


def run_all(args: argparse.Namespace) -> Result:
    """Train once, then run every worker; failures are recorded and the rest goes on."""
    sizes = sorted(args.sizes)
    naive_n = args.naive_size if args.naive_size is not None else sizes[0]
    report: Result = {
        "machine": machine_facts(),
        "sizes": sizes,
        "naive_n": naive_n,
        "errors": [],
        "speed": {},
        "naive": {},
        "pca": {},
        "umap": {},
    }
    with tempfile.TemporaryDirectory(prefix="layerlens-bench-") as tmp_name:
        tmp = Path(tmp_name)
        model = tmp / "phantoms.keras"
        print("Training the example phantoms CNN once (layerlens.app.zoo.train_example) ...")
        report["train"] = run_worker("train", tmp, model, quick=args.quick)
        jobs: list[tuple[str, int | str, str, tuple[str, ...]]] = []
        jobs += [("speed", n, "speed", ("--n", str(n), "--repeats", str(args.repeats))) for n in sizes]
        if not args.skip_naive:
            jobs += [("naive", v, "naive", ("--n", str(naive_n), "--variant", v)) for v in NAIVE_VARIANTS]
        features = ("--conv-features", args.conv_features)
        jobs += [("pca", n, "analyze", ("--n", str(n), "--projection", "pca", *features)) for n in sizes]
        if not args.skip_umap:
            jobs += [("umap", n, "analyze", ("--n", str(n), "--projection", "umap", *features)) for n in sizes]
        print("Measuring, one fresh process each:")
        for section, n, kind, extra in jobs:
            try:
                result = run_worker(kind, tmp, model, *extra, quick=args.quick)
            except WorkerFailed as error:
                report["errors"].append(str(error))
                continue
            report[section][n] = result
    report["machine"]["load_end"] = os.getloadavg()
    return report


# -- report ------------------------------------------------------------------------------------


def _mib(kib: float) -> float:
    return kib / MIB


def _delta_mib(r: Result) -> float:
    return _mib(r["peak_kib"] - r["baseline_kib"])


def _retained_mib(r: Result) -> float:
    return (r["arrays_bytes"] + r["thumbnails_bytes"]) / 2**20


def format_header(report: Result) -> list[str]:
    m, t = report["machine"], report["train"]
    p = m["packages"]
    generation = ", ".join(f"N={n} {r['generate_s']:.1f} s" for n, r in report["pca"].items() if "generate_s" in r)
    return [
        "",
        "=" * 100,
        "layerlens benchmarks: streamed extraction and analyze vs predict and the naive approach",
        "=" * 100,
        f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']:.1f} GiB RAM, "
        f"load average {m['load_start'][0]:.2f} at start, {m['load_end'][0]:.2f} at end",
        f"software: python {m['python']}, tensorflow {p['tensorflow']}, keras {p['keras']}, numpy {p['numpy']}, "
        f"scikit-learn {p['scikit-learn']}, umap-learn {p['umap-learn']}, numba {p['numba']}, "
        f"layerlens {p['layerlens']}",
        f"model: example phantoms CNN, {t['n_parameters']:,} parameters, trained in {t['train_s']:.1f} s "
        f"({t['epochs']} epoch{'s' if t['epochs'] != 1 else ''}, test accuracy {t['test_accuracy']:.3f})",
        f"default layers ({len(t['default_layers'])}): {', '.join(t['default_layers'])}",
        f"images: render_phantoms(N, size={IMAGE_SIZE}, seed={DATA_SEED}) in each worker, not timed below"
        + (f" ({generation})" if generation else ""),
    ]


def format_speed(report: Result) -> list[str]:
    lines = [
        "",
        f"(a) extract vs model.predict, batch {BATCH_SIZE}, median of {report['repeats']} alternating "
        "rounds after one warm-up each",
    ]
    lines.append(
        f"{'N':>6} {'predict s':>10} {'extract s':>10} {'ratio':>6} {'of min':>6}   {'warm-up p/e s':>13} "
        f"{'extract 1 batch s':>17} {'max|Δout|':>10}  runs predict | extract"
    )
    for n, r in report["speed"].items():
        runs = " ".join(f"{s:.2f}" for s in r["predict_s"]) + " | " + " ".join(f"{s:.2f}" for s in r["extract_s"])
        lines.append(
            f"{n:>6} {r['predict_median_s']:>10.2f} {r['extract_median_s']:>10.2f} {r['ratio']:>6.2f} "
            f"{r['ratio_of_minima']:>6.2f}   "
            f"{r['warmup_predict_s']:>5.2f}/{r['warmup_extract_s']:<6.2f} "
            f"{r['extract_one_batch_median_s']:>17.2f} {r['max_abs_output_diff']:>10.1e}  {runs}"
        )
    lines.append(
        "  'of min' = fastest extract / fastest predict; 'extract 1 batch' = one call on 64 images: the fixed "
        "cost (layer trace + tf.function trace) that every extract call pays."
    )
    return lines


def _memory_row(label: str, n: int, r: Result, extra: str = "") -> str:
    return (
        f"{label:<22} {n:>6} {r['seconds']:>8.1f} {_mib(r['baseline_kib']):>11.0f} {_mib(r['peak_kib']):>8.0f} "
        f"{_delta_mib(r):>13.0f}  {extra}"
    )


def format_memory(report: Result) -> list[str]:
    lines = ["", "(b) time and peak RSS (MiB); baseline = TensorFlow + model + images; peak - baseline = the method"]
    lines.append(f"{'method':<22} {'N':>6} {'time s':>8} {'baseline':>11} {'peak':>8} {'peak-baseline':>13}  kept")
    for n, r in report["speed"].items():
        kept = f"features + thumbnails {r['extract_kept_bytes'] / 2**20:.1f} MiB"
        lines.append(_memory_row("extract alone (1st)", n, r["extract_memory"], kept))
    for variant, naive in report["naive"].items():
        lines.append(
            _memory_row(
                f"naive, {variant}",
                report["naive_n"],
                naive,
                f"activation maps {naive['maps_bytes'] / 2**20:.0f} MiB (predict {naive['predict_s']:.1f} s)",
            )
        )
    for n, r in report["pca"].items():
        lines.append(
            _memory_row(
                f"analyze pca ({r.get('conv_features', 'mean')})",
                n,
                r,
                f"N×D arrays {r['arrays_bytes'] / 2**20:.1f} MiB + thumbnails {r['thumbnails_bytes'] / 2**20:.1f} MiB",
            )
        )
    for n, r in report["umap"].items():
        lines.append(_memory_row("analyze umap (1st)", n, r))
        lines.append(_memory_row("analyze umap (2nd)", n, r["second"]))
    for variant, naive in report["naive"].items():
        per_layer = ", ".join(f"{layer['name']} {layer['dim']:,}: {layer['seconds']:.1f}" for layer in naive["layers"])
        lines.append(f"  naive, {variant}, per layer (flattened dim: reduce + cluster + map s): {per_layer}")
    if report["naive"]:
        lines.append(
            "  naive exact = layerlens.layers._clusters.reduce_features on the flattened maps (float64, exact PCA, "
            "as analyze); lean = float32 StandardScaler + sklearn PCA(50), default randomized solver"
        )
    if any(not r["peak_reset"] for r in _measured(report)):
        lines.append("  NOTE: /proc/self/clear_refs was refused: peaks include the setup peak (image generation).")
    return lines


def _measured(report: Result) -> list[Result]:
    rows = list(report["pca"].values()) + list(report["umap"].values())
    rows += [r["extract_memory"] for r in report["speed"].values()]
    rows += [r["second"] for r in report["umap"].values()]
    return rows + list(report["naive"].values())


def format_analyze(report: Result) -> list[str]:
    lines = ["", "(c) whole analyze, seconds (default layers, n_clusters='auto', separability, metrics, paths)"]
    lines.append(f"{'N':>6} {'pca':>8} {'umap 1st':>9} {'umap 2nd':>9} {'umap import':>12} {'umap2/pca':>10}")
    for n, r in report["pca"].items():
        u = report["umap"].get(n)
        if u is None:
            lines.append(f"{n:>6} {r['seconds']:>8.1f}")
            continue
        lines.append(
            f"{n:>6} {r['seconds']:>8.1f} {u['seconds']:>9.1f} {u['second']['seconds']:>9.1f} "
            f"{u['umap_import_s']:>12.1f} {u['second']['seconds'] / r['seconds']:>10.1f}"
        )
    if report["umap"]:
        lines.append(
            "  umap 1st = first analyze call after `import umap` (timed apart): includes numba compiling "
            "what its on-disk cache lacks; 2nd = same call again, warm."
        )
    return lines


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def summary_lines(report: Result) -> list[str]:
    """The ratios of the acceptance criterion, one per line."""
    lines = []
    for n, r in report["speed"].items():
        lines.append(
            f"extract/predict N={n}: {r['ratio']:.2f} (target <= {TARGET_EXTRACT_RATIO}) "
            f"{_verdict(r['ratio'] <= TARGET_EXTRACT_RATIO)}; fastest runs: {r['ratio_of_minima']:.2f} "
            f"{_verdict(r['ratio_of_minima'] <= TARGET_EXTRACT_RATIO)}"
        )
    n0 = report["naive_n"]
    for variant, naive in report["naive"].items():
        a = report["pca"].get(n0)
        if a is None:
            continue
        ratio = naive["peak_kib"] / a["peak_kib"]
        lines.append(
            f"naive {variant}/analyze peak RSS N={n0}: {_mib(naive['peak_kib']):.0f} / "
            f"{_mib(a['peak_kib']):.0f} MiB = {ratio:.1f}x (target >= {TARGET_MEMORY_RATIO:g}) "
            f"{_verdict(ratio >= TARGET_MEMORY_RATIO)}"
        )
        lines.append(
            f"naive {variant}/analyze peak-baseline N={n0}: {_delta_mib(naive):.0f} / {_delta_mib(a):.0f} "
            f"MiB = {_delta_mib(naive) / max(_delta_mib(a), 1.0):.1f}x"
        )
        lines.append(
            f"naive {variant}/analyze time N={n0}: {naive['seconds']:.1f} / {a['seconds']:.1f} s "
            f"= {naive['seconds'] / a['seconds']:.1f}x"
        )
    if len(report["pca"]) >= 2:
        (n1, small), (n2, large) = list(report["pca"].items())[0], list(report["pca"].items())[-1]
        growth, kept = _delta_mib(large) - _delta_mib(small), _retained_mib(large) - _retained_mib(small)
        lines.append(
            f"analyze pca peak-baseline N={n1}→{n2}: {_delta_mib(small):.0f} → {_delta_mib(large):.0f} MiB "
            f"({growth:+.0f}); N×D arrays + thumbnails {_retained_mib(small):.0f} → "
            f"{_retained_mib(large):.0f} MiB (+{kept:.0f}); growth not explained by them: "
            f"{growth - kept:+.0f} MiB"
        )
        speed = report["speed"]
        if n1 in speed and n2 in speed:
            e1, e2 = _delta_mib(speed[n1]["extract_memory"]), _delta_mib(speed[n2]["extract_memory"])
            k1, k2 = (speed[n]["extract_kept_bytes"] / 2**20 for n in (n1, n2))
            lines.append(
                f"extract alone peak-baseline N={n1}→{n2}: {e1:.0f} → {e2:.0f} MiB ({e2 - e1:+.0f}); its features + "
                f"thumbnails {k1:.0f} → {k2:.0f} MiB (+{k2 - k1:.0f}; features copied once more when split per layer)"
            )
    for n, r in report["pca"].items():
        u = report["umap"].get(n)
        if u is not None:
            lines.append(
                f"analyze umap/pca N={n}: 1st {u['seconds']:.1f} s, 2nd {u['second']['seconds']:.1f} s "
                f"vs pca {r['seconds']:.1f} s = {u['seconds'] / r['seconds']:.1f}x / "
                f"{u['second']['seconds'] / r['seconds']:.1f}x"
            )
    return lines


def format_report(report: Result) -> str:
    lines = format_header(report) + format_speed(report) + format_memory(report) + format_analyze(report)
    lines += ["", "summary", "-" * 7] + summary_lines(report)
    if report["quick"]:
        lines.append("(--quick: N and training are too small for the targets to mean anything; smoke run only)")
    if report["errors"]:
        lines += ["", f"{len(report['errors'])} worker(s) FAILED:"] + report["errors"]
    lines.append(f"total wall time: {report['total_s']:.0f} s")
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", help=f"numbers of images (default {DEFAULT_SIZES})")
    parser.add_argument("--naive-size", type=int, help="N of the naive approach (default: the smallest size)")
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: N = {QUICK_SIZES}, model trained {QUICK_EPOCHS} epoch"
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed rounds of predict/extract")
    parser.add_argument("--skip-umap", action="store_true", help="leave out analyze with projection='umap'")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive approach")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    parser.add_argument(
        "--conv-features",
        choices=("mean", "mean_max", "grid"),
        default="mean",
        help="reduction of convolution maps in analyze (default: mean); grid checks the memory bound of grid features",
    )
    # Worker mode, used by the script itself.
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--projection", default="pca", help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=NAIVE_VARIANTS, default="exact", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.worker is None and (min(args.sizes + [args.naive_size or 8]) < 8 or args.repeats < 1):
        parser.error("--sizes, --naive-size: expected numbers of images >= 8; --repeats: expected >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return run_as_worker(args)
    start = time.perf_counter()
    try:
        report = run_all(args)
    except WorkerFailed as error:  # training failed: nothing else can run
        print(error, file=sys.stderr)
        return 1
    report["repeats"] = args.repeats
    report["quick"] = args.quick
    report["total_s"] = time.perf_counter() - start
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
