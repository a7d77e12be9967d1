"""Floats in strict JSON: the one encoding every stored result uses for NaN and infinity."""

from __future__ import annotations

import math


def encode_float(value: float | None) -> float | str | None:
    """NaN (and None) -> None, ±inf -> "inf"/"-inf", anything else -> float; no NaN/Infinity tokens."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def decode_float(value: float | str | None) -> float:
    """Inverse of :func:`encode_float`; None reads back as NaN."""
    return math.nan if value is None else float(value)
