"""File-level workflows behind the command line: read a model and data, analyse, save the run.

The data loaders, the analysis and TensorFlow are imported inside the functions that need them, so
the command line can import this module to check its arguments at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from layerlens.exceptions import InvalidInputError
from layerlens.options import BUNDLED_DATA
from layerlens.run import check_run_target

__all__ = ["analyze_files", "explain_files", "load_model"]


def check_model_path(path: str | Path) -> Path:
    """``path`` as a model file that exists, or an error saying what to pass instead (no TensorFlow needed)."""
    file = Path(path)
    if file.is_dir():
        raise InvalidInputError(
            f"model: expected a Keras model file (.keras or .h5); {str(file)!r} is a folder (a TensorFlow "
            "SavedModel?), which Keras 3 does not read: save the model as .keras where it was trained "
            "(model.save('model.keras'))."
        )
    if not file.is_file():
        raise InvalidInputError(f"model: expected a Keras model file (.keras or .h5); {str(file)!r} does not exist.")
    return file


def load_model(path: str | Path, *, unsafe: bool = False) -> Any:
    """Load a Keras model file (``.keras`` or legacy ``.h5``) without compiling it, in Keras' safe mode.

    Parameters
    ----------
    path : str or Path
        The model file.
    unsafe : bool, default=False
        Allow what safe mode refuses: a ``Lambda`` layer's Python code, which runs when the model is loaded.
        Only for files whose source you trust.

    Raises
    ------
    InvalidInputError
        If the file is missing, is a folder (a TensorFlow SavedModel, which Keras 3 does not read), needs
        unsafe deserialisation without ``unsafe``, or Keras cannot read it otherwise.
    """
    from layerlens._util.quiet_tensorflow import import_quietly

    file = check_model_path(path)
    import_quietly()
    import keras

    try:
        return keras.models.load_model(file, compile=False, safe_mode=not unsafe)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for unreadable files
        if not unsafe and "safe_mode" in str(err):
            raise InvalidInputError(
                f"model: {str(file)!r} holds Python code that would run as it loads (a Lambda layer), which Keras' "
                "safe mode refuses; if you trust where the file came from, allow it with --unsafe "
                "(in Python: load_model(path, unsafe=True))."
            ) from err
        hint = " (a legacy .h5 file: Keras 3 reads those of Keras 2 models, but not every custom layer)"
        hint = hint if file.suffix.lower() in (".h5", ".hdf5") else ""
        raise InvalidInputError(f"model: Keras cannot read {str(file)!r}{hint} ({type(err).__name__}: {err}).") from err


def analyze_files(
    model_path: str | Path,
    data: str,
    out: str | Path,
    *,
    seed: int = 0,
    split: str | None = None,
    test_size: float = 0.25,
    class_names: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    reference: str | None = None,
    probes: str | None = None,
    dicom: Mapping[str, Any] | None = None,
    volume: Mapping[str, Any] | None = None,
    overwrite: bool = True,
    unsafe: bool = False,
    **options: Any,
) -> tuple[Path, Any]:
    """Load a model file and data, analyse, and save the run folder ``out``.

    Parameters
    ----------
    model_path : str or Path
        A ``.keras`` file.
    data : str
        A bundled data set name or a folder (see :func:`layerlens.datasets.load_data_for`).
    out : str or Path
        Run folder to write.
    seed : int, default=0
        Seed of the data split and of the analysis.
    split, test_size, class_names
        Which images to analyse and the class order (see :func:`layerlens.datasets.load_data_for`);
        ``class_names`` also names the model's classes in the analysis.
    layers : sequence of str, optional
        Layers to analyse; checked against the model before any data is read.
    reference : str, optional
        The images the model was trained on, to fit the clusters on (see
        :func:`layerlens.analyze`): a bundled data set's name (its train
        split), or a folder of class sub-folders (all of it; when it is
        ``data`` itself and ``split="test"``, the other side of the split).
    dicom : mapping, optional
        ``data`` is a DICOM tree; the options of
        :func:`layerlens.datasets.from_dicom` (see :func:`layerlens.datasets.load_data_for`).
    volume : mapping, optional
        For a model that takes volumes: how to read them (``axes``, ``window``, ``spacing``; see
        :func:`layerlens.datasets.load_data_for`).
    probes : str, optional
        Images of no class to show the model beside ``data`` (see
        :func:`layerlens.analyze`): a bundled data set's name (its test split,
        brought to the model's image shape with
        :func:`~layerlens.datasets.match_shape`) or a folder of images, read
        whole without labels (:func:`~layerlens.datasets.read_images`).
    overwrite : bool, default=True
        Replace an earlier run in ``out``.
    unsafe : bool, default=False
        Load a model that needs unsafe deserialisation (see :func:`load_model`).
    **options
        Passed on to :func:`layerlens.analyze` (``n_clusters``, ``pixel_scale``, ...).

    Returns
    -------
    (Path, Analysis)
        The run folder written and the analysis.
    """
    check_run_target(out, overwrite=overwrite)
    model = load_model(model_path, unsafe=unsafe)
    from layerlens.model import list_layers, output_units
    from layerlens.run import analyze

    output_units(model)  # a clear error for non-classifiers before any data is read
    if layers is not None:
        from layerlens.model import select_layers

        select_layers(list_layers(model), layers)  # a misspelt name is reported before the data loads
    shape = tuple(model.inputs[0].shape[1:])
    common = dict(seed=seed, test_size=test_size, class_names=class_names, progress=options.get("progress", True))
    from layerlens.datasets import load_data_for, load_probes_for

    # Folders are read batch by batch as the pass goes: 50,000 scans need not fit in memory.
    images = load_data_for(data, shape, split=split, dicom=dicom, stream=True, volume=volume, **common)
    if data in BUNDLED_DATA and dicom is None:  # made again on demand (layerlens explain), as here
        source = {"reader": "bundled", "data": data, "split": split or "test", "seed": seed, "test_size": test_size}
        images = replace(images, source=source)
    fit = None
    if reference is not None:
        same_folder = Path(reference).resolve() == Path(data).resolve() and data not in BUNDLED_DATA
        side = "train" if reference in BUNDLED_DATA or (same_folder and split == "test") else "all"
        fit = load_data_for(reference, shape, split=side, stream=True, volume=volume, **common)
    shown, names = (None, None) if probes is None else load_probes_for(probes, shape, seed=seed, test_size=test_size)
    analysis = analyze(
        model,
        images,
        seed=seed,
        class_names=class_names,
        layers=layers,
        reference=fit,
        probes=shown,
        probe_files=names,
        **options,
    )
    analysis = replace(analysis, model=replace(analysis.model, file=str(Path(model_path).resolve())))
    return analysis.save(out, overwrite=overwrite), analysis


def explain_files(
    run: str | Path,
    model_path: str | Path,
    images: Sequence[int] | str,
    *,
    data: str | None = None,
    unsafe: bool = False,
    **options: Any,
) -> Any:
    """Load a model file and explain more images of the run folder ``run`` (see :func:`layerlens.explain_run`).

    ``data`` is the folder of class sub-folders the run analysed, read as ``layerlens analyze`` read it,
    when the run cannot read its images again itself. Returns the updated analysis (the run is written anew).
    """
    from layerlens.datasets import load_data_for
    from layerlens.run import explain_run, load

    model = load_model(model_path, unsafe=unsafe)
    stream = None
    if data is not None:
        analysis = load(run)
        names = list(analysis.class_names)
        stream = load_data_for(data, tuple(model.inputs[0].shape[1:]), split="all", class_names=names, stream=True)
    return explain_run(run, model, images, data=stream, **options)
