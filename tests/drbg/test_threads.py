"""The sweep kernel is per thread: concurrent sweeps give the single-thread survivors, no crash."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from kleptolab.drbg import _fastsweep
from kleptolab.drbg.dualec import dualec32, dualec_blocks
from kleptolab.drbg.recover import recover_chunk
from kleptolab.drbg.trapdoor import Trapdoor


def test_each_thread_gets_its_own_kernel() -> None:
    kernels: list[object] = []
    lock = threading.Lock()

    def grab() -> None:
        k = _fastsweep.openssl_kernel()
        with lock:
            kernels.append(k)
        assert _fastsweep.openssl_kernel() is k  # cached within the thread

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if kernels[0] is None:
        return  # no usable libcrypto: every thread uses the reference path
    assert len({id(k) for k in kernels}) == 3


def test_concurrent_sweeps_match_sequential(trapdoor: Trapdoor) -> None:
    seed = 0xC0FFEE << 100
    output, state = dualec32(seed, trapdoor.q)
    prefix = dualec_blocks(seed, trapdoor.q)[0] >> 240  # the true candidate index
    data = trapdoor.to_json()
    base = min(prefix // 512 * 512, (1 << 16) - 8 * 512)
    chunks = [(lo, lo + 512) for lo in range(base, base + 8 * 512, 512)]
    sequential = [recover_chunk(output, data, lo, hi) for lo, hi in chunks]
    assert state in {s for found in sequential for s in found}
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda c: recover_chunk(output, data, *c), chunks * 2))
    assert concurrent == sequential * 2
