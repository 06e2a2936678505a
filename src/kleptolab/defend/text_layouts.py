"""Constants written as text the way real libraries and tools write them.

The hex-run pass of :mod:`kleptolab.defend.engine` finds contiguous hex
digits.  Libraries also use these layouts (each with a test in
``tests/defend/test_text_layouts.py``):

* hex with separators: space-separated 8-digit groups (the npm ``elliptic``
  package's ``curves.js``, bn.js style: ``'ffffffff 00000001 00000000 ...'``)
  and colon-separated bytes across indented lines (``openssl ec -text``:
  ``04:6b:17:d1:...``): found by deleting the separators and running the
  hex-run pass again, then located in the original text;
* C/C++/Java/C# array literals of bytes (``0xff, 0x00, ...``, ``(byte) 0xFF``)
  or of 32/64-bit words in either limb order (OpenSSL ``bn_nist.c``
  ``{0xFFFFFFFFFFFFFFFF, 0x00000000FFFFFFFF, ...}``: least-significant limb
  first): the literals are turned into big-endian bytes and searched with
  the binary layouts, so every limb order the binary pass knows is covered;
* decimal strings (Java ``new BigInteger("1157920892...")``, Python ints).

Only full matches of known constants are reported: no partials and no
"replaced Q" from these layouts.  The passes run on text buffers only.
"""

from __future__ import annotations

import re

from kleptolab.defend.constants import CONSTANTS, KnownConstant
from kleptolab.defend.engine import Buf, HexRun, Hit, _run_hits, hex_runs, scan_buffer
from kleptolab.defend.hit import extend_left

__all__ = ["decimal_hits", "literal_hits", "separated_hits"]

SEPARATORS = b" :\t\r\n"
_LITERAL_RUN = re.compile(
    rb"0x[0-9a-fA-F]{1,16}[uUlL]{0,3}"
    rb"(?:\s*,\s*(?:\(\s*[A-Za-z_][A-Za-z0-9_ ]*\)\s*)?0[xX][0-9a-fA-F]{1,16}[uUlL]{0,3}){3,}"
)
_TOKEN = re.compile(rb"0[xX]([0-9a-fA-F]{1,16})")
_DECIMAL: dict[str, KnownConstant] = {str(c.value): c for c in CONSTANTS if c.value is not None}


_SEP_MAP = bytes(
    ord("x") if chr(c) in "0123456789abcdefABCDEF" else ord("c") if c == ord(":")
    else ord("s") if c in SEPARATORS else ord(".")
    for c in range(256)
)
# three space-separated 8-digit groups (bn.js), or six colon-separated bytes (openssl)
_SHAPES = (b"xxxxxxxxsxxxxxxxxsxxxxxxxx", b"xxcxxcxxcxxcxxcxx")


def _extend(trans: bytes | bytearray, i: int, j: int) -> tuple[int, int]:
    """Grow ``trans[i:j]`` over hex digits and separators (windows of 4 KiB)."""
    i = extend_left(trans, i, b"xsc", 4096)
    while j < len(trans):
        window = trans[j : j + 4096]
        fwd = len(window) - len(window.lstrip(b"xsc"))
        j += fwd
        if fwd < len(window):
            break
    return i, j


def _regions(raw: bytes | bytearray) -> list[tuple[int, int]]:
    """Stretches of hex digits and separators that contain a separated-hex shape."""
    trans = raw.translate(_SEP_MAP)
    found: list[tuple[int, int]] = []
    for shape in _SHAPES:
        i = trans.find(shape)
        while i != -1:
            start, end = _extend(trans, i, i + len(shape))
            found.append((start, end))
            i = trans.find(shape, end)
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _locate(region: bytes, start: int, digits: str) -> tuple[int, int] | None:
    """The span of ``digits`` with separators between them, at or after ``start``."""
    sep = b"[" + re.escape(SEPARATORS) + b"]*"
    pattern = re.compile(sep.join(re.escape(ch.encode()) for ch in digits), re.IGNORECASE)
    found = pattern.search(region, start)
    return None if found is None else (found.start(), found.end())


def separated_hits(buf: Buf) -> list[Hit]:
    """Full constants in hex text broken up by spaces, colons or line breaks."""
    raw = buf if isinstance(buf, bytes | bytearray) else bytes(buf)
    out: list[Hit] = []
    for base, end in _regions(raw):
        region = bytes(raw[base:end])
        stripped = region.translate(None, SEPARATORS)
        with memoryview(stripped) as mv:
            runs = hex_runs(stripped, mv)
        for run in runs:
            if run.utf16:
                continue
            for h in _run_hits(HexRun(0, run.end - run.offset, run.text, False)):
                if h.partial or h.constant is None:
                    continue
                span = _locate(region, run.offset + h.offset, h.value)
                if span is None or span[1] - span[0] == h.length:
                    continue  # contiguous: the hex-run pass reports it
                variant = "hex-colon" if b":" in region[span[0] : span[1]] else "hex-spaced"
                out.append(Hit(base + span[0], span[1] - span[0], h.constant, variant, h.verdict,
                               "high", False, h.value, h.curve, h.role))
    return out


def literal_hits(buf: Buf) -> list[Hit]:
    """Full constants in C/Java array literals of bytes or 32/64-bit words (either limb order)."""
    out: list[Hit] = []
    for run in _LITERAL_RUN.finditer(buf):
        tokens = [(m.start(), m.end(), m.group(1)) for m in _TOKEN.finditer(run.group())]
        longest = max(len(t) for _, _, t in tokens)
        width = 1 if longest <= 2 else 4 if longest <= 8 else 8
        data = b"".join(int(t, 16).to_bytes(width, "big") for _, _, t in tokens)
        base = run.start()
        for h in scan_buffer(data, thorough=True):
            if h.partial or h.constant is None or h.constant.text is not None:
                continue
            first, last = h.offset // width, (h.offset + h.length - 1) // width
            if h.offset % width or (h.offset + h.length) % width:
                continue  # a match that cuts through a literal is no array of this value
            start, end = base + tokens[first][0], base + tokens[last][1]
            kind = f"c-array-u{8 * width}" + ("" if h.variant == "be" else f"-{h.variant}")
            out.append(
                Hit(
                    start,
                    end - start,
                    h.constant,
                    kind,
                    h.verdict,
                    "high",
                    False,
                    h.constant.hex,
                    h.curve,
                    h.role,
                )
            )
    return out


def decimal_hits(runs: list[HexRun]) -> list[Hit]:
    """Full constants written in decimal: digit-only runs equal to one (a digit run of the
    hex-run pass is maximal, so a longer number never matches a shorter constant)."""
    out: list[Hit] = []
    for run in runs:
        c = None if run.utf16 else _DECIMAL.get(run.text)
        if c is not None:
            out.append(
                Hit(
                    run.offset,
                    run.end - run.offset,
                    c,
                    "decimal",
                    c.verdict,
                    "high",
                    False,
                    c.hex,
                    c.curve,
                    c.role,
                )
            )
    return out
