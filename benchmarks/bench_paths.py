"""Benchmark per-layer clusters and the paths they make: faithful-k against silhouette-k, mean against grid features.

Run ``.venv/bin/python benchmarks/bench_paths.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run of about two minutes). What is measured, in one process, side by
side:

(a) Paths. The MNIST and phantoms example models of ``layerlens.app.zoo`` (seed 0) are analysed with their
    training images as the reference (the fit set of every layer's space, clusters and map) and their
    held-out test images as the analysed set, ``stability=True``, for every combination of
    ``n_clusters`` in ("silhouette", "auto") and ``conv_features`` in ("mean", "grid"). Printed per
    combination: k per layer; per-layer decision alignment on the fit set (share of training images
    predicted as their cluster's majority prediction) and held out (the majority learnt on the
    training images, applied to the test images' clusters); whole-path decision alignment held out;
    path complexity (distinct paths among the test images); path agreement under Gaussian noise of
    0.02 and 0.05 of the pixel range; weighted path purity; the most ribbons the paths diagram draws
    between two neighbouring axes after folding rare paths; the wall time of ``analyze`` (reference
    extraction and noise passes included; ``explain=0`` throughout, as explanations do not change paths).
(b) Speed. On N = 8,000 phantoms (``render_phantoms(N, size=64, seed=1)``, not the training images),
    ``layerlens.analyze`` with default settings (PCA maps, no reference, no stability) but
    ``explain=0`` against a plain ``model.predict`` on the same images, alternating, after one warm-up
    each; medians and their ratio. Target: <= 2.0. The default ``explain=20`` is timed beside them:
    what it adds does not grow with N (``bench_explain.py`` measures it on the demo run).
(c) Sampled k search. At the same N, the k that ``"auto"`` chooses with its default search sample
    (2,000 images) against a search on all images: k per layer, decision alignment and time.

The issue's targets are printed with each figure: MNIST whole-path decision alignment >= 0.95 and path
agreement at 0.02 >= 0.90; phantoms dense layer k >= 4 and whole-path decision alignment >= 0.90;
path complexity <= 100 on both; at most ~30 ribbons per pair of axes. Run it on an otherwise idle
machine: other load shows up in the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RULES = ("silhouette", "auto")
FEATURES = ("mean", "grid")
SPEED_N = 8000
QUICK_SPEED_N = 1000
SPEED_REPEATS = 3
TARGETS = {
    "mnist": {"heldout_alignment": 0.95, "agreement_0.02": 0.90},
    "phantoms": {"dense_k": 4, "heldout_alignment": 0.90},
    "complexity": 100,
    "ribbons": 30,
    "speed": 2.0,
}


def heldout_layer_alignment(analysis: Any) -> list[float]:
    """Per layer: the majority prediction of each cluster learnt on the reference, applied to the analysed images."""
    import numpy as np

    shares = []
    reference = analysis.reference
    for i, layer in enumerate(analysis.layers):
        k = layer.clusters.k
        counts = np.zeros((k, len(analysis.class_names)), np.int64)
        np.add.at(counts, (reference.clusters[i], reference.predictions), 1)
        majority = counts.argmax(axis=1)
        shares.append(float(np.mean(majority[layer.clusters.assignments] == analysis.predictions)))
    return shares


def max_ribbons(analysis: Any) -> int:
    """The most ribbons (distinct pairs of categories) the default paths diagram draws between two axes."""
    import numpy as np

    trace = analysis.paths_figure().data[0]
    dims = [np.asarray(d.values) for d in trace.dimensions]
    return max(len(set(zip(a, b))) for a, b in zip(dims[:-1], dims[1:]))


def measure_paths(name: str, trained: Any, rule: str, features: str) -> dict[str, Any]:
    import layerlens as ll

    train, test = trained.data
    start = time.perf_counter()
    analysis = ll.analyze(
        trained.model,
        test,
        reference=train,
        stability=True,
        n_clusters=rule,
        conv_features=features,
        progress=False,
        explain=0,
    )
    seconds = time.perf_counter() - start
    stats = analysis.path_statistics
    return {
        "model": name,
        "rule": rule,
        "features": features,
        "layers": list(analysis.layer_names),
        "k": [layer.clusters.k for layer in analysis.layers],
        "fit_alignment": [layer.clusters.k_scores[layer.clusters.k]["decision_alignment"] for layer in analysis.layers],
        "heldout_layer_alignment": heldout_layer_alignment(analysis),
        "heldout_alignment": stats.heldout_alignment,
        "heldout_known": stats.heldout_known,
        "complexity": stats.n_distinct,
        "n_images": stats.n_images,
        "agreement": {str(level): share for level, share in stats.agreement.items()},
        "prediction_agreement": {str(level): share for level, share in stats.prediction_agreement.items()},
        "weighted_purity": stats.weighted_purity,
        "max_ribbons": max_ribbons(analysis),
        "seconds": seconds,
        "accuracy": analysis.metrics.accuracy,
    }


def measure_speed(model: Any, n: int, repeats: int) -> dict[str, Any]:
    import layerlens as ll
    from layerlens.datasets import render_phantoms

    data = render_phantoms(n, size=64, seed=1)
    x, y = data.images, data.labels

    def predict() -> None:
        model.predict(x, batch_size=64, verbose=0)

    def analyze() -> Any:
        return ll.analyze(model, x, y, class_names=data.class_names, progress=False, explain=0)

    def analyze_and_explain() -> Any:
        return ll.analyze(model, x, y, class_names=data.class_names, progress=False)

    predict()
    analyze_and_explain()  # warm-up: traces, imports, caches
    times: dict[str, list[float]] = {"predict": [], "analyze": [], "analyze_explain": []}
    for _ in range(repeats):
        for label, fn in (("predict", predict), ("analyze", analyze), ("analyze_explain", analyze_and_explain)):
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    med = {label: statistics.median(v) for label, v in times.items()}
    sampled = _timed(lambda: ll.analyze(model, x, y, progress=False, explain=0))
    full = _timed(lambda: _analyze_full_search(model, x, y))
    return {
        "n": n,
        "predict_s": med["predict"],
        "analyze_s": med["analyze"],
        "ratio": med["analyze"] / med["predict"],
        "analyze_explain_s": med["analyze_explain"],
        "runs": times,
        "search": {
            "sampled": _search_summary(*sampled),
            "full": _search_summary(*full),
            "same_k": [la.clusters.k for la in sampled[0].layers] == [la.clusters.k for la in full[0].layers],
        },
        "load": os.getloadavg()[0],
    }


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _analyze_full_search(model: Any, x: Any, y: Any) -> Any:
    """``analyze`` with the k search run on every image instead of a sample of 2,000."""
    from layerlens.layers import _clusters as cluster

    original = cluster.cluster_layer.__kwdefaults__["max_search_samples"]
    cluster.cluster_layer.__kwdefaults__["max_search_samples"] = len(x)
    try:
        import layerlens as ll

        return ll.analyze(model, x, y, progress=False, explain=0)
    finally:
        cluster.cluster_layer.__kwdefaults__["max_search_samples"] = original


def _search_summary(analysis: Any, seconds: float) -> dict[str, Any]:
    return {
        "k": [layer.clusters.k for layer in analysis.layers],
        "alignment": [layer.clusters.k_scores[layer.clusters.k]["decision_alignment"] for layer in analysis.layers],
        "heldout_alignment": analysis.path_statistics.heldout_alignment,
        "complexity": analysis.path_statistics.n_distinct,
        "seconds": seconds,
    }


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISS"


def format_paths(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["(a) paths: reference = training images, analysed = held-out test images, stability=True", ""]
    for row in rows:
        lines.append(
            f"{row['model']:<9} {row['rule']:<10} {row['features']:<5} accuracy {row['accuracy']:.3f}  "
            f"analyze {row['seconds']:.1f} s"
        )
        lines.append(f"  k per layer           {row['k']}   ({', '.join(row['layers'])})")
        lines.append("  alignment per layer   fit " + " ".join(f"{v:.2f}" for v in row["fit_alignment"]))
        lines.append("                        held out " + " ".join(f"{v:.2f}" for v in row["heldout_layer_alignment"]))
        agreement = ", ".join(f"{level}: {share:.3f}" for level, share in row["agreement"].items())
        lines.append(
            f"  whole path            held-out alignment {row['heldout_alignment']:.3f} "
            f"(paths known {row['heldout_known']:.1%}), complexity {row['complexity']} distinct paths of "
            f"{row['n_images']}, purity {row['weighted_purity']:.3f}"
        )
        lines.append(f"  agreement under noise {agreement}; diagram: at most {row['max_ribbons']} ribbons per pair")
        lines.append("")
    return lines


def format_speed(speed: dict[str, Any]) -> list[str]:
    search = speed["search"]
    lines = [
        f"(b) speed at N = {speed['n']} phantoms, analyze (PCA maps, no reference, explain=0) vs model.predict, "
        f"median of {len(speed['runs']['predict'])} alternating runs (load average {speed['load']:.2f})",
        f"  predict {speed['predict_s']:.2f} s   analyze {speed['analyze_s']:.2f} s   ratio {speed['ratio']:.2f}",
        "  runs predict "
        + " ".join(f"{t:.2f}" for t in speed["runs"]["predict"])
        + " | analyze "
        + " ".join(f"{t:.2f}" for t in speed["runs"]["analyze"]),
        f"  with the default explain=20 (LIME and Grad-CAM on 20 images): analyze {speed['analyze_explain_s']:.2f} s",
        "",
        f"(c) k search on a sample of 2,000 images vs on all {speed['n']}",
    ]
    for label in ("sampled", "full"):
        s = search[label]
        lines.append(
            f"  {label:<8} k {s['k']}  alignment "
            + " ".join(f"{v:.3f}" for v in s["alignment"])
            + f"  held-out {s['heldout_alignment']:.3f}  paths {s['complexity']}  analyze {s['seconds']:.1f} s"
        )
    lines.append(f"  same k per layer: {search['same_k']}")
    return lines


def summary(rows: list[dict[str, Any]], speed: dict[str, Any] | None) -> list[str]:
    lines = ["", "targets (faithful k, channel means, the defaults)", "--------------------------------------------"]
    by = {(r["model"], r["rule"], r["features"]): r for r in rows}
    mnist, phantoms = by.get(("mnist", "auto", "mean")), by.get(("phantoms", "auto", "mean"))
    if mnist:
        a, g = mnist["heldout_alignment"], mnist["agreement"]["0.02"]
        lines.append(f"MNIST whole-path decision alignment {a:.3f} (>= 0.95) {_ok(a >= 0.95)}")
        lines.append(f"MNIST path agreement at 0.02 {g:.3f} (>= 0.90) {_ok(g >= 0.90)}")
    if phantoms:
        k, a = phantoms["k"][-1], phantoms["heldout_alignment"]
        lines.append(f"phantoms dense layer k = {k} (>= 4) {_ok(k >= 4)}")
        lines.append(f"phantoms whole-path decision alignment {a:.3f} (>= 0.90) {_ok(a >= 0.90)}")
    for row in (mnist, phantoms):
        if row:
            c, r = row["complexity"], row["max_ribbons"]
            lines.append(
                f"{row['model']} path complexity {c} (<= 100) {_ok(c <= 100)}; ribbons {r} (<= ~30) {_ok(r <= 30)}"
            )
    if speed:
        lines.append(
            f"analyze / predict at N = {speed['n']}: {speed['ratio']:.2f} (<= 2.0) {_ok(speed['ratio'] <= 2.0)}"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs of training, speed at N = 1,000")
    parser.add_argument("--skip-speed", action="store_true", help="leave out (b) and (c)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from layerlens.app import zoo as zoo

    print(f"layerlens paths benchmark, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}")
    trained = {}
    for name in ("mnist", "phantoms"):
        start = time.perf_counter()
        trained[name] = zoo.train_example(name, seed=0, epochs=2 if args.quick else None)
        print(f"trained {name}: test accuracy {trained[name].test_accuracy:.3f} in {time.perf_counter() - start:.0f} s")
    rows = [
        measure_paths(name, trained[name], rule, features)
        for name in ("mnist", "phantoms")
        for features in FEATURES
        for rule in RULES
    ]
    speed = None
    if not args.skip_speed:
        n = QUICK_SPEED_N if args.quick else SPEED_N
        speed = measure_speed(trained["phantoms"].model, n, 1 if args.quick else SPEED_REPEATS)
    lines = [""] + format_paths(rows) + (format_speed(speed) if speed else []) + summary(rows, speed)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"paths": rows, "speed": speed}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
