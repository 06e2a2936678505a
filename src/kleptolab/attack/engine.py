"""Execution engines for state recovery: local process pool (default), Ray or Dask.

An engine runs :class:`~kleptolab.attack.recovery.RecoveryJob` s and yields
``(job, states)`` as they finish, in any order.  ``local`` with one worker
runs in this process.  Ray and Dask are used only when importable; they are
not dependencies of kleptolab.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from kleptolab.attack.recovery import RecoveryJob, StateCache, jobs_for, run_job
from kleptolab.drbg.trapdoor import Trapdoor

__all__ = ["ENGINES", "Engine", "EngineUnavailable", "make_engine", "recover_all"]

ENGINES = ("local", "ray", "dask")


class EngineUnavailable(ValueError):
    """The requested engine is unknown or its package is not installed."""


class Engine(Protocol):
    """Runs recovery jobs; yields each job with its candidate states as it completes."""

    name: str
    workers: int

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]: ...


class LocalEngine:
    """A process pool on this machine (fork where available); in-process for one worker."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]:
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, run_job(job)[1]
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()[1]


class RayEngine:
    """Ray tasks (``ray.init()`` connects to a running cluster or starts a local one)."""

    name = "ray"

    def __init__(self, workers: int, module: Any) -> None:
        self.workers = workers
        self._ray = module

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]:
        ray = self._ray
        if not ray.is_initialized():
            ray.init(num_cpus=self.workers, ignore_reinit_error=True)
        remote = ray.remote(run_job)
        refs = {remote.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], ray.get(ref)[1]


class DaskEngine:
    """Dask distributed (a local cluster unless ``DASK_SCHEDULER_ADDRESS`` is set)."""

    name = "dask"

    def __init__(self, workers: int, module: Any) -> None:
        self.workers = workers
        self._distributed = module

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]:
        dist = self._distributed
        address = os.environ.get("DASK_SCHEDULER_ADDRESS")
        with dist.Client(address) if address else dist.Client(n_workers=self.workers) as client:
            futures = {client.submit(run_job, job, pure=False): job for job in jobs}
            for future in dist.as_completed(list(futures)):
                yield futures[future], future.result()[1]


def make_engine(name: str = "local", workers: int | None = None) -> Engine:
    """Build engine ``name`` with ``workers`` (default: all cores)."""
    count = workers or os.cpu_count() or 1
    if count < 1:
        raise EngineUnavailable("workers must be at least 1")
    if name == "local":
        return LocalEngine(count)
    if name in ("ray", "dask"):
        package = "ray" if name == "ray" else "dask.distributed"
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise EngineUnavailable(
                f"engine {name!r} needs the {package.split('.')[0]!r} package, which is not installed"
            ) from None
        return RayEngine(count, module) if name == "ray" else DaskEngine(count, module)
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def recover_all(
    nonces: Sequence[bytes],
    trapdoor: Trapdoor,
    engine: Engine,
    cache: StateCache,
    *,
    quirk_shifts: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[bytes, list[int]]:
    """Candidate states for every distinct 32-byte nonce, using and filling ``cache``."""
    todo = [n for n in dict.fromkeys(nonces) if n not in cache]
    data = trapdoor.to_json()
    chunks = 1 if engine.workers == 1 else max(1, 4 * engine.workers // max(1, len(todo)))
    jobs = [job for n in todo for job in jobs_for(n, data, chunks, quirk_shifts)]
    found: dict[bytes, set[int]] = {n: set() for n in todo}
    left = {n: sum(1 for j in jobs if j.nonce == n) for n in todo}
    total, done = sum(j.size for j in jobs), 0
    for job, states in engine.run(jobs):
        found[job.nonce].update(states)
        left[job.nonce] -= 1
        if left[job.nonce] == 0:
            cache.put(job.nonce, sorted(found[job.nonce]))
        done += job.size
        if progress is not None:
            progress(done, total)
    return {n: cache.get(n) or [] for n in dict.fromkeys(nonces)}
