"""Byte layouts of the known constants, generated in code (never by hand).

For every numeric constant of :data:`kleptolab.defend.constants.CONSTANTS`:

* ``be`` / ``le``: the minimal big-endian octets (P-521 values without their
  leading zero byte; a leading zero found in the data is reported as context)
  and their full reversal;
* ``be32-lslf``, ``le32-mslf``, ``be64-lslf``, ``le64-mslf``: 32/64-bit limb
  arrays (value zero-padded to a whole number of limbs) with big-endian words
  stored least-significant limb first, and little-endian words stored
  most-significant limb first (the two orders that are *not* a plain reversal).

SEC1 and DER encodings contain the ``be`` octets and are recognised from the
bytes around a ``be`` hit.  Hex text is handled by the hex-run pass of the
engine, not here.  String indicators contribute their UTF-16LE form here.

The index maps every 8-byte window of every layout to where it sits, so the
engine can sample the data at a fixed stride and still catch every layout of
at least ``STRIDE + 7`` bytes.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

from kleptolab.defend.constants import CONSTANTS, KnownConstant

__all__ = ["STRIDE", "BinaryPattern", "PatternIndex", "binary_layouts", "pattern_index"]

STRIDE = 24
"""Sampling stride of the engine in bytes: every layout of >= 31 bytes is always found."""

WORD = 8
LIMB_LAYOUTS = ("be32-lslf", "le32-mslf", "be64-lslf", "le64-mslf")
FALLBACK_NEEDLES = (b"\xff\xff\xff\xff\x00\x00\x00", b"\x00\x00\x00\xff\xff\xff\xff")


@dataclass(frozen=True)
class BinaryPattern:
    """One layout of one constant: the exact bytes that are searched."""

    constant: KnownConstant
    variant: str
    data: bytes


def _limbs(value: int, size: int, width: int) -> list[bytes]:
    padded = -(-size // width) * width
    raw = value.to_bytes(padded, "big")
    return [raw[i : i + width] for i in range(0, padded, width)]  # most significant first


def binary_layouts(constant: KnownConstant) -> list[BinaryPattern]:
    """Every binary layout of ``constant`` (UTF-16LE only, for strings)."""
    if constant.text is not None:
        return [BinaryPattern(constant, "utf16le", constant.text.encode("utf-16-le"))]
    if not constant.binary or constant.value is None:
        return []
    value = constant.value
    be = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    out = [BinaryPattern(constant, "be", be), BinaryPattern(constant, "le", be[::-1])]
    for width in (4, 8):
        limbs = _limbs(value, constant.size, width)
        out.append(BinaryPattern(constant, f"be{8 * width}-lslf", b"".join(reversed(limbs))))
        out.append(BinaryPattern(constant, f"le{8 * width}-mslf", b"".join(x[::-1] for x in limbs)))
    return out


def _usable(window: bytes) -> bool:
    """A window of one repeated byte, or of 0x00/0xFF only, would fire on fill runs."""
    return len(set(window)) >= 2 and not set(window) <= {0x00, 0xFF}


@dataclass(frozen=True)
class PatternIndex:
    """All binary patterns plus the sampled-window index.

    ``anchors`` maps a native-endian 64-bit word to ``(pattern number, offset)``
    pairs.  Low-entropy constants (the primes, P-256's n) have windows made of
    0x00/0xFF only that cannot be anchors (they would fire on every fill run);
    for those ``fallback`` maps a short ``find`` needle (the 0xFF/0x00 boundary
    they all contain) to ``(pattern number, offset)`` pairs, searched only in
    the engine's thorough mode.  ``best_effort`` names the layouts that
    neither mechanism guarantees (limb layouts of the primes).
    ``text_prefixes`` are the ``find`` needles for ASCII string indicators.
    ``thorough_anchors`` leaves out the weak windows (at most one byte that is
    not 0x00/0xFF, e.g. ``00 00 FC FF FF FF FF FF``: small integers, common in
    any binary) of the patterns the fallback needles already guarantee.
    """

    patterns: tuple[BinaryPattern, ...]
    anchors: dict[int, tuple[tuple[int, int], ...]]
    fallback: dict[bytes, tuple[tuple[int, int], ...]]
    best_effort: tuple[str, ...]
    text_prefixes: tuple[bytes, ...]
    thorough_anchors: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)


def _weak(window: bytes) -> bool:
    """At most one byte other than 0x00/0xFF: small integers, common in any binary."""
    return sum(b not in (0x00, 0xFF) for b in window) <= 1


def _guaranteed(usable: set[int], length: int) -> bool:
    last = length - WORD
    return all(any(o in usable for o in range(r, last + 1, STRIDE)) for r in range(STRIDE))


@cache
def pattern_index() -> PatternIndex:
    """Build (once) the index over :data:`CONSTANTS`."""
    patterns: list[BinaryPattern] = []
    seen: set[bytes] = set()
    for constant in CONSTANTS:
        for pattern in binary_layouts(constant):
            if pattern.data not in seen:  # e.g. limb layouts equal to be/le
                seen.add(pattern.data)
                patterns.append(pattern)
    anchors: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    fallback: defaultdict[bytes, list[tuple[int, int]]] = defaultdict(list)
    best_effort: list[str] = []
    for number, pattern in enumerate(patterns):
        usable: set[int] = set()
        for offset in range(len(pattern.data) - WORD + 1):
            window = pattern.data[offset : offset + WORD]
            if _usable(window):
                usable.add(offset)
                anchors[int.from_bytes(window, sys.byteorder)].append((number, offset))
        if _guaranteed(usable, len(pattern.data)):
            continue
        covered = False
        for needle in FALLBACK_NEEDLES:
            start = pattern.data.find(needle)
            while start != -1:
                fallback[needle].append((number, start))
                covered = True
                start = pattern.data.find(needle, start + 1)
        if not covered:
            best_effort.append(f"{pattern.constant.id}/{pattern.variant}")
    prefixes = sorted({c.text.encode("ascii")[:7] for c in CONSTANTS if c.text is not None})
    # thorough mode: drop weak windows where the strong ones (or the fallback) still guarantee
    in_fallback = {number for pairs in fallback.values() for number, _ in pairs}
    strong_only = set(in_fallback)
    for number, pattern in enumerate(patterns):
        strong = {o for o in range(len(pattern.data) - WORD + 1)
                  if _usable(pattern.data[o : o + WORD]) and not _weak(pattern.data[o : o + WORD])}
        if _guaranteed(strong, len(pattern.data)):
            strong_only.add(number)
    thorough: dict[int, tuple[tuple[int, int], ...]] = {}
    for key, pairs in anchors.items():
        weak = _weak(key.to_bytes(WORD, sys.byteorder))
        kept = tuple(p for p in pairs if not (weak and p[0] in strong_only))
        if kept:
            thorough[key] = kept
    return PatternIndex(
        patterns=tuple(patterns),
        anchors={k: tuple(v) for k, v in anchors.items()},
        fallback={k: tuple(v) for k, v in fallback.items()},
        best_effort=tuple(best_effort),
        text_prefixes=tuple(prefixes),
        thorough_anchors=thorough,
    )
