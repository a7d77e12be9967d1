"""Benchmark analyze's default explanations on a ResNet50: does the phase end within its budget, and say so?

Run ``.venv/bin/python benchmarks/bench_budget.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run of about a minute and a half). What is measured, in one process:

(a) The model. ``keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=4)``
    (nothing downloaded). Its trunk stays untrained; only its classifier layer is fitted, as a linear
    probe: a logistic regression on the standardised average-pool features of N other phantoms (seed 0),
    folded into the ``predictions`` Dense layer. An untrained ResNet50 predicts one class for every
    image (every image of the other classes a mistake, and layerlens's UnreliableAnalysisWarning);
    training the whole network runs at about 3 images/s on 2 CPU cores, so two minutes would be about
    1.5 epochs of 256 images from scratch. The probe costs one forward pass and gives a model that is
    right on some images and wrong on others (about 0.43 accuracy at N = 256), so ``explain="auto"``
    has mistakes, doubtful correct images and typical ones to choose from. The methods cost the same
    whatever the weights: the architecture and the image size set it. The probe's feature pass (after
    a warm-up call) is the plain forward speed printed. With ``--quick`` the probe sees 32 images and
    is at chance: analyze warns, and the warning is caught and printed.
(b) The default. ``layerlens.analyze(model, images, labels, progress=False)`` on N held-out phantoms
    (``render_phantoms(N, size=224, seed=1)``, gray repeated to RGB by ``datasets.match_shape``) with
    every explanation setting left at its default (``explain="auto"``, integrated gradients, a
    120 s budget; ``--quick`` and ``--budget`` set ``explain_budget``). The pass
    (``layerlens.model.extract``) and the explanation phase
    (``layerlens.explanations.explain_images``) are timed by wrapping them for the call. Printed:
    the pass in images/s, the phase's own clock (``Explained.seconds``, the clock the budget is
    checked against) and its wall time with the setting up before that clock starts, the budget, how
    many images were explained of how many chosen, seconds per image (the first, which pays for any
    tracing, then the median and range of the others), whether the phase ended within the budget plus
    one median image (and the margin), the sum of ``Explanation.seconds``, and
    ``settings.explain_note`` verbatim. Warnings that analyze raised are counted by category and
    printed, not shown.
(c) Why the default changed. One image (the first one analyze explained) by integrated gradients
    (32 steps) and Grad-CAM, ``--repeats`` times each after one warm-up call, medians; then by LIME with
    1,000 samples, once (it takes about a minute here). Each through ``layerlens.explanations`` on the
    same model in the same run: the method's own seconds (``Explanation.seconds``) and the call's wall
    time (which also checks the model and images and picks the pixel scale). Ratios LIME / integrated
    gradients and LIME / Grad-CAM, and what the old default (``explain=20`` by LIME and Grad-CAM)
    would take at these speeds. ``--quick`` runs LIME with 250 samples and scales its time to 1,000
    (LIME's cost is its samples' forward passes), printed as an estimate.

Other load on the machine shows up in every timing: the load average is printed at start and end, and
the peak resident memory when analyze returned and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import resource
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE = 224
N_CLASSES = 4
TRAIN_SEED, HELD_OUT_SEED = 0, 1
LIME_SAMPLES = 1000
OLD_DEFAULT_COUNT = 20  # the old default: explain=20 by LIME and Grad-CAM


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def phantoms(n: int, seed: int) -> Any:
    """``n`` phantoms at 224 px, gray repeated into RGB, and their labels."""
    import numpy as np

    from layerlens.datasets import match_shape, render_phantoms

    rendered = render_phantoms(n, size=SIZE, seed=seed)
    return match_shape(rendered.images, np.zeros((1, SIZE, SIZE, 3), np.float32)), rendered.labels


def probed_resnet(images: Any, labels: Any) -> tuple[Any, dict[str, float]]:
    """ResNet50 (weights=None) whose classifier layer is a logistic regression on its untrained features."""
    import keras
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(SIZE, SIZE, 3), classes=N_CLASSES)
    built = time.perf_counter() - start
    trunk = keras.Model(model.inputs, model.get_layer("avg_pool").output)
    trunk.predict(images[:8], batch_size=8, verbose=0)  # warm-up: traces the trunk
    start = time.perf_counter()
    features = trunk.predict(images, batch_size=32, verbose=0)
    forward = time.perf_counter() - start
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-12
    # Standardised, since the untrained trunk's features are tiny (std ~0.003); the scaling is folded back below.
    probe = LogisticRegression(C=0.1, max_iter=2000).fit((features - mean) / std, labels)
    weights = probe.coef_.T / std[:, None]
    bias = probe.intercept_ - (mean / std) @ probe.coef_.T
    model.get_layer("predictions").set_weights([weights.astype(np.float32), bias.astype(np.float32)])
    return model, {
        "build_s": built,
        "forward_s": forward,
        "forward_images_per_s": len(images) / forward,
        "probe_train_accuracy": float(probe.score((features - mean) / std, labels)),
        "parameters": int(model.count_params()),
        "layers": len(model.layers),
    }


@contextlib.contextmanager
def timed(module_name: str, function: str, calls: list[dict[str, Any]]) -> Iterator[None]:
    """Time every call of ``module_name.function`` while inside, with its arguments and result."""
    module = importlib.import_module(module_name)
    original = getattr(module, function)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = original(*args, **kwargs)
        calls.append({"start": start, "end": time.perf_counter(), "args": args, "result": result})
        return result

    setattr(module, function, wrapper)
    try:
        yield
    finally:
        setattr(module, function, original)


def default_analysis(model: Any, images: Any, labels: Any, budget: float | None) -> tuple[Any, dict[str, Any]]:
    """``analyze`` with its default explanations, its pass and explanation phase timed apart."""
    import numpy as np

    import layerlens as ll

    passes: list[dict[str, Any]] = []
    phases: list[dict[str, Any]] = []
    extra = {} if budget is None else {"explain_budget": budget}
    with (
        timed("layerlens.model", "extract", passes),
        timed("layerlens.explanations", "explain_images", phases),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        start = time.perf_counter()
        analysis = ll.analyze(model, images, labels, progress=False, **extra)
        total = time.perf_counter() - start
    settings = analysis.settings
    seconds = [e.seconds for e in analysis.explanations]
    results: dict[str, Any] = {
        "n_images": len(images),
        "accuracy": float(np.mean(analysis.predictions == labels)),
        "mistakes": int(np.sum(analysis.predictions != labels)),
        "pixel_scale": settings.pixel_scale,
        "analyze_s": total,
        "pass_s": passes[0]["end"] - passes[0]["start"] if passes else float("nan"),
        "budget_s": settings.explain_budget,
        "methods": list(settings.explain_methods),
        "explained": settings.explain,
        "chosen": len(phases[0]["args"][2]) if phases else 0,
        "note": settings.explain_note,
        "warnings": dict(Counter(w.category.__name__ for w in caught)),
        "warning_texts": sorted({str(w.message)[:160] for w in caught}),
        "sum_explanation_s": float(sum(seconds)),
        "first_image_s": seconds[0] if seconds else float("nan"),
        "median_image_s": statistics.median(seconds[1:]) if len(seconds) > 1 else float("nan"),
        "image_seconds": seconds,
    }
    results["pass_images_per_s"] = len(images) / results["pass_s"]
    if phases:
        phase = phases[0]
        results["phase_s"] = phase["result"].seconds  # the clock explain_images checks the budget against
        results["phase_wall_s"] = phase["end"] - phase["start"]  # with the setting up before that clock starts
        results["after_phase_s"] = start + total - phase["end"]
    budget_s, median = results["budget_s"], results["median_image_s"]
    if budget_s is not None and phases:
        limit = budget_s + (results["first_image_s"] if math.isnan(median) else median)
        results["limit_s"] = limit
        results["margin_s"] = limit - results["phase_s"]
        results["within"] = bool(results["phase_s"] <= limit)
    return analysis, results


def method_costs(model: Any, image: Any, repeats: int, lime_samples: int) -> dict[str, Any]:
    """Seconds of one image by integrated gradients and Grad-CAM (medians) and by LIME (once)."""
    import layerlens as ll

    results: dict[str, Any] = {}
    for method in ("integrated_gradients", "gradcam"):
        ll.explain(model, image, method=method)  # warm-up
        own, wall = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            own.append(ll.explain(model, image, method=method).seconds)
            wall.append(time.perf_counter() - start)
        results[method] = {"seconds": statistics.median(own), "wall_s": statistics.median(wall)}
    start = time.perf_counter()
    lime = ll.explain(model, image, method="lime", num_samples=lime_samples)
    wall = time.perf_counter() - start
    scale = LIME_SAMPLES / lime_samples
    results["lime"] = {
        "samples": lime_samples,
        "measured_s": lime.seconds,
        "seconds": lime.seconds * scale,
        "wall_s": wall + lime.seconds * (scale - 1),  # the checks and set-up of the call once
        "estimated": lime_samples != LIME_SAMPLES,
    }
    ig, gradcam = results["integrated_gradients"]["seconds"], results["gradcam"]["seconds"]
    lime_s = results["lime"]["seconds"]
    results["lime_over_ig"] = lime_s / ig
    results["lime_over_gradcam"] = lime_s / gradcam
    results["old_default_s"] = OLD_DEFAULT_COUNT * (lime_s + gradcam)
    return results


def per_image(seconds: list[float]) -> str:
    if len(seconds) < 2:
        return f"{seconds[0]:.2f} (one image, tracing included)" if seconds else "none"
    others = seconds[1:]
    return (
        f"first {seconds[0]:.2f} (tracing included), the others median {statistics.median(others):.2f} "
        f"(range {min(others):.2f}-{max(others):.2f})"
    )


def report(results: dict[str, Any]) -> None:
    m, a, c = results["model"], results["analyze"], results["methods"]
    print(
        f"\n(a) model: ResNet50 (weights=None), {m['layers']} layers, {m['parameters']:,} parameters, built in "
        f"{m['build_s']:.1f} s; linear probe on {m['probe_images']} other phantoms (train accuracy "
        f"{m['probe_train_accuracy']:.2f})\n    plain forward pass (trunk to avg_pool): {m['forward_s']:.1f} s for "
        f"{m['probe_images']} images, {m['forward_images_per_s']:.1f} images/s"
    )
    print(
        f"\n(b) analyze(model, images, labels, progress=False) on {a['n_images']} held-out phantoms at "
        f"{SIZE} px: accuracy {a['accuracy']:.2f}, {a['mistakes']} mistakes, pixel_scale {a['pixel_scale']:g}"
    )
    rows = [
        ("analyze, whole call", f"{a['analyze_s']:.1f} s"),
        ("pass (extract)", f"{a['pass_s']:.1f} s, {a['pass_images_per_s']:.1f} images/s"),
        ("explanation phase", f"{a['phase_s']:.1f} s on its clock, {a['phase_wall_s']:.1f} s wall with set-up"),
        ("after the phase", f"{a['after_phase_s']:.1f} s (pictures of the pages)"),
        ("budget", f"{a['budget_s']:g} s, methods {', '.join(a['methods'])}"),
        ("explained", f"{a['explained']} of {a['chosen']} chosen"),
        ("s per image", per_image(a["image_seconds"])),
        ("sum of .seconds", f"{a['sum_explanation_s']:.1f} s"),
    ]
    if "within" in a:
        verdict = "yes" if a["within"] else "NO"
        rows.append(
            (
                "within budget + 1 image",
                f"{verdict}: {a['phase_s']:.1f} s against {a['budget_s']:g} + {a['limit_s'] - a['budget_s']:.1f} = "
                f"{a['limit_s']:.1f} s, margin {a['margin_s']:+.1f} s "
                f"(phase - budget {a['phase_s'] - a['budget_s']:+.1f} s)",
            )
        )
    for name, value in rows:
        print(f"    {name:26}{value}")
    print(f"    explain_note: {a['note']}")
    caught = ", ".join(f"{k} x{v}" for k, v in a["warnings"].items()) or "none"
    print(f"    warnings caught (not shown): {caught}")
    for text in a["warning_texts"]:
        print(f"      - {text}")
    lime = c["lime"]
    scale = LIME_SAMPLES // lime["samples"]
    estimate = f" (LIME estimated: {lime['samples']} samples, its time x{scale})" if lime["estimated"] else ""
    print(f"\n(c) one image, method by method (median of {results['repeats']}; LIME once){estimate}")
    print(f"    {'method':24}{'s/image':>9}{'call wall':>11}{'LIME / it':>11}")
    ratios = {"lime": 1.0, "integrated_gradients": c["lime_over_ig"], "gradcam": c["lime_over_gradcam"]}
    for method, ratio in ratios.items():
        r = c[method]
        print(f"    {method:24}{r['seconds']:9.2f}{r['wall_s']:11.2f}{ratio:11.1f}")
    print(
        f"    old default (explain={OLD_DEFAULT_COUNT} by LIME and Grad-CAM) at these speeds: "
        f"{c['old_default_s']:.0f} s = {c['old_default_s'] / 60:.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="phantoms analysed, and as many to fit the probe (256)")
    parser.add_argument("--budget", type=float, help="explain_budget in seconds (default: analyze's own, 120)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of integrated gradients and Grad-CAM (3)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 32 images, a 20 s budget, 1 repeat, LIME with 250 samples"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    n = 32 if args.quick else args.n
    budget = 20.0 if args.quick and args.budget is None else args.budget
    repeats = 1 if args.quick else args.repeats
    lime_samples = 250 if args.quick else LIME_SAMPLES

    from layerlens._util.quiet_tensorflow import import_quietly

    started = time.perf_counter()
    print(f"load average at start: {load()}")
    import_quietly()
    train_images, train_labels = phantoms(n, TRAIN_SEED)
    images, labels = phantoms(n, HELD_OUT_SEED)
    print(f"{2 * n} phantoms rendered at {SIZE} px in {time.perf_counter() - started:.0f} s", flush=True)
    model, model_results = probed_resnet(train_images, train_labels)
    model_results["probe_images"] = n
    print(f"model built and probed in {time.perf_counter() - started:.0f} s", flush=True)
    del train_images
    analysis, analyze_results = default_analysis(model, images, labels, budget)
    analyze_results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"analyze done at {time.perf_counter() - started:.0f} s", flush=True)
    first = analysis.explanations[0].image_index if analysis.explanations else 0
    costs = method_costs(model, images[first], repeats, lime_samples)
    results = {
        "n": n,
        "quick": args.quick,
        "repeats": repeats,
        "model": model_results,
        "analyze": analyze_results,
        "methods": costs,
    }
    report(results)
    results["wall_s"] = time.perf_counter() - started
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_average_end"] = load()
    print(
        f"\nwhole run {results['wall_s']:.0f} s; peak resident memory {results['peak_rss_mb']:.0f} MB "
        f"({analyze_results['peak_rss_mb']:.0f} MB when analyze returned); "
        f"load average at end: {results['load_average_end']}"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1, default=str)


if __name__ == "__main__":
    main()
