"""``python -m layerlens``: the ``layerlens`` command line."""

from layerlens.app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
