"""Which ribbons the paths diagram draws, and in which order its categories stand.

Works on the grouped paths table of the diagram: one row per distinct (cluster in each layer,
prediction, colour) with its image count, columns ``d0 .. d{L-1}``, ``prediction``, ``colour`` and
``count``. Pure pandas and numpy, so the rules are tested on hand-made tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Folded", "fold_rare_paths", "order_categories", "ribbons_per_pair"]


@dataclass(frozen=True)
class Folded:
    """The grouped table after folding, and what went into the "other" ribbon."""

    grouped: pd.DataFrame
    other_code: tuple[int, ...]
    other_colour: int
    n_images: int
    n_paths: int
    n_wrong: int


def _pair_columns(n_layers: int) -> list[tuple[str, str]]:
    dims = [f"d{i}" for i in range(n_layers)] + ["prediction"]
    return list(zip(dims[:-1], dims[1:]))


def ribbons_per_pair(grouped: pd.DataFrame, n_layers: int) -> list[int]:
    """Distinct ribbons between each pair of neighbouring axes: (category, next category) pairs.

    A ribbon's images of several colours are drawn side by side within it (``bundlecolors``), so the
    eye follows one band per pair of categories, striped by colour.
    """
    return [len(grouped[[a, b]].drop_duplicates()) for a, b in _pair_columns(n_layers)]


def fold_rare_paths(
    grouped: pd.DataFrame,
    n_layers: int,
    *,
    n_categories: list[int],
    other_colour: int,
    wrong_colours: np.ndarray,
    min_share: float,
    max_ribbons: int,
) -> Folded:
    """Keep the common paths, fold the rest into one "other" category per layer.

    Paths (distinct clusters in every layer) are taken from the most common down, each kept when it
    holds at least ``min_share`` of the images and its ribbons fit: between every pair of
    neighbouring axes at most ``max_ribbons`` ribbons (see :func:`ribbons_per_pair`), the ribbons of
    the folded images included (one between layers, one per prediction they reach at the last
    pair). A model with many classes needs a ribbon into each predicted class: the last pair may
    then hold ``max_ribbons`` plus the predicted classes beyond ``max_ribbons // 2``. Then the rarer
    paths that carry misclassified images (colour values flagged in ``wrong_colours``) are offered
    too, most errors first, as long as their ribbons fit: the errors are what the diagram is read
    for. The images of the other paths go through category ``n_categories[i]`` ("other") of every
    layer, in the colour ``other_colour``; their predictions stay as they are.
    """
    layer_cols = [f"d{i}" for i in range(n_layers)]
    total = int(grouped["count"].sum())
    pairs = _pair_columns(n_layers)
    path_of = pd.MultiIndex.from_frame(grouped[layer_cols])
    n_predicted = int(grouped["prediction"].nunique())
    limits = [max_ribbons] * (len(pairs) - 1) + [max_ribbons + max(0, n_predicted - max_ribbons // 2)]
    wrong = wrong_colours[grouped["colour"].to_numpy()]

    def ranked(counts: pd.Series) -> list[tuple[int, ...]]:
        frame = counts.reset_index()
        frame = frame.sort_values(["count", *layer_cols], ascending=[False] + [True] * n_layers, kind="stable")
        return [tuple(int(v) for v in row[:n_layers]) for row in frame.itertuples(index=False)]

    per_path = grouped.groupby(layer_cols, sort=True)["count"].sum()
    common = ranked(per_path[per_path / total >= min_share])
    with_errors = ranked(grouped[wrong].groupby(layer_cols, sort=True)["count"].sum())
    rows_of = {path: np.flatnonzero(path_of == path) for path in dict.fromkeys(common + with_errors)}
    kept = np.zeros(len(grouped), dtype=bool)
    seen: list[set[tuple[int, int]]] = [set() for _ in pairs]
    for path in dict.fromkeys(common + with_errors):
        trial = kept.copy()
        trial[rows_of[path]] = True
        new = [
            {(int(x), int(y)) for x, y in grouped.iloc[rows_of[path]][[a, b]].itertuples(index=False)} - seen[j]
            for j, (a, b) in enumerate(pairs)
        ]
        left = grouped[~trial]
        other = [int(len(left) > 0)] * (len(pairs) - 1) + [int(left["prediction"].nunique())]
        if all(len(seen[j]) + len(new[j]) + other[j] <= limits[j] for j in range(len(pairs))):
            kept = trial
            for j in range(len(pairs)):
                seen[j] |= new[j]
    return _fold(grouped, kept, layer_cols, tuple(n_categories), other_colour, wrong, len(per_path))


def _fold(
    grouped: pd.DataFrame,
    kept: np.ndarray,
    layer_cols: list[str],
    other: tuple[int, ...],
    other_colour: int,
    wrong: np.ndarray,
    n_paths: int,
) -> Folded:
    """The grouped table with the rows not ``kept`` moved to the "other" categories and colour."""
    if kept.all():
        return Folded(grouped, other, other_colour, 0, 0, 0)
    folded_rows = grouped[~kept]
    replaced = folded_rows.copy()
    for col, code in zip(layer_cols, other, strict=True):
        replaced[col] = code
    replaced["colour"] = other_colour
    table = pd.concat([grouped[kept], replaced])
    table = table.groupby([*layer_cols, "prediction", "colour"], sort=True)["count"].sum().reset_index()
    n_kept_paths = len(grouped[kept][layer_cols].drop_duplicates())
    n_wrong = int(folded_rows["count"].to_numpy()[wrong[~kept]].sum())
    return Folded(table, other, other_colour, int(folded_rows["count"].sum()), n_paths - n_kept_paths, n_wrong)


def order_categories(grouped: pd.DataFrame, n_layers: int, other_code: tuple[int, ...]) -> list[list[int]]:
    """An order of each layer's categories that makes the ribbons cross less; "other" stays last.

    The barycentre heuristic of layered graph drawing: a category moves to the count-weighted mean
    position of the categories its images come from (a forward sweep), then of those they go to (a
    backward sweep, the prediction axis fixed in class order), twice over. The first layer starts in
    cluster order (dominant class, then size); of the orders met on the way, the one whose ribbons
    cross least (crossings weighted by the images on both ribbons) is returned.
    """
    dims = [f"d{i}" for i in range(n_layers)] + ["prediction"]
    order = [sorted(int(c) for c in grouped[d].unique() if c != other_code[i]) for i, d in enumerate(dims[:-1])]
    order.append(sorted(int(c) for c in grouped["prediction"].unique()))
    best, best_crossings = [list(o) for o in order], _crossings(grouped, dims, order)
    forward = [(i, i - 1) for i in range(1, n_layers)]
    backward = [(i, i + 1) for i in range(n_layers - 1, -1, -1)]
    for sweep in (forward, backward, forward, backward):
        for i, neighbour in sweep:
            positions = {c: p for p, c in enumerate(order[neighbour])}
            order[i] = _by_barycentre(grouped, dims[i], dims[neighbour], positions, order[i])
        crossings = _crossings(grouped, dims, order)
        if crossings < best_crossings:
            best, best_crossings = [list(o) for o in order], crossings
    return [o + ([other_code[i]] if (grouped[dims[i]] == other_code[i]).any() else []) for i, o in enumerate(best[:-1])]


def _crossings(grouped: pd.DataFrame, dims: list[str], order: list[list[int]]) -> int:
    """Pairs of ribbons that cross between neighbouring axes, each weighted by the product of their images."""
    total = 0
    for a, b, order_a, order_b in zip(dims[:-1], dims[1:], order[:-1], order[1:]):
        where_a = {c: p for p, c in enumerate(order_a)}
        where_b = {c: p for p, c in enumerate(order_b)}
        ribbons = grouped[grouped[a].isin(list(where_a)) & grouped[b].isin(list(where_b))]
        flows = ribbons.groupby([a, b], sort=False)["count"].sum()
        if flows.empty:
            continue
        top = np.array([where_a[x] for x, _ in flows.index])
        bottom = np.array([where_b[y] for _, y in flows.index])
        weight = flows.to_numpy(np.int64)
        cross = (top[:, None] < top[None, :]) & (bottom[:, None] > bottom[None, :])
        total += int((weight[:, None] * weight[None, :])[cross].sum())
    return total


def _by_barycentre(
    grouped: pd.DataFrame, column: str, neighbour: str, positions: dict[int, int], current: list[int]
) -> list[int]:
    """``current`` categories sorted by the weighted mean position of their neighbours (ties keep the current order)."""
    known = grouped[grouped[neighbour].isin(list(positions)) & grouped[column].isin(current)]
    weights = known["count"].to_numpy(np.float64)
    where = known[neighbour].map(positions).to_numpy(np.float64)
    sums = pd.Series(weights * where).groupby(known[column].to_numpy()).sum()
    totals = pd.Series(weights).groupby(known[column].to_numpy()).sum()
    centre = (sums / totals).to_dict()
    rank = {c: p for p, c in enumerate(current)}
    return sorted(current, key=lambda c: (centre.get(c, float(rank[c])), rank[c]))
