"""ESP wire format (RFC 4303 §2) and UDP encapsulation (RFC 3948).

The ESP header is a declarative :class:`~kleptolab.ike.wire.Layout`; the
bulk paths in :mod:`kleptolab.esp.sa` slice the same offsets directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from kleptolab.ike.wire import Fixed, Layout, Rest, UInt, as_bytes, as_int

NAT_T_PORT = 4500
IKE_PORT = 500
NON_ESP_MARKER = b"\x00\x00\x00\x00"
NAT_KEEPALIVE = b"\xff"
ESP_HEADER_SIZE = 8

NEXT_HEADER_IPV4 = 4
NEXT_HEADER_IPV6 = 41
NEXT_HEADER_DUMMY = 59  # RFC 4303 §2.6 dummy packet for traffic flow confidentiality


@dataclass(frozen=True, slots=True)
class EspHeader:
    """SPI and sequence number, followed by the protected ``body`` (IV, ciphertext, ICV)."""

    LAYOUT: ClassVar[Layout] = Layout("ESP header", Fixed("spi", 4), UInt("seq", 4), Rest("body"))

    spi: bytes
    seq: int
    body: bytes

    @classmethod
    def parse(cls, data: bytes) -> EspHeader:
        v = cls.LAYOUT.unpack(data)
        return cls(as_bytes(v["spi"]), as_int(v["seq"]), as_bytes(v["body"]))

    def build(self) -> bytes:
        return self.LAYOUT.pack({"spi": self.spi, "seq": self.seq, "body": self.body})


class NatTKind(Enum):
    """What a UDP 4500 payload is (RFC 3948 §2.2)."""

    IKE = "ike"
    ESP = "esp"
    KEEPALIVE = "keepalive"
    INVALID = "invalid"


def demux_nat_t(payload: bytes) -> tuple[NatTKind, bytes]:
    """Split a UDP 4500 payload: IKE (marker stripped), ESP (unchanged), keepalive, or invalid."""
    if payload == NAT_KEEPALIVE:
        return NatTKind.KEEPALIVE, b""
    if payload[:4] == NON_ESP_MARKER:
        if len(payload) < 4 + 28:
            return NatTKind.INVALID, payload
        return NatTKind.IKE, payload[4:]
    if len(payload) < ESP_HEADER_SIZE:
        return NatTKind.INVALID, payload
    return NatTKind.ESP, payload


def ike_for_nat_t(message: bytes) -> bytes:
    """Prefix an IKE message with the non-ESP marker for sending on UDP 4500."""
    return NON_ESP_MARKER + message
