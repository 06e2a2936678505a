"""The binary passes of the pure-Python engine (see :mod:`kleptolab.defend.engine`).

Sampled 64-bit words against the anchor index of every binary layout, and
in thorough mode the low-entropy layouts anchored on their runs of 0xFF.
"""

from __future__ import annotations

from collections.abc import KeysView
from functools import cache

from kleptolab.defend.constants import CONSTANTS, KnownConstant
from kleptolab.defend.hit import Buf, Hit, extend_left
from kleptolab.defend.patterns import STRIDE, BinaryPattern, pattern_index

MIN_PARTIAL_BYTES = 16
_CHUNK = STRIDE * (1 << 13)  # 192 KiB, a multiple of the stride: anchor hits stay local


def _byte(buf: Buf, i: int) -> int:
    return buf[i] if 0 <= i < len(buf) else -1


def _binary_hit(buf: Buf, pattern: BinaryPattern, start: int, lo: int, hi: int) -> Hit | None:
    """Verify ``pattern`` at ``start`` knowing ``buf[lo:hi]`` already matches."""
    data, size = pattern.data, len(pattern.data)
    if start >= 0 and buf[start : start + size] == data:
        lo, hi = start, start + size
    else:
        first, last = max(start, 0), min(start + size, len(buf))
        while lo > first and buf[lo - 1] == data[lo - 1 - start]:
            lo -= 1
        while hi < last and buf[hi] == data[hi - start]:
            hi += 1
        if hi - lo < MIN_PARTIAL_BYTES or len(set(data[lo - start : hi - start])) < 8:
            return None  # too short, or a low-entropy slice such as a 0xFF/0x00 fill boundary
    full = hi - lo == size
    c = pattern.constant
    context: list[str] = []
    if full and pattern.variant == "be" and c.value is not None:
        context += _binary_context(buf, c, start, size)
    return Hit(
        offset=lo,
        length=hi - lo,
        constant=c,
        variant=pattern.variant,
        verdict=c.verdict,
        confidence="high" if full else "low",
        partial=not full,
        value=c.text if c.text is not None else bytes(buf[lo:hi]).hex(),
        curve=c.curve,
        role=c.role,
        context=tuple(context),
    )


def _binary_context(buf: Buf, c: KnownConstant, start: int, size: int) -> list[str]:
    out: list[str] = []
    if c.size > size and start > 0 and buf[start - 1] == 0:
        out.append("leading-zero")
    prev = _byte(buf, start - 1)
    y = _partner_y(c)
    if prev == 4 and y is not None and buf[start + size : start + size + c.size] == y:
        out.append("sec1-uncompressed")
    elif prev in (2, 3) and y is not None and prev == 2 + (y[-1] & 1):
        out.append("sec1-compressed")
    if (_byte(buf, start - 2) == 2 and prev == size) or (
        _byte(buf, start - 3) == 2 and _byte(buf, start - 2) == size + 1 and prev == 0
    ):
        out.append("der-integer")
    return out


def _partner_y(c: KnownConstant) -> bytes | None:
    if c.role not in ("Px", "Qx"):
        return None
    want = "Py" if c.role == "Px" else "Qy"
    for other in CONSTANTS:
        if other.curve == c.curve and other.role == want and other.source == c.source:
            return other.be_bytes()
    return None


def _word_indices(words: memoryview, keys: KeysView[int]) -> list[int]:
    """Indices of the words that are anchors, by C-level ``list.index`` scans."""
    values = keys & words  # iterates the words in C, probing the dict
    if len(values) > 16:  # many distinct anchors: one Python pass is cheaper
        return [j for j, word in enumerate(words) if word in values]
    listed = words.tolist()
    out: list[int] = []
    for value in values:
        j = -1
        try:
            while True:
                j = listed.index(value, j + 1)
                out.append(j)
        except ValueError:
            pass
    out.sort()
    return out


def _scan_binary(buf: Buf, mv: memoryview, thorough: bool) -> list[Hit]:
    index = pattern_index()
    anchors = index.thorough_anchors if thorough else index.anchors
    keys = anchors.keys()
    hits: list[Hit] = []
    step = STRIDE // 8
    for a in range(0, len(buf), _CHUNK):
        usable = (min(a + _CHUNK, len(buf)) - a) // 8 * 8
        if usable < 8:
            break
        words = mv[a : a + usable].cast("Q")[::step]
        if keys.isdisjoint(words):
            continue
        for j in _word_indices(words, keys):
            pos = a + STRIDE * j
            for number, offset in anchors[words[j]]:
                data = index.patterns[number].data
                # a partial needs >= 16 bytes: without one matching neighbour it stays at 8
                if (pos == 0 or offset == 0 or buf[pos - 1] != data[offset - 1]) and (
                    offset + 8 >= len(data)
                    or pos + 8 >= len(buf)
                    or buf[pos + 8] != data[offset + 8]
                ):
                    continue
                hit = _binary_hit(buf, index.patterns[number], pos - offset, pos, pos + 8)
                if hit is not None:
                    hits.append(hit)
    return hits


def _positions(buf: Buf, needle: bytes) -> list[int]:
    """Every (overlapping) occurrence of ``needle``, ascending.

    Searches backwards: CPython's ``rfind`` skips about three times faster
    than ``find`` on high-entropy data.
    """
    out: list[int] = []
    pos = buf.rfind(needle)
    while pos != -1:
        out.append(pos)
        pos = buf.rfind(needle, 0, pos + len(needle) - 1) if pos > 0 else -1
    out.reverse()
    return out


_FF_RUN = b"\xff" * 7


@cache
def _ff_anchors() -> tuple[
    tuple[tuple[int, int, int, int], ...], dict[bytes, tuple[tuple[int, int], ...]]
]:
    """How each fallback pattern sits on a maximal run of >= 7 0xFF bytes.

    Every low-entropy layout holds such a run (P-256/P-384 primes, a and
    P-256 n are mostly 0xFF; the tests check it): ``(pattern, run start, run end, length rule)``
    where the rule is 0 (run bounded on both sides: lengths equal), 1 (run
    at the pattern's start: aligned on the run's end), 2 (at its end:
    aligned on the run's start).  Patterns without one keep their needles.
    """
    index = pattern_index()
    numbers = sorted({n for pairs in index.fallback.values() for n, _ in pairs})
    anchors: list[tuple[int, int, int, int]] = []
    left: dict[bytes, list[tuple[int, int]]] = {}
    for number in numbers:
        data = index.patterns[number].data
        best: tuple[int, int] | None = None
        k = 0
        while k < len(data):
            if data[k] != 0xFF:
                k += 1
                continue
            end = k
            while end < len(data) and data[end] == 0xFF:
                end += 1
            if end - k >= len(_FF_RUN) and (best is None or end - k > best[1] - best[0]):
                best = (k, end)
            k = end
        if best is None or (best[0] == 0 and best[1] == len(data)):
            for needle, pairs in index.fallback.items():
                for n, offset in pairs:
                    if n == number:
                        left.setdefault(needle, []).append((n, offset))
            continue
        rule = 0 if best[0] > 0 and best[1] < len(data) else 1 if best[0] == 0 else 2
        anchors.append((number, best[0], best[1], rule))
    anchors.sort(key=lambda a: a[2] - a[1])  # shortest run first: the scan can stop early
    return tuple(anchors), {k: tuple(v) for k, v in left.items()}


def _ff_runs(buf: Buf) -> list[tuple[int, int]]:
    """Maximal runs of >= 7 0xFF bytes, right to left (one ``rfind`` pass)."""
    runs: list[tuple[int, int]] = []
    pos = buf.rfind(_FF_RUN)
    while pos != -1:
        end = pos + len(_FF_RUN)  # rightmost occurrence below the last run: the run ends here
        start = extend_left(buf, pos, b"\xff", 256)
        runs.append((start, end))
        pos = buf.rfind(_FF_RUN, 0, start) if start >= len(_FF_RUN) else -1
    return runs


def _scan_fallback(buf: Buf) -> list[Hit]:
    """Full matches of the low-entropy layouts, anchored on their 0xFF runs."""
    index = pattern_index()
    anchors, needles = _ff_anchors()
    hits: list[Hit] = []
    for run_start, run_end in _ff_runs(buf):
        size = run_end - run_start
        for number, rs, re_, rule in anchors:
            want = re_ - rs
            if size < want:
                break  # sorted by run length: no longer run fits either
            if rule == 0 and size != want:
                continue
            start = run_end - re_ if rule == 1 else run_start - rs
            data = index.patterns[number].data
            if start >= 0 and buf[start : start + len(data)] == data:
                hit = _binary_hit(buf, index.patterns[number], start, start, start + len(data))
                if hit is not None:
                    hits.append(hit)
    for needle, pairs in needles.items():
        for pos in _positions(buf, needle):
            for number, offset in pairs:
                data = index.patterns[number].data
                start = pos - offset
                if start >= 0 and buf[start : start + len(data)] == data:
                    hit = _binary_hit(buf, index.patterns[number], start, start, start + len(data))
                    if hit is not None:
                        hits.append(hit)
    return hits
