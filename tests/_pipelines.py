"""User pipelines for ``tests/test_pipelines.py``: digit folders, and small models trained on them as tutorials do.

Each :class:`Pipeline` is a way the tutorials preprocess ``image_dataset_from_directory``'s 0..255 images: a
``keras.applications`` family's ``preprocess_input`` inside the model, a ``Normalization`` or ``Rescaling`` layer,
``preprocess_input`` mapped over the tf.data pipeline instead, or a whole application base behind it.
:func:`train` trains one on ``Training/`` and evaluates it on ``Testing/`` with Keras' own reader, and measures what
the model makes of images at the wrong pixel range, so a test can tell that matching ``model.evaluate`` means
something.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Share of scikit-learn's 1,797 digits written to ``Testing/``: 306 images (stratified), the rest to ``Training/``.
TEST_SIZE = 0.17
#: Colour of the digits' strokes in RGB folders: the channels differ, so a model that flips RGB to BGR
#: (``resnet50.preprocess_input``) sees another image than one that does not.
TINT = (1.0, 0.7, 0.4)
SEED = 0


@dataclass(frozen=True)
class Pipeline:
    """How one user trained a classifier on a folder of digits.

    ``build(input_shape, training_images)`` returns the uncompiled model (``training_images`` is the training
    dataset's images, as the model will see them, for a layer to adapt on). ``outside`` names the
    ``keras.applications`` family whose ``preprocess_input`` the user mapped over the datasets instead of
    putting it in the model (None: the model takes the reader's 0..255 images as they are).
    """

    name: str
    size: int
    color_mode: str
    build: Callable[[tuple[int, int, int], Any], Any]
    epochs: int
    outside: str | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3 if self.color_mode == "rgb" else 1)


@dataclass(frozen=True, eq=False)
class Trained:
    """A pipeline's trained model, its test images three ways, and what Keras says of it.

    ``accuracy`` is ``model.evaluate(dataset)``'s; ``wrong_scale_accuracy`` the best accuracy of the model on the
    test images at a pixel range it was not trained on (0..255 divided by 255, and for a model that takes
    preprocessed images also the raw 0..255); ``images`` are the test PNGs read with PIL (uint8 0..255) and
    ``labels`` their class folders' indices.
    """

    pipeline: Pipeline
    model: Any
    folder: Path
    dataset: Any
    images: np.ndarray
    labels: np.ndarray
    accuracy: float
    wrong_scale_accuracy: float
    png_shape: tuple[int, int, int]


def write_digit_folders(root: Path, *, size: int, color_mode: str) -> Path:
    """``root/Training/<digit>/*.png`` and ``root/Testing/<digit>/*.png``: 8-bit PNGs of ``size`` x ``size``.

    Written at exactly the model's input size, so that neither Keras' reader nor layerlens' resizes them (their
    resampling differs). ``"rgb"`` tints the gray digits with :data:`TINT`. Returns ``root``.
    """
    from PIL import Image

    from layerlens.datasets import load_digits

    split = load_digits(image_size=size, test_size=TEST_SIZE, seed=SEED)
    for part, images in zip(("Training", "Testing"), split):
        for i, (image, label) in enumerate(zip(images.images, images.labels)):
            gray = np.clip(image[..., 0], 0.0, 1.0)
            pixels = gray[..., np.newaxis] * np.asarray(TINT) if color_mode == "rgb" else gray
            folder = root / part / images.class_names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(folder / f"{i:04d}.png")
    return root


def read_pngs(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every ``folder/<class>/*.png`` as uint8 ``(N, H, W, C)`` and its class index (class folders sorted)."""
    from PIL import Image

    images, labels = [], []
    for label, class_folder in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        for file in sorted(class_folder.glob("*.png")):
            pixels = np.asarray(Image.open(file))
            images.append(pixels[..., np.newaxis] if pixels.ndim == 2 else pixels)
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def keras_dataset(folder: Path, pipeline: Pipeline, *, shuffle: bool) -> Any:
    """The folder as the tutorials read it (float32 0..255 batches of 32, int labels), mapped as the user did."""
    import keras

    dataset = keras.utils.image_dataset_from_directory(
        folder,
        image_size=(pipeline.size, pipeline.size),
        batch_size=32,
        label_mode="int",
        color_mode=pipeline.color_mode,
        shuffle=shuffle,
        seed=SEED,
        verbose=False,
    )
    if pipeline.outside is None:
        return dataset
    preprocess_input = getattr(keras.applications, pipeline.outside).preprocess_input
    return dataset.map(lambda x, y: (preprocess_input(x), y))


def train(pipeline: Pipeline, root: Path) -> Trained:
    """Train ``pipeline`` on ``root/Training`` and evaluate it on ``root/Testing``, as the tutorials do."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)  # the layers built here, MobileNetV2 included, draw their weights from it
    training = keras_dataset(root / "Training", pipeline, shuffle=True)
    model = pipeline.build(pipeline.input_shape, training.map(lambda x, y: x))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        # fit's default shuffle=True does not apply to a dataset, which the tutorials shuffle themselves.
        warnings.filterwarnings("ignore", message="`shuffle=True` was passed", category=UserWarning)
        model.fit(
            training.cache().shuffle(1000, seed=SEED).prefetch(tf.data.AUTOTUNE), epochs=pipeline.epochs, verbose=0
        )
    dataset = keras_dataset(root / "Testing", pipeline, shuffle=False)
    accuracy = model.evaluate(dataset, verbose=0, return_dict=True)["accuracy"]
    images, labels = read_pngs(root / "Testing")
    wrong = [images / 255.0] + ([images.astype(np.float32)] if pipeline.outside is not None else [])
    wrong_scale_accuracy = max(float(np.mean(_predicted(model, x) == labels)) for x in wrong)
    return Trained(
        pipeline=pipeline,
        model=model,
        folder=root / "Testing",
        dataset=dataset,
        images=images,
        labels=labels,
        accuracy=float(accuracy),
        wrong_scale_accuracy=wrong_scale_accuracy,
        png_shape=tuple(int(d) for d in images.shape[1:]),
    )


def _predicted(model: Any, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x.astype(np.float32), batch_size=64, verbose=0), axis=-1)


# --- the models -------------------------------------------------------------------------------------------------


def _small_cnn() -> list[Any]:
    """Two small convolutions and a softmax, what the pipelines put after their preprocessing: 3,818 weights on
    gray images, 3,962 on RGB."""
    import keras

    return [
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ]


def _functional(preprocessing: Callable[[Any], Any]) -> Callable[[tuple[int, int, int], Any], Any]:
    """``keras.Input`` -> ``preprocessing`` (ops on the symbolic tensor) -> the small CNN."""

    def build(input_shape: tuple[int, int, int], training_images: Any) -> Any:
        import keras

        inputs = keras.Input(input_shape, name="image")
        x = preprocessing(inputs)
        for layer in _small_cnn():
            x = layer(x)
        return keras.Model(inputs, x, name="functional_preprocessing")

    return build


def _application(family: str) -> Callable[[tuple[int, int, int], Any], Any]:
    def preprocess_input(x: Any) -> Any:
        import keras

        return getattr(keras.applications, family).preprocess_input(x)

    return _functional(preprocess_input)


def _sequential(first: Callable[[Any], Any] | None) -> Callable[[tuple[int, int, int], Any], Any]:
    """``keras.Sequential([Input, first(training_images), *small CNN])``; no first layer when ``first`` is None."""

    def build(input_shape: tuple[int, int, int], training_images: Any) -> Any:
        import keras

        head = [] if first is None else [first(training_images)]
        return keras.Sequential([keras.Input(input_shape), *head, *_small_cnn()], name="sequential_preprocessing")

    return build


def _normalization(training_images: Any) -> Any:
    import keras

    layer = keras.layers.Normalization(name="normalization")
    layer.adapt(training_images)  # mean and variance of the 0..255 training pixels
    return layer


def _rescaling(scale: float, offset: float = 0.0) -> Callable[[Any], Any]:
    def first(training_images: Any) -> Any:
        import keras

        return keras.layers.Rescaling(scale, offset=offset, name="rescaling")

    return first


def _mobilenet_v2_base(input_shape: tuple[int, int, int], training_images: Any) -> Any:
    """MobileNetV2 (alpha 0.35, no weights) behind its ``preprocess_input``, as the transfer-learning guide builds it.

    The guide freezes a pretrained base; this one starts from random weights, so it is trained, and its batch
    normalisation's moving statistics (momentum 0.999 in keras.applications, tuned for ImageNet's long runs)
    would still be near their initial 0 and 1 after the few hundred steps it gets: inference would give every
    image the same output. Momentum 0.9 lets them follow the weights.
    """
    import keras

    base = keras.applications.MobileNetV2(input_shape=input_shape, alpha=0.35, include_top=False, weights=None)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    inputs = keras.Input(input_shape, name="image")
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="transfer")


PIPELINES = (
    Pipeline("mobilenet_v2_inside", 16, "rgb", _application("mobilenet_v2"), epochs=4),
    Pipeline("densenet_inside", 16, "rgb", _application("densenet"), epochs=4),
    Pipeline("resnet50_inside", 16, "rgb", _application("resnet50"), epochs=4),
    Pipeline("normalization_adapted", 16, "grayscale", _sequential(_normalization), epochs=4),
    Pipeline("rescaling_1_255", 16, "grayscale", _sequential(_rescaling(1 / 255)), epochs=4),
    Pipeline("rescaling_minus1_1", 16, "grayscale", _sequential(_rescaling(1 / 127.5, -1.0)), epochs=4),
    Pipeline("mobilenet_v2_in_tf_data", 16, "rgb", _sequential(None), epochs=4, outside="mobilenet_v2"),
    Pipeline("mobilenet_v2_base", 32, "rgb", _mobilenet_v2_base, epochs=8),
)
