"""One thing an analysis found, said in a sentence and backed by a number: :class:`Finding`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Finding"]

#: The kinds of finding, in the order the documentation describes them.
KINDS = (
    "separation",
    "confusion",
    "mistake_path",
    "mixed_cluster",
    "confident_mistakes",
    "calibration",
    "weak_group",
    "confounder",
    "probes",
    "label_issues",
    "late_decision",
)

#: The keys a finding's ``where`` may hold, and what each names.
WHERE_KEYS = {
    "layer": "an analysed layer, by the short name tables and figures use",
    "cluster": "a cluster of that layer, by its index in the assignments (from 0; tables and texts say c1 for 0)",
    "layers": "several analysed layers, by their short names",
    "path": "a path through the layers' clusters, as in the paths table (\"c1-c3-c2\")",
    "true": "a true class, by name",
    "predicted": "a predicted class, by name",
    "column": "a metadata column or an image property",
    "group": "a value (or a range, for numbers) of that column",
    "images": "positions of images in the analysed set, most telling first",
    "probes": "positions of probes among the probes, most telling first",
}


@dataclass(frozen=True)
class Finding:
    """One thing the analysis found, in one plain sentence, with the number that backs it.

    Attributes
    ----------
    kind : str
        What sort of finding it is, one of :data:`KINDS`.
    text : str
        One plain sentence that says it, with its numbers and their 95% intervals.
    value : float
        The number the finding rests on (a share, an accuracy, a calibration error, a mutual
        information); the text says which.
    interval : (float, float) or None
        95% interval of ``value`` when it has one.
    threshold : float
        The bound ``value`` had to pass for the finding to be said (each kind's rule in
        :mod:`layerlens.findings`).
    where : dict
        What the finding points at, by the keys of :data:`WHERE_KEYS` (a layer, a cluster, a class
        pair, a metadata group, a list of images, ...).
    effect : float
        The size of the effect, in [0, 1]: how far the findings are ordered, most telling first.
    """

    kind: str
    text: str
    value: float
    interval: tuple[float, float] | None
    threshold: float
    where: dict[str, Any] = field(default_factory=dict)
    effect: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values (:meth:`from_dict` reads it back)."""
        return {
            "kind": self.kind,
            "text": self.text,
            "value": _plain(self.value),
            "interval": None if self.interval is None else [_plain(v) for v in self.interval],
            "threshold": _plain(self.threshold),
            "where": {key: _jsonable(value) for key, value in self.where.items()},
            "effect": _plain(self.effect),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`to_dict` wrote."""
        interval = data.get("interval")
        return cls(
            kind=str(data["kind"]),
            text=str(data["text"]),
            value=_number(data["value"]),
            interval=None if interval is None else (_number(interval[0]), _number(interval[1])),
            threshold=_number(data["threshold"]),
            where=dict(data.get("where") or {}),
            effect=_number(data.get("effect", 0.0)),
        )

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Finding {self.kind}: {self.text}>"


def _plain(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, Sequence):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
