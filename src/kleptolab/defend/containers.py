"""Bounded recursion into archives and compressed data for the scanner.

:func:`expand` yields every leaf below a file: members of zip/jar and tar
archives, and every compressed stream carved out of the data at any offset
(:mod:`kleptolab.defend.carve`: LZMA-alone with or without its size field,
xz, gzip, zlib, bzip2), recursively.  A ScreenOS download (magic 0xEE16BA81,
Phrack 66 file 5 §0x5) gets its body tried at the published offsets even
when its dictionary-size field is non-standard.  Each leaf comes with its
path, the steps joined by `` → ``: ``ssg5ssg20.6.3.0r20.0 → lzma@0x12C04``,
``bundle.tar.gz → gzip@0x0 → fw/a.bin``.  The raw bytes are a leaf too
unless one stream spans the whole buffer.

Every limit that is hit (depth, member size, total expanded bytes,
compression ratio, corrupt data) produces a warning and never an exception:
a defender's scan must not stop on one bad archive, nor run out of memory on
a decompression bomb.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from kleptolab.defend.carve import Carved, CarveLimits, carve, decode_at
from kleptolab.defend.engine import Buf, is_text

__all__ = ["SEP", "Budget", "Limits", "expand", "sniff"]

SEP = " → "
SCREENOS_MAGIC = b"\xee\x16\xba\x81"
SCREENOS_BODIES = (0x12C04, 0x12C00)  # LZMA header after the 4-byte word at 0x12C00, or at it

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
                self.warnings.append(
                    f"{where}: more than {self.limits.max_members} members, rest skipped"
                )
            return False
        if self.used + size > self.limits.max_total:
            self.warnings.append(
                f"{where}: skipped, expanding it would pass the {self.limits.max_total // MiB} MiB "
                "total limit for one input file"
            )
            return False
        self.used += size
        return True

    def carve_limits(self) -> CarveLimits:
        """What the next carved stream may expand to."""
        room = max(0, self.limits.max_total - self.used)
        return CarveLimits(min(self.limits.max_member, room), self.limits.max_ratio)


def sniff(data: Buf) -> str | None:
    """The container type of ``data`` from its magic bytes at offset 0, or ``None``."""
    head = bytes(data[:8])
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(SCREENOS_MAGIC):
        return "screenos"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma"
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
            inner = f"{where}{SEP}{info.filename}"
            if info.file_size > budget.limits.max_member:
                budget.warnings.append(
                    f"{inner}: skipped, {info.file_size} bytes is over the member limit"
                )
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
            inner = f"{where}{SEP}{member.name}"
            if member.size > budget.limits.max_member:
                budget.warnings.append(
                    f"{inner}: skipped, {member.size} bytes is over the member limit"
                )
                continue
            fh = tf.extractfile(member)
            if fh is None or not budget.take(inner, member.size):
                continue
            yield inner, fh.read()


def _screenos(where: str, data: Buf, budget: Budget) -> Carved | None:
    """The body of a download; ``None`` for an unpacked image (same magic, no body there)."""
    tried = False
    for offset in SCREENOS_BODIES:
        if len(data) > offset + 5 and data[offset] == 0x5D:
            tried = True
            found = decode_at(data, offset, "lzma", budget.carve_limits(), fix_dict=True)
            if found is not None:
                return found
    if tried:
        budget.warnings.append(
            f"{where}: ScreenOS image without a decodable LZMA body at "
            "0x12C00/0x12C04; carving the rest"
        )
    return None


def _streams(where: str, data: Buf, kind: str | None, budget: Budget) -> Iterator[Carved]:
    """The carved streams of ``data`` (ScreenOS body first), warnings into ``budget``."""
    skip = 0
    if kind == "screenos":
        body = _screenos(where, data, budget)
        if body is not None:
            skip = body.end
            yield body
    for item in carve(data, budget.carve_limits, skip_before=skip):
        if isinstance(item, str):
            budget.warnings.append(f"{where}: {item}")
            continue
        inner = f"{where}{SEP}{item.label}"
        if item.note is not None and item.note.startswith("dropped"):
            budget.warnings.append(f"{inner}: {item.note}")
            continue
        if item.note is not None and (item.offset == 0 or "limit" in item.note):
            budget.warnings.append(f"{inner}: {item.note}")
        yield item


def expand(where: str, data: Buf, budget: Budget, depth: int = 0) -> Iterator[tuple[str, Buf]]:
    """Yield the leaves below ``(where, data)``: archive members, carved streams, raw bytes.

    An archive that cannot be opened (corrupt, too deep) is yielded raw, with
    a warning, so its bytes are still scanned.
    """
    kind = sniff(data)
    if kind is not None and len(data) > budget.limits.max_total:
        budget.warnings.append(
            f"{where}: {kind} not opened, {len(data)} bytes is over the "
            f"{budget.limits.max_total // MiB} MiB expansion limit"
        )
        yield where, data
        return
    if depth >= budget.limits.max_depth:
        if kind is not None:
            budget.warnings.append(
                f"{where}: {kind} not opened, nesting deeper than {budget.limits.max_depth}"
            )
        yield where, data
        return
    if kind in ("zip", "tar"):
        raw = bytes(data)
        try:
            members = _zip(where, raw, budget) if kind == "zip" else _tar(where, raw, budget)
            for inner, inner_data in members:
                yield from expand(inner, inner_data, budget, depth + 1)
            return
        except (
            zipfile.BadZipFile,
            tarfile.TarError,
            OSError,
            EOFError,
            NotImplementedError,
            RuntimeError,
            ValueError,
        ) as exc:
            budget.warnings.append(
                f"{where}: {kind} container is corrupt or unsupported ({exc}); scanned as raw bytes"
            )
    whole = False
    # text holds no stream in practice (hand-made alphanumeric deflate aside)
    streams = iter(()) if is_text(data) else _streams(where, data, kind, budget)
    for stream in streams:
        if _bomb(
            f"{where}{SEP}{stream.label}", stream.end - stream.offset, len(stream.data), budget
        ):
            continue
        if not budget.take(f"{where}{SEP}{stream.label}", len(stream.data)):
            continue
        whole = whole or (stream.offset == 0 and stream.end >= len(data) - 64)
        yield from expand(f"{where}{SEP}{stream.label}", stream.data, budget, depth + 1)
    if not whole:
        yield where, data
