"""Paths of images through the per-layer clusters, and the measures that summarise them.

An image's *path* is the sequence of clusters it falls into, layer after layer. Images
that travel together are processed alike by the network; a path that gathers images
of several true classes shows where the network fails to keep them apart.

This module works on arrays and data frames only (no TensorFlow, no Keras), so paths
can be rebuilt and summarised from a stored run anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layerlens._validation import check_int, check_label_vector, check_names
from layerlens.exceptions import InvalidInputError

__all__ = ["FIXED_COLUMNS", "PathStatistics", "build_paths", "path_statistics"]

#: Columns of :func:`build_paths` that are not layers; no layer may be named like one.
FIXED_COLUMNS: tuple[str, ...] = ("file", "true", "predicted", "confidence", "correct", "path", "layers_agreeing")

_ROUNDING = 1e-5
_PATH_PATTERN = re.compile(r"c[1-9][0-9]*(?:-c[1-9][0-9]*)*")
_TOP_PATHS_COLUMNS = ("class", "path", "count", "share_of_class", "rank")


def build_paths(
    cluster_labels: Sequence[np.ndarray],
    cluster_names: Sequence[Sequence[str]],
    cluster_dominant: Sequence[np.ndarray],
    layer_names: Sequence[str],
    *,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
    true: np.ndarray | None = None,
    files: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Tabulate each image's path through the per-layer clusters.

    Parameters
    ----------
    cluster_labels : sequence of L ndarrays of shape (N,), int
        Cluster of every image in each layer, in depth order; layer ``l`` uses
        ``0 .. len(cluster_names[l]) - 1``.
    cluster_names : sequence of L sequences of str
        Display name of each cluster of each layer, in cluster order; unique within a layer.
    cluster_dominant : sequence of L ndarrays of shape (k_l,), int
        Class index that dominates each cluster of each layer, in ``0 .. K - 1``.
    layer_names : sequence of L str
        Name of each layer; unique, and none equal to a name in :data:`FIXED_COLUMNS`.
    predicted : ndarray of shape (N,), int
        Predicted class index of each image, in ``0 .. K - 1``.
    confidence : ndarray of shape (N,), float
        Probability the model gave to the predicted class, in [0, 1] (values off by a float32
        rounding error, up to 1e-5, are clipped).
    class_names : sequence of K str
        Name of each class; unique.
    true : ndarray of shape (N,), int, optional
        True class index of each image, in ``0 .. K - 1``; ``None`` when the images are unlabelled.
    files : sequence of N str, optional
        The file each image was read from; ``None`` when the images did not come from files.

    Returns
    -------
    DataFrame
        One row per image, index ``0 .. N - 1`` named ``"image"`` (the image's position in the
        analysed set, which also numbers its thumbnail), with columns in this order:

        - ``"file"``: ``"string"`` dtype, the image's file; all missing when ``files`` is None.
        - ``"true"``: Categorical over ``class_names``; all missing when ``true`` is None.
        - ``"predicted"``: Categorical over ``class_names``.
        - ``"confidence"``: float64.
        - ``"correct"``: nullable ``"boolean"``; ``<NA>`` when ``true`` is None.
        - one column per layer, named exactly as the layer: Categorical whose categories are that
          layer's cluster names in cluster order, so ``.cat.codes`` equals ``cluster_labels[l]``.
        - ``"path"``: str id of the cluster sequence from 1-based cluster numbers, e.g. ``"c1-c3-c2"``.
        - ``"layers_agreeing"``: int64, the number of layers in which the image sits in a cluster whose
          dominant class is the image's predicted class. A confident prediction whose image sat
          among other classes' images in most layers (few layers agreeing) is worth a second look;
          a prediction the layers agreed on early was an easy one.

    Raises
    ------
    InvalidInputError
        If a length or shape disagrees (the message names the argument and the expected length), a
        label is out of range, names repeat, or a layer name clashes with a fixed column.

    Examples
    --------
    >>> import numpy as np
    >>> df = build_paths(
    ...     [np.array([0, 0, 1]), np.array([1, 0, 0])],
    ...     [["c1 · a", "c2 · b"], ["c1 · b", "c2 · a"]],
    ...     [np.array([0, 1]), np.array([1, 0])],
    ...     ["conv", "dense"],
    ...     predicted=np.array([0, 0, 1]),
    ...     confidence=np.array([0.9, 0.6, 0.8]),
    ...     class_names=["a", "b"],
    ...     true=np.array([0, 1, 1]),
    ... )
    >>> df["path"].tolist()
    ['c1-c2', 'c1-c1', 'c2-c1']
    >>> df["layers_agreeing"].tolist()
    [2, 1, 2]
    """
    arrays = _validate_build_inputs(
        cluster_labels,
        cluster_names,
        cluster_dominant,
        layer_names,
        predicted=predicted,
        confidence=confidence,
        class_names=class_names,
        true=true,
        files=files,
    )
    return _compute_paths(*arrays)


def _validate_build_inputs(
    cluster_labels: Sequence[np.ndarray],
    cluster_names: Sequence[Sequence[str]],
    cluster_dominant: Sequence[np.ndarray],
    layer_names: Sequence[str],
    *,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
    true: np.ndarray | None,
    files: Sequence[str] | None,
) -> tuple:
    """Check every argument of :func:`build_paths`; return them as clean arrays and tuples."""
    classes = check_names(class_names, "class_names")
    layers = check_names(layer_names, "layer_names")
    clashes = sorted(set(layers) & set(FIXED_COLUMNS))
    if clashes:
        raise InvalidInputError(
            f"layer_names: expected names other than the fixed columns {list(FIXED_COLUMNS)}; "
            f"received {clashes}. Rename these layers before building paths."
        )
    n_layers = len(layers)
    for name, seq in (
        ("cluster_labels", cluster_labels),
        ("cluster_names", cluster_names),
        ("cluster_dominant", cluster_dominant),
    ):
        if len(seq) != n_layers:
            raise InvalidInputError(
                f"{name}: expected {n_layers} entries (one per layer in layer_names); received {len(seq)}."
            )
    pred = check_label_vector(predicted, "predicted", n_classes=len(classes))
    n = len(pred)
    conf = np.asarray(confidence)
    real = np.issubdtype(conf.dtype, np.floating) or np.issubdtype(conf.dtype, np.integer)
    if conf.shape != (n,) or not real:
        raise InvalidInputError(
            f"confidence: expected real numbers of shape ({n},) (one per image in predicted); "
            f"received {conf.dtype} of shape {conf.shape}."
        )
    conf = conf.astype(np.float64)
    # float32 softmax outputs can overshoot 1 by a rounding error; tolerate that much, then clip.
    if not (np.all(np.isfinite(conf)) and conf.min() >= -_ROUNDING and conf.max() <= 1.0 + _ROUNDING):
        raise InvalidInputError(
            f"confidence: expected probabilities in [0, 1]; received values from {np.nanmin(conf):.3g} "
            f"to {np.nanmax(conf):.3g} (NaN present: {bool(np.isnan(conf).any())})."
        )
    conf = np.clip(conf, 0.0, 1.0)
    true_arr = None if true is None else check_label_vector(true, "true", length=n, n_classes=len(classes))
    if files is not None and (isinstance(files, str) or len(files) != n or not all(isinstance(f, str) for f in files)):
        shown = "a str" if isinstance(files, str) else f"{type(files).__name__} of length {len(files)}"
        raise InvalidInputError(f"files: expected {n} file names (one str per image in predicted); received {shown}.")
    names = tuple(check_names(cluster_names[i], f"cluster_names[{i}]") for i in range(n_layers))
    labels = tuple(
        check_label_vector(cluster_labels[i], f"cluster_labels[{i}]", length=n, n_classes=len(names[i]))
        for i in range(n_layers)
    )
    dominant = tuple(
        check_label_vector(cluster_dominant[i], f"cluster_dominant[{i}]", length=len(names[i]), n_classes=len(classes))
        for i in range(n_layers)
    )
    return labels, names, dominant, layers, pred, conf, classes, true_arr, files


def _compute_paths(
    labels: tuple[np.ndarray, ...],
    names: tuple[tuple[str, ...], ...],
    dominant: tuple[np.ndarray, ...],
    layers: tuple[str, ...],
    predicted: np.ndarray,
    confidence: np.ndarray,
    classes: tuple[str, ...],
    true: np.ndarray | None,
    files: Sequence[str] | None,
) -> pd.DataFrame:
    """Build the paths frame from validated inputs (see :func:`build_paths`)."""
    n = len(predicted)
    missing = np.full(n, -1, dtype=np.int64)
    columns: dict[str, Any] = {
        "file": pd.array([pd.NA] * n if files is None else list(files), dtype="string"),
        "true": pd.Categorical.from_codes(missing if true is None else true, categories=list(classes)),
        "predicted": pd.Categorical.from_codes(predicted, categories=list(classes)),
        "confidence": confidence,
        "correct": (
            pd.array([pd.NA] * n, dtype="boolean") if true is None else pd.array(true == predicted, dtype="boolean")
        ),
    }
    for layer, codes, cats in zip(layers, labels, names, strict=True):
        columns[layer] = pd.Categorical.from_codes(codes, categories=list(cats))
    columns["path"] = _path_ids(labels, [len(cats) for cats in names])
    agreeing = sum((dom[codes] == predicted).astype(np.int64) for codes, dom in zip(labels, dominant, strict=True))
    columns["layers_agreeing"] = np.asarray(agreeing, dtype=np.int64)
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="image"))


def _path_ids(labels: Sequence[np.ndarray], n_clusters: Sequence[int]) -> list[str]:
    """Join 1-based cluster numbers per image: labels ``[[0, 1], [2, 0]]`` → ``["c1-c3", "c2-c1"]``."""
    # Format each (layer, cluster) once, then join per image: far faster than per-image f-strings.
    parts = [
        np.array([f"c{c + 1}" for c in range(k)], dtype=object)[codes]
        for codes, k in zip(labels, n_clusters, strict=True)
    ]
    return ["-".join(row) for row in zip(*parts, strict=True)]


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
    """

    n_images: int
    n_distinct: int
    complexity: float
    weighted_purity: float | None
    decision_alignment: float
    top_paths: pd.DataFrame

    def __repr__(self) -> str:
        purity = "n/a (no labels)" if self.weighted_purity is None else f"{self.weighted_purity:.3f}"
        most = self.top_paths[self.top_paths["rank"] == 1]
        lines = [
            f"PathStatistics: {self.n_images} images on {self.n_distinct} distinct paths "
            f"(complexity {self.complexity:.3f})",
            f"  weighted purity     {purity}",
            f"  decision alignment  {self.decision_alignment:.3f}",
            "  most common path per class:",
        ]
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
            ``decision_alignment`` and ``top_paths``; the latter maps ``class_names`` (all
            categories) and each column name to a list.
        """
        top = self.top_paths
        return {
            "n_images": int(self.n_images),
            "n_distinct": int(self.n_distinct),
            "complexity": float(self.complexity),
            "weighted_purity": None if self.weighted_purity is None else float(self.weighted_purity),
            "decision_alignment": float(self.decision_alignment),
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
        )


def path_statistics(paths: pd.DataFrame, *, top: int = 5) -> PathStatistics:
    """Summarise how images travel through the per-layer clusters.

    Parameters
    ----------
    paths : DataFrame
        As returned by :func:`build_paths`; needs the columns ``"true"``, ``"predicted"`` (both
        Categorical over the same class names) and ``"path"``, and at least one row.
    top : int, default=5
        Number of most common paths kept per class in ``top_paths``; at least 1.

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
    true_codes, pred_codes, class_names, path_ids = _validate_statistics_inputs(paths, top)
    return _compute_statistics(true_codes, pred_codes, class_names, path_ids, top)


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
    bad = [p for p in pd.unique(path_ids) if not (isinstance(p, str) and _PATH_PATTERN.fullmatch(p))]
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
        purity = float(np.mean(_majority(groups, true_codes)[groups] == true_codes))
    alignment = float(np.mean(_majority(groups, pred_codes)[groups] == pred_codes))
    by_class = pred_codes if true_codes is None else true_codes
    return PathStatistics(
        n_images=n,
        n_distinct=n_distinct,
        complexity=n_distinct / n,
        weighted_purity=purity,
        decision_alignment=alignment,
        top_paths=_top_paths(groups, np.asarray(uniques, dtype=object), by_class, class_names, top),
    )


def _majority(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Most frequent label of each group ``0 .. groups.max()``; ties go to the lowest label.

    >>> _majority(np.array([0, 0, 1, 1, 1]), np.array([2, 1, 0, 1, 1])).tolist()
    [1, 1]
    """
    pairs, counts = np.unique(np.stack([groups, labels]), axis=1, return_counts=True)
    # Sort by group, then count descending, then label ascending; the first row of each group wins.
    order = np.lexsort((pairs[1], -counts, pairs[0]))
    g, lab = pairs[0][order], pairs[1][order]
    first = np.r_[True, g[1:] != g[:-1]]
    out = np.empty(int(groups.max()) + 1, dtype=np.int64)
    out[g[first]] = lab[first]
    return out


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
