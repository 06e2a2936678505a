"""ISAKMP / IKEv1 payload bodies as declarative layouts (RFC 2408 §3, RFC 2407 §4.6, RFC 3947).

Each payload class parses and builds the *body* (the bytes after the 4-byte
generic payload header); :mod:`kleptolab.ike.v1.message` handles the chain.
Parse → build gives back the same bytes (reserved bytes are built as zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from kleptolab.ike.v1.attributes import DataAttribute, build_attributes, parse_attributes
from kleptolab.ike.v1.constants import PayloadType
from kleptolab.ike.wire import (
    Layout,
    LengthOf,
    RawPayload,
    Reserved,
    Rest,
    Sized,
    UInt,
    WireError,
    as_bytes,
    as_int,
    build_payload_chain,
    parse_payload_chain,
)


class Payload:
    """Base of all payload bodies: ``TYPE`` is the payload type number."""

    TYPE: ClassVar[int]

    @classmethod
    def parse(cls, body: bytes) -> Self:
        raise NotImplementedError

    def build(self) -> bytes:
        raise NotImplementedError


@dataclass(frozen=True)
class _Opaque(Payload):
    """A payload whose body is one opaque field."""

    LAYOUT: ClassVar[Layout] = Layout("opaque payload", Rest("data"))

    data: bytes

    @classmethod
    def parse(cls, body: bytes) -> Self:
        return cls(body)

    def build(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class KePayload(_Opaque):
    TYPE: ClassVar[int] = PayloadType.KE


@dataclass(frozen=True)
class NoncePayload(_Opaque):
    TYPE: ClassVar[int] = PayloadType.NONCE

    @classmethod
    def parse(cls, body: bytes) -> Self:
        if not 8 <= len(body) <= 256:
            raise WireError(f"Nonce payload: nonce must be 8..256 bytes, got {len(body)}")
        return cls(body)


@dataclass(frozen=True)
class HashPayload(_Opaque):
    TYPE: ClassVar[int] = PayloadType.HASH


@dataclass(frozen=True)
class SigPayload(_Opaque):
    TYPE: ClassVar[int] = PayloadType.SIG


@dataclass(frozen=True)
class VendorIdPayload(_Opaque):
    TYPE: ClassVar[int] = PayloadType.VENDOR_ID


@dataclass(frozen=True)
class NatDPayload(_Opaque):
    """NAT-D (RFC 3947): HASH(CKY-I | CKY-R | IP | port)."""

    TYPE: ClassVar[int] = PayloadType.NAT_D


@dataclass(frozen=True)
class NatDDraftPayload(NatDPayload):
    """NAT-D with the draft-02/03 payload number 130."""

    TYPE: ClassVar[int] = PayloadType.NAT_D_DRAFT


@dataclass(frozen=True)
class TransformPayload(Payload):
    TYPE: ClassVar[int] = PayloadType.TRANSFORM
    LAYOUT: ClassVar[Layout] = Layout(
        "Transform payload",
        UInt("number", 1),
        UInt("transform_id", 1),
        Reserved(2),
        Rest("attributes"),
    )

    number: int
    transform_id: int
    attributes: tuple[DataAttribute, ...] = ()

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(
            as_int(v["number"]),
            as_int(v["transform_id"]),
            parse_attributes(as_bytes(v["attributes"])),
        )

    def build(self) -> bytes:
        return self.LAYOUT.pack(
            {
                "number": self.number,
                "transform_id": self.transform_id,
                "attributes": build_attributes(self.attributes),
            }
        )


def _parse_nested(data: bytes, payload_type: int, what: str) -> list[bytes]:
    """Split a nested Proposal or Transform chain; every element must be ``payload_type``."""
    if not data:
        return []
    chain = parse_payload_chain(payload_type, data)
    for raw in chain:
        if raw.type != payload_type:
            raise WireError(f"{what}: nested payload has type {raw.type}, expected {payload_type}")
    return [raw.body for raw in chain]


@dataclass(frozen=True)
class ProposalPayload(Payload):
    TYPE: ClassVar[int] = PayloadType.PROPOSAL
    LAYOUT: ClassVar[Layout] = Layout(
        "Proposal payload",
        UInt("number", 1),
        UInt("protocol", 1),
        LengthOf("spi_size", 1, of="spi"),
        UInt("num_transforms", 1),
        Sized("spi"),
        Rest("transforms"),
    )

    number: int
    protocol: int
    spi: bytes
    transforms: tuple[TransformPayload, ...]

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        bodies = _parse_nested(as_bytes(v["transforms"]), PayloadType.TRANSFORM, "Proposal payload")
        if len(bodies) != as_int(v["num_transforms"]):
            raise WireError(
                f"Proposal payload: header says {as_int(v['num_transforms'])} transforms "
                f"but {len(bodies)} follow"
            )
        return cls(
            as_int(v["number"]),
            as_int(v["protocol"]),
            as_bytes(v["spi"]),
            tuple(TransformPayload.parse(b) for b in bodies),
        )

    def build(self) -> bytes:
        _, chain = build_payload_chain(
            [RawPayload(PayloadType.TRANSFORM, t.build()) for t in self.transforms]
        )
        return self.LAYOUT.pack(
            {
                "number": self.number,
                "protocol": self.protocol,
                "num_transforms": len(self.transforms),
                "spi": self.spi,
                "transforms": chain,
            }
        )


@dataclass(frozen=True)
class SaPayload(Payload):
    """SA payload with the IPsec DOI's 4-byte situation."""

    TYPE: ClassVar[int] = PayloadType.SA
    LAYOUT: ClassVar[Layout] = Layout(
        "SA payload", UInt("doi", 4), UInt("situation", 4), Rest("proposals")
    )

    doi: int
    situation: int
    proposals: tuple[ProposalPayload, ...]

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        bodies = _parse_nested(as_bytes(v["proposals"]), PayloadType.PROPOSAL, "SA payload")
        return cls(
            as_int(v["doi"]),
            as_int(v["situation"]),
            tuple(ProposalPayload.parse(b) for b in bodies),
        )

    def build(self) -> bytes:
        _, chain = build_payload_chain(
            [RawPayload(PayloadType.PROPOSAL, p.build()) for p in self.proposals]
        )
        return self.LAYOUT.pack({"doi": self.doi, "situation": self.situation, "proposals": chain})


@dataclass(frozen=True)
class IdPayload(Payload):
    """Identification with the IPsec DOI fields (RFC 2407 §4.6.2)."""

    TYPE: ClassVar[int] = PayloadType.ID
    LAYOUT: ClassVar[Layout] = Layout(
        "ID payload", UInt("id_type", 1), UInt("protocol", 1), UInt("port", 2), Rest("data")
    )

    id_type: int
    protocol: int
    port: int
    data: bytes

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(
            as_int(v["id_type"]), as_int(v["protocol"]), as_int(v["port"]), as_bytes(v["data"])
        )

    def build(self) -> bytes:
        return self.LAYOUT.pack(
            {
                "id_type": self.id_type,
                "protocol": self.protocol,
                "port": self.port,
                "data": self.data,
            }
        )


@dataclass(frozen=True)
class CertPayload(Payload):
    TYPE: ClassVar[int] = PayloadType.CERT
    LAYOUT: ClassVar[Layout] = Layout("CERT payload", UInt("encoding", 1), Rest("data"))

    encoding: int
    data: bytes

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["encoding"]), as_bytes(v["data"]))

    def build(self) -> bytes:
        return self.LAYOUT.pack({"encoding": self.encoding, "data": self.data})


@dataclass(frozen=True)
class CrPayload(CertPayload):
    """Certificate Request: ``encoding`` is the requested type, ``data`` the CA (may be empty)."""

    TYPE: ClassVar[int] = PayloadType.CR
    LAYOUT: ClassVar[Layout] = Layout("CR payload", UInt("encoding", 1), Rest("data"))


@dataclass(frozen=True)
class NotifyPayload(Payload):
    TYPE: ClassVar[int] = PayloadType.NOTIFY
    LAYOUT: ClassVar[Layout] = Layout(
        "Notify payload",
        UInt("doi", 4),
        UInt("protocol", 1),
        LengthOf("spi_size", 1, of="spi"),
        UInt("notify_type", 2),
        Sized("spi"),
        Rest("data"),
    )

    doi: int
    protocol: int
    notify_type: int
    spi: bytes = b""
    data: bytes = b""

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(
            as_int(v["doi"]),
            as_int(v["protocol"]),
            as_int(v["notify_type"]),
            as_bytes(v["spi"]),
            as_bytes(v["data"]),
        )

    def build(self) -> bytes:
        return self.LAYOUT.pack(
            {
                "doi": self.doi,
                "protocol": self.protocol,
                "notify_type": self.notify_type,
                "spi": self.spi,
                "data": self.data,
            }
        )


@dataclass(frozen=True)
class DeletePayload(Payload):
    TYPE: ClassVar[int] = PayloadType.DELETE
    LAYOUT: ClassVar[Layout] = Layout(
        "Delete payload",
        UInt("doi", 4),
        UInt("protocol", 1),
        UInt("spi_size", 1),
        UInt("count", 2),
        Rest("spis"),
    )

    doi: int
    protocol: int
    spi_size: int
    spis: tuple[bytes, ...]

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        size, count, raw = as_int(v["spi_size"]), as_int(v["count"]), as_bytes(v["spis"])
        if size * count != len(raw):
            raise WireError(
                f"Delete payload: {count} SPIs of {size} bytes need {size * count} bytes, got {len(raw)}"
            )
        if size == 0 and count:
            raise WireError(f"Delete payload: {count} SPIs of size 0")
        spis = tuple(raw[i : i + size] for i in range(0, len(raw), size)) if size else ()
        return cls(as_int(v["doi"]), as_int(v["protocol"]), size, spis)

    def build(self) -> bytes:
        for spi in self.spis:
            if len(spi) != self.spi_size:
                raise WireError(
                    f"Delete payload: SPI of {len(spi)} bytes, spi_size is {self.spi_size}"
                )
        return self.LAYOUT.pack(
            {
                "doi": self.doi,
                "protocol": self.protocol,
                "spi_size": self.spi_size,
                "count": len(self.spis),
                "spis": b"".join(self.spis),
            }
        )


@dataclass(frozen=True)
class AttributePayload(Payload):
    """Mode Config attribute payload (draft-dukes-ike-mode-cfg), used by XAUTH peers."""

    TYPE: ClassVar[int] = PayloadType.ATTRIBUTE
    LAYOUT: ClassVar[Layout] = Layout(
        "Attribute payload",
        UInt("cfg_type", 1),
        Reserved(1),
        UInt("identifier", 2),
        Rest("attributes"),
    )

    cfg_type: int
    identifier: int
    attributes: tuple[DataAttribute, ...] = ()

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(
            as_int(v["cfg_type"]),
            as_int(v["identifier"]),
            parse_attributes(as_bytes(v["attributes"])),
        )

    def build(self) -> bytes:
        return self.LAYOUT.pack(
            {
                "cfg_type": self.cfg_type,
                "identifier": self.identifier,
                "attributes": build_attributes(self.attributes),
            }
        )


@dataclass(frozen=True)
class NatOaPayload(Payload):
    """NAT-OA (RFC 3947 §5.2): the original address of a transport-mode peer."""

    TYPE: ClassVar[int] = PayloadType.NAT_OA
    LAYOUT: ClassVar[Layout] = Layout(
        "NAT-OA payload", UInt("id_type", 1), Reserved(3), Rest("address")
    )

    id_type: int
    address: bytes

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["id_type"]), as_bytes(v["address"]))

    def build(self) -> bytes:
        return self.LAYOUT.pack({"id_type": self.id_type, "address": self.address})


@dataclass(frozen=True)
class NatOaDraftPayload(NatOaPayload):
    TYPE: ClassVar[int] = PayloadType.NAT_OA_DRAFT


PAYLOAD_CLASSES: dict[int, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        SaPayload,
        KePayload,
        IdPayload,
        CertPayload,
        CrPayload,
        HashPayload,
        SigPayload,
        NoncePayload,
        NotifyPayload,
        DeletePayload,
        VendorIdPayload,
        AttributePayload,
        NatDPayload,
        NatOaPayload,
        NatDDraftPayload,
        NatOaDraftPayload,
    )
}
"""Top-level payload types an IKEv1 message may carry (Proposal/Transform only nest in SA)."""
