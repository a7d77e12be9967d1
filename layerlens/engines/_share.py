"""The driver's share of a distributed pass: units from the end of the list, run here while the workers start.

A worker first starts a process, imports TensorFlow and loads the model: seconds before its first unit. The
driver already holds the model, its pass traced on the head batch. So it runs units too, the workers' code on
the workers' plan and batch boundaries (the answers do not change), one at a time from the end of the list
while the workers take theirs from the front, in order. It takes at most one worker's share of the units
(``1 / (workers + 1)`` of them) and never one the workers are about to reach; when the workers finish a unit
the driver is running, the driver drops it between two batches. Every finished unit, whoever ran it, goes
through one :class:`Ledger`, which writes it to the work folder once and says when every unit is there.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from layerlens.engines._work import WorkFolder

__all__ = ["Board", "DriverShare", "Ledger"]


class Board:
    """The units the driver has finished, for the workers to skip (run as a Ray actor of no CPU)."""

    def __init__(self) -> None:
        self._units: set[int] = set()

    def add(self, unit: int) -> None:
        """``unit`` is finished."""
        self._units.add(unit)

    def has(self, unit: int) -> bool:
        """Whether ``unit`` is finished."""
        return unit in self._units


class Ledger:
    """The units of a pass finished so far, by the workers or the driver; each written to the folder once.

    Parameters
    ----------
    work : WorkFolder
        Where finished units are kept.
    units : sequence of int
        The units this call runs.
    bar : Progress or None
        Advanced by the images of each unit kept.
    board : ray.actor.ActorHandle or None
        The :class:`Board` actor told of each unit the driver keeps.
    """

    def __init__(self, work: WorkFolder, units: Sequence[int], bar: Any, board: Any = None) -> None:
        self._work, self._bar, self._board = work, bar, board
        self._wanted = set(units)
        self._finished: set[int] = set()
        self._lock = threading.Lock()

    def keep(self, unit: int, payload: bytes, count: int, *, by_driver: bool = False) -> bool:
        """Write a finished unit unless it is already there; whether it was written."""
        with self._lock:  # held while writing: a unit counts as finished only once its file is whole
            if unit in self._finished:
                return False
            self._work.write(unit, payload)
            self._finished.add(unit)
            if self._bar is not None:
                self._bar.add(count)
        if by_driver and self._board is not None:
            self._board.add.remote(unit)
        return True

    def has(self, unit: int) -> bool:
        """Whether ``unit`` is finished."""
        return unit in self._finished

    def complete(self) -> bool:
        """Whether every unit of the call is finished."""
        return self._wanted <= self._finished


#: Units each worker may hold beyond the last it delivered (Ray Data keeps two calls in flight per actor).
AHEAD = 2


class _Dropped(Exception):
    """Raised between two batches of the driver's unit once it is no longer needed."""


class DriverShare:
    """The driver running units of the pass in a thread of its own, beside the workers.

    Parameters
    ----------
    worker : PassWorker
        The workers' code, holding the driver's model (:meth:`PassWorker.beside`).
    units : sequence of int
        The units this call runs.
    workers : int
        How many workers take units from the front (and how many each may be running).
    ledger : Ledger
        Where finished units go.
    """

    def __init__(self, worker: Any, units: Sequence[int], workers: int, ledger: Ledger) -> None:
        self._worker, self._ledger = worker, ledger
        self._left = sorted(units)
        self._ahead = AHEAD * workers
        self._reached = -1
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        #: Units the driver ran and kept.
        self.ran = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="layerlens-driver-share", daemon=True)

    def start(self) -> DriverShare:
        """Start running units; returns itself."""
        if self._left:
            self._thread.start()
        return self

    def reached(self, unit: int) -> None:
        """The workers delivered ``unit``: the units up to it and those they are running are theirs."""
        with self._lock:
            self._reached = max(self._reached, unit)

    def stop(self) -> None:
        """Drop the unit being run (at its next batch) and wait for the thread to end."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def raise_error(self) -> None:
        """Raise what stopped the driver's units, if anything did."""
        if self.error is not None:
            raise self.error

    def _next(self) -> int | None:
        with self._lock:
            while self._left and not self._stopped.is_set():
                unit = self._left.pop()
                if unit <= self._reached + self._ahead:
                    return None  # the workers are there or about to be
                if not self._ledger.has(unit):
                    return unit
            return None

    def _loop(self) -> None:
        while (unit := self._next()) is not None:

            def check(*_: Any, unit: int = unit) -> None:
                if self._stopped.is_set() or self._ledger.has(unit):
                    raise _Dropped

            try:
                payload, count = self._worker.run_unit(unit, keep=check)
            except _Dropped:
                return
            except BaseException as error:  # noqa: BLE001  (raised in the driver's main thread)
                self.error = error
                return
            if self._ledger.keep(unit, payload, count, by_driver=True):
                self.ran += 1
