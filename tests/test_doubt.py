"""Doubt from the activation space: per-layer disagreement and unfamiliarity."""

from __future__ import annotations

import numpy as np
import pytest

from layerlens.doubt import layer_neighbours
from layerlens.exceptions import InvalidInputError


@pytest.fixture
def two_blobs():
    """Reference: class 0 around (0, 0), class 1 around (10, 0), 100 points each."""
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(0, 1, (100, 2)) + [10, 0]])
    labels = np.repeat([0, 1], 100)
    return reference, labels


def test_an_image_deep_inside_its_class_is_neither_disputed_nor_unfamiliar(two_blobs):
    reference, labels = two_blobs
    found = layer_neighbours(reference, labels, np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([0, 1]), k=10)
    assert found.disagreement.tolist() == [0.0, 0.0]
    assert (found.unfamiliarity < 0.5).all()


def test_a_prediction_against_the_neighbours_is_disputed(two_blobs):
    reference, labels = two_blobs
    found = layer_neighbours(reference, labels, np.array([[0.0, 0.0], [5.0, 0.0]]), np.array([1, 0]), k=10)
    assert found.disagreement[0] == 1.0
    assert 0.0 <= found.disagreement[1] <= 1.0


def test_a_probe_far_from_every_class_is_unfamiliar(two_blobs):
    reference, labels = two_blobs
    found = layer_neighbours(reference, labels, np.array([[5.0, 40.0], [0.0, 0.0]]), np.array([0, 0]), k=10)
    assert found.unfamiliarity[0] == 1.0 and found.distance[0] > 30
    assert found.unfamiliarity[1] < found.unfamiliarity[0]


def test_unfamiliarity_of_images_like_the_reference_is_about_uniform(two_blobs):
    reference, labels = two_blobs
    rng = np.random.default_rng(1)
    same = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(0, 1, (500, 2)) + [10, 0]])
    found = layer_neighbours(reference, labels, same, np.repeat([0, 1], 500), k=10)
    assert 0.35 < found.unfamiliarity.mean() < 0.65
    assert 0.15 < np.quantile(found.unfamiliarity, 0.25) < 0.4


def test_leave_one_out_never_counts_the_image_itself_even_with_duplicates(two_blobs):
    reference, labels = two_blobs
    reference = np.concatenate([reference, reference[:1]])  # an exact duplicate of row 0
    labels = np.concatenate([labels, [1]])  # labelled otherwise
    found = layer_neighbours(reference, labels, reference, labels, k=1, leave_one_out=True)
    assert found.disagreement[0] == 1.0 and found.disagreement[-1] == 1.0  # each sees the other
    assert found.distance[0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": np.zeros((2, 3))}, "features: expected 2 columns"),
        ({"predictions": np.zeros(3, int)}, "predictions: expected 2 class indices"),
        ({"predictions": np.zeros(2)}, "predictions: expected 2 class indices"),
        ({"reference_labels": np.zeros(5, int)}, "reference_labels: expected 200 class indices"),
        ({"leave_one_out": True}, "leave_one_out: the features must be the reference's own rows"),
        ({"k": 0}, "k: "),
        ({"features": np.full((2, 2), np.nan)}, "features: expected finite values"),
    ],
)
def test_bad_arguments_are_named(two_blobs, kwargs, message):
    reference, labels = two_blobs
    arguments = dict(reference=reference, reference_labels=labels, features=np.zeros((2, 2)), predictions=[0, 1])
    arguments["predictions"] = np.array(arguments["predictions"])
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        layer_neighbours(**arguments)
