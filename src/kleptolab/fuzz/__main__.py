"""``python -m kleptolab.fuzz TARGET [--seconds N] [--seed S] [--atheris -- ATHERIS_ARGS]``.

Without ``--atheris``: mutate the target's seeds at random for ``--seconds``
(bounded), print executions per second, and on a contract violation write the
input to ``crash-<target>-<sha256>.bin`` and exit 1.  With ``--atheris``: hand
the target to atheris (coverage-guided; ``pip install atheris``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import random
import sys
import time
import traceback
from pathlib import Path

from kleptolab.fuzz import TARGETS, mutate, run_one, seeds


def _loop(name: str, seconds: float, seed: int, out: Path) -> int:
    rng = random.Random(seed)
    pool = seeds(name)
    start = time.monotonic()
    runs = 0
    while time.monotonic() - start < seconds:
        data = mutate(rng, rng.choice(pool), pool)
        try:
            run_one(name, data)
        except Exception:
            path = out / f"crash-{name}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
            path.write_bytes(data)
            traceback.print_exc()
            print(f"{name}: contract violation after {runs} runs; input saved to {path}")
            return 1
        runs += 1
    elapsed = time.monotonic() - start
    print(f"{name}: {runs} runs in {elapsed:.1f} s ({runs / elapsed:.0f}/s), no violation")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kleptolab.fuzz", description=__doc__)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=float, default=10.0, help="run time (random loop)")
    parser.add_argument("--seed", type=int, default=13, help="mutation RNG seed")
    parser.add_argument("--out", type=Path, default=Path.cwd(), help="where crash inputs go")
    parser.add_argument("--atheris", action="store_true", help="use atheris (args after --)")
    args, rest = parser.parse_known_args(argv)
    if args.seconds <= 0 or args.seconds > 86_400:
        parser.error("--seconds must be in (0, 86400]")
    if not args.atheris:
        return _loop(args.target, args.seconds, args.seed, args.out)
    try:  # pragma: no cover - needs atheris
        atheris = importlib.import_module("atheris")
    except ImportError:
        parser.error("atheris is not installed: pip install atheris")
    seeds(args.target)  # load seeds before instrumentation  # pragma: no cover
    atheris.Setup([sys.argv[0], *[a for a in rest if a != "--"]], lambda d: run_one(args.target, d))
    atheris.Fuzz()  # pragma: no cover
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
