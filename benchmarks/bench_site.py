"""Benchmark the static site of a large run: build time, size, page weight and load time in chromium.

Run ``.venv/bin/python benchmarks/bench_site.py`` from the repository root (``--help`` lists the
options). The first run makes the analysed run (about two and a half minutes on 2 cores) and keeps
it in ``--work`` (default ``/tmp/layerlens-bench-site``); later runs reuse it. The measurements take
about two minutes.
Nothing is downloaded: the data are layerlens' own brain-MRI phantoms and the model is ``zoo.small_cnn``.

The run. ``small_cnn`` with the phantoms recipe's layers (filters 16, 32, 64) is trained for 5 epochs
on 6,000 phantoms (``render_phantoms(6000, size=64, seed=0)``), which leaves it a reasonable but
imperfect classifier (about 96% accurate; training on several threads is not bit-reproducible).
``layerlens.analyze`` then runs on 10,000 other phantoms (seed 1) with their labels, ``explain=200``
and ``explain_methods=("lime", "gradcam")``, and the analysis is saved as a run folder. How it was
made (N, accuracy, mistakes, explanations, seconds) is printed.

What is measured, in one process:

(a) Build time. ``build_site(run_folder)`` (reading the run included) and, separately,
    ``build_site(analysis)`` from the same analysis in memory; each ``--repeats`` times, best and
    median. ``layerlens.load`` alone is timed beside them. Target: <= 30 s.
(b) Size. The whole site: bytes and files, by part (plotly.js, thumbnails, sample pages, ...), and
    the biggest files.
(c) Page weight. The model page (``runs/<slug>/index.html``) is loaded in chromium (1280 x 800
    window) and every response is recorded until first render and 0.5 s of quiet after it: the sum
    of the sizes of the files requested, plotly.min.js left out, with the biggest parts. Target:
    <= 1.5 MB. The same page scrolled to the bottom (every lazy thumbnail loaded) is printed beside
    it for information.
(d) Load time. From navigation start (``performance.now()`` in the page) to first render, median of
    ``--loads`` loads in a fresh browser context each (no cache), from ``file://``. First render is,
    on the model page: an SVG in ``#paths-figure`` with the diagram's ribbons, and the first layer
    map drawn in ``#map-figure`` (its plot has data and either SVG points or a WebGL canvas); on the
    gallery page: the page parsed (its filters applied) and every thumbnail of the first screen
    loaded; on a sample page (the gallery's first): the probabilities chart's SVG and the large
    picture loaded. Each part's own time and DOMContentLoaded are printed too, and, for reference, a
    blank page that only loads the site's plotly.min.js: the floor of every page with a plot.
    Target: <= 2 s. The browser is chromium with software WebGL (``--disable-gpu``).

One build from the run folder is profiled with cProfile (``--no-profile`` skips it): the entries of
``layerlens/site``, ``layerlens/figures`` and what a build from a folder reads and re-encodes
(``layerlens/run/_store.py``, ``_run_explanations.py``, ``_png.py``) with the most cumulative time, then
the functions with the most own time. The machine's load average is printed at start and end:
other work shows up in the timings.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_IMAGES = 10_000
N_TRAIN = 6_000
SIZE = 64
EPOCHS = 5
EXPLAIN = 200
METHODS = ("lime", "gradcam")
RUN_SETTINGS = {
    "n_images": N_IMAGES, "n_train": N_TRAIN, "size": SIZE, "epochs": EPOCHS, "explain": EXPLAIN,
    "methods": list(METHODS), "filters": [16, 32, 64], "train_seed": 0, "test_seed": 1,
}  # fmt: skip
TARGETS = {"build_s": 30.0, "weight_mb": 1.5, "render_s": 2.0}
MB = 1_000_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 800}
QUIET_MS = 500
RENDER_TIMEOUT_MS = 60_000
# Where the profile looks: the site, its figures, and what a build from a folder reads and re-encodes.
PROFILED = ("layerlens/site/", "layerlens/figures/", "layerlens/run/_store.py", "layerlens/run/_explanations_io.py",
            "layerlens/_util/png.py")  # fmt: skip

# What "first render" means on each page: every part drawn. Each part is checked on every animation frame
# and stamped, in ms since navigation start, when it first holds.
MODEL_PARTS = {
    "paths": """() => {
      const paths = document.querySelector("#paths-figure");
      return paths !== null && paths.querySelector("svg.main-svg") !== null
        && paths.querySelector("path.path") !== null;
    }""",
    "map": """() => {
      const map = document.querySelector("#map-figure");
      if (!map || !map.data || !map.data.length || !map._fullLayout) return false;
      const glCanvas = map.querySelector("canvas.gl-canvas-context");
      return map.querySelectorAll(".scatterlayer path.point").length > 0 || (glCanvas !== null && glCanvas.width > 0);
    }""",
}
GALLERY_PARTS = {
    "thumbnails": """() => {
      if (document.readyState === "loading") return false;
      const images = Array.from(document.querySelectorAll("#gallery img"));
      const seen = images.filter((img) => img.getBoundingClientRect().top < window.innerHeight);
      return seen.length > 0 && seen.every((img) => img.complete && img.naturalWidth > 0);
    }""",
}
SAMPLE_PARTS = {
    "chart": """() => document.querySelector("#probabilities-figure svg.main-svg") !== null""",
    "picture": """() => {
      const large = document.querySelector("figure.large img");
      return large !== null && large.complete && large.naturalWidth > 0;
    }""",
}
PLOTLY_PARTS = {"plotly": "() => window.Plotly !== undefined"}
REFERENCE = "plotly.min.js alone"
STAMP = """(checks) => {
  const stamps = (window.__stamps = window.__stamps || {});
  for (const [name, check] of Object.entries(checks)) {
    if (!(name in stamps) && check()) stamps[name] = performance.now();
  }
  return Object.keys(checks).every((name) => name in stamps);
}"""
# DOMContentLoaded: the page and its synchronous scripts (plotly.min.js among them) parsed and run.
READY = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
# A page that only loads the site's plotly.min.js: the floor of every page that draws a plot.
PLOTLY_ONLY = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>plotly.min.js alone</title>
<script src="{src}"></script></head><body></body></html>
"""


# ---------------------------------------------------------------- the run


def timed(fn: Any) -> tuple[Any, float]:
    """``fn()`` and the seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def make_run(work: Path, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The stored run of the benchmark, made once and kept in ``work``; return its folder and how it was made."""
    folder, info_file = work / "run", work / "run_info.json"
    if not rebuild and info_file.is_file() and (folder / "manifest.json").is_file():
        info = json.loads(info_file.read_text())
        if info.get("settings") == RUN_SETTINGS:
            return folder, {**info, "cached": True}
    import numpy as np

    import layerlens as ll
    from layerlens.datasets import render_phantoms

    test = render_phantoms(N_IMAGES, size=SIZE, seed=RUN_SETTINGS["test_seed"])
    model, train_s = timed(train_model)
    analysis, analyze_s = timed(
        lambda: ll.analyze(
            model,
            test.images,
            test.labels,
            class_names=test.class_names,
            name="phantoms 10k",
            explain=EXPLAIN,
            explain_methods=METHODS,
            progress=False,
        )
    )
    if folder.exists():
        shutil.rmtree(folder)
    analysis.save(folder)
    info = {
        "settings": RUN_SETTINGS,
        "n_images": analysis.n_images,
        "accuracy": float(analysis.metrics.accuracy),
        "mistakes": int(np.sum(analysis.predictions != analysis.labels)),
        "explained_images": len(analysis.explained_images),
        "explanations": len(analysis.explanations),
        "layers": [f"{layer.name} k={layer.clusters.k}" for layer in analysis.layers],
        "train_s": train_s,
        "analyze_s": analyze_s,
        "run_bytes": folder_bytes(folder),
    }
    info_file.write_text(json.dumps(info, indent=1))
    return folder, {**info, "cached": False}


def train_model() -> Any:
    """``small_cnn`` trained for :data:`EPOCHS` epochs on :data:`N_TRAIN` phantoms, in a seeded order."""
    import keras
    import numpy as np

    from layerlens.app import zoo as zoo
    from layerlens.datasets import render_phantoms

    train = render_phantoms(N_TRAIN, size=SIZE, seed=RUN_SETTINGS["train_seed"])
    model = zoo.small_cnn(
        train.images.shape[1:], len(train.class_names), filters=RUN_SETTINGS["filters"], seed=0, name="phantoms_cnn"
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    for _ in range(EPOCHS):
        order = rng.permutation(len(train))
        model.fit(train.images[order], train.labels[order], batch_size=64, epochs=1, shuffle=False, verbose=0)
    return model


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- (a) build time


def measure_build(run: Path, work: Path, repeats: int) -> tuple[dict[str, Any], Path]:
    """Build times from the folder and from memory; return them and the site's folder."""
    import layerlens as ll
    from layerlens.site import build_site

    site = work / "site"
    from_folder = [timed(lambda: build_site(run, out=site))[1] for _ in range(repeats)]
    analysis, load_s = timed(lambda: ll.load(run))  # after the builds: imports done, files in the page cache
    from_memory = [timed(lambda: build_site(analysis, out=work / "site-memory"))[1] for _ in range(repeats)]
    shutil.rmtree(work / "site-memory", ignore_errors=True)
    return {"load_s": load_s, "folder": from_folder, "memory": from_memory}, site


def profile_build(run: Path, work: Path, top: int = 25) -> dict[str, Any]:
    """One build from the run folder under cProfile: its wall time, the entries of :data:`PROFILED` with the
    most cumulative time, and the functions anywhere with the most own time."""
    from layerlens.site import build_site

    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    build_site(run, out=work / "site-profile")
    profiler.disable()
    wall = time.perf_counter() - start
    shutil.rmtree(work / "site-profile", ignore_errors=True)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ours, own = [], []
    for (filename, line, function), (_, calls, own_s, cumulative, _) in stats.items():
        path = _short(filename.replace(os.sep, "/"))
        name = f"{path}:{line} {function}" if line else function
        own.append((name, calls, own_s))
        if path.startswith(PROFILED):
            ours.append((name, calls, cumulative))
    ours.sort(key=lambda r: -r[2])
    own.sort(key=lambda r: -r[2])
    return {"wall_s": wall, "cumulative": ours[:top], "own": own[:12]}


def _short(path: str) -> str:
    """A profiled file's path from its package on (``layerlens/site/_build.py``, ``plotly/io/_json.py``)."""
    for pattern in (r"site-packages/(.*)$", r"lib/python3\.\d+/(.*)$"):
        match = re.search(pattern, path)
        if match:
            return match.group(1)
    return path[path.index("layerlens/") :] if "layerlens/" in path else path


# ---------------------------------------------------------------- (b) size


def part_of(relative: Path) -> str:
    """Which part of the site a file belongs to, for the size table."""
    parts = relative.parts
    if parts[0] == "assets":
        return "assets/plotly.min.js" if relative.name == "plotly.min.js" else "assets/ (css, js)"
    if parts[0] == "runs" and len(parts) > 3:
        return f"runs/*/{parts[2]}/"
    if parts[0] == "runs":
        return f"runs/*/{relative.name}"
    return relative.name


def site_size(site: Path) -> dict[str, Any]:
    parts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    files = []
    for path in site.rglob("*"):
        if path.is_file():
            size = path.stat().st_size
            relative = path.relative_to(site)
            files.append((str(relative), size))
            parts[part_of(relative)][0] += 1
            parts[part_of(relative)][1] += size
    files.sort(key=lambda f: -f[1])
    return {
        "bytes": sum(s for _, s in files),
        "files": len(files),
        "parts": sorted(((k, n, b) for k, (n, b) in parts.items()), key=lambda r: -r[2]),
        "biggest": files[:10],
    }


# ---------------------------------------------------------------- (c, d) the browser


def model_page(site: Path) -> Path:
    pages = sorted((site / "runs").glob("*/index.html"))
    return pages[0]


def sample_page(site: Path) -> Path:
    """The gallery's first sample page (the most confident mistake)."""
    gallery = (model_page(site).parent / "gallery.html").read_text(encoding="utf-8")
    first = re.search(r'href="(samples/\d+\.html)"', gallery)
    assert first, "the gallery links no sample page"
    return model_page(site).parent / first.group(1)


def load_page(browser: Any, page_file: Path, parts: dict[str, str], *, scroll: bool = False) -> dict[str, Any]:
    """Load ``page_file`` in a fresh context; return ms to each part drawn and the files requested until quiet."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    requested: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(page_file.as_uri(), wait_until="commit")
    checks = ", ".join(f"{json.dumps(name)}: {check}" for name, check in parts.items())
    page.wait_for_function(f"({STAMP})({{{checks}}})", polling="raf", timeout=RENDER_TIMEOUT_MS)
    stamps = page.evaluate("window.__stamps")
    wait_quiet(page, requested)
    ready_ms = page.evaluate(READY)
    at_render = list(requested)
    if scroll:
        scroll_through(page)
        wait_quiet(page, requested)
    context.close()
    return {
        "render_ms": max(stamps.values()),
        "parts_ms": stamps,
        "ready_ms": ready_ms,
        "requested": at_render,
        "scrolled": list(requested),
        "failed": failed,
        "errors": errors,
    }


def scroll_through(page: Any) -> None:
    """Scroll down the whole page a screen at a time, so every lazy image comes into view."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height + VIEWPORT["height"], VIEWPORT["height"]):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(30)


def wait_quiet(page: Any, requested: list[str]) -> None:
    """Wait until no new request has started for :data:`QUIET_MS`."""
    seen = -1
    while seen != len(requested):
        seen = len(requested)
        page.wait_for_timeout(QUIET_MS)


def local_file(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def weight(urls: list[str], site: Path) -> dict[str, Any]:
    """Sizes of the distinct files requested: all of them, plotly.min.js apart, and the biggest."""
    rows, other = [], []
    for url in dict.fromkeys(urls):
        path = local_file(url)
        if path is None or not path.is_file():
            other.append(url)
            continue
        rows.append((str(path.relative_to(site)) if path.is_relative_to(site) else path.name, path.stat().st_size))
    plotly = sum(s for name, s in rows if name.endswith("plotly.min.js"))
    rest = [(n, s) for n, s in rows if not n.endswith("plotly.min.js")]
    rest.sort(key=lambda r: -r[1])
    thumbs = [(n, s) for n, s in rest if "/images/" in n]
    return {
        "bytes": sum(s for _, s in rest),
        "plotly": plotly,
        "files": len(rest),
        "thumbnails": (len(thumbs), sum(s for _, s in thumbs)),
        "biggest": rest[:8],
        "not_files": other,
    }


def measure_pages(site: Path, work: Path, loads: int) -> dict[str, Any]:
    """Weight (first load) and first render (every load) of the model, gallery and a sample page."""
    from playwright.sync_api import sync_playwright

    plotly_only = work / "plotly-only.html"
    plotly_only.write_text(PLOTLY_ONLY.format(src=(site / "assets" / "plotly.min.js").as_uri()), encoding="utf-8")
    pages = {
        "model": (model_page(site), MODEL_PARTS),
        "gallery": (model_page(site).parent / "gallery.html", GALLERY_PARTS),
        "sample": (sample_page(site), SAMPLE_PARTS),
        REFERENCE: (plotly_only, PLOTLY_PARTS),
    }
    results: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (page_file, parts) in pages.items():
            runs = [load_page(browser, page_file, parts, scroll=name == "model" and i == 0) for i in range(loads)]
            results[name] = {
                "page": str(page_file.relative_to(site)) if page_file.is_relative_to(site) else str(page_file),
                "render_ms": [r["render_ms"] for r in runs],
                "parts_ms": {part: [r["parts_ms"][part] for r in runs] for part in parts},
                "ready_ms": [r["ready_ms"] for r in runs],
                "weight": weight(runs[0]["requested"], site),
                "weight_scrolled": weight(runs[0]["scrolled"], site),
                "failed": sorted({u for r in runs for u in r["failed"]}),
                "errors": sorted({e for r in runs for e in r["errors"]}),
            }
        browser.close()
    return results


# ---------------------------------------------------------------- report


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISS"


def _mb(n: float) -> str:
    return f"{n / MB:.2f} MB"


def format_run(run: Path, info: dict[str, Any]) -> list[str]:
    how = "reused from " if info["cached"] else "made and stored in "
    return [
        f"run: {how}{run} ({_mb(info['run_bytes'])})",
        f"  small_cnn (filters 16, 32, 64) trained {EPOCHS} epochs on {N_TRAIN:,} phantoms {SIZE}x{SIZE} "
        f"in {info['train_s']:.0f} s",
        f"  analysed N = {info['n_images']:,} other phantoms, 4 classes: accuracy {info['accuracy']:.4f}, "
        f"{info['mistakes']} mistakes; {info['explained_images']} images explained "
        f"({info['explanations']} explanations: {', '.join(METHODS)}) in {info['analyze_s']:.0f} s",
        f"  layers {', '.join(info['layers'])}",
    ]


def format_build(build: dict[str, Any]) -> list[str]:
    def row(label: str, times: list[float]) -> str:
        best = min(times)
        return (
            f"  {label:<34} best {best:6.1f} s   median {statistics.median(times):6.1f} s   "
            f"(<= {TARGETS['build_s']:.0f} s) {_ok(best <= TARGETS['build_s'])}   runs "
            + " ".join(f"{t:.1f}" for t in times)
        )

    return [
        "(a) build time",
        row("build_site(run folder), load incl.", build["folder"]),
        row("build_site(Analysis in memory)", build["memory"]),
        f"  {'layerlens.load(run folder) alone':<34} {build['load_s']:6.1f} s",
    ]


def format_size(size: dict[str, Any]) -> list[str]:
    lines = [f"(b) site size: {_mb(size['bytes'])} in {size['files']:,} files", "  by part:"]
    for part, n, b in size["parts"]:
        lines.append(f"    {part:<34} {n:>6,} files {_mb(b):>11}")
    lines.append("  biggest files:")
    lines += [f"    {name:<50} {_mb(b):>11}" for name, b in size["biggest"]]
    return lines


def format_weight(pages: dict[str, Any]) -> list[str]:
    lines = [
        "(c) page weight at first render (files requested until 0.5 s of quiet; plotly.min.js apart), biggest parts"
    ]
    for name, result in pages.items():
        if name == REFERENCE:
            continue
        w, s = result["weight"], result["weight_scrolled"]
        target = f"   (<= {TARGETS['weight_mb']} MB) {_ok(w['bytes'] <= TARGETS['weight_mb'] * MB)}"
        lines.append(
            f"  {name:<8} {_mb(w['bytes']):>9} in {w['files']} files, {w['thumbnails'][0]} thumbnails "
            f"({_mb(w['thumbnails'][1])}); plotly.min.js {_mb(w['plotly'])}{target if name == 'model' else ''}"
        )
        lines += [f"      {part:<52} {_mb(b):>10}" for part, b in w["biggest"]]
        if name == "model":
            lines.append(
                f"    scrolled to the bottom: {_mb(s['bytes'])} in {s['files']} files, {s['thumbnails'][0]} "
                f"thumbnails ({_mb(s['thumbnails'][1])})"
            )
        lines += [f"    NOT LOADED: {url}" for url in result["failed"] + w["not_files"]]
        lines += [f"    PAGE ERROR: {error[:200]}" for error in result["errors"]]
    return lines


def format_render(pages: dict[str, Any]) -> list[str]:
    lines = ["(d) first render: ms from navigation start, fresh browser context per load, file://"]
    for name, result in pages.items():
        median = statistics.median(result["render_ms"])
        target = f"(<= {TARGETS['render_s'] * 1000:.0f} ms) {_ok(median <= TARGETS['render_s'] * 1000)}"
        loads = " ".join(f"{t:.0f}" for t in result["render_ms"])
        lines.append(f"  {name:<8} median {median:6.0f} ms  {target if name != REFERENCE else '':<19}  loads {loads}")
        parts = [f"{part} {statistics.median(times):.0f}" for part, times in result["parts_ms"].items()]
        lines.append(
            f"    medians: DOMContentLoaded {statistics.median(result['ready_ms']):.0f}, "
            + ", ".join(parts)
            + f"   ({result['page']})"
        )
    return lines


def format_profile(profile: dict[str, Any]) -> list[str]:
    wall = profile["wall_s"]
    lines = [
        f"cProfile of one build_site(run folder) ({wall:.1f} s under the profiler): entries of {', '.join(PROFILED)}",
        "by cumulative time (share of the build), then the functions anywhere with the most own time",
    ]
    lines += [f"  {t:7.2f} s {t / wall:5.0%} {calls:>8} calls  {name}" for name, calls, t in profile["cumulative"]]
    lines.append("  most own time:")
    lines += [f"  {t:7.2f} s {t / wall:5.0%} {calls:>8} calls  {name}" for name, calls, t in profile["own"]]
    return lines


def summary(build: dict[str, Any], pages: dict[str, Any]) -> list[str]:
    best = min(build["folder"])
    w = pages["model"]["weight"]["bytes"]
    lines = ["targets", "-------"]
    lines.append(f"build from the run folder          {best:7.1f} s   (<= 30 s)    {_ok(best <= TARGETS['build_s'])}")
    lines.append(
        f"model page without plotly.js       {w / MB:7.2f} MB  (<= 1.5 MB)  {_ok(w <= TARGETS['weight_mb'] * MB)}"
    )
    for name, result in pages.items():
        if name != REFERENCE:
            median = statistics.median(result["render_ms"]) / 1000
            ok = _ok(median <= TARGETS["render_s"])
            lines.append(f"first render, {name + ' page':<20} {median:7.2f} s   (<= 2 s)     {ok}")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/layerlens-bench-site"), help="where the run is kept")
    parser.add_argument("--rebuild-run", action="store_true", help="make the run again even if --work holds it")
    parser.add_argument("--repeats", type=int, default=3, help="builds of each kind (default 3)")
    parser.add_argument("--loads", type=int, default=5, help="loads of each page (default 5)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile build")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"layerlens site benchmark, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}")
    run, info = make_run(args.work, args.rebuild_run)
    print("\n".join(format_run(run, info)), flush=True)
    build, site = measure_build(run, args.work, args.repeats)
    print("\n" + "\n".join(format_build(build)), flush=True)
    size = site_size(site)
    print("\n" + "\n".join(format_size(size)), flush=True)
    pages = measure_pages(site, args.work, args.loads)
    print("\n" + "\n".join(format_weight(pages) + [""] + format_render(pages)), flush=True)
    profile = None if args.no_profile else profile_build(run, args.work)
    if profile:
        print("\n" + "\n".join(format_profile(profile)))
    print("\n" + "\n".join(summary(build, pages)))
    print(f"\nsite left in {site}; load average {os.getloadavg()[0]:.2f}")
    if args.json:
        record = {"run": info, "build": build, "size": size, "pages": pages, "profile": profile}
        args.json.write_text(json.dumps(record, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
