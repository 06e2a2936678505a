"""Payload codecs: parse -> build identical bytes, Hypothesis round trips, malformed input."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.ike.v2.constants import ATTR_KEY_LENGTH, ExchangeType, NotifyType, PayloadType
from kleptolab.ike.v2.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EncryptedPayload,
    IdiPayload,
    IdrPayload,
    Ikev2Message,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
    VendorIdPayload,
    build_message,
    decode_chain,
    encode_chain,
    parse_message,
)
from kleptolab.ike.v2.proposals import Attribute, Proposal, SaPayload, Transform
from kleptolab.ike.v2.traffic import ConfigPayload, TrafficSelector, TsiPayload, TsrPayload
from kleptolab.ike.wire import UnknownCriticalPayload, WireError
from tests.ike.v2.helpers import STRONGSWAN_V2, strongswan_case

u8, u16 = st.integers(0, 255), st.integers(0, 0xFFFF)
blob = st.binary(max_size=64)
attribute = st.one_of(
    st.builds(Attribute, st.integers(0, 0x7FFF), u16),
    st.builds(Attribute, st.integers(0, 0x7FFF), blob),
)
transform = st.builds(Transform, st.integers(1, 5), u16, st.lists(attribute, max_size=3).map(tuple))
proposal = st.builds(Proposal, u8, st.sampled_from([1, 2, 3]), st.sampled_from([b"", b"abcd", bytes(8)]),
                     st.lists(transform, max_size=5).map(tuple))
v4 = st.binary(min_size=4, max_size=4)
selector = st.builds(TrafficSelector, v4, v4, u8, u16, u16)
PAYLOADS = st.one_of(
    st.builds(SaPayload, st.lists(proposal, min_size=1, max_size=3).map(tuple)),
    st.builds(KePayload, u16, blob),
    st.builds(NoncePayload, blob),
    st.builds(IdiPayload, u8, blob),
    st.builds(IdrPayload, u8, blob),
    st.builds(AuthPayload, u8, blob),
    st.builds(CertPayload, u8, blob),
    st.builds(CertReqPayload, u8, blob),
    st.builds(NotifyPayload, u16, blob, u8, st.sampled_from([b"", b"\x01\x02\x03\x04"])),
    st.builds(DeletePayload, u8, st.lists(st.binary(min_size=4, max_size=4), max_size=4).map(tuple)),
    st.builds(VendorIdPayload, blob),
    st.builds(TsiPayload, st.lists(selector, max_size=3).map(tuple)),
    st.builds(TsrPayload, st.lists(selector, max_size=3).map(tuple)),
    st.builds(ConfigPayload, st.integers(1, 4),
              st.lists(st.tuples(st.integers(0, 0x7FFF), blob), max_size=3).map(tuple)),
    st.builds(UnknownPayload, st.integers(49, 52), blob),
)


@given(PAYLOADS)
def test_every_payload_round_trips(payload: object) -> None:
    first, chain = encode_chain([payload])  # type: ignore[list-item]
    assert decode_chain(first, chain) == (payload,)
    assert encode_chain(list(decode_chain(first, chain))) == (first, chain)


@given(st.lists(PAYLOADS, max_size=6), st.binary(min_size=8, max_size=8), u8, u16,
       st.integers(0, 0xFFFFFFFF))
def test_messages_round_trip(payloads: list[object], spi: bytes, flags: int, exchange: int, mid: int) -> None:
    message = Ikev2Message(spi, spi[::-1], exchange & 0xFF, flags, mid, tuple(payloads))  # type: ignore[arg-type]
    raw = build_message(message)
    assert parse_message(raw) == message
    assert build_message(parse_message(raw)) == raw


@given(st.integers(0, 255), st.binary(max_size=200))
def test_sk_payload_is_kept_opaque(inner: int, data: bytes) -> None:
    message = Ikev2Message(bytes(8), bytes(8), ExchangeType.IKE_AUTH, 8, 1, (EncryptedPayload(inner, data),))
    assert parse_message(build_message(message)) == message


@pytest.mark.parametrize("name", STRONGSWAN_V2)
def test_captured_ike_sa_init_payloads_rebuild_identically(name: str) -> None:
    for raw in strongswan_case(name).messages[:2]:
        message = parse_message(raw)
        for payload in message.payloads:
            assert type(payload).parse(payload.build()) == payload  # type: ignore[union-attr]
        assert build_message(message) == raw


def test_known_bytes() -> None:
    ke = KePayload(2, b"\xaa\xbb")
    assert ke.build() == bytes.fromhex("00020000aabb")
    notify = NotifyPayload(NotifyType.NAT_DETECTION_SOURCE_IP, b"\x01")
    assert notify.build() == bytes.fromhex("0000400401")
    esp_delete = DeletePayload(3, (b"\x01\x02\x03\x04",))
    assert esp_delete.build() == bytes.fromhex("0304000101020304")
    sa = SaPayload((Proposal(1, 1, b"", (Transform(1, 12, (Attribute(ATTR_KEY_LENGTH, 128),)),
                                          Transform(4, 14))),),)
    assert sa.build() == bytes.fromhex("0000001c01010002" "0300000c0100000c800e0080" "000000080400000e")
    ts = TrafficSelector.from_network(ipaddress.IPv4Network("10.0.0.0/8"))
    assert ts.build() == bytes.fromhex("07000010" "0000ffff" "0a000000" "0affffff")
    assert ts.covers(ipaddress.IPv4Network("10.1.0.0/16"))
    assert not ts.covers(ipaddress.IPv4Network("11.0.0.0/8"))


def test_ts_payload_of_the_strongswan_capture_parses() -> None:
    sel = TsiPayload.parse(bytes.fromhex("01000000" "07000010" "0000ffff" "cb007101" "cb007101"))
    assert sel.selectors[0].start_address == ipaddress.IPv4Address("203.0.113.1").packed


MALFORMED = [
    (KePayload, b"\x00\x02\x00", "KE payload: truncated"),
    (NotifyPayload, b"\x00\x08\x40\x04\x01", "field 'spi' claims 8 bytes"),
    (DeletePayload, b"\x03\x04\x00\x02\x01\x02\x03\x04", "2 SPIs of 4 bytes do not fill 4 bytes"),
    (SaPayload, b"", "no proposals"),
    (SaPayload, b"\x00\x00\x00\x02", "proposal 1: length 2"),
    (SaPayload, b"\x00\x00\x00\x08\x01\x01\x00\x01", "says 1 transforms but holds 0"),
    (SaPayload, b"\x02\x00\x00\x08\x01\x01\x00\x00", "proposal 1: last-substructure marker"),
    (SaPayload, b"\x00\x00\x00\x10\x01\x01\x00\x01\x00\x00\x00\x0c\x01\x00\x00\x0c",
     "transform 1: length 12 but 8 bytes remain"),
    (SaPayload, b"\x00\x00\x00\x10\x01\x01\x00\x01\x00\x00\x00\x08\x01\x00\x00\x0c", None),
    (SaPayload, b"\x00\x00\x00\x14\x01\x01\x00\x01\x00\x00\x00\x0c\x01\x00\x00\x0c\x00\x0e\x00\x08",
     "transform attribute: type 14 claims 8 value bytes but 0 remain"),
    (TsiPayload, b"\x02\x00\x00\x00" + bytes.fromhex("070000100000ffff0a0000000affffff"),
     "says 2 selectors but holds 1"),
    (TsiPayload, b"\x01\x00\x00\x00" + bytes.fromhex("090000100000ffff0a0000000affffff"),
     "unsupported type 9"),
    (ConfigPayload, b"\x01\x00\x00\x00\x00\x01\x00\x09", "CP attribute: claims 9 bytes"),
]


@pytest.mark.parametrize(("cls", "body", "message"), MALFORMED)
def test_malformed_payloads_raise_wire_error(cls: Any, body: bytes, message: str | None) -> None:
    if message is None:  # the control case: the same bytes, made valid, parse
        assert cls.parse(body).build() == body
        return
    with pytest.raises(WireError, match=message):
        cls.parse(body)


def test_message_level_errors() -> None:
    good = build_message(Ikev2Message(bytes(8), bytes(8), 34, 8, 0, (NoncePayload(b"n" * 16),)))
    with pytest.raises(WireError, match="truncated"):
        parse_message(good[:20])
    with pytest.raises(WireError, match="but only"):
        parse_message(good[:-1])
    with pytest.raises(WireError, match="were given"):
        parse_message(good + b"\x00")
    with pytest.raises(WireError, match="major version 1"):
        parse_message(good[:17] + b"\x10" + good[18:])
    with pytest.raises(WireError, match="absurd message length"):
        parse_message(good[:24] + (10**6).to_bytes(4, "big") + good[28:])
    critical = build_message(Ikev2Message(bytes(8), bytes(8), 34, 8, 0, (UnknownPayload(99, b"x"),)))
    patched = critical[:29] + b"\x80" + critical[30:]
    with pytest.raises(UnknownCriticalPayload) as info:
        parse_message(patched)
    assert info.value.payload_type == 99
    assert parse_message(critical).payloads == (UnknownPayload(99, b"x"),)


def test_payload_type_constants_match_classes() -> None:
    assert KePayload.TYPE == PayloadType.KE and TsrPayload.TYPE == PayloadType.TSR
    assert CertReqPayload.TYPE == PayloadType.CERTREQ and CertPayload.TYPE == PayloadType.CERT
