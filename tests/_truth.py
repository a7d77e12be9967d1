"""Image sets with a known truth for the findings: squares at class positions, and what is wrong with them.

Four classes, each a bright square at its own place on a 16x16 noisy background. Classes 0 and 1 sit close
together (their squares wander over each other's place), so a model trained on them confuses exactly those
two; classes 2 and 3 sit far apart. Everything else (damaged groups, wrong labels, probes) is added on top.
"""

from __future__ import annotations

import numpy as np

SIZE = 16
CLASSES = ("left", "near_left", "bottom", "right")
# Top-left corner of each class's square; 0 and 1 are two pixels apart.
_PLACES = {0: (2, 2), 1: (2, 4), 2: (10, 2), 3: (9, 10)}


def squares(n: int, seed: int, *, jitter: int = 1, noise: float = 0.15, classes=(0, 1, 2, 3)) -> tuple:
    """``n`` images of the given classes (as evenly as possible) and their labels, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    labels = np.resize(np.asarray(classes), n)
    rng.shuffle(labels)
    images = rng.normal(0.2, noise, size=(n, SIZE, SIZE, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        row, col = _PLACES[int(label)]
        row += int(rng.integers(-jitter, jitter + 1))
        col += int(rng.integers(-jitter, jitter + 1))
        images[i, max(row, 0) : row + 4, max(col, 0) : col + 4, 0] += 0.7
    return np.clip(images, 0.0, 1.0), labels.astype(np.int64)


def train_model(images: np.ndarray, labels: np.ndarray, *, epochs: int = 6, seed: int = 0):
    """The zoo's small CNN trained on the squares (a few seconds on the CPU)."""
    import keras

    from layerlens.app import zoo

    keras.utils.set_random_seed(seed)
    model = zoo.small_cnn((SIZE, SIZE, 1), len(CLASSES), filters=(8, 16), dense_units=32, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=epochs, batch_size=64, shuffle=False, verbose=0)
    return model


def damage(images: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """A copy of ``images`` whose ``rows`` are damaged as a broken scanner would: strong noise over a dim image."""
    rng = np.random.default_rng(seed)
    damaged = images.copy()
    damaged[rows] = np.clip(0.4 * damaged[rows] + rng.normal(0.3, 0.35, size=damaged[rows].shape), 0.0, 1.0)
    return damaged.astype(np.float32)


def probes_like(n: int, seed: int, cls: int = 3) -> np.ndarray:
    """Images of no class that the model will be sure of: a flat background with an oversized bright block
    over class ``cls``'s place."""
    rng = np.random.default_rng(seed)
    images = np.full((n, SIZE, SIZE, 1), 0.05, np.float32) + rng.normal(0.0, 0.02, (n, SIZE, SIZE, 1)).astype(
        np.float32
    )
    row, col = _PLACES[cls]
    images[:, row - 1 : row + 5, col - 1 : col + 5, 0] = 1.0
    return np.clip(images, 0.0, 1.0)
