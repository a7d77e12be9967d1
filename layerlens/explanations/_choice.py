"""Which images of an analysis to explain, and their explanations within a time budget (``analyze(explain=)``)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens._util.progress import Progress
from layerlens._util.warn import warn_user
from layerlens.exceptions import ExplanationWarning, InvalidInputError, PixelScaleWarning
from layerlens.explanations._explain import method_options, run_method
from layerlens.explanations._registry import DEFAULT_METHODS, REGISTRY
from layerlens.explanations._result import Explanation
from layerlens.options import EXPLAIN_CHOICES

if TYPE_CHECKING:
    import keras

__all__ = [
    "DEFAULT_BUDGET",
    "Explained",
    "check_explain",
    "choose_images",
    "explain_images",
    "explanation_note",
    "images_to_choose",
    "to_display",
]

#: Seconds ``explain="auto"`` may spend on explanations unless ``explain_budget`` says otherwise.
DEFAULT_BUDGET = 120.0
#: Besides the mistakes, ``explain="auto"`` explains up to this many doubtful correct images, and the most
#: confident correct image of each class.
AUTO_OTHERS = 10
# A budgeted run explains images in chunks of about this many seconds, so it stops close to its budget.
_CHUNK_SECONDS = 2.0


def check_explain(explain: Any, methods: Any, budget: Any = None) -> tuple[int | str, tuple[str, ...], float | None]:
    """``explain`` (a count, "auto" or "mistakes"), ``methods`` as distinct known names and ``budget`` in seconds.

    Raises
    ------
    InvalidInputError
        Naming the argument that is wrong.
    """
    from layerlens._util.validation import check_int

    if isinstance(explain, str):
        if explain not in EXPLAIN_CHOICES:
            raise InvalidInputError(
                f"explain: expected a number of images or one of {EXPLAIN_CHOICES}; received {explain!r}."
            )
        count: int | str = explain
    else:
        count = check_int(explain, "explain", minimum=0)
    if isinstance(methods, str):
        methods = (methods,)
    try:
        chosen = tuple(dict.fromkeys(methods))
    except TypeError:
        chosen = ()
    if not chosen or any(not isinstance(m, str) or m not in REGISTRY for m in chosen):
        raise InvalidInputError(f"explain_methods: expected one or more of {tuple(REGISTRY)}; received {methods!r}.")
    if budget is not None:
        good = isinstance(budget, (int, float, np.integer, np.floating)) and not isinstance(budget, bool)
        if not good or not math.isfinite(float(budget)) or float(budget) <= 0:
            raise InvalidInputError(f"explain_budget: expected a positive number of seconds; received {budget!r}.")
        budget = float(budget)
    elif count == "auto":
        budget = DEFAULT_BUDGET
    return count, chosen if count != 0 else (), budget


def images_to_choose(explain: int | str, predictions: np.ndarray, labels: np.ndarray | None, n_classes: int) -> int:
    """How many images :func:`choose_images` is asked for: ``explain`` itself, or what "auto" and "mistakes" mean.

    "mistakes": every misclassified image (without labels, the least confident predictions the gallery
    lists). "auto": every mistake, then up to :data:`AUTO_OTHERS` doubtful correct images and the most
    confident image of each class (the budget may stop it earlier).
    """
    from layerlens.scores import UNSURE_SHOWN

    n_images = len(predictions)
    mistakes = UNSURE_SHOWN if labels is None else int((predictions != labels).sum())
    if explain == "mistakes":
        return min(mistakes, n_images)
    if explain == "auto":
        return min(n_images, mistakes + AUTO_OTHERS + n_classes)
    return min(int(explain), n_images)


def choose_images(
    predictions: np.ndarray,
    confidence: np.ndarray,
    labels: np.ndarray | None,
    count: int,
    doubt: np.ndarray | None = None,
    *,
    mistakes_only: bool = False,
) -> np.ndarray:
    """The images to explain, in the order to show them.

    With labels: the misclassified images, most confident mistakes first; then the most doubtful correct
    ones (by ``doubt``, else the least confident); then, for comparison, the most confident correct image
    of every class, for which up to half of ``count`` is kept free. Without labels: the most doubtful
    images, then the most confident image of every predicted class. ``mistakes_only``: the mistakes alone
    (without labels, the least confident predictions).
    """
    if mistakes_only:
        sure_first = np.argsort(-confidence, kind="stable")
        if labels is None:
            return sure_first[::-1][:count].astype(np.int64)
        return np.array([i for i in sure_first if predictions[i] != labels[i]][:count], dtype=np.int64)
    n_images = len(predictions)
    count = min(count, n_images)
    sure_first = np.argsort(-confidence, kind="stable")
    correct = np.ones(n_images, bool) if labels is None else predictions == labels
    typical: list[int] = []
    for image in sure_first:
        if correct[image] and predictions[image] not in {predictions[t] for t in typical}:
            typical.append(int(image))
    typical = typical[: count // 2]
    mistakes = [int(i) for i in sure_first if not correct[i]]
    # Most doubtful first; without a doubt, the least confident (ties keep the order of the confidence).
    doubtful_first = sure_first[::-1] if doubt is None else np.argsort(-np.asarray(doubt), kind="stable")
    unsure = [int(i) for i in doubtful_first if correct[i] and i not in typical]
    rest = (mistakes + unsure)[: count - len(typical)]
    return np.array(rest + typical, dtype=np.int64)


def to_display(images: np.ndarray, display_range: tuple[float, float]) -> np.ndarray:
    """Images as uint8 ``(n, H, W, 1 or 3)`` for showing, ``display_range`` mapped to black..white."""
    lo, hi = display_range
    scaled = np.clip((images - lo) / (hi - lo), 0.0, 1.0)
    if scaled.shape[-1] not in (1, 3):
        scaled = scaled[..., :1]  # as the thumbnails: the first channel of other channel counts
    return np.round(scaled * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class Explained:
    """What the explanation phase made: the explanations (image by image, each image's methods in order),
    how many of the chosen images it explained, the methods it used and the seconds it took."""

    explanations: tuple[Explanation, ...]
    n_explained: int
    methods: tuple[str, ...]
    seconds: float


def explain_images(
    model: keras.Model,
    x: np.ndarray,
    chosen: np.ndarray,
    *,
    targets: np.ndarray,
    methods: Sequence[str],
    head: str,
    pixel_scale: float,
    seed: int,
    progress: bool,
    preprocess: Any = None,
    budget: float | None = None,
) -> Explained:
    """Explain the images ``x`` (the analysed images at positions ``chosen``, in that order) for ``targets``.

    ``x`` holds images ``(n, H, W, C)`` or volumes ``(n, D, H, W, C)``. Images are explained in order, each
    by every method, until ``budget`` seconds are spent: once the first image is done, the next chunk of
    images is started only when the time measured so far says it fits, so the phase ends within the budget
    plus about one image. What an image costs is measured on the model and images at hand, never assumed,
    so a volume (which may cost a thousand times an image) is budgeted as an image is. The first image,
    whose cost is not yet known, is explained method by method with the clock read between them: when it
    alone spends the budget before its last method, the phase stops there, with the methods done
    (``Explained.methods``). The methods that need a convolution layer
    (Grad-CAM) are left out for a model without one, with a warning when they were asked for by name
    (``methods`` other than :data:`DEFAULT_METHODS`).
    """
    from layerlens.explanations._model import Scorer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelScaleWarning)  # analyze has already said so, about all the images
        scorer = Scorer(model, x, pixel_scale, head=head, preprocess=preprocess)
    methods = list(methods)
    needing = [m for m in methods if REGISTRY[m].needs_convolution]
    if needing and not scorer.has_convolution():
        if tuple(methods) != DEFAULT_METHODS:
            titles = " and ".join(REGISTRY[m].title for m in needing)
            one = len(needing) == 1
            warn_user(
                f"explain_methods: {titles} {'needs' if one else 'need'} a convolution layer with a spatial output "
                f"and this model has none; {'its' if one else 'their'} explanations were left out.",
                ExplanationWarning,
            )
        methods = [m for m in methods if m not in needing]
    runs = [method_options(method, {}) for method in methods]
    bar = Progress(len(chosen), "image") if progress else None
    started = time.perf_counter()
    made: list[Explanation] = []
    done, per_image = 0, math.nan
    spent_early = False
    while done < len(chosen) and runs:
        spent = time.perf_counter() - started
        left = math.inf if budget is None else budget - spent
        if done and per_image > left:
            break
        size = 1 if not done else _chunk(per_image, left, len(chosen) - done)
        chunk_start = time.perf_counter()
        rows = slice(done, done + size)
        by_method = []
        for entry, options in runs:
            by_method.append(run_method(entry, scorer, x[rows], targets[rows], seed, options))
            over = budget is not None and time.perf_counter() - started > budget
            if not done and over and len(by_method) < len(runs):
                spent_early = True  # the first image alone spent the budget: the other methods are left out
                runs, methods = runs[: len(by_method)], methods[: len(by_method)]
                break
        made += [replace(e, image_index=int(image)) for image, each in zip(chosen[rows], zip(*by_method)) for e in each]
        measured = (time.perf_counter() - chunk_start) / size
        # The first image pays for tracing the model: later chunks are the better estimate.
        per_image = measured if not done or math.isnan(per_image) else 0.5 * (per_image + measured)
        done += size
        if bar is not None:
            bar.add(size)
        if spent_early:
            break
    if bar is not None:
        bar.close()
    return Explained(tuple(made), done if runs else 0, tuple(methods), time.perf_counter() - started)


def _chunk(per_image: float, left: float, remaining: int) -> int:
    """Images to explain next: as many as fit in the time left, in chunks of about :data:`_CHUNK_SECONDS`."""
    fits = remaining if math.isinf(left) else int(left // per_image)
    steady = max(1, int(_CHUNK_SECONDS // per_image)) if per_image > 0 else remaining
    return max(1, min(fits, steady, remaining))


def explanation_note(
    asked: int | str,
    predictions: np.ndarray,
    labels: np.ndarray | None,
    chosen: np.ndarray,
    made: Explained | None,
    budget: float | None,
    *,
    truncated: bool = False,
) -> str:
    """What the explanation phase did, in a sentence for the run: how many it explained, and why fewer."""
    done = 0 if made is None else made.n_explained
    methods = "" if made is None else " by " + ", ".join(m.replace("_", " ") for m in made.methods)
    explained = set(chosen[:done].tolist())
    if labels is None:
        text = f"explained {done} image{'s' if done != 1 else ''}{methods}"
    else:
        wrong = np.flatnonzero(predictions != labels)
        mistakes = len(explained & set(wrong.tolist()))
        others = done - mistakes
        text = f"explained {mistakes} of the {len(wrong)} misclassified images"
        text += f" and {others} other{'s' if others != 1 else ''}" if others else ""
        text += methods
        if not len(wrong):
            text = f"no image was misclassified; explained {done} other{'s' if done != 1 else ''}{methods}"
    fewer = []
    if made is not None and done < len(chosen) and budget is not None:
        per_image = made.seconds / max(done, 1)
        fewer.append(
            f"the {_seconds(budget)} budget (explain_budget) allowed {done} of the {len(chosen)} chosen, at about "
            f"{per_image:.2g} s an image here"
        )
    if truncated:
        fewer.append("the pass kept as many mistakes as 256 MB of images hold, the most confident ones")
    if asked not in ("auto", "mistakes") and labels is not None and len(chosen) < int((predictions != labels).sum()):
        fewer.append(f"explain={asked} asked for {asked}")
    if fewer:
        text += " (" + "; ".join(fewer) + "); the others can be explained later by layerlens explain or ll.explain_run"
    return text + "."


def _seconds(budget: float) -> str:
    return f"{budget / 60:g}-minute" if budget >= 60 and budget % 60 == 0 else f"{budget:g}-second"
