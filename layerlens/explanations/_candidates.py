"""The images an analysis may explain, kept during its one pass: a bounded buffer of candidates.

Which images get explained is known only after the pass (it depends on the doubt, measured once the
layers are fitted), but a shuffled ``tf.data`` set or a one-shot generator cannot be read a second
time. So the pass keeps the candidates of each kind as they go by: the most confident mistakes (the
ones a user trusts wrongly, explained first), the correct predictions the model was least sure of
(among which the most doubtful are chosen), and the most confident correct image of each class.
Each kind holds a few times what will be explained, and all of them at most ``max_bytes`` of images:
a collapsed model makes most images mistakes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from layerlens.model import detect_head, to_probabilities

__all__ = ["BUFFER_BYTES", "Candidates"]

#: Bytes of images the buffer holds at most (float32 at the model's input size).
BUFFER_BYTES = 256 * 2**20
# Most confident correct images kept per predicted class, to compare the mistakes with.
_TYPICAL_PER_CLASS = 2


@dataclass
class _Kept:
    """A bounded heap of (key, position) with each position's image: the largest keys stay."""

    capacity: int
    heap: list[tuple[float, int]] = field(default_factory=list)
    images: dict[int, np.ndarray] = field(default_factory=dict)

    def offer(self, key: float, position: int, image: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        # Ties keep the earlier image: the position enters the key negated, so a later one ranks lower.
        entry = (key, -position)
        if len(self.heap) < self.capacity:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            _, dropped = heapq.heapreplace(self.heap, entry)
            del self.images[-dropped]
        else:
            return
        self.images[position] = np.array(image, copy=True)


class Candidates:
    """Images worth explaining, gathered batch by batch during the pass.

    Parameters
    ----------
    capacity : int
        How many mistakes, and how many unsure correct images, to keep at most (each); fewer when
        ``max_bytes`` would be exceeded (half of it for the mistakes, a quarter for the others).
    activation : str or None
        The output layer's activation, to read the outputs as probabilities (see
        :func:`~layerlens.model._heads.detect_head`).
    labels : ndarray of shape (N,), optional
        True class of every image by position, when known before the pass.
    label_order : ndarray, optional
        How labels found in the batches become the model's class indices.
    max_bytes : int, default=BUFFER_BYTES
    """

    def __init__(
        self,
        capacity: int,
        activation: str | None,
        *,
        labels: np.ndarray | None = None,
        label_order: np.ndarray | None = None,
        max_bytes: int = BUFFER_BYTES,
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.mistakes = _Kept(0)
        self.unsure = _Kept(0)
        self.typical: dict[int, _Kept] = {}
        self.activation = activation
        self.labels = labels
        self.label_order = label_order
        self.head: str | None = None
        self.bytes_bound = False  # the buffer's bytes, not the capacity asked for, limit the mistakes kept
        self.truncated = False  # some mistake did not fit in the bytes

    def add(self, start: int, x: np.ndarray, outputs: np.ndarray, y: np.ndarray | None) -> None:
        """Offer the images ``start .. start + len(x) - 1`` of the pass, with the model's raw outputs."""
        if self.head is None:
            self.head = detect_head(self.activation, outputs)
            most = max(1, self.max_bytes // max(x[0].nbytes, 1)) if len(x) else 1
            self.bytes_bound = max(1, most // 2) < self.capacity
            self.mistakes = _Kept(min(self.capacity, max(1, most // 2)))
            self.unsure = _Kept(min(self.capacity, max(1, most // 4)))
        probabilities = to_probabilities(outputs, self.head)
        predicted = probabilities.argmax(axis=1)
        confidence = probabilities.max(axis=1).astype(np.float64)
        truth = self._labels(start, len(x), y)
        for j in range(len(x)):
            position = start + j
            if truth is not None and truth[j] != predicted[j]:
                self.truncated |= self.bytes_bound and len(self.mistakes.heap) >= self.mistakes.capacity
                self.mistakes.offer(confidence[j], position, x[j])
                continue
            self.unsure.offer(-confidence[j], position, x[j])
            kept = self.typical.setdefault(int(predicted[j]), _Kept(_TYPICAL_PER_CLASS))
            kept.offer(confidence[j], position, x[j])

    def _labels(self, start: int, n: int, y: np.ndarray | None) -> np.ndarray | None:
        if self.labels is not None:
            return np.asarray(self.labels[start : start + n])
        if y is None:
            return None
        found = np.asarray(y)
        if found.ndim == 2 and found.shape[1] > 1:
            found = found.argmax(axis=1)
        found = found.reshape(len(found)).astype(np.int64)
        return found if self.label_order is None else self.label_order[found]

    def refill(self, found: dict[int, np.ndarray]) -> None:
        """Put ``found`` (images by position) in the place of the images kept: for a pass whose images were
        offered as stand-ins (a distributed pass chooses from the outputs, then reads the chosen images)."""
        for kept in (self.mistakes, self.unsure, *self.typical.values()):
            kept.images = {position: found[position] for position in kept.images if position in found}

    def images(self) -> dict[int, np.ndarray]:
        """Every image kept, by its position in the pass."""
        kept = {**self.unsure.images, **self.mistakes.images}
        for typical in self.typical.values():
            kept.update(typical.images)
        return dict(sorted(kept.items()))
