"""Scan files and directory trees for Dual EC constants and backdoor strings.

:func:`scan_paths` walks the given paths (:mod:`kleptolab.defend.walk`:
directories recursively, symlinks not followed, special files skipped),
reads each regular file (never ``mmap``: a file that shrinks under a mapping
kills the process with SIGBUS), unpacks archives and carves compressed
streams within the :class:`~kleptolab.defend.containers.Limits`, runs an
engine on every leaf and returns a :class:`ScanResult`.  Big trees are
scanned by a pool of worker processes (one per core) in batches of files;
results keep the walk order.  Unreadable files and directories and bad
archives become warnings, never exceptions.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from kleptolab.defend.containers import SEP, Budget, Limits, expand
from kleptolab.defend.engine import Buf, Hit, scan_buffer
from kleptolab.defend.walk import FileRef, read_windows, walk

__all__ = ["ENGINES", "Finding", "ScanResult", "default_jobs", "iter_files", "scan_bytes", "scan_paths"]

MIN_SIZE = 16  # the shortest reportable match (a partial binary layout) is 16 bytes
BATCH_FILES = 256
BATCH_BYTES = 32 << 20
PARALLEL_MIN_BYTES = 64 << 20  # below this a tree is scanned in-process


def _yara(buf: Buf, *, thorough: bool = True) -> list[Hit]:
    from kleptolab.defend.yara_rules import scan_buffer_yara

    return scan_buffer_yara(buf, thorough=thorough)


class Engine(Protocol):
    """A scan engine: one buffer in, hits out."""

    def __call__(self, buf: Buf, *, thorough: bool = ...) -> list[Hit]: ...


ENGINES: dict[str, Engine] = {"python": scan_buffer, "yara": _yara}


@dataclass(frozen=True)
class Finding:
    """A hit located in a file (``inner`` is the path inside an archive, if any)."""

    path: str
    inner: str | None
    hit: Hit

    @property
    def location(self) -> str:
        """``path`` or ``path → lzma@0x12C04 → member``."""
        return self.path if self.inner is None else f"{self.path}{SEP}{self.inner}"

    @property
    def trail(self) -> str:
        """The location down to the hit: ``path → lzma@0x12C04 → offset 0x4253``."""
        return f"{self.location}{SEP}offset 0x{self.hit.offset:X}"

    def to_json(self) -> dict[str, Any]:
        """A flat JSON object (stable keys, used by the JSON and SARIF writers)."""
        h = self.hit
        return {
            "path": self.path,
            "inner": self.inner,
            "trail": self.trail,
            "offset": h.offset,
            "length": h.length,
            "constant": h.constant.id if h.constant else None,
            "curve": h.curve,
            "role": h.role,
            "verdict": h.verdict.value,
            "variant": h.variant,
            "confidence": h.confidence,
            "partial": h.partial,
            "context": list(h.context),
            "value": h.value,
            "source": h.constant.source if h.constant else None,
        }


@dataclass
class ScanResult:
    """Everything one scan produced."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def mib_per_s(self) -> float:
        """Throughput over the top-level bytes read."""
        return self.bytes / (1 << 20) / self.seconds if self.seconds > 0 else 0.0


def iter_files(paths: Iterable[Path], warnings: list[str]) -> Iterator[Path]:
    """Regular files under ``paths`` in a stable order; the rest become warnings."""
    for ref in walk([str(p) for p in paths], warnings):
        yield Path(ref.path)


def _split(location: str, top: str) -> str | None:
    return None if location == top else location[len(top) + len(SEP) :]


def scan_bytes(name: str, data: Buf, *, engine: str = "python", thorough: bool = True,
               limits: Limits | None = None, result: ScanResult | None = None) -> ScanResult:
    """Scan one buffer (and the containers in it) as if it were the file ``name``."""
    out = result if result is not None else ScanResult()
    budget = Budget(limits or Limits())
    run = ENGINES[engine]
    for location, leaf in expand(name, data, budget):
        for hit in run(leaf, thorough=thorough):
            out.findings.append(Finding(name, _split(location, name), hit))
    out.warnings.extend(budget.warnings)
    return out


def _scan_file(ref: FileRef, engine: str, thorough: bool, limits: Limits | None,
               out: ScanResult) -> bool:
    """Scan one file into ``out``; ``False`` when it could not be read at all."""
    if ref.size < MIN_SIZE:
        return True
    seen: set[tuple[int, str, str]] = set()
    try:
        for window in read_windows(ref, out.warnings):
            part = scan_bytes(ref.path, window.data, engine=engine, thorough=thorough,
                              limits=limits)
            out.warnings.extend(part.warnings)
            for f in part.findings:
                if f.inner is not None:
                    if window.offset:
                        f = Finding(f.path, f"window@0x{window.offset:X}{SEP}{f.inner}", f.hit)
                    out.findings.append(f)
                    continue
                hit = replace(f.hit, offset=f.hit.offset + window.offset)
                if _key(hit) not in seen:
                    seen.add(_key(hit))
                    out.findings.append(Finding(f.path, None, hit))
    except OSError as exc:
        out.warnings.append(f"{ref.path}: cannot read ({exc.strerror or exc})")
        return False
    return True


def _key(hit: Hit) -> tuple[int, str, str]:
    return (hit.offset, hit.constant.id if hit.constant else "?", hit.variant)


@dataclass
class _Batch:
    result: ScanResult
    done: list[tuple[str, int]]


def _scan_batch(refs: list[FileRef], engine: str, thorough: bool,
                limits: Limits | None) -> _Batch:
    batch = _Batch(ScanResult(), [])
    for ref in refs:
        if _scan_file(ref, engine, thorough, limits, batch.result):
            batch.result.files += 1
            batch.result.bytes += ref.size
            batch.done.append((ref.path, ref.size))
    return batch


def _batches(refs: Iterator[FileRef]) -> Iterator[list[FileRef]]:
    batch: list[FileRef] = []
    size = 0
    for ref in refs:
        batch.append(ref)
        size += ref.size
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _merge(result: ScanResult, batch: _Batch,
           on_file: Callable[[Path, int], None] | None) -> None:
    result.findings.extend(batch.result.findings)
    result.warnings.extend(batch.result.warnings)
    result.files += batch.result.files
    result.bytes += batch.result.bytes
    if on_file is not None:
        for path, size in batch.done:
            on_file(Path(path), size)


def _warm() -> None:
    from kleptolab.defend.patterns import pattern_index

    pattern_index()


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def scan_paths(paths: Iterable[Path | str], *, engine: str = "python", thorough: bool = True,
               limits: Limits | None = None,
               on_file: Callable[[Path, int], None] | None = None,
               jobs: int | None = None) -> ScanResult:
    """Scan every file under ``paths``; ``on_file(path, size)`` is called after each file.

    ``jobs`` worker processes (default: one per core) share the files of
    trees of 64 MiB or more; results come back in walk order.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    workers = default_jobs() if jobs is None else jobs
    if workers < 1:
        raise ValueError(f"jobs must be at least 1, not {workers}")
    result = ScanResult()
    started = time.perf_counter()
    batches = _batches(walk([str(p) for p in paths], result.warnings))
    head: list[list[FileRef]] = []
    head_bytes = 0
    for batch in batches:  # look ahead: small inputs are not worth a process pool
        head.append(batch)
        head_bytes += sum(r.size for r in batch)
        if workers > 1 and head_bytes >= PARALLEL_MIN_BYTES:
            break
    if workers == 1 or head_bytes < PARALLEL_MIN_BYTES:
        for batch in head:
            _merge(result, _scan_batch(batch, engine, thorough, limits), on_file)
    else:
        _run_pool(head, batches, workers, (engine, thorough, limits), result, on_file)
    result.seconds = time.perf_counter() - started
    return result


def _run_pool(head: list[list[FileRef]], rest: Iterator[list[FileRef]], workers: int,
              args: tuple[str, bool, Limits | None], result: ScanResult,
              on_file: Callable[[Path, int], None] | None) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["kleptolab.defend.scan"])
    pending: deque[Future[_Batch]] = deque()

    def all_batches() -> Iterator[list[FileRef]]:
        yield from head
        yield from rest

    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_warm) as pool:
        for batch in all_batches():
            pending.append(pool.submit(_scan_batch, batch, *args))
            while len(pending) > 3 * workers or (pending and pending[0].done()):
                _merge(result, pending.popleft().result(), on_file)
        while pending:
            _merge(result, pending.popleft().result(), on_file)
