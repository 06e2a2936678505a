"""ISAKMP data attributes (RFC 2408 §3.3): TV (AF=1, 2-byte value) and TLV forms.

An attribute keeps the form it arrived in, so parse → build gives the same
bytes: an ``int`` value is TV, a ``bytes`` value is TLV.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from kleptolab.ike.wire import Layout, LengthOf, Sized, UInt, WireError, as_bytes, as_int

MAX_ATTRIBUTES = 64
"""Upper bound on attributes in one transform, against pathological inputs."""


@dataclass(frozen=True)
class DataAttribute:
    """One attribute: ``value`` is an int for TV form, bytes for TLV form."""

    TV: ClassVar[Layout] = Layout("data attribute (TV)", UInt("type", 2), UInt("value", 2))
    TLV: ClassVar[Layout] = Layout(
        "data attribute (TLV)", UInt("type", 2), LengthOf("length", 2, of="value"), Sized("value")
    )

    type: int
    value: int | bytes

    @classmethod
    def number(cls, type_: int, value: int) -> DataAttribute:
        """Encode ``value`` as TV when it fits 16 bits, else as a minimal TLV."""
        if value < 0:
            raise ValueError(f"attribute {type_}: negative value {value}")
        if value < 1 << 16:
            return cls(type_, value)
        return cls(type_, value.to_bytes((value.bit_length() + 7) // 8, "big"))

    @property
    def as_int(self) -> int:
        """The value as an integer (TLV values are big-endian, at most 8 bytes)."""
        if isinstance(self.value, int):
            return self.value
        if len(self.value) > 8:
            raise WireError(
                f"data attribute {self.type}: {len(self.value)}-byte value is not a number"
            )
        return int.from_bytes(self.value, "big")

    def build(self) -> bytes:
        if not 0 <= self.type < 1 << 15:
            raise WireError(f"data attribute: type {self.type} does not fit 15 bits")
        if isinstance(self.value, int):
            return self.TV.pack({"type": self.type | 0x8000, "value": self.value})
        return self.TLV.pack({"type": self.type, "value": self.value})


def parse_attributes(data: bytes) -> tuple[DataAttribute, ...]:
    """Parse a sequence of attributes filling ``data`` exactly."""
    out: list[DataAttribute] = []
    pos = 0
    while pos < len(data):
        if len(out) >= MAX_ATTRIBUTES:
            raise WireError(f"data attributes: more than {MAX_ATTRIBUTES}")
        if len(data) - pos < 4:
            raise WireError(f"data attributes: truncated attribute at offset {pos}")
        word = int.from_bytes(data[pos : pos + 2], "big")
        if word & 0x8000:
            v = DataAttribute.TV.unpack(data[pos : pos + 4])
            out.append(DataAttribute(as_int(v["type"]) & 0x7FFF, as_int(v["value"])))
            pos += 4
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if pos + 4 + length > len(data):
            raise WireError(
                f"data attribute {word}: value claims {length} bytes but {len(data) - pos - 4} remain"
            )
        v = DataAttribute.TLV.unpack(data[pos : pos + 4 + length])
        out.append(DataAttribute(as_int(v["type"]), as_bytes(v["value"])))
        pos += 4 + length
    return tuple(out)


def build_attributes(attributes: Iterable[DataAttribute]) -> bytes:
    return b"".join(a.build() for a in attributes)


def attribute_map(attributes: Sequence[DataAttribute]) -> dict[int, int]:
    """Map attribute type → numeric value; the first of repeated types wins.

    (Life type/duration pairs may legally repeat; walk the sequence for those.)
    """
    out: dict[int, int] = {}
    for attr in attributes:
        out.setdefault(attr.type, attr.as_int)
    return out
