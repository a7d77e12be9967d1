"""Findings: each kind appears where the truth has it, names the right classes, group, layer or images, and does
not appear where the truth has none. Values are recomputed here, independently of the code that found them.

The sets (tests/_truth.py) are squares at class positions; one small CNN, trained once, reads them all. Each
truth set runs on three seeds and must give its finding on all three; the set with no effect runs on ten seeds
with at most one false finding in total.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _truth import CLASSES, damage, probes_like, squares, train_model
from sklearn.metrics import adjusted_mutual_info_score

from layerlens.findings import KINDS, Evidence, Finding, LayerEvidence, find
from layerlens.findings._statistics import groups_of, holm
from layerlens.model import IMAGE_PROPERTIES

SEEDS = (0, 1, 2)
N = 600
# Kinds that claim something is wrong or different; a set without effect must not get them.
CLAIMS = ("confusion", "mistake_path", "mixed_cluster", "confident_mistakes", "calibration", "weak_group",
          "probes", "label_issues", "late_decision")


@pytest.fixture(scope="module")
def squares_model():
    images, labels = squares(3000, 100)
    return train_model(images, labels)


def _analyze(model, images, labels, seed, **options):
    import layerlens as ll

    return ll.analyze(model, images, labels, class_names=CLASSES, explain=0, progress=False, seed=seed, **options)


def _of(analysis, kind):
    return [f for f in analysis.findings if f.kind == kind]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_confused_pair_is_named(squares_model, seed):
    images, labels = squares(N, seed)
    a = _analyze(squares_model, images, labels, seed)
    found = _of(a, "confusion")
    assert found, [f.text for f in a.findings]
    top = found[0]
    assert {top.where["true"], top.where["predicted"]} == {"left", "near_left"}
    wrong = a.predictions != a.labels
    t, p = CLASSES.index(top.where["true"]), CLASSES.index(top.where["predicted"])
    pair = wrong & (a.labels == t) & (a.predictions == p)
    assert top.value == pytest.approx(pair.sum() / wrong.sum(), abs=1e-12)
    assert top.interval[0] <= top.value <= top.interval[1] and top.value >= top.threshold
    assert sorted(top.where["images"]) == np.flatnonzero(pair).tolist()
    # Nothing names the far-apart classes as confused with each other.
    assert not [f for f in found if {f.where["true"], f.where["predicted"]} == {"bottom", "right"}]
    # The mixed clusters found mix the confused pair.
    for f in _of(a, "mixed_cluster"):
        layer = a.layer(f.where["layer"])
        members = layer.clusters.assignments == f.where["cluster"]
        assert f.value == pytest.approx(wrong[members].mean(), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_damaged_group_is_weak_and_probes_are_sure(squares_model, seed):
    images, labels = squares(N, seed)
    scanner = np.array(["A", "B", "C"])[np.random.default_rng(seed).integers(0, 3, N)]
    damaged = damage(images, np.flatnonzero(scanner == "C"), seed)
    a = _analyze(squares_model, damaged, labels, seed, metadata={"scanner": scanner}, probes=probes_like(40, seed))
    weak = _of(a, "weak_group")
    assert [(f.where["column"], f.where["group"]) for f in weak] == [("scanner", "C")], [f.text for f in a.findings]
    correct = a.predictions == a.labels
    assert weak[0].value == pytest.approx(correct[scanner == "C"].mean(), abs=1e-12)
    assert weak[0].interval[1] < weak[0].threshold  # its interval lies below the rest's
    probes = _of(a, "probes")
    assert len(probes) == 1
    sure = a.probes.confidence >= 0.9
    assert probes[0].value == pytest.approx(sure.mean(), abs=1e-12)
    assert sorted(probes[0].where["probes"]) == np.flatnonzero(sure).tolist()
    # The damage is the scanner's: the early layers' clusters follow it, not the classes.
    confounders = [f for f in _of(a, "confounder") if f.where.get("column") == "scanner"]
    assert confounders
    layer = a.layer(confounders[0].where["layer"]).clusters.assignments
    recomputed = adjusted_mutual_info_score(layer, scanner) - adjusted_mutual_info_score(layer, labels)
    assert confounders[0].value == pytest.approx(recomputed, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_wrong_labels_are_found(squares_model, seed):
    images, labels = squares(N, 50 + seed, classes=(2, 3))
    flipped = np.random.default_rng(seed).choice(N, 10, replace=False)
    given = labels.copy()
    given[flipped] = 5 - given[flipped]  # bottom <-> right
    a = _analyze(squares_model, images, given, seed)
    found = _of(a, "label_issues")
    assert len(found) == 1, [f.text for f in a.findings]
    listed = found[0].where["images"]
    assert found[0].value == len(listed)
    hits = set(listed) & set(flipped.tolist())
    assert len(hits) >= 8, (sorted(listed), sorted(flipped.tolist()))  # most of the wrong labels ...
    assert len(hits) >= 0.8 * len(listed)  # ... and few right ones
    assert set(listed[:5]) <= set(flipped.tolist())  # the most likely first


def test_a_set_without_effect_gets_no_claim(squares_model):
    false = []
    for seed in range(10):
        images, labels = squares(N, 200 + seed, classes=(2, 3), noise=0.3)
        site = np.array(["north", "south", "east"])[np.random.default_rng(seed).integers(0, 3, N)]
        a = _analyze(squares_model, images, labels, seed, metadata={"site": site})
        false += [f.text for f in a.findings if f.kind in CLAIMS]
        false += [f.text for f in _of(a, "confounder") if f.where.get("column") == "site"]
        # What the set does have is said: where the classes come apart.
        assert _of(a, "separation")
    assert len(false) <= 1, false


def test_separation_and_properties_agree_with_the_numbers(squares_model):
    images, labels = squares(N, 7)
    a = _analyze(squares_model, images, labels, 7)
    (apart,) = _of(a, "separation")
    knn = a.separability["knn_accuracy"]
    chance = np.bincount(labels).max() / N
    assert apart.value == pytest.approx(knn[apart.where["layer"]], abs=1e-12)
    first = a.layer_names.index(apart.where["layer"])
    assert knn.iloc[:first].max() < chance + 0.9 * (knn.max() - chance) <= apart.value
    assert list(a.image_properties.columns) == list(IMAGE_PROPERTIES)
    means = images.reshape(N, -1).mean(axis=1)
    np.testing.assert_allclose(a.image_properties["mean_intensity"], means, atol=1e-5)
    for f in _of(a, "confounder"):
        if f.where.get("column") in IMAGE_PROPERTIES and f.interval is not None:
            clusters = a.layer(f.where["layer"]).clusters.assignments
            values = a.image_properties[f.where["column"]].to_numpy(np.float64)
            between = sum((clusters == c).sum() * (values[clusters == c].mean() - values.mean()) ** 2
                          for c in np.unique(clusters))
            assert f.value == pytest.approx(between / ((values - values.mean()) ** 2).sum(), abs=1e-9)


def test_findings_are_ordered_stored_and_read_back(squares_model, tmp_path):
    import layerlens as ll

    images, labels = squares(N, 3)
    a = _analyze(squares_model, images, labels, 3)
    assert a.findings and all(f.kind in KINDS for f in a.findings)
    effects = [f.effect for f in a.findings]
    assert effects == sorted(effects, reverse=True)
    back = ll.load(a.save(tmp_path / "run"))
    assert back.findings == a.findings
    assert back.image_properties.equals(a.image_properties)


def test_a_run_without_stored_findings_gets_them_on_load(squares_model, tmp_path):
    import json

    import layerlens as ll

    images, labels = squares(N, 4)
    a = _analyze(squares_model, images, labels, 4)
    folder = a.save(tmp_path / "run")
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["findings"]
    (folder / "manifest.json").write_text(json.dumps(manifest))  # the manifest carries no checksum of itself
    found = ll.load(folder).findings
    assert found and found == a.findings


def test_finding_round_trip_and_text():
    f = Finding("weak_group", "Images with site = x are worse.", 0.5, (0.4, 0.6), 0.7,
                {"column": "site", "group": "x", "images": [np.int64(3), 1]}, 0.2)
    assert Finding.from_dict(f.to_dict()) == dataclasses.replace(f, where={"column": "site", "group": "x",
                                                                           "images": [3, 1]})
    assert str(f) == f.text and "weak_group" in repr(f)


def test_holm_and_groups():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])

    numbers = pd.Series([str(v) for v in np.linspace(0, 1, 100)], dtype="string")
    groups = groups_of(numbers)
    assert groups.nunique() == 5 and groups.notna().all()
    assert groups_of(pd.Series([f"patient{i}" for i in range(100)], dtype="string")) is None
    assert groups_of(pd.Series(["a"] * 50, dtype="string")) is None


def test_no_labels_no_claims_about_mistakes():
    rng = np.random.default_rng(0)
    n, k = 200, 3
    probabilities = rng.dirichlet(np.ones(k), n).astype(np.float32)
    layer = LayerEvidence("dense", rng.integers(0, 2, n), np.array([-1, -1]), None, rng.normal(size=(n, 4)))
    evidence = Evidence(("a", "b", "c"), probabilities, None, (layer,), np.array(["c0"] * n, dtype=object), n)
    kinds = {f.kind for f in find(evidence)}
    assert not kinds & {"confusion", "mistake_path", "mixed_cluster", "confident_mistakes", "calibration",
                        "weak_group", "label_issues", "separation"}


def test_metadata_with_missing_values_and_a_weak_group():
    rng = np.random.default_rng(1)
    n = 400
    labels = rng.integers(0, 2, n)
    site = pd.array(rng.choice(["a", "b", None], n), dtype="string")
    correct = np.where((site == "b").fillna(False).to_numpy(dtype=bool), rng.random(n) < 0.5, rng.random(n) < 0.97)
    predicted = np.where(correct, labels, 1 - labels)
    probabilities = np.stack([1 - 0.9 * predicted - 0.05, 0.9 * predicted + 0.05], axis=1)
    layer = LayerEvidence("dense", labels, np.array([0, 1]), 0.9, rng.normal(size=(n, 4)))
    evidence = Evidence(("x", "y"), probabilities, labels, (layer,), np.array(["c1"] * n, dtype=object), n,
                        metadata=pd.DataFrame({"site": site}))
    weak = [f for f in find(evidence) if f.kind == "weak_group"]
    assert [(f.where["column"], f.where["group"]) for f in weak] == [("site", "b")]
    inside = (site == "b").fillna(False).to_numpy(dtype=bool)
    assert weak[0].value == pytest.approx(correct[inside].mean(), abs=1e-12)


def test_odd_evidence_gives_findings_or_none_never_an_error():
    """Sets of one image, one class, one cluster, constant spaces, empty or all-missing metadata, no probes."""
    import warnings

    rng = np.random.default_rng(7)
    for _ in range(60):
        n, k, depth = int(rng.choice([1, 2, 3, 40])), int(rng.choice([2, 3])), int(rng.choice([1, 3]))
        probabilities = rng.dirichlet(np.ones(k) * rng.choice([0.05, 1.0]), n).astype(np.float32)
        labels = None if rng.random() < 0.2 else rng.integers(0, rng.choice([1, k]), n)
        layers = tuple(
            LayerEvidence(f"l{i}", rng.integers(0, c, n), rng.integers(-1, k, c),
                          None if labels is None else float(rng.random()),
                          np.zeros((n, 2), np.float32) if rng.random() < 0.2 else rng.normal(size=(n, 2)))
            for i, c in enumerate(rng.choice([1, 2, 5], depth))
        )
        metadata = pd.DataFrame({
            "site": pd.array(rng.choice(["a", "b", None], n), dtype="string"),
            "none": pd.array([None] * n, dtype="string"),
            "age": pd.array([str(v) for v in rng.normal(50, 10, n).round(1)], dtype="string"),
        })
        properties = pd.DataFrame(rng.random((n, 3)) * rng.choice([0, 1]), columns=list(IMAGE_PROPERTIES))
        probes = rng.dirichlet(np.ones(k), int(rng.choice([0, 1, 30]))).astype(np.float32)
        evidence = Evidence(tuple("abc"[:k]), probabilities, labels, layers,
                            np.array([f"p{v}" for v in rng.integers(0, 3, n)], dtype=object), n,
                            metadata=metadata, properties=properties, probe_probabilities=probes)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for finding in find(evidence):
                assert finding.kind in KINDS and finding.text
                Finding.from_dict(finding.to_dict())
