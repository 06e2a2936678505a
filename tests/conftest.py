"""Shared fixtures: where the test data lives (inside the repository), and skip helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "tests" / "data"
"""Test vectors and reference captures, each source named in ``tests/data/README.md``."""
VECTORS = DATA / "vectors"
CAPTURES = DATA / "captures"


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
