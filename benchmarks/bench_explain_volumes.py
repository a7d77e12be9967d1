"""Benchmark the explanation methods on volumes: do their 3-D heat maps find the lesion, and at what cost?

Run ``.venv/bin/python benchmarks/bench_explain_volumes.py`` from the repository root (``--help`` lists the
options; ``--quick`` is a smoke run). What is measured, in one process:

(a) A small Conv3D (two convolutions, 3-D max pooling between them, global max pooling, softmax) is trained
    here on ``make_volume_phantoms(320, size=32, seed=0)`` (four classes: no tumour and three lesion
    kinds) and explains held-out volumes (``seed=101``, never seen in training) for their predicted
    class. Over the correctly classified volumes that hold a lesion, per method:

    - pointing game: share of volumes whose heat-map maximum lies inside the lesion mask dilated by one
      voxel (the 6-neighbourhood: one binary dilation with the 3-D cross). When several voxels share the
      maximum (LIME's supervoxels, flat Grad-CAM maps) the volume scores the share of them inside the
      mask (the expected hit of a random tie-break). Printed beside it: the share of the volume the
      dilated mask covers, which is what a uniformly random point gets, and the ratio of the two.
    - relevance mass: share of the positive attribution inside the (undilated) mask, beside the mask's
      share of the volume (what a map blind to the volume gets).
    - seconds per volume (the call's time shared among its volumes; LIME's as each explanation reports it).

(b) Speed of LIME: LIME with 1,000 samples on one volume (the seconds its explanation reports: SLIC in 3-D,
    sampling, the model on the samples, the linear fit) against 1,000 forward passes of the same model in
    one batched call (the traced model on a (1000, 32, 32, 32, 1) numpy batch), alternating, each repeated;
    the ratio of the medians.

Nothing here is tuned to pass on this one set. Run it on an otherwise idle machine: other load shows up in
the timings.
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
TRAIN_SEED, HELD_OUT_SEED = 0, 101
SIZE = 32


def lesion_scores(heatmaps: Any, masks: Any) -> dict[str, float]:
    """Pointing game (ties shared, mask dilated by one voxel), random point's share, relevance mass, mask share."""
    import numpy as np
    from scipy.ndimage import binary_dilation, generate_binary_structure

    cross = generate_binary_structure(3, 1)
    pointing, random_point, mass, mask_share = [], [], [], []
    for heat, mask in zip(heatmaps, masks):
        dilated = binary_dilation(mask, structure=cross)
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


def train(n: int, epochs: int) -> tuple[Any, float]:
    """The Conv3D, trained on ``n`` phantoms of 32^3; and the seconds it took."""
    import keras

    from layerlens.datasets import make_volume_phantoms

    data = make_volume_phantoms(n, size=SIZE, seed=TRAIN_SEED)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, SIZE, 1)),
            keras.layers.Conv3D(8, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling3D(2, name="pool1"),
            keras.layers.Conv3D(16, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalMaxPooling3D(name="gmp"),
            keras.layers.Dense(len(data.class_names), activation="softmax", name="output"),
        ],
        name="volume_phantoms_cnn",
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(data.images, data.labels, epochs=epochs, batch_size=16, shuffle=True, verbose=0)
    return model, time.perf_counter() - start


def trust(model: Any, held_out: Any, lime_samples: int) -> dict[str, Any]:
    import numpy as np

    import layerlens as ll
    from layerlens.explanations import Scorer

    images, labels, masks = held_out.images, held_out.labels, held_out.masks
    predictions = Scorer(model, images).probabilities(images).argmax(axis=1)
    chosen = np.flatnonzero((predictions == labels) & masks.any(axis=(1, 2, 3)))
    x, targets, lesion = images[chosen], predictions[chosen], masks[chosen]
    results: dict[str, Any] = {"n_volumes": len(chosen), "accuracy": float(np.mean(predictions == labels))}
    ll.explain(model, x[:1], method="gradcam")  # warm-up: the first call pays for TensorFlow's start
    for method in METHODS:
        options = {"num_samples": lime_samples} if method == "lime" else {}
        start = time.perf_counter()
        explanations = ll.explain(model, x, method=method, targets=targets, **options)
        seconds = time.perf_counter() - start
        heat = np.stack([e.heatmap for e in explanations])
        results[method] = {
            **lesion_scores(heat, lesion),
            "seconds_per_volume": float(np.median([e.seconds for e in explanations]))
            if method == "lime"
            else seconds / len(x),
        }
        print(f"  {method}: done in {seconds:.1f} s", flush=True)
    return results


def lime_speed(model: Any, images: Any, repeats: int) -> dict[str, float]:
    """LIME with 1,000 samples per volume against 1,000 forward passes in one call, alternating."""
    import numpy as np
    import tensorflow as tf

    import layerlens as ll

    batch = np.resize(images, (1000, *images.shape[1:])).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((None, *images.shape[1:]), tf.float32)
    )
    forward(tf.constant(batch))
    ll.explain(model, images[:1], method="lime")  # warm-up: traces the composite call
    passes, lime_seconds = [], []
    for i in range(repeats):
        start = time.perf_counter()
        forward(tf.constant(batch)).numpy()  # from numpy, as LIME's samples start
        passes.append(time.perf_counter() - start)
        lime_seconds.append(ll.explain(model, images[i % len(images)], method="lime").seconds)
    forward_s, lime_s = statistics.median(passes), statistics.median(lime_seconds)
    return {"forward_1000_s": forward_s, "lime_1000_samples_s": lime_s, "lime_ratio": lime_s / forward_s}


def report(results: dict[str, Any]) -> None:
    t = results["trust"]
    print(
        f"\nmodel: trained on {results['n_train']} volumes of {SIZE}^3 in {results['train_s']:.0f} s; held-out "
        f"accuracy {t['accuracy']:.3f} on {results['n']}"
    )
    print(f"(a) trust: {t['n_volumes']} correctly classified lesion volumes; pointing game inside the mask dilated by")
    print("    one voxel (6-neighbourhood), relevance mass inside the undilated mask")
    print(f"{'method':22}{'pointing':>9}{'random':>8}{'ratio':>7}{'mass':>7}{'mask':>7}{'ratio':>7}{'s/vol':>8}")
    for method in METHODS:
        r = t[method]
        print(
            f"{method:22}{r['pointing']:9.3f}{r['random_point']:8.3f}{r['pointing'] / r['random_point']:7.1f}"
            f"{r['relevance_mass']:7.3f}{r['mask_share']:7.4f}{r['relevance_mass'] / r['mask_share']:7.1f}"
            f"{r['seconds_per_volume']:8.3f}"
        )
    s = results["speed"]
    print(
        f"\n(b) LIME, 1,000 samples: {s['lime_1000_samples_s']:.3f} s per volume; 1,000 forward passes in one call "
        f"{s['forward_1000_s']:.3f} s; ratio {s['lime_ratio']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=80, help="held-out volumes to explain (default 80)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 24 volumes, LIME with 300 samples")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    n = 24 if args.quick else args.n
    n_train = 160 if args.quick else 320

    from layerlens._util.quiet_tensorflow import import_quietly
    from layerlens.datasets import make_volume_phantoms

    import_quietly()
    model, train_s = train(n_train, 6 if args.quick else 12)
    print(f"Conv3D trained on {n_train} phantoms of {SIZE}^3 in {train_s:.0f} s", flush=True)
    held_out = make_volume_phantoms(n, size=SIZE, seed=HELD_OUT_SEED)
    results: dict[str, Any] = {"n": n, "n_train": n_train, "train_s": train_s}
    results["trust"] = trust(model, held_out, 300 if args.quick else 1000)
    results["speed"] = lime_speed(model, held_out.images, 3 if args.quick else 7)
    report(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
