"""A progress bar for long passes (how far, how fast, how long is left), drawn by tqdm.

In a Jupyter kernel with ipywidgets the bar is a widget; in a kernel without them, tqdm's text bar in the
output cell (on stdout, so that the notebook does not show it as an error); elsewhere the text bar on stderr,
redrawn in place on a terminal, and written as whole lines at most every
:data:`LOG_SECONDS` to a log file (CI, nohup), so a long pass leaves a few dozen lines, not thousands.
"""

from __future__ import annotations

import sys
import warnings
from importlib.util import find_spec
from typing import Any, TextIO

__all__ = ["LOG_SECONDS", "Progress", "in_kernel"]

# A terminal or a notebook is redrawn at most this often (seconds); a log gets a new line at most this often.
REDRAW_SECONDS = 0.2
LOG_SECONDS = 15.0
_WITH_TOTAL = "{l_bar}{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_noinv_fmt}]"
_WITHOUT_TOTAL = "{n_fmt}{unit} [{elapsed}, {rate_noinv_fmt}]"


class Progress:
    """A bar of ``done/total unit [elapsed<left, rate]`` that grows as work is added.

    Parameters
    ----------
    total : int or None
        Items expected; None when unknown (no bar and no time left then).
    unit : str
        What is counted, singular (``"image"``).
    stream : file, optional
        Where to write the text bar; default ``sys.stderr`` (in a Jupyter kernel: a widget with ipywidgets,
        else ``sys.stdout``).
    """

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.unit = unit
        plural = unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")
        options: dict[str, Any] = {
            "total": total,
            "unit": " " + plural,
            "bar_format": _WITH_TOTAL if total else _WITHOUT_TOTAL,
            "mininterval": REDRAW_SECONDS,
        }
        if stream is None and in_kernel() and find_spec("ipywidgets") is not None:
            with warnings.catch_warnings():
                # An ipywidgets too old for tqdm would still warn: the text bar below is then drawn instead.
                warnings.filterwarnings("ignore", message="IProgress not found")
                from tqdm.auto import tqdm
            self.bar = tqdm(**options)
            return
        from tqdm import tqdm

        # In a kernel without widgets the text bar goes to the output cell's normal stream: a notebook marks
        # whatever reaches stderr as an error, and a progress bar is none.
        target = stream if stream is not None else (sys.stdout if in_kernel() else sys.stderr)
        isatty = getattr(target, "isatty", None)
        # A notebook's output cell honours "\r" although its stream is no terminal.
        if not (isatty and isatty()) and not in_kernel():
            target = _Lines(target)
            # The monitor thread would redraw a stalled bar every maxinterval: no more often than a log line.
            options.update(mininterval=LOG_SECONDS, maxinterval=LOG_SECONDS, ascii=True)
        self.bar = tqdm(file=target, **options)

    @property
    def done(self) -> int:
        """Items counted so far."""
        return int(self.bar.n)

    def add(self, count: int) -> None:
        """Count ``count`` more items done; the bar is redrawn when it is time to."""
        self.bar.update(count)

    def close(self) -> None:
        """Draw the final bar (the whole count, the mean rate and the time taken)."""
        self.bar.close()


def in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _Lines:
    """A log stream for tqdm: each redraw (``"\\r" + bar``) becomes one whole line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.lstrip("\r").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()
