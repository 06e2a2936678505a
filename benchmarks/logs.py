"""``kleptolab logs`` throughput, seal verification on a large log, and hostile inputs.

Usage: ``python benchmarks/logs.py [--lines 1000000] [--mib 100] [--skip-big]``

* **verify**: a sealed ``get event`` log of ``--lines`` lines from the lab's
  :class:`~kleptolab.device.eventlog.EventLog` (one event every 0.25 s, seals
  every 10 s and after each admin logon); the analyzer's full pass with
  ``--verify-key`` against the same pass without it (the baseline), and the
  size each entry gains from ``mac=`` plus its share of the seal lines.
* **throughput**: ``--mib`` MiB of mixed ``get event`` and syslog lines
  through the analyzer (parse, rules), against a bare read of the same file.
* **hostile**: one 100 KB line of each troublesome shape, and 40k admin-logon
  lines (00515 'system' + 00528) from one source, timed; the issue measured
  24.5 s and 245 s for these before the parser and rules became linear.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

from kleptolab.defend.eventlog_format import ParseResult, iter_events
from kleptolab.defend.logrules import evaluate_stream
from kleptolab.defend.logseal import SealVerifier
from kleptolab.device.eventlog import EventLog, admin_logon, admin_password_ok
from kleptolab.device.sealing import VerifyKey, setup_keys

MiB = 1 << 20
DEVICE = "0185122017000042"


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            yield line.rstrip("\n")


def analyse(path: Path, key: VerifyKey | None) -> tuple[float, int, int]:
    """Seconds, events and high alerts of one full ``kleptolab logs`` pass over ``path``."""
    start = time.perf_counter()
    parsed = ParseResult([], 0, [])
    verifier = SealVerifier(key) if key is not None else None
    result = evaluate_stream(
        iter_events(_lines(path), str(path), parsed),
        observe=verifier.feed if verifier is not None else None,
    )
    alerts = result.alerts + (verifier.finish() if verifier is not None else [])
    seconds = time.perf_counter() - start
    return seconds, result.events, sum(a.severity in ("high", "critical") for a in alerts)


def sealed_log(path: Path, lines: int, sealed: bool) -> tuple[VerifyKey, int]:
    """Write a ``lines``-line event log; returns the key and the number of entries (not seals)."""
    t = [1795000000.0]
    sealer, key = setup_keys(random.Random(1).randbytes, device_id=DEVICE, interval=10, start=t[0])
    log = EventLog(
        clock=lambda: t[0],
        tz=UTC,
        sealer=sealer if sealed else None,
        rate_limit=None,
        max_entries=1000,
    )
    written = entries = 0
    with path.open("w", encoding="utf-8") as out:

        def sink(entry: object) -> None:
            nonlocal written
            out.write(entry.line + "\n")  # type: ignore[attr-defined]
            written += 1

        log.add_sink(sink)
        k = 0
        while written < lines:
            t[0] += 0.25
            k += 1
            if k % 5000 == 0:
                admin_logon(log, "netscreen", "SSH", "10.0.0.9", 40000 + k % 20000)
                admin_password_ok(log, "netscreen", "SSH", "10.0.0.9")
                entries += 2
            else:
                log.emit(
                    536,
                    f"IKE 192.0.2.{k % 250} Phase 1: Completed Main Mode negotiations "
                    f"with a <28800>-second lifetime. ({k})",
                )
                entries += 1
    return key, entries


def bench_verify(lines: int, tmp: Path) -> None:
    plain, sealed = tmp / "plain.log", tmp / "sealed.log"
    t0 = time.perf_counter()
    key, entries = sealed_log(sealed, lines, True)
    sealed_log(plain, lines, False)
    print(f"verify: generated 2 x {lines} lines in {time.perf_counter() - t0:.1f} s")
    base, n_base, _ = analyse(sealed, None)
    full, n_full, high = analyse(sealed, key)
    overhead = (sealed.stat().st_size - plain.stat().st_size) / entries
    print(
        f"verify: {n_full} lines ({sealed.stat().st_size / MiB:.0f} MiB), analysis without key "
        f"{base:.1f} s ({n_base / base:,.0f} lines/s), with --verify-key {full:.1f} s "
        f"({n_full / full:,.0f} lines/s, {sealed.stat().st_size / MiB / full:.1f} MiB/s); "
        f"ratio {full / base:.2f}x the baseline; high findings {high} (expect 0)"
    )
    print(
        f"verify: size overhead {overhead:.1f} bytes per entry (mac= field plus the seal lines' "
        f"share; the plain log has chain= already, {plain.stat().st_size / entries:.0f} B/entry)"
    )


def bench_throughput(mib: int, tmp: Path) -> None:
    sample = tmp / "sample.log"
    sealed_log(sample, 20000, True)
    text = sample.read_text(encoding="utf-8").splitlines()
    syslog = [
        f"<132>Nov 23 11:20:13 ssg5-lab: NetScreen device_id={DEVICE}  [Root]system-information-"
        f"00536: IKE 192.0.2.{k % 250} Phase 1: Completed Main Mode negotiations "
        f"(2026-11-23 11:20:13)"
        for k in range(2000)
    ]
    block = "\n".join(text + syslog) + "\n"
    big = tmp / "big.log"
    with big.open("w", encoding="utf-8") as out:
        size = 0
        while size < mib * MiB:
            out.write(block)
            size += len(block)
    t0 = time.perf_counter()
    for _ in _lines(big):
        pass
    read = time.perf_counter() - t0
    seconds, events, _ = analyse(big, None)
    total = big.stat().st_size / MiB
    print(
        f"throughput: {total:.0f} MiB, {events:,} events analysed in {seconds:.1f} s "
        f"({total / seconds:.1f} MiB/s; goal: 100 MB in under 60 s); bare read {read:.1f} s, "
        f"ratio {seconds / read:.1f}x"
    )


def bench_hostile(tmp: Path) -> None:
    shapes = {
        "syslog marks": "NetScreen device_id=1  [Root]system-warning-00515: " * 2000,
        "whitespace": "2026-11-23 11:20:13 system warn 00515 " + " " * 100_000 + "x",
        "chain-like": "2026-11-23 11:20:13 system warn 00515 a" + " chain=" * 14_000,
        "long message": "2026-11-23 11:20:13 system warn 00515 Admin user " + "a" * 100_000,
    }
    for name, line in shapes.items():
        path = tmp / "one.log"
        path.write_text(line[:100_000] + "\n", encoding="utf-8")
        seconds, _, _ = analyse(path, None)
        print(f"hostile: one 100 KB line ({name}): {seconds * 1000:.1f} ms (was 24.5 s)")
    path = tmp / "one-source.log"
    with path.open("w", encoding="utf-8") as out:
        for k in range(20_000):
            stamp = f"2026-11-23 11:{k // 600 % 60:02d}:{k // 10 % 60:02d}"
            out.write(
                f"{stamp} system warn 00515 Admin user system has logged on via SSH from "
                f"127.0.0.1:{40000 + k % 20000}\n"
            )
            out.write(
                f"{stamp} system warn 00528 SSH: Password authentication successful for "
                f"admin user 'netscreen' at host 127.0.0.1.\n"
            )
    seconds, events, _ = analyse(path, None)
    print(f"hostile: {events} admin-logon lines from one source: {seconds:.2f} s (was 245 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--skip-big", action="store_true", help="only the hostile inputs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_hostile(Path(tmp))
        if not args.skip_big:
            bench_verify(args.lines, Path(tmp))
            bench_throughput(args.mib, Path(tmp))


if __name__ == "__main__":
    main()
