"""ESP decryption throughput: one packet at a time against EspSa.unprotect_batch, on 1 and 2 cores.

    python benchmarks/esp.py [--packets 20000] [--size 1328] [--batch 64]

AES-128-CBC + HMAC-SHA1-96 packets of ``--size`` inner bytes; every ICV is
verified.  ``unprotect`` builds one CBC context per packet (above 512 bytes);
``unprotect_batch`` verifies each ICV, then decrypts all verified packets of
the batch with one CBC context.  "2 cores" runs the same loop in two processes
at once (two captures in parallel, as a many-capture run does) and adds their
rates.  The ratio is against the per-packet path measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import time
from multiprocessing import Pool

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.sa import EspSa

SPI = b"\x01\x02\x03\x04"


def _rate(args: tuple[str, int, int, int]) -> float:
    mode, count, size, batch = args
    ek, ik = b"k" * 16, b"i" * 20
    tx = EspSa(SPI, Encr.AES_CBC, ek, Integ.HMAC_SHA1_96, ik, random_bytes=os.urandom, replay_window=None)
    packets = [tx.encapsulate(os.urandom(size)) for _ in range(count)]
    rx = EspSa(SPI, Encr.AES_CBC, ek, Integ.HMAC_SHA1_96, ik, replay_window=None)
    total = sum(map(len, packets))
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        if mode == "single":
            for p in packets:
                rx.unprotect(p)
        else:
            for i in range(0, count, batch):
                rx.unprotect_batch(packets[i : i + batch])
        best = max(best, total / (time.perf_counter() - t0) / 2**20)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--size", type=int, default=1328)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rates = {}
    for mode in ("single", "batch"):
        job = (mode, args.packets, args.size, args.batch)
        one = _rate(job)
        with Pool(2) as pool:
            two = sum(pool.map(_rate, [job, job]))
        rates[mode] = (one, two)
        print(f"{mode:6}: 1 core {one:6.0f} MiB/s, 2 cores {two:6.0f} MiB/s")
    print(f"batch / single: {rates['batch'][0] / rates['single'][0]:.2f}x on 1 core, "
          f"{rates['batch'][1] / rates['single'][1]:.2f}x on 2 cores")


if __name__ == "__main__":
    main()
