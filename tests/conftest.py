"""Shared fixtures: tiny data and models, built once per test session, CPU only."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def faces_model():
    """The faces example model (single sigmoid unit), trained once: about 3 s."""
    from layerlens import zoo

    return zoo.train_example("faces", seed=0)
