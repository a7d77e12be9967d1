"""The model side: the only Keras/TensorFlow code besides the explanations.

Reading a model's layer graph (nested models included) without changing it, its output head, the images it
takes (arrays, sets, streams, tf.data) and the pixel range it was trained on, and the one forward pass that
reduces each chosen layer's activations to a small vector per image (:func:`extract`). Names load on first
use, so :class:`Extraction` and the layer types are importable without TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlens._util.lazy import lazy_names

if TYPE_CHECKING:
    from layerlens.model._extract import MAX_FEATURE_DIM, extract
    from layerlens.model._extraction import Extraction, LayerInfo, PixelDecision
    from layerlens.model._graph import functional_graph, functional_graph_or_none, run_graph
    from layerlens.model._heads import HEAD_KINDS, detect_head, to_probabilities
    from layerlens.model._inputs import (
        AUTO,
        Batches,
        DatasetOrigin,
        NoiseSource,
        batches,
        check_batch,
        check_pixel_scale,
        dataset_origin,
        display_range,
        fetch_rows,
        scale_sample,
        split_element,
        spread_positions,
    )
    from layerlens.model._layers import (
        BLOCK_LAYERS,
        Recorder,
        Traced,
        check_model,
        default_infos,
        default_layers,
        list_layers,
        model_output_activation,
        output_activation,
        output_units,
        parallel_to_previous,
        select_layers,
        trace,
    )
    from layerlens.model._names import short_layer_names
    from layerlens.model._pixelscale import (
        RANGE_NAMES,
        PixelMap,
        Sample,
        Stretch,
        choose_pixel_scale,
        expects_byte_pixels,
        forward_at_scale,
        range_kind,
        read_stretch,
        resolve_preprocess,
    )

__all__ = [
    "AUTO",
    "BLOCK_LAYERS",
    "Batches",
    "DatasetOrigin",
    "Extraction",
    "HEAD_KINDS",
    "IMAGE_PROPERTIES",
    "LayerInfo",
    "MAX_FEATURE_DIM",
    "NoiseSource",
    "PixelDecision",
    "PixelMap",
    "RANGE_NAMES",
    "Recorder",
    "Sample",
    "Stretch",
    "Traced",
    "batches",
    "central_slice",
    "check_batch",
    "check_model",
    "check_pixel_scale",
    "choose_pixel_scale",
    "dataset_origin",
    "default_infos",
    "default_layers",
    "detect_head",
    "display_range",
    "expects_byte_pixels",
    "extract",
    "fetch_rows",
    "forward_at_scale",
    "functional_graph",
    "functional_graph_or_none",
    "image_properties",
    "list_layers",
    "model_output_activation",
    "output_activation",
    "output_units",
    "parallel_to_previous",
    "range_kind",
    "read_stretch",
    "resolve_preprocess",
    "run_graph",
    "scale_sample",
    "select_layers",
    "short_layer_names",
    "split_element",
    "spread_positions",
    "to_probabilities",
    "trace",
]

# Where each public name lives; a name is imported on first use (TensorFlow only when it is needed).
_HOMES = {
    "AUTO": "layerlens.model._inputs",
    "BLOCK_LAYERS": "layerlens.model._layers",
    "Batches": "layerlens.model._inputs",
    "DatasetOrigin": "layerlens.model._inputs",
    "Extraction": "layerlens.model._extraction",
    "HEAD_KINDS": "layerlens.model._heads",
    "IMAGE_PROPERTIES": "layerlens.model._properties",
    "LayerInfo": "layerlens.model._extraction",
    "MAX_FEATURE_DIM": "layerlens.model._extract",
    "NoiseSource": "layerlens.model._inputs",
    "PixelDecision": "layerlens.model._extraction",
    "PixelMap": "layerlens.model._pixelscale",
    "RANGE_NAMES": "layerlens.model._pixelscale",
    "Recorder": "layerlens.model._layers",
    "Sample": "layerlens.model._pixelscale",
    "Stretch": "layerlens.model._pixelscale",
    "Traced": "layerlens.model._layers",
    "batches": "layerlens.model._inputs",
    "central_slice": "layerlens.model._properties",
    "check_batch": "layerlens.model._inputs",
    "check_model": "layerlens.model._layers",
    "check_pixel_scale": "layerlens.model._inputs",
    "choose_pixel_scale": "layerlens.model._pixelscale",
    "dataset_origin": "layerlens.model._inputs",
    "default_infos": "layerlens.model._layers",
    "default_layers": "layerlens.model._layers",
    "detect_head": "layerlens.model._heads",
    "display_range": "layerlens.model._inputs",
    "expects_byte_pixels": "layerlens.model._pixelscale",
    "extract": "layerlens.model._extract",
    "fetch_rows": "layerlens.model._inputs",
    "forward_at_scale": "layerlens.model._pixelscale",
    "functional_graph": "layerlens.model._graph",
    "functional_graph_or_none": "layerlens.model._graph",
    "image_properties": "layerlens.model._properties",
    "list_layers": "layerlens.model._layers",
    "model_output_activation": "layerlens.model._layers",
    "output_activation": "layerlens.model._layers",
    "output_units": "layerlens.model._layers",
    "parallel_to_previous": "layerlens.model._layers",
    "range_kind": "layerlens.model._pixelscale",
    "read_stretch": "layerlens.model._pixelscale",
    "resolve_preprocess": "layerlens.model._pixelscale",
    "run_graph": "layerlens.model._graph",
    "scale_sample": "layerlens.model._inputs",
    "select_layers": "layerlens.model._layers",
    "short_layer_names": "layerlens.model._names",
    "split_element": "layerlens.model._inputs",
    "spread_positions": "layerlens.model._inputs",
    "to_probabilities": "layerlens.model._heads",
    "trace": "layerlens.model._layers",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
