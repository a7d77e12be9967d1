"""Benchmark ``engine="ray"`` (issue 21): the engine's overhead, a million images, the site of a big run.

Run ``.venv/bin/python benchmarks/bench_scale.py`` from the repository root (``--help`` lists the options;
``--part compare`` or ``--part million`` runs one half). Every measurement runs in a fresh subprocess of this
script (``--worker KIND``), so each peak-memory reading is that process's own; its result comes back as JSON.
Work files go to ``--work`` (default ``/tmp/layerlens-bench-scale``). Nothing is downloaded.

(a) ``compare``: the engine's overhead. ``--compare-images`` (default 20,000) 64x64 grayscale PNGs of the
    brain-MRI phantoms (``render_phantoms``, 1,000 at a time, one sub-folder per class; kept in the work folder
    and reused), read with ``from_directory(..., stream=True)``. ``zoo.small_cnn`` with the phantoms recipe's
    layers, trained for ``--epochs`` epochs on 3,200 other phantoms, saved as ``.keras``; ``analyze`` gets the
    file's path (the Ray workers load it). Then, each in its own process: ``analyze(path, stream, explain=0)``
    with the local engine, and with ``engine="ray"`` and ``workers=1`` and ``workers=2`` on a local Ray cluster
    that the process starts before the clock starts (``ray.init(address="local", num_cpus=2, include_dashboard=False,
    log_to_driver=False, object_store_memory=...)``). The whole ``analyze`` call is timed (pass, fit, assignment,
    gather: the actors' start and TensorFlow import included, the cluster's start excluded), each with a new
    work folder (nothing resumed); then Ray with 1 worker again without the driver's share of the units
    (``DRIVER_SHARE = False``: the workers run every unit). Printed: seconds, images/s, the driver's peak RSS,
    the engine's note (how many units the driver ran), and Ray-with-1-worker ÷ local wall time (target <= 1.3).

(b) ``million``: ``--images`` (default 1,000,000) 28x28 images made ON THE WORKERS from the 5,000 bundled MNIST
    images (``load_mnist``, train + test): ``ray.data.range(N).map_batches(make_batch)``, where image ``i`` is
    bundled image ``i % 5000`` shifted by up to 3 pixels in x and y and given Gaussian noise (sigma 0.08, clipped
    to [0, 1]), both drawn from a generator seeded by ``i``; columns ``image`` and ``label``. The MNIST example
    model (``train_example("mnist")`` for ``--epochs`` epochs on the bundled split) analyses them with
    ``engine="ray"`` (workers: the engine's default) and ``explain=0``. Stages timed in the driver by wrapping
    the library's functions in the measuring process (the library is not changed): the pass on the cluster
    (``engines._ray._run``; the driver writes each block as it arrives, its time in ``WorkFolder.write``
    apart), the join of the blocks into memory-mapped columns (``WorkFolder.join``), the rest of ``analyze``
    (fit and assign per layer, gather), then ``Analysis.save`` and ``build_site``. Beside every stage: the
    driver's RSS when it ended and the peak during it. A sampling thread reads the main thread's stack every
    ``--sample-s`` seconds and the RSS (anonymous and file-backed apart): the layerlens functions where the
    time went and, for each, the highest RSS seen while it was running. Then the run folder's and work folder's
    size, and the site: build time (target <= 10 min), files (target <= 20,000), the model page's weight
    without plotly.min.js (every file requested until first render and 0.5 s of quiet, as ``bench_site.py``
    measures it; target <= 2 MB) and its first render in chromium (paths diagram and first layer map drawn,
    median of ``--loads`` fresh contexts; target <= 3 s). Driver peak = ``ru_maxrss`` of the analysing process
    (target <= 4 GiB); it includes file-backed pages of memory-mapped columns, so the anonymous part is
    printed beside it.

(c) A projection of 1 M and 10 M images on 1, 8 and 64 GPU nodes from (b)'s measured costs: worker seconds
    per image (the pass's wall time x the CPUs its workers held / N: the cost on one CPU core), driver seconds
    per image during the pass (block writes) and after it (join, fit, gather, save, site), and driver bytes per
    image. Assumptions, printed with the table: a GPU node does ``--gpu-speedup`` times the work of one of
    this machine's cores (the images made or read on the node keep pace); the driver's work does not
    parallelise; the pass cannot go faster than the driver writes blocks.

The million takes about 12 minutes here (``--images`` 200,000 about 3).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import math
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parent.parent
PHANTOM_SIZE = 64
RENDER_CHUNK = 1000
MNIST_SHIFT = 3
MNIST_NOISE = 0.08
MNIST_BASE = 5000
GIB = 1024.0**3
MIB = 1024.0**2
MB = 1_000_000
TARGETS = {"ratio": 1.3, "driver_gib": 4.0, "site_s": 600.0, "files": 20000, "weight_mb": 2.0, "render_s": 3.0}
DIGITS = tuple(str(d) for d in range(10))


# ------------------------------------------------------------------------------------------ helpers


def rss_kib() -> tuple[int, int, int]:
    """(RSS, anonymous RSS, file-backed RSS) of this process in KiB, from /proc/self/status."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                found[key] = int(value.split()[0])
    return found.get("VmRSS", 0), found.get("RssAnon", 0), found.get("RssFile", 0) + found.get("RssShmem", 0)


def maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def folder_bytes(folder: Path) -> tuple[int, int]:
    """Bytes and files under ``folder``."""
    size = files = 0
    for path in Path(folder).rglob("*"):
        if path.is_file():
            size += path.stat().st_size
            files += 1
    return size, files


class Sampler:
    """A thread that samples the main thread's stack and the RSS every ``interval`` seconds.

    For every layerlens function on the stack (inclusive), the samples it was in and the highest RSS seen
    meanwhile; for the innermost layerlens function (exclusive), the samples. A poor man's profiler: its cost
    is one stack walk per interval, so the timings it sits beside stay true.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.inclusive: dict[str, int] = defaultdict(int)
        self.exclusive: dict[str, int] = defaultdict(int)
        self.peak: dict[str, tuple[int, int]] = {}
        self.samples = 0
        self.stage = "-"
        self.stage_peak: dict[str, tuple[int, int]] = {}
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        said = time.monotonic()
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._main)
            rss, anon, _ = rss_kib()
            self.samples += 1
            stage = self.stage
            if rss > self.stage_peak.get(stage, (0, 0))[0]:
                self.stage_peak[stage] = (rss, anon)
            seen: list[str] = []
            while frame is not None:
                file = frame.f_code.co_filename
                if "/layerlens/" in file and "/benchmarks/" not in file:
                    short = file.split("/layerlens/", 1)[1]
                    seen.append(f"{short}:{frame.f_code.co_name}")
                frame = frame.f_back
            for name in dict.fromkeys(seen):
                self.inclusive[name] += 1
                if rss > self.peak.get(name, (0, 0))[0]:
                    self.peak[name] = (rss, anon)
            if seen:
                self.exclusive[seen[0]] += 1
            if time.monotonic() - said >= 30.0:  # a line to poll the log by
                said = time.monotonic()
                print(
                    f"  [sampler {time.strftime('%H:%M:%S')}] stage {stage}; in {seen[0] if seen else '-'}; "
                    f"RSS {rss / 1024:.0f} MiB (anon {anon / 1024:.0f})",
                    file=sys.stderr,
                    flush=True,
                )

    def report(self, top: int = 25) -> dict[str, Any]:
        rows = sorted(self.inclusive.items(), key=lambda kv: -kv[1])[:top]
        own = sorted(self.exclusive.items(), key=lambda kv: -kv[1])[:top]
        by_peak = sorted(self.peak.items(), key=lambda kv: -kv[1][0])[:top]
        return {
            "interval": self.interval,
            "samples": self.samples,
            "inclusive": [(n, c * self.interval, self.peak[n][0], self.peak[n][1]) for n, c in rows],
            "exclusive": [(n, c * self.interval) for n, c in own],
            "by_peak": [(n, self.inclusive[n] * self.interval, p[0], p[1]) for n, p in by_peak],
            "stage_peak": self.stage_peak,
        }


class Stages:
    """Wall time, calls and RSS of library functions, by wrapping them in this process only."""

    def __init__(self, sampler: Sampler | None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.rss_after: dict[str, tuple[int, int, int]] = {}
        self.maxrss_after: dict[str, int] = {}
        self.sampler = sampler
        self.order: list[str] = []

    def wrap(self, owner: Any, name: str, label: str, *, stage: bool = False) -> None:
        original = getattr(owner, name)
        if label not in self.order:
            self.order.append(label)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            before = self.sampler.stage if self.sampler is not None else None
            if stage and self.sampler is not None:
                self.sampler.stage = label
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.cpu[label] += time.process_time() - cpu
                self.calls[label] += 1
                if threading.current_thread() is threading.main_thread():
                    self.rss_after[label] = rss_kib()
                    self.maxrss_after[label] = maxrss_kib()
                if stage and self.sampler is not None:
                    self.sampler.stage = before

        setattr(owner, name, timed)

    def run(self, label: str, fn: Any) -> Any:
        """``fn()`` as a stage of its own."""
        if label not in self.order:
            self.order.append(label)
        if self.sampler is not None:
            self.sampler.stage = label
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return fn()
        finally:
            self.seconds[label] += time.perf_counter() - start
            self.cpu[label] += time.process_time() - cpu
            self.calls[label] += 1
            self.rss_after[label] = rss_kib()
            self.maxrss_after[label] = maxrss_kib()
            if self.sampler is not None:
                self.sampler.stage = "-"

    def as_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "seconds": dict(self.seconds),
            "cpu": dict(self.cpu),
            "calls": dict(self.calls),
            "rss_after": self.rss_after,
            "maxrss_after": self.maxrss_after,
        }


def start_ray(cpus: int, object_store_mb: int, *, importable: bool = False) -> float:
    """A local Ray cluster of ``cpus`` CPUs; the seconds it took to start. ``importable``: its workers can
    import this script as ``bench_scale`` (so that :func:`make_batch` goes to them by name)."""
    import ray

    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    start = time.perf_counter()
    ray.init(
        address="local",  # a cluster of our own, even when another one runs on this machine
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=object_store_mb * 1024 * 1024,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}} if importable else None,
    )
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------ workers


def worker_phantom_files(args: argparse.Namespace) -> dict[str, Any]:
    """Write ``args.n`` phantom PNGs into ``args.folder``/<class>/ (kept if already there)."""
    import numpy as np
    from skimage import io

    from layerlens.datasets import render_phantoms

    root = Path(args.folder)
    done = root.parent / f".{root.name}.done"  # beside the folder: from_directory would list it
    start = time.perf_counter()
    if not done.is_file():
        shutil.rmtree(root, ignore_errors=True)
        for first in range(0, args.n, RENDER_CHUNK):
            chunk = render_phantoms(min(RENDER_CHUNK, args.n - first), size=PHANTOM_SIZE, seed=1000 + first)
            for i, (image, label) in enumerate(zip(chunk.images, chunk.labels)):
                folder = root / chunk.class_names[label]
                folder.mkdir(parents=True, exist_ok=True)
                pixels = np.round(image[..., 0] * 255).astype(np.uint8)
                io.imsave(folder / f"{first + i:06d}.png", pixels, check_contrast=False)
        done.write_text("")
    size, files = folder_bytes(root)
    return {"n": args.n, "seconds": time.perf_counter() - start, "bytes": size, "files": files}


def worker_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train an example model (``args.recipe``) for ``args.epochs`` epochs and save it as ``args.model``."""
    from layerlens.app.zoo import train_example

    trained = train_example(args.recipe, seed=0, epochs=args.epochs)
    out = Path(args.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    trained.model.save(out)
    return {
        "recipe": args.recipe,
        "accuracy": trained.test_accuracy,
        "seconds": trained.train_seconds,
        "params": trained.model.count_params(),
    }


def worker_compare(args: argparse.Namespace) -> dict[str, Any]:
    """``analyze`` of the phantom PNGs read as a stream, with the local engine or with Ray and ``args.workers``."""
    import layerlens
    from layerlens.datasets import from_directory

    cluster_s = None
    if args.engine == "ray":
        cluster_s = start_ray(args.cpus, args.object_store_mb)
        if args.no_share:
            import layerlens.engines._ray as engine

            engine.DRIVER_SHARE = False
    stream = from_directory(args.folder, image_size=PHANTOM_SIZE, color_mode="grayscale", stream=True)
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    extra = {} if args.engine == "local" else {"engine": "ray", "workers": args.workers, "work_dir": str(work)}
    before = maxrss_kib()
    start = time.perf_counter()
    analysis = layerlens.analyze(args.model, stream, explain=0, progress=False, **extra)
    seconds = time.perf_counter() - start
    return {
        "engine": args.engine,
        "workers": args.workers,
        "n": analysis.n_images,
        "seconds": seconds,
        "cluster_s": cluster_s,
        "maxrss_kib": maxrss_kib(),
        "maxrss_before_kib": before,
        "note": analysis.settings.engine_note,
        "accuracy": None if analysis.metrics is None else float(analysis.metrics.accuracy),
        "batch_size": analysis.settings.batch_size,
    }


def make_batch(batch: dict[str, Any], base_file: str) -> dict[str, Any]:
    """Images ``batch["id"]`` made from the bundled MNIST images: image ``i`` is bundled image ``i % 5000``
    shifted by up to :data:`MNIST_SHIFT` pixels and noised (sigma :data:`MNIST_NOISE`), both seeded by ``i``."""
    import numpy as np

    base, labels = _base(base_file)
    ids = np.asarray(batch["id"], dtype=np.int64)
    n, (h, w) = len(ids), base.shape[1:3]
    out = np.empty((n, h, w, 1), np.float32)
    pad = MNIST_SHIFT
    for j, i in enumerate(ids):
        rng = np.random.default_rng(int(i))
        dy, dx = rng.integers(-pad, pad + 1, size=2)
        source = base[i % len(base)]
        shifted = np.zeros_like(source)
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        shifted[yd, xd] = source[ys, xs]
        out[j] = shifted + rng.normal(0.0, MNIST_NOISE, size=shifted.shape).astype(np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return {"image": out, "label": labels[ids % len(base)]}


@functools.lru_cache(maxsize=1)
def _base(path: str) -> tuple[Any, Any]:
    import numpy as np

    with np.load(path) as stored:
        return stored["images"], stored["labels"]


class StopAfter(Exception):
    """Ends the big run after the stage ``--stop-after`` names."""


def worker_million(args: argparse.Namespace) -> dict[str, Any]:
    """The big run: images made on the workers, ``analyze`` with Ray, save, build the site; stages timed."""
    import numpy as np

    import layerlens
    import layerlens.engines._ray as ray_engine
    import layerlens.engines._work as work_module
    import layerlens.run._analyze as analyze_module
    import layerlens.run._compute as compute_module
    import layerlens.run._gather as gather_module
    import layerlens.run._pass as pass_module
    import layerlens.run._store as store_module
    from layerlens.datasets import load_mnist

    work = Path(args.work)
    base_file = work / "mnist-base.npz"
    train, test = load_mnist(seed=0)
    images = np.concatenate([train.images, test.images])
    labels = np.concatenate([train.labels, test.labels])
    np.savez(base_file, images=images, labels=labels)

    cluster_s = start_ray(args.cpus, args.object_store_mb, importable=True)
    import bench_scale  # the generator by name: a function of __main__ would reach the workers by value
    import ray
    import ray.data

    sampler = Sampler(args.sample_s).start()
    stages = Stages(sampler)
    stages.wrap(analyze_module, "run_pass", "pass (run_pass)")
    stages.wrap(ray_engine, "_run", "  on the cluster (_run)", stage=True)
    stages.wrap(work_module.WorkFolder, "write", "    driver: write blocks (WorkFolder.write)")
    stages.wrap(work_module.WorkFolder, "notes", "  driver: notes of blocks (WorkFolder.notes)", stage=True)
    stages.wrap(work_module.WorkFolder, "join", "  driver: join blocks (WorkFolder.join)", stage=True)
    stages.wrap(ray_engine, "_extraction", "  driver: _extraction", stage=True)
    stages.wrap(pass_module, "_keep_candidates", "  driver: _keep_candidates", stage=True)
    stages.wrap(analyze_module, "to_probabilities", "to_probabilities", stage=True)
    stages.wrap(compute_module, "compute_analysis", "compute_analysis", stage=True)
    stages.wrap(compute_module, "fit_layer", "  fit_layer (per layer)", stage=True)
    stages.wrap(compute_module, "assign_layer", "  assign_layer (per layer)", stage=True)
    stages.wrap(compute_module, "gather", "  gather", stage=True)
    stages.wrap(gather_module, "paths_table", "    paths_table")
    stages.wrap(gather_module, "_doubt", "    _doubt")
    stages.wrap(gather_module, "path_statistics", "    path_statistics")
    stages.wrap(gather_module, "findings_of", "    findings_of")
    stages.wrap(store_module, "_analysis_arrays", "  save: _analysis_arrays")
    stages.wrap(store_module, "_npz_bytes", "  save: _npz_bytes")
    stages.wrap(store_module, "_pngs", "  save: _pngs")
    for name in ("write_columns", "read_columns", "load"):  # the run format of big runs, while it lands
        if hasattr(store_module, name):
            stages.wrap(store_module, name, f"  store: {name}")

    n = args.images
    dataset = ray.data.range(n, override_num_blocks=max(1, n // args.block_rows)).map_batches(
        bench_scale.make_batch, fn_kwargs={"base_file": str(base_file)}, batch_size=args.gen_batch
    )
    run_dir, site_dir, work_dir = work / f"run-{n}", work / f"site-{n}", work / f"blocks-{n}"
    for folder in (run_dir, site_dir, work_dir):
        shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {
        "n": n,
        "cluster_s": cluster_s,
        "baseline_kib": rss_kib(),
        "maxrss_start_kib": maxrss_kib(),
    }
    profile = cProfile.Profile() if args.profile else None
    if args.stop_after == "pass":  # the pass, its join and the driver's memory through them; nothing after

        def stop(*_: Any, **__: Any) -> Any:
            raise StopAfter("stopped after the pass (--stop-after pass)")

        analyze_module.to_probabilities = stop
    if args.stop_after == "assign":  # ... and the layers fitted and assigned; not gather (doubt, findings)

        def stop_at_gather(*_: Any, **__: Any) -> Any:
            raise StopAfter("stopped after fit and assign, before gather (--stop-after assign)")

        compute_module.gather = stop_at_gather

    def analyze() -> Any:
        return layerlens.analyze(
            args.model, dataset, class_names=DIGITS, explain=0, progress=False, engine="ray",
            work_dir=str(work_dir), name=f"mnist-{n}",
        )  # fmt: skip

    try:
        if profile is not None:
            profile.enable()
        analysis = stages.run("analyze (total)", analyze)
        result["note"] = analysis.settings.engine_note
        result["n_images"] = analysis.n_images
        result["accuracy"] = None if analysis.metrics is None else float(analysis.metrics.accuracy)
        result["batch_size"] = analysis.settings.batch_size
        result["k"] = [int(layer.clusters.k) for layer in analysis.layers if hasattr(layer.clusters, "k")]
        result["maxrss_analyze_kib"] = maxrss_kib()
        if args.stop_after == "analyze":
            raise StopAfter("stopped after analyze (--stop-after analyze)")
        stages.run("save", functools.partial(analysis.save, run_dir))
        result["maxrss_save_kib"] = maxrss_kib()
        result["run_bytes"], result["run_files"] = folder_bytes(run_dir)
        result["work_bytes"], result["work_files"] = folder_bytes(work_dir)
        result["work_parts"] = (
            {p.name: folder_bytes(p)[0] for p in work_dir.iterdir() if p.is_dir()} if work_dir.is_dir() else {}
        )
        result["run_parts"] = sorted(
            ((str(p.relative_to(run_dir)), p.stat().st_size) for p in run_dir.rglob("*") if p.is_file()),
            key=lambda r: -r[1],
        )[:8]
        del analysis
        if args.stop_after == "save":
            raise StopAfter("stopped after save (--stop-after save)")
        if not args.skip_site:
            stages.run(
                "build_site (from the run folder)", lambda: layerlens.build_site([run_dir], site_dir, progress=False)
            )
            result["maxrss_site_kib"] = maxrss_kib()
            result["site_bytes"], result["site_files"] = folder_bytes(site_dir)
            parts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for path in site_dir.rglob("*"):
                if path.is_file():
                    rel = path.relative_to(site_dir).parts
                    key = "/".join(p if not p[:1].isdigit() else "*" for p in rel[:-1][:4]) or "."
                    parts[key][0] += 1
                    parts[key][1] += path.stat().st_size
            result["site_parts"] = sorted(((k, v[0], v[1]) for k, v in parts.items()), key=lambda r: -r[1])[:12]
    except StopAfter as stopped:
        result["stopped"] = str(stopped)
    except BaseException as error:  # report what was measured up to the failure
        import traceback

        result["error"] = f"{type(error).__name__}: {error}"
        result["traceback"] = traceback.format_exc()[-4000:]
    finally:
        if profile is not None:
            profile.disable()
        sampler.stop()
    result["maxrss_kib"] = maxrss_kib()
    result["stages"] = stages.as_dict()
    result["sampler"] = sampler.report()
    result["site_dir"] = str(site_dir)
    result["run_dir"] = str(run_dir)
    result["cpus_of_workers"] = _worker_cpus(result.get("note", ""))
    if profile is not None:
        out = work / f"profile-{n}.pstats"
        profile.dump_stats(out)
        stats = pstats.Stats(str(out))
        rows = []
        for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            if "/layerlens/" in file:
                rows.append((f"{file.split('/layerlens/', 1)[1]}:{line}:{func}", nc, tt, ct))
        result["profile"] = sorted(rows, key=lambda r: -r[3])[:30]
        result["profile_own"] = sorted(rows, key=lambda r: -r[2])[:20]
    return result


def _worker_cpus(note: str) -> float | None:
    """CPUs the pass's workers held in all, from the engine's note ("Ray: 1 worker (1 CPU each) ...")."""
    import re

    found = re.search(r"Ray: (\d+) workers? \(([\d.]+) CPU", note or "")
    return None if found is None else int(found.group(1)) * float(found.group(2))


def worker_browser(args: argparse.Namespace) -> dict[str, Any]:
    """Weight and first render of the model page of ``args.site`` (``bench_site.py``'s measurement)."""
    from bench_site import (
        CHROMIUM,
        CHROMIUM_ARGS,
        MODEL_PARTS,
        PLOTLY_ONLY,
        PLOTLY_PARTS,
        load_page,
        model_page,
        weight,
    )
    from playwright.sync_api import sync_playwright

    site = Path(args.site)
    page_file = model_page(site)
    reference = Path(args.work) / "plotly-only.html"  # the floor of any page that draws a plot
    reference.write_text(PLOTLY_ONLY.format(src=(site / "assets" / "plotly.min.js").as_uri()), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [load_page(browser, page_file, MODEL_PARTS) for _ in range(args.loads)]
        floor = [load_page(browser, reference, PLOTLY_PARTS)["render_ms"] for _ in range(args.loads)]
        browser.close()
    return {
        "page": str(page_file.relative_to(site)),
        "render_ms": [r["render_ms"] for r in runs],
        "parts_ms": {part: [r["parts_ms"][part] for r in runs] for part in MODEL_PARTS},
        "ready_ms": [r["ready_ms"] for r in runs],
        "plotly_only_ms": floor,
        "weight": weight(runs[0]["requested"], site),
        "failed": sorted({u for r in runs for u in r["failed"]}),
        "errors": sorted({e for r in runs for e in r["errors"]})[:10],
    }


WORKERS = {
    "phantom_files": worker_phantom_files,
    "train": worker_train,
    "compare": worker_compare,
    "million": worker_million,
    "browser": worker_browser,
}


def run_worker(kind: str, results: Path, **options: Any) -> dict[str, Any]:
    """This script as ``--worker kind`` in a fresh interpreter (its output goes to this one's); its JSON."""
    out = results / f"result-{kind}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--result", str(out)]
    for key, value in options.items():
        if isinstance(value, bool):
            cmd += [f"--{key.replace('_', '-')}"] if value else []
        else:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    label = " ".join(f"{k}={v}" for k, v in options.items() if k in ("n", "engine", "workers", "images"))
    print(f"  running {kind} {label} ...", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=REPO)
    print(f"  ... {kind} {label}: {time.perf_counter() - start:.1f} s", flush=True)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"worker {kind} failed (exit {proc.returncode}); its output is above")
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------------------ the parts


def part_compare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.compare_images
    folder = work / f"phantoms-{n}"
    model = work / "phantoms.keras"
    files = run_worker("phantom_files", work, n=n, folder=folder)
    print(f"  {files['files']:,} PNGs, {files['bytes'] / MIB:.1f} MiB, written in {files['seconds']:.1f} s", flush=True)
    trained = run_worker("train", work, recipe="phantoms", epochs=args.epochs, model=model)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # The last: the workers alone, without the driver's share of the units (engines/_share.py).
    configs = [("local", 0, True), ("ray", 1, True), ("ray", 2, True), ("ray", 1, False)]
    for _ in range(args.repeats):
        for engine, workers, share in configs:
            runs[f"{engine}-{workers}{'' if share else '-workers-only'}"].append(
                run_worker(
                    "compare", work, engine=engine, workers=workers, folder=folder, model=model, cpus=args.cpus,
                    object_store_mb=args.object_store_mb, work_dir=work / f"compare-blocks-{engine}-{workers}",
                    no_share=not share,
                )
            )  # fmt: skip
    return {"files": files, "trained": trained, "runs": dict(runs)}


def part_million(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    model = work / "mnist.keras"
    trained = run_worker("train", work, recipe="mnist", epochs=args.epochs, model=model)
    big = run_worker(
        "million", work, images=args.images, model=model, work=work, cpus=args.cpus,
        object_store_mb=args.object_store_mb, sample_s=args.sample_s, block_rows=args.block_rows,
        gen_batch=args.gen_batch, skip_site=args.skip_site, profile=args.profile,
        **({"stop_after": args.stop_after} if args.stop_after else {}),
    )  # fmt: skip
    pages = None
    if (
        not args.skip_site
        and not args.skip_browser
        and "error" not in big
        and not args.stop_after
        and Path(big["site_dir"]).is_dir()
    ):
        try:
            pages = run_worker("browser", work, site=big["site_dir"], loads=args.loads, work=work)
        except RuntimeError as error:
            pages = {"error": str(error)}
    return {"trained": trained, "big": big, "pages": pages}


# ------------------------------------------------------------------------------------------ report


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISS"


def format_compare(report: dict[str, Any]) -> list[str]:
    runs = report["runs"]
    t = report["trained"]
    lines = [
        "",
        f"(a) engine overhead: {report['files']['files']:,} phantom PNGs 64x64 read as a stream; phantoms "
        f"small_cnn ({t['params']:,} parameters, test accuracy {t['accuracy']:.3f}, trained in {t['seconds']:.0f} s)",
        f"{'engine':<20} {'seconds':>9} {'images/s':>9} {'all runs s':>20} {'driver peak MiB':>16} "
        f"{'cluster s':>10}  note",
    ]
    median = {}
    for key, rows in runs.items():
        secs = [r["seconds"] for r in rows]
        m = statistics.median(secs)
        median[key] = m
        r = rows[0]
        cluster = "" if r["cluster_s"] is None else f"{r['cluster_s']:.1f}"
        lines.append(
            f"{key:<20} {m:>9.1f} {r['n'] / m:>9.0f} {', '.join(f'{s:.1f}' for s in secs):>20} "
            f"{max(x['maxrss_kib'] for x in rows) / 1024:>16.0f} {cluster:>10}  {r['note']}"
        )
    ratio = median["ray-1"] / median["local-0"]
    ratio2 = median["ray-2"] / median["local-0"]
    alone = median.get("ray-1-workers-only", math.nan) / median["local-0"]
    lines.append(
        f"Ray with 1 worker ÷ local: {ratio:.2f} (target <= {TARGETS['ratio']}: {_ok(ratio <= TARGETS['ratio'])}); "
        f"Ray with 2 workers ÷ local: {ratio2:.2f}; Ray with 1 worker, without the driver's share: {alone:.2f}"
    )
    report["ratio"] = ratio
    return lines


def _stage_rows(big: dict[str, Any]) -> list[str]:
    st = big["stages"]
    lines = [
        f"{'stage':<50} {'seconds':>9} {'cpu s':>7} {'calls':>6} {'RSS after MiB':>14} {'peak so far MiB':>16} "
        f"{'peak in stage MiB':>18}"
    ]
    peaks = big["sampler"]["stage_peak"]
    for label in st["order"]:
        if label not in st["seconds"]:
            continue
        rss = st["rss_after"].get(label, (0, 0, 0))
        peak = peaks.get(label, (0, 0))[0]
        lines.append(
            f"{label:<50} {st['seconds'][label]:>9.1f} {st.get('cpu', {}).get(label, float('nan')):>7.1f} "
            f"{st['calls'][label]:>6} {rss[0] / 1024:>8.0f} "
            f"(a {rss[1] / 1024:>4.0f}) {st['maxrss_after'].get(label, 0) / 1024:>16.0f} "
            f"{(peak / 1024 if peak else float('nan')):>18.0f}"
        )
    return lines


def format_million(report: dict[str, Any]) -> list[str]:
    big, t = report["big"], report["trained"]
    n = big["n"]
    lines = [
        "",
        f"(b) {n:,} MNIST images made on the workers, MNIST example model ({t['params']:,} parameters, test "
        f"accuracy {t['accuracy']:.3f}, trained in {t['seconds']:.0f} s); cluster start {big['cluster_s']:.1f} s "
        "(not counted)",
        f"engine: {big.get('note', '-')}",
    ]
    if "stopped" in big:
        lines.append(big["stopped"])
    if "error" in big:
        lines += [f"FAILED: {big['error']}", big.get("traceback", "")]
    lines += _stage_rows(big)
    st = big["stages"]["seconds"]
    total = st.get("analyze (total)")
    passed = st.get("pass (run_pass)")
    if total is not None and passed is not None:
        lines.append(
            f"analyze {total:.1f} s = pass {passed:.1f} s ({n / passed:.0f} images/s, blocks written and joined "
            f"included) + the rest {total - passed:.1f} s; analyze overall {n / total:.0f} images/s"
        )
    peak = big["maxrss_kib"] * 1024 / GIB
    lines.append(
        f"driver peak RSS (ru_maxrss): {peak:.2f} GiB (target <= {TARGETS['driver_gib']:g} GiB: "
        f"{_ok(peak <= TARGETS['driver_gib'])}); at the start {big['maxrss_start_kib'] / 1024:.0f} MiB; after "
        f"analyze {big.get('maxrss_analyze_kib', 0) / 1024:.0f} MiB, after save "
        f"{big.get('maxrss_save_kib', 0) / 1024:.0f} MiB"
        + (f", after the site {big['maxrss_site_kib'] / 1024:.0f} MiB" if "maxrss_site_kib" in big else "")
    )
    if "maxrss_analyze_kib" in big:
        per = (big["maxrss_analyze_kib"] - big["maxrss_start_kib"]) * 1024 / n
        lines.append(f"  driver peak growth in analyze: {per:.0f} bytes per image")
    if "run_bytes" in big:
        lines.append(
            f"run folder: {big['run_bytes'] / MIB:.1f} MiB in {big['run_files']} files "
            f"({big['run_bytes'] / n:.0f} B per "
            f"image); biggest: " + ", ".join(f"{name} {size / MIB:.1f} MiB" for name, size in big["run_parts"][:5])
        )
        lines.append(
            f"work folder: {big['work_bytes'] / MIB:.1f} MiB in {big['work_files']} files: "
            + ", ".join(f"{k} {v / MIB:.1f} MiB" for k, v in big["work_parts"].items())
        )
    if "site_files" in big:
        site_s = st["build_site (from the run folder)"]
        lines.append(
            f"site: built in {site_s:.1f} s (target <= {TARGETS['site_s']:g} s: {_ok(site_s <= TARGETS['site_s'])}); "
            f"{big['site_files']:,} files (target <= {TARGETS['files']:,}: "
            f"{_ok(big['site_files'] <= TARGETS['files'])}), "
            f"{big['site_bytes'] / MIB:.1f} MiB"
        )
        lines.append("  by folder: " + "; ".join(f"{k} {c} files {b / MIB:.1f} MiB" for k, c, b in big["site_parts"]))
    pages = report.get("pages")
    if pages is not None and "error" not in pages:
        w = pages["weight"]
        render = statistics.median(pages["render_ms"]) / 1000
        lines.append(
            f"model page {pages['page']}: weight without plotly.min.js {w['bytes'] / MB:.2f} MB in {w['files']} files "
            f"(target <= {TARGETS['weight_mb']:g} MB: {_ok(w['bytes'] / MB <= TARGETS['weight_mb'])}); biggest: "
            + ", ".join(f"{name} {size / 1000:.0f} kB" for name, size in w["biggest"][:5])
        )
        parts = ", ".join(f"{k} {statistics.median(v):.0f} ms" for k, v in pages["parts_ms"].items())
        lines.append(
            f"  first render {render:.2f} s median of {', '.join(f'{v / 1000:.2f}' for v in pages['render_ms'])} "
            f"(target <= {TARGETS['render_s']:g} s: {_ok(render <= TARGETS['render_s'])}); {parts}; DOMContentLoaded "
            f"{statistics.median(pages['ready_ms']):.0f} ms"
            + (
                f"; a page loading plotly.min.js alone: {statistics.median(pages['plotly_only_ms']):.0f} ms"
                if pages.get("plotly_only_ms")
                else ""
            )
        )
        if pages["failed"] or pages["errors"]:
            lines.append(f"  failed requests {pages['failed'][:5]}; page errors {pages['errors'][:5]}")
    elif pages is not None:
        lines.append(f"browser: {pages['error']}")
    s = big["sampler"]
    lines += [
        "",
        f"where the driver's time and memory went (stack sampled every {s['interval']:g} s, {s['samples']} samples):",
        f"{'layerlens function (inclusive)':<70} {'seconds':>8} {'peak RSS MiB':>13} {'anon MiB':>9}",
    ]
    for name, secs, peak_rss, anon in s["inclusive"][:22]:
        lines.append(f"{name[:70]:<70} {secs:>8.1f} {peak_rss / 1024:>13.0f} {anon / 1024:>9.0f}")
    lines += [f"{'innermost layerlens function (own time)':<70} {'seconds':>8}"]
    for name, secs in s["exclusive"][:12]:
        lines.append(f"{name[:70]:<70} {secs:>8.1f}")
    if big.get("profile"):
        lines += [
            "",
            "cProfile (main thread), layerlens functions by cumulative time:",
            f"{'function':<70} {'calls':>8} {'own s':>8} {'cum s':>8}",
        ]
        for name, calls, own, cum in big["profile"][:20]:
            lines.append(f"{name[:70]:<70} {calls:>8} {own:>8.1f} {cum:>8.1f}")
    return lines


#: The driver's stages, disjoint, as (name, stages added, stages taken away, exponent) of the measured labels.
#: The exponent b of t = c N^b used to project: None fits it through the two largest runs; a number is what the
#: stage's algorithm does past the sizes where it changes method (a fit between regimes would mislead):
#: the blocks, assignment, save and sprites are linear; doubt's neighbours are searched approximately
#: (pynndescent) from 158,000 images on (reference x analysed pairs >= 2.5e10), about N^1.1.
DRIVER_STAGES = (
    ("pass: driver's own part (model, first batch, ...)", ("pass (run_pass)",),
     ("  on the cluster (_run)", "  driver: join blocks (WorkFolder.join)"), None),
    ("join blocks (WorkFolder.join)", ("  driver: join blocks (WorkFolder.join)",), (), 1.0),
    ("fit_layer", ("  fit_layer (per layer)",), (), None),
    ("assign_layer", ("  assign_layer (per layer)",), (), 1.0),
    ("gather: _doubt", ("    _doubt",), (), 1.1),
    ("gather: findings_of", ("    findings_of",), (), None),
    ("gather: the rest", ("  gather",), ("    _doubt", "    findings_of"), None),
    ("compute_analysis: the rest", ("compute_analysis",),
     ("  fit_layer (per layer)", "  assign_layer (per layer)", "  gather"), None),
    ("analyze: the rest", ("analyze (total)",), ("pass (run_pass)", "compute_analysis"), None),
    ("save", ("save",), (), 1.0),
    ("build_site", ("build_site (from the run folder)",), (), 1.0),
)  # fmt: skip


def driver_stages(big: dict[str, Any]) -> dict[str, float]:
    """Seconds of each of :data:`DRIVER_STAGES` in one big run (stages it did not reach left out)."""
    st = big["stages"]["seconds"]
    found = {}
    stopped = "stopped" in big or "error" in big  # stages cut short are left out
    for name, plus, minus, _ in DRIVER_STAGES:
        if stopped and name in ("compute_analysis: the rest", "analyze: the rest", "gather: the rest"):
            continue
        if all(label in st for label in plus):
            found[name] = max(sum(st[label] for label in plus) - sum(st.get(label, 0.0) for label in minus), 0.0)
    return found


def growth(points: list[tuple[int, float]]) -> tuple[float, float, int]:
    """(exponent b, seconds at the largest N, that N) of t = c N^b through the two largest runs; b = 1 from one."""
    points = sorted(p for p in points if p[1] > 0)
    if not points:
        return 1.0, 0.0, 1
    n2, t2 = points[-1]
    if len(points) == 1 or points[-2][0] == n2:
        return 1.0, t2, n2
    n1, t1 = points[-2]
    b = math.log(t2 / max(t1, 1e-3)) / math.log(n2 / n1)
    return min(max(b, 0.0), 2.5), t2, n2


def projection(reports: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """1 M and 10 M images on 1, 8 and 64 GPU nodes, from the measured costs of the big runs in ``reports``."""
    runs = [r["big"] for r in reports if "pass (run_pass)" in r["big"]["stages"]["seconds"]]
    if not runs:
        return ["", "(c) projection: no pass measured"]
    runs.sort(key=lambda b: b["n"])
    largest = runs[-1]
    st = largest["stages"]["seconds"]
    n = largest["n"]
    cluster_pass = st.get("  on the cluster (_run)", st["pass (run_pass)"])
    write = st.get("    driver: write blocks (WorkFolder.write)", 0.0)
    cpus = largest.get("cpus_of_workers") or 1.0
    worker_s = cluster_pass * cpus / n  # core-seconds per image on the workers
    # The driver's own work during the pass (receiving and writing blocks): its CPU seconds in _run.
    during = largest["stages"].get("cpu", {}).get("  on the cluster (_run)", write) / n
    sizes = ", ".join(f"{b['n']:,}" for b in runs)
    lines = [
        "",
        f"(c) projection from the measured runs (N = {sizes}):",
        f"  worker: {worker_s * 1e3:.3f} core-ms per image (N = {n:,}: the pass on the cluster {cluster_pass:.1f} s x "
        f"{cpus:g} worker CPUs / N; the images made inside the same actor, Ray Data fusing make_batch into it); "
        f"driver during the pass: {during * 1e3:.4f} CPU-ms per image (receiving and writing blocks; "
        f"{write * 1e3 / n:.4f} ms of it in WorkFolder.write)",
        "  driver stages, t = c N^b through the two largest runs (wall time; b from runs at different machine load "
        "is rough):",
        f"  {'stage':<52} "
        + " ".join(f"{'N=' + format(b['n'], ','):>12}" for b in runs)
        + f" {'b fit':>6} {'b used':>6} {'1M s':>8} {'10M s':>9}",
    ]
    per_run = [driver_stages(b) for b in runs]
    after = {1_000_000: 0.0, 10_000_000: 0.0}
    for name, _, _, fixed in DRIVER_STAGES:
        points = [(b["n"], d[name]) for b, d in zip(runs, per_run) if name in d]
        if not points:
            continue
        fitted, t2, n2 = growth(points)
        b_exp = fitted if fixed is None else fixed
        for total in after:
            after[total] += t2 * (total / n2) ** b_exp
        row = " ".join(f"{d[name]:>12.1f}" if name in d else f"{'-':>12}" for d in per_run)
        lines.append(
            f"  {name:<52} {row} {fitted:>6.2f} {b_exp:>6.2f} {t2 * (1e6 / n2) ** b_exp:>8.0f} "
            f"{t2 * (1e7 / n2) ** b_exp:>9.0f}"
        )
    whole = [b for b in runs if "stopped" not in b and "error" not in b] or runs
    peaks = sorted((b["n"], b.get("maxrss_save_kib") or b["maxrss_kib"]) for b in whole)
    floors = [b for b in runs if b not in whole]
    if len(peaks) >= 2 and peaks[-1][0] != peaks[-2][0]:
        (n1, m1), (n2, m2) = peaks[-2], peaks[-1]
        slope = (m2 - m1) * 1024 / (n2 - n1)
        base = m2 * 1024 - slope * n2
    else:
        slope, base = (
            (peaks[-1][1] - largest["maxrss_start_kib"]) * 1024 / peaks[-1][0],
            largest["maxrss_start_kib"] * 1024,
        )
    g = args.gpu_speedup
    lines += [
        f"  driver peak RSS: {slope:.0f} bytes per image above {base / MIB:.0f} MiB (line through the two largest "
        "complete runs' peaks after save)"
        + "".join(
            f"; N = {b['n']:,} ({b.get('stopped', b.get('error', ''))}) peaked at "
            f"{b['maxrss_kib'] / 1024 / 1024:.2f} GiB already"
            for b in floors
        ),
        f"  assumptions: one GPU node = {g:g} x one core of this machine for this model (--gpu-speedup; an "
        "assumption, not a measurement: a 28x28 CNN on a GPU is bound by feeding it); images made or read on the "
        "nodes keep pace; the pass goes no faster than the driver receives and writes blocks (its CPU time in the "
        "pass per image); the driver's stages run on one "
        "machine like this one, as measured, and do not parallelise with nodes; cluster and actor start left out.",
        f"{'images':>12} {'nodes':>6} {'pass':>10} {'driver after':>13} {'total':>10} {'driver share':>13} "
        f"{'driver GiB':>11}",
    ]
    for total_n in (1_000_000, 10_000_000):
        for nodes in (1, 8, 64):
            pass_s = max(total_n * worker_s / (nodes * g), total_n * during)
            driver_s = after[total_n]
            whole = pass_s + driver_s
            lines.append(
                f"{total_n:>12,} {nodes:>6} {_hms(pass_s):>10} {_hms(driver_s):>13} {_hms(whole):>10} "
                f"{driver_s / whole:>12.0%} {(base + slope * total_n) / GIB:>11.1f}"
            )
    return lines


def _hms(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def source_digest() -> str:
    """A digest of layerlens' sources and templates as they are now (others edit the working tree)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted([*(REPO / "layerlens").rglob("*.py"), *(REPO / "site_templates").rglob("*.*")]):
        h.update(str(path.relative_to(REPO)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("all", "compare", "million"), default="all")
    parser.add_argument("--images", type=int, default=1_000_000, help="images of the big run (b)")
    parser.add_argument("--compare-images", type=int, default=20_000, help="phantom PNGs of (a)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each engine in (a); the median is reported")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of the example models")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--no-share", action="store_true", help="(a) worker: the Ray workers run every unit")
    parser.add_argument("--object-store-mb", type=int, default=2048)
    parser.add_argument("--block-rows", type=int, default=8192, help="rows per block of ray.data.range in (b)")
    parser.add_argument("--gen-batch", type=int, default=1024, help="images per make_batch call in (b)")
    parser.add_argument("--sample-s", type=float, default=0.25, help="interval of the stack sampler in (b)")
    parser.add_argument("--profile", action="store_true", help="cProfile the main thread of (b) (slower)")
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--loads", type=int, default=3, help="loads of the model page in chromium")
    parser.add_argument("--gpu-speedup", type=float, default=50.0, help="a GPU node's work as a multiple of one core's")
    parser.add_argument("--work", default="/tmp/layerlens-bench-scale", help="work folder (the --worker's too)")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument(
        "--fit-from", nargs="*", help="--json files of earlier (b) runs at other N, for (c)'s growth fits"
    )
    parser.add_argument("--project", nargs="+", help="only print (c) from these --json files of (b) runs")
    parser.add_argument(
        "--stop-after",
        choices=("pass", "assign", "analyze", "save"),
        help="end (b) after this stage (assign: every layer fitted and assigned, before gather)",
    )
    # a worker's own options
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--result")
    for name in ("folder", "model", "recipe", "engine", "work-dir", "site"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--n", type=int)
    parser.add_argument("--workers", type=int)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        result = WORKERS[args.worker](args)
        Path(args.result).write_text(json.dumps(result, default=str))
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"bench_scale: {machine()}; work folder {work}; layerlens sources {source_digest()}", flush=True)
    if args.project:
        print("\n".join(projection([json.loads(Path(f).read_text())["million"] for f in args.project], args)))
        return 0
    report: dict[str, Any] = {"args": vars(args)}
    lines: list[str] = []
    if args.part in ("all", "compare"):
        report["compare"] = part_compare(args, work)
        lines += format_compare(report["compare"])
        print("\n".join(lines), flush=True)
    if args.part in ("all", "million"):
        report["million"] = part_million(args, work)
        earlier = [json.loads(Path(f).read_text())["million"] for f in args.fit_from or []]
        more = format_million(report["million"]) + projection([*earlier, report["million"]], args)
        lines += more
        print("\n".join(more), flush=True)
    print(
        f"\nbench_scale: {time.perf_counter() - started:.0f} s in all; {machine()}; layerlens sources "
        f"{source_digest()}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
