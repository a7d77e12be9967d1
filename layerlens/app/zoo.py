"""Small example CNNs and the recipes that train them on the bundled data sets.

The example scripts, ``layerlens demo`` and the tests all train their models
through :func:`train_example`, so they train the same networks. The networks
follow the shape of the Keras CNNs in public student reports on MNIST and
brain-tumour MRI: ``keras.Input`` first, then Conv/MaxPool blocks, a Dense
layer, Dropout and the classifier head.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from layerlens._util.quiet_tensorflow import import_quietly
from layerlens.datasets import Split, load_faces, load_mnist, make_phantoms, make_volume_phantoms
from layerlens.exceptions import InvalidInputError

# The examples are where a notebook first meets TensorFlow: its start-up lines would land in the
# notebook's error stream (TF_CPP_MIN_LOG_LEVEL does not silence them).
import_quietly()
import keras  # noqa: E402

__all__ = [
    "OUTPUTS",
    "RECIPES",
    "Recipe",
    "TrainedModel",
    "predicted_labels",
    "save_example",
    "small_cnn",
    "train_example",
]

OUTPUTS = ("softmax", "sigmoid", "logits")


def small_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    filters: Sequence[int] = (32, 64),
    dense_units: int = 128,
    dropout: float = 0.5,
    output: str = "softmax",
    seed: int = 0,
    name: str = "small_cnn",
) -> keras.Sequential:
    """Build an uncompiled Conv/MaxPool/Dense/Dropout classifier.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)`` of one image, or ``(D, H, W, C)`` of one volume (the network is then 3-D: Conv3D and
        MaxPooling3D).
    n_classes : int
        Number of classes, at least 2.
    filters : sequence of int, default=(32, 64)
        Filters of each 3x3 convolution; each is followed by a 2x2 max-pooling.
    dense_units : int, default=128
        Width of the hidden dense layer.
    dropout : float, default=0.5
        Dropout rate before the classifier head.
    output : {"softmax", "sigmoid", "logits"}, default="softmax"
        Head: ``n_classes`` softmax units, one sigmoid unit (binary tasks
        only) or ``n_classes`` linear units (logits).
    seed : int, default=0
        Seed of the weight initialisers and of the dropout masks.
    name : str, default="small_cnn"
        Name of the model.

    Returns
    -------
    keras.Sequential
        The model; layers are named ``conv1``, ``pool1``, ..., ``flatten`` (``global_max`` for volumes: global
        max pooling), ``dense``, ``dropout`` and ``output``.

    Raises
    ------
    InvalidInputError
        If ``output`` is unknown, ``n_classes < 2``, or ``output="sigmoid"``
        with more than two classes.

    Examples
    --------
    >>> model = small_cnn((28, 28, 1), 10, filters=(8,), dense_units=16)
    >>> model.output_shape
    (None, 10)
    """
    if output not in OUTPUTS:
        raise InvalidInputError(f"output: expected one of {OUTPUTS}; received {output!r}.")
    if n_classes < 2:
        raise InvalidInputError(f"n_classes: expected at least 2; received {n_classes}.")
    if output == "sigmoid" and n_classes != 2:
        raise InvalidInputError(
            f"output: 'sigmoid' is a single-unit binary head and needs n_classes=2; received {n_classes}."
        )
    seeds = iter(range(seed * 1000, seed * 1000 + 1000))

    def init() -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=next(seeds))

    layers: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape), name="image")]
    volume = len(input_shape) == 4
    conv, pool = (
        (keras.layers.Conv3D, keras.layers.MaxPooling3D) if volume else (keras.layers.Conv2D, keras.layers.MaxPooling2D)
    )
    for i, n_filters in enumerate(filters, start=1):
        layers.append(conv(n_filters, 3, padding="same", activation="relu", kernel_initializer=init(), name=f"conv{i}"))
        layers.append(pool(2, name=f"pool{i}"))
    # A lesion is a fraction of a percent of a volume: its largest response, not the mean of every voxel's,
    # is what tells the classes apart (averaged away, a small 3-D network stays at chance).
    flatten = keras.layers.GlobalMaxPooling3D(name="global_max") if volume else keras.layers.Flatten(name="flatten")
    layers += [
        flatten,
        keras.layers.Dense(dense_units, activation="relu", kernel_initializer=init(), name="dense"),
        keras.layers.Dropout(dropout, seed=next(seeds), name="dropout"),
    ]
    units, activation = (1, "sigmoid") if output == "sigmoid" else (n_classes, None)
    if output == "softmax":
        activation = "softmax"
    layers.append(keras.layers.Dense(units, activation=activation, kernel_initializer=init(), name="output"))
    return keras.Sequential(layers, name=name)


@dataclass(frozen=True)
class Recipe:
    """How one example model is trained: its data, network and schedule."""

    name: str
    load: Callable[[int], Split]
    output: str = "softmax"
    filters: tuple[int, ...] = (32, 64)
    dense_units: int = 128
    dropout: float = 0.5
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe("mnist", lambda seed: load_mnist(seed=seed), epochs=8),
    "phantoms": Recipe(
        "phantoms",
        lambda seed: make_phantoms(3200, size=64, seed=seed),
        filters=(16, 32, 64),
        epochs=12,
    ),
    # A few hundred 32^3 head volumes in four lesion classes: the volume run of the demo, trained in seconds.
    "volumes": Recipe(
        "volumes",
        lambda seed: make_volume_phantoms(400, size=32, seed=seed).split(0.25, seed=seed),
        filters=(8, 16),
        dense_units=32,
        dropout=0.2,
        epochs=12,
        batch_size=16,
        learning_rate=3e-3,
    ),
    "faces": Recipe(
        "faces",
        lambda seed: load_faces(seed=seed),
        output="sigmoid",
        filters=(16, 32),
        dense_units=64,
        epochs=40,
        batch_size=16,
    ),
}


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A trained example model with the data it was trained and tested on."""

    recipe: Recipe
    model: keras.Model
    data: Split
    test_accuracy: float
    train_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)


def _loss(output: str) -> keras.losses.Loss:
    if output == "sigmoid":
        return keras.losses.BinaryCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=output == "logits")


def predicted_labels(model: keras.Model, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class index predicted for each image by a softmax, sigmoid or logit head.

    Parameters
    ----------
    model : keras.Model
        A classifier with output ``(N, K)`` (K >= 2) or ``(N, 1)`` (sigmoid).
    images : ndarray of shape (N, H, W, C)
        Images the model accepts.
    batch_size : int, default=256
        Images per forward pass.

    Returns
    -------
    ndarray of shape (N,), int64
    """
    # Plain calls rather than model.predict: every new model's predict() traces a tf.function, and after
    # a few models TensorFlow prints a retracing warning that means nothing here.
    scores = np.concatenate(
        [np.asarray(model(images[i : i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
    )
    if scores.shape[-1] == 1:
        return (scores[:, 0] > 0.5).astype(np.int64)
    return scores.argmax(axis=-1).astype(np.int64)


def train_example(
    name: str, *, seed: int = 0, epochs: int | None = None, data: Split | None = None, verbose: int = 0
) -> TrainedModel:
    """Train one of the example models of :data:`RECIPES`.

    Parameters
    ----------
    name : {"mnist", "phantoms", "faces"}
        The recipe to train.
    seed : int, default=0
        Seed of the data split, the initial weights, dropout and the
        order of the training images in each epoch.
    epochs : int, optional
        Overrides the recipe's number of epochs (the tests train shorter).
    data : Split, optional
        Train and test images to use instead of the recipe's own data set
        (they must have the recipe's number of classes for a sigmoid head).
    verbose : int, default=0
        Keras' verbosity while fitting.

    Returns
    -------
    TrainedModel
        The model, its data, test accuracy and the wall time of training.

    Raises
    ------
    InvalidInputError
        If ``name`` is not a recipe.
    """
    if name not in RECIPES:
        raise InvalidInputError(f"name: expected one of {sorted(RECIPES)}; received {name!r}.")
    recipe = RECIPES[name]
    split = recipe.load(seed) if data is None else data
    train, test = split
    model = small_cnn(
        train.images.shape[1:],
        len(split.class_names),
        filters=recipe.filters,
        dense_units=recipe.dense_units,
        dropout=recipe.dropout,
        output=recipe.output,
        seed=seed,
        name=f"{name}_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(recipe.learning_rate), loss=_loss(recipe.output), metrics=["accuracy"]
    )
    # Shuffle with our own seeded generator instead of fit(shuffle=True), which
    # draws from TensorFlow's global seed: training stays reproducible without
    # touching global random state.
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {}
    start = time.perf_counter()
    for epoch in range(epochs if epochs is not None else recipe.epochs):
        order = rng.permutation(len(train))
        result = model.fit(
            train.images[order],
            train.labels[order],
            batch_size=recipe.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=False,
            verbose=verbose,
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(predicted_labels(model, test.images) == test.labels))
    return TrainedModel(recipe, model, split, accuracy, seconds, history)


def save_example(trained: TrainedModel, out_dir: str | Path) -> Path:
    """Save a trained example model as ``OUT_DIR/<name>.keras``.

    Parameters
    ----------
    trained : TrainedModel
        Result of :func:`train_example`.
    out_dir : str or Path
        Folder to write into; created if missing.

    Returns
    -------
    Path
        The ``.keras`` file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{trained.recipe.name}.keras"
    # Write beside the target and rename, so an interrupted save never leaves a half-written model.
    partial = out / f".{trained.recipe.name}.partial.keras"
    trained.model.save(partial)
    partial.replace(path)
    return path
