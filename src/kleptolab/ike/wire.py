"""Declarative wire layouts, the ISAKMP/IKE header and the generic payload chain.

A :class:`Layout` is a table of fields.  Lengths and sizes are *derived*: a
``LengthOf`` field is computed when building and checked when parsing, so a
payload class only names its real data.  Parsing is strict (every byte is
accounted for) and every failure raises :class:`WireError` with a message
that says which structure, which field and why.  Nothing here allocates more
than the input it was given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

MAX_MESSAGE = 65_535
"""No IKE message can be longer than a UDP datagram."""

MAX_PAYLOADS = 128
"""Upper bound on payloads in one chain, against pathological inputs."""

WireValue = int | bytes


class WireError(ValueError):
    """Malformed, truncated or unsupported wire data."""


class UnknownCriticalPayload(WireError):
    """A payload of unknown type had its critical bit set (RFC 7296 §2.5)."""

    def __init__(self, payload_type: int) -> None:
        super().__init__(f"unknown payload type {payload_type} is marked critical")
        self.payload_type = payload_type


@dataclass(frozen=True)
class UInt:
    """Unsigned big-endian integer of ``size`` bytes."""

    name: str
    size: int


@dataclass(frozen=True)
class Fixed:
    """Opaque bytes of a fixed size."""

    name: str
    size: int


@dataclass(frozen=True)
class Reserved:
    """Bytes that are zero when built and ignored when parsed."""

    size: int
    name: str = "reserved"


@dataclass(frozen=True)
class LengthOf:
    """A derived length: the size of field ``of`` (or of the whole layout when ``of`` is None)."""

    name: str
    size: int
    of: str | None = None
    adjust: int = 0


@dataclass(frozen=True)
class Sized:
    """Variable bytes whose length is carried by the ``LengthOf`` field naming it."""

    name: str


@dataclass(frozen=True)
class Rest:
    """All remaining bytes (must be the last field)."""

    name: str


Field = UInt | Fixed | Reserved | LengthOf | Sized | Rest


class Layout:
    """An ordered table of fields with derived lengths."""

    def __init__(self, name: str, *fields: Field) -> None:
        self.name = name
        self.fields = fields
        self._length_for = {f.of: f for f in fields if isinstance(f, LengthOf) and f.of is not None}
        self._whole = next(
            (f for f in fields if isinstance(f, LengthOf) and f.of is None), None
        )
        for f in fields[:-1]:
            if isinstance(f, Rest):
                raise TypeError(f"{name}: Rest field {f.name!r} must be last")
        for f in fields:
            if isinstance(f, Sized) and f.name not in self._length_for:
                raise TypeError(f"{name}: Sized field {f.name!r} has no LengthOf field")

    @property
    def fixed_size(self) -> int:
        """Bytes taken by the fixed-size fields (the minimum length)."""
        return sum(
            f.size for f in self.fields if isinstance(f, UInt | Fixed | Reserved | LengthOf)
        )

    def unpack(self, data: bytes) -> dict[str, WireValue]:
        """Parse ``data`` exactly; return the named data fields (lengths are checked, not returned)."""
        if len(data) < self.fixed_size:
            raise WireError(
                f"{self.name}: truncated, {len(data)} bytes but at least {self.fixed_size} needed"
            )
        values: dict[str, WireValue] = {}
        lengths: dict[str, int] = {}
        pos = 0
        for f in self.fields:
            if isinstance(f, UInt | LengthOf):
                value = int.from_bytes(data[pos : pos + f.size], "big")
                pos += f.size
                if isinstance(f, LengthOf):
                    lengths[f.of or ""] = value - f.adjust
                else:
                    values[f.name] = value
            elif isinstance(f, Fixed):
                values[f.name] = data[pos : pos + f.size]
                pos += f.size
            elif isinstance(f, Reserved):
                pos += f.size
            elif isinstance(f, Sized):
                size = lengths[f.name]
                if size < 0 or pos + size > len(data):
                    raise WireError(
                        f"{self.name}: field {f.name!r} claims {size} bytes but "
                        f"{len(data) - pos} remain"
                    )
                values[f.name] = data[pos : pos + size]
                pos += size
            else:
                values[f.name] = data[pos:]
                pos = len(data)
        if "" in lengths and lengths[""] != len(data):
            raise WireError(
                f"{self.name}: length field says {lengths['']} bytes but the structure has {len(data)}"
            )
        if pos != len(data):
            raise WireError(f"{self.name}: {len(data) - pos} trailing bytes after the last field")
        return values

    def pack(self, values: Mapping[str, WireValue]) -> bytes:
        """Build the bytes from ``values``; derived lengths are filled in."""
        sizes = {
            name: len(self._bytes(values, name)) for name in self._length_for
        }
        parts: list[bytes] = []
        whole_index = -1
        for f in self.fields:
            if isinstance(f, UInt):
                parts.append(self._uint(f.name, self._int(values, f.name), f.size))
            elif isinstance(f, LengthOf):
                if f.of is None:
                    whole_index = len(parts)
                    parts.append(b"\x00" * f.size)
                else:
                    parts.append(self._uint(f.name, sizes[f.of] + f.adjust, f.size))
            elif isinstance(f, Fixed):
                raw = self._bytes(values, f.name)
                if len(raw) != f.size:
                    raise WireError(
                        f"{self.name}: field {f.name!r} must be {f.size} bytes, got {len(raw)}"
                    )
                parts.append(raw)
            elif isinstance(f, Reserved):
                parts.append(b"\x00" * f.size)
            else:
                parts.append(self._bytes(values, f.name))
        if self._whole is not None:
            total = sum(len(p) for p in parts) + self._whole.adjust
            parts[whole_index] = self._uint(self._whole.name, total, self._whole.size)
        return b"".join(parts)

    def _int(self, values: Mapping[str, WireValue], name: str) -> int:
        value = values.get(name)
        if not isinstance(value, int):
            raise WireError(f"{self.name}: field {name!r} needs an int, got {type(value).__name__}")
        return value

    def _bytes(self, values: Mapping[str, WireValue], name: str) -> bytes:
        value = values.get(name)
        if not isinstance(value, bytes):
            raise WireError(f"{self.name}: field {name!r} needs bytes, got {type(value).__name__}")
        return value

    def _uint(self, name: str, value: int, size: int) -> bytes:
        if not 0 <= value < 1 << (8 * size):
            raise WireError(f"{self.name}: field {name!r} value {value} does not fit {size} bytes")
        return value.to_bytes(size, "big")


# --- The ISAKMP / IKE header (identical layout in IKEv1 and IKEv2) -----------------------

FLAG_ENCRYPTION = 0x01  # IKEv1 E bit
FLAG_COMMIT = 0x02  # IKEv1 C bit
FLAG_AUTH_ONLY = 0x04  # IKEv1 A bit
FLAG_INITIATOR = 0x08  # IKEv2 I bit
FLAG_VERSION = 0x10  # IKEv2 V bit
FLAG_RESPONSE = 0x20  # IKEv2 R bit


@dataclass(frozen=True)
class IkeHeader:
    """The 28-byte header; ``length`` is the whole message length."""

    LAYOUT: ClassVar[Layout] = Layout(
        "IKE header",
        Fixed("spi_i", 8),
        Fixed("spi_r", 8),
        UInt("next_payload", 1),
        UInt("version", 1),
        UInt("exchange_type", 1),
        UInt("flags", 1),
        UInt("message_id", 4),
        UInt("length", 4),
    )
    SIZE: ClassVar[int] = 28

    spi_i: bytes
    spi_r: bytes
    next_payload: int
    major_version: int
    minor_version: int
    exchange_type: int
    flags: int
    message_id: int
    length: int

    @classmethod
    def parse(cls, data: bytes) -> IkeHeader:
        """Parse the header at the start of ``data`` and check its length against ``data``."""
        if len(data) < cls.SIZE:
            raise WireError(f"IKE header: truncated, {len(data)} bytes but 28 needed")
        v = cls.LAYOUT.unpack(data[: cls.SIZE])
        length = as_int(v["length"])
        if length < cls.SIZE or length > MAX_MESSAGE:
            raise WireError(f"IKE header: absurd message length {length}")
        if length > len(data):
            raise WireError(f"IKE header: message length {length} but only {len(data)} bytes present")
        version = as_int(v["version"])
        return cls(
            spi_i=as_bytes(v["spi_i"]),
            spi_r=as_bytes(v["spi_r"]),
            next_payload=as_int(v["next_payload"]),
            major_version=version >> 4,
            minor_version=version & 0x0F,
            exchange_type=as_int(v["exchange_type"]),
            flags=as_int(v["flags"]),
            message_id=as_int(v["message_id"]),
            length=length,
        )

    def build(self) -> bytes:
        """Encode the header (``length`` as stored)."""
        return self.LAYOUT.pack(
            {
                "spi_i": self.spi_i,
                "spi_r": self.spi_r,
                "next_payload": self.next_payload,
                "version": (self.major_version << 4) | self.minor_version,
                "exchange_type": self.exchange_type,
                "flags": self.flags,
                "message_id": self.message_id,
                "length": self.length,
            }
        )

    @property
    def is_response(self) -> bool:
        """IKEv2 R flag."""
        return bool(self.flags & FLAG_RESPONSE)

    @property
    def is_initiator(self) -> bool:
        """IKEv2 I flag (set by the original initiator)."""
        return bool(self.flags & FLAG_INITIATOR)


# --- The generic payload chain --------------------------------------------------------------

GENERIC_HEADER = Layout(
    "generic payload header",
    UInt("next_payload", 1),
    UInt("flags", 1),
    LengthOf("length", 2),
    Rest("body"),
)

IKEV2_ENCRYPTED = 46
"""The IKEv2 SK payload ends a chain: its next-payload field names the first inner payload."""


@dataclass(frozen=True)
class RawPayload:
    """One payload of a chain: its type, its body, and the critical bit.

    ``inner_next`` is only used for the IKEv2 SK payload, whose next-payload
    field names the first payload *inside* the encrypted data.
    """

    type: int
    body: bytes
    critical: bool = False
    inner_next: int = 0


def parse_payload_chain(first_type: int, data: bytes) -> list[RawPayload]:
    """Split ``data`` into payloads, starting with ``first_type``.

    Stops after a type-0 next payload or an SK payload; raises
    :class:`WireError` on truncation, absurd lengths or trailing garbage.
    """
    payloads: list[RawPayload] = []
    pos = 0
    current = first_type
    while current != 0:
        if len(payloads) >= MAX_PAYLOADS:
            raise WireError(f"payload chain: more than {MAX_PAYLOADS} payloads")
        if len(data) - pos < 4:
            raise WireError(
                f"payload chain: payload {len(payloads) + 1} (type {current}) truncated at offset {pos}"
            )
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 4 or pos + length > len(data):
            raise WireError(
                f"payload chain: payload {len(payloads) + 1} (type {current}) has length {length} "
                f"but {len(data) - pos} bytes remain"
            )
        fields = GENERIC_HEADER.unpack(data[pos : pos + length])
        next_type = as_int(fields["next_payload"])
        critical = bool(as_int(fields["flags"]) & 0x80)
        body = as_bytes(fields["body"])
        pos += length
        if current == IKEV2_ENCRYPTED:
            payloads.append(RawPayload(current, body, critical, inner_next=next_type))
            break
        payloads.append(RawPayload(current, body, critical))
        current = next_type
    if pos != len(data):
        raise WireError(f"payload chain: {len(data) - pos} trailing bytes after the last payload")
    return payloads


def build_payload_chain(payloads: Sequence[RawPayload]) -> tuple[int, bytes]:
    """Encode payloads; return (type of the first payload, chain bytes)."""
    parts: list[bytes] = []
    for index, payload in enumerate(payloads):
        if payload.type == IKEV2_ENCRYPTED:
            if index != len(payloads) - 1:
                raise WireError("payload chain: the SK payload must be the last payload")
            next_type = payload.inner_next
        else:
            next_type = payloads[index + 1].type if index + 1 < len(payloads) else 0
        parts.append(
            GENERIC_HEADER.pack(
                {
                    "next_payload": next_type,
                    "flags": 0x80 if payload.critical else 0,
                    "body": payload.body,
                }
            )
        )
    first = payloads[0].type if payloads else 0
    return first, b"".join(parts)


def iter_payloads(first_type: int, data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield ``(type, body)`` for each payload of a chain (see :func:`parse_payload_chain`)."""
    for payload in parse_payload_chain(first_type, data):
        yield payload.type, payload.body


def as_int(value: WireValue) -> int:
    if not isinstance(value, int):
        raise TypeError("expected an int field")
    return value


def as_bytes(value: WireValue) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError("expected a bytes field")
    return value
