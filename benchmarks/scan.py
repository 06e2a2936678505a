"""Scan throughput: kleptolab's scanner vs. yara-python with the exported rules, same run.

Usage:

* ``python benchmarks/scan.py [--mib 100] [--kind firmware|random] [--keep PATH]``:
  one corpus file, engine against engine (single core);
* ``python benchmarks/scan.py --tree DIR [DIR ...]``: a real tree, ``kleptolab
  scan``'s :func:`~kleptolab.defend.scan.scan_paths` (every core) against
  yara-python matching every file of the same walk one after the other (and
  in a thread pool, yara-python releases the GIL), wall time, best of
  ``--repeat``;
* ``python benchmarks/scan.py --generate 100000 [--tree-dir PATH]``: the same
  on a generated tree of that many files of mixed sizes (80% 0.1-4 KiB, 19.8%
  4-64 KiB, 0.2% 0.25-4 MiB; text, binary, zero fill, a few planted constants).

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
import shutil
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


def generate_tree(root: Path, files: int, seed: int = 3) -> int:
    """Write ``files`` files of mixed sizes under ``root``; returns the bytes written."""
    rng = random.Random(seed)
    text = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit; 0x%08x\n" * 64)
    plant = [(c.text or c.hex.upper()).encode() for c in CONSTANTS]
    total = 0
    for k in range(files):
        roll = rng.random()
        size = (rng.randrange(100, 4096) if roll < 0.8 else rng.randrange(4096, 65536)
                if roll < 0.998 else rng.randrange(256 << 10, 4 << 20))
        kind = rng.randrange(3)
        if kind == 0:
            data = bytearray((text * (size // len(text) + 1))[:size])
        elif kind == 1:
            data = bytearray(rng.randbytes(size))
        else:
            data = bytearray(size)
            data[: size // 2] = rng.randbytes(size // 2)
        if k % 5000 == 0:
            blob = plant[(k // 5000) % len(plant)]
            data[size // 3 : size // 3 + len(blob)] = blob
        folder = root / f"d{k // 1000:03}" / f"e{k // 100 % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{k:06}.bin").write_bytes(bytes(data))
        total += len(data)
    return total


def tree_mode(roots: list[Path], repeat: int, quick: bool = False) -> None:
    """kleptolab (all cores) vs yara-python on the files of one walk."""
    from concurrent.futures import ThreadPoolExecutor

    from kleptolab.defend.containers import Limits
    from kleptolab.defend.scan import default_jobs, scan_paths
    from kleptolab.defend.walk import walk
    from kleptolab.defend.yara_rules import _compiled

    warnings: list[str] = []
    refs = list(walk([str(r) for r in roots], warnings))
    total = sum(r.size for r in refs)
    jobs = default_jobs()
    print(f"tree: {', '.join(map(str, roots))}: {len(refs)} files, {total / MiB:.0f} MiB; "
          f"{jobs} cores; load average {os.getloadavg()[0]:.2f} at start")
    rules = _compiled()

    def yara_one(path: str) -> int:
        try:
            return len(rules.match(path, timeout=120))
        except Exception:  # yara.Error: unreadable, timeout
            return 0

    def yara_serial() -> int:
        return sum(yara_one(r.path) for r in refs)

    def yara_threads() -> int:
        with ThreadPoolExecutor(jobs) as pool:
            return sum(pool.map(yara_one, (r.path for r in refs), chunksize=64))

    def klepto() -> int:
        return len(scan_paths(roots).findings)

    def klepto_one() -> int:
        return len(scan_paths(roots, jobs=1).findings)

    def klepto_flat() -> int:  # yara's work only: no unpacking, no carving
        return len(scan_paths(roots, limits=Limits(max_depth=0)).findings)

    yara_serial()  # warm the page cache
    rows = [("yara-python, one file after another", yara_serial),
            (f"yara-python, {jobs} threads", yara_threads),
            (f"kleptolab scan ({jobs} processes)", klepto),
            ("kleptolab scan, 1 process", klepto_one),
            (f"kleptolab, no unpacking ({jobs} procs)", klepto_flat)]
    times: dict[str, float] = {}
    for name, fn in rows:
        if quick and ("threads" in name or "1 process" in name):
            times[name] = float("nan")
            continue
        t, n = best_of(repeat, fn)
        times[name] = t
        print(f"{name:40} {t:7.2f} s  {total / MiB / t:7.1f} MiB/s  ({n} rules/findings)")
    base = times[rows[0][0]]
    print(f"ratio kleptolab ({jobs} processes) / yara-python serial: "
          f"{base / times[rows[2][0]]:.2f}x the speed of yara-python; vs {jobs} yara threads: "
          f"{times[rows[1][0]] / times[rows[2][0]]:.2f}x; 1 process vs serial yara: "
          f"{base / times[rows[3][0]]:.2f}x; without unpacking (yara's work): "
          f"{base / times[rows[4][0]]:.2f}x; load average {os.getloadavg()[0]:.2f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--kind", choices=("firmware", "random"), default="firmware")
    parser.add_argument("--keep", type=Path, help="write the corpus here instead of a temp file")
    parser.add_argument("--tree", type=Path, nargs="+", help="benchmark on these directories")
    parser.add_argument("--generate", type=int, metavar="FILES",
                        help="benchmark on a generated tree of FILES files")
    parser.add_argument("--tree-dir", type=Path, help="where --generate writes (kept)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="tree mode: skip the yara-threads and 1-process rows")
    args = parser.parse_args()
    if args.tree:
        tree_mode(args.tree, args.repeat, args.quick)
        return
    if args.generate:
        root = args.tree_dir or Path(tempfile.mkdtemp(prefix="kleptolab-tree-"))
        written = generate_tree(root, args.generate)
        print(f"generated {args.generate} files, {written / MiB:.0f} MiB under {root}")
        try:
            tree_mode([root], args.repeat, args.quick)
        finally:
            if args.tree_dir is None:
                shutil.rmtree(root)
        return
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
