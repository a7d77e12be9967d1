"""A progress line for long passes: how far, how fast (items per second) and how long is left."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_BAR_WIDTH = 20
# On a terminal or in a notebook the line is redrawn at most this often; in a log file (CI, nohup) a new
# line is written at most this often, so a long pass leaves a few dozen lines, not thousands.
_REDRAW_SECONDS = 0.2
_LOG_SECONDS = 15.0


class Progress:
    """Reports ``done/total unit · rate unit/s · time left`` on stderr as work is added.

    Parameters
    ----------
    total : int or None
        Items expected; None when unknown (no bar and no time left then).
    unit : str
        What is counted, singular (``"image"``).
    stream : file, optional
        Where to write; default ``sys.stderr``.
    """

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = time.perf_counter()
        self.shown_at = -float("inf")
        self.width = 0
        isatty = getattr(self.stream, "isatty", None)
        # A notebook's output cell honours "\r" although its stream is no terminal.
        self.redraws = bool(isatty and isatty()) or "ipykernel" in sys.modules

    def add(self, count: int) -> None:
        """Count ``count`` more items done and redraw when it is time to."""
        self.done += count
        now = time.perf_counter()
        if now - self.shown_at >= (_REDRAW_SECONDS if self.redraws else _LOG_SECONDS):
            self.shown_at = now
            self._write(self.line(now - self.started), final=False)

    def close(self) -> None:
        """Write the final line (the whole count, the mean rate and the time taken)."""
        self._write(self.line(time.perf_counter() - self.started, final=True), final=True)

    def line(self, elapsed: float, *, final: bool = False) -> str:
        """The progress line after ``elapsed`` seconds."""
        plural = self.unit + ("es" if self.unit.endswith(("ch", "sh", "s", "x")) else "s")
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.done:,}/{self.total:,} {plural}" if self.total else f"{self.done:,} {plural}"]
        parts.append(_rate(rate, plural))
        if final:
            parts.append(f"took {_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"{_duration(max(self.total - self.done, 0) / rate)} left")
        bar = ""
        if self.total:
            filled = round(_BAR_WIDTH * min(self.done / self.total, 1.0))
            bar = "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "] "
        return bar + " · ".join(parts)

    def _write(self, text: str, *, final: bool) -> None:
        if self.redraws:
            # Spaces cover what is left of a longer line drawn before.
            self.stream.write("\r" + text.ljust(self.width) + ("\n" if final else ""))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _rate(rate: float, plural: str) -> str:
    if rate >= 10:
        return f"{rate:,.0f} {plural}/s"
    if rate >= 1:
        return f"{rate:.1f} {plural}/s"
    return f"{1 / rate:.1f} s each" if rate > 0 else f"0 {plural}/s"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 10:
        return f"{minutes} min {seconds:02d} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
