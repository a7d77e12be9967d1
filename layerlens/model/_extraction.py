"""What the pass produces, importable without TensorFlow: the description of a layer and the pass's result.

The per-layer math, the store and the site read these; only the pass itself (:func:`layerlens.model.extract`)
needs TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from layerlens._util.display import count, listed, shape_text

__all__ = ["Extraction", "LayerInfo", "PixelDecision"]


@dataclass(frozen=True)
class LayerInfo:
    """One addressable layer of a model.

    Attributes
    ----------
    name : str
        Unique name; layers of a nested model are ``"outer/inner"``.
    kind : str
        Class name of the layer (``"Conv2D"``, ``"Add"``, ...).
    output_shape : tuple of int or None
        Shape of the layer's output for one image.
    transforms : bool
        True for layers that transform (convolution, pooling, dense, merge);
        False for input, dropout, flatten, reshape, normalisation, activation...
    is_block : bool
        True for block outputs (``Add``, ``Concatenate``, ...), preferred when
        a deep model's default layers are thinned out.
    on_trunk : bool, default=True
        True when every path from the model's input to its output passes
        through this layer; False inside a parallel branch (the two towers of
        an Inception block, the convolutions a residual connection bypasses).
    scope : tuple of str, default=()
        The nested models it sits in, outermost first (``name`` is their
        names and its own, joined by ``/``; a ``/`` inside a layer's own name
        is not a level).
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    transforms: bool
    is_block: bool
    on_trunk: bool = True
    scope: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[str, ...]:
        """``name`` cut into its levels: the nested models' names, then the layer's own."""
        prefix = "/".join(self.scope)
        return (*self.scope, self.name[len(prefix) + 1 :] if prefix else self.name)


@dataclass(frozen=True)
class PixelDecision:
    """The factor the images are multiplied by, the range the model takes, and why, as a run records it.

    Attributes
    ----------
    factor : float
        Every image is multiplied by this on its way into the model (then ``preprocess``, if any).
    target : str or None
        ``"unit"`` or ``"bytes"``: the range the model takes, when known; other image sets shown to the
        same model (a reference, probes) are brought to it from their own range.
    reason : str
        Why, in a sentence for the run's model page.
    """

    factor: float
    target: str | None
    reason: str


@dataclass(frozen=True, eq=False)
class Extraction:
    """What one pass over the images produced.

    Attributes
    ----------
    layers : tuple of LayerInfo
        The chosen layers, in depth order.
    features : tuple of ndarray
        Per layer, ``(N, D_l)`` float32 reduced activations.
    reductions : tuple of str
        Per layer, how the activation was reduced (e.g. ``"channel mean"``,
        ``"identity"``, ``"random projection 1024→256"``).
    parallel : tuple of bool
        Per layer, True when the layer before it does not feed it (they sit
        in parallel branches); always False for the first.
    outputs : ndarray of shape (N, K)
        Raw model outputs (``K = 1`` for a single sigmoid or logit unit).
    output_activation : str or None
        Activation of the output layer when it can be read.
    labels : ndarray of shape (N,) or None
        Labels that came with the data (an ImageSet or ``(x, y)`` batches).
    thumbnails : ndarray of shape (N, h, w, C), uint8
        Small copies of the images (longest side at most 64 pixels).
    pixel_scale : float
        The factor every image was multiplied by on its way into the model.
    pixels : PixelDecision or None
        How that factor was chosen: the range the model takes and why.
    preprocess : str or None
        The name of the preprocessing applied after the factor (``preprocess=``), if any.
    seconds : float
        Wall time of the pass (reading, the model and the reductions), for estimates of what more
        model runs will cost.
    display_range : tuple of float
        The pixel values shown as black and white in the thumbnails.
    noisy_features : dict of float to tuple of ndarray
        Per noise level asked for, the features of the noisy copies (as ``features``).
    noisy_outputs : dict of float to ndarray
        Per noise level, the raw outputs of the noisy copies (as ``outputs``).
    image_shape : tuple of int
        The shape of one image as it went into the model, ``(H, W, C)``.
    source_rows : ndarray of shape (N,) or None
        For an :class:`~layerlens.datasets.ImageStream`: the position in its
        ``files`` of each image (files that could not be read have none).
    image_properties : ndarray of shape (N, 3) or None
        Mean intensity, contrast and bright area of each image on the displayed scale (see
        :data:`~layerlens.model._properties.IMAGE_PROPERTIES`).
    """

    layers: tuple[LayerInfo, ...]
    features: tuple[np.ndarray, ...]
    reductions: tuple[str, ...]
    parallel: tuple[bool, ...]
    outputs: np.ndarray
    output_activation: str | None
    labels: np.ndarray | None
    thumbnails: np.ndarray
    pixel_scale: float
    display_range: tuple[float, float] = (0.0, 1.0)
    noisy_features: dict[float, tuple[np.ndarray, ...]] = field(default_factory=dict)
    noisy_outputs: dict[float, np.ndarray] = field(default_factory=dict)
    image_shape: tuple[int, ...] = ()
    source_rows: np.ndarray | None = None
    pixels: PixelDecision | None = None
    preprocess: str | None = None
    image_properties: np.ndarray | None = None
    seconds: float = float("nan")

    def __repr__(self) -> str:
        layers = listed([f"{info.name} ({features.shape[1]})" for info, features in zip(self.layers, self.features)])
        noise = f", noise σ {', '.join(f'{level:g}' for level in self.noisy_features)}" if self.noisy_features else ""
        return (
            f"<Extraction of {count(len(self.outputs), 'image')} ({shape_text(self.image_shape)}), "
            f"{count(len(self.layers), 'layer')}: {layers}; {self.outputs.shape[1]} outputs, "
            f"pixel scale {self.pixel_scale:g}{noise}, {self.seconds:.1f} s>"
        )
