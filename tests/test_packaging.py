"""The repository and its packaging keep the promises the code relies on."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_scikit_learn_floor_has_the_pca_solver_we_use():
    # layerlens.cluster uses PCA(svd_solver="covariance_eigh"), added in scikit-learn 1.5.
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
