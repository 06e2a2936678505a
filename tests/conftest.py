"""Shared fixtures: where the shared reference data lives, and skip helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KLEPTOLAB_SHARED", REPO_ROOT.parent / "shared"))
VECTORS = SHARED / "vectors"
CAPTURES = SHARED / "captures"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the checkout (vectors, captures, reference)."""
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set KLEPTOLAB_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def vectors_dir(shared_dir: Path) -> Path:
    return shared_dir / "vectors"


@pytest.fixture(scope="session")
def captures_dir(shared_dir: Path) -> Path:
    return shared_dir / "captures"


def require_tool(name: str) -> str:
    """Return the path of ``name`` or skip the test with a clear reason."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it via .ci/run)")
    return path


def require_root() -> None:
    """Skip unless running as root (needed for network namespaces)."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
