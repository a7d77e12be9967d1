import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    recall_score,
)

from layerlens.exceptions import InvalidInputError
from layerlens.scores import ClassificationMetrics, best_class_matching, calibration, classification_metrics
from layerlens.scores import _numbers as numbers

TUMOUR = ("glioma", "meningioma", "no_tumor", "pituitary")


def smoothed(labels, k, high=0.8):
    """Probabilities putting ``high`` on ``labels`` and the rest evenly elsewhere."""
    low = (1 - high) / (k - 1)
    return np.where(np.eye(k, dtype=bool)[labels], high, low)


def simulated(n, k=3, hit_rate=0.8, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    wrong = (y_true + rng.integers(1, k, n)) % k
    y_pred = np.where(rng.random(n) < hit_rate, y_true, wrong)
    return y_true, y_pred, smoothed(y_pred, k)


def assert_same_metrics(a: ClassificationMetrics, b: ClassificationMetrics):
    for field in ClassificationMetrics.__dataclass_fields__:
        x, y = getattr(a, field), getattr(b, field)
        if field == "per_class":
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        elif field == "confusion":
            assert x.dtype == y.dtype == np.int64
            np.testing.assert_array_equal(x, y)
        elif field == "calibration":
            for part in ("bin_edges", "confidence", "accuracy", "counts"):
                np.testing.assert_array_equal(getattr(x, part), getattr(y, part))
                assert getattr(x, part).dtype == getattr(y, part).dtype, part
            assert (x.ece, x.ece_ci) == (y.ece, y.ece_ci)
        else:
            assert x == y, field
            assert type(x) is type(y), field


# ------------------------------------------------------------------------------------- classification


def test_three_class_oracle():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 1])
    m = classification_metrics(y_true, y_pred, smoothed(y_pred, 3), ["a", "b", "c"], n_bootstrap=50)
    # Rows = true class, columns = predicted.
    np.testing.assert_array_equal(m.confusion, [[3, 1, 0], [0, 2, 1], [0, 1, 2]])
    assert m.confusion.dtype == np.int64
    # precision = column diagonal share: 3/3, 2/4, 2/3; recall = row share: 3/4, 2/3, 2/3.
    table = m.per_class
    np.testing.assert_allclose(table["precision"], [1.0, 1 / 2, 2 / 3])
    np.testing.assert_allclose(table["recall"], [3 / 4, 2 / 3, 2 / 3])
    # F1 = 2PR / (P + R): 2*(3/4)/(7/4) = 6/7, 2*(1/3)/(7/6) = 4/7, 2/3.
    np.testing.assert_allclose(table["f1"], [6 / 7, 4 / 7, 2 / 3])
    assert table["support"].tolist() == [4, 3, 3]
    assert table["support"].dtype == np.int64
    assert list(table.index) == ["a", "b", "c"]
    assert list(table.columns) == ["precision", "recall", "f1", "support", "roc_auc", "average_precision"]
    assert m.n_images == 10
    assert m.accuracy == pytest.approx(7 / 10)
    assert m.balanced_accuracy == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert m.negative_class is m.sensitivity is m.specificity is m.sensitivity_ci is m.specificity_ci is None


def test_tumour_sensitivity_and_specificity_oracle():
    # glioma, glioma, meningioma x2, pituitary x2, no_tumor x4
    y_true = np.array([0, 0, 1, 1, 3, 3, 2, 2, 2, 2])
    # A glioma called meningioma still counts as "lesion found"; only meningioma -> no_tumor is a miss.
    y_pred = np.array([1, 0, 2, 1, 3, 0, 2, 2, 0, 2])
    m = classification_metrics(y_true, y_pred, smoothed(y_pred, 4), TUMOUR, negative_class="no_tumor")
    assert m.negative_class == "no_tumor"
    assert m.sensitivity == pytest.approx(5 / 6)
    assert m.specificity == pytest.approx(3 / 4)
    assert m.accuracy == pytest.approx(6 / 10)
    for rate, ci in [(m.sensitivity, m.sensitivity_ci), (m.specificity, m.specificity_ci)]:
        assert 0.0 <= ci[0] <= rate <= ci[1] <= 1.0


@pytest.mark.parametrize(
    ("y_true", "sensitivity", "specificity"),
    [([2, 2, 2, 2], None, 0.5), ([0, 1, 3, 0], 0.5, None)],
    ids=["no-lesion-images", "no-negative-images"],
)
def test_undefined_rate_is_none(y_true, sensitivity, specificity):
    y_pred = np.array([2, 0, 2, 1])
    probs = smoothed(y_pred, 4)
    m = classification_metrics(np.array(y_true), y_pred, probs, TUMOUR, negative_class="no_tumor")
    assert m.sensitivity == sensitivity and m.specificity == specificity
    assert (m.sensitivity_ci is None) == (sensitivity is None)
    assert (m.specificity_ci is None) == (specificity is None)


def test_interval_contains_estimate_and_narrows_with_more_images():
    widths = []
    for n in (100, 4000):
        y_true, y_pred, probs = simulated(n)
        m = classification_metrics(y_true, y_pred, probs, ["a", "b", "c"], n_bootstrap=500)
        for value, (lo, hi) in [(m.accuracy, m.accuracy_ci), (m.balanced_accuracy, m.balanced_accuracy_ci)]:
            assert lo <= value <= hi
        widths.append(m.accuracy_ci[1] - m.accuracy_ci[0])
    # Width shrinks like 1/sqrt(N): about 6 times narrower for 40 times the images.
    assert widths[1] < widths[0] / 3


def test_bootstrap_is_deterministic_for_a_seed():
    y_true, y_pred, probs = simulated(301)
    args = (y_true, y_pred, probs, ["a", "b", "c"])
    first = classification_metrics(*args, n_bootstrap=200, seed=7)
    again = classification_metrics(*args, n_bootstrap=200, seed=7)
    other = classification_metrics(*args, n_bootstrap=200, seed=8)
    assert first.accuracy_ci == again.accuracy_ci
    assert first.balanced_accuracy_ci == again.balanced_accuracy_ci
    assert (first.accuracy_ci, first.balanced_accuracy_ci) != (other.accuracy_ci, other.balanced_accuracy_ci)


def test_bootstrap_chunks_are_one_random_stream(monkeypatch):
    monkeypatch.setattr(numbers, "_BOOTSTRAP_CHUNK", 50)  # 5 resamples of 10 images per chunk
    chunks = list(numbers._bootstrap_indices(10, 23, seed=3))
    assert [c.shape[0] for c in chunks] == [5, 5, 5, 5, 3]
    whole = np.random.default_rng(3).integers(0, 10, size=(23, 10))
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_bootstrap_kernel_matches_sklearn_on_each_resample():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
    idx = rng.integers(0, 40, size=(12, 40))
    rates = numbers._bootstrap_rates(y_true, y_pred, 4, 2, [idx[:5], idx[5:]])
    for b, rows in enumerate(idx):
        t, p = y_true[rows], y_pred[rows]
        assert rates["accuracy"][b] == pytest.approx(accuracy_score(t, p))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert rates["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(t, p))
        assert rates["sensitivity"][b] == pytest.approx(recall_score(t != 2, p != 2))
        assert rates["specificity"][b] == pytest.approx(recall_score(t == 2, p == 2))


def test_bootstrap_kernel_gives_nan_when_a_resample_lacks_the_negative_class():
    y_true, y_pred = np.array([0, 1, 2]), np.array([0, 2, 2])
    rates = numbers._bootstrap_rates(y_true, y_pred, 3, 2, [np.array([[0, 0, 1], [2, 2, 2]])])
    np.testing.assert_allclose(rates["accuracy"], [2 / 3, 1.0])
    # Resample 0 holds classes 0 (recall 1) and 1 (recall 0); resample 1 only class 2.
    np.testing.assert_allclose(rates["balanced_accuracy"], [0.5, 1.0])
    np.testing.assert_allclose(rates["sensitivity"], [2 / 3, np.nan])
    np.testing.assert_allclose(rates["specificity"], [np.nan, 1.0])


def test_roc_auc_and_ap_are_one_for_perfect_ranking():
    y_true = np.array([0, 1, 2, 0, 1, 2, 2])
    y_pred = np.array([1, 1, 2, 0, 0, 2, 1])  # wrong labels do not matter: the scores rank perfectly
    m = classification_metrics(y_true, y_pred, smoothed(y_true, 3), ["a", "b", "c"], n_bootstrap=10)
    np.testing.assert_array_equal(m.per_class["roc_auc"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(m.per_class["average_precision"], [1.0, 1.0, 1.0])
    assert m.roc_auc_macro == 1.0 and m.average_precision_macro == 1.0


def test_constant_probabilities_give_chance_scores():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    probs = np.full((10, 3), 1 / 3)
    m = classification_metrics(y_true, np.zeros(10, int), probs, ["a", "b", "c"], n_bootstrap=10)
    np.testing.assert_allclose(m.per_class["roc_auc"], [0.5, 0.5, 0.5])
    # All scores tied: one threshold, precision = prevalence.
    np.testing.assert_allclose(m.per_class["average_precision"], [0.3, 0.2, 0.5])
    assert m.roc_auc_macro == pytest.approx(0.5)


def test_binary_roc_auc_oracle():
    # Positives score 0.9, 0.4; negatives 0.6, 0.1: 3 of the 4 positive/negative pairs are ordered right.
    p = np.array([0.9, 0.4, 0.6, 0.1])
    y_true = np.array([1, 1, 0, 0])
    m = classification_metrics(y_true, (p > 0.5).astype(int), np.c_[1 - p, p], ["neg", "pos"], n_bootstrap=10)
    np.testing.assert_allclose(m.per_class["roc_auc"], [0.75, 0.75])
    assert m.roc_auc_macro == pytest.approx(0.75)


def test_absent_class_gets_nan_and_is_skipped_in_macro():
    y_true = np.array([0, 0, 1, 1, 0, 1])
    y_pred = np.array([0, 1, 1, 1, 2, 1])
    probs = np.array(
        [[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.5, 0.4, 0.1]]
    )
    m = classification_metrics(y_true, y_pred, probs, ["a", "b", "c"], n_bootstrap=20)
    roc = m.per_class["roc_auc"]
    assert math.isnan(roc["c"]) and math.isnan(m.per_class["average_precision"]["c"])
    assert m.per_class.loc["c", "support"] == 0
    assert m.per_class.loc["c", "precision"] == 0.0  # zero_division=0: one wrong prediction of c
    assert m.roc_auc_macro == pytest.approx((roc["a"] + roc["b"]) / 2)
    # Balanced accuracy averages recall over the classes present: (1/3 + 3/3) / 2.
    assert m.balanced_accuracy == pytest.approx(2 / 3)
    assert m.to_dict()["per_class"]["roc_auc"][2] is None


def test_single_class_present_leaves_macro_none():
    y_true = np.zeros(4, int)
    m = classification_metrics(y_true, y_true, smoothed(y_true, 2), ["a", "b"], n_bootstrap=10)
    assert m.roc_auc_macro is None and m.average_precision_macro is None
    assert m.per_class["roc_auc"].isna().all()


@pytest.mark.parametrize("negative_class", [None, "no_tumor"], ids=["without-negative", "with-negative"])
def test_to_dict_is_strict_json_and_round_trips(negative_class):
    y_true = np.array([0, 0, 1, 1, 2, 2, 0, 1])  # class "pituitary" absent: NaN scores
    y_pred = np.array([0, 1, 1, 2, 2, 3, 0, 1])
    m = classification_metrics(y_true, y_pred, smoothed(y_pred, 4), TUMOUR, negative_class=negative_class)
    text = json.dumps(m.to_dict(), allow_nan=False)
    back = ClassificationMetrics.from_dict(json.loads(text))
    assert_same_metrics(m, back)
    assert back.to_dict() == m.to_dict()


def test_from_dict_names_missing_keys():
    m = classification_metrics(np.array([0, 1]), np.array([0, 1]), np.eye(2), ["a", "b"], n_bootstrap=5)
    data = m.to_dict()
    del data["accuracy"]
    with pytest.raises(InvalidInputError, match=r"missing \['accuracy'\]"):
        ClassificationMetrics.from_dict(data)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"y_pred": np.array([0, 1, 0])}, "y_true and y_pred: expected the same length; received y_true of "
         "length 4 and y_pred of length 3"),
        ({"y_true": np.array([0, 1, 3, 0])}, r"y_true: expected labels in 0..2 .*received range 0..3"),
        ({"y_pred": np.array([0, -1, 2, 0])}, r"y_pred: expected labels in 0..2 .*received range -1..2"),
        ({"y_true": np.array([0.0, 1.0, 2.0, 0.0])}, r"y_true: expected integers of shape \(N,\); "
         "received float64"),
        ({"y_true": np.zeros((4, 1), int)}, r"y_true: expected integers of shape .* shape \(4, 1\)"),
        ({"y_true": np.array([], int), "y_pred": np.array([], int)}, "y_true: expected at least one image"),
        ({"probabilities": np.full((4, 2), 0.5)}, r"probabilities: expected .*shape \(4, 3\).*received "
         r"float64 of shape \(4, 2\)"),
        ({"probabilities": np.full((4, 3), 0.5)}, "expected rows summing to 1 .*received row 0 summing "
         "to 1.5"),
        ({"probabilities": np.full((4, 3), np.nan)}, "probabilities: expected finite values; received 12"),
        ({"probabilities": np.tile([1.5, -0.5, 0.0], (4, 1))}, r"expected values in \[0, 1\]; received "
         r"range \[-0.5, 1.5\]"),
        ({"class_names": ["a", "b", "a"]}, r"class_names: expected distinct, non-empty names; received "
         r"repeated \['a'\]"),
        ({"class_names": "abc"}, "class_names: expected a non-empty sequence of str"),
        ({"negative_class": "healthy"}, r"negative_class: expected one of the class names \['a', 'b', 'c'\]; "
         "received 'healthy'"),
        ({"n_bootstrap": 0}, "n_bootstrap: expected an integer >= 1; received 0"),
        ({"n_bootstrap": 10.0}, "n_bootstrap: expected an integer >= 1; received 10.0"),
    ],
    ids=[
        "length-mismatch", "true-out-of-range", "pred-negative", "float-labels", "labels-2d", "empty",
        "probs-shape", "probs-row-sum", "probs-nan", "probs-range", "duplicate-names", "names-as-string",
        "unknown-negative", "zero-bootstrap", "float-bootstrap",
    ],
)  # fmt: skip
def test_classification_rejects_bad_input(override, match):
    args = {
        "y_true": np.array([0, 1, 2, 0]),
        "y_pred": np.array([0, 1, 1, 0]),
        "probabilities": np.full((4, 3), 1 / 3),
        "class_names": ["a", "b", "c"],
    }
    args.update(override)
    with pytest.raises(InvalidInputError, match=match):
        classification_metrics(**args)


def test_fewer_than_two_classes_is_rejected():
    match = r"class_names: expected at least 2 classes; received \['a'\]"
    with pytest.raises(InvalidInputError, match=match):
        classification_metrics(np.array([0]), np.array([0]), np.ones((1, 1)), ["a"])


def test_importing_metrics_does_not_import_tensorflow():
    code = "import sys, layerlens.scores; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_percentile_interval_skips_undefined_resamples():
    assert numbers._percentile_interval(np.array([np.nan, 0.5, 0.5])) == (0.5, 0.5)
    lo, hi = numbers._percentile_interval(np.array([np.nan, np.nan]))
    assert math.isnan(lo) and math.isnan(hi)


@pytest.mark.parametrize(
    ("confusion", "matched", "accuracy"),
    [
        ([[1, 9], [8, 2]], [1, 0], 0.85),  # a swapped pair
        ([[5, 5], [5, 5]], [0, 1], 0.5),  # a tie keeps the given order
        ([[3, 0, 0], [0, 0, 4], [0, 5, 0]], [0, 2, 1], 1.0),
        ([[4, 1, 0], [0, 3, 2], [1, 0, 4]], [0, 1, 2], 11 / 15),  # already the best pairing
    ],
    ids=["swapped", "tie", "two-of-three", "identity"],
)
def test_best_class_matching(confusion, matched, accuracy):
    got, share = best_class_matching(np.array(confusion))
    assert got.tolist() == matched and share == pytest.approx(accuracy)


def test_best_class_matching_rejects_non_counts():
    with pytest.raises(InvalidInputError, match="confusion: expected a square array of non-negative integer counts"):
        best_class_matching(np.zeros((2, 3), int))


# ------------------------------------------------------------------------------------- calibration


def test_calibration_compares_each_bins_accuracy_with_its_confidence():
    correct = np.array([True, True, False, True])
    confidence = np.array([0.95, 0.92, 0.85, 0.65])
    c = calibration(correct, confidence, n_bootstrap=200)
    assert c.counts.tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 1, 2]
    np.testing.assert_allclose(c.confidence[[6, 8, 9]], [0.65, 0.85, 0.935])
    np.testing.assert_allclose(c.accuracy[[6, 8, 9]], [1.0, 0.0, 1.0])
    assert np.isnan(c.accuracy[0]) and np.isnan(c.confidence[0])
    assert c.ece == pytest.approx((0.35 + 0.85 + 2 * 0.065) / 4)
    assert c.ece_ci[0] <= c.ece <= c.ece_ci[1]


def test_a_calibrated_model_has_a_small_error_and_an_overconfident_one_a_large_one():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20_000)
    honest = calibration(rng.random(20_000) < confidence, confidence, n_bootstrap=100)
    boastful = calibration(rng.random(20_000) < confidence - 0.2, confidence, n_bootstrap=100)
    assert honest.ece < 0.02 and honest.ece_ci[1] < 0.03
    assert boastful.ece == pytest.approx(0.2, abs=0.02) and boastful.ece_ci[0] > 0.15


def test_classification_metrics_carry_their_calibration():
    y_true = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    y_pred = np.array([0, 1, 1, 2, 2, 3, 0, 1])
    probs = smoothed(y_pred, 4)
    m = classification_metrics(y_true, y_pred, probs, TUMOUR, n_bootstrap=50)
    direct = calibration(y_true == y_pred, probs.max(axis=1), n_bootstrap=50)
    assert m.calibration.ece == direct.ece and m.calibration.ece_ci == direct.ece_ci
    assert "calibration error" in repr(m)
    stored = m.to_dict()
    del stored["calibration"]  # metrics stored before calibration was measured
    assert ClassificationMetrics.from_dict(stored).calibration is None


@pytest.mark.parametrize(
    ("correct", "confidence", "message"),
    [
        (np.array([True]), np.array([0.5, 0.6]), "correct and confidence: expected two 1-D arrays"),
        (np.array([], bool), np.array([]), "correct and confidence: expected two 1-D arrays"),
        (np.array([True]), np.array([1.5]), r"confidence: expected probabilities in \[0, 1\]"),
        (np.array([True]), np.array([np.nan]), r"confidence: expected probabilities in \[0, 1\]"),
    ],
)
def test_calibration_names_bad_input(correct, confidence, message):
    with pytest.raises(InvalidInputError, match=message):
        calibration(correct, confidence)
