"""VpnCore dispatch, admission, NAT-T framing and robustness, with toy engines (no sockets)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.device.admission import cookie_from_response
from kleptolab.device.vpn_core import (
    IKE_PORT,
    NATT_PORT,
    Datagram,
    Dropped,
    IkeEventSeen,
    InnerPacket,
    MemoryLog,
    TunnelUp,
    VpnCore,
)
from kleptolab.ike.common import IkeSaEstablished, SimpleKeySource
from kleptolab.ike.wire import IkeHeader

from .vpn_fakes import ToyEngines, config, ike_message, sa_init

PEER = ("192.0.2.2", 500)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_core(
    max_half_open: int = 4, clock: Clock | None = None, per_peer: int | None = None
) -> tuple[VpnCore, ToyEngines, MemoryLog]:
    engines = ToyEngines()
    log = MemoryLog()
    core = VpnCore(
        [config()],
        SimpleKeySource(os.urandom),
        log=log,
        max_half_open=max_half_open,
        max_half_open_per_peer=per_peer or max_half_open,
        max_half_open_v1=max_half_open,  # E = T: the small numbers below stay readable
        engines=engines,
        clock=clock or Clock(),
        cookie_secret=b"s" * 32,
    )
    return core, engines, log


def test_first_message_creates_one_responder_and_retransmits_reach_it() -> None:
    core, engines, _ = make_core()
    msg = ike_message(b"I" * 8)
    assert core.receive(Datagram(msg, PEER, IKE_PORT)) == []
    assert core.receive(Datagram(msg, PEER, IKE_PORT)) == []
    assert len(engines.made) == 1
    assert engines.made[0].seen == [msg, msg]
    out = core.outgoing()
    assert [d.remote for d in out] == [PEER, PEER]
    assert IkeHeader.parse(out[0].data).spi_r == b"R" * 8
    assert core.half_open == 1


def test_dispatch_by_initiator_spi_to_separate_engines() -> None:
    core, engines, _ = make_core()
    core.receive(Datagram(ike_message(b"A" * 8), PEER, IKE_PORT))
    core.receive(Datagram(ike_message(b"B" * 8), ("192.0.2.3", 500), IKE_PORT))
    later = ike_message(b"A" * 8, b"R" * 8, exchange=2, message_id=0)
    core.receive(Datagram(later, PEER, IKE_PORT))
    assert len(engines.made) == 2
    assert engines.made[0].seen[-1] == later
    assert len(engines.made[1].seen) == 1


def test_nat_t_marker_float_and_replies_on_4500() -> None:
    core, engines, _ = make_core()
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    core.outgoing()
    floated = ("192.0.2.2", 4500)
    msg = ike_message(b"I" * 8, b"R" * 8, message_id=0)
    core.receive(Datagram(b"\x00\x00\x00\x00" + msg, floated, NATT_PORT))
    assert engines.made[0].seen[-1] == msg  # marker stripped
    out = core.outgoing()
    assert out[0].remote == floated and out[0].local_port == NATT_PORT
    assert out[0].data[:4] == bytes(4)  # marker added
    assert core.receive(Datagram(b"\xff", floated, NATT_PORT)) == []  # keepalive


def test_unknown_spi_and_wrong_exchange_are_dropped_not_created() -> None:
    core, engines, log = make_core()
    events = core.receive(Datagram(ike_message(b"X" * 8, b"Y" * 8), PEER, IKE_PORT))
    assert isinstance(events[0], Dropped) and "unknown SA" in events[0].reason
    events = core.receive(Datagram(ike_message(b"X" * 8, exchange=32), PEER, IKE_PORT))
    assert isinstance(events[0], Dropped)
    assert engines.made == [] and len(log.kinds("drop")) == 2


def test_version_mismatch_for_existing_sa_is_dropped() -> None:
    core, _, _ = make_core()
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    events = core.receive(Datagram(ike_message(b"I" * 8, version=2, exchange=34), PEER, IKE_PORT))
    assert isinstance(events[0], Dropped) and "IKEv2 message for IKEv1 SA" in events[0].reason


def test_ikev1_beyond_half_open_bound_evicts_instead_of_refusing() -> None:
    """IKEv1 has no COOKIE: over the bound the newcomer is admitted and an embryonic SA evicted."""
    core, engines, log = make_core(max_half_open=4)
    for n in range(10):
        core.receive(Datagram(ike_message(n.to_bytes(8, "big")), PEER, IKE_PORT))
    assert len(engines.made) == 10  # every request got an answer
    assert core.half_open == 4  # ... and the state stayed within the bound
    assert sum("evicted half-open SA" in m for m in log.kinds("drop")) == 6
    assert not any("dropped" in m for m in log.kinds("drop"))


def test_per_peer_bound_leaves_room_for_other_peers() -> None:
    core, engines, log = make_core(max_half_open=8, per_peer=2)
    for n in range(6):
        core.receive(Datagram(ike_message(n.to_bytes(8, "big")), ("192.0.2.66", 500), IKE_PORT))
        core.receive(Datagram(sa_init((100 + n).to_bytes(8, "big")), ("192.0.2.66", 500), IKE_PORT))
    # IKEv1 evicts within the source, IKEv2 gets COOKIEs: never more than 2 from 192.0.2.66
    assert core.half_open == 2
    assert any("COOKIE sent" in m and "(2 from 192.0.2.66)" in m for m in log.kinds("ike"))
    assert len(engines.made) == 7  # 1 + 1 below the bounds, then 5 IKEv1 by eviction
    assert sum("random half-open SA of 192.0.2.66 evicted" in m for m in log.kinds("drop")) == 5
    made = len(engines.made)
    core.receive(Datagram(ike_message(b"L" * 8), PEER, IKE_PORT))
    assert len(engines.made) == made + 1 and core.half_open == 3


def test_flood_from_many_sources_evicts_its_own_entries_before_a_fresh_legitimate_one() -> None:
    """Over the total bound the oldest SA of the busiest source goes: a fresh SA survives >= T arrivals."""
    clock = Clock()
    core, _, _ = make_core(max_half_open=8, per_peer=8, clock=clock)
    flood = [(f"127.1.0.{n % 5}", 500) for n in range(40)]
    for n, src in enumerate(flood[:8]):
        clock.now += 0.001
        core.receive(Datagram(ike_message(n.to_bytes(8, "big")), src, IKE_PORT))
    clock.now += 0.001
    core.receive(Datagram(ike_message(b"L" * 8), PEER, IKE_PORT))  # the legitimate first message
    for n, src in enumerate(flood[8:]):
        clock.now += 0.001
        core.receive(Datagram(ike_message((100 + n).to_bytes(8, "big")), src, IKE_PORT))
        assert core.half_open <= 8
    assert any(PEER[0] in row for row in core.ike_cookies())  # 32 arrivals later it is still there
    events = core.receive(Datagram(ike_message(b"L" * 8, b"R" * 8, message_id=1), PEER, IKE_PORT))
    assert any(isinstance(e, TunnelUp) for e in events)


def test_spoofed_first_messages_from_a_clients_address_evict_at_random_not_lock_out() -> None:
    """Per source, a random embryonic SA is evicted: the client's own SA usually survives a few spoofs."""
    picks: list[int] = []

    def rand_below(n: int) -> int:
        picks.append(n)
        return n - 1  # the newest: the client's entry (first) survives

    core, _engines, _ = make_core(max_half_open=16, per_peer=2)
    core._admission._rand_below = rand_below
    core.receive(Datagram(ike_message(b"L" * 8), PEER, IKE_PORT))
    for n in range(20):
        core.receive(Datagram(ike_message(n.to_bytes(8, "big")), PEER, IKE_PORT))
    assert picks == [2] * 19 and core.half_open == 2
    events = core.receive(Datagram(ike_message(b"L" * 8, b"R" * 8, message_id=1), PEER, IKE_PORT))
    assert any(isinstance(e, TunnelUp) for e in events)


def test_ikev2_cookie_requested_then_honoured() -> None:
    core, engines, log = make_core(max_half_open=2)
    for n in range(2):
        core.receive(Datagram(sa_init(n.to_bytes(8, "big")), PEER, IKE_PORT))
    core.outgoing()
    spi = b"L" * 8
    assert core.receive(Datagram(sa_init(spi), PEER, IKE_PORT)) == []
    (reply,) = core.outgoing()
    header = IkeHeader.parse(reply.data)
    assert (header.spi_i, header.spi_r, header.exchange_type, header.is_response) == (
        spi,
        bytes(8),
        34,
        True,
    )
    cookie = cookie_from_response(reply.data)
    assert cookie is not None and len(cookie) == 33
    assert len(engines.made) == 2  # stateless: nothing created
    # a wrong cookie gets a fresh COOKIE, the right one is admitted
    core.receive(Datagram(sa_init(spi, cookie=b"\x01" + bytes(32)), PEER, IKE_PORT))
    assert len(engines.made) == 2 and cookie_from_response(core.outgoing()[0].data) == cookie
    core.receive(Datagram(sa_init(spi, cookie=cookie), PEER, IKE_PORT))
    assert len(engines.made) == 3
    # the cookie is bound to the address: the same message from elsewhere is refused
    core.receive(Datagram(sa_init(b"M" * 8, cookie=cookie), ("192.0.2.9", 500), IKE_PORT))
    assert len(engines.made) == 3
    assert any("COOKIE sent" in m for m in log.kinds("ike"))


def test_hard_cap_evicts_oldest_half_open() -> None:
    clock = Clock()
    core, engines, _ = make_core(max_half_open=1, clock=clock)
    core.receive(Datagram(sa_init(b"0" * 8), PEER, IKE_PORT))
    for n in range(1, 4):
        clock.now += 1
        spi = n.to_bytes(8, "big")
        core.receive(Datagram(sa_init(spi), PEER, IKE_PORT))
        cookie = cookie_from_response(core.outgoing()[-1].data)
        core.receive(Datagram(sa_init(spi, cookie=cookie), PEER, IKE_PORT))
    assert len(engines.made) == 4
    assert core.half_open == 2  # hard cap 2 * max_half_open


def test_half_open_expire_on_tick() -> None:
    """Embryonic SAs (no return routability yet) live 5 s, not the 30 s half-open timeout."""
    clock = Clock()
    core, _, log = make_core(clock=clock)
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    clock.now += 4
    assert core.tick() == []
    clock.now += 2
    events = core.tick()
    assert isinstance(events[0], Dropped) and "timed out" in events[0].reason
    assert core.half_open == 0 and "timed out" in log.kinds("drop")[-1]


def test_verified_half_open_keeps_the_long_timeout_and_is_never_evicted_by_embryos() -> None:
    """An IKEv2 SA admitted with a valid COOKIE showed return routability: 30 s, no eviction by v1."""
    clock = Clock()
    core, _, _ = make_core(max_half_open=1, per_peer=1, clock=clock)
    core.receive(Datagram(sa_init(b"0" * 8), PEER, IKE_PORT))
    core.outgoing()
    core.receive(Datagram(sa_init(b"V" * 8), PEER, IKE_PORT))
    cookie = cookie_from_response(core.outgoing()[-1].data)
    core.receive(Datagram(sa_init(b"V" * 8, cookie=cookie), PEER, IKE_PORT))
    for n in range(5):
        core.receive(
            Datagram(ike_message((50 + n).to_bytes(8, "big")), ("192.0.2.7", 500), IKE_PORT)
        )
    assert core.half_open == 2 and [r for r in core.ike_cookies() if b"V".hex() * 8 in r]
    clock.now += 29
    core.tick()
    assert [r for r in core.ike_cookies() if b"V".hex() * 8 in r]
    clock.now += 2
    core.tick()
    assert core.half_open == 0


def test_engine_exception_is_contained() -> None:
    core, _, _ = make_core()
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    events = core.receive(
        Datagram(ike_message(b"I" * 8, b"R" * 8, message_id=0xBAD), PEER, IKE_PORT)
    )
    assert isinstance(events[0], Dropped) and "engine bug" in events[0].reason
    assert core.half_open == 0


def test_established_sa_installs_tunnel() -> None:
    core, _, log = make_core()
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    events = core.receive(Datagram(ike_message(b"I" * 8, b"R" * 8, message_id=1), PEER, IKE_PORT))
    assert any(
        isinstance(e, IkeEventSeen) and isinstance(e.event, IkeSaEstablished) for e in events
    )
    (up,) = [e for e in events if isinstance(e, TunnelUp)]
    assert up.config_name == "branch" and up.remote == PEER
    assert core.half_open == 0 and len(core.tunnels) == 1
    assert log.kinds("tunnel")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), natt=st.booleans())
def test_garbage_never_raises(data: bytes, natt: bool) -> None:
    core, _, _ = make_core()
    events = core.receive(Datagram(data, PEER, NATT_PORT if natt else IKE_PORT))
    assert all(isinstance(e, Dropped) for e in events) or events == []


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=120),
    exchange=st.sampled_from([2, 4, 34]),
    version=st.sampled_from([1, 2, 3]),
)
def test_garbage_payloads_behind_a_valid_header_never_raise(
    body: bytes, exchange: int, version: int
) -> None:
    core, _, _ = make_core(max_half_open=1)
    core.receive(
        Datagram(sa_init(b"F" * 8), PEER, IKE_PORT)
    )  # fill the bound: the COOKIE path parses
    header = IkeHeader(os.urandom(8), bytes(8), 40, version, 0, exchange, 8, 0, 28 + len(body))
    core.receive(Datagram(header.build() + body, PEER, IKE_PORT))


def _established_core() -> tuple[VpnCore, MemoryLog]:
    core, _, log = make_core()
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    events = core.receive(
        Datagram(
            bytes(4) + ike_message(b"I" * 8, b"R" * 8, message_id=1), ("192.0.2.2", 4500), NATT_PORT
        )
    )
    assert any(isinstance(e, TunnelUp) for e in events)
    core.outgoing()
    return core, log


def test_esp_in_udp_round_trip_through_the_tunnel() -> None:
    from kleptolab.esp.sa import sa_pair_from_child
    from kleptolab.netpkt import build_ipv4_icmp_echo, echo_reply_for

    from .vpn_fakes import child_keys

    core, _ = _established_core()
    out_sa, in_sa = sa_pair_from_child(
        child_keys(b"\x00\x00\x20\x02", b"\x00\x00\x10\x01", initiator=True), os.urandom
    )
    request = build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 7, 1, b"hello")
    events = core.receive(Datagram(out_sa.encapsulate(request), ("192.0.2.2", 4500), NATT_PORT))
    (inner,) = events
    assert isinstance(inner, InnerPacket) and inner.packet == request
    assert core.send_inner(echo_reply_for(request))
    (dgram,) = core.outgoing()
    assert dgram.remote == ("192.0.2.2", 4500) and dgram.local_port == NATT_PORT
    assert in_sa.decapsulate(dgram.data) == echo_reply_for(request)


def test_esp_outside_selectors_unknown_spi_and_bad_icv_are_dropped() -> None:
    from kleptolab.esp.sa import sa_pair_from_child
    from kleptolab.netpkt import build_ipv4_icmp_echo

    from .vpn_fakes import child_keys

    core, log = _established_core()
    log.entries.clear()
    out_sa, _ = sa_pair_from_child(
        child_keys(b"\x00\x00\x20\x02", b"\x00\x00\x10\x01", initiator=True), os.urandom
    )
    spoofed = build_ipv4_icmp_echo("203.0.113.99", "198.51.100.1", 7, 1, b"x")
    (event,) = core.receive(Datagram(out_sa.encapsulate(spoofed), PEER, NATT_PORT))
    assert isinstance(event, Dropped) and "outside the tunnel's selectors" in event.reason
    good = out_sa.encapsulate(build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 7, 2, b"x"))
    tampered = good[:-1] + bytes([good[-1] ^ 1])
    (event,) = core.receive(Datagram(tampered, PEER, NATT_PORT))
    assert isinstance(event, Dropped)
    (event,) = core.receive(Datagram(b"\x99\x99\x99\x99" + good[4:], PEER, NATT_PORT))
    assert isinstance(event, Dropped) and "unknown SPI" in event.reason
    assert not core.send_inner(build_ipv4_icmp_echo("198.51.100.1", "10.9.9.9", 1, 1, b""))
    assert len(log.kinds("drop")) == 4


def test_console_summaries() -> None:
    core, _ = _established_core()
    (cookies,) = core.ike_cookies()
    assert cookies == f"{(b'I' * 8).hex()}/{(b'R' * 8).hex()} 192.0.2.2 Main done"
    inbound, outbound = core.sa_summaries()
    assert inbound.startswith("00000001<") and "esp:3des/sha1" in inbound and "00001001" in inbound
    assert outbound.startswith("00000001>") and "00002002" in outbound and " 3600 unlim" in outbound


def test_drop_lines_are_rate_limited_and_summarised() -> None:
    clock = Clock()
    core, _, log = make_core(clock=clock)
    for _ in range(120):
        core.receive(Datagram(b"junk", PEER, IKE_PORT))
    assert core.dropped == 120 and len(log.kinds("drop")) == 50
    clock.now += 1.5
    core.tick()
    assert log.kinds("drop")[-1] == "70 more dropped packets not logged"


def test_tunnels_and_ike_sas_expire_after_their_lifetimes() -> None:
    clock = Clock()
    core, _, log = make_core(clock=clock)
    core.receive(Datagram(ike_message(b"I" * 8), PEER, IKE_PORT))
    core.receive(
        Datagram(bytes(4) + ike_message(b"I" * 8, b"R" * 8, message_id=1), PEER, NATT_PORT)
    )
    assert len(core.tunnels) == 1
    clock.now += 3599
    core.tick()
    assert len(core.tunnels) == 1
    clock.now += 1
    core.tick()
    assert core.tunnels == [] and core.ike_cookies() != []
    clock.now += 28_800
    core.tick()
    assert core.ike_cookies() == []
    assert any("lifetime expired" in m for m in log.kinds("ike"))
