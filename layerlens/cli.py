"""The ``layerlens`` command line: parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from layerlens._version import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerlens", description="Look inside a trained Keras image classifier.")
    parser.add_argument("--version", action="version", version=f"layerlens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train the example models on the bundled data sets and save them")
    demo.add_argument("--models", default="models", help="folder for the trained .keras files (default: models)")
    demo.add_argument("--only", nargs="+", metavar="NAME", help="train only these models (mnist, phantoms, faces)")
    demo.add_argument("--seed", type=int, default=0, help="seed of splits, weights and training order")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from layerlens.demo import DEMO_MODELS, run_demo

    names = args.only or DEMO_MODELS
    print(f"Training {len(names)} example model(s) on the bundled data sets...", flush=True)
    models = run_demo(args.models, names=names, seed=args.seed, report=lambda m: print(m.summary(), flush=True))
    print(f"Models saved in {models[0].path.parent.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``layerlens`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from layerlens.exceptions import LayerlensError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _demo(args)
    except LayerlensError as err:
        parser.exit(2, f"layerlens {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
