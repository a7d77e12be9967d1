import numpy as np
import pytest
from scipy.special import expit, softmax

from layerlens.exceptions import InvalidInputError
from layerlens.model._heads import detect_head, to_probabilities


@pytest.mark.parametrize(
    ("activation", "sample", "expected"),
    [
        ("softmax", [[0.1, 0.9]], "softmax"),
        (
            "linear",
            [[0.1, 0.9]],
            "logits",
        ),  # the activation wins over values that happen to look like probabilities
        (None, [[0.3, 0.7], [0.5, 0.5]], "softmax"),
        (None, [[0.3, 0.9]], "logits"),  # in [0, 1] but the row does not sum to 1
        (None, [[-2.0, 3.0]], "logits"),
        ("sigmoid", [[0.7]], "sigmoid"),
        (None, [[0.7], [0.1]], "sigmoid"),
        ("linear", [[0.7]], "binary_logit"),
        (None, [[3.2], [-1.0]], "binary_logit"),
        ("softmax_v2", [[0.1, 0.9]], "softmax"),  # tf.nn.softmax's name
        ("my_custom_act", [[0.25, 0.75]], "softmax"),  # unknown name: the values decide
        ("my_custom_act", [[2.0, -1.0]], "logits"),
    ],
    ids=[
        "softmax",
        "linear-head",
        "unknown-probabilities",
        "unknown-not-summing",
        "unknown-logits",
        "sigmoid",
        "unknown-unit-range",
        "binary-logit",
        "unknown-binary-logit",
        "softmax-v2",
        "custom-probabilities",
        "custom-logits",
    ],
)
def test_detect_head(activation, sample, expected):
    assert detect_head(activation, np.array(sample)) == expected


def test_multi_label_sigmoid_is_refused():
    with pytest.raises(InvalidInputError, match="3 sigmoid units, a multi-label head"):
        detect_head("sigmoid", np.full((2, 3), 0.5))


def test_single_softmax_unit_is_refused():
    with pytest.raises(InvalidInputError, match="single softmax unit, which always outputs 1.0"):
        detect_head("softmax", np.ones((2, 1)))


def test_output_must_be_two_dimensional():
    with pytest.raises(InvalidInputError, match=r"received an output of shape \(None, 4, 3\)"):
        detect_head(None, np.zeros((2, 4, 3)))


def test_probabilities_for_each_head():
    logits = np.array([[1.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(to_probabilities(logits, "logits"), softmax(logits, axis=1), rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(np.array([[0.2], [1.0]]), "sigmoid"), [[0.8, 0.2], [0.0, 1.0]])
    z = np.array([[2.0], [-0.5]])
    np.testing.assert_allclose(to_probabilities(z, "binary_logit")[:, 1], expit(z[:, 0]), rtol=1e-6)
    soft = np.array([[0.2, 0.79999]], dtype=np.float32)
    assert to_probabilities(soft, "softmax").sum() == pytest.approx(1.0, abs=1e-6)


def test_unknown_kind():
    with pytest.raises(InvalidInputError, match="kind: expected one of"):
        to_probabilities(np.zeros((1, 2)), "tanh")
