"""Pre-generation queues: CCS 2016 Figures 1 and 2, sizing, refill timer, draw log."""

from __future__ import annotations

import ipaddress

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.device.queues import PrngQueues, queue_sizes
from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
from kleptolab.drbg.trapdoor import generate_trapdoor
from kleptolab.ike.common import ChildProposal, IkeProposal, PeerConfig
from kleptolab.ike.dh import GROUPS


class CountingPrng:
    """Draw n returns n repeated: values can be traced back to their draw number."""

    def __init__(self, size: int = 32) -> None:
        self.n = 0
        self.size = size

    def generate(self) -> bytes:
        self.n += 1
        return bytes([self.n % 256]) * self.size


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def draw_of(value: bytes | int) -> int:
    raw = value if isinstance(value, bytes) else value.to_bytes(20, "big")
    assert len(set(raw)) == 1
    return raw[0]


def peer(name: str, group: int, pfs: int | None = None) -> PeerConfig:
    return PeerConfig(
        name=name,
        version=1,
        local_id="10.0.0.1",
        remote_id="10.0.0.2",
        ike_proposals=(IkeProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, group),),
        child_proposals=(ChildProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, pfs),),
        local_ts=ipaddress.IPv4Network("10.1.0.0/24"),
        remote_ts=ipaddress.IPv4Network("10.2.0.0/24"),
        psk=b"secret",
    )


def test_queue_sizes_follow_the_paper_examples() -> None:
    assert queue_sizes([peer("a", 2)]) == {2: 2}
    assert queue_sizes([peer("a", 2), peer("b", 2), peer("c", 5)]) == {2: 4, 5: 2}
    # a config using a group twice (IKE and PFS) still adds 2; PFS in another group adds 2 there
    assert queue_sizes([peer("a", 2, pfs=2), peer("b", 14, pfs=2)]) == {2: 4, 14: 2}
    with pytest.raises(ValueError, match="unsupported DH group 99"):
        queue_sizes([peer("x", 99)])


def test_sizes_two_modp1024_and_one_modp1536_give_nonce_queue_12() -> None:
    queues = PrngQueues(CountingPrng(), {2: 4, 5: 2}, nonce_size=32, clock=FakeClock())
    assert queues.capacity == {"nonce": 12, "dh:5": 2, "dh:2": 4}


def test_boot_fills_in_priority_order() -> None:
    sizes = {1: 2, 2: 2, 5: 2, 14: 2, 19: 2, 20: 2}
    queues = PrngQueues(CountingPrng(), sizes, nonce_size=32, clock=FakeClock())
    queues.fill()
    purposes = [d.purpose for d in queues.draws]
    # nonces first, then strongest to weakest; ECP384 takes 2 draws per value (48-byte scalar)
    assert purposes[:24] == ["nonce"] * 24
    order: list[str] = []
    for p in purposes[24:]:
        if not order or order[-1] != p:
            order.append(p)
    assert order == ["dh:20", "dh:19", "dh:14", "dh:5", "dh:2", "dh:1"]
    assert queues.levels() == {
        "nonce": (24, 24), "dh:20": (2, 2), "dh:19": (2, 2), "dh:14": (2, 2),
        "dh:5": (2, 2), "dh:2": (2, 2), "dh:1": (2, 2),
    }


def test_figure1_handshake_uses_nonce_1_and_key_5_then_refill_7_8() -> None:
    clock = FakeClock()
    queues = PrngQueues(CountingPrng(), queue_sizes([peer("vpn", 2)]), nonce_size=32, clock=clock)
    queues.fill()
    assert [(d.index, d.purpose) for d in queues.draws] == [
        (1, "nonce"), (2, "nonce"), (3, "nonce"), (4, "nonce"), (5, "dh:2"), (6, "dh:2"),
    ]
    # responder order (common.KeySource contract): DH private first, then the nonce
    key = queues.dh_private(GROUPS[2])
    nonce = queues.nonce()
    assert draw_of(key) == 5 and draw_of(nonce) == 1
    assert len(nonce) == 32
    assert [t.draws for t in queues.taken] == [(5,), (1,)]
    assert not any(t.on_demand for t in queues.taken)
    # the timer: one value per second, highest-priority non-full queue first
    clock.now += 1
    assert queues.advance() == 1
    assert queues.draws[-1].index == 7 and queues.draws[-1].purpose == "nonce"
    clock.now += 1
    queues.advance()
    assert queues.draws[-1].index == 8 and queues.draws[-1].purpose == "dh:2"
    clock.now += 5
    assert queues.advance() == 5
    assert queues.calls == 8  # all full: further ticks make nothing
    assert [draw_of(v.value) for v in queues.queued("nonce")] == [2, 3, 4, 7]


def test_figure2_modp1024_keys_go_stale_after_eight_modp2048_handshakes() -> None:
    clock = FakeClock()
    queues = PrngQueues(
        CountingPrng(), queue_sizes([peer("a", 14), peer("b", 2)]), nonce_size=32, clock=clock
    )
    queues.fill()
    # boot: nonces 1-8, MODP2048 keys 9-10, MODP1024 keys 11-12
    assert [draw_of(v.value) for v in queues.queued("dh:14")] == [9, 10]
    assert [draw_of(v.value) for v in queues.queued("dh:2")] == [11, 12]
    for _ in range(8):
        queues.dh_private(GROUPS[14])
        queues.nonce()
        clock.now += 2  # slower than the refill: two timer ticks between handshakes
        assert queues.advance() == 2
    remaining_nonces = [draw_of(v.value) for v in queues.queued("nonce")]
    assert len(remaining_nonces) == 8
    assert min(remaining_nonces) > 12
    # the MODP1024 keys now predate every nonce still queued
    key = queues.dh_private(GROUPS[2])
    assert draw_of(key) == 11
    assert draw_of(queues.nonce()) > draw_of(key)


def test_empty_queue_is_served_on_the_spot() -> None:
    queues = PrngQueues(CountingPrng(), {2: 2}, nonce_size=32, clock=FakeClock())
    queues.fill()
    for _ in range(4):
        queues.nonce()
    nonce = queues.nonce()
    assert draw_of(nonce) == 7 and queues.taken[-1].on_demand
    # a group without a queue (not configured) is always made on demand
    key = queues.dh_private(GROUPS[5])
    assert draw_of(key) == 8 and queues.taken[-1].on_demand and queues.draws[-1].purpose == "dh:5"


def test_burst_makes_keys_before_nonces() -> None:
    queues = PrngQueues(CountingPrng(), {2: 2}, nonce_size=32, clock=FakeClock())
    queues.fill()
    for _ in range(3):
        queues.dh_private(GROUPS[2])
        queues.nonce()
    # third handshake: key 7 made on demand before its nonce (queued nonce 3)
    assert [t.draws[0] for t in queues.taken][-2:] == [7, 3]


def test_x931_only_profile_has_no_nonce_queue_and_20_byte_nonces() -> None:
    prng = CountingPrng(size=20)
    queues = PrngQueues(prng, {2: 2}, nonce_size=20, nonce_queue=False, clock=FakeClock())
    queues.fill()
    assert queues.capacity == {"dh:2": 2}
    assert [d.purpose for d in queues.draws] == ["dh:2", "dh:2"]
    key = queues.dh_private(GROUPS[2])
    nonce = queues.nonce()
    assert draw_of(key) == 1 and len(nonce) == 20 and draw_of(nonce) == 3


def test_random_bytes_buffers_whole_outputs_from_the_same_prng() -> None:
    queues = PrngQueues(CountingPrng(), {}, nonce_size=32, clock=FakeClock())
    cookie = queues.random_bytes(8, purpose="cookie")
    spi = queues.random_bytes(4)
    pad = queues.random_bytes(30)
    assert cookie == b"\x01" * 8 and spi == b"\x01" * 4
    assert pad == b"\x01" * 20 + b"\x02" * 10
    assert [(d.index, d.purpose) for d in queues.draws] == [(1, "cookie"), (2, "random")]
    assert queues.nonce() == b"\x03" * 32


def test_ecp_values_use_whole_outputs_and_record_the_group() -> None:
    queues = PrngQueues(CountingPrng(), {20: 2}, nonce_size=32, clock=FakeClock())
    queues.fill()
    ecp = [d for d in queues.draws if d.purpose == "dh:20"]
    assert [d.index for d in ecp] == [5, 6, 7, 8] and {d.group for d in ecp} == {20}
    assert queues.queued("dh:20")[0].draws == (5, 6)


def test_real_prng_draw_log_matches_a_replay() -> None:
    trapdoor = generate_trapdoor()
    clock = FakeClock()
    prng = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=trapdoor.q, seed=0x1234, cycle_counter=lambda: 0)
    queues = PrngQueues(prng, {2: 2}, nonce_size=32, clock=clock)
    queues.fill()
    key = queues.dh_private(GROUPS[2])
    nonce = queues.nonce()
    replay = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=trapdoor.q, seed=0x1234, cycle_counter=lambda: 0)
    outputs = [replay.generate() for _ in range(6)]
    assert nonce == outputs[0]
    assert key == GROUPS[2].private_from_prng(lambda: outputs[4], exponent_bytes=20)
    assert [d.output for d in queues.draws] == outputs


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        PrngQueues(CountingPrng(), {2: -1}, nonce_size=32)
    with pytest.raises(ValueError, match="unsupported DH group 3"):
        PrngQueues(CountingPrng(), {3: 2}, nonce_size=32)
    queues = PrngQueues(CountingPrng(size=16), {}, nonce_size=32)
    with pytest.raises(ValueError, match="shorter than the 32-byte nonce"):
        queues.nonce()
