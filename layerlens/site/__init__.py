"""The static site: browse runs, their paths and their misclassified images, offline.

:func:`build_site` turns stored run folders (or :class:`~layerlens.run._analysis.Analysis` objects) into a
folder of HTML pages that works from ``file://`` or any static host: no server, no network, no
TensorFlow needed to build it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.site._notebook import serve_site, show_site
from layerlens.site._target import check_site_target

if TYPE_CHECKING:
    from layerlens.run import Analysis

__all__ = ["build_site", "check_site_target", "serve_site", "show_site"]


def build_site(
    runs: Any,
    out: str | Path = "output_site",
    *,
    progress: bool = True,
    sprite_threshold: int = 5000,
    gallery_page_size: int = 100,
    map_sample: int = 20000,
    thumbnails_per_sprite: int = 256,
    rows_per_chunk: int = 5000,
    webgl_threshold: int = 5000,
) -> Path:
    """Build the website of one or more analyses.

    Parameters
    ----------
    runs : run folder, Analysis, or a sequence of them
        Run folders written by :meth:`Analysis.save` (or ``layerlens analyze``), or analyses in
        memory, in the order the index lists them.
    out : str or Path, default="output_site"
        The site's folder. It must be missing, empty or an earlier layerlens site (it holds a
        ``.layerlens-site`` file): the new site replaces it whole, so any other folder is refused.
    progress : bool, default=True
        Show a progress bar over the pages written.
    sprite_threshold : int, default=5000
        A run with more images than this (probes included) is built as a *big run*: its thumbnails go into
        sprite sheets, every image's data into chunked data scripts that one page, ``sample.html#N``,
        reads for any image; its gallery is paged, its layer maps and the model page's image lists draw
        from a seeded sample, and only its explained and doubtful-but-correct images get pages of their
        own. A run up to this size gets the pages it always had.
    gallery_page_size : int, default=100
        Thumbnails on each page of a big run's gallery (its filters, sorting and CSV export work on every
        page).
    map_sample : int, default=20000
        At most this many points on a big run's layer maps: past it a seeded sample that keeps every
        misclassified image (up to half of them) and every probe (up to a quarter); the page states the
        sample.
    thumbnails_per_sprite : int, default=256
        Thumbnails in each sprite sheet of a big run (a square grid, filled row by row).
    rows_per_chunk : int, default=5000
        Images in each data script of a big run (``data/rows/NNNNN.js``, ``data/gallery/NNNNN.js``).
    webgl_threshold : int, default=5000
        A big run's maps draw their points with WebGL (plotly's ``scattergl``) above this many points.

    Returns
    -------
    Path
        The site's ``index.html``, to open in a browser.

    Raises
    ------
    InvalidInputError
        If ``runs`` is empty, a folder is not a run, ``out`` may not be written, or an option of big runs
        is not a whole number of at least 1 (0 allowed for the thresholds).
    InvalidTypeError
        If an item of ``runs`` is neither a path nor an Analysis.
    RunFormatError
        If a run folder is damaged.

    Notes
    -----
    The site is written to a fresh folder beside ``out`` and moved into place when complete: a
    failure leaves an earlier site as it was. The same runs give a byte-identical site.

    Examples
    --------
    >>> import layerlens as ll
    >>> index = ll.build_site(["runs/mnist", "runs/phantoms"], out="output_site")  # doctest: +SKIP
    """
    from layerlens.site._big import BigRun
    from layerlens.site._build import write_site
    from layerlens.site._target import check_site_target

    options = BigRun(
        sprite_threshold=sprite_threshold,
        gallery_page_size=gallery_page_size,
        map_sample=map_sample,
        thumbnails_per_sprite=thumbnails_per_sprite,
        rows_per_chunk=rows_per_chunk,
        webgl_threshold=webgl_threshold,
    )

    items = _items(runs)
    target = check_site_target(out, runs=[item for item in items if isinstance(item, (str, os.PathLike))])
    analyses, folders = _analyses(items)
    return write_site(analyses, target, folders, progress=progress, options=options)


def _items(runs: Any) -> list[Any]:
    from layerlens.run import Analysis

    items = [runs] if isinstance(runs, (str, os.PathLike, Analysis)) else runs
    if not isinstance(items, Iterable):
        raise InvalidTypeError(
            f"runs: expected a run folder, an Analysis or a list of them; received {type(runs).__name__}."
        )
    items = list(items)
    for position, item in enumerate(items):
        if not isinstance(item, (str, os.PathLike, Analysis)):
            raise InvalidTypeError(
                f"runs[{position}]: expected a run folder (str or Path) or an Analysis; received {type(item).__name__}."
            )
    if not items:
        raise InvalidInputError("runs: expected at least one run folder or Analysis; received none.")
    return items


def _analyses(items: list[Any]) -> tuple[list[Analysis], list[Path | None]]:
    """The analyses of ``items``, loaded from their folders, and each one's folder (None when given in memory)."""
    from layerlens.run import Analysis, load

    analyses, folders = [], []
    for item in items:
        folder = None if isinstance(item, Analysis) else Path(os.fspath(item)).expanduser().resolve()
        analyses.append(item if folder is None else load(item))
        folders.append(folder)
    return analyses, folders
