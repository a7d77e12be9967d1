"""When an analysis cannot be right: a collapse onto one class, a balanced accuracy at chance level."""

import numpy as np
import pytest

from layerlens.scores import classification_metrics
from layerlens.scores._problems import problems

NAMES = ("glioma", "meningioma", "no_tumor", "pituitary")


def _one_hot(predicted, k=4):
    return np.eye(k, dtype=np.float32)[predicted] * 0.9 + 0.1 / k


@pytest.mark.parametrize(
    ("predicted", "labels", "expected"),
    [
        (np.zeros(100, int), None, ["predicted 'glioma' for 100 of 100 images (100%)"]),
        (np.zeros(100, int), np.repeat(np.arange(4), 25), ["though 25% of them are labelled so", "chance level"]),
        (np.r_[np.zeros(96, int), np.ones(4, int)], np.zeros(100, int), []),  # most images really are glioma
        (np.repeat(np.arange(4), 25), np.repeat(np.arange(4), 25), []),
        (np.roll(np.repeat(np.arange(4), 25), 25), np.repeat(np.arange(4), 25), ["at or below chance level"]),
        (np.zeros(10, int), None, []),  # too few images to say
    ],
    ids=["collapsed", "collapsed-labelled", "one-class-truly", "right", "swapped", "few"],
)
def test_problems(predicted, labels, expected):
    probabilities = _one_hot(predicted)
    metrics = None if labels is None else classification_metrics(labels, predicted, probabilities, NAMES, seed=0)
    found = " ".join(problems(probabilities, labels, NAMES, metrics))
    for part in expected:
        assert part in found
    assert bool(found) == bool(expected)
