"""``analyze`` reports the accuracy ``model.evaluate`` does, whatever preprocessing the user's pipeline does.

Each pipeline of :mod:`_pipelines` is a small model trained the way a Keras tutorial trains one: digit PNGs read by
``keras.utils.image_dataset_from_directory`` as 0..255 floats, preprocessed inside the model (a ``keras.applications``
family's ``preprocess_input``, ``Normalization``, ``Rescaling``, a nested application base) or in the tf.data
pipeline. Its test images then reach ``analyze`` three ways: the ``Testing`` folder as layerlens streams it ([0, 1]
floats, as the command line reads folders), the PNGs as 0..255 arrays, and the very dataset the user evaluated with.
Each way must give ``model.evaluate``'s accuracy. None of them is expected to warn.
"""

from __future__ import annotations

import pytest
from _pipelines import PIPELINES, train, write_digit_folders

import layerlens as ll

#: The factor ``analyze`` should multiply each source's images by. Every pipeline's preprocessing takes 0..255
#: pixels (the tf.data one's through ``preprocess=``), so the stream's [0, 1] images are scaled up and the 0..255
#: arrays are not; the user's dataset already gives the model what it takes (for the tf.data pipeline, the
#: preprocessed images), so it is left alone.
EXPECTED_SCALE = {"stream": 255.0, "arrays": 1.0, "dataset": 1.0}


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    """``folder(size, color_mode)``: the Training/Testing digit folders at that size, written once each."""
    written = {}

    def folder(size, color_mode):
        if (size, color_mode) not in written:
            root = tmp_path_factory.mktemp(f"digits_{size}_{color_mode}")
            written[size, color_mode] = write_digit_folders(root, size=size, color_mode=color_mode)
        return written[size, color_mode]

    return folder


@pytest.fixture(scope="module", params=PIPELINES, ids=[p.name for p in PIPELINES])
def trained(request, digit_folders):
    """One pipeline's model, trained once for the three ways its test images are analysed."""
    pipeline = request.param
    return train(pipeline, digit_folders(pipeline.size, pipeline.color_mode))


def _source(trained, source):
    """``(images, labels, preprocess)`` to analyse: as layerlens streams the folder, as arrays, as the dataset."""
    pipeline = trained.pipeline
    if source == "stream":
        stream = ll.datasets.from_directory(
            trained.folder, image_size=(pipeline.size, pipeline.size), color_mode=pipeline.color_mode, stream=True
        )
        return stream, None, pipeline.outside
    if source == "arrays":
        return trained.images, trained.labels, pipeline.outside
    return trained.dataset, None, None  # its batches come preprocessed when the user's pipeline does so in tf.data


@pytest.mark.parametrize("source", ["stream", "arrays", "dataset"])
def test_accuracy_matches_keras_evaluate(trained, source):
    # The match means something only if the model learnt the digits, if images at the wrong pixel range would
    # spoil that, if there are enough test images to tell, and if no reader resized the PNGs.
    assert trained.accuracy >= 0.8
    assert trained.wrong_scale_accuracy <= trained.accuracy - 0.3
    assert len(trained.labels) >= 200
    assert trained.png_shape == trained.pipeline.input_shape
    images, labels, preprocess = _source(trained, source)
    options = {} if preprocess is None else {"preprocess": preprocess}

    a = ll.analyze(trained.model, images, labels, explain=0, progress=False, **options)

    assert a.metrics.accuracy == pytest.approx(trained.accuracy, abs=0.01)
    assert a.settings.pixel_scale == EXPECTED_SCALE[source]
    assert a.settings.preprocess == preprocess
