"""The repository and its packaging keep the promises the code relies on."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_scikit_learn_floor_has_the_pca_solver_we_use():
    # layerlens.layers._clusters uses PCA(svd_solver="covariance_eigh"), added in scikit-learn 1.5.
    (spec,) = re.findall(r'"scikit-learn>=\s*(\d+)\.(\d+)', (ROOT / "pyproject.toml").read_text())
    assert tuple(int(x) for x in spec) >= (1, 5), spec


def test_nothing_in_the_repository_points_outside_it():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.split():
        path = ROOT / name
        if path == Path(__file__).resolve():
            continue  # this file names the folder it looks for
        if path.suffix in {".py", ".md", ".toml", ".cfg", ".txt", ".html", ".yml", ""} and path.is_file():
            if "../shared" in path.read_text(errors="ignore"):
                offenders.append(name)
    assert offenders == []


def test_the_wheel_carries_the_site_templates_and_builds_a_site_from_an_installed_copy(tmp_path, site_runs):
    import sys
    import zipfile

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("layerlens-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "site_templates").rglob("*") if p.is_file()}
    assert {"layerlens/" + t for t in templates} <= names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "layerlens").rglob("*.py")}
    assert sources <= names  # every subpackage is listed in pyproject.toml

    installed = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(installed), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import layerlens, layerlens.site._templates as t\n"
        f"assert layerlens.__file__.startswith({str(installed)!r}), layerlens.__file__\n"
        f"assert str(t.templates_folder()).startswith({str(installed)!r})\n"
        f"print(layerlens.build_site({str(site_runs[1])!r}, out={str(tmp_path / 'site')!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(installed)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "runs" / "01-digits-unlabelled" / "index.html").is_file()
