"""The stages of an analysis called one by one give what ``analyze`` gives; a fitted layer survives pickling."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

import layerlens as ll
from layerlens import run
from layerlens.model import extract, short_layer_names, to_probabilities
from layerlens.paths import FIXED_COLUMNS


@pytest.fixture(scope="module")
def analysed(sequential_model, digits):
    test = digits[1]
    a = ll.analyze(sequential_model, test.images, test.labels, progress=False, explain=0, seed=0)
    return a, test


def _by_stages(model, a, images, labels, fit_set=None, through_pickle=False):
    settings = a.settings
    extraction = extract(
        model,
        images,
        layers=[layer.name for layer in a.layers],
        pixel_scale=settings.pixel_scale,
        batch_size=settings.batch_size,
        conv_features=settings.conv_features,
        seed=settings.seed,
        progress=False,
    )
    probabilities = to_probabilities(extraction.outputs, a.model.head)
    predictions = probabilities.argmax(axis=1)
    fit = run.ordered(fit_set or run.FitSet("", extraction.features, labels, predictions))
    names = [info.name for info in extraction.layers]
    fits = run.fit_layers(fit, names, a.class_names, settings)
    if through_pickle:  # fitted in one process, placed in another
        fits = pickle.loads(pickle.dumps(fits))
    assigned = [
        run.assign_layer(layer_fit, i, extraction, fit, has_reference=fit_set is not None)
        for i, layer_fit in enumerate(fits)
    ]
    shorts = short_layer_names([info.parts for info in extraction.layers], {*FIXED_COLUMNS, "probe"})
    layers = [
        replace(x.layer, separability=run.layer_separability(x.layer.reduced, labels, settings.seed), short_name=s)
        for x, s in zip(assigned, shorts)
    ]
    return run.gather(
        layers,
        probabilities,
        labels,
        a.class_names,
        settings,
        a.model,
        name=a.name,
        thumbnails=extraction.thumbnails,
        files=a.files,
        metrics=run.metrics_of(labels, probabilities, a.class_names, settings),
        reference=fit_set,
        reference_places=None if fit_set is None else [x.reference for x in assigned],
    )


@pytest.mark.parametrize("through_pickle", [False, True], ids=["in-process", "pickled-fits"])
def test_the_stages_one_by_one_give_what_analyze_gives(sequential_model, analysed, through_pickle):
    a, test = analysed
    b = _by_stages(sequential_model, a, test.images, test.labels, through_pickle=through_pickle)
    # The same computation on the same machine: equal, not close.
    np.testing.assert_array_equal(b.probabilities, a.probabilities)
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(lb.clusters.assignments, la.clusters.assignments)
        np.testing.assert_array_equal(lb.reduced, la.reduced)
        np.testing.assert_array_equal(lb.coords, la.coords)
        np.testing.assert_array_equal(lb.map_centers, la.map_centers)
        assert lb.clusters.names == la.clusters.names
        # analyze measures separability on one BLAS thread, this test on all: sums may differ in the last bits.
        for measure in ("silhouette", "knn_accuracy", "variance_explained"):
            assert getattr(lb.separability, measure) == pytest.approx(getattr(la.separability, measure), rel=1e-9)
    assert b.paths.equals(a.paths)
    np.testing.assert_array_equal(b.doubt.doubt, a.doubt.doubt)
    assert b.metrics.accuracy == a.metrics.accuracy


def test_a_layer_fit_places_a_batch_where_the_whole_set_lands(analysed):
    a, _ = analysed
    layer = a.layers[-1]
    from layerlens.layers import LayerFit

    fit = LayerFit.fit(layer.features, a.labels, a.class_names, n_clusters=3, seed=0)
    whole = fit.transform(layer.features)
    part = fit.transform(layer.features[:50])
    np.testing.assert_array_equal(part.assignments, whole.assignments[:50])
    # PCA maps are the leading columns of the reduced space: a batch lands where it lands in the whole set.
    np.testing.assert_allclose(part.coords, whole.coords[:50], rtol=0, atol=1e-5)
    assert np.array_equal(fit.fitted.assignments, fit.clusters.assignments)
