"""What the scan engines report: :class:`Hit` (a match) and :class:`HexRun` (a hex-digit run)."""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

from kleptolab.defend.constants import KnownConstant, Verdict

__all__ = ["Buf", "HexRun", "Hit", "extend_left"]

Buf = bytes | bytearray | mmap.mmap


@dataclass(frozen=True)
class Hit:
    """One match in one buffer; ``offset``/``length`` are bytes in that buffer."""

    offset: int
    length: int
    constant: KnownConstant | None
    variant: str
    verdict: Verdict
    confidence: str  # "high" | "medium" | "low"
    partial: bool
    value: str  # the matched value as hex (or the text, for string indicators)
    curve: str | None = None
    role: str | None = None
    context: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class HexRun:
    """A run of >= 42 hex digits: ``text`` as found, at ``offset`` (bytes), ``utf16``."""

    offset: int
    end: int
    text: str
    utf16: bool


def extend_left(buf: Buf, start: int, chars: bytes, window: int) -> int:
    """Where the run of bytes from ``chars`` that ends at ``start`` begins (read back in windows)."""
    while start > 0:
        piece = buf[max(0, start - window) : start]
        back = len(piece) - len(piece.rstrip(chars))
        start -= back
        if back < len(piece):
            break
    return start
