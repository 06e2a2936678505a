"""Scan files and directory trees for Dual EC constants and backdoor strings.

:func:`scan_paths` walks the given paths (directories recursively, symlinks
not followed), memory-maps each regular file, unpacks containers within the
:class:`~kleptolab.defend.containers.Limits`, runs an engine on every leaf and
returns a :class:`ScanResult`.  Unreadable files and bad archives become
warnings, never exceptions.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kleptolab.defend.containers import SEP, Budget, Limits, expand
from kleptolab.defend.engine import Buf, Hit, scan_buffer

__all__ = ["ENGINES", "Finding", "ScanResult", "iter_files", "scan_bytes", "scan_paths"]


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
    """Regular files under ``paths`` in a stable order; missing paths become warnings."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.is_file() and not candidate.is_symlink():
                        yield candidate
        else:
            warnings.append(f"{path}: no such file or directory")


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


def scan_paths(paths: Iterable[Path | str], *, engine: str = "python", thorough: bool = True,
               limits: Limits | None = None,
               on_file: Callable[[Path, int], None] | None = None) -> ScanResult:
    """Scan every file under ``paths``; ``on_file(path, size)`` is called after each file."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    result = ScanResult()
    started = time.perf_counter()
    for path in iter_files([Path(p) for p in paths], result.warnings):
        try:
            size = path.stat().st_size
            if size:
                with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    scan_bytes(str(path), mm, engine=engine, thorough=thorough, limits=limits,
                               result=result)
        except OSError as exc:
            result.warnings.append(f"{path}: cannot read ({exc.strerror or exc})")
            continue
        result.files += 1
        result.bytes += size
        if on_file is not None:
            on_file(path, size)
    result.seconds = time.perf_counter() - started
    return result
