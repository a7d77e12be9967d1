"""Choices that the library and the command line share, importable without numpy or TensorFlow.

The command line checks its arguments against these names before anything heavy is imported.
"""

from __future__ import annotations

import re

__all__ = [
    "BUNDLED_DATA", "CONV_FEATURES", "ENGINES", "EXPLAIN_CHOICES", "K_RULES", "PREPROCESS_FAMILIES", "PROJECTIONS",
    "SPLITS", "STABILITY_NOISE", "VOLUME_AXES", "VOLUME_VIEWS", "check_axes", "preprocess_family",
]  # fmt: skip

#: The data sets the command line and ``explain_run`` know by name (resized to the model's input).
BUNDLED_DATA: tuple[str, ...] = ("phantoms", "mnist", "digits", "faces")
#: Which images of a data set to analyse: all of them, or one side of a seeded, stratified split.
SPLITS: tuple[str, ...] = ("all", "train", "test")

#: The noise levels of ``analyze(..., stability=True)``: standard deviations, as shares of the pixel range.
STABILITY_NOISE: tuple[float, ...] = (0.02, 0.05)

#: How ``analyze(..., n_clusters=...)`` chooses k besides a number: for faithful paths, or by silhouette.
K_RULES: tuple[str, ...] = ("auto", "silhouette")
#: The 2-D maps of a layer: its two leading principal components, or UMAP.
PROJECTIONS: tuple[str, ...] = ("pca", "umap")

#: Where :func:`layerlens.analyze` runs the pass: in this process, or on a Ray cluster (``layerlens[ray]``).
ENGINES: tuple[str, ...] = ("local", "ray")

#: How a convolution map becomes a vector: channel means, means and maxima, or means on a 4x4 grid.
CONV_FEATURES: tuple[str, ...] = ("mean", "mean_max", "grid")

#: The order of a volume's spatial axes when nothing says otherwise: depth (the axial axis), height, width.
VOLUME_AXES = "DHW"


def check_axes(axes: object, *, volume: bool = True, name: str = "axes") -> str:
    """Return ``axes``, or raise unless it is a permutation of ``"DHW"`` (for images: ``"DHW"`` itself)."""
    from layerlens.exceptions import InvalidInputError

    if not isinstance(axes, str) or sorted(axes) != sorted(VOLUME_AXES):
        raise InvalidInputError(
            f"{name}: expected a permutation of the letters 'D', 'H' and 'W' (e.g. 'DHW' or 'HWD'); received {axes!r}."
        )
    if not volume and axes != VOLUME_AXES:
        raise InvalidInputError(
            f"{name}: expected 'DHW' for images (N, H, W, C), which have no depth axis to reorder; received {axes!r}."
        )
    return axes


#: How a volume is shown in one picture (thumbnails, the gallery): its central axial slice, or the
#: maximum-intensity projection along the axial axis (the habit for PET).
VOLUME_VIEWS: tuple[str, ...] = ("slice", "mip")

#: The ``keras.applications`` families whose ``preprocess_input`` ``analyze(..., preprocess=NAME)`` takes.
PREPROCESS_FAMILIES: tuple[str, ...] = (
    "convnext", "densenet", "efficientnet", "efficientnet_v2", "inception_resnet_v2", "inception_v3",
    "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19",
    "xception",
)  # fmt: skip

#: What ``analyze(..., explain=...)`` takes besides a number of images (the explanation methods, and which of
#: them ``analyze`` uses by default, are in :data:`layerlens.explanations.REGISTRY`).
EXPLAIN_CHOICES: tuple[str, ...] = ("auto", "mistakes")

# ResNet50V2, ResNet101V2, ... preprocess as "resnet_v2" ("tf" mode), not as ResNet50 ("caffe" mode).
_RESNET_V2 = re.compile(r"resnet\d*v2")


def _squeezed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def preprocess_family(name: str) -> str | None:
    """The ``keras.applications`` module whose ``preprocess_input`` ``name`` means, or None.

    Takes the module name (``"mobilenet_v2"``) or a model's class name (``"MobileNetV2"``,
    ``"EfficientNetB0"``, ``"ResNet101"``), in any case, with or without underscores.

    Examples
    --------
    >>> preprocess_family("MobileNetV2"), preprocess_family("ResNet50V2"), preprocess_family("vgg")
    ('mobilenet_v2', 'resnet_v2', None)
    """
    squeezed = _squeezed(name)
    if not squeezed:
        return None
    if _RESNET_V2.fullmatch(squeezed):
        return "resnet_v2"
    if re.fullmatch(r"resnet\d+", squeezed):
        return "resnet50" if squeezed == "resnet50" else "resnet"
    # The longest family that starts the name: "efficientnetv2b0" is efficientnet_v2, not efficientnet.
    matches = [family for family in PREPROCESS_FAMILIES if squeezed.startswith(_squeezed(family))]
    return max(matches, key=len) if matches else None
