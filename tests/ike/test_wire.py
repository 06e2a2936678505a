"""The lead's declarative wire layer: Layout, IkeHeader and the generic payload chain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.ike.wire import (
    FLAG_INITIATOR,
    FLAG_RESPONSE,
    MAX_PAYLOADS,
    Fixed,
    IkeHeader,
    Layout,
    LengthOf,
    RawPayload,
    Reserved,
    Rest,
    Sized,
    UInt,
    UnknownCriticalPayload,
    WireError,
    build_payload_chain,
    iter_payloads,
    parse_payload_chain,
)

DEMO = Layout(
    "demo",
    UInt("kind", 1),
    LengthOf("total", 2),
    LengthOf("name_len", 1, of="name"),
    Reserved(2),
    Fixed("tag", 4),
    Sized("name"),
    Rest("tail"),
)


@given(
    st.integers(0, 255),
    st.binary(min_size=4, max_size=4),
    st.binary(max_size=255),
    st.binary(max_size=100),
)
def test_layout_round_trip(kind: int, tag: bytes, name: bytes, tail: bytes) -> None:
    values = {"kind": kind, "tag": tag, "name": name, "tail": tail}
    data = DEMO.pack(values)
    assert (
        int.from_bytes(data[1:3], "big") == len(data)
        and data[3] == len(name)
        and data[4:6] == b"\x00\x00"
    )
    assert DEMO.unpack(data) == values
    assert DEMO.fixed_size == 10


def test_layout_errors() -> None:
    good = DEMO.pack({"kind": 1, "tag": b"abcd", "name": b"xy", "tail": b"z"})
    with pytest.raises(WireError, match="demo: truncated, 5 bytes but at least 10 needed"):
        DEMO.unpack(good[:5])
    with pytest.raises(WireError, match="demo: field 'name' claims 200 bytes but 3 remain"):
        DEMO.unpack(good[:3] + b"\xc8" + good[4:])
    with pytest.raises(
        WireError, match="demo: length field says 13 bytes but the structure has 14"
    ):
        DEMO.unpack(good + b"!")
    with pytest.raises(WireError, match="demo: field 'tag' must be 4 bytes, got 3"):
        DEMO.pack({"kind": 1, "tag": b"abc", "name": b"", "tail": b""})
    with pytest.raises(WireError, match="demo: field 'kind' value 256 does not fit 1 bytes"):
        DEMO.pack({"kind": 256, "tag": b"abcd", "name": b"", "tail": b""})
    with pytest.raises(WireError, match="demo: field 'name' needs bytes, got int"):
        DEMO.pack({"kind": 1, "tag": b"abcd", "name": 5, "tail": b""})
    with pytest.raises(WireError, match="demo: field 'kind' needs an int, got NoneType"):
        DEMO.pack({"tag": b"abcd", "name": b"", "tail": b""})
    trailing = Layout("fixed", UInt("a", 2))
    with pytest.raises(WireError, match="fixed: 1 trailing bytes after the last field"):
        trailing.unpack(b"\x00\x01\x02")


def test_layout_definition_errors() -> None:
    with pytest.raises(TypeError, match="Rest field 'r' must be last"):
        Layout("bad", Rest("r"), UInt("a", 1))
    with pytest.raises(TypeError, match="Sized field 's' has no LengthOf field"):
        Layout("bad", Sized("s"))


headers = st.builds(
    IkeHeader,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=8, max_size=8),
    st.integers(0, 255),
    st.integers(0, 15),
    st.integers(0, 15),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
    st.just(28),
)


@given(headers)
def test_header_round_trip(header: IkeHeader) -> None:
    data = header.build()
    assert len(data) == IkeHeader.SIZE and IkeHeader.parse(data) == header


def test_header_errors_and_flags() -> None:
    h = IkeHeader(b"i" * 8, b"r" * 8, 33, 2, 0, 34, FLAG_INITIATOR | FLAG_RESPONSE, 7, 40).build()
    parsed = IkeHeader.parse(h + bytes(12))
    assert parsed.is_initiator and parsed.is_response and parsed.major_version == 2
    with pytest.raises(WireError, match="IKE header: truncated, 27 bytes but 28 needed"):
        IkeHeader.parse(h[:27])
    with pytest.raises(WireError, match="message length 40 but only 28 bytes present"):
        IkeHeader.parse(h)
    with pytest.raises(WireError, match="absurd message length 10"):
        IkeHeader.parse(h[:24] + (10).to_bytes(4, "big"))
    with pytest.raises(WireError, match="absurd message length 70000"):
        IkeHeader.parse(h[:24] + (70000).to_bytes(4, "big") + bytes(70000))


payloads = st.lists(
    st.builds(
        RawPayload,
        st.integers(1, 255).filter(lambda t: t != 46),
        st.binary(max_size=40),
        st.booleans(),
    ),
    max_size=8,
)


@given(payloads)
def test_chain_round_trip(chain: list[RawPayload]) -> None:
    first, data = build_payload_chain(chain)
    if not chain:
        assert (first, data) == (0, b"")
        return
    assert parse_payload_chain(first, data) == chain
    assert list(iter_payloads(first, data)) == [(p.type, p.body) for p in chain]


def test_sk_payload_ends_the_chain() -> None:
    chain = [RawPayload(41, b"n"), RawPayload(46, b"ciphertext", inner_next=35)]
    first, data = build_payload_chain(chain)
    assert parse_payload_chain(first, data) == chain
    assert data[5] == 35  # the SK payload's next field names the first inner payload
    with pytest.raises(WireError, match="the SK payload must be the last payload"):
        build_payload_chain([RawPayload(46, b""), RawPayload(41, b"")])


def test_chain_errors() -> None:
    with pytest.raises(WireError, match=r"payload 1 \(type 13\) truncated at offset 0"):
        parse_payload_chain(13, b"\x00\x00")
    with pytest.raises(WireError, match=r"payload 1 \(type 13\) has length 3 but 4 bytes remain"):
        parse_payload_chain(13, b"\x00\x00\x00\x03")
    with pytest.raises(
        WireError, match=r"payload 2 \(type 13\) has length 65535 but 4 bytes remain"
    ):
        parse_payload_chain(13, b"\x0d\x00\x00\x04\x00\x00\xff\xff")
    with pytest.raises(WireError, match="2 trailing bytes after the last payload"):
        parse_payload_chain(13, b"\x00\x00\x00\x04\x00\x00")
    loop = b"\x0d\x00\x00\x04" * (MAX_PAYLOADS + 1)
    with pytest.raises(WireError, match=f"more than {MAX_PAYLOADS} payloads"):
        parse_payload_chain(13, loop)
    err = UnknownCriticalPayload(99)
    assert isinstance(err, WireError) and err.payload_type == 99
    assert str(err) == "unknown payload type 99 is marked critical"
