"""ESP header layout and RFC 3948 demultiplexing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.esp.packet import (
    NAT_KEEPALIVE,
    EspHeader,
    NatTKind,
    demux_nat_t,
    ike_for_nat_t,
)
from kleptolab.ike.wire import WireError

IKE = bytes(range(28))


def test_header_parse_build_identical() -> None:
    raw = bytes.fromhex("2501ddc8000000030102030405")
    header = EspHeader.parse(raw)
    assert (header.spi, header.seq, header.body) == (bytes.fromhex("2501ddc8"), 3, bytes(range(1, 6)))
    assert header.build() == raw
    with pytest.raises(WireError, match="ESP header: truncated"):
        EspHeader.parse(raw[:7])


@given(st.binary(min_size=4, max_size=4), st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_header_round_trip(spi: bytes, seq: int, body: bytes) -> None:
    assert EspHeader.parse(EspHeader(spi, seq, body).build()) == EspHeader(spi, seq, body)


def test_demux() -> None:
    assert demux_nat_t(NAT_KEEPALIVE) == (NatTKind.KEEPALIVE, b"")
    assert demux_nat_t(ike_for_nat_t(IKE)) == (NatTKind.IKE, IKE)
    assert demux_nat_t(ike_for_nat_t(IKE[:20]))[0] is NatTKind.INVALID
    esp = b"\x00\x00\x01\x00" + bytes(12)
    assert demux_nat_t(esp) == (NatTKind.ESP, esp)
    assert demux_nat_t(b"\x01\x02")[0] is NatTKind.INVALID
    assert demux_nat_t(b"")[0] is NatTKind.INVALID
