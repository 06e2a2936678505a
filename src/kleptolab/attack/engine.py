"""Execution engines: where the decryptor's units of work run (local processes or Dask).

A unit of work is a plain function ``fn(item, shared)`` of picklable data: one
capture to scan, one gateway to attack, one capture's ESP to decrypt
(:mod:`kleptolab.attack.pipeline`).  :meth:`Engine.map` yields
``(index, result)`` as units finish, in any order; ``shared`` (the trapdoor)
goes to each worker once, not inside every unit.

* ``local`` — a process pool on this machine (fork where available), started
  on first use and kept for the whole run; in-process for one worker or one unit.
* ``dask`` — Dask distributed (``pip install 'kleptolab[dask]'``): a running
  scheduler (``--scheduler tcp://HOST:PORT``) or a LocalCluster started once
  per run; ``shared`` is scattered to every worker (broadcast) once.  Workers
  may run several threads: the sweep kernel is per thread
  (:mod:`kleptolab.drbg._fastsweep`).  Captures and output folders must be
  reachable under the same paths on the workers (a shared filesystem).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

from kleptolab.attack.recovery import NonceCache, RecoveryJob, jobs_for, run_job
from kleptolab.drbg.trapdoor import Trapdoor

__all__ = [
    "ENGINES",
    "DaskEngine",
    "Engine",
    "EngineUnavailable",
    "LocalEngine",
    "make_engine",
    "recover_all",
]

ENGINES = ("local", "dask")
T = TypeVar("T")
R = TypeVar("R")


class EngineUnavailable(ValueError):
    """The requested engine is unknown or its package is not installed."""


class Engine(Protocol):
    """Runs units of work; ``workers`` is how many run at once."""

    name: str

    @property
    def workers(self) -> int: ...

    def map(
        self, fn: Callable[[T, Any], R], items: Sequence[T], shared: Any = None
    ) -> Iterator[tuple[int, R]]: ...

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]: ...

    def close(self) -> None: ...


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


class LocalEngine:
    """A process pool on this machine, kept for the run; in-process for one worker or one unit."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: Executor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def _executor(self) -> Executor:
        if self._pool is None:
            self._pool = _fork_pool(self._workers)
        return self._pool

    def map(
        self, fn: Callable[[T, Any], R], items: Sequence[T], shared: Any = None
    ) -> Iterator[tuple[int, R]]:
        if self._workers == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                yield i, fn(item, shared)
            return
        futures: dict[Future[R], int] = {
            self._executor().submit(fn, item, shared): i for i, item in enumerate(items)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]:
        """Sweep chunks of one nonce over the pool (one gateway in this process)."""
        for i, (_nonce, states) in self.map(_run_job, jobs):
            yield jobs[i], states

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _run_job(job: RecoveryJob, _shared: Any) -> tuple[bytes, list[int]]:
    return run_job(job)


class DaskEngine:
    """Dask distributed: a scheduler's workers, or a LocalCluster started once per run."""

    name = "dask"

    def __init__(
        self, workers: int, module: Any, scheduler: str | None = None, threads: int = 1
    ) -> None:
        self._requested = workers
        self._dist = module
        self.scheduler = scheduler
        self.threads = threads
        self._client: Any = None
        self._cluster: Any = None
        self._scattered: list[tuple[Any, Any]] = []  # (object, future): scattered once

    def client(self) -> Any:
        """The Dask client (connects or starts the LocalCluster on first use)."""
        if self._client is None:
            dist = self._dist
            if self.scheduler:
                self._client = dist.Client(self.scheduler, timeout="30s")
            else:
                self._cluster = dist.LocalCluster(
                    n_workers=self._requested,
                    threads_per_worker=self.threads,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=40,
                    host="127.0.0.1",
                )
                self._client = dist.Client(self._cluster)
        return self._client

    @property
    def workers(self) -> int:
        """Worker threads in the cluster (what runs at once)."""
        if self._client is None and not self.scheduler:
            return self._requested * self.threads
        return max(1, int(sum(self.client().nthreads().values())))

    def _share(self, shared: Any) -> Any:
        if shared is None:
            return None
        for obj, future in self._scattered:
            if obj is shared:
                return future
        # in a list: scattering a dict itself would scatter each of its values separately
        future = self.client().scatter([shared], broadcast=True, hash=False)[0]
        self._scattered.append((shared, future))
        return future

    def map(
        self, fn: Callable[[T, Any], R], items: Sequence[T], shared: Any = None
    ) -> Iterator[tuple[int, R]]:
        if not items:
            return
        client = self.client()
        data = self._share(shared)
        futures = {client.submit(fn, item, data, pure=False): i for i, item in enumerate(items)}
        for future in self._dist.as_completed(list(futures)):
            yield futures[future], future.result()

    def run(self, jobs: Sequence[RecoveryJob]) -> Iterator[tuple[RecoveryJob, list[int]]]:
        for i, (_nonce, states) in self.map(_run_job, jobs):
            yield jobs[i], states

    def close(self) -> None:
        self._scattered.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_engine(
    name: str = "local",
    workers: int | None = None,
    *,
    scheduler: str | None = None,
    threads: int = 1,
) -> Engine:
    """Build engine ``name`` with ``workers`` (default: all cores); ``scheduler`` only for Dask."""
    count = workers or os.cpu_count() or 1
    if count < 1:
        raise EngineUnavailable("workers must be at least 1")
    if threads < 1:
        raise EngineUnavailable("threads must be at least 1")
    if scheduler is not None and name != "dask":
        raise EngineUnavailable("--scheduler needs --engine dask")
    if name == "local":
        return LocalEngine(count)
    if name == "dask":
        try:
            module = importlib.import_module("dask.distributed")
        except ImportError:
            raise EngineUnavailable(
                "engine 'dask' needs the 'dask' package, which is not installed (pip install 'kleptolab[dask]')"
            ) from None
        return DaskEngine(count, module, scheduler, threads)
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def recover_all(
    nonces: Sequence[bytes],
    trapdoor: Trapdoor,
    engine: Engine,
    cache: NonceCache,
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
