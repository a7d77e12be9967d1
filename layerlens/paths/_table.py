"""Paths of images through the per-layer clusters: the per-image table.

An image's *path* is the sequence of clusters it falls into, layer after layer. Images
that travel together are processed alike by the network; a path that gathers images
of several true classes shows where the network fails to keep them apart. The measures
that summarise paths are :mod:`layerlens.paths._statistics`'.

This module works on arrays and data frames only (no TensorFlow, no Keras), so paths
can be rebuilt from a stored run anywhere.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from layerlens._util.validation import check_label_vector, check_names
from layerlens.exceptions import InvalidInputError, InvalidTypeError

__all__ = [
    "FIXED_COLUMNS",
    "PATH_PATTERN",
    "build_paths",
    "check_cluster_classes",
    "layer_columns",
    "path_id_strings",
    "path_ids",
    "probe_rows",
]

#: Columns of :func:`build_paths` that are not layers; no layer may be named like one.
FIXED_COLUMNS: tuple[str, ...] = (
    "file", "true", "predicted", "confidence", "correct", "path", "layers_agreeing",
    # added by an analysis (see layerlens.scores._doubt)
    "doubt", "disagreement", "unfamiliarity",
)  # fmt: skip


def layer_columns(paths: pd.DataFrame) -> list[str]:
    """The layer columns of a paths table, in order: its Categorical columns other than the fixed ones."""
    return [str(c) for c in paths.columns if c not in FIXED_COLUMNS and isinstance(paths[c].dtype, pd.CategoricalDtype)]


def probe_rows(paths: pd.DataFrame) -> np.ndarray:
    """Which rows of a paths table are probes (its boolean ``probe`` column); none when it has no such column.

    A layer may be named ``"probe"`` too; its column holds clusters, not booleans, and marks no row.
    """
    column = paths.get("probe")
    if column is None or not pd.api.types.is_bool_dtype(column.dtype):
        return np.zeros(len(paths), dtype=bool)
    return column.to_numpy(dtype=bool)


#: A path id: 1-based cluster numbers joined by "-", e.g. ``"c1-c3-c2"``.
PATH_PATTERN = re.compile(r"c[1-9][0-9]*(?:-c[1-9][0-9]*)*")

_ROUNDING = 1e-5


def _renamed_keyword(old: str, new: str) -> Callable:
    """Accept the keyword ``old`` for ``new`` for one release, with a DeprecationWarning."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise InvalidTypeError(f"{new}: expected it once; received both {old}= and {new}=.")
                warnings.warn(
                    f"{func.__name__}: {old}= is renamed {new}= (the class leading each cluster, -1 for a "
                    "mixed one); the old name will be removed in the next release.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


@_renamed_keyword("cluster_dominant", "cluster_classes")
def build_paths(
    cluster_labels: Sequence[np.ndarray],
    cluster_names: Sequence[Sequence[str]],
    cluster_classes: Sequence[np.ndarray],
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
    cluster_classes : sequence of L ndarrays of shape (k_l,), int
        The class each cluster of each layer is led by (``LayerClusters.leading``), in ``0 .. K - 1``,
        or -1 for a mixed cluster, which no class leads. (Called ``cluster_dominant`` before clusters
        could be mixed; that keyword still works, with a ``DeprecationWarning``.)
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
        - ``"layers_agreeing"``: int64, the number of layers in which the image sits in a cluster led
          by the image's predicted class; a mixed cluster never agrees. A confident prediction whose
          image sat among other classes' images in most layers (few layers agreeing) is worth a
          second look; a prediction the layers agreed on early was an easy one.

    Raises
    ------
    InvalidInputError
        If a length or shape disagrees (the message names the argument and the expected length), a
        label or cluster class is out of range, names repeat, or a layer name clashes with a fixed
        column.

    Examples
    --------
    >>> import numpy as np
    >>> df = build_paths(
    ...     [np.array([0, 0, 1]), np.array([1, 0, 0])],
    ...     [["c1 · 90% a", "c2 · mixed"], ["c1 · 80% b", "c2 · 95% a"]],
    ...     [np.array([0, -1]), np.array([1, 0])],
    ...     ["conv", "dense"],
    ...     predicted=np.array([0, 0, 1]),
    ...     confidence=np.array([0.9, 0.6, 0.8]),
    ...     class_names=["a", "b"],
    ...     true=np.array([0, 1, 1]),
    ... )
    >>> df["path"].tolist()
    ['c1-c2', 'c1-c1', 'c2-c1']
    >>> df["layers_agreeing"].tolist()
    [2, 1, 1]
    """
    arrays = _validate_build_inputs(
        cluster_labels,
        cluster_names,
        cluster_classes,
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
    cluster_classes: Sequence[np.ndarray],
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
        ("cluster_classes", cluster_classes),
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
    leading = tuple(
        check_cluster_classes(
            cluster_classes[i], f"cluster_classes[{i}]", n_clusters=len(names[i]), n_classes=len(classes)
        )
        for i in range(n_layers)
    )
    return labels, names, leading, layers, pred, conf, classes, true_arr, files


def check_cluster_classes(value: Any, name: str, *, n_clusters: int, n_classes: int) -> np.ndarray:
    """Return the class leading each cluster as int64 of shape (n_clusters,), or raise unless each is in -1..K-1.

    Shared with the figures, which take the same per-layer array.
    """
    arr = check_label_vector(value, name, length=n_clusters, n_classes=None)
    if arr.min() < -1 or arr.max() >= n_classes:
        raise InvalidInputError(
            f"{name}: expected class indices in -1..{n_classes - 1} (one per cluster, -1 for a mixed cluster); "
            f"received range {arr.min()}..{arr.max()}."
        )
    return arr


def _compute_paths(
    labels: tuple[np.ndarray, ...],
    names: tuple[tuple[str, ...], ...],
    leading: tuple[np.ndarray, ...],
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
    columns["path"] = path_id_strings(labels, [len(cats) for cats in names])
    # A mixed cluster's -1 equals no prediction, so it never agrees.
    agreeing = sum((led[codes] == predicted).astype(np.int64) for codes, led in zip(labels, leading, strict=True))
    columns["layers_agreeing"] = np.asarray(agreeing, dtype=np.int64)
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="image"))


def path_id_strings(labels: Sequence[np.ndarray], n_clusters: Sequence[int]) -> list[str]:
    """Join 1-based cluster numbers per image: labels ``[[0, 1], [2, 0]]`` → ``["c1-c3", "c2-c1"]``."""
    # Format each (layer, cluster) once, then join per image: far faster than per-image f-strings.
    parts = [
        np.array([f"c{c + 1}" for c in range(k)], dtype=object)[codes]
        for codes, k in zip(labels, n_clusters, strict=True)
    ]
    return ["-".join(row) for row in zip(*parts, strict=True)]


def path_ids(clusters: Sequence[np.ndarray], n_clusters: Sequence[int]) -> np.ndarray:
    """Path id (``"c1-c3-c2"``) of every image from its cluster in each layer, as in the paths table, as objects."""
    return np.asarray(path_id_strings(clusters, n_clusters), dtype=object)
