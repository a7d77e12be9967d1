"""Shared checks of the arguments of the public functions; each raises with a message naming the argument.

The public functions call these once, at their boundary, and hand the returned clean values to their
``_compute_*`` kernels. Keeping one copy of each check keeps the rules and the wording the same in
every module.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from layerlens.exceptions import InvalidInputError

#: Largest seed accepted: numpy's legacy seeding and scikit-learn's ``random_state`` need 32 bits.
MAX_SEED = 2**32 - 1


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int, or raise unless it is an integer (not a bool) in ``0 .. 2**32 - 1``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"{name}: expected an integer in 0..2**32-1; received {seed!r}.")
    return int(seed)


def check_int(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise unless it is an integer (not a bool) in ``minimum .. maximum``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        expected = f"an integer >= {minimum}" if maximum is None else f"an integer in {minimum}..{maximum}"
        raise InvalidInputError(f"{name}: expected {expected}; received {value!r}.")
    return int(value)


def check_matrix(value: Any, name: str, *, min_rows: int, min_cols: int = 1, dtype: type = np.float64) -> np.ndarray:
    """Return ``value`` as a 2-D array of ``dtype``, or raise unless it is real, finite and large enough."""
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[0] < min_rows or arr.shape[1] < min_cols:
        raise InvalidInputError(
            f"{name}: expected a 2-D array of shape (N, D) with N >= {min_rows} and D >= {min_cols}; "
            f"received shape {arr.shape}."
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise InvalidInputError(f"{name}: expected real numbers; received dtype {arr.dtype}.")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():  # after the cast: a huge float64 overflows to inf in float32
        bad = int((~np.isfinite(arr)).sum())
        raise InvalidInputError(f"{name}: expected finite values; received {bad} NaN or infinite values.")
    return arr


def check_label_vector(
    value: Any,
    name: str,
    *,
    length: int | None = None,
    n_classes: int | None,
    kind: str = "values",
    note: str | None = None,
) -> np.ndarray:
    """Return ``value`` as int64 of shape (length,) with entries in ``0 .. n_classes - 1``, or raise.

    ``length=None`` accepts any length but at least 1 (one entry per image); ``n_classes=None`` accepts
    any integers. ``kind`` (e.g. ``"class indices"``) and ``note`` (e.g. ``"one per class name"``, shown
    in parentheses) tell the reader of an out-of-range message what the entries index.
    """
    arr = np.asarray(value)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or (length is not None and len(arr) != length):
        expected = "N" if length is None else str(length)
        raise InvalidInputError(
            f"{name}: expected integers of shape ({expected},); received {arr.dtype} of shape {arr.shape}."
        )
    if length is None and arr.size == 0:
        raise InvalidInputError(f"{name}: expected at least one image; received an empty array.")
    if n_classes is not None and arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise InvalidInputError(
            f"{name}: expected {kind} in 0..{n_classes - 1}{f' ({note})' if note else ''}; "
            f"received range {arr.min()}..{arr.max()}."
        )
    return arr.astype(np.int64, copy=False)


def check_names(value: Any, name: str) -> tuple[str, ...]:
    """Return ``value`` as a tuple, or raise unless it holds at least one string, all distinct and non-blank."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name}: expected a non-empty sequence of str; received {value!r}.")
    names = tuple(value)
    if not names or not all(isinstance(v, str) for v in names):
        raise InvalidInputError(f"{name}: expected a non-empty sequence of str; received {value!r}.")
    repeated = sorted(v for v, count in Counter(names).items() if count > 1)
    if repeated:
        raise InvalidInputError(f"{name}: expected distinct, non-empty names; received repeated {repeated}.")
    blank = [v for v in names if not v.strip()]
    if blank:
        raise InvalidInputError(f"{name}: expected distinct, non-empty names; received blank {blank}.")
    return names


def require_keys(name: str, data: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Raise unless the stored mapping ``data`` holds every key a ``from_dict`` reads."""
    missing = [key for key in keys if key not in data]
    if missing:
        raise InvalidInputError(f"{name}: expected the keys written by to_dict; missing {missing}.")
