"""Shared fixtures for the lab tests: one default demo run, reused by several test modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kleptolab.lab.demo import DemoOptions, DemoOutcome, run_demo


def socket_fds() -> int:
    """How many sockets this process holds open (Linux /proc)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoOutcome, int, int]:
    """The default scenario, run in-process once: (outcome, sockets before, sockets after)."""
    out: Path = tmp_path_factory.mktemp("demo-default") / "out"
    before = socket_fds()
    outcome = run_demo(DemoOptions(out=out, scenario="default", seed=7, workers=2))
    return outcome, before, socket_fds()
