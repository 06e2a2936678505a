"""Bounded recursion into archives and compressed data for the scanner.

:func:`expand` yields every member of a zip/jar, tar, gzip, bzip2 or xz
container (recursively), each with its path inside the outer file written
``outer!/inner``; plain data is yielded as is.  Every limit that is hit (depth, member
size, total expanded bytes, compression ratio, corrupt data) produces a
warning and never an exception: a defender's scan must not stop on one bad
archive, nor run out of memory on a zip bomb.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from kleptolab.defend.engine import Buf

__all__ = ["Budget", "Limits", "expand", "sniff"]

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How far the scanner unpacks (all sizes in bytes, after decompression)."""

    max_depth: int = 4
    max_member: int = 256 * MiB
    max_total: int = 1024 * MiB
    max_ratio: int = 200  # compressed:expanded; above it (and > 1 MiB) a member is a bomb
    max_members: int = 100_000


@dataclass
class Budget:
    """What one top-level file may still expand to; warnings collect here."""

    limits: Limits
    used: int = 0
    members: int = 0
    warnings: list[str] = field(default_factory=list)

    def take(self, where: str, size: int) -> bool:
        """Reserve ``size`` bytes for ``where``; ``False`` (plus a warning) when over budget."""
        self.members += 1
        if self.members > self.limits.max_members:
            if self.members == self.limits.max_members + 1:
                self.warnings.append(f"{where}: more than {self.limits.max_members} members, rest skipped")
            return False
        if self.used + size > self.limits.max_total:
            self.warnings.append(
                f"{where}: skipped, expanding it would pass the {self.limits.max_total // MiB} MiB "
                "total limit for one input file"
            )
            return False
        self.used += size
        return True


def sniff(data: Buf) -> str | None:
    """The container type of ``data`` from its magic bytes, or ``None``."""
    head = bytes(data[:8])
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(data) > 262 and bytes(data[257:262]) == b"ustar":
        return "tar"
    return None


def _bomb(where: str, packed: int, size: int, budget: Budget) -> bool:
    if size > MiB and size > budget.limits.max_ratio * max(packed, 1):
        budget.warnings.append(
            f"{where}: skipped, expands {packed} -> {size} bytes "
            f"(ratio > {budget.limits.max_ratio}:1, possible decompression bomb)"
        )
        return True
    return False


def _zip(where: str, data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            inner = f"{where}!/{info.filename}"
            if info.file_size > budget.limits.max_member:
                budget.warnings.append(f"{inner}: skipped, {info.file_size} bytes is over the member limit")
                continue
            if _bomb(inner, info.compress_size, info.file_size, budget):
                continue
            if not budget.take(inner, info.file_size):
                continue
            with zf.open(info) as fh:
                yield inner, fh.read(budget.limits.max_member)


def _tar(where: str, data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for member in tf:
            if not member.isfile():
                continue
            inner = f"{where}!/{member.name}"
            if member.size > budget.limits.max_member:
                budget.warnings.append(f"{inner}: skipped, {member.size} bytes is over the member limit")
                continue
            fh = tf.extractfile(member)
            if fh is None or not budget.take(inner, member.size):
                continue
            yield inner, fh.read()


def _stream(kind: str, where: str, data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    limit = budget.limits.max_member
    if kind == "gzip":
        gz = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out, eof = gz.decompress(data, limit + 1), gz.eof
    elif kind == "bzip2":
        bz = bz2.BZ2Decompressor()
        out, eof = bz.decompress(data, limit + 1), bz.eof
    else:
        xz = lzma.LZMADecompressor()
        out, eof = xz.decompress(data, limit + 1), xz.eof
    inner = f"{where}!/<{kind}>"
    if len(out) > limit:
        budget.warnings.append(f"{inner}: truncated at the {limit // MiB} MiB member limit")
        out = out[:limit]
    elif not eof:
        budget.warnings.append(f"{inner}: compressed stream is truncated or corrupt")
    if _bomb(inner, len(data), len(out), budget) or not budget.take(inner, len(out)):
        return
    yield inner, out


def expand(where: str, data: Buf, budget: Budget, depth: int = 0) -> Iterator[tuple[str, Buf]]:
    """Yield the leaves below ``(where, data)``: plain data as is, containers as members.

    A container that cannot be opened (corrupt, too deep) is yielded raw, with
    a warning, so its bytes are still scanned.
    """
    kind = sniff(data)
    if kind is None:
        yield where, data
        return
    if len(data) > budget.limits.max_total:
        budget.warnings.append(f"{where}: {kind} not opened, {len(data)} bytes is over the "
                               f"{budget.limits.max_total // MiB} MiB expansion limit")
        yield where, data
        return
    if depth >= budget.limits.max_depth:
        budget.warnings.append(f"{where}: {kind} not opened, nesting deeper than {budget.limits.max_depth}")
        yield where, data
        return
    raw = bytes(data)
    try:
        if kind == "zip":
            members = _zip(where, raw, budget)
        elif kind == "tar":
            members = _tar(where, raw, budget)
        else:
            members = _stream(kind, where, raw, budget)
        for inner, inner_data in members:
            yield from expand(inner, inner_data, budget, depth + 1)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, OSError, EOFError, lzma.LZMAError,
            NotImplementedError, RuntimeError, ValueError) as exc:
        budget.warnings.append(f"{where}: {kind} container is corrupt or unsupported ({exc}); "
                               "scanned as raw bytes")
        yield where, data
