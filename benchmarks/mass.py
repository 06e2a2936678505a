"""Mass decryption: many captures from many gateways, one sweep per gateway, local against Dask.

    python benchmarks/mass.py [--captures 1000] [--gateways 50] [--sessions 3] [--workers 2] [--keep DIR]

Writes ``--captures`` pcaps from ``--gateways`` emulated 6.3.0r20-style
gateways (each its own PRNG seed and address; odd gateways speak IKEv1 Main
Mode PSK, even ones IKEv2 PSK; ``--sessions`` connections per capture; the
gateway serves 20 unobserved connections between two of its captures, so
each capture's first nonce is found by walking forward from that gateway's
known states).  Then the same captures are decrypted from an empty state
store by the local engine and by Dask (a LocalCluster of ``--workers``
single-thread workers), each in a fresh process tree, and the script prints
for each: sweeps (must equal the gateway count), sessions decrypted,
sessions/s and MiB/s over the whole run, and the peak RSS of the largest
process.  Needs the repository root on ``sys.path``.
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

MiB = 1 << 20


def run_one(engine: str, folder: Path, workers: int) -> None:
    """Child mode: decrypt every capture in ``folder`` with ``engine``; print one JSON line."""
    import resource

    from tests.attack.synth import lab_trapdoor
    from tests.attack.synth_v1 import PSK

    from kleptolab.attack.decryptor import DecryptOptions
    from kleptolab.attack.engine import make_engine
    from kleptolab.attack.pipeline import decrypt_many
    from kleptolab.attack.store import StateStore

    captures = sorted(folder.glob("*.pcap"))
    runner = make_engine(engine, workers)
    t0 = time.perf_counter()
    try:
        run = decrypt_many(captures, lab_trapdoor(), runner, StateStore(), DecryptOptions(psk=PSK))
    finally:
        runner.close()
    wall = time.perf_counter() - t0
    rusage = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    r = run.report
    print(json.dumps({"wall_s": wall, "sweeps": r["sweeps"], "sessions": r["sessions"],
                      "decrypted": r["sessions_decrypted"], "esp": r["esp_decrypted"], "esp_packets": r["esp_packets"],
                      "gateways": len(r["gateways"]), "timings": r["timings"], "rss_mib": rusage / 1024,
                      "bytes": sum(c.stat().st_size for c in captures)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--gateways", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=3, help="connections per capture")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the captures in this folder")
    parser.add_argument("--run-one", nargs=2, metavar=("ENGINE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one[0], Path(args.run_one[1]), args.workers)
        return
    from tests.attack.synth_mass import mass_captures

    work = args.keep or Path(tempfile.mkdtemp(prefix="kleptolab-mass-"))
    caps = work / f"caps-{args.captures}-{args.gateways}-{args.sessions}"
    if not caps.exists():
        t0 = time.perf_counter()
        mass_captures(caps.with_suffix(".tmp"), args.gateways, args.captures, args.sessions)
        caps.with_suffix(".tmp").rename(caps)
        print(f"wrote {args.captures} captures from {args.gateways} gateways in {time.perf_counter() - t0:.0f} s")
    size = sum(p.stat().st_size for p in caps.glob("*.pcap")) / MiB
    print(f"{args.captures} captures, {size:.1f} MiB, {args.gateways} gateways, {args.sessions} connections each; "
          f"{args.workers} workers")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    print(f"{'engine':>7} {'sweeps':>7} {'sessions':>13} {'ESP pkts':>13} {'wall s':>7} {'sess/s':>7} "
          f"{'MiB/s':>6} {'peak RSS MiB':>13}")
    for engine in args.engines:
        done = subprocess.run([sys.executable, __file__, "--run-one", engine, str(caps), "--workers",
                               str(args.workers)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{engine}: failed\n{done.stderr[-2000:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        flag = "" if r["sweeps"] == r["gateways"] == args.gateways else "  <- sweeps != gateways"
        print(f"{engine:>7} {r['sweeps']:7d} {r['decrypted']:>6}/{r['sessions']:<6} "
              f"{r['esp']:>6}/{r['esp_packets']:<6} {r['wall_s']:7.1f} {r['decrypted'] / r['wall_s']:7.1f} "
              f"{r['bytes'] / MiB / r['wall_s']:6.2f} {r['rss_mib']:13.1f}{flag}")
        print(f"        stages: {r['timings']}")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
