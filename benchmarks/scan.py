"""Scan throughput: the pure-Python engine vs. yara-python on the same 100 MiB corpus.

Usage: ``python benchmarks/scan.py [--mib 100] [--kind firmware|random] [--keep PATH]``

The firmware-like corpus mixes 4 KiB 0x00/0xFF fill runs, 4 KiB blocks of
ScreenOS-style debug strings, random 8 KiB blocks and, every ~1 MiB, a string
table with the P-256 parameters in hex; every binary layout and the hex text
of every constant is planted once.  Both
engines read the same memory-mapped file; the best of three runs is kept.
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import tempfile
import time
from pathlib import Path

from kleptolab.defend.constants import CONSTANTS
from kleptolab.defend.engine import scan_buffer
from kleptolab.defend.patterns import pattern_index
from kleptolab.drbg.curves import P256

MiB = 1 << 20


def build_corpus(size: int, kind: str, seed: int = 1) -> bytearray:
    """A ``size``-byte corpus with every constant planted once."""
    rng = random.Random(seed)
    if kind == "random":
        buf = bytearray(os.urandom(size))
    else:
        debug = (b"SSH key: <<< %s(*ssh_key=%08x) = %u (found=%u)\x00ERROR Out Of Memory: DH priv"
                 b" val.\x00ike: >>> %s(sa=%08x) = %d\x00")
        table = b"\x00".join(f"{v:064X}".encode() for v in (P256.p, P256.a, P256.b, P256.gx, P256.n))
        pieces = [b"\x00" * 4096, b"\xff" * 4096, (debug * 40)[:4096], os.urandom(8192)]
        buf = bytearray()
        while len(buf) < size:
            buf += pieces[rng.randrange(4)]
            if rng.randrange(256) == 0:  # a string table with curve parameters every ~1 MiB
                buf += table
        del buf[size:]
    index = pattern_index()
    blobs = [p.data for p in index.patterns]
    blobs += [(c.text or c.hex.upper()).encode() for c in CONSTANTS]
    step = size // (len(blobs) + 1)
    for k, blob in enumerate(blobs):
        off = step * (k + 1) + rng.randrange(64)
        buf[off : off + len(blob)] = blob
    return buf


def best_of(runs: int, fn: object) -> tuple[float, int]:
    best, found = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        found = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--kind", choices=("firmware", "random"), default="firmware")
    parser.add_argument("--keep", type=Path, help="write the corpus here instead of a temp file")
    args = parser.parse_args()
    size = args.mib * MiB
    corpus = build_corpus(size, args.kind)
    path = args.keep or Path(tempfile.mkstemp(prefix="kleptolab-corpus-")[1])
    path.write_bytes(corpus)
    del corpus
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            py_t, py_n = best_of(3, lambda: len(scan_buffer(mm)))
            print(f"pure Python (default, thorough): {size / MiB / py_t:7.1f} MiB/s  ({py_t:.3f} s, {py_n} hits)")
            fa_t, fa_n = best_of(3, lambda: len(scan_buffer(mm, thorough=False)))
            print(f"pure Python --fast:              {size / MiB / fa_t:7.1f} MiB/s  ({fa_t:.3f} s, {fa_n} hits)")
            try:
                from kleptolab.defend.yara_rules import _compiled
            except ImportError:
                return
            try:
                rules = _compiled()
            except RuntimeError as exc:
                print(f"yara-python: unavailable ({exc})")
                return
            data = bytes(mm)
            ya_t, ya_n = best_of(3, lambda: sum(len(m.strings) for m in rules.match(data=data)))
            print(f"yara-python: {size / MiB / ya_t:7.1f} MiB/s  ({ya_t:.3f} s, rules matched "
                  f"on the same corpus, {ya_n} strings)")
            print(f"ratio pure-Python / yara-python: {ya_t / py_t:.2f}x the speed of yara")
    finally:
        if args.keep is None:
            path.unlink()


if __name__ == "__main__":
    main()
