"""IKEv2 payload codecs and the message pair :func:`parse_message` / :func:`build_message`.

Every payload class holds only its real data; lengths, counts and sizes are
derived by the :class:`~kleptolab.ike.wire.Layout` tables.  ``parse`` takes
the payload *body* (after the 4-byte generic header) and ``build`` returns it.
Malformed input raises :class:`~kleptolab.ike.wire.WireError`; an unknown
payload with the critical bit raises :class:`~kleptolab.ike.wire.UnknownCriticalPayload`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from kleptolab.ike.v2.constants import IKEV2_VERSION, PayloadType
from kleptolab.ike.v2.proposals import SaPayload
from kleptolab.ike.v2.traffic import ConfigPayload, TsiPayload, TsrPayload
from kleptolab.ike.wire import (
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
    as_bytes,
    as_int,
    build_payload_chain,
    parse_payload_chain,
)


class Payload(Protocol):
    """What every payload class offers."""

    TYPE: ClassVar[int]

    def build(self) -> bytes: ...


@dataclass(frozen=True)
class KePayload:
    """Key Exchange: DH group number and the public value."""

    TYPE: ClassVar[int] = PayloadType.KE
    LAYOUT: ClassVar[Layout] = Layout("KE payload", UInt("group", 2), Reserved(2), Rest("data"))

    group: int
    data: bytes

    def build(self) -> bytes:
        return self.LAYOUT.pack({"group": self.group, "data": self.data})

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["group"]), as_bytes(v["data"]))


@dataclass(frozen=True)
class NoncePayload:
    """Nonce (Ni or Nr)."""

    TYPE: ClassVar[int] = PayloadType.NONCE

    nonce: bytes

    def build(self) -> bytes:
        return self.nonce

    @classmethod
    def parse(cls, body: bytes) -> Self:
        return cls(body)


@dataclass(frozen=True)
class _TypedData:
    """Common shape of ID, AUTH, CERT-less payloads: a 1-byte type, 3 reserved, data."""

    LAYOUT: ClassVar[Layout] = Layout("typed payload", UInt("kind", 1), Reserved(3), Rest("data"))

    kind: int
    data: bytes

    def build(self) -> bytes:
        return self.LAYOUT.pack({"kind": self.kind, "data": self.data})

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["kind"]), as_bytes(v["data"]))


@dataclass(frozen=True)
class IdiPayload(_TypedData):
    """Identification of the initiator: ``kind`` is the ID type; ``build()`` is IDi'."""

    TYPE: ClassVar[int] = PayloadType.IDI


@dataclass(frozen=True)
class IdrPayload(_TypedData):
    """Identification of the responder: ``kind`` is the ID type; ``build()`` is IDr'."""

    TYPE: ClassVar[int] = PayloadType.IDR


@dataclass(frozen=True)
class AuthPayload(_TypedData):
    """Authentication: ``kind`` is the auth method, ``data`` the MIC or signature."""

    TYPE: ClassVar[int] = PayloadType.AUTH


@dataclass(frozen=True)
class CertPayload:
    """Certificate: encoding and data (a DER certificate for X.509 signature)."""

    TYPE: ClassVar[int] = PayloadType.CERT
    LAYOUT: ClassVar[Layout] = Layout("CERT payload", UInt("encoding", 1), Rest("data"))

    encoding: int
    data: bytes

    def build(self) -> bytes:
        return self.LAYOUT.pack({"encoding": self.encoding, "data": self.data})

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["encoding"]), as_bytes(v["data"]))


@dataclass(frozen=True)
class CertReqPayload(CertPayload):
    """Certificate request: encoding and concatenated SHA-1 hashes of CA public keys."""

    TYPE: ClassVar[int] = PayloadType.CERTREQ


@dataclass(frozen=True)
class NotifyPayload:
    """Notify: protocol, SPI (may be empty), type and data."""

    TYPE: ClassVar[int] = PayloadType.NOTIFY
    LAYOUT: ClassVar[Layout] = Layout(
        "Notify payload",
        UInt("protocol", 1),
        LengthOf("spi_size", 1, of="spi"),
        UInt("notify_type", 2),
        Sized("spi"),
        Rest("data"),
    )

    notify_type: int
    data: bytes = b""
    protocol: int = 0
    spi: bytes = b""

    def build(self) -> bytes:
        return self.LAYOUT.pack(
            {"protocol": self.protocol, "notify_type": self.notify_type, "spi": self.spi, "data": self.data}
        )

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        return cls(as_int(v["notify_type"]), as_bytes(v["data"]), as_int(v["protocol"]), as_bytes(v["spi"]))


@dataclass(frozen=True)
class DeletePayload:
    """Delete: protocol and the SPIs to delete (none for the IKE SA)."""

    TYPE: ClassVar[int] = PayloadType.DELETE
    LAYOUT: ClassVar[Layout] = Layout(
        "Delete payload", UInt("protocol", 1), UInt("spi_size", 1), UInt("count", 2), Rest("spis")
    )

    protocol: int
    spis: tuple[bytes, ...] = ()

    def build(self) -> bytes:
        sizes = {len(s) for s in self.spis}
        if len(sizes) > 1:
            raise WireError("Delete payload: SPIs of different sizes")
        return self.LAYOUT.pack(
            {
                "protocol": self.protocol,
                "spi_size": sizes.pop() if sizes else 0,
                "count": len(self.spis),
                "spis": b"".join(self.spis),
            }
        )

    @classmethod
    def parse(cls, body: bytes) -> Self:
        v = cls.LAYOUT.unpack(body)
        size, count, data = as_int(v["spi_size"]), as_int(v["count"]), as_bytes(v["spis"])
        if size * count != len(data) or (size == 0 and count):
            raise WireError(
                f"Delete payload: {count} SPIs of {size} bytes do not fill {len(data)} bytes"
            )
        spis = tuple(data[i : i + size] for i in range(0, len(data), size)) if size else ()
        return cls(as_int(v["protocol"]), spis)


@dataclass(frozen=True)
class VendorIdPayload:
    """Vendor ID."""

    TYPE: ClassVar[int] = PayloadType.VENDOR_ID

    data: bytes

    def build(self) -> bytes:
        return self.data

    @classmethod
    def parse(cls, body: bytes) -> Self:
        return cls(body)


@dataclass(frozen=True)
class EncryptedPayload:
    """SK payload as it travels: IV ‖ ciphertext ‖ ICV, and the first inner payload type."""

    TYPE: ClassVar[int] = PayloadType.SK

    inner_next: int
    data: bytes

    def build(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class UnknownPayload:
    """A non-critical payload this codec does not decode (kept verbatim)."""

    type: int
    body: bytes
    critical: bool = False

    @property
    def TYPE(self) -> int:
        return self.type

    def build(self) -> bytes:
        return self.body


AnyPayload = (
    SaPayload | KePayload | NoncePayload | IdiPayload | IdrPayload | AuthPayload | CertPayload
    | CertReqPayload | NotifyPayload | DeletePayload | VendorIdPayload | TsiPayload | TsrPayload
    | ConfigPayload | EncryptedPayload | UnknownPayload
)

_DECODERS: dict[int, type[SaPayload | KePayload | NoncePayload | IdiPayload | IdrPayload | AuthPayload
                          | CertPayload | CertReqPayload | NotifyPayload | DeletePayload
                          | VendorIdPayload | TsiPayload | TsrPayload | ConfigPayload]] = {
    cls.TYPE: cls
    for cls in (SaPayload, KePayload, NoncePayload, IdiPayload, IdrPayload, AuthPayload, CertPayload,
                CertReqPayload, NotifyPayload, DeletePayload, VendorIdPayload, TsiPayload, TsrPayload,
                ConfigPayload)
}


def decode_payload(raw: RawPayload) -> AnyPayload:
    """Decode one payload of a chain into its class (``UnknownPayload`` when not critical)."""
    if raw.type == PayloadType.SK:
        return EncryptedPayload(raw.inner_next, raw.body)
    decoder = _DECODERS.get(raw.type)
    if decoder is None:
        if raw.critical:
            raise UnknownCriticalPayload(raw.type)
        return UnknownPayload(raw.type, raw.body, False)
    return decoder.parse(raw.body)


def decode_chain(first_type: int, data: bytes) -> tuple[AnyPayload, ...]:
    """Parse and decode a whole payload chain."""
    return tuple(decode_payload(raw) for raw in parse_payload_chain(first_type, data))


def encode_chain(payloads: tuple[AnyPayload, ...] | list[AnyPayload]) -> tuple[int, bytes]:
    """Encode payloads; return (first payload type, chain bytes)."""
    raws = [
        RawPayload(p.TYPE, p.build(), getattr(p, "critical", False),
                   p.inner_next if isinstance(p, EncryptedPayload) else 0)
        for p in payloads
    ]
    return build_payload_chain(raws)


@dataclass(frozen=True)
class Ikev2Message:
    """One IKEv2 message: header fields and its payloads (SK still encrypted, or decrypted)."""

    spi_i: bytes
    spi_r: bytes
    exchange_type: int
    flags: int
    message_id: int
    payloads: tuple[AnyPayload, ...] = field(default_factory=tuple)
    version: int = IKEV2_VERSION

    def find(self, kind: type[Payload]) -> list[AnyPayload]:
        """All payloads of one class (exact class, so ``CertPayload`` excludes CERTREQ)."""
        return [p for p in self.payloads if type(p) is kind]

    def notifies(self) -> dict[int, NotifyPayload]:
        """Notify payloads by type (the first of each type)."""
        out: dict[int, NotifyPayload] = {}
        for p in self.payloads:
            if isinstance(p, NotifyPayload):
                out.setdefault(p.notify_type, p)
        return out

    def header(self, length: int, first_payload: int) -> IkeHeader:
        return IkeHeader(self.spi_i, self.spi_r, first_payload, self.version >> 4, self.version & 0x0F,
                         self.exchange_type, self.flags, self.message_id, length)


def parse_message(data: bytes) -> Ikev2Message:
    """Parse one whole IKEv2 message (no non-ESP marker); the SK payload stays encrypted.

    Raises :class:`WireError` for anything malformed, including a major version
    other than 2 and bytes after the length the header declares.
    """
    header = IkeHeader.parse(data)
    if header.major_version != 2:
        raise WireError(f"IKEv2 message: major version {header.major_version}, expected 2")
    if header.length != len(data):
        raise WireError(f"IKEv2 message: header says {header.length} bytes but {len(data)} were given")
    payloads = decode_chain(header.next_payload, data[IkeHeader.SIZE :])
    return Ikev2Message(header.spi_i, header.spi_r, header.exchange_type, header.flags,
                        header.message_id, payloads, (header.major_version << 4) | header.minor_version)


def build_message(message: Ikev2Message) -> bytes:
    """Encode ``message`` with its derived length and next-payload fields."""
    first, chain = encode_chain(message.payloads)
    return message.header(IkeHeader.SIZE + len(chain), first).build() + chain
