"""Run folders written by earlier layerlens versions load, and make a site, with the current code.

``tests/fixtures/runs/v1`` .. ``v4`` each hold one small run written by the last commit that wrote that run
format version, with ``fixture.json`` beside the run's own files: the version, the commit, the command and the
values the analysis had when it was saved. ``tests/fixtures/runs/make_fixture.py`` says how to regenerate one.
``v2-early`` is a version-2 run written by 10be06f, the first commit of version 2, before a758e7b added
fields to the format without a new version number; it loads as the version-1 runs do for those fields.

Only the top-level API is used (``ll.load``, ``ll.build_site`` and the loaded analysis' attributes). Each test
works on a copy of the fixture, so nothing the code under test does can change the fixtures.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import layerlens as ll

FIXTURES = Path(__file__).parent / "fixtures" / "runs"
FIXTURE_FILE = "fixture.json"
# The fixture folder and the format version its manifest must say.
FORMAT_VERSIONS = {"v1": 1, "v2": 2, "v3": 3, "v4": 4, "v2-early": 2}
VERSIONS = ["v1", "v2", "v3", "v4", "v2-early"]


def _fixture(version: str) -> dict:
    return json.loads((FIXTURES / version / FIXTURE_FILE).read_text(encoding="utf-8"))


def _copy(version: str, tmp_path: Path) -> Path:
    run = tmp_path / version
    shutil.copytree(FIXTURES / version, run)
    return run


def _digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) and the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("version", list(FORMAT_VERSIONS))
def test_fixture_is_the_version_it_claims(version: str) -> None:
    fixture = _fixture(version)
    manifest = json.loads((FIXTURES / version / "manifest.json").read_text(encoding="utf-8"))
    assert fixture["format_version"] == manifest["format_version"] == FORMAT_VERSIONS[version]
    assert len(fixture["commit"]) == 40


@pytest.mark.parametrize("version", VERSIONS)
def test_old_run_loads_with_its_values(version: str, tmp_path: Path) -> None:
    expected = _fixture(version)["expected"]
    a = ll.load(_copy(version, tmp_path))

    n = expected["n_images"]
    class_names = expected["class_names"]
    assert len(a.predictions) == n
    assert len(a.paths) == n
    assert list(a.class_names) == class_names
    assert [int(p) for p in a.predictions] == expected["predictions"]
    assert list(a.paths["predicted"].astype(str)) == [class_names[p] for p in expected["predictions"]]
    assert list(a.paths["true"].astype(str)) == [class_names[t] for t in expected["labels"]]
    assert a.metrics.accuracy == pytest.approx(expected["accuracy"], abs=1e-12)
    assert [layer.name for layer in a.layers] == expected["layers"]
    assert {layer.name: int(layer.clusters.k) for layer in a.layers} == expected["k"]
    assert list(a.paths["path"].iloc[:5].astype(str)) == expected["first_paths"]

    assert len(a.explanations) == expected["n_explanations"]
    assert sorted({int(e.image_index) for e in a.explanations}) == expected["explained_images"]
    assert [
        {"image": int(e.image_index), "method": e.method, "target": int(e.target)} for e in a.explanations
    ] == expected["explanations"]


@pytest.mark.parametrize("version", VERSIONS)
def test_loading_writes_nothing(version: str, tmp_path: Path) -> None:
    run = _copy(version, tmp_path)
    before = _digest(run)
    ll.load(run)
    assert _digest(run) == before


@pytest.mark.parametrize("version", VERSIONS)
def test_old_run_builds_a_site(version: str, tmp_path: Path) -> None:
    run = ll.load(_copy(version, tmp_path))
    index = ll.build_site([run], out=tmp_path / "site")
    assert Path(index).is_file()
