"""After the pass: the images an analysis explains, chosen among the candidates the pass kept, explained."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from layerlens.run._analysis import Analysis

if TYPE_CHECKING:
    import keras

__all__ = ["candidate_capacity", "with_explanations"]


def candidate_capacity(explain: int | str) -> int:
    """How many mistakes (and unsure correct images) the pass keeps to choose the ones to explain from."""
    if explain == "mistakes":
        return 1_000_000  # all of them, as far as the buffer's bytes go
    if explain == "auto":
        return 2000
    return 3 * int(explain) + 10


def with_explanations(
    analysis: Analysis,
    model: keras.Model,
    candidates: Any,
    extraction: Any,
    progress: bool,
    preprocess: Any = None,
    explainer: Any = None,
) -> Analysis:
    """``analysis`` with explanations of the images chosen among the candidates kept during the pass."""
    from layerlens.explanations import choose_images, explain_images, explanation_note, images_to_choose, to_display

    settings = analysis.settings
    kept = candidates.images()
    positions = np.array(sorted(kept), dtype=np.int64)
    count = images_to_choose(settings.explain_asked, analysis.predictions, analysis.labels, len(analysis.class_names))
    order = np.zeros(0, dtype=np.int64)
    if len(positions) and count:
        labels = None if analysis.labels is None else analysis.labels[positions]
        doubt = None if analysis.doubt is None else analysis.doubt.doubt[positions]
        order = choose_images(
            analysis.predictions[positions],
            analysis.confidence[positions],
            labels,
            count,
            doubt,
            mistakes_only=settings.explain_asked == "mistakes",
        )
    chosen = positions[order]
    made = None
    if len(chosen):
        made = (explainer or explain_images)(
            model,
            np.stack([kept[int(i)] for i in chosen]),
            chosen,
            targets=analysis.predictions[chosen],
            methods=settings.explain_methods,
            head=analysis.model.head,
            pixel_scale=settings.pixel_scale,
            preprocess=preprocess,
            seed=settings.seed,
            progress=progress,
            budget=settings.explain_budget,
        )
    note = explanation_note(
        settings.explain_asked,
        analysis.predictions,
        analysis.labels,
        chosen,
        made,
        settings.explain_budget,
        truncated=candidates.truncated,
    )
    if made is None or not made.explanations:
        return replace(analysis, settings=replace(settings, explain=0, explain_note=note))
    done = chosen[: made.n_explained]
    shown = dict(zip(done.tolist(), to_display(np.stack([kept[int(i)] for i in done]), extraction.display_range)))
    return replace(
        analysis,
        settings=replace(settings, explain=int(made.n_explained), explain_methods=made.methods, explain_note=note),
        explanations=made.explanations,
        explained_images=shown,
    )
