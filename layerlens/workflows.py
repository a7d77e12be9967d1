"""File-level workflows behind the command line: read a model and data, analyse, save the run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layerlens.datasets import ImageSet, from_directory, load_digits, load_faces, load_mnist, make_phantoms
from layerlens.exceptions import InvalidInputError

__all__ = ["BUNDLED_DATA", "analyze_files", "load_data_for", "load_model"]

BUNDLED_DATA = ("phantoms", "mnist", "digits", "faces")
# The demo's phantoms model is trained on make_phantoms(3200, seed=seed); its test split is the held-out quarter.
PHANTOM_COUNT = 3200


def load_model(path: str | Path) -> Any:
    """Load a Keras model file (``.keras`` or legacy ``.h5``) without compiling it.

    Raises
    ------
    InvalidInputError
        If the file is missing or Keras cannot read it.
    """
    import keras

    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"model: expected a Keras model file (.keras or .h5); {str(file)!r} does not exist.")
    try:
        return keras.models.load_model(file, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for unreadable files
        raise InvalidInputError(f"model: Keras cannot read {str(file)!r} ({type(err).__name__}: {err}).") from err


def load_data_for(data: str, input_shape: Sequence[int | None], *, seed: int = 0) -> ImageSet:
    """Images for a model with ``input_shape`` ``(H, W, C)``: a bundled data set's test split, or a folder.

    Parameters
    ----------
    data : str
        ``"phantoms"``, ``"mnist"``, ``"digits"`` or ``"faces"`` (the held-out
        test split for ``seed``, resized to the model's input), or a folder in
        the class-per-folder layout.
    input_shape : sequence of int
        The model's input shape for one image.
    seed : int, default=0
        Seed of the bundled data set's split (the demo trains with the same).

    Returns
    -------
    ImageSet

    Raises
    ------
    InvalidInputError
        If ``data`` is neither a bundled name nor a folder, or the model's
        input does not fit the data (e.g. RGB input for grayscale digits).
    """
    height, width, channels = input_shape
    size = (height or 64, width or 64)
    if data not in BUNDLED_DATA:
        if not Path(data).is_dir():
            raise InvalidInputError(
                f"data: expected one of {BUNDLED_DATA} or a folder of class sub-folders; received {data!r}."
            )
        return from_directory(data, image_size=size, color_mode="grayscale" if channels == 1 else "rgb")
    if channels != 1:
        raise InvalidInputError(
            f"data: the bundled data set {data!r} is grayscale, but the model expects {channels} channels."
        )
    if data == "phantoms":
        if size[0] != size[1]:
            raise InvalidInputError(f"data: phantoms are square; the model expects {size[0]}x{size[1]} images.")
        return make_phantoms(PHANTOM_COUNT, size=size[0], seed=seed).test
    loader = {"mnist": load_mnist, "digits": load_digits, "faces": load_faces}[data]
    return loader(image_size=size, seed=seed).test


def analyze_files(
    model_path: str | Path,
    data: str,
    out: str | Path,
    *,
    seed: int = 0,
    pixel_scale: float | None = None,
    **options: Any,
) -> tuple[Path, Any]:
    """Load a model file and data, analyse, and save the run folder ``out``.

    Parameters
    ----------
    model_path : str or Path
        A ``.keras`` file.
    data : str
        A bundled data set name or a folder (see :func:`load_data_for`).
    out : str or Path
        Run folder to write.
    seed : int, default=0
        Seed of the data split and of the analysis.
    pixel_scale : float, optional
        Factor applied to the loaded [0, 1] images; by default 255 when the
        model starts with ``Rescaling(1/255)`` (it expects 0..255), else 1.
    **options
        Passed on to :func:`layerlens.analyze` (``layers``, ``n_clusters``, ...).

    Returns
    -------
    (Path, Analysis)
        The run folder written and the analysis.
    """
    from layerlens.analysis import analyze
    from layerlens.extract import expects_byte_pixels, output_units

    model = load_model(model_path)
    output_units(model)  # a clear error for non-classifiers before any data is read
    images = load_data_for(data, tuple(model.inputs[0].shape[1:]), seed=seed)
    if pixel_scale is None:
        pixel_scale = 255.0 if expects_byte_pixels(model) else 1.0
    analysis = analyze(model, images, seed=seed, pixel_scale=pixel_scale, **options)
    return analysis.save(out), analysis
