"""Carve compressed streams out of a buffer at any offset, bounded.

The way binwalk finds a ScreenOS body (its generic LZMA signature: the
properties byte, a dictionary size, then a dry-run decode; binwalk v3
``src/signatures/lzma.rs``) rather than by knowing the container.  Our own
carver on the standard library, not binwalk or unblob: those are external
tools with native dependencies that write extraction trees to disk, while a
scanner needs in-memory streams, a byte budget and a path to report.

Candidates come from ``rfind`` loops on short magic needles (C speed,
about 2 GB/s on high-entropy data) and a compiled regex for the 2-byte zlib
headers; each is checked cheaply before any real decoding:

* ``lzma``: LZMA-alone, properties byte 0x5D (lc=3, lp=0, pb=2, what
  ``lzma``/``xz --format=lzma`` write), a dictionary size of 2^n or
  2^n + 2^(n-1) between 4 KiB and 1 GiB, then either the 8-byte
  uncompressed size (-1 or < 2^40) or none at all (ScreenOS, Phrack 66
  §0x5); the first data byte is 0 (range coder init);
* ``xz``: ``FD 37 7A 58 5A 00``; ``gzip``: ``1F 8B 08`` with the reserved flag
  bits clear; ``bzip2``: ``BZh1``-``BZh9`` followed by the block magic
  ``31 41 59 26 53 59``; ``zlib``: ``78 01/5E/9C/DA``.

A candidate is decoded with ``max_length`` limits in 256 KiB input steps; it
is kept when it reaches its end marker (>= 16 bytes out), or gives >= 4 KiB
before its input runs out or turns to garbage (the harmless error at the end
of a ScreenOS body).  Output is capped (member and total budget) and a stream
that expands more than the ratio limit past 1 MiB is dropped as a bomb.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from kleptolab.defend.engine import Buf

__all__ = ["CarveLimits", "Carved", "candidates", "carve", "decode_at"]

MiB = 1 << 20
STEP = 256 * 1024
OUT_STEP = 4 * MiB
MIN_COMPLETE = 16
MIN_PARTIAL = 4096
_ZLIB = re.compile(rb"\x78[\x01\x5e\x9c\xda]")
_NEEDLES = (
    (b"\x5d\x00\x00", "lzma"),
    (b"\xfd7zXZ", "xz"),  # the trailing 00 is checked after: a NUL in the needle is slow
    (b"\x1f\x8b\x08", "gzip"),
    (b"1AY&SY", "bzip2"),
)
_DICT_SIZES = frozenset(size for n in range(12, 31) for size in (1 << n, (1 << n) | (1 << (n - 1))))


@dataclass(frozen=True)
class CarveLimits:
    """Output bounds of one decode: ``cap`` bytes at most, ``ratio``:1 at most past 1 MiB."""

    cap: int
    ratio: int


@dataclass(frozen=True)
class Carved:
    """One decoded stream: ``kind`` at ``offset`` spanning ``end - offset`` input bytes.

    ``note`` says why it is incomplete (truncated input, corrupt tail, output cap, bomb).
    """

    kind: str
    offset: int
    end: int
    data: bytes
    complete: bool
    note: str | None = None

    @property
    def label(self) -> str:
        """``lzma@0x12C04``-style path element."""
        return f"{self.kind}@0x{self.offset:X}"


class _Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...

    @property
    def eof(self) -> bool: ...


def _positions(buf: Buf, needle: bytes) -> list[int]:
    out: list[int] = []
    pos = buf.rfind(needle)
    while pos != -1:
        out.append(pos)
        pos = buf.rfind(needle, 0, pos + len(needle) - 1) if pos > 0 else -1
    return out


def _lzma_ok(buf: Buf, pos: int) -> bool:
    dict_size = int.from_bytes(buf[pos + 1 : pos + 5], "little")
    if dict_size not in _DICT_SIZES:
        return False
    size = buf[pos + 5 : pos + 13]
    with_size = (size == b"\xff" * 8 or size[5:] == b"\x00\x00\x00") and _byte(buf, pos + 13) == 0
    return with_size or _byte(buf, pos + 5) == 0


def _byte(buf: Buf, i: int) -> int:
    return buf[i] if 0 <= i < len(buf) else -1


def candidates(buf: Buf) -> list[tuple[int, str]]:
    """Offsets that pass the cheap header checks, with their kind, in offset order."""
    found: list[tuple[int, str]] = []
    for needle, kind in _NEEDLES:
        for pos in _positions(buf, needle):
            if kind == "lzma":
                ok = _lzma_ok(buf, pos)
            elif kind == "xz":
                ok = _byte(buf, pos + 5) == 0
            elif kind == "gzip":
                ok = _byte(buf, pos + 3) & 0xE0 == 0
            elif kind == "bzip2":
                pos -= 4
                ok = pos >= 0 and buf[pos : pos + 3] == b"BZh" and 0x31 <= buf[pos + 3] <= 0x39
            else:
                ok = True
            if ok:
                found.append((pos, kind))
    for match in _ZLIB.finditer(buf):
        pos = match.start()
        found.append((pos, "zlib"))
    found.sort()
    return found


def _lzma_header(buf: Buf, pos: int, sized: bool, fix_dict: bool) -> bytes:
    props, dict_field = bytes(buf[pos : pos + 1]), bytes(buf[pos + 1 : pos + 5])
    if fix_dict and int.from_bytes(dict_field, "little") not in _DICT_SIZES:
        dict_field = (1 << 23).to_bytes(4, "little")  # what Phrack 66 §0x5 did by hand
    size = bytes(buf[pos + 5 : pos + 13]) if sized else b"\xff" * 8
    return props + dict_field + size


def _run(
    dec: _Decoder, buf: Buf, start: int, head: bytes, limits: CarveLimits, zlib_style: bool
) -> tuple[bytes, int, bool, str | None]:
    """Feed ``head`` + ``buf[start:]`` in steps; (output, input end, complete, note)."""
    out = bytearray()
    pos = start
    feed = head
    need_input = True
    while True:
        if need_input:
            chunk = bytes(buf[pos : pos + STEP])
            pos += len(chunk)
            if not chunk and not feed:
                return bytes(out), pos, False, "input ends before the end of the stream"
            feed += chunk
        try:
            piece = dec.decompress(feed, min(OUT_STEP, limits.cap + 1 - len(out)))
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            return bytes(out), pos, False, f"corrupt after {len(out)} bytes ({exc})"
        out += piece
        tail = dec.unconsumed_tail if zlib_style else b""  # type: ignore[attr-defined]
        if dec.eof:
            unused = len(dec.unused_data)  # type: ignore[attr-defined]
            return bytes(out), pos - unused - len(tail), True, None
        if len(out) > limits.cap:
            del out[limits.cap :]
            return bytes(out), pos, False, f"truncated at the {limits.cap // MiB} MiB member limit"
        used = max(pos - start, 1)
        if len(out) > MiB and len(out) > limits.ratio * used:
            return (
                b"",
                pos,
                False,
                (
                    f"dropped: expands {used} -> {len(out)}+ bytes (ratio > "
                    f"{limits.ratio}:1, possible decompression bomb)"
                ),
            )
        if zlib_style:
            feed, need_input = tail, not tail
        else:
            feed, need_input = b"", bool(getattr(dec, "needs_input", True))


def _decoder(kind: str) -> _Decoder:
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "zlib":
        return zlib.decompressobj(zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)


def _keep(data: bytes, complete: bool, note: str | None) -> bool:
    if note is not None and note.startswith("dropped"):
        return True  # reported as a bomb by the caller
    return len(data) >= (MIN_COMPLETE if complete else MIN_PARTIAL)


def decode_at(
    buf: Buf, pos: int, kind: str, limits: CarveLimits, *, fix_dict: bool = False
) -> Carved | None:
    """Decode one candidate; ``None`` when it is no stream (or too short to matter)."""
    if kind != "lzma":
        if kind == "zlib":  # quick trial: garbage fails within a few bytes
            try:
                trial = zlib.decompressobj()
                if not trial.decompress(bytes(buf[pos : pos + 512]), 64) and not trial.eof:
                    return None
            except zlib.error:
                return None
        data, end, complete, note = _run(
            _decoder(kind), buf, pos, b"", limits, kind in ("gzip", "zlib")
        )
        return Carved(kind, pos, end, data, complete, note) if _keep(data, complete, note) else None
    best: Carved | None = None
    for sized in (True, False):
        body = pos + (13 if sized else 5)
        if _byte(buf, body) != 0:
            continue
        head = _lzma_header(buf, pos, sized, fix_dict)
        dec = _decoder("lzma")
        data, end, complete, note = _run(dec, buf, body, head, limits, False)
        if _keep(data, complete, note):
            found = Carved("lzma", pos, end, data, complete, note)
            if complete or best is None or len(found.data) > len(best.data):
                best = found
            if complete:
                break
    return best


def carve(
    buf: Buf, limits: Callable[[], CarveLimits], *, skip_before: int = 0
) -> Iterator[Carved | str]:
    """Yield every stream found in ``buf`` (non-overlapping, in offset order).

    A ``str`` is a warning (too many candidates: at most 4096 plus one per
    4 KiB are tried); each stream is capped by what ``limits()`` says then.
    """
    covered = skip_before
    attempts = 0
    max_attempts = 4096 + len(buf) // 4096
    for pos, kind in candidates(buf):
        if pos < covered:
            continue
        attempts += 1
        if attempts > max_attempts:
            yield f"more than {max_attempts} compressed-stream candidates, rest not tried"
            return
        found = decode_at(buf, pos, kind, limits())
        if found is not None:
            covered = max(found.end, pos + 1)
            yield found
