"""The IKEv1 half-open floods of issue 13, reproduced on loopback against a gateway process.

Scaled for CI: 1,500 packets at 500/s (3 s) from 250 loopback addresses
(127.1.0.1-250) while a legitimate client on 127.0.0.1 makes 8 attempts; the
``slow`` variants run the full sizes (20,000 Main/Aggressive Mode first
messages, 50,000 mutated real IKE packets, 500/s).  Before fair eviction the
legitimate client failed every attempt under all of them.  An Aggressive Mode
first message costs the responder one modular exponentiation and its Dual EC
draws (about 1.2 ms), so a 500/s AM flood needs roughly 60% of a core: CI runs
it at 250/s, the ``slow`` variant at 500/s, and on a host whose load starves
the gateway the tests skip rather than measure the host.
"""

from __future__ import annotations

import os
import random

import pytest

from .flood_harness import FloodResult, first_message, mutate, real_ike_packets, run_flood

pytestmark = pytest.mark.network
MAX_LOAD_PER_CPU = 2.0


@pytest.fixture(autouse=True)
def quiet_host(request: pytest.FixtureRequest) -> None:
    """Flood timings mean nothing on a host whose run queue starves the gateway process."""
    if "defers" in request.node.name:  # no sockets, no timing
        return
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load / cpus > MAX_LOAD_PER_CPU:
        pytest.skip(
            f"host overloaded (load average {load:.1f} on {cpus} CPUs): flood rates untestable"
        )


CI_PACKETS = 1_500
RATE = 500.0


def fresh_spis(message: bytes, count: int) -> list[bytes]:
    return [os.urandom(8) + message[8:] for _ in range(count)]


def check(result: FloodResult, min_attempts: int, rate: float = RATE) -> None:
    print(result.line())
    assert result.sent >= 0.8 * rate * result.seconds, result.line()  # it really ran at ~rate
    assert result.attempts >= min_attempts, result.line()
    assert result.rate >= 0.9, result.line()
    gateway = result.gateway
    assert gateway["peak_half_open"] <= gateway["hard_cap"], result.line()  # bounded state
    assert gateway["peak_sas"] <= gateway["hard_cap"] + 2, result.line()
    assert gateway["peak_rss_kib"] < 256 * 1024, result.line()


@pytest.mark.parametrize("aggressive", [False, True], ids=["main-mode", "aggressive-mode"])
def test_first_message_flood_from_250_sources_leaves_room_for_a_legitimate_client(
    aggressive: bool,
) -> None:
    rate = RATE / 2 if aggressive else RATE  # CI: AM at 250/s (30% of a core), slow: 500/s
    payloads = fresh_spis(first_message(aggressive), int(CI_PACKETS * rate / RATE))
    result = run_flood(
        "AM flood" if aggressive else "MM flood",
        payloads,
        rate=rate,
        attempts=8,
        aggressive=aggressive,
    )
    check(result, min_attempts=6, rate=rate)


def test_mutated_real_packets_leave_room_for_a_legitimate_client() -> None:
    rng = random.Random(13)
    seeds = real_ike_packets()
    payloads = [mutate(rng, rng.choice(seeds)) for _ in range(CI_PACKETS)]
    check(run_flood("mutated", payloads, attempts=8), min_attempts=6)


def test_spoofed_first_messages_from_the_clients_own_address_do_not_lock_it_out() -> None:
    """8 spoofed packets per 30 s used to lock the client out; 100/s now costs it little."""
    payloads = fresh_spis(first_message(False), 300)
    result = run_flood(
        "MM spoofed from 127.0.0.1", payloads, rate=100.0, attempts=5, sources=["127.0.0.1"]
    )
    print(result.line())
    assert result.attempts >= 4 and result.rate >= 0.75, result.line()


@pytest.mark.slow
@pytest.mark.parametrize("aggressive", [False, True], ids=["main-mode", "aggressive-mode"])
def test_full_size_first_message_flood(aggressive: bool) -> None:
    payloads = fresh_spis(first_message(aggressive), 20_000)
    result = run_flood(
        "AM flood 20k" if aggressive else "MM flood 20k",
        payloads,
        attempts=40,
        aggressive=aggressive,
    )
    check(result, min_attempts=30)


@pytest.mark.slow
def test_full_size_mutated_packets() -> None:
    rng = random.Random(50_000)
    seeds = real_ike_packets()
    payloads = [mutate(rng, rng.choice(seeds)) for _ in range(50_000)]
    check(run_flood("mutated 50k", payloads, attempts=50), min_attempts=40)


def test_aggressive_mode_responder_defers_g_xy_until_message_3() -> None:
    """A spoofed AM request costs the responder one exponentiation (g^x), not two."""
    import dataclasses

    from kleptolab.device.engines import DefaultEngines
    from kleptolab.ike.common import IkeSaEstablished, SimpleKeySource

    from .flood_gateway import gateway_peers

    peer = next(p for p in gateway_peers(True) if p.version == 1)
    mine = dataclasses.replace(peer, local_id="client.example", remote_id="gw.example")
    keys = SimpleKeySource(os.urandom)
    initiator = DefaultEngines([mine], keys).initiator(mine, ("127.0.0.1", 500), ("127.0.0.1", 500))
    responder = DefaultEngines([peer], keys).responder(1, ("127.0.0.1", 500), ("127.0.0.1", 500))
    assert responder.receive(next(iter(initiator.outgoing()))) == []
    assert responder.phase1_keys is None and not responder.g_xy  # type: ignore[attr-defined]
    events = initiator.receive(next(iter(responder.outgoing())))
    mine_up = [e for e in events if isinstance(e, IkeSaEstablished)]
    events = responder.receive(next(iter(initiator.outgoing())))
    theirs = [e for e in events if isinstance(e, IkeSaEstablished)]
    assert mine_up and theirs and mine_up[0].keys == theirs[0].keys  # same keys as before
