"""The ``layerlens`` command line: parses and checks arguments, then calls the library.

Every check that needs neither a model nor data runs before anything heavy is imported, so a
mistyped option or a missing file is reported at once, not after TensorFlow's start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from layerlens._version import __version__
from layerlens.app._argtypes import (
    _auto_or_positive_int,
    _count,
    _explain_choice,
    _formats,
    _middle_or_count,
    _n_clusters,
    _non_negative,
    _pixel_scale,
    _positions,
    _positive_int,
    _preprocess,
    _seconds,
    _seed,
    _share,
)
from layerlens.explanations import DEFAULT_METHODS, REGISTRY
from layerlens.options import (
    CONV_FEATURES,
    ENGINES,
    PROJECTIONS,
    SPLITS,
    VOLUME_AXES,
    VOLUME_VIEWS,
)

__all__ = ["main"]

_SHOWN_FILES = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerlens", description="Look inside a trained Keras image classifier.")
    parser.add_argument("--version", action="version", version=f"layerlens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser("analyze", help="analyse a saved model on a data set and save the run")
    analyze.add_argument("model", help="a .keras model file")
    analyze.add_argument(
        "data",
        help="phantoms, mnist, digits, faces, a folder with one sub-folder per class, or (with --labels) a folder "
        "of DICOM patient folders",
    )
    analyze.add_argument("--out", required=True, help="run folder to write")
    analyze.add_argument("--force", action="store_true", help="replace the run already in --out")
    analyze.add_argument(
        "--unsafe",
        action="store_true",
        help="load a model whose Lambda layers run Python code as it loads (refused by default: only for "
        "model files whose source you trust)",
    )
    analyze.add_argument(
        "--class-names",
        nargs="+",
        metavar="NAME",
        help="the classes in the order of the model's outputs (default: the data set's; folders are read in "
        "sorted order, as Keras' image_dataset_from_directory reads them)",
    )
    analyze.add_argument(
        "--split",
        choices=SPLITS,
        help="which images to analyse: all, or one side of a seeded, stratified split (default: test for a "
        "bundled data set, the images its example model never saw; all for a folder)",
    )
    analyze.add_argument(
        "--test-size", type=_share, default=0.25, help="share of the images in the test split (default: 0.25)"
    )
    analyze.add_argument(
        "--labels",
        metavar="CSV",
        help="DATA is a DICOM tree (one folder per patient, one sub-folder per sequence of .dcm slices); this CSV "
        'gives each patient id its label (needs pydicom: pip install "layerlens[dicom]")',
    )
    analyze.add_argument("--sequence", default="FLAIR", help="with --labels: the sequence to read (default: FLAIR)")
    analyze.add_argument(
        "--slices",
        type=_middle_or_count,
        default="middle",
        help="with --labels: 'middle' (default), the slice in the middle of each series, a number of central "
        "slices, or 'volume': the whole series as one volume (the default for a model that takes volumes)",
    )
    analyze.add_argument(
        "--axes",
        type=str.upper,
        choices=sorted("".join(order) for order in itertools.permutations(VOLUME_AXES)),
        help="for a model that takes volumes: the order of its input's spatial axes, D the axial one (default: "
        "DHW; Keras' CT tutorial feeds HWD)",
    )
    analyze.add_argument(
        "--window",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="volumes: the intensity window scaled to [0, 1], in the files' units (Hounsfield units for CT, e.g. "
        "-1000 400); default: each volume's 0.5th to 99.5th percentile",
    )
    analyze.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        metavar=("D", "H", "W"),
        help="volumes: resample to this voxel spacing in mm first (e.g. 2 2 2), then crop or pad to the model's "
        "input; default: resize each volume to the model's input",
    )
    analyze.add_argument(
        "--volume-view",
        choices=VOLUME_VIEWS,
        default="slice",
        help="volumes: the thumbnail of each, its central axial slice (default) or its maximum-intensity "
        "projection (mip, the habit for PET)",
    )
    analyze.add_argument("--layers", nargs="+", metavar="NAME", help="layers to analyse (default: chosen for you)")
    analyze.add_argument(
        "--n-clusters",
        type=_n_clusters,
        default="auto",
        help="clusters per layer: 'auto' (default: as few as keep the paths faithful to the decisions), "
        "'silhouette', or a number",
    )
    analyze.add_argument(
        "--reference",
        metavar="DATA",
        help="the images the model was trained on, to fit the clusters on: a bundled data set (its train "
        "split) or a folder of class sub-folders",
    )
    analyze.add_argument(
        "--probes",
        metavar="DATA",
        help="images of no class to show the model beside DATA (kept out of every metric): a bundled data set "
        "(its test split, brought to the model's image shape) or a folder of images (read whole, no labels)",
    )
    analyze.add_argument(
        "--stability", action="store_true", help="also measure how paths hold under noise (runs the model 3x)"
    )
    analyze.add_argument(
        "--explain",
        type=_explain_choice,
        default="auto",
        metavar="N|auto|mistakes",
        help="which images to explain: 'auto' (default) every misclassified one and a few others, as many as "
        "--explain-budget allows; 'mistakes' every misclassified one; N that many (0 for none)",
    )
    analyze.add_argument(
        "--explain-budget",
        type=_seconds,
        metavar="SECONDS",
        help="seconds the explanations may take (default: 120 with --explain auto, else no limit)",
    )
    _add_methods(analyze)
    analyze.add_argument(
        "--preprocess",
        type=_preprocess,
        metavar="NAME",
        help="the preprocess_input of a keras.applications family (mobilenet_v2, resnet50, efficientnet, ...) "
        "applied to the images before the model, for a model trained on a tf.data pipeline that preprocessed "
        "its images outside the model",
    )
    analyze.add_argument("--projection", choices=PROJECTIONS, default="pca", help="2-D map (default: pca)")
    analyze.add_argument(
        "--conv-features",
        choices=CONV_FEATURES,
        default="mean",
        help="convolution maps as channel means (default), means and maxima, or means on a 4x4 grid",
    )
    analyze.add_argument("--negative-class", help="the 'no finding' class, for sensitivity and specificity")
    analyze.add_argument(
        "--pixel-scale",
        type=_pixel_scale,
        default="auto",
        help="multiply the images by this; 'auto' (default) gives 255 for a model that starts with "
        "Rescaling(1/255), else 1",
    )
    analyze.add_argument(
        "--batch-size",
        type=_auto_or_positive_int,
        default="auto",
        help="images per forward pass; 'auto' (default): as many as keep the largest activation under 1 GiB, at "
        "most 64",
    )
    analyze.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the pass runs: in this process (default) or on a Ray cluster (pip install 'layerlens[ray]')",
    )
    analyze.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --engine ray: the cluster's head HOST:PORT (default: RAY_ADDRESS, else a new local cluster)",
    )
    analyze.add_argument(
        "--workers", type=_positive_int, help="with --engine ray: actors holding the model (default: from the cluster)"
    )
    analyze.add_argument(
        "--gpus-per-worker", type=_non_negative, default=0, help="with --engine ray: GPUs per actor (default: 0)"
    )
    analyze.add_argument(
        "--work-dir",
        metavar="DIR",
        help="with --engine ray: folder of the pass's finished blocks, to resume from (default: OUT.work)",
    )
    analyze.add_argument("--seed", type=_seed, default=0, help="seed of the data split and the analysis")
    analyze.add_argument("--name", help="name of the run (default: the data set's)")
    analyze.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    demo = commands.add_parser("demo", help="train the example models on the bundled data, analyse them, save runs")
    demo.add_argument("--models", default="models", help="folder for the trained .keras files (default: models)")
    demo.add_argument("--runs", default="runs", help="folder for the analysis runs (default: runs)")
    demo.add_argument("--only", nargs="+", metavar="NAME", help="only these models (mnist, phantoms, faces)")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of splits, weights, training and analysis")
    demo.add_argument("--site", default="output_site", help="folder for the website of the runs (default: output_site)")

    explain = commands.add_parser(
        "explain", help="explain more images of a stored run (the ones its analysis had no time for)"
    )
    explain.add_argument("run", help="a run folder written by 'layerlens analyze'")
    explain.add_argument("model", help="the .keras model file the run analysed")
    explain.add_argument(
        "--images",
        type=_positions,
        required=True,
        metavar="N,N,...|mistakes",
        help="the image numbers to explain (as the site and paths.csv number them), or 'mistakes' for every "
        "misclassified image not explained yet",
    )
    explain.add_argument(
        "--data",
        metavar="FOLDER",
        help="the folder of class sub-folders the run analysed, when the run cannot read its images again itself",
    )
    explain.add_argument("--budget", type=_seconds, metavar="SECONDS", help="seconds the explanations may take")
    _add_methods(explain, default=None)
    explain.add_argument("--preprocess", type=_preprocess, metavar="NAME", help="as for 'layerlens analyze'")
    explain.add_argument("--unsafe", action="store_true", help="as for 'layerlens analyze'")
    explain.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    site = commands.add_parser("site", help="build the website of stored runs (needs no TensorFlow)")
    site.add_argument("runs", nargs="+", metavar="RUN", help="run folders written by 'layerlens analyze' or demo")
    site.add_argument(
        "--out",
        default="output_site",
        help="folder for the site (default: output_site); it must be new, empty or an earlier layerlens site",
    )
    site.add_argument(
        "--sprite-threshold",
        type=_count,
        default=5000,
        help="runs of more images than this get sprite sheets, a paged gallery and sampled maps (default: 5000)",
    )
    site.add_argument(
        "--gallery-page-size", type=_positive_int, default=100, help="thumbnails per page of a big run's gallery"
    )
    site.add_argument(
        "--map-sample", type=_positive_int, default=20000, help="most points on a big run's layer maps (default: 20000)"
    )
    site.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    figures = commands.add_parser(
        "figures", help="write a stored run's figures as PNG and SVG files for a report (needs Chrome or Chromium)"
    )
    figures.add_argument("run", help="a run folder written by 'layerlens analyze'")
    figures.add_argument(
        "--out", required=True, help="folder for the figures and findings.md (made if missing; other files are kept)"
    )
    figures.add_argument(
        "--formats",
        type=_formats,
        default=("png", "svg"),
        metavar="FORMAT,...",
        help="file formats, comma-separated: png, svg, pdf (default: png,svg)",
    )
    return parser


def _add_methods(parser: argparse.ArgumentParser, default: Sequence[str] | None = DEFAULT_METHODS) -> None:
    shown = " ".join(default) if default else "the run's"
    names = tuple(REGISTRY)  # read as the parser is built: every method registered by then is a choice
    parser.add_argument(
        "--explain-methods",
        nargs="+",
        choices=names,
        default=None if default is None else list(default),
        metavar="METHOD",
        help=f"how to explain them: any of {', '.join(names)} (default: {shown})",
    )


def _check_analyze(args: argparse.Namespace) -> None:
    """What can be checked without a model or data: files, folders and the consistency of the options."""
    from layerlens.app.workflows import check_model_path
    from layerlens.exceptions import InvalidInputError
    from layerlens.options import BUNDLED_DATA
    from layerlens.run import check_run_target

    check_model_path(args.model)
    for option, value in (("data", args.data), ("--reference", args.reference)):
        if value is not None and value not in BUNDLED_DATA and not Path(value).is_dir():
            raise InvalidInputError(
                f"{option}: expected one of {BUNDLED_DATA} or a folder of class sub-folders; received {value!r}."
            )
    if args.probes is not None and args.probes not in BUNDLED_DATA and not Path(args.probes).is_dir():
        raise InvalidInputError(
            f"--probes: expected one of {BUNDLED_DATA} or a folder of images; received {args.probes!r}."
        )
    if args.labels is not None:
        if not Path(args.data).is_dir():
            raise InvalidInputError(
                f"data: with --labels, expected a folder of patient folders; received {args.data!r}."
            )
        if not Path(args.labels).is_file():
            raise InvalidInputError(
                f"--labels: expected a CSV file of patient ids and labels; received {args.labels!r}."
            )
    check_run_target(args.out, overwrite=args.force, argument="--out", flag="--force")
    for option, names in (("--class-names", args.class_names), ("--layers", args.layers)):
        repeated = sorted({n for n in names or () if names.count(n) > 1})
        if repeated:
            raise InvalidInputError(f"{option}: expected distinct names; received {repeated} more than once.")
    if args.negative_class is not None and args.class_names and args.negative_class not in args.class_names:
        raise InvalidInputError(
            f"--negative-class: expected one of --class-names {args.class_names}; received {args.negative_class!r}."
        )


def _analyze(args: argparse.Namespace) -> int:
    _check_analyze(args)
    from layerlens.app.workflows import analyze_files

    run, analysis = analyze_files(
        args.model,
        args.data,
        args.out,
        seed=args.seed,
        split=args.split,
        test_size=args.test_size,
        class_names=args.class_names,
        layers=args.layers,
        reference=args.reference,
        probes=args.probes,
        dicom=None
        if args.labels is None
        else {"labels_csv": args.labels, "sequence": args.sequence, "slices": args.slices},
        volume={"axes": args.axes, "window": args.window, "spacing": args.spacing},
        volume_view=args.volume_view,
        stability=args.stability,
        explain=args.explain,
        explain_methods=args.explain_methods,
        explain_budget=args.explain_budget,
        preprocess=args.preprocess,
        overwrite=args.force,
        unsafe=args.unsafe,
        pixel_scale=args.pixel_scale,
        n_clusters=args.n_clusters,
        projection=args.projection,
        conv_features=args.conv_features,
        negative_class=args.negative_class,
        batch_size=args.batch_size,
        name=args.name,
        progress=not args.no_progress,
        **_engine_options(args),
    )
    print(analysis)
    print(f"Pixels: {analysis.settings.pixel_scale_reason}")
    if analysis.settings.explain_note:
        print(f"Explanations: {analysis.settings.explain_note}")
    if analysis.findings:
        print("What stands out:")
        for finding in analysis.findings:
            print(f"- {finding.text}")
    print(f"Run saved in {run.resolve()}")
    return 0


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The engine's keyword arguments of ``analyze``: none for the local engine."""
    from layerlens.exceptions import InvalidInputError

    if args.engine == "local":
        for flag, value in (
            ("--ray-address", args.ray_address),
            ("--workers", args.workers),
            ("--work-dir", args.work_dir),
        ):
            if value is not None:
                raise InvalidInputError(f"{flag}: only with --engine ray; received {value!r}.")
        return {}
    work_dir = args.work_dir if args.work_dir is not None else f"{Path(args.out).resolve()}.work"
    return dict(
        engine="ray", ray_address=args.ray_address, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
        work_dir=work_dir,
    )  # fmt: skip


def _explain_more(args: argparse.Namespace) -> int:
    from layerlens.app.workflows import check_model_path, explain_files
    from layerlens.exceptions import InvalidInputError
    from layerlens.run import holds_run

    if not holds_run(Path(args.run)):
        raise InvalidInputError(f"RUN: expected a run folder written by 'layerlens analyze'; received {args.run!r}.")
    check_model_path(args.model)
    if args.data is not None and not Path(args.data).is_dir():
        raise InvalidInputError(
            f"--data: expected the folder of class sub-folders the run analysed; received {args.data!r}."
        )
    analysis = explain_files(
        args.run,
        args.model,
        args.images,
        data=args.data,
        methods=args.explain_methods,
        preprocess=args.preprocess,
        budget=args.budget,
        unsafe=args.unsafe,
        progress=not args.no_progress,
    )
    print(f"Explanations: {analysis.settings.explain_note}")
    print(f"Run saved in {Path(args.run).resolve()}; build its site again to see them (layerlens site).")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from layerlens._util.quiet_tensorflow import import_quietly
    from layerlens.app.demo import DEMO_MODELS, check_demo_names, run_demo
    from layerlens.site import check_site_target

    names = check_demo_names(args.only or DEMO_MODELS)
    check_site_target(args.site, argument="--site")
    import_quietly()
    print(f"Training and analysing {len(names)} example model(s) on the bundled data sets...", flush=True)
    models = run_demo(
        args.models, args.runs, names=names, seed=args.seed, report=lambda m: print(m.summary(), flush=True)
    )
    print(f"Models saved in {models[0].path.parent.resolve()}")
    print(f"Runs saved in {models[0].run.parent.resolve()}")
    from layerlens.site import build_site

    index = build_site([model.run for model in models], out=args.site, progress=False)
    print(f"Site built: open {index.resolve()}")
    return 0


def _site(args: argparse.Namespace) -> int:
    from layerlens.exceptions import InvalidInputError
    from layerlens.site import build_site, check_site_target

    check_site_target(args.out, runs=[Path(run) for run in args.runs], argument="--out")
    for run in args.runs:
        if not Path(run).is_dir():
            raise InvalidInputError(f"RUN: expected a run folder; {run!r} is not a folder.")
    start = time.perf_counter()
    index = build_site(
        args.runs,
        out=args.out,
        progress=not args.no_progress,
        sprite_threshold=args.sprite_threshold,
        gallery_page_size=args.gallery_page_size,
        map_sample=args.map_sample,
    )
    print(f"Site of {len(args.runs)} run(s) built in {time.perf_counter() - start:.1f} s: open {index.resolve()}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from layerlens.exceptions import InvalidInputError
    from layerlens.run import holds_run

    if not holds_run(Path(args.run)):
        raise InvalidInputError(f"RUN: expected a run folder written by 'layerlens analyze'; received {args.run!r}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out: expected a folder for the figures; {args.out!r} is a file.")
    from layerlens.run import load

    start = time.perf_counter()
    written = load(args.run).save_figures(out, formats=args.formats)
    seconds = time.perf_counter() - start
    for path in written:
        print(f"  {path.name}")
    figures = (len(written) - 1) // len(args.formats)
    print(
        f"{figures} figure(s) as {', '.join(args.formats)} and their captions in {written[-1].name}, written in "
        f"{seconds:.1f} s to {out.resolve()}"
    )
    return 0


_COMMANDS = {"analyze": _analyze, "demo": _demo, "explain": _explain_more, "figures": _figures, "site": _site}


@contextlib.contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Show warnings as one plain line each: a shell user has no use for the source line that raised them."""

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        files = getattr(message, "files", ())
        if files:  # a SkippedFilesWarning: the list is told here, not through ImageSet.skipped
            shown = ", ".join(files[:_SHOWN_FILES])
            more = f" and {len(files) - _SHOWN_FILES} more" if len(files) > _SHOWN_FILES else ""
            text = f"skipped {len(files)} file(s) that could not be read as images: {shown}{more}"
        else:
            text = str(message)
        print(f"layerlens {command}: warning: {text}", file=sys.stderr)

    from layerlens.exceptions import LayerlensWarning

    with warnings.catch_warnings():
        warnings.showwarning = show
        # layerlens' warnings are part of the command's report, whatever filters the caller set.
        warnings.filterwarnings("default", category=LayerlensWarning)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``layerlens`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from layerlens.exceptions import LayerlensError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with _warnings_as_lines(args.command):
            return _COMMANDS[args.command](args)
    except LayerlensError as err:
        parser.exit(2, f"layerlens {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
