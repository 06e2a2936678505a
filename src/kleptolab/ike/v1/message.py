"""IKEv1 messages: the ISAKMP header plus a chain of typed payloads.

An encrypted message (E flag) is parsed to its header and ciphertext;
:mod:`kleptolab.ike.v1.crypto` decrypts it and calls :func:`decode_chain`
on the plaintext, which tolerates the block padding after the last payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from kleptolab.ike.v1.constants import ISAKMP_VERSION, PayloadType
from kleptolab.ike.v1.payloads import PAYLOAD_CLASSES, Payload
from kleptolab.ike.wire import (
    FLAG_ENCRYPTION,
    GENERIC_HEADER,
    MAX_PAYLOADS,
    IkeHeader,
    RawPayload,
    WireError,
    as_int,
    build_payload_chain,
)

P = TypeVar("P", bound=Payload)


class UnknownPayloadType(WireError):
    """A payload type this IKEv1 implementation does not know (notify INVALID-PAYLOAD-TYPE)."""

    def __init__(self, payload_type: int, index: int) -> None:
        super().__init__(f"IKEv1 payload {index}: unknown payload type {payload_type}")
        self.payload_type = payload_type


@dataclass(frozen=True)
class PayloadChain:
    """Decoded payloads with the exact bytes of each (generic header included)."""

    payloads: tuple[Payload, ...]
    raw: tuple[bytes, ...]
    padding: bytes = b""

    def first(self, cls: type[P]) -> P | None:
        """The first payload of exactly class ``cls`` (None when absent)."""
        for p in self.payloads:
            if type(p) is cls:
                return p
        return None

    def all(self, cls: type[P]) -> list[P]:
        return [p for p in self.payloads if isinstance(p, cls)]

    def body_of(self, cls: type[Payload]) -> bytes | None:
        """The received body bytes of the first payload of class ``cls``."""
        for p, raw in zip(self.payloads, self.raw, strict=True):
            if type(p) is cls:
                return raw[4:]
        return None

    def after_first(self) -> bytes:
        """Every payload after the first, as received (input of IKEv1 QM/Informational hashes)."""
        return b"".join(self.raw[1:])


def decode_chain(first_type: int, data: bytes, *, allow_padding: bool = False) -> PayloadChain:
    """Decode a payload chain; trailing bytes are padding only when ``allow_padding``."""
    payloads: list[Payload] = []
    raws: list[bytes] = []
    pos = 0
    current = first_type
    while current != PayloadType.NONE:
        index = len(payloads) + 1
        if index > MAX_PAYLOADS:
            raise WireError(f"IKEv1 message: more than {MAX_PAYLOADS} payloads")
        cls = PAYLOAD_CLASSES.get(current)
        if cls is None:
            raise UnknownPayloadType(current, index)
        if len(data) - pos < 4:
            raise WireError(f"IKEv1 payload {index} (type {current}): truncated at offset {pos}")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 4 or pos + length > len(data):
            raise WireError(
                f"IKEv1 payload {index} (type {current}): length {length} but {len(data) - pos} bytes remain"
            )
        raw = data[pos : pos + length]
        fields = GENERIC_HEADER.unpack(raw)
        body = raw[4:]
        try:
            payloads.append(cls.parse(body))
        except WireError as exc:
            raise WireError(f"IKEv1 payload {index}: {exc}") from None
        raws.append(raw)
        pos += length
        current = as_int(fields["next_payload"])
    if pos != len(data) and not allow_padding:
        raise WireError(f"IKEv1 message: {len(data) - pos} trailing bytes after the last payload")
    return PayloadChain(tuple(payloads), tuple(raws), data[pos:])


def encode_chain(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """Encode payloads; return (first payload type, chain bytes)."""
    return build_payload_chain([RawPayload(p.TYPE, p.build()) for p in payloads])


@dataclass(frozen=True)
class Ikev1Message:
    """One IKEv1 message; ``chain`` is None while the body is still encrypted."""

    header: IkeHeader
    body: bytes
    chain: PayloadChain | None

    @property
    def encrypted(self) -> bool:
        return bool(self.header.flags & FLAG_ENCRYPTION)


def parse_message(data: bytes) -> Ikev1Message:
    """Parse an IKEv1 message (no non-ESP marker); encrypted bodies are left undecoded."""
    header = IkeHeader.parse(data)
    if header.major_version != 1:
        raise WireError(f"IKEv1 header: major version {header.major_version}, expected 1")
    if header.length != len(data):
        raise WireError(
            f"IKEv1 header: length {header.length} but the datagram has {len(data)} bytes"
        )
    body = data[IkeHeader.SIZE :]
    if header.flags & FLAG_ENCRYPTION:
        return Ikev1Message(header, body, None)
    return Ikev1Message(header, body, decode_chain(header.next_payload, body))


def build_message(
    spi_i: bytes,
    spi_r: bytes,
    exchange: int,
    flags: int,
    message_id: int,
    payloads: Sequence[Payload],
) -> bytes:
    """Build a plaintext message; ``flags`` must not contain the E bit (see crypto.encrypt_message)."""
    if flags & FLAG_ENCRYPTION:
        raise ValueError(
            "build_message builds plaintext; use crypto.encrypt_message for the E flag"
        )
    first, chain = encode_chain(payloads)
    return (
        header_bytes(spi_i, spi_r, first, exchange, flags, message_id, IkeHeader.SIZE + len(chain))
        + chain
    )


def header_bytes(
    spi_i: bytes, spi_r: bytes, first: int, exchange: int, flags: int, message_id: int, length: int
) -> bytes:
    return IkeHeader(
        spi_i=spi_i,
        spi_r=spi_r,
        next_payload=first,
        major_version=ISAKMP_VERSION >> 4,
        minor_version=ISAKMP_VERSION & 0x0F,
        exchange_type=exchange,
        flags=flags,
        message_id=message_id,
        length=length,
    ).build()
