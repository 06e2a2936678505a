"""Time one full 2^16 ScreenOS state recovery against a naive pure-Python baseline.

    python benchmarks/recover.py [--repeat 3] [--workers N]

Both backends of :func:`recover_states` are timed on the same outputs: the
libcrypto (ctypes) kernel and the reference ``cryptography`` path.  The baseline is textbook affine arithmetic (one modular inversion per group
operation) on a 1/64 slice of the prefixes, scaled up by 64; both run in the
same process on the same machine, so the ratio is meaningful even when the
machine is shared.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time

from kleptolab.drbg import _fastsweep
from kleptolab.drbg.curves import P256
from kleptolab.drbg.dualec import dualec32
from kleptolab.drbg.recover import recover_states
from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor

Point = tuple[int, int] | None
P, N, B = P256.p, P256.n, P256.b


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def _mul(k: int, point: Point) -> Point:
    acc: Point = None
    for bit in bin(k % N)[2:]:
        acc = _add(acc, acc)
        if bit == "1":
            acc = _add(acc, point)
    return acc


def naive_slice(output: bytes, trapdoor: Trapdoor, prefixes: range) -> list[int]:
    """The obvious algorithm: lift, d*R, s*Q, compare 16 bits."""
    low = int.from_bytes(output[:30], "big")
    found = []
    for prefix in prefixes:
        x = (prefix << 240) | low
        rhs = (x * x * x - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P != rhs:
            continue
        s = _mul(trapdoor.d, (x, y))
        assert s is not None
        r = _mul(s[0], trapdoor.q)
        assert r is not None
        if r[0].to_bytes(32, "big")[2:4] == output[30:32]:
            found.append(s[0])
    return found


def _sweeps(
    backend: str, outputs: list[tuple[bytes, int]], trapdoor: Trapdoor, workers: int
) -> list[float]:
    os.environ[_fastsweep.BACKEND_ENV] = backend  # inherited by the forked workers
    times = []
    for output, s2 in outputs:
        start = time.perf_counter()
        found = recover_states(output, trapdoor, workers=workers)
        times.append(time.perf_counter() - start)
        assert s2 in found, "recovery missed the true state"
        print(
            f"  {backend}: full 2^16 sweep, {workers} workers: {times[-1]:.2f} s ({len(found)} candidate(s))"
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    trapdoor = generate_trapdoor()
    outputs = [dualec32(secrets.randbits(256) | 1, trapdoor.q) for _ in range(args.repeat)]
    print(f"cpu count {os.cpu_count()}, load average before {os.getloadavg()[0]:.2f}")
    backends = ["openssl", "reference"] if _fastsweep.openssl_kernel() else ["reference"]
    if len(backends) == 1:
        print("no usable libcrypto (or its self-check failed): timing the reference path only")
    results = {backend: _sweeps(backend, outputs, trapdoor, args.workers) for backend in backends}
    output, _ = dualec32(12345, trapdoor.q)
    start = time.perf_counter()
    naive_slice(output, trapdoor, range(0, 1 << 10))
    naive = (time.perf_counter() - start) * 64
    print(f"naive pure-Python affine baseline (1/64 slice x 64, 1 core): {naive:.1f} s")
    for backend, times in results.items():
        best, median = min(times), statistics.median(times)
        print(
            f"{backend}: best {best:.2f} s, median {median:.2f} s"
            f" -> {naive / median:.0f}x faster than naive"
        )
    if len(results) == 2:
        ratio = statistics.median(results["reference"]) / statistics.median(results["openssl"])
        print(f"openssl vs reference (medians): {ratio:.2f}x")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
