"""Audit time on the full lab history, against the bare cost of its parts.

Usage: ``python benchmarks/supplychain.py [--scenario insider] [--runs 3]``

Builds the lab repository once (28 commits, 17 release tags for ``insider``),
then times ``run_audit`` (best of ``--runs``) and, as the baseline measured in
the same run, the floor any audit pays: reading every tag's tree with git and
building its image (no signatures, no scanning, no attribution).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kleptolab.drbg.trapdoor import generate_trapdoor
from kleptolab.supplychain.audit import run_audit
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.make import create_lab
from kleptolab.supplychain.source import build_from_tree


def _best(runs: int, fn: object) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="insider")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        lab = create_lab(root / "src", root / "img", generate_trapdoor().q, args.scenario)
        made = time.perf_counter() - started
        git = Git(lab.path)
        tags = git.tags()

        def rebuild_all() -> None:
            for commit in tags.values():
                build_from_tree(git.files(commit))

        baseline = _best(args.runs, rebuild_all)
        result = run_audit(lab.path, lab.images)
        audit = _best(args.runs, lambda: run_audit(lab.path, lab.images))
    print(
        f"scenario {args.scenario}: {len(result.reviews)} commits, {len(tags)} release tags, "
        f"{len(result.findings)} findings (init {made:.2f} s)"
    )
    print(f"baseline (git read + build of every tag): {baseline:.3f} s")
    print(
        f"full audit (policy, signatures, rebuild + scan, attribution): {audit:.3f} s "
        f"= {audit / baseline:.1f}x baseline"
    )


if __name__ == "__main__":
    main()
