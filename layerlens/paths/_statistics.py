"""Measures that summarise the paths of a set of images through the per-layer clusters.

How many distinct paths there are (complexity), how well a path tells an image's true class
(weighted purity) and its predicted class (decision alignment, in-sample and held out), and how
many paths survive a little noise (agreement): the measures of the cluster-paths literature, on the
table of :func:`layerlens.paths._table.build_paths`. Arrays and data frames only, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.validation import check_int, check_label_vector, check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.layers import agreement, decision_alignment, heldout_alignment, majority
from layerlens.paths._table import PATH_PATTERN, layer_columns, probe_rows

__all__ = ["PathStatistics", "path_statistics"]

_TOP_PATHS_COLUMNS = ("class", "path", "count", "share_of_class", "rank")


@dataclass(frozen=True, eq=False)
class PathStatistics:
    """Summary measures of the paths of a set of images (see :func:`path_statistics`).

    Attributes
    ----------
    n_images : int
        Number of images N.
    n_distinct : int
        Number of distinct paths P.
    complexity : float
        ``P / N``, in (0, 1]: near 0 when few paths carry many images, 1 when every image has its own.
    weighted_purity : float or None
        Share of images whose path's majority true class is their own true class; None without labels.
    decision_alignment : float
        Share of images whose path's majority predicted class is their own predicted class.
    top_paths : DataFrame
        The most common paths of each class, with columns ``class`` (Categorical over the class names),
        ``path`` (str), ``count`` (int64), ``share_of_class`` (float64, count over the images of the
        class) and ``rank`` (int64, 1 for the most common). Classes are true classes when labels are
        known (``weighted_purity`` is not None), else predicted classes.
    heldout_alignment : float or None
        Whole-path decision alignment on held-out images: each path's majority prediction is learnt
        on other images (the reference set, or the other half of these images) and applied here.
    heldout_known : float or None
        Share of the held-out images whose path the learning side took at all (the others count as
        not aligned).
    heldout_basis : str or None
        ``"reference"`` or ``"halves"``: where the majorities were learnt.
    agreement : dict of float to float
        Per noise level (a share of the pixel range): share of images whose whole path stays the same
        when Gaussian noise of that standard deviation is added. Empty unless computed.
    layer_agreement : dict of float to tuple of float
        Per noise level, per layer: share of images that stay in their cluster.
    prediction_agreement : dict of float to float
        Per noise level: share of images whose prediction stays the same.
    """

    n_images: int
    n_distinct: int
    complexity: float
    weighted_purity: float | None
    decision_alignment: float
    top_paths: pd.DataFrame
    heldout_alignment: float | None = None
    heldout_known: float | None = None
    heldout_basis: str | None = None
    agreement: dict[float, float] = field(default_factory=dict)
    layer_agreement: dict[float, tuple[float, ...]] = field(default_factory=dict)
    prediction_agreement: dict[float, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        purity = "n/a (no labels)" if self.weighted_purity is None else f"{self.weighted_purity:.3f}"
        most = self.top_paths[self.top_paths["rank"] == 1]
        lines = [
            f"PathStatistics: {self.n_images} images on {self.n_distinct} distinct paths "
            f"(complexity {self.complexity:.3f})",
            f"  weighted purity     {purity}",
            f"  decision alignment  {self.decision_alignment:.3f}",
        ]
        if self.heldout_alignment is not None:
            lines.append(
                f"  held-out alignment  {self.heldout_alignment:.3f} (learnt on the {self.heldout_basis}; "
                f"{self.heldout_known:.1%} of the paths known there)"
            )
        for level, share in self.agreement.items():
            lines.append(
                f"  noise σ={level:g}        path kept {share:.3f}, prediction kept "
                f"{self.prediction_agreement[level]:.3f}"
            )
        lines.append("  most common path per class:")
        for _, row in most.iterrows():
            share = f"{row['count']} images, {row['share_of_class']:.0%} of the class"
            lines.append(f"    {str(row['class']):<16} {row['path']}  ({share})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as plain JSON-serialisable values; :meth:`from_dict` inverts it exactly.

        Returns
        -------
        dict
            Keys ``n_images``, ``n_distinct``, ``complexity``, ``weighted_purity``,
            ``decision_alignment``, ``top_paths`` (mapping ``class_names``, all categories, and each
            column name to a list), the held-out alignment and the agreement under noise (noise levels
            as str keys).
        """
        top = self.top_paths
        return {
            "n_images": int(self.n_images),
            "n_distinct": int(self.n_distinct),
            "complexity": float(self.complexity),
            "weighted_purity": None if self.weighted_purity is None else float(self.weighted_purity),
            "decision_alignment": float(self.decision_alignment),
            "heldout_alignment": self.heldout_alignment,
            "heldout_known": self.heldout_known,
            "heldout_basis": self.heldout_basis,
            "agreement": {repr(k): v for k, v in self.agreement.items()},
            "layer_agreement": {repr(k): list(v) for k, v in self.layer_agreement.items()},
            "prediction_agreement": {repr(k): v for k, v in self.prediction_agreement.items()},
            "top_paths": {
                "class_names": [str(c) for c in top["class"].cat.categories],
                "class": [int(c) for c in top["class"].cat.codes],
                "path": [str(p) for p in top["path"]],
                "count": [int(c) for c in top["count"]],
                "share_of_class": [float(s) for s in top["share_of_class"]],
                "rank": [int(r) for r in top["rank"]],
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PathStatistics:
        """Rebuild statistics from the output of :meth:`to_dict` (also after a JSON round trip).

        Parameters
        ----------
        d : mapping
            As returned by :meth:`to_dict`.

        Returns
        -------
        PathStatistics
            Equal field by field to the statistics that produced ``d``, data frame dtypes included.

        Raises
        ------
        InvalidInputError
            If a key is missing.
        """
        keys = ("n_images", "n_distinct", "complexity", "weighted_purity", "decision_alignment", "top_paths")
        top_keys = ("class_names",) + _TOP_PATHS_COLUMNS
        missing = [k for k in keys if k not in d] or [k for k in top_keys if k not in d["top_paths"]]
        if missing:
            raise InvalidInputError(
                f"d: expected the keys of PathStatistics.to_dict() ({list(keys)}, top_paths with "
                f"{list(top_keys)}); missing {missing}."
            )
        t = d["top_paths"]
        purity = d["weighted_purity"]
        return cls(
            n_images=int(d["n_images"]),
            n_distinct=int(d["n_distinct"]),
            complexity=float(d["complexity"]),
            weighted_purity=None if purity is None else float(purity),
            decision_alignment=float(d["decision_alignment"]),
            top_paths=_top_paths_frame(
                t["class_names"], t["class"], t["path"], t["count"], t["share_of_class"], t["rank"]
            ),
            heldout_alignment=d.get("heldout_alignment"),
            heldout_known=d.get("heldout_known"),
            heldout_basis=d.get("heldout_basis"),
            agreement={float(k): float(v) for k, v in d.get("agreement", {}).items()},
            layer_agreement={float(k): tuple(float(x) for x in v) for k, v in d.get("layer_agreement", {}).items()},
            prediction_agreement={float(k): float(v) for k, v in d.get("prediction_agreement", {}).items()},
        )


def path_statistics(
    paths: pd.DataFrame,
    *,
    top: int = 5,
    fit_paths: Sequence[str] | None = None,
    fit_predictions: np.ndarray | None = None,
    noisy_clusters: Mapping[float, np.ndarray] | None = None,
    noisy_predictions: Mapping[float, np.ndarray] | None = None,
    seed: int = 0,
) -> PathStatistics:
    """Summarise how images travel through the per-layer clusters.

    Parameters
    ----------
    paths : DataFrame
        As returned by :func:`build_paths` (rows marked ``probe``, an analysis' probes, are left out);
        needs the columns ``"true"``, ``"predicted"`` (both
        Categorical over the same class names) and ``"path"``, and at least one row.
    top : int, default=5
        Number of most common paths kept per class in ``top_paths``; at least 1.
    fit_paths : sequence of str, optional
        Path ids of the images the clusters were fitted on (a reference set), with
        ``fit_predictions`` their predicted class indices: the held-out alignment learns each path's
        majority prediction there. Default: from two seeded halves of ``paths``.
    fit_predictions : ndarray of shape (M,), int, optional
        See ``fit_paths``.
    noisy_clusters : mapping of float to ndarray of shape (N, L), int, optional
        Per noise level, the cluster of every image in every layer (the layer columns of ``paths``,
        in order) once noise was added; with ``noisy_predictions``, the predicted class indices.
    noisy_predictions : mapping of float to ndarray of shape (N,), int, optional
        See ``noisy_clusters``.
    seed : int, default=0
        Seed of the halves of the held-out alignment.

    Returns
    -------
    PathStatistics
        The measures defined in Notes, and the most common paths of each class.

    Raises
    ------
    InvalidInputError
        If ``top`` is below 1, ``paths`` lacks a column, has no rows, has labels for only some images,
        or holds a path id not of the form ``"c1-c3-c2"``.

    Notes
    -----
    Let N images fall on P distinct paths, let ``n_p`` be the number of images on path ``p`` and
    ``n_pc`` the number of them whose class is ``c``. The *majority class* of ``p`` is the ``c``
    with the largest ``n_pc``; ties go to the lowest class index, so the result never depends on
    row order.

    - ``complexity = P / N``.
    - ``weighted_purity`` = share of images whose true class equals the majority *true* class of
      their path, i.e. ``sum_p max_c n_pc / N`` with true classes (the purity of each path weighted
      by its size). ``None`` when ``true`` is all missing.
    - ``decision_alignment`` = the same with *predicted* classes: how well "the images on this path
      are mostly predicted as c" predicts each image's own prediction, i.e. how faithfully the path
      alone reproduces the model's decision.
    - ``top_paths``: per class (true if known, else predicted), the ``top`` paths with the most images
      of that class, ties broken by the path's cluster numbers in ascending order, layer by layer.
    - ``heldout_alignment``: decision alignment with the majorities learnt elsewhere (see
      :class:`PathStatistics`); in-sample alignment flatters many small paths, this does not.
    - ``agreement``: the path agreement of Kroeger & Bindschaedler, at each noise level given.

    Describing a network by the sequence of activation clusters an input visits ("cluster paths"),
    and judging those paths by their complexity, weighted purity and decision alignment, follows
    N. M. Kroeger and V. Bindschaedler, "Cluster Paths: Navigating Interpretability in Neural
    Networks", arXiv:2510.06541, 2025. The formulas above are layerlens's own precise versions.

    Examples
    --------
    >>> import pandas as pd
    >>> cats = pd.CategoricalDtype(["a", "b"])
    >>> df = pd.DataFrame({
    ...     "true": pd.Series(["a", "a", "b", "b"], dtype=cats),
    ...     "predicted": pd.Series(["a", "a", "a", "b"], dtype=cats),
    ...     "path": ["c1-c1", "c1-c1", "c1-c1", "c2-c2"],
    ... })
    >>> s = path_statistics(df)
    >>> s.n_distinct, s.complexity, s.weighted_purity, s.decision_alignment
    (2, 0.5, 0.75, 1.0)
    """
    probes = probe_rows(paths) if isinstance(paths, pd.DataFrame) else None
    if probes is not None and probes.any():
        paths = paths[~probes]  # images of no class: in no statistic
    true_codes, pred_codes, class_names, path_ids = _validate_statistics_inputs(paths, top)
    check_seed(seed)
    if (fit_paths is None) != (fit_predictions is None):
        raise InvalidInputError("fit_paths and fit_predictions: expected both or neither.")
    fit = None
    if fit_paths is not None:
        fit_ids = np.asarray(fit_paths, dtype=object)
        fit = (fit_ids, check_label_vector(fit_predictions, "fit_predictions", length=len(fit_ids), n_classes=None))
    statistics = _compute_statistics(true_codes, pred_codes, class_names, path_ids, top)
    heldout, known, basis = heldout_alignment(
        path_ids,
        pred_codes,
        fit_paths=None if fit is None else fit[0],
        fit_predictions=None if fit is None else fit[1],
        seed=seed,
    )
    whole, per_layer, decided = {}, {}, {}
    if noisy_clusters:
        clusters = _layer_codes(paths)
        noisy = _check_noisy(noisy_clusters, noisy_predictions, clusters.shape)
        whole, per_layer, decided = agreement(clusters, noisy[0], pred_codes, noisy[1])
    return replace(
        statistics,
        heldout_alignment=heldout,
        heldout_known=known,
        heldout_basis=basis,
        agreement=whole,
        layer_agreement=per_layer,
        prediction_agreement=decided,
    )


def _layer_codes(paths: pd.DataFrame) -> np.ndarray:
    """(N, L) cluster codes of the layer columns of a paths frame, in column order."""
    layers = layer_columns(paths)
    return np.stack([paths[c].cat.codes.to_numpy(np.int64) for c in layers], axis=1)


def _check_noisy(
    clusters: Mapping[float, np.ndarray], predictions: Mapping[float, np.ndarray] | None, shape: tuple[int, int]
) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
    if predictions is None or set(predictions) != set(clusters):
        raise InvalidInputError("noisy_predictions: expected one array per noise level of noisy_clusters.")
    checked_clusters, checked_predictions = {}, {}
    for level, codes in clusters.items():
        array = np.asarray(codes)
        if array.shape != shape or not np.issubdtype(array.dtype, np.integer):
            raise InvalidInputError(
                f"noisy_clusters[{level!r}]: expected integers of shape {shape} (images x layers); received "
                f"{array.dtype} of shape {array.shape}."
            )
        checked_clusters[float(level)] = array
        checked_predictions[float(level)] = check_label_vector(
            predictions[level], f"noisy_predictions[{level!r}]", length=shape[0], n_classes=None
        )
    return checked_clusters, checked_predictions


def _validate_statistics_inputs(
    paths: pd.DataFrame, top: int
) -> tuple[np.ndarray | None, np.ndarray, tuple[str, ...], np.ndarray]:
    """Check the input of :func:`path_statistics`; return true codes (or None), predicted codes,
    class names and path ids."""
    check_int(top, "top", minimum=1)
    if not isinstance(paths, pd.DataFrame):
        raise InvalidInputError(f"paths: expected a DataFrame from build_paths; received {type(paths).__name__}.")
    missing = [c for c in ("true", "predicted", "path") if c not in paths.columns]
    if missing:
        raise InvalidInputError(
            f"paths: expected the columns 'true', 'predicted' and 'path' of build_paths; missing {missing}."
        )
    if len(paths) == 0:
        raise InvalidInputError("paths: expected at least one image (row); received an empty frame.")
    true_col, pred_col = paths["true"], paths["predicted"]
    categorical = all(isinstance(c.dtype, pd.CategoricalDtype) for c in (true_col, pred_col))
    if not (categorical and list(true_col.cat.categories) == list(pred_col.cat.categories)):
        raise InvalidInputError(
            f"paths: expected 'true' and 'predicted' Categorical over the same class names; received "
            f"dtypes {true_col.dtype} and {pred_col.dtype}."
        )
    pred_codes = pred_col.cat.codes.to_numpy(np.int64)
    if (pred_codes < 0).any():
        raise InvalidInputError(
            f"paths: expected a predicted class for every image; {int((pred_codes < 0).sum())} missing."
        )
    true_codes = true_col.cat.codes.to_numpy(np.int64)
    n_missing = int((true_codes < 0).sum())
    if 0 < n_missing < len(true_codes):
        raise InvalidInputError(
            f"paths: expected 'true' known for all images or for none; {n_missing} of {len(true_codes)} missing."
        )
    path_ids = paths["path"].to_numpy(dtype=object)
    bad = [p for p in pd.unique(path_ids) if not (isinstance(p, str) and PATH_PATTERN.fullmatch(p))]
    if bad:
        raise InvalidInputError(f"paths: expected path ids like 'c1-c3-c2' in 'path'; received {bad[:3]!r}.")
    classes = tuple(str(c) for c in pred_col.cat.categories)
    return (None if n_missing else true_codes), pred_codes, classes, path_ids


def _compute_statistics(
    true_codes: np.ndarray | None,
    pred_codes: np.ndarray,
    class_names: tuple[str, ...],
    path_ids: np.ndarray,
    top: int,
) -> PathStatistics:
    """Compute :class:`PathStatistics` from validated arrays (see :func:`path_statistics`)."""
    groups, uniques = pd.factorize(path_ids)
    n, n_distinct = len(groups), len(uniques)
    purity = None
    if true_codes is not None:
        purity = float(np.mean(majority(groups, true_codes)[groups] == true_codes))
    alignment = decision_alignment(groups, pred_codes)
    by_class = pred_codes if true_codes is None else true_codes
    return PathStatistics(
        n_images=n,
        n_distinct=n_distinct,
        complexity=n_distinct / n,
        weighted_purity=purity,
        decision_alignment=alignment,
        top_paths=_top_paths(groups, np.asarray(uniques, dtype=object), by_class, class_names, top),
    )


def _top_paths(
    groups: np.ndarray, uniques: np.ndarray, classes: np.ndarray, class_names: tuple[str, ...], top: int
) -> pd.DataFrame:
    """The ``top`` most common paths of each class, as the ``top_paths`` frame."""
    pairs, counts = np.unique(np.stack([classes, groups]), axis=1, return_counts=True)
    cls, grp = pairs
    # Tie-break on the cluster numbers themselves, so "c2" sorts before "c10".
    numbers = [[int(part[1:]) for part in uniques[g].split("-")] for g in range(len(uniques))]
    width = max(len(x) for x in numbers)
    keys = np.array([x + [0] * (width - len(x)) for x in numbers], dtype=np.int64)[grp]
    order = np.lexsort(tuple(keys[:, j] for j in range(width - 1, -1, -1)) + (-counts, cls))
    cls, grp, counts = cls[order], grp[order], counts[order]
    starts = np.r_[True, cls[1:] != cls[:-1]]
    rank = np.arange(len(cls)) - np.maximum.accumulate(np.where(starts, np.arange(len(cls)), 0)) + 1
    class_sizes = np.bincount(classes, minlength=len(class_names))
    keep = rank <= top
    return _top_paths_frame(
        list(class_names),
        cls[keep].tolist(),
        uniques[grp[keep]].tolist(),
        counts[keep].tolist(),
        (counts[keep] / class_sizes[cls[keep]]).tolist(),
        rank[keep].tolist(),
    )


def _top_paths_frame(
    class_names: Sequence[str],
    class_codes: Sequence[int],
    path_ids: Sequence[str],
    counts: Sequence[int],
    shares: Sequence[float],
    ranks: Sequence[int],
) -> pd.DataFrame:
    """Assemble ``top_paths`` with fixed dtypes; shared by computation and :meth:`PathStatistics.from_dict`
    so both give identical frames."""
    return pd.DataFrame(
        {
            "class": pd.Categorical.from_codes(
                np.asarray(class_codes, dtype=np.int64).reshape(-1), categories=list(class_names)
            ),
            "path": pd.Series(list(path_ids), dtype=object).astype(str),
            "count": np.asarray(counts, dtype=np.int64).reshape(-1),
            "share_of_class": np.asarray(shares, dtype=np.float64).reshape(-1),
            "rank": np.asarray(ranks, dtype=np.int64).reshape(-1),
        },
        index=pd.RangeIndex(len(path_ids)),
    )
