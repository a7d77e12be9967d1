"""The site in a notebook: :func:`show_site` through Jupyter's own file server, :func:`serve_site` through a small one.

Jupyter (JupyterLab and Notebook 7 alike) resolves a relative ``src`` in an output against the
notebook's folder and serves the file from its ``/files/`` route, the site's pages, scripts and
pictures included: no other server is needed. The kernel's working folder is the notebook's, so the
site's path relative to it is that ``src``. Where that route does not exist (VS Code, Colab) or the
site lies outside the notebook's folder, :func:`serve_site` serves it on 127.0.0.1 instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlens.exceptions import InvalidInputError, LayerlensError, MissingDependencyError

if TYPE_CHECKING:
    from IPython.display import IFrame

__all__ = ["serve_site", "show_site"]

# The servers serve_site started, by the folder they serve: running a cell again reuses its server.
_SERVERS: dict[Path, http.server.ThreadingHTTPServer] = {}
_LOCK = threading.Lock()


def show_site(folder: str | os.PathLike[str] = "output_site", *, page: str = "index.html", height: int = 800) -> IFrame:
    """Show a site built by :func:`layerlens.build_site` inside the notebook, served by Jupyter itself.

    Parameters
    ----------
    folder : str or path-like, default="output_site"
        The site's folder (what ``build_site`` wrote: its ``out``); it must lie inside the notebook's
        folder (the kernel's working folder), in no hidden folder, since Jupyter serves only those.
    page : str, default="index.html"
        The page to open, relative to the site's folder (``"runs/<run>/index.html"`` opens a run's).
    height : int, default=800
        Height of the frame in pixels; its width is the output's.

    Returns
    -------
    IPython.display.IFrame
        The frame; a notebook shows it when it is a cell's last value. Its ``src`` is the page's path
        relative to the notebook's folder, which JupyterLab and Notebook 7 resolve to the server's
        ``/files/<notebook's folder>/<path>``: the pages, their scripts and pictures come from there,
        as they would from a static host (the site fetches nothing else).

    Raises
    ------
    MissingDependencyError
        If IPython is not installed.
    LayerlensError
        If this does not run in IPython (a notebook's kernel).
    InvalidInputError
        If the page does not exist, or lies outside the working folder or in a hidden folder.

    Notes
    -----
    This needs a Jupyter server that serves the notebook's folder: JupyterLab, Notebook 7 or classic
    Notebook. VS Code's notebooks and Google Colab have no such route: use :func:`serve_site` there.
    A notebook opened again later shows the frame only after its cell runs again in a trusted notebook
    (Jupyter strips frames from the outputs of untrusted ones).

    Examples
    --------
    >>> import layerlens as ll
    >>> from layerlens.site import show_site
    >>> ll.build_site(analysis, out="output_site")  # doctest: +SKIP
    >>> show_site("output_site")  # doctest: +SKIP
    """
    frame = _iframe_class()
    _, target = _page(folder, page)
    relative = Path(os.path.relpath(target, Path.cwd()))
    if relative.parts[0] == os.pardir:
        raise InvalidInputError(
            f"folder: Jupyter serves only the files under the notebook's folder {str(Path.cwd())!r}, and the "
            f"site is in {str(target.parent)!r}; build it inside that folder, or use serve_site({str(folder)!r})."
        )
    hidden = [part for part in relative.parts if part.startswith(".")]
    if hidden:
        raise InvalidInputError(
            f"folder: Jupyter does not serve hidden folders such as {hidden[0]!r}; build the site elsewhere, or "
            f"use serve_site({str(folder)!r})."
        )
    return frame(urllib.parse.quote(relative.as_posix()), width="100%", height=_height(height))


def serve_site(
    folder: str | os.PathLike[str] = "output_site",
    *,
    page: str = "index.html",
    port: int | None = None,
    height: int = 800,
) -> IFrame:
    """Serve a site built by :func:`layerlens.build_site` on this machine and show it inside the notebook.

    A small HTTP server (Python's :mod:`http.server`) serves the site's folder on 127.0.0.1 in a
    background thread, which ends with the kernel; calling again for the same folder reuses it.
    Works wherever the browser runs on the kernel's machine (Jupyter, JupyterLab, VS Code), and in
    Colab through its port proxy (see Notes).

    Parameters
    ----------
    folder : str or path-like, default="output_site"
        The site's folder (what ``build_site`` wrote: its ``out``).
    page : str, default="index.html"
        The page to open, relative to the site's folder.
    port : int, optional
        The port to listen on; by default a free one. A folder already served keeps its port.
    height : int, default=800
        Height of the frame in pixels; its width is the output's.

    Returns
    -------
    IPython.display.IFrame
        The frame, with ``src`` ``http://127.0.0.1:<port>/<page>``; its ``port`` attribute is the
        server's port.

    Raises
    ------
    MissingDependencyError
        If IPython is not installed.
    LayerlensError
        If this does not run in IPython (a notebook's kernel).
    InvalidInputError
        If the page does not exist, the port is not one, or it is in use.

    Notes
    -----
    The server answers only on 127.0.0.1 (nobody else on the network sees the site) and serves only
    the site's folder. It is meant for a notebook session, not for publishing a site: a static host
    (or opening ``index.html`` from the disk) does that.

    In Google Colab the browser is not on the kernel's machine, so ``127.0.0.1`` points nowhere; Colab
    forwards a kernel's port instead::

        frame = serve_site("output_site")
        from google.colab import output
        output.serve_kernel_port_as_iframe(frame.port, path="/index.html", height=800)

    (or ``output.eval_js(f"google.colab.kernel.proxyPort({frame.port})")`` for the address, to open in
    another tab).
    """
    frame = _iframe_class()
    root, _ = _page(folder, page)
    server = _server(root, port)
    src = f"http://127.0.0.1:{server.server_address[1]}/{urllib.parse.quote(Path(page).as_posix())}"
    shown = frame(src, width="100%", height=_height(height))
    shown.port = server.server_address[1]
    return shown


def _iframe_class() -> Any:
    """IPython's ``IFrame``, once sure this runs in IPython."""
    try:
        import IPython
        from IPython.display import IFrame
    except ImportError as err:
        raise MissingDependencyError(
            "IPython: showing the site in a notebook needs IPython (pip install ipykernel); "
            "outside a notebook, open the site's index.html in a browser."
        ) from err
    if IPython.get_ipython() is None:
        raise LayerlensError(
            "show_site and serve_site show the site in a notebook (IPython); outside one, open the site's "
            "index.html in a browser (or run python -m http.server in its folder)."
        )
    return IFrame


def _page(folder: str | os.PathLike[str], page: str) -> tuple[Path, Path]:
    """The site's folder and the page's file, absolute; an error naming what is missing."""
    if not isinstance(page, str) or not page or Path(page).is_absolute() or os.pardir in Path(page).parts:
        raise InvalidInputError(
            f"page: expected a path inside the site's folder, such as 'index.html'; received {page!r}."
        )
    root = Path(os.fspath(folder)).expanduser().resolve()
    target = root / page
    if not target.is_file():
        what = "a site built by layerlens.build_site" if not (root / "index.html").is_file() else f"the page {page!r}"
        raise InvalidInputError(f"folder: expected {what} in {str(root)!r}; there is no {str(target)!r}.")
    return root, target


def _height(height: int) -> int:
    if isinstance(height, bool) or not isinstance(height, int) or height < 50:
        raise InvalidInputError(f"height: expected a height in pixels of at least 50; received {height!r}.")
    return height


def _server(root: Path, port: int | None) -> http.server.ThreadingHTTPServer:
    """The server of ``root``: the one already running, else a new one on ``port`` (any free one when None)."""
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise InvalidInputError(f"port: expected a port number in 0..65535 or None; received {port!r}.")
    with _LOCK:
        running = _SERVERS.get(root)
        if running is not None and port in (None, 0, running.server_address[1]):
            return running
        handler = functools.partial(_QuietHandler, directory=str(root))
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port or 0), handler)
        except OSError as err:
            raise InvalidInputError(
                f"port: cannot listen on 127.0.0.1:{port} ({err.strerror}); choose another."
            ) from err
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"layerlens site {root.name}", daemon=True).start()
        if running is not None:
            running.shutdown()
            running.server_close()
        _SERVERS[root] = server
        return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site's files without writing a line per request into the notebook's output."""

    def log_message(self, format: str, *args: Any) -> None:
        """Write nothing: the base class writes every request to stderr, which a notebook shows as an error."""
