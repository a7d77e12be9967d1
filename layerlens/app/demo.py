"""The demo: train the example models on the bundled data sets, save them, analyse them and save the runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerlens.exceptions import InvalidInputError

__all__ = ["DEMO_MODELS", "DemoModel", "check_demo_names", "run_demo"]

DEMO_MODELS = ("mnist", "phantoms", "faces", "volumes")
# The reading clinicians ask for: any lesion against no tumour.
NEGATIVE_CLASS = {"phantoms": "no_tumor", "volumes": "no_tumor"}
# Probes shown to each 2-D model beside its test images: this many of another kind of image, and as many of noise
# (the volume model has none: no other kind of volume ships with layerlens).
N_PROBES = 100
OTHER_KIND = {"mnist": "phantoms", "phantoms": "mnist digits", "faces": "phantoms"}


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trained and analysed: where its files are and how well it does."""

    name: str
    path: Path
    run: Path
    test_accuracy: float
    train_seconds: float
    analyze_seconds: float
    n_train: int
    n_test: int
    paths: str = ""
    explained: str = ""
    probes: str = ""
    groups: str = ""
    findings: tuple[str, ...] = ()

    def summary(self) -> str:
        """Lines for a terminal: accuracy and timings, what the paths say, what was explained, the files."""
        lines = [
            f"{self.name:<9} test accuracy {self.test_accuracy:.3f} ({self.n_train} train / {self.n_test} test "
            f"images; trained in {self.train_seconds:.0f} s, analysed in {self.analyze_seconds:.0f} s)",
            f"{'':<9} {self.paths}",
            f"{'':<9} {self.explained}" if self.explained else "",
            f"{'':<9} {self.probes}" if self.probes else "",
            f"{'':<9} {self.groups}" if self.groups else "",
            f"{'':<9} what stands out:" if self.findings else "",
            *(f"{'':<9} - {text}" for text in self.findings),
            f"{'':<9} model {self.path}  run {self.run}",
        ]
        return "\n".join(line for line in lines if line)


def check_demo_names(names: Sequence[str]) -> tuple[str, ...]:
    """Return ``names`` as a tuple, or raise unless each is one of :data:`DEMO_MODELS`."""
    unknown = [n for n in names if n not in DEMO_MODELS]
    if unknown:
        raise InvalidInputError(f"names: expected names from {DEMO_MODELS}; received unknown {unknown}.")
    return tuple(names)


def run_demo(
    out_dir: str | Path = "models",
    runs_dir: str | Path = "runs",
    *,
    names: Sequence[str] = DEMO_MODELS,
    seed: int = 0,
    report: Callable[[DemoModel], None] | None = None,
) -> list[DemoModel]:
    """Train, save and analyse the example models of :mod:`layerlens.app.zoo`.

    Each model is analysed on its held-out test images and the run is saved
    as ``RUNS_DIR/<name>``.

    Parameters
    ----------
    out_dir : str or Path, default="models"
        Folder that receives one ``<name>.keras`` file per model.
    runs_dir : str or Path, default="runs"
        Folder that receives one run folder per model.
    names : sequence of str, default=("mnist", "phantoms", "faces", "volumes")
        Which example models to train.
    seed : int, default=0
        Seed of data splits, initial weights and training order.
    report : callable, optional
        Called with each :class:`DemoModel` as soon as it is saved.

    Returns
    -------
    list of DemoModel
        One entry per trained model, in the order of ``names``.

    Raises
    ------
    InvalidInputError
        If a name is not one of :data:`DEMO_MODELS`.
    """
    names = check_demo_names(names)
    from layerlens.app import zoo as zoo  # imports Keras, which the rest of the CLI does not need
    from layerlens.run import analyze

    results = []
    for name in names:
        trained = zoo.train_example(name, seed=seed)
        path = zoo.save_example(trained, out_dir)
        start = time.perf_counter()
        # Clusters fitted on the training images, paths of the held-out ones, measured under noise too;
        # images of no class beside them, to show what doubt makes of them.
        analysis = analyze(
            trained.model,
            trained.data.test,
            reference=trained.data.train,
            probes=demo_probes(name, trained.data.test.images, seed) if name in OTHER_KIND else None,
            stability=True,
            seed=seed,
            progress=False,
            negative_class=NEGATIVE_CLASS.get(name),
        )
        run = analysis.save(Path(runs_dir) / name)
        result = DemoModel(
            name,
            path,
            run,
            trained.test_accuracy,
            trained.train_seconds,
            time.perf_counter() - start,
            len(trained.data.train),
            len(trained.data.test),
            _paths_line(analysis.path_statistics, [layer.clusters.k for layer in analysis.layers]),
            _explained_line(analysis),
            _probes_line(analysis, OTHER_KIND.get(name, "")),
            _groups_line(analysis),
            tuple(finding.text for finding in analysis.findings),
        )
        if report is not None:
            report(result)
        results.append(result)
    return results


def demo_probes(name: str, like: Any, seed: int = 0) -> Any:
    """What the demo shows model ``name`` as probes: :data:`N_PROBES` images of another kind (phantoms or MNIST
    digits) brought to its image shape, then as many of structured noise with its test images' intensities."""
    import numpy as np

    from layerlens.datasets import load_mnist, match_shape, render_phantoms, structured_noise

    if OTHER_KIND[name] == "phantoms":
        other = render_phantoms(N_PROBES, size=64, seed=seed + 7).images
    else:
        digits = load_mnist(seed=seed).test.images  # sorted by class: every tenth-or-so image covers them all
        other = digits[np.linspace(0, len(digits) - 1, N_PROBES).round().astype(int)]
    return np.concatenate([match_shape(other, like), structured_noise(N_PROBES, like, seed=seed)])


def _probes_line(analysis: Any, other: str) -> str:
    """How the probes fared: what the model called them, and how far doubt told them from the test images."""
    import numpy as np

    probes = analysis.probes
    if probes is None:
        return ""
    doubted = np.mean(probes.doubt.doubt >= 0.5)
    return (
        f"{probes.n_images} probes ({other}, structured noise): median confidence {np.median(probes.confidence):.2f}, "
        f"doubt >= 0.5 for {doubted:.0%} of them and {np.mean(analysis.doubt.doubt >= 0.5):.0%} of the test images"
    )


def _groups_line(analysis: Any) -> str:
    """Accuracy by each metadata column of a few values (the phantoms' scanner noise), largest group first."""
    parts = []
    for column in () if analysis.metadata is None or analysis.labels is None else analysis.metadata.columns:
        table = analysis.accuracy_by(column)
        if 2 <= len(table) <= 5:
            shown = ", ".join(f"{value} {row['accuracy']:.3f}" for value, row in table.iterrows())
            parts.append(f"accuracy by {column}: {shown}")
    return "; ".join(parts)


def _paths_line(stats: Any, ks: list[int]) -> str:
    """What the paths say, in one line: how many, how faithful on held-out images, how stable under noise."""
    kept = ", ".join(f"{share:.0%} at noise {level:g}" for level, share in stats.agreement.items())
    return (
        f"k per layer {ks}: {stats.n_distinct} distinct paths, held-out decision alignment "
        f"{stats.heldout_alignment:.3f}, paths kept {kept}"
    )


def _explained_line(analysis: Any) -> str:
    """How many images were explained, how many of them misclassified, and by which methods (the run's note)."""
    return analysis.settings.explain_note
