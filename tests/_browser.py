"""Debian's chromium driven by playwright, as every browser test launches it (never playwright's own download)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch(playwright):
    """Chromium from the system (``make test`` installs it with apt-get when it is missing)."""
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: run 'make chromium' (apt-get install chromium).")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
