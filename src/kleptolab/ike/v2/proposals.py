"""IKEv2 SA payload codec: proposals, transforms and transform attributes (RFC 7296 §3.3).

Each substructure is a :class:`~kleptolab.ike.wire.Layout`; the "last
substructure" markers, counts and lengths are derived when building and
checked when parsing, so a parse → build round trip gives identical bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kleptolab.ike.v2.constants import ATTR_KEY_LENGTH, TransformType
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

_MORE_TRANSFORMS = 3
_MORE_PROPOSALS = 2


@dataclass(frozen=True)
class Attribute:
    """A data attribute: TV (``value`` an int < 2^16) or TLV (``value`` bytes)."""

    TV: ClassVar[Layout] = Layout("transform attribute (TV)", UInt("type", 2), UInt("value", 2))
    TLV: ClassVar[Layout] = Layout(
        "transform attribute (TLV)", UInt("type", 2), LengthOf("length", 2, of="value"), Sized("value")
    )

    type: int
    value: int | bytes

    def build(self) -> bytes:
        if not 0 <= self.type < 0x8000:
            raise WireError(f"transform attribute: type {self.type} does not fit 15 bits")
        if isinstance(self.value, int):
            return self.TV.pack({"type": self.type | 0x8000, "value": self.value})
        return self.TLV.pack({"type": self.type, "value": self.value})

    @classmethod
    def parse_all(cls, data: bytes) -> tuple[Attribute, ...]:
        """Split a run of attributes; every byte must belong to one."""
        attrs: list[Attribute] = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 4:
                raise WireError(f"transform attribute: truncated, {len(data) - pos} bytes left")
            af_type = int.from_bytes(data[pos : pos + 2], "big")
            if af_type & 0x8000:
                v = cls.TV.unpack(data[pos : pos + 4])
                attrs.append(cls(af_type & 0x7FFF, as_int(v["value"])))
                pos += 4
            else:
                size = 4 + int.from_bytes(data[pos + 2 : pos + 4], "big")
                if pos + size > len(data):
                    raise WireError(
                        f"transform attribute: type {af_type} claims {size - 4} value bytes "
                        f"but {len(data) - pos - 4} remain"
                    )
                v = cls.TLV.unpack(data[pos : pos + size])
                attrs.append(cls(af_type, as_bytes(v["value"])))
                pos += size
        return tuple(attrs)


@dataclass(frozen=True)
class Transform:
    """One transform: type (ENCR, PRF, INTEG, DH, ESN), ID and attributes."""

    LAYOUT: ClassVar[Layout] = Layout(
        "transform",
        UInt("last", 1),
        Reserved(1),
        LengthOf("length", 2),
        UInt("type", 1),
        Reserved(1),
        UInt("id", 2),
        Rest("attributes"),
    )

    type: int
    id: int
    attributes: tuple[Attribute, ...] = ()

    @property
    def key_length(self) -> int | None:
        """The key-length attribute in bits, if present."""
        for attr in self.attributes:
            if attr.type == ATTR_KEY_LENGTH and isinstance(attr.value, int):
                return attr.value
        return None

    def build(self, last: bool) -> bytes:
        body = b"".join(a.build() for a in self.attributes)
        return self.LAYOUT.pack(
            {"last": 0 if last else _MORE_TRANSFORMS, "type": self.type, "id": self.id, "attributes": body}
        )

    @classmethod
    def parse(cls, data: bytes) -> tuple[Transform, bool]:
        """Parse one whole transform; return it and whether it claims to be the last."""
        v = cls.LAYOUT.unpack(data)
        last = as_int(v["last"])
        if last not in (0, _MORE_TRANSFORMS):
            raise WireError(f"transform: last-substructure value {last}, expected 0 or 3")
        attrs = Attribute.parse_all(as_bytes(v["attributes"]))
        return cls(as_int(v["type"]), as_int(v["id"]), attrs), last == 0


@dataclass(frozen=True)
class Proposal:
    """One proposal: number, protocol (IKE/AH/ESP), SPI and transforms."""

    LAYOUT: ClassVar[Layout] = Layout(
        "proposal",
        UInt("last", 1),
        Reserved(1),
        LengthOf("length", 2),
        UInt("number", 1),
        UInt("protocol", 1),
        LengthOf("spi_size", 1, of="spi"),
        UInt("count", 1),
        Sized("spi"),
        Rest("transforms"),
    )

    number: int
    protocol: int
    spi: bytes
    transforms: tuple[Transform, ...]

    def of_type(self, transform_type: TransformType) -> tuple[Transform, ...]:
        """The transforms of one type, in order."""
        return tuple(t for t in self.transforms if t.type == transform_type)

    def build(self, last: bool) -> bytes:
        n = len(self.transforms)
        body = b"".join(t.build(i == n - 1) for i, t in enumerate(self.transforms))
        return self.LAYOUT.pack(
            {
                "last": 0 if last else _MORE_PROPOSALS,
                "number": self.number,
                "protocol": self.protocol,
                "count": n,
                "spi": self.spi,
                "transforms": body,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> tuple[Proposal, bool]:
        """Parse one whole proposal; return it and whether it claims to be the last."""
        v = cls.LAYOUT.unpack(data)
        last = as_int(v["last"])
        if last not in (0, _MORE_PROPOSALS):
            raise WireError(f"proposal: last-substructure value {last}, expected 0 or 2")
        chunks = _split(as_bytes(v["transforms"]), "transform")
        transforms: list[Transform] = []
        for index, chunk in enumerate(chunks):
            transform, is_last = Transform.parse(chunk)
            if is_last != (index == len(chunks) - 1):
                raise WireError(f"transform {index + 1}: last-substructure marker disagrees with the length")
            transforms.append(transform)
        count = as_int(v["count"])
        if count != len(transforms):
            raise WireError(f"proposal: says {count} transforms but holds {len(transforms)}")
        return cls(as_int(v["number"]), as_int(v["protocol"]), as_bytes(v["spi"]), tuple(transforms)), last == 0


@dataclass(frozen=True)
class SaPayload:
    """Security Association payload: a list of proposals."""

    TYPE: ClassVar[int] = 33

    proposals: tuple[Proposal, ...]

    def build(self) -> bytes:
        n = len(self.proposals)
        return b"".join(p.build(i == n - 1) for i, p in enumerate(self.proposals))

    @classmethod
    def parse(cls, body: bytes) -> SaPayload:
        chunks = _split(body, "proposal")
        if not chunks:
            raise WireError("SA payload: no proposals")
        proposals: list[Proposal] = []
        for index, chunk in enumerate(chunks):
            proposal, is_last = Proposal.parse(chunk)
            if is_last != (index == len(chunks) - 1):
                raise WireError(f"proposal {index + 1}: last-substructure marker disagrees with the length")
            proposals.append(proposal)
        return cls(tuple(proposals))


def _split(data: bytes, what: str) -> list[bytes]:
    """Cut ``data`` into substructures by their 2-byte length at offset 2."""
    chunks: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise WireError(f"{what} {len(chunks) + 1}: truncated, {len(data) - pos} bytes left")
        size = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if size < 4 or pos + size > len(data):
            raise WireError(
                f"{what} {len(chunks) + 1}: length {size} but {len(data) - pos} bytes remain"
            )
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks
