"""Doubt from the activation space: disagreement, familiarity, layer weights, the mistake chance, the doubt."""

from __future__ import annotations

import numpy as np
import pytest

from layerlens.exceptions import InvalidInputError
from layerlens.scores._doubt import (
    UNFAMILIAR_AT,
    disagreement,
    doubt_scores,
    familiarity,
    layer_weights,
    mistake_probability,
)


@pytest.fixture
def two_blobs():
    """Reference: class 0 around (0, 0), class 1 around (10, 0), 100 points each."""
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(0, 1, (100, 2)) + [10, 0]])
    labels = np.repeat([0, 1], 100)
    return reference, labels


def test_a_prediction_is_disputed_as_far_as_its_neighbours_are_labelled_otherwise(two_blobs):
    reference, labels = two_blobs
    inside = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert disagreement(reference, labels, inside, np.array([0, 1]), k=10).tolist() == [0.0, 0.0]
    assert disagreement(reference, labels, inside, np.array([1, 0]), k=10).tolist() == [1.0, 1.0]
    # Halfway between the blobs, the 10 nearest are about half of each class.
    between = disagreement(reference, labels, np.array([[5.0, 0.0]]), np.array([0]), k=10)[0]
    assert 0.2 <= between <= 0.8


def test_leave_one_out_never_counts_the_image_itself_even_with_duplicates(two_blobs):
    reference, labels = two_blobs
    reference = np.concatenate([reference, reference[:1]])  # an exact duplicate of row 0
    labels = np.concatenate([labels, [1]])  # labelled otherwise
    found = disagreement(reference, labels, reference, labels, k=1, leave_one_out=True)
    assert found[0] == 1.0 and found[-1] == 1.0  # each sees the other
    assert found[1:-1].max() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": np.zeros((2, 3))}, "features: expected 2 columns"),
        ({"predictions": np.zeros(3, int)}, "predictions: "),
        ({"predictions": np.zeros(2) + 0.5}, "predictions: "),
        ({"reference_labels": np.zeros(5, int)}, "reference_labels: "),
        ({"leave_one_out": True}, "leave_one_out: the features must be the reference's own rows"),
        ({"k": 0}, "k: "),
        ({"features": np.full((2, 2), np.nan)}, "features: expected finite values"),
        ({"search": "fast"}, r"search: expected one of \('auto', 'exact', 'approximate'\)"),
    ],
)
def test_bad_arguments_are_named(two_blobs, kwargs, message):
    reference, labels = two_blobs
    arguments = dict(reference=reference, reference_labels=labels, features=np.zeros((2, 2)), predictions=[0, 1])
    arguments["predictions"] = np.array(arguments["predictions"])
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        disagreement(**arguments)


def test_familiar_images_score_near_zero_and_a_far_probe_far_above(two_blobs):
    reference, labels = two_blobs
    summary = familiarity(reference, labels)
    rng = np.random.default_rng(2)
    like = np.concatenate([rng.normal(0, 1, (400, 2)), rng.normal(0, 1, (400, 2)) + [10, 0]])
    z = summary.z(like)
    assert abs(np.median(z)) < 0.3 and (z > UNFAMILIAR_AT).mean() < 0.02
    assert summary.z(np.array([[5.0, 40.0]]))[0] > 2 * UNFAMILIAR_AT  # a log-distance scale


def test_familiarity_ignores_classes_absent_from_the_reference(two_blobs):
    reference, labels = two_blobs
    summary = familiarity(reference, labels * 3)  # classes 0 and 3; 1 and 2 absent
    assert summary.means.shape == (2, 2) and np.isfinite(summary.z(reference)).all()


def test_layer_weights_leave_the_neighbours_of_unseparated_layers_silent():
    weights = layer_weights(np.array([0.3, 0.5, 0.9, 1.0, np.nan]), chance=0.3)
    assert weights[0] == 0.0 and weights[-1] == 0.0 and weights[3] == 1.0
    assert 0 < weights[1] < weights[2] < 1


def test_the_mistake_probability_is_calibrated_and_ranks_as_the_confidence():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 5000)
    correct = rng.random(5000) < confidence - 0.15  # an overconfident model
    p = mistake_probability(confidence, correct)
    order = np.argsort(confidence)
    assert (np.diff(p[order]) <= 1e-12).all()  # never more doubt for more confidence
    high = confidence > 0.9
    assert p[high].mean() == pytest.approx((~correct[high]).mean(), abs=0.05)
    assert mistake_probability(confidence).tolist() == (1 - np.clip(confidence, 1e-7, 1 - 1e-7)).tolist()
    assert np.allclose(mistake_probability(confidence, np.ones(5000, bool)), 1 - confidence)


def test_doubt_is_the_confidence_for_familiar_images_and_high_for_unfamiliar_ones():
    mistake = np.array([0.1, 0.1, 0.6])
    z = np.array([[0.5, -0.2], [9.0, 11.0], [0.0, 0.0]])
    found = doubt_scores(mistake, z, np.array([0.0, 0.5, 1.0]))
    assert found.doubt[0] == pytest.approx(0.1) and found.unfamiliarity[0] == 0.0
    assert found.unfamiliarity[1] == pytest.approx(1 - np.exp(-(10.0 - UNFAMILIAR_AT)))
    assert found.doubt[1] > 0.99
    assert found.doubt[2] == pytest.approx(0.6)
    assert ((0 <= found.doubt) & (found.doubt <= 1)).all()
    with pytest.raises(InvalidInputError, match="unfamiliarity_z and disagreement: expected shapes"):
        doubt_scores(mistake, z[:2], np.zeros(3))


def test_separation_is_the_leave_one_out_neighbour_accuracy(two_blobs):
    from layerlens.scores._doubt import separation

    reference, labels = two_blobs
    assert separation(reference, labels) == 1.0  # two far blobs
    mixed = np.random.default_rng(0).permutation(labels)
    assert 0.3 < separation(reference, mixed, samples=150) < 0.7  # labels at random: chance
    duplicated = np.concatenate([reference, reference])
    assert separation(duplicated, np.concatenate([labels, 1 - labels]), k=1) == 0.0  # each sees its twin


def test_the_approximate_index_finds_nearly_the_same_neighbours_and_the_same_every_time(monkeypatch):
    """pynndescent above APPROXIMATE_FROM pairs: close to exact search, and repeatable for a seed."""
    import layerlens.scores._doubt as doubt

    rng = np.random.default_rng(1)
    centres = rng.normal(0, 3, (5, 8))
    labels = np.repeat(np.arange(5), 300)
    reference = centres[labels] + rng.normal(0, 1, (1500, 8))
    queries = centres[labels[::3]] + rng.normal(0, 1, (500, 8))
    predictions = labels[::3]
    exact = disagreement(reference, labels, queries, predictions, search="exact")
    approximate = disagreement(reference, labels, queries, predictions, search="approximate", seed=3)
    assert np.abs(approximate - exact).mean() < 0.01 and np.abs(approximate - exact).max() <= 0.1
    np.testing.assert_array_equal(
        disagreement(reference, labels, queries, predictions, search="approximate", seed=3), approximate
    )
    own = disagreement(reference, labels, reference, labels, leave_one_out=True, search="approximate", seed=3)
    exact_own = disagreement(reference, labels, reference, labels, leave_one_out=True, search="exact")
    assert np.abs(own - exact_own).mean() < 0.01
    # "auto" switches by the number of pairs.
    assert doubt.APPROXIMATE_FROM > 1500 * 500
    np.testing.assert_array_equal(disagreement(reference, labels, queries, predictions), exact)
    monkeypatch.setattr(doubt, "APPROXIMATE_FROM", 1500 * 500)
    np.testing.assert_array_equal(disagreement(reference, labels, queries, predictions, seed=3), approximate)


def test_disagreement_leaves_out_the_images_that_are_in_a_sampled_reference():
    from layerlens.layers import fit_sample, own_rows
    from layerlens.scores import disagreement

    rng = np.random.default_rng(3)
    space = rng.normal(size=(400, 4))
    labels = rng.integers(0, 3, 400)
    sample = fit_sample(400, 0, most=150)
    own = own_rows(sample, np.arange(400))
    assert (own >= 0).sum() == 150 and np.array_equal(sample[own[own >= 0]], np.flatnonzero(own >= 0))
    found = disagreement(space[sample], labels[sample], space, labels, k=5, own=own, search="exact")
    # A sampled image is left out of its own neighbours, as among the sample itself ...
    among = disagreement(space[sample], labels[sample], space[sample], labels[sample], k=5, leave_one_out=True,
                         search="exact")  # fmt: skip
    np.testing.assert_allclose(found[sample], among, atol=1e-12)
    # ... and any other image reads its 5 nearest sampled images.
    others = np.flatnonzero(own < 0)
    plain = disagreement(space[sample], labels[sample], space[others], labels[others], k=5, search="exact")
    np.testing.assert_allclose(found[others], plain, atol=1e-12)
