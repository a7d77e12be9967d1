"""Benchmark layerlens on a 3-D CNN: extraction and ``analyze`` against plain ``predict`` on volumes.

Run ``.venv/bin/python benchmarks/bench_volumes.py`` from the repository root (``--quick``: N = 40 at 32x64x64,
a smoke run of under a minute). What is measured, in one process, side by side:

- The model: a Conv3D classifier of the size PET and CT studies train (Keras' CT tutorial's layout, narrower):
  Conv3D(16) - MaxPool3D - Conv3D(32) - MaxPool3D - Conv3D(64) - MaxPool3D - Conv3D(64) -
  GlobalAveragePooling3D - Dense(64) - Dense(4, softmax), weights random (the speed of a pass does not depend on
  them), input 64x128x128x1 (D, H, W, C).
- The volumes: N = 200 smooth random volumes (Gaussian-blurred noise, float32 in [0, 1]; 4 MB each, 840 MB in
  all), labels at random.
- ``model.predict(x, batch_size=B)``, ``layerlens.model.extract(model, x, batch_size=B)`` (the default layers)
  and ``layerlens.analyze(model, x, labels, explain=0)`` (its default ``batch_size="auto"``, which is B: the
  largest activation of a batch under 1 GiB). One warm-up call of each on 2B volumes, then ``--rounds`` rounds
  alternating predict, extract, analyze; the medians, their ratios to predict, and the ratios of the fastest
  runs (less sensitive to other load on the machine). Targets (issue 20): extraction / predict <= 1.3 and
  analyze(explain=0) / predict <= 2.0.
- The peak resident memory of the process (after the volumes are made) and the batch size ``"auto"`` chose.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def _model(shape: tuple[int, int, int, int]):
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape),
            layers.Conv3D(16, 3, activation="relu", padding="same", name="conv1"),
            layers.MaxPool3D(2, name="pool1"),
            layers.Conv3D(32, 3, activation="relu", padding="same", name="conv2"),
            layers.MaxPool3D(2, name="pool2"),
            layers.Conv3D(64, 3, activation="relu", padding="same", name="conv3"),
            layers.MaxPool3D(2, name="pool3"),
            layers.Conv3D(64, 3, activation="relu", padding="same", name="conv4"),
            layers.GlobalAveragePooling3D(name="gap"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(4, activation="softmax", name="output"),
        ],
        name="ct3d",
    )


def _volumes(n: int, shape: tuple[int, int, int], seed: int):
    import numpy as np
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    out = np.empty((n, *shape, 1), np.float32)
    for i in range(n):
        smooth = gaussian_filter(rng.random(shape, dtype=np.float32), sigma=3.0)
        lo, hi = smooth.min(), smooth.max()
        out[i, ..., 0] = (smooth - lo) / (hi - lo)
    return out, rng.integers(0, 4, n)


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="volumes (default 200)")
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 128, 128), metavar=("D", "H", "W"))
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each (default 3)")
    parser.add_argument("--quick", action="store_true", help="N = 40 at 32x64x64, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.shape, args.rounds = 40, (32, 64, 64), 2
    import warnings

    import layerlens as ll
    from layerlens.exceptions import UnreliableAnalysisWarning
    from layerlens.model import extract, resolve_batch_size

    # Random weights predict one class for everything: analyze says so, rightly; it is not what is measured.
    warnings.simplefilter("ignore", UnreliableAnalysisWarning)

    shape = tuple(args.shape)
    model = _model((*shape, 1))
    start = time.perf_counter()
    x, y = _volumes(args.n, shape, seed=0)
    print(f"{args.n} volumes of {shape} made in {time.perf_counter() - start:.1f} s ({x.nbytes / 2**20:.0f} MB)")
    batch = resolve_batch_size("auto", model)
    print(f"batch_size='auto' -> {batch} volumes per pass; load average {os.getloadavg()[0]:.2f}")

    def predict(data):
        return model.predict(data, batch_size=batch, verbose=0)

    def extracted(data):
        return extract(model, data, batch_size=batch, progress=False)

    def analysed(data, labels):
        return ll.analyze(model, data, labels, explain=0, progress=False)

    warm = x[: 2 * batch]
    for call in (lambda: predict(warm), lambda: extracted(warm), lambda: analysed(warm, y[: 2 * batch])):
        call()
    times: dict[str, list[float]] = {"predict": [], "extract": [], "analyze": []}
    for _ in range(args.rounds):
        times["predict"].append(_timed(lambda: predict(x)))
        times["extract"].append(_timed(lambda: extracted(x)))
        times["analyze"].append(_timed(lambda: analysed(x, y)))
    base, fastest = statistics.median(times["predict"]), min(times["predict"])
    print(f"\n{'':<22}{'median s':>10}{'volumes/s':>11}{'÷ predict':>11}{'fastest ÷':>11}  target")
    for name, target in (("predict", None), ("extract", 1.3), ("analyze", 2.0)):
        median = statistics.median(times[name])
        ratio, best = median / base, min(times[name]) / fastest
        goal = "" if target is None else f"≤ {target}: {'met' if ratio <= target else 'MISSED'}"
        label = "analyze(explain=0)" if name == "analyze" else name
        print(f"{label:<22}{median:>10.2f}{args.n / median:>11.1f}{ratio:>11.2f}{best:>11.2f}  {goal}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak resident memory {peak:.2f} GB (the volumes alone {x.nbytes / 2**30:.2f} GB)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
