"""Explaining more images of a run after the analysis: ``layerlens.explain_run`` and ``layerlens explain``.

An analysis explains what its budget allows; a page without an explanation says how to get one. The
images are read again (from the files the run names, from a bundled data set, or from the data given),
checked against what the analysis recorded of them (the model must give them the same probabilities),
explained, and the run folder is written anew with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from layerlens.exceptions import InvalidInputError, InvalidTypeError
from layerlens.run._analysis import Analysis

__all__ = ["explain_run"]

# The model must give the images read again the probabilities the analysis recorded (float32 rounding
# and another batch size differ by far less; another image or preprocessing by far more).
_SAME_PROBABILITY = 1e-3


def explain_run(
    run: str | Path | Analysis,
    model: Any,
    images: Sequence[int] | str,
    *,
    data: Any = None,
    methods: Sequence[str] | None = None,
    preprocess: Any = None,
    budget: float | None = None,
    progress: bool = True,
) -> Analysis:
    """Add explanations of chosen images to a run folder (or to an analysis in memory).

    Parameters
    ----------
    run : str, Path or Analysis
        A run folder written by :meth:`Analysis.save` (it is written anew with the explanations), or an
        analysis (a new one is returned; nothing is written).
    model : keras.Model
        The model the run analysed.
    images : sequence of int, or "mistakes"
        Positions of the images to explain (the image numbers of the paths table and the site), or
        ``"mistakes"``: every misclassified image not explained yet.
    data : optional
        The images as they were analysed (an array, ImageSet, ImageStream, ``tf.data.Dataset`` that does not
        shuffle, ...), when the run cannot read them again itself: it reads the files of a folder or of
        Keras' ``image_dataset_from_directory``, and the bundled data sets of the command line.
    methods : sequence of str, optional
        Explanation methods; default: the run's.
    preprocess : callable or str, optional
        The preprocessing the analysis applied, when it was a function (the run records only its name).
    budget : float, optional
        Seconds the explanations may take (see :func:`layerlens.analyze`'s ``explain_budget``).
    progress : bool, default=True

    Returns
    -------
    Analysis
        The run with the new explanations (an image explained before by a method is explained anew).

    Raises
    ------
    InvalidInputError
        If a position is outside the run, the images cannot be read again, or they are not the ones
        analysed (the model gives them other probabilities).
    """
    from layerlens.explanations import DEFAULT_METHODS, check_explain, explain_images
    from layerlens.run._store import load, save_analysis

    folder = None if isinstance(run, Analysis) else Path(run)
    if folder is None and not isinstance(run, Analysis):
        raise InvalidTypeError(f"run: expected a run folder or an Analysis; received {type(run).__name__}.")
    analysis = run if folder is None else load(folder)
    chosen = _positions(images, analysis)
    asked = methods if methods is not None else (analysis.settings.explain_methods or None)
    _, methods, budget = check_explain(len(chosen), asked or DEFAULT_METHODS, budget)
    transform = _preprocess(preprocess, analysis)
    x = _read_again(analysis, chosen, data)
    _check_same(model, x, analysis, chosen, transform)
    made = explain_images(
        model,
        x,
        chosen,
        targets=analysis.predictions[chosen],
        methods=methods,
        head=analysis.model.head,
        pixel_scale=analysis.settings.pixel_scale,
        preprocess=transform,
        seed=analysis.settings.seed,
        progress=progress,
        budget=budget,
    )
    updated = _merged(analysis, made, x, chosen)
    if folder is not None:
        save_analysis(updated, folder, overwrite=True)
    return updated


def _positions(images: Sequence[int] | str, analysis: Analysis) -> np.ndarray:
    if isinstance(images, str):
        if images != "mistakes":
            raise InvalidInputError(f"images: expected image positions or 'mistakes'; received {images!r}.")
        if analysis.labels is None:
            raise InvalidInputError("images: 'mistakes' needs true labels, and this run has none; name the images.")
        wrong = np.flatnonzero(analysis.predictions != analysis.labels)
        done = set(analysis.explained_images)
        order = wrong[np.argsort(-analysis.confidence[wrong], kind="stable")]
        return np.array([i for i in order if int(i) not in done], dtype=np.int64)
    try:
        chosen = np.asarray(list(images))
    except TypeError as err:
        raise InvalidTypeError(f"images: expected image positions or 'mistakes'; received {images!r}.") from err
    if chosen.ndim != 1 or not (chosen.size == 0 or np.issubdtype(chosen.dtype, np.integer)):
        raise InvalidInputError(f"images: expected image positions (integers); received {images!r}.")
    if chosen.size and (chosen.min() < 0 or chosen.max() >= analysis.n_images):
        raise InvalidInputError(
            f"images: expected positions in 0..{analysis.n_images - 1}; received {sorted(set(chosen.tolist()))}."
        )
    if chosen.size == 0:
        raise InvalidInputError("images: expected at least one image to explain; received none.")
    return np.array(list(dict.fromkeys(chosen.tolist())), dtype=np.int64)


def _preprocess(preprocess: Any, analysis: Analysis) -> Any:
    from layerlens.model import resolve_preprocess
    from layerlens.options import preprocess_family

    recorded = analysis.settings.preprocess
    if preprocess is not None:
        return resolve_preprocess(preprocess)[0]
    if recorded is None:
        return None
    if preprocess_family(recorded) == recorded:
        return resolve_preprocess(recorded)[0]
    raise InvalidInputError(
        f"preprocess: the run was analysed with the function {recorded!r} applied to its images; pass it again "
        "(preprocess=...)."
    )


def _read_again(analysis: Analysis, chosen: np.ndarray, data: Any) -> np.ndarray:
    """The images at ``chosen`` as the analysis read them: from ``data``, else from where the run says."""
    input_shape = tuple(analysis.model.input_shape)
    if data is not None:
        return _from_data(data, chosen, analysis, input_shape)
    source = analysis.source
    if source is None:
        raise InvalidInputError(
            "data: this run does not record where its images came from (they were analysed as arrays or "
            "batches); pass the images analysed, in the same order (data=...; on the command line --data)."
        )
    if source.get("reader") == "bundled":
        from layerlens.datasets import load_data_for

        found = load_data_for(
            source["data"], input_shape, split=source["split"], seed=source["seed"], test_size=source["test_size"]
        )
        return found.images[chosen]
    if analysis.files is None:
        raise InvalidInputError("data: this run names no files to read its images from; pass data=...")
    from layerlens.datasets.folder import read_source

    return read_source(source, [analysis.files[int(i)] for i in chosen])


def _from_data(data: Any, chosen: np.ndarray, analysis: Analysis, input_shape: tuple[Any, ...]) -> np.ndarray:
    from layerlens.datasets import ImageStream
    from layerlens.model import fetch_rows

    if isinstance(data, ImageStream) and analysis.files is not None:
        where = {file: i for i, file in enumerate(data.files)}
        missing = [analysis.files[int(i)] for i in chosen if analysis.files[int(i)] not in where]
        if missing:
            raise InvalidInputError(f"data: the stream lists no file {missing[0]!r} of the run.")
        return data.read([where[analysis.files[int(i)]] for i in chosen])
    x = fetch_rows(data, chosen, analysis.settings.batch_size, input_shape)
    if x is None:
        raise InvalidInputError(
            "data: the images could not be read by position (a one-shot iterator, or a stream shorter than the "
            "run); pass an array, an ImageSet, an ImageStream or a tf.data.Dataset that does not shuffle."
        )
    return x


def _check_same(model: Any, x: np.ndarray, analysis: Analysis, chosen: np.ndarray, transform: Any) -> None:
    """Raise unless the model gives the images read again the probabilities the analysis recorded."""
    from layerlens.explanations import Scorer
    from layerlens.model import output_units

    if max(output_units(model), 2) != len(analysis.class_names):
        raise InvalidInputError(
            f"model: expected the run's model, which predicts {len(analysis.class_names)} classes; received one "
            f"that predicts {max(output_units(model), 2)}."
        )
    scorer = Scorer(model, x, analysis.settings.pixel_scale, head=analysis.model.head, preprocess=transform)
    gap = float(np.abs(scorer.probabilities(x) - analysis.probabilities[chosen]).max())
    if gap > _SAME_PROBABILITY:
        raise InvalidInputError(
            f"data: the model gives the images read again other probabilities than the run recorded (by up to "
            f"{gap:.3g}): they are not the images analysed (files changed, another order, a dataset that "
            "shuffles), or this is another model."
        )


def _merged(analysis: Analysis, made: Any, x: np.ndarray, chosen: np.ndarray) -> Analysis:
    """The analysis with ``made``'s explanations: those of the same image and method replaced, the rest kept."""
    from layerlens.explanations import to_display
    from layerlens.options import VOLUME_AXES
    from layerlens.run._pictures import page_pictures
    from layerlens.run._volumes import page_volumes

    done = chosen[: made.n_explained]
    new = {(e.image_index, e.method) for e in made.explanations}
    kept = tuple(e for e in analysis.explanations if (e.image_index, e.method) not in new)
    shown = dict(analysis.explained_images)
    shown.update(zip(done.tolist(), to_display(x[: made.n_explained], analysis.display_range)))
    pictures = dict(analysis.pictures)
    channels = int(analysis.thumbnails.shape[-1])
    missing = np.array([i for i in done if int(i) not in pictures], dtype=np.int64)
    rows = {int(i): x[j] for j, i in enumerate(done)}
    face = (analysis.settings.axes or VOLUME_AXES, analysis.settings.volume_view)
    pictures.update(
        page_pictures(missing, analysis.files, analysis.source, rows, analysis.display_range, channels, face)
    )
    volumes = dict(analysis.volumes)
    if analysis.settings.axes is not None:  # the newly explained volumes' pages show them too, within the cap
        used = sum(v.nbytes for v in volumes.values())
        volumes.update(
            page_volumes([int(i) for i in done if int(i) not in volumes], rows, analysis.display_range, used)
        )
    later = f" Later {len(done)} more image{'s' if len(done) != 1 else ''} explained (layerlens explain)."
    settings = replace(
        analysis.settings,
        explain=len(shown),
        explain_methods=tuple(dict.fromkeys([*analysis.settings.explain_methods, *made.methods])),
        explain_note=(analysis.settings.explain_note + later).strip(),
    )
    return replace(analysis, explanations=kept + made.explanations, explained_images=shown, pictures=pictures,
                   settings=settings, volumes=volumes)  # fmt: skip
