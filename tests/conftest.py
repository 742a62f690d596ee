"""Shared fixtures: the repository root, a packaged real textured mesh, and tiny render settings."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def pybullet_data() -> Path:
    """The folder of real textured meshes shipped in the pybullet wheel (duck.obj + duckCM.png, ...)."""
    import pybullet_data as data

    return Path(data.getDataPath())
