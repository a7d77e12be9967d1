"""The shared argument checks of layerlens._util.validation."""

from __future__ import annotations

import numpy as np
import pytest

from layerlens._util.validation import check_int, check_label_vector, check_matrix, check_names, check_seed
from layerlens.exceptions import InvalidInputError


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, np.int64(3), np.uint32(5)], ids=["zero", "int", "max", "i64", "u32"])
def test_check_seed_accepts_32_bit_integers(seed):
    assert check_seed(seed) == int(seed)
    assert type(check_seed(seed)) is int


@pytest.mark.parametrize(
    ("seed", "received"),
    [(-1, "-1"), (2**32, "4294967296"), (True, "True"), (1.0, r"1\.0"), ("0", "'0'"), (None, "None")],
    ids=["negative", "too-big", "bool", "float", "str", "none"],
)
def test_check_seed_rejects(seed, received):
    with pytest.raises(InvalidInputError, match=rf"seed: expected an integer in 0\.\.2\*\*32-1; received {received}\."):
        check_seed(seed)


def test_check_seed_names_the_argument():
    with pytest.raises(InvalidInputError, match=r"random_state: expected an integer in 0\.\.2\*\*32-1"):
        check_seed(-5, "random_state")


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (0, {"minimum": 1}, r"n: expected an integer >= 1; received 0\."),
        (2.0, {"minimum": 1}, r"n: expected an integer >= 1; received 2\.0\."),
        (True, {"minimum": 0}, r"n: expected an integer >= 0; received True\."),
        (6, {"minimum": 1, "maximum": 5}, r"n: expected an integer in 1\.\.5; received 6\."),
        (0, {"minimum": 1, "maximum": 5}, r"n: expected an integer in 1\.\.5; received 0\."),
    ],
    ids=["below-minimum", "float", "bool", "above-maximum", "below-range"],
)
def test_check_int_rejects(value, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        check_int(value, "n", **kwargs)


@pytest.mark.parametrize(
    ("value", "kwargs"), [(1, {"minimum": 1}), (np.int32(5), {"minimum": 1, "maximum": 5})], ids=["minimum", "maximum"]
)
def test_check_int_accepts_bounds_and_returns_int(value, kwargs):
    assert check_int(value, "n", **kwargs) == value
    assert type(check_int(value, "n", **kwargs)) is int


def test_check_matrix_casts_to_the_requested_dtype():
    ints = np.array([[1, 2], [3, 4]])
    assert check_matrix(ints, "x", min_rows=2).dtype == np.float64
    assert check_matrix(ints, "x", min_rows=2, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(check_matrix(ints, "x", min_rows=1), ints)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float32-overflow case
@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (np.zeros(3), {}, r"x: expected a 2-D array of shape \(N, D\) with N >= 2 and D >= 1; received shape \(3,\)"),
        (np.zeros((1, 2)), {}, r"x: .*N >= 2.*received shape \(1, 2\)"),
        (np.zeros((2, 1)), {"min_cols": 2}, r"x: .*D >= 2.*received shape \(2, 1\)"),
        (np.ones((2, 2), bool), {}, r"x: expected real numbers; received dtype bool"),
        (np.ones((2, 2), complex), {}, r"x: expected real numbers; received dtype complex128"),
        (np.array([[np.nan, 1.0], [np.inf, 0.0]]), {}, r"x: expected finite values; received 2 NaN or infinite"),
        (np.full((2, 1), 1e300), {"dtype": np.float32}, r"x: expected finite values; received 2 NaN"),
    ],
    ids=["1-D", "few-rows", "few-columns", "bool", "complex", "nan-inf", "float32-overflow"],
)
def test_check_matrix_rejects(value, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        check_matrix(value, "x", **{"min_rows": 2, **kwargs})


def test_check_label_vector_returns_int64():
    out = check_label_vector(np.array([0, 2, 1], np.int8), "y", length=3, n_classes=3)
    assert out.dtype == np.int64
    assert out.tolist() == [0, 2, 1]
    assert check_label_vector([-4, 9], "y", n_classes=None).tolist() == [-4, 9]


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        ([0, 1], {"length": 3}, r"y: expected integers of shape \(3,\); received int64 of shape \(2,\)"),
        ([0.0, 1.0], {}, r"y: expected integers of shape \(N,\); received float64 of shape \(2,\)"),
        ([True, False], {}, r"y: expected integers of shape \(N,\); received bool"),
        (5, {}, r"y: expected integers of shape \(N,\); received int64 of shape \(\)"),
        (np.array([], int), {}, r"y: expected at least one image; received an empty array"),
        ([0, 3], {}, r"y: expected values in 0\.\.2; received range 0\.\.3"),
        ([-1, 1], {"kind": "class indices", "note": "one per class name"}, r"y: expected class indices in 0\.\.2 "
         r"\(one per class name\); received range -1\.\.1"),
    ],
    ids=["length", "float", "bool", "scalar", "empty", "out-of-range", "kind-and-note"],
)  # fmt: skip
def test_check_label_vector_rejects(value, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        check_label_vector(np.asarray(value), "y", **{"n_classes": 3, **kwargs})


def test_check_label_vector_allows_empty_when_the_length_is_fixed():
    assert check_label_vector(np.array([], int), "y", length=0, n_classes=3).shape == (0,)


@pytest.mark.parametrize(
    "value", [["a", "b"], ("a",), np.array(["x", "y"]), (c for c in "ab")], ids=["list", "tuple", "array", "generator"]
)
def test_check_names_returns_a_tuple(value):
    names = check_names(value, "class_names")
    assert isinstance(names, tuple)
    assert len(names) in (1, 2)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("abc", r"class_names: expected a non-empty sequence of str; received 'abc'"),
        ([], r"class_names: expected a non-empty sequence of str; received \[\]"),
        (["a", 2], r"class_names: expected a non-empty sequence of str; received \['a', 2\]"),
        (3, r"class_names: expected a non-empty sequence of str; received 3"),
        (["a", "b", "a", "b"], r"class_names: expected distinct, non-empty names; received repeated \['a', 'b'\]"),
        (["a", " "], r"class_names: expected distinct, non-empty names; received blank \[' '\]"),
    ],
    ids=["str", "empty", "non-str-entry", "not-iterable", "repeated", "blank"],
)
def test_check_names_rejects(value, match):
    with pytest.raises(InvalidInputError, match=match):
        check_names(value, "class_names")
