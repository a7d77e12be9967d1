"""Figures as image files (PNG, SVG, PDF) for a report, all drawn by one headless Chrome or Chromium.

kaleido renders plotly figures in a browser it starts itself; starting one takes about 3 s, drawing a
figure in it a few tenths of a second, so a run's figures share one browser. The browser is driven from an
event loop of its own in a thread of its own, which works the same in a script and in a Jupyter kernel
(whose thread already runs a loop that must not be blocked or re-entered). Nothing is ever downloaded:
the browser is an installed one, MathJax is left out and plotly.js comes from the plotly package.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlens._util.atomic import write_atomically
from layerlens.exceptions import InvalidInputError, InvalidTypeError, MissingDependencyError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["EXPORT_FORMATS", "export_figures"]

#: The file formats :func:`export_figures` writes.
EXPORT_FORMATS = ("png", "svg", "pdf")
#: Browsers looked for on ``PATH`` when ``BROWSER_PATH`` is not set, after Debian's ``/usr/bin/chromium``.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: Size in CSS pixels of a figure whose layout sets none: about a page's width at a readable font size.
_WIDTH, _HEIGHT = 900, 600
#: Seconds the browser may take to start before the export gives up.
_START_SECONDS = 60.0
#: Figures drawn in the browser's tab between two reloads of it (kaleido reloads after every figure).
_RELOAD_EVERY = 25
_STEM = re.compile(r"[a-z0-9][a-z0-9_-]*")
_INSTALL = (
    "install Chromium or Google Chrome (Debian/Ubuntu: apt-get install chromium), or point the environment "
    "variable BROWSER_PATH at an installed one"
)


def export_figures(
    figures: Mapping[str, go.Figure | Callable[[], go.Figure]],
    folder: str | Path,
    formats: Sequence[str] = ("png", "svg"),
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
) -> list[Path]:
    """Write each figure into ``folder`` once per format, drawn by one installed Chrome or Chromium.

    Every file is written whole or not at all (into a hidden temporary file beside it, then renamed), so an
    interrupted export leaves the earlier file or none, never half of one.

    Parameters
    ----------
    figures : mapping of str to plotly Figure or to a function that makes one
        The file name of each figure without its extension: lower-case ASCII letters, digits, ``-`` and
        ``_`` (e.g. ``"01-paths"``), as LaTeX's ``\\includegraphics`` and Word take them. A function is called
        only once the formats and the browser are known to be good, while the browser draws the figure
        before it.
    folder : str or Path
        Where to write; made if missing. Other files in it are left alone.
    formats : sequence of str, default=("png", "svg")
        Any of :data:`EXPORT_FORMATS`.
    width, height : int, optional
        Size of every figure in CSS pixels; by default the figure's own layout size, else 900 x 600.
    scale : float, default=2.0
        Pixels per CSS pixel of the PNG files (2 gives a sharp picture at print size); SVG and PDF are
        vector files and take none.

    Returns
    -------
    list of Path
        The files written, figure by figure in the order of ``figures``, each figure's formats in the
        order of ``formats``.

    Raises
    ------
    InvalidInputError
        If a format, a name, the size or the scale is not one that can be written.
    MissingDependencyError
        If no Chrome or Chromium is installed (nothing is downloaded), ``BROWSER_PATH`` names no browser,
        or the browser does not start.
    """
    kinds = _check_formats(formats)
    jobs = _check_figures(figures)
    size = {
        "width": None if width is None else _check_size(width, "width"),
        "height": None if height is None else _check_size(height, "height"),
    }
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 10:
        raise InvalidInputError(f"scale: expected a number in (0, 10]; received {scale!r}.")
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InvalidInputError(f"folder: expected a folder to write the figures into; {str(target)!r} is a file.")
    browser = _find_browser()
    if not jobs:
        return []
    written: list[Path] = []
    pending: deque[tuple[Path, Future]] = deque()
    with _Browser(browser) as draw:
        target.mkdir(parents=True, exist_ok=True)
        try:
            for stem, source in jobs:
                figure = _made(stem, source)
                drawn_meanwhile = len(pending)  # the files of the figures before, drawn while this one was made
                for kind in kinds:
                    pending.append((target / f"{stem}.{kind}", draw(figure, _options(figure, kind, size, scale))))
                for _ in range(drawn_meanwhile):
                    written.append(_write_next(pending))
            while pending:
                written.append(_write_next(pending))
        finally:
            for _, future in pending:
                future.cancel()
    return written


def _write_next(pending: deque[tuple[Path, Future]]) -> Path:
    """Write the oldest drawing of ``pending`` to its file once it is done; its bytes are let go then."""
    path, future = pending.popleft()
    write_atomically(path, future.result())
    return path


def _check_formats(formats: Any) -> tuple[str, ...]:
    """``formats`` as distinct lower-case names of :data:`EXPORT_FORMATS` (one name alone is taken too)."""
    values = [formats] if isinstance(formats, str) else formats
    expected = f"expected one or more of {', '.join(EXPORT_FORMATS)}, e.g. ('png', 'svg')"
    try:
        names = [value.lower().strip().lstrip(".") for value in values]
    except (TypeError, AttributeError):
        raise InvalidInputError(f"formats: {expected}; received {formats!r}.") from None
    unknown = [name for name in names if name not in EXPORT_FORMATS]
    if unknown or not names:
        raise InvalidInputError(f"formats: {expected}; received {formats!r}.")
    return tuple(dict.fromkeys(names))


def _find_browser() -> Path:
    """The Chrome or Chromium to draw with: ``BROWSER_PATH`` when set, else ``/usr/bin/chromium`` or one on ``PATH``.

    Raises
    ------
    MissingDependencyError
        If ``BROWSER_PATH`` names no executable file, or no browser is found; the message says what to install.
    """
    chosen = os.environ.get("BROWSER_PATH")
    if chosen:
        if _executable(chosen):
            return Path(chosen)
        raise MissingDependencyError(
            f"BROWSER_PATH={chosen!r} is not an executable file; figures are drawn by Chrome or Chromium: {_INSTALL}."
        )
    for candidate in (_DEBIAN_CHROMIUM, *(shutil.which(name) for name in BROWSER_NAMES)):
        if candidate and _executable(candidate):
            return Path(candidate)
    raise MissingDependencyError(f"no Chrome or Chromium found to draw the figures with: {_INSTALL}.")


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _check_figures(figures: Any) -> list[tuple[str, Any]]:
    if not isinstance(figures, Mapping):
        raise InvalidTypeError(
            f"figures: expected a mapping of file names to plotly figures; received {type(figures).__name__}."
        )
    for stem, source in figures.items():
        if not isinstance(stem, str) or _STEM.fullmatch(stem) is None or len(stem) > 200:
            raise InvalidInputError(
                "figures: expected file names of lower-case letters, digits, '-' and '_' without an extension "
                f"(e.g. '01-paths'); received {stem!r}."
            )
        _made(stem, source, call=False)
    return list(figures.items())


def _made(stem: str, source: Any, *, call: bool = True) -> Any:
    """The figure ``source`` is, or the one it makes when called (with ``call``; else ``source`` as it is)."""
    if hasattr(source, "to_dict"):
        return source
    if callable(source):
        if not call:
            return source
        made = source()
        if hasattr(made, "to_dict"):
            return made
        source = made
    raise InvalidTypeError(
        f"figures: expected plotly figures or functions that make one; {stem!r} is a {type(source).__name__}."
    )


def _check_size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 10_000:
        raise InvalidInputError(f"{name}: expected a whole number of pixels in 10..10000; received {value!r}.")
    return value


def _options(figure: Any, kind: str, size: Mapping[str, int | None], scale: float) -> dict[str, Any]:
    layout = figure.layout
    return {
        "format": kind,
        "width": size["width"] or layout.width or _WIDTH,
        "height": size["height"] or layout.height or _HEIGHT,
        "scale": scale if kind == "png" else 1,
    }


class _Browser:
    """One headless browser, kept open in a thread of its own while the ``with`` block runs.

    Calling it hands a figure to draw and returns a future of the file's bytes. The figures are drawn one
    after the other in a single tab: a second tab made the start 3 s slower on two cores and the drawing no
    faster.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._kaleido: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="layerlens-figure-export", daemon=True)

    def __enter__(self) -> _Browser:
        self._thread.start()
        if not self._started.wait(_START_SECONDS):
            self._close()
            raise MissingDependencyError(
                f"the browser {str(self._path)!r} did not start within {_START_SECONDS:.0f} s: {_INSTALL}."
            )
        if self._error is not None:
            self._thread.join()
            # The first sentence only: choreographer goes on to suggest downloading a Chrome.
            reason = self._error.args[0] if self._error.args else ""
            raise MissingDependencyError(
                f"the browser {str(self._path)!r} could not be started ({type(self._error).__name__}: "
                f"{reason}); {_INSTALL}."
            ) from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def __call__(self, figure: Any, options: Mapping[str, Any]) -> Future:
        coroutine = self._kaleido.calc_fig(figure.to_dict(), opts=dict(options))
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _run(self) -> None:
        with suppress(BaseException):  # an error of the start is reported by __enter__
            asyncio.run(self._serve())
        self._started.set()

    async def _serve(self) -> None:
        import kaleido

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            # mathjax=False: kaleido would fetch MathJax from a CDN; no layerlens figure writes TeX.
            async with _fewer_reloads(kaleido.Kaleido)(path=str(self._path), mathjax=False) as browser:
                self._kaleido = browser
                self._started.set()
                await self._stop.wait()
        except BaseException as err:
            self._error = err
            raise

    def _close(self) -> None:
        """End the browser and its thread; the renders still running are cancelled with the browser."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with suppress(RuntimeError):  # the loop closed in between
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_SECONDS)


def _fewer_reloads(kaleido_class: type) -> type:
    """kaleido's browser, its tab reloaded every :data:`_RELOAD_EVERY` figures instead of after each.

    The reload (plotly.js parsed again) took half of the time of a figure, and ``Plotly.toImage`` leaves nothing
    behind in the page: the PNG files came out byte for byte the same. A kaleido without the method this
    replaces keeps its own way.
    """
    if not hasattr(kaleido_class, "_return_kaleido_tab"):
        return kaleido_class

    class FewerReloads(kaleido_class):
        _drawn = 0

        async def _return_kaleido_tab(self, tab: Any) -> None:
            self._drawn += 1
            if self._drawn % _RELOAD_EVERY == 0:
                await super()._return_kaleido_tab(tab)
            else:
                await self.tabs_ready.put(tab)

    return FewerReloads
