"""Benchmark doubt: does it spot mistakes as well as the softmax confidence, and the unknown better?

Run ``.venv/bin/python benchmarks/bench_doubt.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run). What is measured, in one process, side by side:

(a) Detection. The MNIST and phantoms example models of ``layerlens.app.zoo`` (seed 0) analyse their
    held-out test images with labels, their training images as the reference (``explain=0``). Each
    score is judged by its AUROC with a bootstrap 95% interval (1,000 resamples of each group; the
    paired differences resample both scores together):

    - misclassification detection, wrong against right among the test images: ``Analysis.doubt.doubt``
      against the max-softmax baseline (``1 - max p``), ``disagreement`` and ``unfamiliarity`` alone,
      the Mahalanobis distance at the last analysed layer, and the paired difference doubt - max-softmax;
    - out-of-distribution detection, probes against the test images: doubt against max-softmax against
      the Mahalanobis distance at the last analysed layer (class means of the reference's reduced
      features, shared within-class covariance, nearest class). Probes, a few hundred each: phantoms
      shown to the MNIST model (resized to 28x28), MNIST test digits shown to the phantoms model (resized
      to 64x64), the LFW faces of ``load_faces`` shown to both (all 200 there are, grayscale, resized),
      structured noise (``datasets.structured_noise``: Gaussian-blurred random fields, each rescaled to
      the mean and spread of a random test image) and the test images inverted (1 - x) for both. The test
      splits are sorted by class, so digits and inverted images are an even spread over them. All probe
      sets of a model go in as
      ``analyze(..., probes=...)`` of the same call that analyses its test images, so they are read
      exactly like them (their chance of a mistake from the calibration learnt on the labelled test
      images); the metrics of that call are asserted to be those of a call without probes.
    - reliability: ``Analysis.metrics.calibration.ece`` of the test images, with its interval.

(b) Cost. A reference of 3,750 and N = 8,000 analysed phantoms (``render_phantoms``, seeds 101 and
    102, never trained on) through the phantoms model: ``analyze`` as it is (``explain=0``, labels,
    reference; median of 2 runs after a warm-up) against the doubt step alone
    (``layerlens.run._gather._doubt`` on the analysis' layers and reference, median of 3, split into the
    neighbour search and the rest), and doubt's share of ``analyze``.

Targets (issue 10): doubt's AUROC above max-softmax's on every out-of-distribution set; no more than
0.02 below it on misclassification; Mahalanobis reported, win or lose; doubt <= 20% of ``analyze``.
Misses are printed as MISS. Run it on an otherwise idle machine: other load shows up in the timings
(the load average is printed at start and end). About 2 minutes on 2 cores (``--quick``: about a minute;
its cost figure is a single run at N = 1,000 and means little).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("mnist", "phantoms")
N_PROBES = 300
QUICK_PROBES = 100
N_BOOTSTRAP = 1000
QUICK_BOOTSTRAP = 200
COST = {"reference": 3750, "n": 8000, "analyze_repeats": 2, "doubt_repeats": 3}
QUICK_COST = {"reference": 1000, "n": 1000, "analyze_repeats": 1, "doubt_repeats": 1}
TARGETS = {"mistake_margin": 0.02, "doubt_share": 0.20}
# Scores read per image; higher means "more likely wrong / unknown".
SCORES = ("doubt", "max_softmax", "disagreement", "unfamiliarity", "mahalanobis")
LABELS = {
    "doubt": "doubt",
    "max_softmax": "max-softmax",
    "disagreement": "disagreement",
    "unfamiliarity": "unfamiliarity",
    "mahalanobis": "Mahalanobis (last layer)",
}


# --- probes -------------------------------------------------------------------------------------------------------


def probe_sets(name: str, trained: dict[str, Any], n: int) -> dict[str, Any]:
    """The out-of-distribution images shown to one model, at its input size."""
    import numpy as np

    from layerlens.datasets import load_faces, match_shape, render_phantoms, structured_noise

    test = trained[name].data.test.images
    faces = load_faces(seed=0)
    all_faces = np.concatenate([faces.train.images, faces.test.images])[:n]
    if name == "mnist":
        other = ("phantoms", match_shape(render_phantoms(n, size=64, seed=7).images, test))
    else:
        digits = trained["mnist"].data.test.images  # sorted by class: an even spread covers them all
        other = ("mnist digits", match_shape(digits[np.linspace(0, len(digits) - 1, n).round().astype(int)], test))
    return {
        other[0]: other[1],
        "faces": match_shape(all_faces, test),
        "noise": structured_noise(n, test, seed=1 if name == "mnist" else 2),
        "inverted": (1.0 - test[np.linspace(0, len(test) - 1, n).round().astype(int)]).astype(np.float32),
    }


# --- scores -------------------------------------------------------------------------------------------------------


def mahalanobis_last_layer(analysis: Any, reduced: Any) -> Any:
    """Squared Mahalanobis distance of ``reduced`` (features in the last analysed layer's space) to the
    nearest class mean of the reference."""
    import numpy as np

    reference = np.asarray(analysis.reference.reduced[-1], np.float64)
    labels = analysis.reference.labels
    classes = np.unique(labels)
    means = np.stack([reference[labels == c].mean(axis=0) for c in classes])
    centred = reference - means[np.searchsorted(classes, labels)]
    precision = np.linalg.pinv(centred.T @ centred / len(reference))
    x = np.asarray(reduced, np.float64)
    distances = [np.einsum("ij,jk,ik->i", x - m, precision, x - m) for m in means]
    return np.min(distances, axis=0)


def image_scores(analysis: Any, probes: bool = False) -> dict[str, Any]:
    """Every score of the analysed images (or of the probes), one value per image, higher for more doubtful."""
    seen = analysis.probes if probes else analysis
    doubt = seen.doubt
    return {
        "doubt": doubt.doubt,
        "max_softmax": 1.0 - seen.confidence.astype("float64"),
        "disagreement": doubt.disagreement,
        "unfamiliarity": doubt.unfamiliarity,
        "mahalanobis": mahalanobis_last_layer(
            analysis, analysis.probes.reduced[-1] if probes else analysis.layers[-1].reduced
        ),
    }


# --- AUROC and its bootstrap --------------------------------------------------------------------------------------


def auroc(negatives: Any, positives: Any) -> float:
    """Chance that a random positive scores above a random negative (ties count half)."""
    import numpy as np
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([negatives, positives]))
    n_pos, n_neg = len(positives), len(negatives)
    return float((ranks[n_neg:].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def with_interval(
    negatives: Any, positives: Any, rng: Any, n_bootstrap: int, minus: tuple[Any, Any] | None = None
) -> dict[str, float]:
    """AUROC (or, with ``minus``, the paired difference to a second score's) and its bootstrap 95% interval.

    Negatives and positives are resampled apart; a paired difference resamples both scores on the same images.
    """
    import numpy as np

    def value(i: Any, j: Any) -> float:
        own = auroc(negatives[i], positives[j])
        return own if minus is None else own - auroc(minus[0][i], minus[1][j])

    point = value(slice(None), slice(None))
    draws = [
        value(rng.integers(len(negatives), size=len(negatives)), rng.integers(len(positives), size=len(positives)))
        for _ in range(n_bootstrap)
    ]
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"value": point, "low": float(low), "high": float(high)}


# --- measurements -------------------------------------------------------------------------------------------------


def analyse(trained: Any, images: Any, labels: Any | None, probes: Any = None) -> tuple[Any, float]:
    import layerlens as ll

    train, _ = trained.data
    start = time.perf_counter()
    analysis = ll.analyze(
        trained.model,
        images,
        labels,
        class_names=trained.data.class_names,
        reference=(train.images, train.labels),
        probes=probes,
        seed=0,
        explain=0,
        progress=False,
    )
    return analysis, time.perf_counter() - start


def measure_model(name: str, trained: dict[str, Any], n_probes: int, n_bootstrap: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(1)
    model = trained[name]
    test = model.data.test
    plain, seconds = analyse(model, test.images, test.labels)
    sets = probe_sets(name, trained, n_probes)
    analysis, probed_seconds = analyse(model, test.images, test.labels, np.concatenate(list(sets.values())))
    assert analysis.metrics.to_dict() == plain.metrics.to_dict(), "the probes changed the test images' metrics"
    scores = image_scores(analysis)
    probe_scores = image_scores(analysis, probes=True)
    wrong = analysis.predictions != analysis.labels
    mistakes = {key: with_interval(scores[key][~wrong], scores[key][wrong], rng, n_bootstrap) for key in SCORES}
    mistakes["difference"] = with_interval(
        scores["doubt"][~wrong],
        scores["doubt"][wrong],
        rng,
        n_bootstrap,
        minus=(scores["max_softmax"][~wrong], scores["max_softmax"][wrong]),
    )
    calibration = analysis.metrics.calibration
    ood, start = {}, 0
    for probe, images in sets.items():
        part = slice(start, start + len(images))
        start += len(images)
        ood[probe] = measure_ood(scores, {key: value[part] for key, value in probe_scores.items()}, rng, n_bootstrap)
        ood[probe].update(n=len(images), shape=list(images.shape[1:3]))
        ood[probe]["share_unfamiliar_test"] = float((analysis.doubt.unfamiliarity > 0).mean())
    return {
        "model": name,
        "layers": list(analysis.layer_names),
        "n_test": len(wrong),
        "n_wrong": int(wrong.sum()),
        "accuracy": float(analysis.metrics.accuracy),
        "n_reference": analysis.reference.n_images,
        "analyze_s": seconds,
        "analyze_probes_s": probed_seconds,
        "n_probes": start,
        "ece": calibration.ece,
        "ece_ci": list(calibration.ece_ci),
        "mistakes": mistakes,
        "ood": ood,
    }


def measure_ood(scores: dict[str, Any], probe_scores: dict[str, Any], rng: Any, n_bootstrap: int) -> dict[str, Any]:
    """AUROC of each score for probes (positives) against the test images (negatives)."""
    rows = {key: with_interval(scores[key], probe_scores[key], rng, n_bootstrap) for key in SCORES}
    rows["difference"] = with_interval(
        scores["doubt"],
        probe_scores["doubt"],
        rng,
        n_bootstrap,
        minus=(scores["max_softmax"], probe_scores["max_softmax"]),
    )
    rows["share_unfamiliar"] = float((probe_scores["unfamiliarity"] > 0).mean())
    return rows


def measure_cost(model: Any, sizes: dict[str, int]) -> dict[str, Any]:
    """``analyze`` at N phantoms with a reference, against its doubt step alone (split into its parts)."""
    import numpy as np

    import layerlens as ll
    from layerlens.datasets import render_phantoms
    from layerlens.run import _gather as _gather
    from layerlens.scores import Familiarity

    reference = render_phantoms(sizes["reference"], size=64, seed=101)
    data = render_phantoms(sizes["n"], size=64, seed=102)

    def run() -> Any:
        images, labels, names = data.images, data.labels, data.class_names
        return ll.analyze(model, images, labels, class_names=names, reference=reference, explain=0, progress=False)

    load_start = os.getloadavg()[0]
    analysis = run()  # warm-up: traces, imports, caches
    analyze_times = []
    for _ in range(sizes["analyze_repeats"]):
        start = time.perf_counter()
        analysis = run()
        analyze_times.append(time.perf_counter() - start)
    layers = list(analysis.layers)
    space = (list(analysis.reference.reduced), analysis.reference.labels)
    parts = {
        "neighbours": (_gather, "neighbour_disagreement"),
        "layer weights": (_gather, "separation"),
        "familiarity fit": (_gather, "familiarity"),
        "familiarity z": (Familiarity, "z"),
        "mistake calibration": (_gather, "mistake_calibration"),
    }
    doubt_times: list[float] = []
    part_times: dict[str, list[float]] = {label: [] for label in parts}
    for _ in range(sizes["doubt_repeats"]):
        with timed_calls(parts) as calls:
            start = time.perf_counter()
            doubt, _ = _gather._doubt(layers, space, analysis.probabilities, analysis.labels, analysis.settings.seed)
            doubt_times.append(time.perf_counter() - start)
        for label, seconds in calls.items():
            part_times[label].append(sum(seconds))
        searched = len(calls["neighbours"])
    assert np.allclose(doubt.doubt, analysis.doubt.doubt), "_doubt alone differs from analyze's doubt"
    analyze_s, doubt_s = statistics.median(analyze_times), statistics.median(doubt_times)
    return {
        "reference": sizes["reference"],
        "n": sizes["n"],
        "layers": list(analysis.layer_names),
        "dims": [int(layer.reduced.shape[1]) for layer in layers],
        "searched_layers": searched,
        "analyze_s": analyze_s,
        "analyze_runs": analyze_times,
        "doubt_s": doubt_s,
        "doubt_runs": doubt_times,
        "parts_s": {label: statistics.median(seconds) for label, seconds in part_times.items()},
        "share": doubt_s / analyze_s,
        "load": [load_start, os.getloadavg()[0]],
    }


@contextlib.contextmanager
def timed_calls(parts: dict[str, tuple[Any, str]]) -> Iterator[dict[str, list[float]]]:
    """Within the block, every call of each ``owner.attribute`` is timed; yields the seconds of each part's calls."""
    seconds: dict[str, list[float]] = {label: [] for label in parts}
    originals = {label: getattr(owner, attribute) for label, (owner, attribute) in parts.items()}

    def timed(label: str) -> Any:
        original = originals[label]

        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label].append(time.perf_counter() - start)

        return call

    for label, (owner, attribute) in parts.items():
        setattr(owner, attribute, timed(label))
    try:
        yield seconds
    finally:
        for label, (owner, attribute) in parts.items():
            setattr(owner, attribute, originals[label])


# --- report -------------------------------------------------------------------------------------------------------


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISS"


def _versus(mahalanobis: float, doubt: float) -> str:
    if round(mahalanobis, 3) == round(doubt, 3):
        return "ties with doubt"
    return "beats doubt" if mahalanobis > doubt else "loses to doubt"


def _cell(row: dict[str, float], sign: str = "") -> str:
    return f"{row['value']:{sign}.3f} [{row['low']:{sign}.3f}, {row['high']:{sign}.3f}]"


def format_model(result: dict[str, Any]) -> list[str]:
    m = result["mistakes"]
    lines = [
        f"{result['model']} model: {result['n_test']} held-out test images, {result['n_wrong']} wrong "
        f"(accuracy {result['accuracy']:.3f}); reference {result['n_reference']} training images; "
        f"layers {', '.join(result['layers'])}; analyze {result['analyze_s']:.1f} s, with its "
        f"{result['n_probes']} probes {result['analyze_probes_s']:.1f} s",
        f"  reliability: expected calibration error {result['ece']:.4f} "
        f"[{result['ece_ci'][0]:.4f}, {result['ece_ci'][1]:.4f}]",
        "  misclassification (wrong vs right), AUROC [95% CI]",
    ]
    lines += [f"    {LABELS[key]:<26}{_cell(m[key])}" for key in SCORES]
    margin = m["doubt"]["value"] - m["max_softmax"]["value"]
    lines.append(
        f"    {'doubt - max-softmax':<26}{_cell(m['difference'], '+')}   "
        f"(>= -{TARGETS['mistake_margin']:.2f}) {_ok(margin >= -TARGETS['mistake_margin'])}"
    )
    lines.append("  out of distribution (probes vs test images), AUROC [95% CI]")
    head = f"    {'probes':<27}{'doubt':<23}{'max-softmax':<23}{'Mahalanobis':<23}{'doubt - max-softmax':<25}"
    lines.append(head + "doubt > max-softmax")
    for probe, row in result["ood"].items():
        label = f"{probe} ({row['n']}, {row['shape'][0]}x{row['shape'][1]})"
        beats = row["doubt"]["value"] > row["max_softmax"]["value"]
        lines.append(
            f"    {label:<27}{_cell(row['doubt']):<23}{_cell(row['max_softmax']):<23}"
            f"{_cell(row['mahalanobis']):<23}{_cell(row['difference'], '+'):<25}{_ok(beats)}"
        )
    lines.append(f"    {'':<27}{'disagreement':<23}{'unfamiliarity':<23}unfamiliar > 0")
    for probe, row in result["ood"].items():
        share = f"{row['share_unfamiliar']:.1%} (test {row['share_unfamiliar_test']:.1%})"
        lines.append(f"    {probe:<27}{_cell(row['disagreement']):<23}{_cell(row['unfamiliarity']):<23}{share}")
    return lines


def format_cost(cost: dict[str, Any]) -> list[str]:
    return [
        f"(b) cost: reference {cost['reference']} and N = {cost['n']} phantoms, phantoms model, layers "
        f"{', '.join(cost['layers'])} (dims {cost['dims']}); load average {cost['load'][0]:.2f} -> "
        f"{cost['load'][1]:.2f}",
        f"  analyze (explain=0, labels, reference) median {cost['analyze_s']:.2f} s   runs "
        + " ".join(f"{t:.2f}" for t in cost["analyze_runs"]),
        f"  doubt step (_gather._doubt) median {cost['doubt_s']:.2f} s   runs "
        + " ".join(f"{t:.2f}" for t in cost["doubt_runs"])
        + f"; neighbour search in {cost['searched_layers']} layer(s) {cost['parts_s']['neighbours']:.2f} s, "
        + ", ".join(f"{label} {t:.2f} s" for label, t in cost["parts_s"].items() if label != "neighbours"),
        f"  doubt's share of analyze {cost['share']:.1%}",
    ]


def summary(results: list[dict[str, Any]], cost: dict[str, Any] | None) -> list[str]:
    lines = ["", "targets (issue 10)", "------------------"]
    for r in results:
        m = r["mistakes"]
        d, b, x = m["doubt"]["value"], m["max_softmax"]["value"], m["mahalanobis"]["value"]
        lines.append(
            f"{r['model']} misclassification: doubt {d:.3f} vs max-softmax {b:.3f} (no more than "
            f"{TARGETS['mistake_margin']:.2f} below) {_ok(d >= b - TARGETS['mistake_margin'])}; "
            f"Mahalanobis {x:.3f} ({_versus(x, d)})"
        )
        for probe, row in r["ood"].items():
            d, b, x = row["doubt"]["value"], row["max_softmax"]["value"], row["mahalanobis"]["value"]
            lines.append(
                f"{r['model']} out of distribution, {probe}: doubt {d:.3f} vs max-softmax {b:.3f} (above) "
                f"{_ok(d > b)}; Mahalanobis {x:.3f} ({_versus(x, d)})"
            )
        lines.append(f"{r['model']} reliability: ECE {r['ece']:.4f} [{r['ece_ci'][0]:.4f}, {r['ece_ci'][1]:.4f}]")
    if cost:
        share = cost["share"]
        lines.append(
            f"doubt's share of analyze at N = {cost['n']}: {share:.1%} (<= {TARGETS['doubt_share']:.0%}) "
            f"{_ok(share <= TARGETS['doubt_share'])}"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 epochs, 100 probes, 200 resamples, cost at N = 1,000"
    )
    parser.add_argument("--skip-cost", action="store_true", help="leave out (b)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from layerlens.app import zoo as zoo

    print(f"layerlens doubt benchmark, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}")
    trained = {}
    for name in MODELS:
        start = time.perf_counter()
        trained[name] = zoo.train_example(name, seed=0, epochs=2 if args.quick else None)
        print(f"trained {name}: test accuracy {trained[name].test_accuracy:.3f} in {time.perf_counter() - start:.0f} s")
    n_probes, n_bootstrap = (QUICK_PROBES, QUICK_BOOTSTRAP) if args.quick else (N_PROBES, N_BOOTSTRAP)
    results = [measure_model(name, trained, n_probes, n_bootstrap) for name in MODELS]
    cost = None if args.skip_cost else measure_cost(trained["phantoms"].model, QUICK_COST if args.quick else COST)
    lines = [
        "",
        f"(a) detection: reference = training images, analysed = held-out test images; AUROC with a bootstrap 95% "
        f"interval ({n_bootstrap} resamples). All probe sets of a model are the probes= of the analyze call of its "
        "test images (whose metrics were asserted unchanged by them).",
        "",
    ]
    for result in results:
        lines += format_model(result) + [""]
    lines += (format_cost(cost) if cost else []) + summary(results, cost)
    lines.append(f"load average at the end {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"models": results, "cost": cost}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
