"""The types of the command line's arguments: each converts a value and says what was expected when it cannot."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from layerlens.options import EXPLAIN_CHOICES, PREPROCESS_FAMILIES, preprocess_family


def _argument_type(convert: Callable[[str], Any], accept: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse ``type`` that converts a value and says what was expected when it cannot."""

    def parse(value: str) -> Any:
        try:
            parsed = convert(value)
        except (ValueError, ZeroDivisionError):
            parsed = None
        if parsed is None or not accept(parsed):
            raise argparse.ArgumentTypeError(f"expected {expected}; received {value!r}")
        return parsed

    return parse


def _auto_or(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda value: value if value == "auto" else convert(value)


def _fraction(value: str) -> float:
    return float(Fraction(value))  # "255", "0.5" and "1/255" alike


def _k_rule(value: str) -> int | str:
    return value if value in ("auto", "silhouette") else int(value)


_n_clusters = _argument_type(_k_rule, lambda k: isinstance(k, str) or k >= 2, "'auto', 'silhouette' or an integer >= 2")
_positive_int = _argument_type(int, lambda n: n >= 1, "a positive integer")
_auto_or_positive_int = _argument_type(_auto_or(int), lambda n: n == "auto" or n >= 1, "'auto' or a positive integer")
_count = _argument_type(int, lambda n: n >= 0, "an integer >= 0")
_seed = _argument_type(int, lambda n: 0 <= n <= 2**32 - 1, "an integer in 0..2**32-1")
_share = _argument_type(float, lambda x: 0.0 < x < 1.0, "a share between 0 and 1, e.g. 0.2")
_middle_or_count = _argument_type(
    lambda v: v if v in ("middle", "volume") else int(v),
    lambda x: x in ("middle", "volume") or x >= 1,
    "'middle', 'volume' or a positive integer",
)
_pixel_scale = _argument_type(
    _auto_or(_fraction), lambda x: x == "auto" or x > 0, "'auto' or a positive number such as 255 or 1/255"
)
_explain_choice = _argument_type(
    lambda v: v if v in EXPLAIN_CHOICES else int(v),
    lambda x: isinstance(x, str) or x >= 0,
    f"a number of images or one of {', '.join(EXPLAIN_CHOICES)}",
)
_seconds = _argument_type(float, lambda x: x > 0, "a positive number of seconds")
_non_negative = _argument_type(float, lambda x: x >= 0, "a number >= 0")
_preprocess = _argument_type(
    lambda v: preprocess_family(v) or "", bool, f"a keras.applications family: {', '.join(PREPROCESS_FAMILIES)}"
)


def _formats(value: str) -> tuple[str, ...]:
    from layerlens.figures import EXPORT_FORMATS

    formats = tuple(dict.fromkeys(part for part in value.replace(" ", "").lower().split(",") if part))
    if not formats or not set(formats) <= set(EXPORT_FORMATS):
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(EXPORT_FORMATS)}, comma-separated (e.g. png,svg); received {value!r}"
        )
    return formats


def _positions(value: str) -> list[int] | str:
    if value == "mistakes":
        return value
    try:
        positions = [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        positions = []
    if not positions or min(positions) < 0:
        raise argparse.ArgumentTypeError(f"expected image numbers such as 12,40 or 'mistakes'; received {value!r}")
    return positions
