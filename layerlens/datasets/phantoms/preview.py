"""Labelled preview grid of the phantoms, and the ``python -m layerlens.datasets.phantoms`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from layerlens._util.validation import check_int
from layerlens.datasets.phantoms._render import CLASS_NAMES, render_phantoms

__all__ = ["main", "save_preview"]


def save_preview(path: str | Path, *, per_class: int = 6, size: int = 64, seed: int = 0) -> Path:
    """Save a labelled grid of phantoms, one row per class, with lesion outlines.

    Parameters
    ----------
    path : str or Path
        PNG file to write; its folder is created if missing.
    per_class : int, default=6
        Images per row, at least 1.
    size : int, default=64
        Height and width of each phantom, at least 32.
    seed : int, default=0
        Seed of the phantoms, as in :func:`render_phantoms`.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InvalidInputError
        If ``per_class``, ``size`` or ``seed`` is out of range.
    """
    check_int(per_class, "per_class", minimum=1)
    # Use the Agg canvas directly instead of pyplot, so saving a preview never
    # switches the backend of a caller's interactive matplotlib session.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Render at least two per class: render_phantoms needs eight images.
    phantoms = render_phantoms(len(CLASS_NAMES) * max(per_class, 2), size=size, seed=seed)
    fig = Figure(figsize=(1.6 * per_class, 1.75 * len(CLASS_NAMES)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(CLASS_NAMES), per_class, squeeze=False)
    for label, row in enumerate(axes):
        for ax, i in zip(row, np.flatnonzero(phantoms.labels == label)):
            ax.imshow(phantoms.images[i, ..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if phantoms.masks[i].any():
                ax.contour(phantoms.masks[i], levels=[0.5], colors="#ff3b30", linewidths=0.6, alpha=0.8)
            ax.set_title(CLASS_NAMES[label], fontsize=8)
            ax.set_axis_off()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m layerlens.datasets.phantoms --preview grid.png``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        Exit status, 0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="python -m layerlens.datasets.phantoms",
        description="Draw a labelled grid of brain MRI phantoms.",
    )
    parser.add_argument("--preview", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--per-class", type=int, default=6, help="images per class (default 6)")
    parser.add_argument("--size", type=int, default=64, help="image height and width (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    out = save_preview(args.preview, per_class=args.per_class, size=args.size, seed=args.seed)
    print(f"wrote {out}")
    return 0
