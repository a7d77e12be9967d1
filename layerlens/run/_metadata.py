"""Metadata of the analysed images (patient, scanner, site, ...): checked, as text, one row per image."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.intervals import wilson_interval
from layerlens.exceptions import InvalidInputError, InvalidTypeError

__all__ = ["check_metadata", "group_accuracy"]


def check_metadata(metadata: Any, n_images: int | None, taken: Collection[str]) -> pd.DataFrame:
    """``metadata`` as a DataFrame of ``"string"`` columns indexed 0..N-1, or an error naming what is wrong.

    Values become text (missing ones ``<NA>``): metadata is for grouping images (by scanner, site, sex, ...),
    and text reads back from a run exactly as it was written. ``taken`` are column names of the paths table.
    ``n_images`` None (not known yet: a dataset before the pass) checks all but the length.
    """
    if isinstance(metadata, pd.DataFrame):
        frame = metadata
    elif isinstance(metadata, dict):
        try:
            frame = pd.DataFrame(metadata)
        except ValueError as err:
            raise InvalidInputError(
                f"metadata: expected columns of equal length, one value per image ({err})."
            ) from err
    else:
        raise InvalidTypeError(
            f"metadata: expected a pandas DataFrame (or a dict of columns), one row per image; received "
            f"{type(metadata).__name__}."
        )
    if n_images is not None and len(frame) != n_images:
        raise InvalidInputError(f"metadata: expected {n_images} rows, one per image; received {len(frame)}.")
    names = [str(c) for c in frame.columns]
    if not names:
        raise InvalidInputError(
            "metadata: expected at least one column (patient id, scanner, site, ...); received none."
        )
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise InvalidInputError(f"metadata: expected distinct, non-empty column names; received {names}.")
    clashes = sorted(set(names) & set(taken))
    if clashes:
        raise InvalidInputError(
            f"metadata: expected column names other than the paths table's {sorted(taken)}; rename {clashes}."
        )
    text = {
        name: pd.array([None if pd.isna(v) else str(v) for v in frame[column].tolist()], dtype="string")
        for name, column in zip(names, frame.columns)
    }
    return pd.DataFrame(text, index=pd.RangeIndex(len(frame), name="image"))


def group_accuracy(correct: np.ndarray, groups: pd.Series) -> pd.DataFrame:
    """Accuracy per group with a 95% Wilson interval: one row per group value, most images first.

    Columns ``images``, ``accuracy``, ``low`` and ``high``; images without a group value are left out.
    """
    frame = pd.DataFrame({"group": groups.to_numpy(dtype=object), "correct": np.asarray(correct, dtype=bool)})
    frame = frame[frame["group"].notna()]
    counts = frame.groupby("group", sort=True)["correct"].agg(["size", "sum"])
    n, k = counts["size"].to_numpy(np.float64), counts["sum"].to_numpy(np.float64)
    low, high = wilson_interval(k, n)
    table = pd.DataFrame(
        {"images": counts["size"].astype(np.int64), "accuracy": k / n, "low": low, "high": high},
        index=pd.Index(counts.index.astype(str), name=str(groups.name)),
    )
    return table.sort_values("images", ascending=False, kind="stable")
