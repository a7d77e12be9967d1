"""The Jinja templates and static files of the site, shipped with the package."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["environment", "plotly_js", "script_json", "static_files", "templates_folder"]

# In an installed copy the templates sit inside the package; in a source checkout, beside it.
_PACKAGE = Path(__file__).resolve().parent.parent


def templates_folder() -> Path:
    """The folder holding ``base.html``, the page templates and ``static/``."""
    for candidate in (_PACKAGE / "site_templates", _PACKAGE.parent / "site_templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(
        f"layerlens' site templates are missing (looked in {_PACKAGE / 'site_templates'} and "
        f"{_PACKAGE.parent / 'site_templates'}); reinstall layerlens."
    )


def static_files() -> list[Path]:
    """The CSS and JavaScript every page shares, in a stable order."""
    return sorted((templates_folder() / "static").iterdir())


def plotly_js() -> Path:
    """The minified plotly.js that ships inside the installed plotly package (no CDN)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js is missing from the plotly package ({path}); reinstall plotly.")
    return path


# Characters that could end a <script> element or start an HTML comment or entity inside one; a JSON
# string may hold them as \u escapes, which read back the same.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})  # fmt: skip


def script_json(value: Any) -> Markup:
    """``value`` as JSON that is safe inside a ``<script>`` element and in a ``.js`` file.

    Already encoded JSON (a ``str`` from :func:`plotly.io.to_json`) is made safe as it is.
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, allow_nan=False,
                                                           separators=(",", ":"))  # fmt: skip
    return Markup(text.translate(_SCRIPT_SAFE))  # noqa: S704 - made safe by the translation above


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment: HTML escaping on, a missing value an error, templates from :func:`templates_folder`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_folder()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["script_json"] = script_json
    env.filters["percent"] = percent
    env.filters["number"] = number
    return env


def percent(value: float | None, digits: int = 1) -> str:
    """``0.9134`` as ``"91.3%"``; a missing or undefined value as an en dash."""
    if value is None or value != value:
        return "–"
    return f"{100 * value:.{digits}f}%"


def number(value: float | None, digits: int = 3) -> str:
    """A score with ``digits`` decimals; a missing or undefined value as an en dash."""
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}"
