"""Malformed input never escapes as anything but WireError (or IntegrityError after SK)."""

from __future__ import annotations

import contextlib
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import ChildProposal, ExchangeFailed, IkeProposal, PeerConfig
from kleptolab.ike.v2 import Ikev2Initiator, Ikev2Responder
from kleptolab.ike.v2.payloads import build_message, parse_message
from kleptolab.ike.v2.sk import IntegrityError, SkKeys, unprotect
from kleptolab.ike.wire import WireError
from tests.ike.v2.helpers import (
    STRONGSWAN_V2,
    WIRESHARK,
    ike_messages,
    seeded_keys,
    strongswan_case,
)

SEEDS = [m for name in STRONGSWAN_V2 for m in strongswan_case(name).messages] + ike_messages(
    WIRESHARK / "ikev2-decrypt-aes192ctr.pcap")
NET = ipaddress.IPv4Network("10.0.0.0/8")
KEYS = SkKeys(Encr.AES_CBC, Integ.HMAC_SHA1_96, bytes(16), bytes(16), bytes(20), bytes(20),
              unchecked_icv_size=0)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 2))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 1:
            del data[pos : pos + draw(st.integers(1, 40))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    # keep the header length honest half of the time so the payload parsers get exercised
    if len(data) >= 28 and draw(st.booleans()):
        data[24:28] = len(data).to_bytes(4, "big")
    return bytes(data)


@settings(max_examples=400)
@given(st.one_of(mutated(), st.binary(max_size=200)))
def test_parse_message_only_raises_wire_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except WireError:
        return
    assert parse_message(build_message(message)) == message  # reserved bits may differ, content not


@settings(max_examples=200)
@given(mutated())
def test_unprotect_only_raises_typed_errors(data: bytes) -> None:
    with contextlib.suppress(WireError, IntegrityError):
        unprotect(data, KEYS)


def test_engines_survive_garbage() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2)
    cfg = PeerConfig("x", 2, "a", "b", (ike,), (ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96),),
                     NET, NET, psk=b"k")
    for data in SEEDS:
        for cut in (len(data), 40, 28, 3):
            responder = Ikev2Responder([cfg], seeded_keys(1))
            initiator = Ikev2Initiator(cfg, seeded_keys(2))
            events = responder.receive(data[:cut]) + initiator.receive(data[:cut])
            assert all(isinstance(e, ExchangeFailed) for e in events)
            assert responder.dropped or events or cut == len(data)


STRONGSWAN_LIKE = PeerConfig(
    "gw", 2, "gw.example", "client.example",
    (IkeProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2),
     IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256, 14)),
    (ChildProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96),), NET, NET, psk=b"not-a-real-secret")


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_responder_never_raises_on_mutated_requests(data: bytes) -> None:
    responder = Ikev2Responder([STRONGSWAN_LIKE], seeded_keys(3), local=("192.0.2.1", 500),
                               remote=("192.0.2.2", 500))
    events = responder.receive(data)
    assert all(isinstance(e, ExchangeFailed) for e in events)
    for reply in responder.outgoing():
        parse_message(reply)  # whatever we send is well formed


def test_responder_answers_the_real_strongswan_request() -> None:
    request = strongswan_case(STRONGSWAN_V2[0]).messages[0]
    responder = Ikev2Responder([STRONGSWAN_LIKE], seeded_keys(3), local=("192.0.2.1", 500),
                               remote=("192.0.2.2", 500))
    assert responder.receive(request) == []
    (reply,) = responder.outgoing()
    assert responder.proposal == STRONGSWAN_LIKE.ike_proposals[0]
    assert responder.nat is not None and responder.nat.remote_behind_nat  # charon faked its NAT-D
    assert parse_message(reply).spi_r == responder.spi_r
