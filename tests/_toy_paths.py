"""A six-image paths table worked out by hand, shared by the tests of the paths table and path statistics."""

import numpy as np

from layerlens.paths._table import build_paths

# Six images, two classes, two layers; every number below is worked out by hand.
#
#   image  true  pred  layer A  layer B  path    correct  layers agreeing (leading class == pred)
#   0      0     0     c1 (0)   c1 (0)   c1-c1   yes      A ✓ B ✓ -> 2
#   1      0     1     c1 (0)   c1 (0)   c1-c1   no       A ✗ B ✗ -> 0
#   2      1     0     c1 (0)   c2 (1)   c1-c2   no       A ✓ B ✗ -> 1
#   3      1     0     c2 (1)   c3 (1)   c2-c3   no       A ✗ B ✗ -> 0
#   4      1     1     c2 (1)   c2 (1)   c2-c2   yes      A ✓ B ✓ -> 2
#   5      0     1     c2 (1)   c2 (1)   c2-c2   no       A ✓ B ✓ -> 2
#
# (the class leading each cluster in brackets; none is mixed.) Paths: c1-c1 {0, 1}, c1-c2 {2}, c2-c3 {3},
# c2-c2 {4, 5}.
# Weighted purity: c1-c1 true {0, 0} -> 2 agree; c1-c2 -> 1; c2-c3 -> 1; c2-c2 true {1, 0} is a tie,
# majority 0 (lowest index) -> 1 agrees. 5 / 6.
# Decision alignment: c1-c1 pred {0, 1} tie -> 0, 1 agrees; c1-c2 -> 1; c2-c3 -> 1; c2-c2 {1, 1} -> 2. 5 / 6.
CLASSES = ["glioma", "meningioma"]
LAYERS = ["conv", "dense"]
LABELS = [np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 2, 1, 1])]
NAMES = [
    ["c1 · 67% glioma", "c2 · 67% meningioma"],
    ["c1 · 100% glioma", "c2 · 67% meningioma", "c3 · 100% x"],
]
LEADING = [np.array([0, 1]), np.array([0, 1, 1])]
TRUE = np.array([0, 0, 1, 1, 1, 0])
PRED = np.array([0, 1, 0, 0, 1, 1])
CONF = np.array([0.9, 0.6, 0.7, 0.55, 0.8, 0.65])


def _build(**changes):
    args = dict(
        cluster_labels=LABELS,
        cluster_names=NAMES,
        cluster_classes=LEADING,
        layer_names=LAYERS,
        predicted=PRED,
        confidence=CONF,
        class_names=CLASSES,
        true=TRUE,
    )
    args.update(changes)
    positional = [args.pop(k) for k in ("cluster_labels", "cluster_names", "cluster_classes", "layer_names")]
    return build_paths(*positional, **args)
