"""Shared lab repositories: one per scenario, built once per session with one lab trapdoor."""

from __future__ import annotations

import pytest

from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor
from kleptolab.supplychain.audit import AuditResult, run_audit
from kleptolab.supplychain.make import LabRepo, create_lab
from tests.conftest import require_tool


@pytest.fixture(scope="session")
def trapdoor() -> Trapdoor:
    return generate_trapdoor()


@pytest.fixture(scope="session")
def labs(tmp_path_factory: pytest.TempPathFactory, trapdoor: Trapdoor) -> dict[str, LabRepo]:
    require_tool("git")
    root = tmp_path_factory.mktemp("supplychain")
    return {
        s: create_lab(root / s, root / f"{s}-images", trapdoor.q, s)
        for s in ("insider", "build-server", "rewrite", "clean")
    }


@pytest.fixture(scope="session")
def audits(labs: dict[str, LabRepo]) -> dict[str, AuditResult]:
    return {s: run_audit(lab.path, lab.images) for s, lab in labs.items()}
