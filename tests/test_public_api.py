"""Every public name is exported, exists and is documented (house style rule 2)."""

import importlib
import subprocess
import sys

import pytest

PUBLIC_MODULES = [
    "layerlens",
    "layerlens.run._analysis",
    "layerlens.layers._clusters",
    "layerlens.scores._doubt",
    "layerlens.model._extract",
    "layerlens.figures",
    "layerlens.figures.paths",
    "layerlens.figures.maps",
    "layerlens.figures.separability",
    "layerlens.figures.explanations",
    "layerlens.figures.metrics",
    "layerlens.explanations",
    "layerlens.explanations.lime",
    "layerlens.explanations.gradcam",
    "layerlens.explanations.integrated_gradients",
    "layerlens.explanations.smoothgrad",
    "layerlens.scores._metrics",
    "layerlens.layers._separability",
    "layerlens.model._heads",
    "layerlens.paths._table",
    "layerlens.paths._statistics",
    "layerlens.layers._maps",
    "layerlens.run._store",
    "layerlens.app.workflows",
    "layerlens.datasets",
    "layerlens.datasets.bundled",
    "layerlens.datasets.folder",
    "layerlens.datasets.phantoms",
    "layerlens.datasets.phantoms.preview",
    "layerlens.app.demo",
    "layerlens.exceptions",
    "layerlens.options",
    "layerlens.app.zoo",
    "layerlens.app.cli",
    "layerlens.site",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES, ids=PUBLIC_MODULES)
def test_public_names_exist_and_have_docstrings(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no module docstring"
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) or isinstance(obj, type(module)):
            assert obj.__doc__ and obj.__doc__.strip(), f"{module_name}.{name} has no docstring"


def test_importing_layerlens_does_not_import_tensorflow():
    code = (
        "import sys, layerlens, layerlens.datasets, layerlens.explanations; layerlens.explanations.Explanation; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
