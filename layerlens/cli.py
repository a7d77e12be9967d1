"""The ``layerlens`` command line: parses arguments and calls the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from layerlens._version import __version__

__all__ = ["main"]


def _k(value: str) -> int | str:
    return value if value == "auto" else int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerlens", description="Look inside a trained Keras image classifier.")
    parser.add_argument("--version", action="version", version=f"layerlens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser("analyze", help="analyse a saved model on a data set and save the run")
    analyze.add_argument("model", help="a .keras model file")
    analyze.add_argument("data", help="phantoms, mnist, digits, faces, or a folder with one sub-folder per class")
    analyze.add_argument("--out", required=True, help="run folder to write")
    analyze.add_argument("--layers", nargs="+", metavar="NAME", help="layers to analyse (default: chosen for you)")
    analyze.add_argument("--n-clusters", type=_k, default="auto", help="clusters per layer, or 'auto' (default)")
    analyze.add_argument("--projection", choices=("pca", "umap"), default="pca", help="2-D map (default: pca)")
    analyze.add_argument("--conv-features", choices=("mean", "mean_max"), default="mean")
    analyze.add_argument("--negative-class", help="the 'no finding' class, for sensitivity and specificity")
    analyze.add_argument(
        "--pixel-scale",
        type=float,
        help="multiply the [0, 1] images by this (default: 255 if the model starts with Rescaling(1/255), else 1)",
    )
    analyze.add_argument("--batch-size", type=int, default=64)
    analyze.add_argument("--seed", type=int, default=0, help="seed of the data split and the analysis")
    analyze.add_argument("--name", help="name of the run (default: the data set's)")
    analyze.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    demo = commands.add_parser("demo", help="train the example models on the bundled data, analyse them, save runs")
    demo.add_argument("--models", default="models", help="folder for the trained .keras files (default: models)")
    demo.add_argument("--runs", default="runs", help="folder for the analysis runs (default: runs)")
    demo.add_argument("--only", nargs="+", metavar="NAME", help="only these models (mnist, phantoms, faces)")
    demo.add_argument("--seed", type=int, default=0, help="seed of splits, weights, training and analysis")
    return parser


def _analyze(args: argparse.Namespace) -> int:
    from layerlens.workflows import analyze_files

    run, analysis = analyze_files(
        args.model,
        args.data,
        args.out,
        seed=args.seed,
        pixel_scale=args.pixel_scale,
        layers=args.layers,
        n_clusters=args.n_clusters,
        projection=args.projection,
        conv_features=args.conv_features,
        negative_class=args.negative_class,
        batch_size=args.batch_size,
        name=args.name,
        progress=not args.no_progress,
    )
    print(analysis)
    print(f"Run saved in {run.resolve()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from layerlens.demo import DEMO_MODELS, run_demo

    names = args.only or DEMO_MODELS
    print(f"Training and analysing {len(names)} example model(s) on the bundled data sets...", flush=True)
    models = run_demo(
        args.models, args.runs, names=names, seed=args.seed, report=lambda m: print(m.summary(), flush=True)
    )
    print(f"Models saved in {models[0].path.parent.resolve()}")
    print(f"Runs saved in {models[0].run.parent.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``layerlens`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from layerlens.exceptions import LayerlensError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _analyze(args) if args.command == "analyze" else _demo(args)
    except LayerlensError as err:
        parser.exit(2, f"layerlens {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
