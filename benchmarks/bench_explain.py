"""Benchmark the explanation methods: do their heat maps find the lesion, and do they depend on what the model learnt?

Run ``.venv/bin/python benchmarks/bench_explain.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run of about a minute). What is measured, in one process:

(a) Trust. The phantoms example model of ``layerlens.app.zoo`` (seed 0, trained here) explains held-out
    phantoms (``render_phantoms(N, size=64, seed=101)``, never seen in training) for their predicted
    class. Over the correctly classified images that hold a lesion, per method:

    - pointing game: share of images whose heat-map maximum lies inside the lesion mask dilated by
      2 pixels. When several pixels share the maximum (LIME's superpixels, flat Grad-CAM maps) the
      image scores the share of them inside the mask (the expected hit of a random tie-break).
      Printed beside it: the share of the image the dilated mask covers, which is what a uniformly
      random point gets, and the ratio of the two. Target: >= 0.6 and >= 3x random.
    - relevance mass: share of the positive attribution that lies inside the (undilated) mask,
      beside the mask's share of the image.
    - randomisation sanity check (Adebayo et al., 2018): the median Spearman correlation between each
      heat map and the heat map of the same image and class from a copy of the model with
      re-initialised weights. Low means the method shows what the model learnt, not the image's
      edges. A map that is constant (Grad-CAM of a random model can be all zero) has no rank
      correlation; such images are counted and left out of the median. Target: <= 0.3.
    - seconds per image.

(b) Speed. LIME with 1,000 samples on one image (the seconds its explanation reports: segmentation,
    sampling, the model on the samples, the linear fit) against 1,000 forward passes
    of the same model in one batched call (the traced model on a (1000, 64, 64, 1) numpy batch),
    alternating, 21 times each; the ratio of the medians. Target: <= 1.5. Grad-CAM per 64x64 image,
    in a batch of 64 and for a single image alone (setting up included). Target: < 50 ms.
(c) ``analyze(explain=20)`` on the demo's phantoms run (held-out test images, the training images as
    reference, stability=True, as ``make demo`` runs it) against the same with ``explain=0``,
    alternating, medians. Target: adds <= 30 s.

Methods that miss a target are printed as missing, with their numbers; nothing here is tuned to pass
on this one set. Run it on an otherwise idle machine: other load shows up in the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("lime", "gradcam", "integrated_gradients", "smoothgrad")
TARGETS = {"pointing": 0.6, "pointing_ratio": 3.0, "sanity": 0.3, "lime_ratio": 1.5, "gradcam_ms": 50.0, "adds_s": 30.0}
HELD_OUT_SEED = 101
DILATION = 2


def lesion_scores(heatmaps: Any, masks: Any) -> dict[str, float]:
    """Pointing game (ties shared), random point's share, relevance mass and mask share, averaged over images."""
    import numpy as np
    from skimage.morphology import dilation, disk

    pointing, random_point, mass, mask_share = [], [], [], []
    for heat, mask in zip(heatmaps, masks):
        dilated = dilation(mask, disk(DILATION))
        top = heat == heat.max()
        pointing.append(float(dilated[top].mean()))
        random_point.append(float(dilated.mean()))
        positive = np.maximum(heat, 0.0)
        total = float(positive.sum())
        mass.append(float(positive[mask].sum()) / total if total > 0 else 0.0)
        mask_share.append(float(mask.mean()))
    return {
        "pointing": float(np.mean(pointing)),
        "random_point": float(np.mean(random_point)),
        "relevance_mass": float(np.mean(mass)),
        "mask_share": float(np.mean(mask_share)),
    }


def sanity_correlations(heatmaps: Any, random_heatmaps: Any) -> tuple[float, int]:
    """Median Spearman correlation of matching heat maps, and how many pairs had a constant map (left out)."""
    import numpy as np
    from scipy.stats import spearmanr

    values, constant = [], 0
    for a, b in zip(heatmaps, random_heatmaps):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            constant += 1
            continue
        values.append(float(spearmanr(a.ravel(), b.ravel())[0]))
    return (float(np.median(values)) if values else float("nan")), constant


def reinitialised(model: Any, seed: int) -> Any:
    """A copy of ``model`` with the same architecture and freshly initialised weights."""
    import keras

    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(model)
    copy.build(model.inputs[0].shape)
    return copy


def trust(model: Any, images: Any, labels: Any, masks: Any, quick: bool) -> dict[str, Any]:
    import numpy as np

    import layerlens as ll

    predicted = ll.explain(model, images[:1], method="gradcam")  # warm-up: traces the model once
    del predicted
    from layerlens.explanations import Scorer

    scorer = Scorer(model, images)
    predictions = scorer.probabilities(images).argmax(axis=1)
    chosen = np.flatnonzero((predictions == labels) & masks.any(axis=(1, 2)))
    x, targets, lesion = images[chosen], predictions[chosen], masks[chosen]
    shuffled = reinitialised(model, seed=1)
    options = {"lime": {"num_samples": 300 if quick else 1000}}
    results = {"n_images": len(chosen), "accuracy": float(np.mean(predictions == labels))}
    for method in METHODS:
        start = time.perf_counter()
        explanations = ll.explain(model, x, method=method, targets=targets, **options.get(method, {}))
        seconds = (time.perf_counter() - start) / len(x)
        heat = np.stack([e.heatmap for e in explanations])
        randomised = ll.explain(shuffled, x, method=method, targets=targets, **options.get(method, {}))
        median, constant = sanity_correlations(heat, np.stack([e.heatmap for e in randomised]))
        results[method] = {
            **lesion_scores(heat, lesion),
            "sanity_spearman": median,
            "sanity_constant_maps": constant,
            "seconds_per_image": seconds,
        }
        print(f"  {method}: done in {seconds * len(x):.1f} s", flush=True)
    return results


def speed(model: Any, images: Any, repeats: int) -> dict[str, float]:
    """LIME per image against 1,000 forward passes in one call, alternating; Grad-CAM per image."""
    import numpy as np
    import tensorflow as tf

    import layerlens as ll

    batch = np.resize(images, (1000, *images.shape[1:])).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((None, *images.shape[1:]), tf.float32)
    )
    forward(tf.constant(batch))
    ll.explain(model, images[:2], method="lime")  # warm-up
    passes, lime_seconds = [], []
    for i in range(repeats):
        start = time.perf_counter()
        forward(tf.constant(batch)).numpy()  # from numpy, as LIME's samples start
        passes.append(time.perf_counter() - start)
        lime_seconds.append(ll.explain(model, images[i % len(images)], method="lime").seconds)
    gradcam_batch, gradcam_single = [], []
    for i in range(repeats):
        start = time.perf_counter()
        ll.explain(model, images[:64], method="gradcam")
        gradcam_batch.append((time.perf_counter() - start) / 64)
        start = time.perf_counter()
        ll.explain(model, images[i % len(images)], method="gradcam")
        gradcam_single.append(time.perf_counter() - start)
    forward_s = statistics.median(passes)
    lime_s = statistics.median(lime_seconds)
    return {
        "forward_1000_s": forward_s,
        "lime_1000_samples_s": lime_s,
        "lime_ratio": lime_s / forward_s,
        "gradcam_batch_ms": 1000 * statistics.median(gradcam_batch),
        "gradcam_single_ms": 1000 * statistics.median(gradcam_single),
    }


def analyze_cost(trained: Any, repeats: int) -> dict[str, float]:
    import layerlens as ll

    data = trained.data
    runs: dict[int, list[float]] = {0: [], 20: []}
    for _ in range(repeats):
        for n in (0, 20):
            start = time.perf_counter()
            ll.analyze(
                trained.model,
                data.test,
                reference=data.train,
                stability=True,
                progress=False,
                explain=n,
                negative_class="no_tumor",
            )
            runs[n].append(time.perf_counter() - start)
    off, on = statistics.median(runs[0]), statistics.median(runs[20])
    return {"explain_0_s": off, "explain_20_s": on, "adds_s": on - off}


def report(results: dict[str, Any]) -> None:
    t = TARGETS
    trust_results = results["trust"]
    print(
        f"\n(a) trust: {trust_results['n_images']} correctly classified lesion images "
        f"(held-out accuracy {trust_results['accuracy']:.3f})"
    )
    print(
        f"{'method':22}{'pointing':>9}{'random':>8}{'ratio':>7}{'mass':>7}{'mask':>7}{'sanity':>8}{'const':>6}"
        f"{'s/img':>8}  verdict"
    )
    for method in METHODS:
        r = trust_results[method]
        ratio = r["pointing"] / r["random_point"]
        misses = []
        if r["pointing"] < t["pointing"]:
            misses.append(f"pointing < {t['pointing']}")
        if ratio < t["pointing_ratio"]:
            misses.append(f"< {t['pointing_ratio']:g}x random")
        if not r["sanity_spearman"] <= t["sanity"]:
            misses.append(f"sanity > {t['sanity']}")
        verdict = "meets the targets" if not misses else "MISSES: " + ", ".join(misses)
        print(
            f"{method:22}{r['pointing']:9.3f}{r['random_point']:8.3f}{ratio:7.1f}{r['relevance_mass']:7.3f}"
            f"{r['mask_share']:7.3f}{r['sanity_spearman']:8.3f}{r['sanity_constant_maps']:6d}"
            f"{r['seconds_per_image']:8.3f}  {verdict}"
        )
    s = results["speed"]
    print(
        f"\n(b) speed: 1,000 forward passes in one call {s['forward_1000_s']:.3f} s; LIME, 1,000 samples "
        f"{s['lime_1000_samples_s']:.3f} s per image; ratio {s['lime_ratio']:.2f} (target <= {t['lime_ratio']})"
    )
    print(
        f"    Grad-CAM {s['gradcam_batch_ms']:.1f} ms per image in a batch of 64, {s['gradcam_single_ms']:.1f} ms "
        f"for one image alone (target < {t['gradcam_ms']:g} ms)"
    )
    a = results["analyze"]
    print(
        f"\n(c) analyze on the demo phantoms run: explain=0 {a['explain_0_s']:.1f} s, explain=20 "
        f"{a['explain_20_s']:.1f} s, adds {a['adds_s']:.1f} s (target <= {t['adds_s']:g} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="held-out phantoms to explain (default 300)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 60 images, LIME with 300 samples")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    n = 60 if args.quick else args.n
    repeats = 5 if args.quick else 21

    from layerlens._util.quiet_tensorflow import import_quietly
    from layerlens.app import zoo as zoo
    from layerlens.datasets import render_phantoms

    import_quietly()
    start = time.perf_counter()
    trained = zoo.train_example("phantoms", seed=0)
    print(f"phantoms model trained in {time.perf_counter() - start:.0f} s, test accuracy {trained.test_accuracy:.3f}")
    held_out = render_phantoms(n, size=64, seed=HELD_OUT_SEED)
    results = {"n": n}
    results["trust"] = trust(trained.model, held_out.images, held_out.labels, held_out.masks, args.quick)
    results["speed"] = speed(trained.model, held_out.images, repeats)
    results["analyze"] = analyze_cost(trained, 1 if args.quick else 3)
    report(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
