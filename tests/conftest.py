"""Shared fixtures: tiny data and models, built once per test session, CPU only."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _images import blurred_noise  # noqa: E402

IMAGE_SHAPE = (16, 16, 1)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn digits at 16x16: (train, test) with 300 test images."""
    from layerlens.datasets import load_digits

    train, test = load_digits(image_size=16, seed=0)
    return train, test.subset(range(300))


def _fit(model, train, *, loss="sparse_categorical_crossentropy", epochs=3):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    model.fit(train.images, train.labels, epochs=epochs, batch_size=64, shuffle=False, verbose=0)
    return model


@pytest.fixture(scope="session")
def sequential_model(digits):
    """The zoo's Sequential CNN (conv1, pool1, conv2, pool2, flatten, dense, dropout, output), softmax."""
    from layerlens.app import zoo as zoo

    return _fit(zoo.small_cnn(IMAGE_SHAPE, 10, filters=(8, 16), dense_units=32, seed=0), digits[0])


@pytest.fixture(scope="session")
def logits_model(digits):
    """The same CNN with a linear head trained on logits."""
    import keras

    from layerlens.app import zoo as zoo

    model = zoo.small_cnn(IMAGE_SHAPE, 10, filters=(8, 16), dense_units=32, output="logits", seed=1)
    return _fit(model, digits[0], loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


@pytest.fixture(scope="session")
def branch_model(digits):
    """Functional model: two convolution branches joined by Add, then pooling and softmax."""
    import keras

    inputs = keras.Input(IMAGE_SHAPE, name="image")
    narrow = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="narrow")(inputs)
    wide = keras.layers.Conv2D(8, 5, padding="same", activation="relu", name="wide")(inputs)
    joined = keras.layers.Add(name="join")([narrow, wide])
    pooled = keras.layers.MaxPooling2D(name="pool")(joined)
    conv = keras.layers.Conv2D(16, 3, activation="relu", name="conv")(pooled)
    features = keras.layers.GlobalAveragePooling2D(name="gap")(conv)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(features)
    return _fit(keras.Model(inputs, outputs, name="branchy"), digits[0], epochs=12)


@pytest.fixture(scope="session")
def nested_model(digits):
    """A small functional 'base network' inside a Sequential, as in transfer-learning reports."""
    import keras

    base_in = keras.Input(IMAGE_SHAPE, name="base_input")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="block1_conv")(base_in)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="block2_conv")(x)
    base = keras.Model(base_in, x, name="base")
    model = keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            base,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ],
        name="transfer",
    )
    return _fit(model, digits[0], epochs=12)


@pytest.fixture(scope="session")
def faces_model():
    """The faces example model (single sigmoid unit), trained once: about 3 s."""
    from layerlens.app import zoo as zoo

    return zoo.train_example("faces", seed=0)


@pytest.fixture
def images(digits):
    """300 test images (N, 16, 16, 1) float32."""
    return digits[1].images


@pytest.fixture
def random_images():
    return np.random.default_rng(0).random((20, *IMAGE_SHAPE), dtype=np.float32)


@pytest.fixture(scope="session")
def normalised_model():
    """Rescaling(1/255), BatchNormalization with trained statistics, and a Dense-then-Activation head.

    Trained on 0..255 pixel values, the way the Keras tutorials feed ``image_dataset_from_directory``.
    """
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((64, 8, 8, 1)) * 255, rng.integers(0, 3, 64), epochs=2, verbose=0)
    return model


@pytest.fixture(scope="session")
def byte_model(digits):
    """The zoo CNN behind Rescaling(1/255), trained on 0..255 digits: it expects byte pixel values."""
    import keras

    from layerlens.app import zoo as zoo

    inner = zoo.small_cnn(IMAGE_SHAPE, 10, filters=(8, 16), dense_units=32, seed=2)
    model = keras.Sequential([keras.Input(IMAGE_SHAPE), keras.layers.Rescaling(1 / 255, name="rescale"), *inner.layers])
    train = digits[0]
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(train.images * 255, train.labels, epochs=3, batch_size=64, shuffle=False, verbose=0)
    return model


@pytest.fixture(scope="session")
def site_runs(tmp_path_factory, sequential_model, digits):
    """Two stored runs of the tiny digits CNN for the site: labelled with a negative class, explanations,
    probes (blurred noise), a scanner for each image and 300 training images as its reference, and
    unlabelled (no mistakes known)."""
    import layerlens as ll

    train, test = digits
    folder = tmp_path_factory.mktemp("site_runs")
    labelled = ll.analyze(
        sequential_model,
        test.images,
        test.labels,
        class_names=test.class_names,
        name="digits",
        negative_class="0",
        explain=4,
        explain_methods=("lime", "gradcam"),
        probes=blurred_noise(12, test.images.shape[1:]),
        metadata={"scanner": np.array(["GE", "Siemens", "Philips"])[np.arange(len(test)) % 3]},
        reference=train.subset(range(300)),
        progress=False,
    )
    unlabelled = ll.analyze(
        sequential_model,
        test.images[:120],
        class_names=test.class_names,
        name="digits unlabelled",
        explain=0,
        progress=False,
    )
    return [labelled.save(folder / "digits"), unlabelled.save(folder / "unlabelled")]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, site_runs):
    """The site of :func:`site_runs`, built once; returns its folder."""
    from layerlens.site import build_site

    out = tmp_path_factory.mktemp("site") / "output_site"
    build_site(site_runs, out=out)
    return out


@pytest.fixture(scope="module")
def big_site(tmp_path_factory, site_runs):
    """The labelled digits run of ``site_runs`` built as a big run (sprites, paged gallery, sampled maps)."""
    from _big_site import build_big_site

    return build_big_site(tmp_path_factory, site_runs)


@pytest.fixture(scope="module")
def big_run(site_runs):
    """The analysis of :func:`big_site`, loaded."""
    import layerlens

    return layerlens.load(site_runs[0])


#: Ray's health checks in the tests: a lost node is noticed in about 2 s, not Ray's default 30 s and more.
RAY_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 3,
}


@pytest.fixture(scope="session")
def ray_cluster():
    """One Ray cluster for the session (actors spend seconds importing TensorFlow): a 2-CPU head node made
    with ``ray.cluster_utils.Cluster``, so that tests can add and remove nodes; a small object store, short
    health checks, nothing but this machine."""
    pytest.importorskip("ray")
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "object_store_memory": 200 * 2**20,
            "include_dashboard": False,
            "_system_config": RAY_HEALTH_CHECKS,
        },
    )
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()
