"""The registry of explanation methods: every fact about a method is read from its entry.

A method registered in the test itself (a constant heat map, defined below) is taken by ``explain``, titled in
the figure, captioned on the site and offered by the command line, with no other change anywhere.
"""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import layerlens as ll
from layerlens.exceptions import InvalidInputError
from layerlens.explanations import DEFAULT_METHODS, METHODS, REGISTRY, Explanation, ExplanationMethod, method_title

NAME = "constant"
TITLE = "Constant <map>"
CAPTION = "the same value everywhere"


def explain_constant(scorer, images, targets, seed, *, level):
    """A heat map of ``level`` everywhere, for each image: the smallest function a method can have."""
    return [
        Explanation(method=NAME, target=int(t), heatmap=np.full(images.shape[1:3], level, np.float32), seconds=0.0)
        for t in targets
    ]


@pytest.fixture
def constant_method(monkeypatch):
    """The registry with one more method, this module's ``explain_constant``, for the test's duration."""
    entry = ExplanationMethod(
        name=NAME, module=__name__, function="explain_constant", defaults={"level": 0.5}, title=TITLE, caption=CAPTION
    )
    monkeypatch.setitem(REGISTRY, NAME, entry)
    return entry


# --------------------------------------------------------------------------------------------- the entries


def test_the_built_in_methods_and_the_default():
    assert METHODS == tuple(REGISTRY) == ("lime", "gradcam", "integrated_gradients", "smoothgrad")
    assert DEFAULT_METHODS == ("integrated_gradients",)
    assert all(name == entry.name for name, entry in REGISTRY.items())


@pytest.mark.parametrize("name", METHODS, ids=METHODS)
def test_each_entry_names_its_function_and_the_functions_options(name):
    """The defaults are exactly the function's keyword-only arguments, which have no defaults of their own."""
    entry = REGISTRY[name]
    function = entry.load()
    assert function.__name__ == entry.function and function.__module__ == entry.module
    keyword_only = {
        p.name: p.default for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY
    }
    assert set(keyword_only) == set(entry.defaults)
    assert all(default is inspect.Parameter.empty for default in keyword_only.values())
    assert entry.title and entry.caption


def test_defaults_are_read_only():
    with pytest.raises(TypeError):
        REGISTRY["integrated_gradients"].defaults["steps"] = 4


def test_reading_the_registry_imports_no_numpy():
    code = (
        "import sys, layerlens.explanations as e; e.METHODS; e.REGISTRY; e.DEFAULT_METHODS; e.method_title('lime'); "
        "import layerlens.app.cli as cli; cli._parser(); print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


# --------------------------------------------------------------------------------------------- a new method


def test_a_registered_method_is_explained_by_its_function(constant_method, sequential_model, images):
    explanations = ll.explain(sequential_model, images[:3], method=NAME)
    assert [e.method for e in explanations] == [NAME] * 3
    assert all(np.all(e.heatmap == 0.5) and e.heatmap.shape == images.shape[1:3] for e in explanations)
    assert all(e.seconds > 0 for e in explanations)  # explain shares the call's time among the images
    assert ll.explain(sequential_model, images[0], method=NAME, level=2.0).heatmap.max() == 2.0


def test_a_registered_method_refuses_options_not_in_its_entry(constant_method, sequential_model, images):
    with pytest.raises(InvalidInputError, match=r"^options: constant takes \['level'\]; received unknown \['steps'\]"):
        ll.explain(sequential_model, images[:2], method=NAME, steps=3)


def test_an_unregistered_method_is_refused_with_the_registered_names(constant_method, sequential_model, images):
    with pytest.raises(InvalidInputError, match=r"^method: expected one of \('lime', .*'smoothgrad', 'constant'\)"):
        ll.explain(sequential_model, images[:2], method="shap")


def test_a_registered_method_is_one_analyze_takes(constant_method):
    from layerlens.explanations import check_explain

    assert check_explain(3, [NAME, "gradcam"]) == (3, (NAME, "gradcam"), None)


def test_a_registered_method_gets_its_title_in_the_figure(constant_method):
    from layerlens.figures import explanation_figure

    explanation = explain_constant(None, np.zeros((1, 6, 6, 1), np.float32), np.array([1]), 0, level=0.5)[0]
    figure = explanation_figure(np.zeros((6, 6, 1), np.uint8), explanation, class_names=["a", "b"])
    titles = [a.text for a in figure.layout.annotations]
    assert titles == ["image", "Constant <map>: red for b, blue against"]
    assert figure.layout.title.text == "Constant &lt;map&gt; explanation of class b"
    assert method_title(NAME) == TITLE


def test_a_registered_method_gets_its_caption_on_the_site(constant_method):
    from layerlens.site import _content

    assert _content.method_caption(NAME) == f"{TITLE}: {CAPTION}"
    assert _content.method_title(NAME) == TITLE


def test_a_registered_method_is_a_choice_of_the_command_line(constant_method):
    from layerlens.app.cli import _parser

    for command in (["analyze", "m.keras", "data", "--out", "run"], ["explain", "run", "m.keras", "--images", "1"]):
        args = _parser().parse_args([*command, "--explain-methods", NAME, "lime"])
        assert args.explain_methods == [NAME, "lime"]


def test_the_command_line_offers_the_registered_names_and_the_default(capsys):
    from layerlens.app.cli import _parser

    assert _parser().parse_args(["analyze", "m.keras", "data", "--out", "run"]).explain_methods == list(DEFAULT_METHODS)
    with pytest.raises(SystemExit):
        _parser().parse_args(["analyze", "m.keras", "data", "--out", "run", "--explain-methods", "shap"])
    error = capsys.readouterr().err
    assert "invalid choice: 'shap'" in error and all(name in error for name in METHODS)


# --------------------------------------------------------------------------------------------- the built-ins' texts


@pytest.mark.parametrize(
    ("name", "title", "caption"),
    [
        ("lime", "LIME", "superpixels that raised (red) or lowered (blue) the class's probability"),
        ("gradcam", "Grad-CAM", "where the last convolution's maps hold evidence for the class (red)"),
        ("integrated_gradients", "Integrated gradients", "pixels for (red) and against (blue) the class"),
        ("smoothgrad", "SmoothGrad", "pixels for (red) and against (blue) the class, averaged over noisy copies"),
        ("shap", "shap", "red for the class, blue against it"),
    ],
    ids=["lime", "gradcam", "integrated_gradients", "smoothgrad", "unregistered"],
)
def test_titles_and_captions_of_the_site(name, title, caption):
    from layerlens.site import _content

    assert _content.method_title(name) == title
    assert _content.method_caption(name) == f"{title}: {caption}"
