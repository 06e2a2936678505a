"""The whole pipeline on Dask: a LocalCluster, and a real scheduler with two 2-thread workers on
127.0.0.1, each giving exactly the local engine's results (timings aside)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kleptolab.attack.engine import make_engine
from kleptolab.attack.pipeline import ManyResult, decrypt_many
from kleptolab.attack.store import StateStore

from . import test_mass
from .synth_mass import MassGateway
from .test_mass import OPTIONS, ROOT, TRAPDOOR, comparable

mass = test_mass.mass  # the same fixtures (instantiated again for this module)
local_run = test_mass.local_run

distributed = pytest.importorskip(
    "distributed", reason="Dask is an optional extra: pip install 'kleptolab[dask]'"
)

pytestmark = pytest.mark.timeout(300)


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
    }


def test_local_cluster_matches_the_local_engine(
    mass: tuple[list[Path], list[MassGateway], Path], local_run: tuple[ManyResult, StateStore]
) -> None:
    paths, _, _ = mass
    engine = make_engine("dask", 2, threads=2)  # two worker processes, two threads each
    try:
        run = decrypt_many(list(reversed(paths)), TRAPDOOR, engine, StateStore(), OPTIONS)
    finally:
        engine.close()
    assert comparable(run) == comparable(local_run[0])


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes (2 threads each) on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dask",
                "scheduler",
                "--port",
                "0",
                "--scheduler-file",
                str(file),
                *common,
            ],
            env=_env(),
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "dask",
                        "worker",
                        address,
                        "--nthreads",
                        "2",
                        "--nworkers",
                        "1",
                        "--memory-limit",
                        "0",
                        *common,
                    ],
                    env=_env(),
                    cwd=folder,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        assert all(p.returncode is not None for p in procs)


def test_scheduler_with_two_workers_matches_the_local_engine(
    mass: tuple[list[Path], list[MassGateway], Path],
    local_run: tuple[ManyResult, StateStore],
    scheduler: str,
) -> None:
    paths, _, _ = mass
    engine = make_engine("dask", scheduler=scheduler)
    try:
        assert engine.workers == 4  # 2 workers x 2 threads
        run = decrypt_many(list(reversed(paths)), TRAPDOOR, engine, StateStore(), OPTIONS)
    finally:
        engine.close()
    assert comparable(run) == comparable(local_run[0])


def test_cli_on_the_scheduler(
    mass: tuple[list[Path], list[MassGateway], Path],
    local_run: tuple[ManyResult, StateStore],
    scheduler: str,
    tmp_path: Path,
) -> None:
    paths, _, _ = mass
    key = tmp_path / "trapdoor.json"
    key.write_text(json.dumps(TRAPDOOR.to_json()))
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleptolab",
            "decrypt",
            *map(str, paths[:3]),
            "--trapdoor",
            str(key),
            "-o",
            str(out),
            "--psk",
            "correct horse battery staple",
            "--engine",
            "dask",
            "--scheduler",
            scheduler,
            "--state-cache",
            str(local_run[1].path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    merged = json.loads((out / "report.json").read_text())
    assert (
        merged["sweeps"] == 0
        and merged["sessions_decrypted"] == 6
        and merged["esp_decrypted"] == 24
    )
