"""The pure-Python scan engine: one buffer in, a list of :class:`Hit` out.

Cheap passes, each a C-level loop over the data:

1. binary layouts: every 24th 64-bit word is tested against the index of all
   8-byte windows of all layouts (``set.isdisjoint`` over a memoryview), then
   candidates are verified byte for byte (partials >= 16 bytes are kept at low
   confidence; every layout >= 31 bytes is always found);
2. thorough mode only: the low-entropy primes, a and P-256's n are anchored
   on their runs of >= 7 0xFF bytes (one ``rfind`` pass over maximal runs)
   and compared whole (by default those are found only when a sampled word
   falls on their informative part: they are curve parameters present in
   every crypto library);
3. ``find`` for the ASCII string indicators;
4. hex text: a 1-in-7 decimated copy is mapped to ``x`` (hex digit) / ``z``
   (NUL) and searched for hex runs (ASCII and UTF-16LE, any case); every run
   of >= 42 characters is found and compared with the table (full and
   partial matches).  Unknown runs with the length of an x-coordinate right
   after curve parameters are reported as a **replaced Q**;
5. text buffers: the layouts of :mod:`kleptolab.defend.text_layouts`
   (separated hex, array literals, decimal).

Text (ASCII or UTF-8) skips passes 1 and 2 unless it holds NUL bytes: no
binary layout is valid UTF-8.
"""

from __future__ import annotations

import bisect
import codecs
from functools import cache
from typing import Any

from kleptolab.defend.constants import CONSTANTS, KnownConstant, Verdict
from kleptolab.defend.engine_binary import _positions, _scan_binary, _scan_fallback
from kleptolab.defend.hit import Buf, HexRun, Hit
from kleptolab.defend.patterns import pattern_index
from kleptolab.drbg.curves import curve_by_name

__all__ = ["Buf", "HexRun", "Hit", "hex_runs", "is_text", "scan_buffer"]

HEX_DIGITS = b"0123456789abcdefABCDEF"
MIN_PARTIAL_HEX = 32
NEXT_TO_PARAMS = 256  # bytes between a curve parameter and the Qx that follows it
_DEC = 7
_DEC_CHUNK = _DEC * (1 << 20)
_ASCII_NEEDLE = b"x" * 6  # a run of >= 42 hex digits always shows 6 decimated digits
_UTF16_NEEDLE = b"xzxzxzxzx"  # a UTF-16LE run of >= 35 digits always shows this
_TRANSLATE = bytes(
    ord("x") if chr(c) in "0123456789abcdefABCDEF" else ord("z") if c == 0 else ord(".")
    for c in range(256)
)
_QX_LENGTHS = {64: "P-256", 96: "P-384", 130: "P-521", 131: "P-521", 132: "P-521"}


@cache
def _string_table() -> tuple[tuple[bytes, dict[bytes, tuple[bytes, KnownConstant]]], ...]:
    """Per ``find`` prefix: the 3 bytes after it -> (indicator, row)."""
    texts = {c.text.encode("ascii"): c for c in CONSTANTS if c.text is not None}
    out = []
    for prefix in pattern_index().text_prefixes:
        n = len(prefix)
        # the 3 bytes after the shared prefix tell the indicators from look-alikes
        out.append((prefix, {raw[n : n + 3]: (raw, c) for raw, c in texts.items()
                             if raw.startswith(prefix)}))
    return tuple(out)


def _scan_strings(buf: Buf) -> list[Hit]:
    hits: list[Hit] = []
    for prefix, keyed in _string_table():
        n = len(prefix)
        for pos in _positions(buf, prefix):
            entry = keyed.get(bytes(buf[pos + n : pos + n + 3]))
            if entry is not None and buf[pos : pos + len(entry[0])] == entry[0]:
                c = entry[1]
                hits.append(Hit(pos, len(entry[0]), c, "ascii", c.verdict, "high", False,
                                c.text or "", None, c.role))
    return hits


def _ascii_run(buf: Buf, p: int) -> tuple[int, int]:
    start, size = p, 64  # most runs are short: small windows first, doubling up to 4 KiB
    while start > 0:
        window = buf[max(0, start - size) : start]
        back = len(window) - len(window.rstrip(HEX_DIGITS))
        start -= back
        if back < len(window):
            break
        size = min(2 * size, 4096)
    end, size = p, 64
    while end < len(buf):
        window = buf[end : end + size]
        fwd = len(window) - len(window.lstrip(HEX_DIGITS))
        end += fwd
        if fwd < len(window):
            break
        size = min(2 * size, 4096)
    return start, end


def _is_u16_digit(buf: Buf, i: int) -> bool:
    return i >= 0 and i + 1 < len(buf) and buf[i] in HEX_DIGITS and buf[i + 1] == 0


def _utf16_run(buf: Buf, p: int) -> tuple[int, int]:
    start = p - 1 if buf[p] == 0 else p
    while _is_u16_digit(buf, start - 2):
        start -= 2
    end = start
    while _is_u16_digit(buf, end):
        end += 2
    return start, end


def hex_runs(buf: Buf, mv: memoryview) -> list[HexRun]:
    """Every hex-digit run of >= 42 characters (ASCII or UTF-16LE), in offset order."""
    runs: list[HexRun] = []
    done = {False: 0, True: 0}
    for a in range(0, len(buf), _DEC_CHUNK):
        dec = bytes(mv[a : a + _DEC_CHUNK : _DEC]).translate(_TRANSLATE)
        for utf16, needle in ((False, _ASCII_NEEDLE), (True, _UTF16_NEEDLE)):
            i = dec.find(needle)
            while i != -1:
                p = a + _DEC * i
                if p >= done[utf16]:
                    start, end = _utf16_run(buf, p) if utf16 else _ascii_run(buf, p)
                    raw = bytes(buf[start:end])
                    text = raw[::2].decode("ascii") if utf16 else raw.decode("ascii")
                    if len(text) >= MIN_PARTIAL_HEX:  # shorter runs can hold no hit
                        runs.append(HexRun(start, end, text, utf16))
                    done[utf16] = max(end, p + 1)
                i = dec.find(needle, max(i + 1, (done[utf16] - a + _DEC - 1) // _DEC))
    runs.sort(key=lambda r: r.offset)
    return runs


def _case(segment: str) -> str:
    if segment == segment.lower():
        return "hex-lower"
    return "hex-upper" if segment == segment.upper() else "hex-mixed"


_NUMERIC = tuple(sorted((c for c in CONSTANTS if c.value is not None),
                        key=lambda c: -len(c.hex)))


def _windows() -> dict[str, list[tuple[KnownConstant, int]]]:
    table: dict[str, list[tuple[KnownConstant, int]]] = {}
    for c in _NUMERIC:
        for off in range(len(c.hex) - 24 + 1):
            window = c.hex[off : off + 24]
            if len(set(window)) > 2:  # runs of 'f'/'0' would match every prime
                table.setdefault(window, []).append((c, off))
    return table


_HEX_WINDOWS = _windows()
# constants that some alignment would let slip past the window gate of _run_hits
_UNGATED = tuple(
    c for c in _NUMERIC
    if not all(any(len(set(c.hex[k : k + 24])) > 2 for k in range(s, len(c.hex) - 23, 8))
               for s in range(8))
)


def _run_hits(run: HexRun) -> list[Hit]:
    width = 2 if run.utf16 else 1
    low = run.text.lower()
    hits: list[Hit] = []
    covered: list[tuple[int, int]] = []
    suffix = "-utf16le" if run.utf16 else ""
    gated = any(low[k : k + 24] in _HEX_WINDOWS for k in range(0, len(low) - 23, 8))
    if not gated and "ffffffff" not in low:
        return hits  # hashes, ids: no window of the table and no run of f (P-521 p, a)
    for c in _NUMERIC if gated else _UNGATED:  # most hex runs (hashes, ids) stop here
        h = c.hex
        i = low.find(h)
        while i != -1:
            j = i + len(h)
            if not any(s <= i and j <= e for s, e in covered):
                covered.append((i, j))
                pad = 2 * c.size - len(h)
                ctx = ("leading-zero",) if pad and low[max(0, i - pad) : i] == "0" * pad else ()
                hits.append(Hit(run.offset + i * width, len(h) * width, c,
                                _case(run.text[i:j]) + suffix, c.verdict, "high", False, h,
                                c.curve, c.role, ctx))
            i = low.find(h, i + 1)
    seen: set[tuple[str, int]] = set()
    for k in range(0, max(0, len(low) - 24 + 1), 8):
        if any(s <= k and k + 24 <= e for s, e in covered):
            continue
        for c, off in _HEX_WINDOWS.get(low[k : k + 24], ()):
            base, h = k - off, c.hex
            if (c.id, base) in seen:
                continue
            seen.add((c.id, base))
            lo, hi = k, k + 24
            while lo > max(base, 0) and low[lo - 1] == h[lo - 1 - base]:
                lo -= 1
            while hi < min(base + len(h), len(low)) and low[hi] == h[hi - base]:
                hi += 1
            if (hi - lo >= MIN_PARTIAL_HEX and len(set(low[lo:hi])) >= 8
                    and not any(s <= lo and hi <= e for s, e in covered)):
                hits.append(Hit(run.offset + lo * width, (hi - lo) * width, c,
                                _case(run.text[lo:hi]) + suffix, c.verdict, "low", True,
                                low[lo:hi], c.curve, c.role))
    return hits


def _all_run_hits(runs: list[HexRun]) -> list[list[Hit]]:
    """:func:`_run_hits` for every run, analysing each distinct run text once."""
    cache: dict[tuple[str, bool], list[Hit]] = {}
    out: list[list[Hit]] = []
    for run in runs:
        key = (run.text, run.utf16)
        if key not in cache:
            cache[key] = _run_hits(HexRun(0, run.end - run.offset, run.text, run.utf16))
        out.append([Hit(h.offset + run.offset, h.length, h.constant, h.variant, h.verdict,
                        h.confidence, h.partial, h.value, h.curve, h.role, h.context)
                    for h in cache[key]])
    return out


def _replaced_q(runs: list[HexRun], per_run: list[list[Hit]]) -> list[Hit]:
    """Unknown x-coordinate-length runs right after a curve parameter of that curve."""
    out: list[Hit] = []
    for k, run in enumerate(runs):
        curve_name = _QX_LENGTHS.get(len(run.text))
        if curve_name is None or per_run[k] or k == 0 or run.text.isdigit():
            continue
        before = [h for h in per_run[k - 1] if h.verdict is Verdict.CURVE and not h.partial]
        if not before or run.offset - runs[k - 1].end > NEXT_TO_PARAMS:
            continue
        if not any(h.curve == curve_name for h in before):
            continue
        curve = curve_by_name(curve_name)
        value = int(run.text, 16)
        on_curve = curve.is_x_coordinate(value)
        out.append(Hit(
            run.offset, run.end - run.offset, None,
            _case(run.text) + ("-utf16le" if run.utf16 else ""),
            Verdict.REPLACED_Q if on_curve else Verdict.UNKNOWN,
            "high" if on_curve else "medium", False, run.text.lower(), curve_name, "Qx?",
            ("next-to-curve-parameters", "valid-x" if on_curve else "not-an-x-coordinate"),
        ))
    return out


def _mark_next_to_params(runs: list[HexRun], per_run: list[list[Hit]]) -> None:
    for k in range(1, len(runs)):
        if runs[k].offset - runs[k - 1].end > NEXT_TO_PARAMS:
            continue
        if not any(h.verdict is Verdict.CURVE for h in per_run[k - 1]):
            continue
        per_run[k] = [
            Hit(h.offset, h.length, h.constant, h.variant, h.verdict, h.confidence, h.partial,
                h.value, h.curve, h.role, (*h.context, "next-to-curve-parameters"))
            if h.role == "Qx" else h
            for h in per_run[k]
        ]


def _suppress(hits: list[Hit]) -> list[Hit]:
    """Drop duplicates and partials that lie inside a full match."""
    full = sorted((h.offset, h.offset + h.length) for h in hits if not h.partial)
    starts = [start for start, _ in full]
    reach: list[int] = []
    for _, end in full:
        reach.append(max(end, reach[-1]) if reach else end)
    out: dict[tuple[int, int, str, str], Hit] = {}
    for h in hits:
        if h.partial:
            k = bisect.bisect_right(starts, h.offset) - 1
            if k >= 0 and reach[k] >= h.offset + h.length:
                continue
        key = (h.offset, h.length, h.constant.id if h.constant else "?", h.variant)
        out.setdefault(key, h)
    return sorted(out.values(), key=lambda h: (h.offset, -h.length))


TEXT_CHECK_LIMIT = 64 << 20


def is_text(buf: Buf) -> bool:
    """True for ASCII or valid UTF-8 (C passes; a binary fails within its first bytes).

    No binary layout, and no partial of one (>= 16 bytes, >= 8 distinct
    values), is valid UTF-8 (tests/defend/test_text_layouts.py checks the
    whole table), so text skips the binary passes unless it holds NUL bytes
    (UTF-16LE strings); a compressed stream is not valid UTF-8 either.
    """
    raw = buf if isinstance(buf, bytes | bytearray) else None
    if raw is None or len(raw) > TEXT_CHECK_LIMIT:
        return False
    if raw.isascii():
        return True
    if not isinstance(raw, bytes):
        return _utf8(raw)  # mutable: never cached
    if _LAST_TEXT[0] is raw:  # the unpacker asked about this very (immutable) buffer
        return bool(_LAST_TEXT[1])
    _LAST_TEXT[0], _LAST_TEXT[1] = raw, _utf8(raw)
    return bool(_LAST_TEXT[1])


_LAST_TEXT: list[Any] = [None, False]


def _utf8(raw: bytes | bytearray) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:  # in steps: a binary fails in its first step, without a whole-file decode
        for start in range(0, len(raw), 1 << 16):
            decoder.decode(raw[start : start + (1 << 16)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def scan_buffer(buf: Buf, *, thorough: bool = True) -> list[Hit]:
    """Scan one in-memory or memory-mapped buffer; hits sorted by offset.

    ``thorough`` (the default) also guarantees the binary layouts of the
    low-entropy curve parameters (P-256 p, a, n; P-384 p, a); ``False``
    samples them for speed.
    """
    if len(buf) == 0:
        return []
    text = is_text(buf)
    with memoryview(buf) as mv:
        hits = _scan_strings(buf)
        if not text or buf.find(b"\x00") != -1:
            hits += _scan_binary(buf, mv, thorough)
        if thorough and not text:
            hits += _scan_fallback(buf)
        runs = hex_runs(buf, mv)
    from kleptolab.defend import text_layouts

    hits += text_layouts.decimal_hits(runs)
    if text:
        hits += text_layouts.separated_hits(buf) + text_layouts.literal_hits(buf)
    per_run = _all_run_hits(runs)
    _mark_next_to_params(runs, per_run)
    for found in per_run:
        hits.extend(found)
    hits.extend(_replaced_q(runs, per_run))
    return _suppress(hits)
