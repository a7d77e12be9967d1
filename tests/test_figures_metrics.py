"""The prediction figures: confusion heat map, one image's probabilities, LIME's segment weights."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.explanations import Explanation
from layerlens.figures import confusion_figure, probabilities_figure, segment_weights_figure
from layerlens.figures.metrics import probabilities_spec

HOSTILE = "<script>alert(1)</script>"


def test_confusion_colour_is_the_share_of_the_true_class_and_the_text_the_count():
    confusion = np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    fig = confusion_figure(confusion, ["a", "b", "c"])
    heat = fig.data[0]
    assert np.allclose(np.asarray(heat.z), [[0.8, 0.2, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    assert np.asarray(heat.text).tolist() == confusion.tolist()
    assert list(heat.x) == list(heat.y) == ["a", "b", "c"]
    assert fig.layout.yaxis.autorange == "reversed"  # true class 0 on top, as the matrix is printed


@pytest.mark.parametrize(
    "confusion", [np.ones((2, 2)), np.ones((3, 2)), np.array([[1, -1, 0], [0, 1, 0], [0, 0, 1]]), np.full((3, 3), "x")]
)
def test_confusion_refuses_a_matrix_that_does_not_fit_the_classes(confusion):
    with pytest.raises(InvalidInputError, match="confusion: expected a \\(3, 3\\) matrix"):
        confusion_figure(confusion, ["a", "b", "c"])


def test_probabilities_mark_the_prediction_and_the_true_class():
    fig = probabilities_figure(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], true=2)
    bars = fig.data[0]
    assert list(bars.y) == ["a", "b", "c (true)"]
    assert np.allclose(bars.x, [0.1, 0.7, 0.2])
    colours = list(bars.marker.color)
    assert len(set(colours)) == 3 and colours[1] not in colours[::2]
    assert list(bars.text) == ["10.0%", "70.0%", "20.0%"]


def test_the_plain_spec_is_the_figure():
    p = np.array([0.25, 0.75])
    spec = probabilities_spec(p, ["a", "b"], true=0, title="t")
    from_spec = json.loads(go.Figure(spec).to_json())
    from_figure = json.loads(probabilities_figure(p, ["a", "b"], true=0, title="t").to_json())
    assert from_spec == from_figure


@pytest.mark.parametrize(
    ("probabilities", "true", "message"),
    [
        (np.array([0.5, 0.5, 0.0]), None, "probabilities: expected 2 finite values"),
        (np.array([np.nan, 1.0]), None, "probabilities: expected 2 finite values"),
        (np.array([0.5, 0.5]), 2, "true: expected a class index in 0..1"),
    ],
)
def test_probabilities_refuse_what_does_not_fit(probabilities, true, message):
    with pytest.raises(InvalidInputError, match=message):
        probabilities_figure(probabilities, ["a", "b"], true=true)


def test_user_strings_are_escaped():
    names = [HOSTILE, "a & b"]
    text = confusion_figure(np.eye(2, dtype=int), names, title=HOSTILE).to_json()
    text += probabilities_figure(np.array([0.4, 0.6]), names, true=0, title=HOSTILE).to_json()
    assert "<script>" not in text
    assert "&lt;script&gt;" in text and "a &amp; b" in text


def _lime(weights):
    segments = np.repeat(np.arange(len(weights)), 4).reshape(len(weights), 4).astype(np.int32)
    return Explanation(
        method="lime",
        target=1,
        heatmap=np.zeros(segments.shape, np.float32),
        seconds=0.0,
        segments=segments,
        segment_weights=np.asarray(weights, np.float32),
    )


def test_segment_weights_chart_the_heaviest_segments_first_in_their_direction():
    fig = segment_weights_figure(_lime([0.1, -0.5, 0.0, 0.3]), class_names=["cat", HOSTILE], n_segments=8)
    bars = fig.data[0]
    assert list(bars.y) == ["#1", "#2", "#3"]  # the zero weight is left out
    assert np.allclose(bars.x, [-0.5, 0.3, 0.1])
    assert list(bars.customdata) == [1, 3, 0]
    assert bars.marker.color[0] != bars.marker.color[1] == bars.marker.color[2]
    assert "&lt;script&gt;" in fig.layout.title.text and "<script>" not in fig.to_json()


def test_segment_weights_need_a_lime_explanation():
    gradcam = Explanation(method="gradcam", target=0, heatmap=np.zeros((4, 4), np.float32), seconds=0.0)
    with pytest.raises(InvalidInputError, match="explanation: expected a LIME explanation"):
        segment_weights_figure(gradcam)


def test_the_reliability_diagram_draws_each_filled_bin_against_the_diagonal():
    from layerlens.figures import reliability_figure
    from layerlens.scores import calibration

    c = calibration(np.array([True, True, False, True]), np.array([0.95, 0.92, 0.85, 0.65]), n_bootstrap=50)
    fig = reliability_figure(c)
    bars, means, diagonal = fig.data
    assert np.allclose(bars.x, [0.65, 0.85, 0.95]) and np.allclose(bars.y, [1.0, 0.0, 1.0])
    assert np.allclose(means.y, [0.65, 0.85, 0.935])
    assert list(diagonal.x) == [0, 1] == list(diagonal.y)
    assert f"{c.ece:.3f}" in fig.layout.title.text
    assert "&lt;b&gt;" in reliability_figure(c, title="<b>").layout.title.text
    with pytest.raises(InvalidInputError, match="calibration: expected a Calibration"):
        reliability_figure({"ece": 0.1})
