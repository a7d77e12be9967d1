"""Every public name is exported, exists and is documented (house style rule 2)."""

import importlib
import subprocess
import sys

import pytest

# The public surface: each package's ``__all__`` (modules under a package are private unless users import them by
# path: the per-method explanation modules, the figure modules, the data set readers).
PUBLIC_PACKAGES = [
    "layerlens",
    "layerlens.exceptions",
    "layerlens.options",
    "layerlens.datasets",
    "layerlens.model",
    "layerlens.layers",
    "layerlens.paths",
    "layerlens.scores",
    "layerlens.explanations",
    "layerlens.figures",
    "layerlens.run",
    "layerlens.site",
]
PUBLIC_MODULES = [
    *PUBLIC_PACKAGES,
    "layerlens.explanations.lime",
    "layerlens.explanations.gradcam",
    "layerlens.explanations.integrated_gradients",
    "layerlens.explanations.smoothgrad",
    "layerlens.figures.paths",
    "layerlens.figures.maps",
    "layerlens.figures.separability",
    "layerlens.figures.explanations",
    "layerlens.figures.metrics",
    "layerlens.datasets.bundled",
    "layerlens.datasets.folder",
    "layerlens.datasets.dicom",
    "layerlens.datasets.phantoms",
    "layerlens.datasets.phantoms.preview",
    "layerlens.app.cli",
    "layerlens.app.demo",
    "layerlens.app.workflows",
    "layerlens.app.zoo",
]
#: What a user of the library needs, at the top level.
TOP_LEVEL = {
    "Analysis", "Explanation", "__version__", "analyze", "build_site", "datasets", "explain", "explain_run", "load",
}  # fmt: skip


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


def test_the_top_level_offers_the_few_names_a_user_needs():
    import layerlens

    assert set(layerlens.__all__) == TOP_LEVEL
    for name in layerlens.__all__:
        assert getattr(layerlens, name) is not None


@pytest.mark.parametrize("package", PUBLIC_PACKAGES[1:], ids=PUBLIC_PACKAGES[1:])
def test_each_package_exports_its_names_from_its_own_modules(package):
    """A name is exported once, by the package whose module defines it (one home for each fact)."""
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        home = getattr(obj, "__module__", None)
        if home is not None and home.startswith("layerlens.") and not isinstance(obj, type(module)):
            assert home == package or home.startswith(package + "."), f"{package}.{name} is defined in {home}"


def test_loading_a_run_and_building_a_site_import_no_tensorflow():
    code = (
        "import sys, layerlens as ll; ll.load; ll.build_site; ll.Analysis; ll.explain; "
        "import layerlens.run, layerlens.site, layerlens.figures, layerlens.scores, layerlens.paths, layerlens.layers; "
        "from layerlens.model import Extraction, LayerInfo; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _dotted_names(text: str) -> set[str]:
    import re

    return {m.rstrip(".") for m in re.findall(r"\blayerlens(?:\.[A-Za-z_][A-Za-z0-9_]*)+", text)}


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("document", ["README.md", "docs/design.md", "benchmarks/README.md", "CHANGELOG.md"])
def test_the_documents_name_only_import_paths_that_exist(document):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / document
    text = path.read_text(encoding="utf-8")
    if document == "CHANGELOG.md":  # its migration table names the old paths on purpose: check the new column only
        text = "\n".join(line.rsplit("|", 2)[-2] for line in text.splitlines() if line.count("|") >= 4)
    missing = sorted(name for name in _dotted_names(text) if not _resolves(name))
    assert missing == [], f"{document} names import paths that do not exist: {missing}"
