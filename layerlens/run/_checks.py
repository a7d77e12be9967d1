"""Checks of analyze's options that can fail before the forward pass, and of k against the layers after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerlens._util.validation import check_seed
from layerlens.exceptions import InvalidInputError
from layerlens.options import K_RULES, PROJECTIONS

__all__ = ['check_k_per_layer', 'check_options']


def check_options(n_clusters: Any, projection: Any, seed: Any, stability: Any) -> None:
    """Cheap checks that fail before the forward pass rather than after it."""
    rules = n_clusters.values() if isinstance(n_clusters, Mapping) else [n_clusters]
    for rule in rules:
        _check_k_rule(rule)
    if isinstance(n_clusters, Mapping) and not all(isinstance(name, str) for name in n_clusters):
        raise InvalidInputError(
            f"n_clusters: expected layer names as the keys of the dict; received {list(n_clusters)}."
        )
    if projection not in PROJECTIONS:
        raise InvalidInputError(f"projection: expected one of {PROJECTIONS}; received {projection!r}.")
    check_seed(seed)
    if not isinstance(stability, (bool, np.bool_)):
        raise InvalidInputError(f"stability: expected True or False; received {stability!r}.")


def _check_k_rule(rule: Any) -> None:
    valid = (isinstance(rule, str) and rule in K_RULES) or (
        isinstance(rule, (int, np.integer)) and not isinstance(rule, bool) and rule >= 2
    )
    if not valid:
        raise InvalidInputError(
            f"n_clusters: expected 'auto', 'silhouette', an integer >= 2, or a dict of them by layer name; "
            f"received {rule!r}."
        )


def check_k_per_layer(
    n_clusters: int | str | Mapping[str, int | str],
    layer_names: list[str],
    n_fit: int,
    paths: Sequence[Sequence[str]] | None = None,
) -> int | str | dict[str, int | str]:
    """``n_clusters`` as stored in the settings, checked against the analysed layers and the fit images.

    A dict may name a layer by its full path or by its short name (see :attr:`Analysis.layer_names`); the
    settings keep full paths.
    """
    from layerlens.model import short_layer_names

    shorts = short_layer_names(paths if paths is not None else [(name,) for name in layer_names])
    full = dict(zip(shorts, layer_names)) | {name: name for name in layer_names}
    if isinstance(n_clusters, Mapping):
        rules = {full.get(name, name): rule for name, rule in n_clusters.items()}
    else:
        rules = {name: n_clusters for name in layer_names}
    unknown = sorted(set(rules) - set(layer_names))
    if unknown:
        raise InvalidInputError(
            f"n_clusters: expected layer names among the analysed layers {layer_names}; received unknown {unknown}."
        )
    for rule in rules.values():
        if not isinstance(rule, str) and rule >= n_fit:
            raise InvalidInputError(f"n_clusters: expected fewer clusters than images ({n_fit}); received {rule}.")
    if isinstance(n_clusters, Mapping):
        return {name: (rule if isinstance(rule, str) else int(rule)) for name, rule in rules.items()}
    return n_clusters if isinstance(n_clusters, str) else int(n_clusters)
