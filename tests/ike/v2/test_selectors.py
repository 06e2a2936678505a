"""Traffic-selector narrowing (RFC 7296 §2.9): unit rules, then initiator <-> responder runs."""

from __future__ import annotations

import dataclasses
import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import (
    AuthMethod,
    ChildProposal,
    ChildSaEstablished,
    ChildSaKeys,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    PeerConfig,
)
from kleptolab.ike.v2 import Ikev2Initiator, Ikev2Responder, Ikev2State
from kleptolab.ike.v2.constants import ExchangeType, NotifyType
from kleptolab.ike.v2.payloads import Ikev2Message
from kleptolab.ike.v2.selectors import answered_selectors, narrow, within
from kleptolab.ike.v2.traffic import TrafficSelector, TsiPayload, TsrPayload
from tests.ike.v2.helpers import pump, seeded_keys
from tests.ike.v2.test_engine import lab_pki, of

Net = ipaddress.IPv4Network
CONFIGURED = Net("203.0.113.0/24")
PROTECTED = Net("198.51.100.0/24")
IKE = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 14)
CHILD = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)


def ts(first: str, last: str, **kw: int) -> TrafficSelector:
    return TrafficSelector(ipaddress.IPv4Address(first).packed, ipaddress.IPv4Address(last).packed, **kw)


def of_net(net: str) -> TrafficSelector:
    return TrafficSelector.from_network(Net(net))


# --- the rules ------------------------------------------------------------------------------


def test_narrow_to_a_subset_a_superset_or_nothing() -> None:
    assert narrow([of_net("203.0.113.5/32")], CONFIGURED) == Net("203.0.113.5/32")
    assert narrow([of_net("203.0.113.64/26")], CONFIGURED) == Net("203.0.113.64/26")
    assert narrow([of_net("0.0.0.0/0")], CONFIGURED) == CONFIGURED
    assert narrow([of_net("203.0.0.0/16")], CONFIGURED) == CONFIGURED
    assert narrow([of_net("192.0.2.0/24")], CONFIGURED) is None
    assert narrow([], CONFIGURED) is None


def test_narrow_keeps_the_triggering_packet_block_and_skips_unusable_selectors() -> None:
    # strongSwan-style: first the packet's /32, then the policy; the union is the whole /24.
    assert narrow([of_net("203.0.113.5/32"), of_net("203.0.113.0/24")], CONFIGURED) == CONFIGURED
    # A range that is not one CIDR block: the block holding the first address.
    assert narrow([ts("203.0.113.5", "203.0.113.10")], CONFIGURED) == Net("203.0.113.5/32")
    assert narrow([ts("203.0.113.250", "203.0.114.7")], CONFIGURED) == Net("203.0.113.250/31")
    # Protocol- or port-limited selectors cannot be represented by a network-only SA.
    udp_only = dataclasses.replace(of_net("203.0.113.0/24"), ip_protocol=17)
    port_7 = dataclasses.replace(of_net("203.0.113.0/24"), start_port=7, end_port=7)
    assert narrow([udp_only, port_7], CONFIGURED) is None
    assert narrow([udp_only, of_net("203.0.113.9/32")], CONFIGURED) == Net("203.0.113.9/32")
    assert narrow([ts("203.0.113.9", "203.0.113.1")], CONFIGURED) is None  # start after end


addresses = st.integers(0, 2**32 - 1)


@given(addresses, addresses, st.integers(0, 32), addresses)
def test_narrow_never_widens(a: int, b: int, prefix: int, base: int) -> None:
    allowed = Net((base, prefix), strict=False)
    lo, hi = min(a, b), max(a, b)
    got = narrow([ts(str(ipaddress.IPv4Address(lo)), str(ipaddress.IPv4Address(hi)))], allowed)
    overlap = lo <= int(allowed.broadcast_address) and hi >= int(allowed.network_address)
    assert (got is not None) == overlap
    if got is not None:
        assert got.subnet_of(allowed)
        assert lo <= int(got.network_address) and int(got.broadcast_address) <= hi
        if lo <= int(allowed.network_address) and int(allowed.broadcast_address) <= hi:
            assert got == allowed


def test_within_accepts_narrowing_and_refuses_widening() -> None:
    assert within([of_net("203.0.113.5/32")], CONFIGURED) == Net("203.0.113.5/32")
    assert within([of_net("203.0.113.0/24")], CONFIGURED) == CONFIGURED
    assert within([of_net("203.0.0.0/16")], CONFIGURED) is None
    assert within([of_net("203.0.113.5/32"), of_net("192.0.2.0/24")], CONFIGURED) is None
    assert within([dataclasses.replace(of_net("203.0.113.0/24"), ip_protocol=6)], CONFIGURED) is None


def test_answered_selectors_of_a_reply() -> None:
    config = PeerConfig("c", 2, "a", "b", (IKE,), (CHILD,), Net("203.0.113.0/24"), Net("0.0.0.0/0"))

    def reply(tsi: str, tsr: str) -> Ikev2Message:
        return Ikev2Message(bytes(8), bytes(8), ExchangeType.IKE_AUTH, 0, 1,
                            (TsiPayload((of_net(tsi),)), TsrPayload((of_net(tsr),))))

    assert answered_selectors(reply("203.0.113.7/32", "198.51.100.0/24"), config) == (
        Net("203.0.113.7/32"), Net("198.51.100.0/24"))
    refused = answered_selectors(reply("10.0.0.0/8", "198.51.100.0/24"), config)
    assert isinstance(refused, str) and "not inside 203.0.113.0/24" in refused
    bare = Ikev2Message(bytes(8), bytes(8), ExchangeType.IKE_AUTH, 0, 1, ())
    assert answered_selectors(bare, config) == (config.local_ts, config.remote_ts)


# --- end to end -----------------------------------------------------------------------------


def configs(client_ts: str, protected_wanted: str, *, gw_remote: Net = CONFIGURED,
            rsa: bool = False) -> tuple[PeerConfig, PeerConfig]:
    ike = dataclasses.replace(IKE, auth=AuthMethod.RSA_SIG) if rsa else IKE
    ci = PeerConfig("to-gw", 2, "client.example", "gw.example", (ike,), (CHILD,),
                    Net(client_ts), Net(protected_wanted), psk=b"lab psk")
    cr = PeerConfig("from-client", 2, "gw.example", "client.example", (ike,), (CHILD,),
                    PROTECTED, gw_remote, psk=b"lab psk")
    if rsa:
        ca, client, gw = lab_pki()
        ci = dataclasses.replace(ci, psk=None, rsa_key_pem=client.key_pem,
                                 certificate_der=client.cert_der, trusted_ca_der=ca.cert_der)
        cr = dataclasses.replace(cr, psk=None, rsa_key_pem=gw.key_pem,
                                 certificate_der=gw.cert_der, trusted_ca_der=ca.cert_der)
    return ci, cr


Events = list[IkeEvent]


def run(ci: PeerConfig, cr: PeerConfig) -> tuple[Ikev2Initiator, Ikev2Responder, Events, Events]:
    i = Ikev2Initiator(ci, seeded_keys(1))
    r = Ikev2Responder([cr], seeded_keys(2))
    ev_i, ev_r = pump(i, r)
    return i, r, ev_i, ev_r


def children(events: Events) -> list[ChildSaKeys]:
    return [e.child for e in events if isinstance(e, ChildSaEstablished)]


def failures(events: Events) -> list[ExchangeFailed]:
    return [e for e in events if isinstance(e, ExchangeFailed)]


def test_responder_narrows_to_the_initiators_host_inside_its_network() -> None:
    _, _, ev_i, ev_r = run(*configs("203.0.113.5/32", "198.51.100.0/24"))
    (c_i,), (c_r,) = children(ev_i), children(ev_r)
    assert (c_r.remote_ts, c_r.local_ts) == (Net("203.0.113.5/32"), PROTECTED)
    assert (c_i.local_ts, c_i.remote_ts) == (c_r.remote_ts, c_r.local_ts)
    assert not failures(ev_i) and not failures(ev_r)


def test_initiator_installs_what_the_responder_narrowed_to() -> None:
    _, _, ev_i, ev_r = run(*configs("203.0.113.0/24", "0.0.0.0/0"))
    (c_i,), (c_r,) = children(ev_i), children(ev_r)
    assert (c_i.local_ts, c_i.remote_ts) == (CONFIGURED, PROTECTED)
    assert (c_r.local_ts, c_r.remote_ts) == (PROTECTED, CONFIGURED)


def test_disjoint_selectors_are_still_refused_and_the_ike_sa_stays() -> None:
    i, r, ev_i, ev_r = run(*configs("192.0.2.0/24", "198.51.100.0/24"))
    assert of(ev_r, IkeSaEstablished) and not children(ev_r) and not children(ev_i)
    assert [f.notify for f in failures(ev_r) + failures(ev_i)] == [NotifyType.TS_UNACCEPTABLE] * 2
    assert i.state is r.state is Ikev2State.ESTABLISHED


def test_create_child_sa_narrows_both_ways_with_rsa() -> None:
    i, r, _, ev_r = run(*configs("203.0.113.9/32", "198.51.100.0/24", rsa=True))
    assert children(ev_r)[0].remote_ts == Net("203.0.113.9/32")
    r.create_child_sa()  # the gateway proposes its whole /24; the client narrows to its /32
    ev_r2, ev_i2 = pump(r, i)
    (c_r,), (c_i,) = children(ev_r2), children(ev_i2)
    assert (c_r.local_ts, c_r.remote_ts) == (PROTECTED, Net("203.0.113.9/32"))
    assert (c_i.local_ts, c_i.remote_ts) == (Net("203.0.113.9/32"), PROTECTED)
    i.create_child_sa()
    ev_i3, ev_r3 = pump(i, r)
    assert children(ev_i3)[0].local_ts == children(ev_r3)[0].remote_ts == Net("203.0.113.9/32")
