"""The registry of explanation methods: one entry per method, the one place that describes it.

:func:`~layerlens.explanations.explain` finds a method's function and the defaults of its options here; the
figures read its title, the site its caption, the command line its name, and ``analyze`` whether it explains by
it unless told otherwise. Adding a method is one module (its function) plus one entry in :data:`REGISTRY`.

Importable without numpy or TensorFlow: an entry names the module of its function, imported on first use, so
the command line checks a method's name before anything heavy is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layerlens.explanations._result import Explanation

__all__ = ["DEFAULT_METHODS", "METHODS", "REGISTRY", "ExplanationMethod", "method_title"]


@dataclass(frozen=True, kw_only=True)
class ExplanationMethod:
    """One explanation method, as the library, its figures, its site and its command line know it.

    Attributes
    ----------
    name : str
        What ``explain(..., method=)`` and ``--explain-methods`` take; a run's file names carry it too.
    module : str
        Dotted name of the module that holds the method's function; imported by :meth:`load` only.
    function : str
        The function's name in ``module``. It is called as ``function(scorer, images, targets, seed,
        **options)`` with images ``(N, H, W, C)`` (or volumes ``(N, D, H, W, C)``) and targets ``(N,)``
        already checked, and returns one :class:`~layerlens.explanations.Explanation` per image.
    defaults : Mapping[str, Any]
        The method's options (the function's keyword-only arguments) and their defaults, ``{}`` for none;
        ``explain`` refuses any other option. Stored read-only.
    title : str
        How figures and pages name the method.
    caption : str
        What the colours of its heat map mean, shown under the picture on the site.
    analyze_default : bool, default=False
        Whether ``analyze`` explains by this method unless ``explain_methods`` says otherwise.
    needs_convolution : bool, default=False
        Whether the method reads a convolution layer's maps: ``analyze`` leaves it out for a model without one.
    times_each_image : bool, default=False
        Whether the function measures each image's ``seconds`` itself; otherwise ``explain`` shares the time of
        the call evenly among the images.

    Examples
    --------
    >>> REGISTRY["gradcam"].title, dict(REGISTRY["smoothgrad"].defaults)
    ('Grad-CAM', {'samples': 25, 'noise': 0.15})
    """

    name: str
    module: str
    function: str
    defaults: Mapping[str, Any]
    title: str
    caption: str
    analyze_default: bool = False
    needs_convolution: bool = False
    times_each_image: bool = False

    def __post_init__(self) -> None:
        # A copy behind a read-only view: an explain call cannot change the defaults of the next one.
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def load(self) -> Callable[..., list[Explanation]]:
        """The method's function, its module imported now (with numpy, TensorFlow or whatever else it needs)."""
        return getattr(importlib.import_module(self.module), self.function)


def _entries(*methods: ExplanationMethod) -> dict[str, ExplanationMethod]:
    return {method.name: method for method in methods}


#: The explanation methods by name, in the order the command line and the error messages list them.
REGISTRY: dict[str, ExplanationMethod] = _entries(
    ExplanationMethod(
        name="lime",
        module="layerlens.explanations.lime",
        function="explain_lime",
        # n_segments None: 100 superpixels for an image, one supervoxel per 64 voxels for a volume (see lime).
        defaults={"num_samples": 1000, "n_segments": None},
        title="LIME",
        caption="superpixels that raised (red) or lowered (blue) the class's probability",
        # Each image has its own sampler and its own segmentation; one batch's time shared out would hide that.
        times_each_image=True,
    ),
    ExplanationMethod(
        name="gradcam",
        module="layerlens.explanations.gradcam",
        function="explain_gradcam",
        # layer None: the last convolution, found in the model (see the gradcam module).
        defaults={"layer": None},
        title="Grad-CAM",
        # Grad-CAM keeps only the evidence for the class, hence no blue in its caption.
        caption="where the last convolution's maps hold evidence for the class (red)",
        needs_convolution=True,
    ),
    ExplanationMethod(
        name="integrated_gradients",
        module="layerlens.explanations.integrated_gradients",
        function="explain_integrated_gradients",
        defaults={"steps": 32},
        title="Integrated gradients",
        caption="pixels for (red) and against (blue) the class",
        # Chosen by benchmarks/bench_explain.py: it points at small lesions most often, at a fraction of LIME's
        # cost (its figures are in benchmarks/README.md and the design doc).
        analyze_default=True,
    ),
    ExplanationMethod(
        name="smoothgrad",
        module="layerlens.explanations.smoothgrad",
        function="explain_smoothgrad",
        # noise: the standard deviation as a share of each image's pixel range.
        defaults={"samples": 25, "noise": 0.15},
        title="SmoothGrad",
        caption="pixels for (red) and against (blue) the class, averaged over noisy copies",
    ),
)

#: The names of the methods of :data:`REGISTRY`, as registered when the package was imported.
METHODS: tuple[str, ...] = tuple(REGISTRY)
#: The methods ``analyze`` explains by unless told otherwise (the entries marked ``analyze_default``).
DEFAULT_METHODS: tuple[str, ...] = tuple(name for name, method in REGISTRY.items() if method.analyze_default)


def method_title(method: str) -> str:
    """How ``method`` is named in titles: its registered title, or the name itself for a method not registered.

    Examples
    --------
    >>> method_title("gradcam"), method_title("shap")
    ('Grad-CAM', 'shap')
    """
    entry = REGISTRY.get(method)
    return method if entry is None else entry.title
