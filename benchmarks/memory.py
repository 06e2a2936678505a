"""Peak memory of ``kleptolab decrypt`` against capture size (the ESP stage streams).

    python benchmarks/memory.py [--sizes 10 100 1024] [--workers 2] [--keep DIR]

For each size, one emulated gateway's IKEv2 sessions with bulk ESP (1300-byte
echo payloads, 2,000 each way per session) are written to a capture of about
that many MiB; then the real CLI decrypts it in a child process and the peak
resident set size of that process tree (the largest process: getrusage of
the waited children) is printed next to the capture size.  A flat column is
the goal: the capture is streamed, only live SA state is kept, and plaintext is
written as it is produced.  Needs the repository root on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.attack.synth import lab_trapdoor  # noqa: E402
from tests.attack.synth_mass import bulk_capture  # noqa: E402

MiB = 1 << 20
_WRAP = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def measure(capture: Path, out: Path, key: Path, workers: int) -> tuple[int, float, float]:
    """(exit status, seconds, peak RSS MiB) of one CLI run in a fresh process tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", _WRAP, sys.executable, "-m", "kleptolab", "decrypt", str(capture),
           "--trapdoor", str(key), "-o", str(out), "--workers", str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    rc, seconds, kib = done.stdout.split()
    return int(rc), float(seconds), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[10, 100, 1024], help="capture sizes (MiB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep captures and outputs in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kleptolab-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    key = work / "trapdoor.json"
    key.write_text(json.dumps(lab_trapdoor().to_json()))
    print(f"{'capture MiB':>12} {'sessions':>9} {'ESP pkts':>9} {'run s':>7} {'MiB/s':>7} {'peak RSS MiB':>13}")
    for size in args.sizes:
        capture = work / f"bulk-{size:g}.pcap"
        if not capture.exists():
            bulk_capture(capture, size)
        out = work / f"out-{size:g}"
        rc, seconds, rss = measure(capture, out, key, args.workers)
        report = json.loads((out / "report.json").read_text())
        esp = sum(e["decrypted"] for e in report["esp"])
        mib = capture.stat().st_size / MiB
        status = "" if rc == 0 else f"  (exit {rc})"
        print(f"{mib:12.1f} {len(report['sessions']):9d} {esp:9d} {seconds:7.1f} {mib / seconds:7.1f} "
              f"{rss:13.1f}{status}", flush=True)
        if args.keep is None:
            capture.unlink()
            shutil.rmtree(out)
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.0f} s")
