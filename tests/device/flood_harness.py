"""Flood a gateway process on loopback while a legitimate client keeps connecting.

The gateway runs in its own process (``flood_gateway.py``: real engines, the
gateway's default ``max_half_open`` of 32).  A thread sends ``packets`` IKE
datagrams at ``rate`` per second from ``sources`` loopback addresses
(127.1.0.1, 127.1.0.2, ...; or all from the client's own address, as a
spoofer would), built from real first messages with a fresh initiator SPI
each, or mutated copies of real IKE packets.  Meanwhile the client (on
127.0.0.1) makes ``attempts`` connections spread over the flood, each given
``attempt_timeout`` seconds (the flood goes on, up to ``OVERRUN`` times its
size, while they last).  Everything is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kleptolab.capture.datagrams import read_capture
from kleptolab.device.client import VpnClient
from kleptolab.device.engines import DefaultEngines
from kleptolab.ike.common import SimpleKeySource

from .flood_gateway import PSK, gateway_peers

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "data" / "captures" / "strongswan-5.9.8"
CLIENT_HOST = "127.0.0.1"
OVERRUN = 3


@dataclass
class FloodResult:
    kind: str
    sent: int
    seconds: float
    attempts: int
    successes: int
    gateway: dict[str, int | float]

    @property
    def rate(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0

    def line(self) -> str:
        g = self.gateway
        return (
            f"{self.kind}: {self.sent} packets in {self.seconds:.1f} s "
            f"({self.sent / self.seconds:.0f}/s); legitimate {self.successes}/{self.attempts}; "
            f"gateway peak half-open {g['peak_half_open']} (cap {g['hard_cap']}), "
            f"peak RSS {g['peak_rss_kib'] / 1024:.1f} MiB, CPU {g['cpu_s']} s"
        )


def first_message(aggressive: bool, version: int = 1) -> bytes:
    """A real first message (MM/AM request or IKE_SA_INIT) from the lab's initiator engine."""
    peer = next(p for p in gateway_peers(aggressive) if p.version == version)
    mine = dataclasses.replace(peer, local_id="client.example", remote_id="gw.example")
    engine = DefaultEngines([mine], SimpleKeySource(os.urandom)).initiator(
        mine, ("127.0.0.1", 500), ("127.0.0.1", 500)
    )
    return next(iter(engine.outgoing()))


def real_ike_packets() -> list[bytes]:
    """IKE messages from the strongSwan captures in tests/data, plus the lab's first messages."""
    packets = [first_message(False), first_message(True), first_message(False, 2)]
    for pcap in sorted(CAPTURES.glob("*/*.pcap")):
        for d in read_capture(pcap).datagrams:
            if 500 in (d.sport, d.dport):
                packets.append(d.payload)
            elif 4500 in (d.sport, d.dport) and d.payload[:4] == bytes(4):
                packets.append(d.payload[4:])
    return packets


def mutate(rng: random.Random, packet: bytes) -> bytes:
    """One random mutation of ``packet``: bit flips, byte overwrites, truncation, or splices."""
    data = bytearray(packet)
    choice = rng.randrange(5)
    if choice == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif choice == 1:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice == 2:
        del data[rng.randrange(len(data)) :]
    elif choice == 3:
        i = rng.randrange(len(data) + 1)
        data[i:i] = rng.randbytes(rng.randint(1, 16))
    if rng.random() < 0.7 and len(data) >= 8:
        data[:8] = rng.randbytes(8)  # a fresh initiator SPI: every copy may open an SA
    return bytes(data)


def _flood(
    payloads: list[bytes],
    sources: list[str],
    target: tuple[str, int],
    rate: float,
    stop: threading.Event,
) -> tuple[int, float, float]:
    """Send ``payloads`` round-robin from ``sources`` at ``rate`` until ``stop``; (sent, start, end).

    If the client is still busy when the payloads run out, they are sent again
    with fresh initiator SPIs, up to ``OVERRUN`` times as many in all.
    """
    socks = []
    for host in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, 0))
        s.setblocking(False)
        socks.append(s)
    start = time.monotonic()
    sent = 0
    try:
        while sent < OVERRUN * len(payloads) and not stop.is_set():
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, 0.01))
                continue
            with contextlib.suppress(BlockingIOError):
                data = payloads[sent % len(payloads)]
                if sent >= len(payloads):
                    data = os.urandom(8) + data[8:]
                socks[sent % len(socks)].sendto(data, target)
            sent += 1
    finally:
        for s in socks:
            s.close()
    return sent, start, time.monotonic()


async def _attempts(
    ports: dict[str, int], aggressive: bool, attempts: int, spacing: float, timeout: float
) -> list[tuple[float, bool]]:
    """(end time, established) per attempt."""
    done: list[tuple[float, bool]] = []
    for n in range(attempts):
        started = time.monotonic()
        client = VpnClient(
            CLIENT_HOST,
            psk=PSK,
            ike_port=ports["ike"],
            natt_port=ports["natt"],
            aggressive=aggressive,
            bind_host=CLIENT_HOST,
        )
        ok = False
        try:
            await client.connect(timeout=timeout)
            ok = True
        except TimeoutError:
            pass
        finally:
            await client.close()
        done.append((time.monotonic(), ok))
        if n + 1 < attempts:
            await asyncio.sleep(max(0.0, spacing - (time.monotonic() - started)))
    return done


def run_flood(
    kind: str,
    payloads: list[bytes],
    *,
    rate: float = 500.0,
    attempts: int = 10,
    aggressive: bool = False,
    sources: list[str] | None = None,
    attempt_timeout: float = 2.0,
    warmup: float = 0.3,
) -> FloodResult:
    """Flood a fresh gateway process with ``payloads`` while the client makes ``attempts``.

    Only attempts that finished while the flood was still running are counted.
    """
    sources = sources or [f"127.1.0.{n}" for n in range(1, 251)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    options = json.dumps({"aggressive": aggressive, "max_half_open": 32})
    gateway = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("flood_gateway.py")), options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert gateway.stdin is not None and gateway.stdout is not None
    stop = threading.Event()
    try:
        ports = json.loads(gateway.stdout.readline())
        outcome: list[tuple[int, float, float]] = []
        flooder = threading.Thread(
            target=lambda: outcome.append(
                _flood(payloads, sources, ("127.0.0.1", ports["ike"]), rate, stop)
            )
        )
        flooder.start()
        time.sleep(warmup)
        spacing = max(0.0, len(payloads) / rate - warmup) / attempts
        done = asyncio.run(
            asyncio.wait_for(
                _attempts(ports, aggressive, attempts, spacing, attempt_timeout),
                attempts * (spacing + attempt_timeout + 1) + 10,
            )
        )
        stop.set()
        flooder.join(timeout=10)
        gateway.stdin.close()
        figures = json.loads(gateway.stdout.readline())
        gateway.wait(timeout=10)
    finally:
        stop.set()
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
    sent, start, end = outcome[0]
    during = [ok for finished, ok in done if finished <= end]  # only attempts under the flood
    return FloodResult(kind, sent, end - start, len(during), sum(during), figures)
