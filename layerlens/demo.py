"""The demo: train the example models on the bundled data sets and save them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from layerlens.exceptions import InvalidInputError

__all__ = ["DEMO_MODELS", "DemoModel", "run_demo"]

DEMO_MODELS = ("mnist", "phantoms", "faces")


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trained: where it is and how well it does."""

    name: str
    path: Path
    test_accuracy: float
    train_seconds: float
    n_train: int
    n_test: int

    def summary(self) -> str:
        """One line for a terminal: name, accuracy, training time and file."""
        return (
            f"{self.name:<9} test accuracy {self.test_accuracy:.3f} "
            f"({self.n_train} train / {self.n_test} test images, trained in {self.train_seconds:.0f} s) "
            f"-> {self.path}"
        )


def run_demo(
    out_dir: str | Path = "models",
    *,
    names: Sequence[str] = DEMO_MODELS,
    seed: int = 0,
    report: Callable[[DemoModel], None] | None = None,
) -> list[DemoModel]:
    """Train and save the example models of :mod:`layerlens.zoo`.

    Parameters
    ----------
    out_dir : str or Path, default="models"
        Folder that receives one ``<name>.keras`` file per model.
    names : sequence of str, default=("mnist", "phantoms", "faces")
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
    unknown = [n for n in names if n not in DEMO_MODELS]
    if unknown:
        raise InvalidInputError(f"names: expected names from {DEMO_MODELS}; received unknown {unknown}.")
    from layerlens import zoo  # imports Keras, which the rest of the CLI does not need

    results = []
    for name in names:
        trained = zoo.train_example(name, seed=seed)
        path = zoo.save_example(trained, out_dir)
        result = DemoModel(
            name, path, trained.test_accuracy, trained.train_seconds, len(trained.data.train), len(trained.data.test)
        )
        if report is not None:
            report(result)
        results.append(result)
    return results
