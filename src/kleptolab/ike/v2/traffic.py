"""IKEv2 traffic selectors (TSi/TSr, RFC 7296 §3.13) and the Configuration payload (§3.15)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Self

from kleptolab.ike.v2.constants import PayloadType, TsType
from kleptolab.ike.wire import (
    Layout,
    LengthOf,
    Reserved,
    Rest,
    Sized,
    UInt,
    WireError,
    as_bytes,
    as_int,
)

_TS_ADDRESS_SIZE: dict[int, int] = {TsType.IPV4_ADDR_RANGE: 4, TsType.IPV6_ADDR_RANGE: 16}


@dataclass(frozen=True)
class TrafficSelector:
    """One address-range selector (IPv4 or IPv6) with protocol and port range."""

    LAYOUT: ClassVar[Layout] = Layout(
        "traffic selector",
        UInt("ts_type", 1),
        UInt("ip_protocol", 1),
        LengthOf("length", 2),
        UInt("start_port", 2),
        UInt("end_port", 2),
        Rest("addresses"),
    )

    start_address: bytes
    end_address: bytes
    ip_protocol: int = 0
    start_port: int = 0
    end_port: int = 65535
    ts_type: int = TsType.IPV4_ADDR_RANGE

    @classmethod
    def from_network(cls, network: ipaddress.IPv4Network) -> TrafficSelector:
        """The selector covering every address of ``network``, any protocol and port."""
        return cls(network.network_address.packed, network.broadcast_address.packed)

    def covers(self, network: ipaddress.IPv4Network) -> bool:
        """True when every address of ``network`` lies in this IPv4 range (any port/protocol)."""
        if self.ts_type != TsType.IPV4_ADDR_RANGE or self.ip_protocol or self.start_port:
            return False
        lo, hi = int.from_bytes(self.start_address, "big"), int.from_bytes(self.end_address, "big")
        return (
            self.end_port == 65535
            and lo <= int(network.network_address)
            and int(network.broadcast_address) <= hi
        )

    def ipv4_range(self) -> tuple[int, int] | None:
        """(first, last) address as integers for an IPv4 selector of any protocol and port, else None.

        Selectors limited to a protocol or a port range are not representable
        by the lab's network-only child SAs, so they yield None.
        """
        if (self.ts_type != TsType.IPV4_ADDR_RANGE or self.ip_protocol or self.start_port
                or self.end_port != 65535 or len(self.start_address) != 4 or len(self.end_address) != 4):
            return None
        lo, hi = int.from_bytes(self.start_address, "big"), int.from_bytes(self.end_address, "big")
        return (lo, hi) if lo <= hi else None

    def build(self) -> bytes:
        size = _TS_ADDRESS_SIZE.get(self.ts_type)
        if size is None:
            raise WireError(f"traffic selector: unsupported type {self.ts_type}")
        if len(self.start_address) != size or len(self.end_address) != size:
            raise WireError(f"traffic selector: type {self.ts_type} needs {size}-byte addresses")
        return self.LAYOUT.pack(
            {
                "ts_type": self.ts_type,
                "ip_protocol": self.ip_protocol,
                "start_port": self.start_port,
                "end_port": self.end_port,
                "addresses": self.start_address + self.end_address,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> TrafficSelector:
        v = cls.LAYOUT.unpack(data)
        ts_type = as_int(v["ts_type"])
        size = _TS_ADDRESS_SIZE.get(ts_type)
        if size is None:
            raise WireError(f"traffic selector: unsupported type {ts_type}")
        addrs = as_bytes(v["addresses"])
        if len(addrs) != 2 * size:
            raise WireError(f"traffic selector: type {ts_type} needs {2 * size} address bytes, got {len(addrs)}")
        return cls(addrs[:size], addrs[size:], as_int(v["ip_protocol"]),
                   as_int(v["start_port"]), as_int(v["end_port"]), ts_type)


@dataclass(frozen=True)
class _TsPayload:
    LAYOUT: ClassVar[Layout] = Layout("TS payload", UInt("count", 1), Reserved(3), Rest("selectors"))

    selectors: tuple[TrafficSelector, ...]

    def build(self) -> bytes:
        body = b"".join(ts.build() for ts in self.selectors)
        return self.LAYOUT.pack({"count": len(self.selectors), "selectors": body})

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        data, count = as_bytes(v["selectors"]), as_int(v["count"])
        selectors: list[TrafficSelector] = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 8:
                raise WireError(f"TS payload: selector {len(selectors) + 1} truncated")
            size = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if size < 8 or pos + size > len(data):
                raise WireError(f"TS payload: selector length {size} but {len(data) - pos} bytes remain")
            selectors.append(TrafficSelector.parse(data[pos : pos + size]))
            pos += size
        if count != len(selectors):
            raise WireError(f"TS payload: says {count} selectors but holds {len(selectors)}")
        return cls(tuple(selectors))


@dataclass(frozen=True)
class TsiPayload(_TsPayload):
    """Traffic selectors of the initiator."""

    TYPE: ClassVar[int] = PayloadType.TSI


@dataclass(frozen=True)
class TsrPayload(_TsPayload):
    """Traffic selectors of the responder."""

    TYPE: ClassVar[int] = PayloadType.TSR


@dataclass(frozen=True)
class ConfigPayload:
    """Configuration (CP): type and raw attributes as ``(type, value)`` pairs."""

    TYPE: ClassVar[int] = PayloadType.CP
    LAYOUT: ClassVar[Layout] = Layout("CP payload", UInt("kind", 1), Reserved(3), Rest("attributes"))
    ATTRIBUTE: ClassVar[Layout] = Layout(
        "CP attribute", UInt("type", 2), LengthOf("length", 2, of="value"), Sized("value")
    )

    kind: int
    attributes: tuple[tuple[int, bytes], ...] = ()

    def build(self) -> bytes:
        attrs = b"".join(self.ATTRIBUTE.pack({"type": t, "value": v}) for t, v in self.attributes)
        return self.LAYOUT.pack({"kind": self.kind, "attributes": attrs})

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        data = as_bytes(v["attributes"])
        attrs: list[tuple[int, bytes]] = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 4:
                raise WireError(f"CP attribute: truncated, {len(data) - pos} bytes left")
            size = 4 + int.from_bytes(data[pos + 2 : pos + 4], "big")
            if pos + size > len(data):
                raise WireError(f"CP attribute: claims {size - 4} bytes but {len(data) - pos - 4} remain")
            a = cls.ATTRIBUTE.unpack(data[pos : pos + size])
            if as_int(a["type"]) & 0x8000:
                raise WireError("CP attribute: reserved bit set")
            attrs.append((as_int(a["type"]), as_bytes(a["value"])))
            pos += size
        return cls(as_int(v["kind"]), tuple(attrs))
