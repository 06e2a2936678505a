"""IKEv1 payload codecs: parse → build identical bytes, Hypothesis round trips, typed errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.ike.v1.attributes import (
    DataAttribute,
    attribute_map,
    build_attributes,
    parse_attributes,
)
from kleptolab.ike.v1.constants import PayloadType
from kleptolab.ike.v1.message import (
    UnknownPayloadType,
    build_message,
    decode_chain,
    encode_chain,
    parse_message,
)
from kleptolab.ike.v1.payloads import (
    PAYLOAD_CLASSES,
    AttributePayload,
    CertPayload,
    CrPayload,
    DeletePayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDDraftPayload,
    NatDPayload,
    NatOaDraftPayload,
    NatOaPayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    ProposalPayload,
    SaPayload,
    SigPayload,
    TransformPayload,
    VendorIdPayload,
)
from kleptolab.ike.wire import WireError
from tests.conftest import CAPTURES
from tests.ike.v1.capture_util import ike_datagrams

u8, u16, u32 = st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
blob = st.binary(max_size=64)
attribute = st.builds(DataAttribute, st.integers(0, 0x7FFF), st.one_of(u16, st.binary(max_size=16)))
attributes = st.lists(attribute, max_size=6).map(tuple)
transform = st.builds(TransformPayload, u8, u8, attributes)
proposal = st.builds(
    ProposalPayload, u8, u8, st.binary(max_size=16), st.lists(transform, max_size=3).map(tuple)
)
spis = st.integers(1, 16).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.binary(min_size=n, max_size=n), max_size=4))
)

STRATEGIES: dict[type[Payload], st.SearchStrategy[Any]] = {
    SaPayload: st.builds(SaPayload, u32, u32, st.lists(proposal, max_size=3).map(tuple)),
    KePayload: st.builds(KePayload, blob),
    IdPayload: st.builds(IdPayload, u8, u8, u16, blob),
    CertPayload: st.builds(CertPayload, u8, blob),
    CrPayload: st.builds(CrPayload, u8, blob),
    HashPayload: st.builds(HashPayload, blob),
    SigPayload: st.builds(SigPayload, blob),
    NoncePayload: st.builds(NoncePayload, st.binary(min_size=8, max_size=64)),
    NotifyPayload: st.builds(NotifyPayload, u32, u8, u16, st.binary(max_size=16), blob),
    DeletePayload: spis.map(lambda s: DeletePayload(1, 3, s[0], tuple(s[1]))),
    VendorIdPayload: st.builds(VendorIdPayload, blob),
    AttributePayload: st.builds(AttributePayload, u8, u16, attributes),
    NatDPayload: st.builds(NatDPayload, blob),
    NatOaPayload: st.builds(NatOaPayload, u8, blob),
    NatDDraftPayload: st.builds(NatDDraftPayload, blob),
    NatOaDraftPayload: st.builds(NatOaDraftPayload, u8, blob),
}


def test_every_payload_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(PAYLOAD_CLASSES.values())


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
@given(data=st.data())
def test_round_trip(cls: type[Payload], data: st.DataObject) -> None:
    payload = data.draw(STRATEGIES[cls])
    body = payload.build()
    again = cls.parse(body)
    assert again == payload and again.build() == body


@given(st.lists(st.one_of(*STRATEGIES.values()), max_size=6), u32, u8)
def test_message_round_trip(payloads: list[Payload], mid: int, exchange: int) -> None:
    data = build_message(bytes(range(8)), bytes(8), exchange, 0, mid, payloads)
    msg = parse_message(data)
    assert msg.chain is not None and list(msg.chain.payloads) == payloads
    assert b"".join(msg.chain.raw) == data[28:]


def _captured() -> list[bytes]:
    out = []
    for case in sorted((CAPTURES / "strongswan-5.9.8").glob("ikev1*")):
        out += [d.data for d in ike_datagrams(case / f"{case.name}.pcap")]
    for name in ("ikev1-certs.pcap", "ikev1-bug-12610.pcapng.gz", "ikev1-bug-12620.pcapng.gz"):
        out += [d.data for d in ike_datagrams(CAPTURES / "wireshark-4.0.17" / name)]
    return out


def test_captured_plaintext_payloads_rebuild_identically() -> None:
    seen: set[type[Payload]] = set()
    for data in _captured():
        msg = parse_message(data)
        if msg.chain is None:
            continue
        first, chain = encode_chain(msg.chain.payloads)
        assert (first, chain) == (msg.header.next_payload, data[28:])
        seen.update(type(p) for p in msg.chain.payloads)
    assert {
        SaPayload,
        KePayload,
        NoncePayload,
        IdPayload,
        HashPayload,
        VendorIdPayload,
        NatDPayload,
    } <= seen


def test_attribute_forms_are_kept() -> None:
    raw = bytes.fromhex("800b0001000c000400007080800e0100")
    attrs = parse_attributes(raw)
    assert attrs == (
        DataAttribute(11, 1),
        DataAttribute(12, b"\x00\x00\x70\x80"),
        DataAttribute(14, 256),
    )
    assert build_attributes(attrs) == raw
    assert attribute_map(attrs) == {11: 1, 12: 28800, 14: 256}
    assert DataAttribute.number(12, 86400) == DataAttribute(12, b"\x01\x51\x80")


@pytest.mark.parametrize(
    ("cls", "body", "message"),
    [
        (
            SaPayload,
            b"\x00\x00\x00\x01\x00\x00",
            "SA payload: truncated, 6 bytes but at least 8 needed",
        ),
        (
            SaPayload,
            bytes.fromhex("0000000100000001") + b"\x00\x00\x00\x30",
            "has length 48 but 4 bytes remain",
        ),
        (
            SaPayload,
            bytes.fromhex("0000000100000001030000080101000000000004"),
            "nested payload has type 3, expected 2",
        ),
        (
            ProposalPayload,
            bytes.fromhex("01010402aabbcc"),
            "field 'spi' claims 4 bytes but 3 remain",
        ),
        (
            ProposalPayload,
            bytes.fromhex("01010002") + bytes.fromhex("0000000801010000"),
            "header says 2 transforms but 1 follow",
        ),
        (TransformPayload, bytes.fromhex("0101000080"), "truncated attribute at offset 0"),
        (
            TransformPayload,
            bytes.fromhex("010100000001ffff00"),
            "value claims 65535 bytes but 1 remain",
        ),
        (
            NotifyPayload,
            bytes.fromhex("0000000103100018"),
            "field 'spi' claims 16 bytes but 0 remain",
        ),
        (
            DeletePayload,
            bytes.fromhex("0000000103040003aabbccdd"),
            "3 SPIs of 4 bytes need 12 bytes, got 4",
        ),
        (DeletePayload, bytes.fromhex("000000010300ffff"), "65535 SPIs of size 0"),
        (NoncePayload, b"\x01\x02", "nonce must be 8..256 bytes, got 2"),
        (IdPayload, b"\x02\x00", "ID payload: truncated, 2 bytes but at least 4 needed"),
        (NatOaPayload, b"\x01", "NAT-OA payload: truncated"),
    ],
)
def test_malformed_payloads_raise_precise_wire_errors(
    cls: type[Payload], body: bytes, message: str
) -> None:
    with pytest.raises(WireError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls.parse(body)


def test_malformed_messages() -> None:
    good = build_message(bytes(range(8)), bytes(8), 2, 0, 0, [VendorIdPayload(b"x" * 16)])
    with pytest.raises(WireError, match="truncated, 20 bytes but 28 needed"):
        parse_message(good[:20])
    with pytest.raises(WireError, match="message length 48 but only 47 bytes present"):
        parse_message(good[:-1])
    with pytest.raises(WireError, match="length 48 but the datagram has 49 bytes"):
        parse_message(good + b"\x00")
    with pytest.raises(WireError, match="major version 2, expected 1"):
        parse_message(good[:17] + b"\x20" + good[18:])
    with pytest.raises(UnknownPayloadType, match="unknown payload type 99") as info:
        parse_message(good[:16] + b"\x63" + good[17:])
    assert info.value.payload_type == 99
    with pytest.raises(WireError, match="absurd message length"):
        parse_message(good[:24] + (10**6).to_bytes(4, "big") + good[28:])
    with pytest.raises(WireError, match=r"length 65535 but 20 bytes remain"):
        decode_chain(PayloadType.VENDOR_ID, b"\x00\x00\xff\xff" + bytes(16))
    with pytest.raises(WireError, match="2 trailing bytes after the last payload"):
        decode_chain(PayloadType.VENDOR_ID, b"\x00\x00\x00\x05x\x00\x00")
    with pytest.raises(UnknownPayloadType, match="payload 1: unknown payload type 2"):
        decode_chain(PayloadType.PROPOSAL, b"\x00\x00\x00\x04")
    assert (
        decode_chain(
            PayloadType.VENDOR_ID, b"\x00\x00\x00\x05x\x00\x07", allow_padding=True
        ).padding
        == b"\x00\x07"
    )
