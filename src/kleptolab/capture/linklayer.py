"""From captured frames to IP payloads: link-layer headers and IP fragment reassembly.

Link types: Ethernet (with 802.1Q/802.1ad tags), raw IP (12, 14, 101, 228,
229), Linux cooked SLL (113) and SLL2 (276), BSD null (0) and OpenBSD loop
(108).  IPv4 and IPv6 fragments are reassembled (first come, first kept).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from kleptolab import netpkt
from kleptolab.capture.pcapio import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_VLAN_TAGS = {0x8100, 0x88A8, 0x9100}
_RAW_TYPES = {LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, 12, 14}

SUPPORTED_LINKTYPES = frozenset(
    {LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_LOOP}
    | _RAW_TYPES
)


class UnsupportedLinkType(ValueError):
    """The frame's link type has no decoder here."""


def ip_from_frame(linktype: int, data: bytes) -> bytes | None:
    """Return the IP packet inside a frame, or None when it carries something else."""
    if linktype == LINKTYPE_ETHERNET:
        pos, ethertype = 12, -1
        while pos + 2 <= len(data):
            ethertype = int.from_bytes(data[pos : pos + 2], "big")
            if ethertype not in _VLAN_TAGS:
                break
            pos += 4
        return _by_ethertype(ethertype, data[pos + 2 :])
    if linktype in _RAW_TYPES:
        return data if data and data[0] >> 4 in (4, 6) else None
    if linktype == LINKTYPE_LINUX_SLL:
        return _by_ethertype(int.from_bytes(data[14:16], "big"), data[16:]) if len(data) >= 16 else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return _by_ethertype(int.from_bytes(data[0:2], "big"), data[20:]) if len(data) >= 20 else None
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # The address family is in the capturing host's byte order (null) or big-endian (loop);
        # the IP version nibble that follows is unambiguous.
        ip = data[4:]
        return ip if ip and ip[0] >> 4 in (4, 6) else None
    raise UnsupportedLinkType(f"link type {linktype} is not supported")


def _by_ethertype(ethertype: int, payload: bytes) -> bytes | None:
    if ethertype == _ETHERTYPE_IPV4 and payload:
        return payload
    if ethertype == _ETHERTYPE_IPV6 and payload:
        return payload
    return None


@dataclass(slots=True)
class _Pending:
    first_seen: int
    pieces: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None
    header: netpkt.IpPacket | None = None


class Reassembler:
    """IPv4/IPv6 fragment reassembly keyed by (version, src, dst, proto, ident).

    ``feed`` returns the whole packet (as an :class:`~kleptolab.netpkt.IpPacket`
    with the reassembled payload) when the last missing piece arrives, else None.
    At most ``max_pending`` reassemblies are kept; the oldest is dropped with a
    warning.
    """

    def __init__(self, warnings: list[str], max_pending: int = 1024) -> None:
        self._pending: OrderedDict[tuple[int, str, str, int, int], _Pending] = OrderedDict()
        self._warnings = warnings
        self._max = max_pending

    def feed(self, ip: netpkt.IpPacket, frame_number: int) -> netpkt.IpPacket | None:
        key = (ip.version, ip.src, ip.dst, ip.proto, ip.ident)
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self._max:
                _, old = self._pending.popitem(last=False)
                self._warnings.append(
                    f"frame {old.first_seen}: IP reassembly dropped (too many pending)"
                )
            entry = self._pending[key] = _Pending(frame_number)
        entry.pieces.setdefault(ip.frag_offset, ip.payload)
        if ip.frag_offset == 0:
            entry.header = ip
        if not ip.more_fragments:
            entry.total = ip.frag_offset + len(ip.payload)
        if entry.total is None or entry.header is None:
            return None
        covered = 0
        for offset in sorted(entry.pieces):
            if offset > covered:
                return None
            covered = max(covered, offset + len(entry.pieces[offset]))
        if covered < entry.total:
            return None
        buf = bytearray(entry.total)
        for offset in sorted(entry.pieces, reverse=True):  # earliest offsets win overlaps
            piece = entry.pieces[offset][: max(0, entry.total - offset)]
            buf[offset : offset + len(piece)] = piece
        del self._pending[key]
        h = entry.header
        return netpkt.IpPacket(
            h.version, h.src, h.dst, h.proto, h.ttl, h.ident, 0, False, h.header, bytes(buf)
        )

    def finish(self) -> None:
        """Warn about every reassembly still incomplete."""
        for entry in self._pending.values():
            self._warnings.append(
                f"frame {entry.first_seen}: IP fragments never completed (missing fragments)"
            )
        self._pending.clear()


def udp_ports(segment: bytes) -> tuple[int, int, bytes] | None:
    """Fast UDP split without checksum verification: (sport, dport, payload) or None."""
    if len(segment) < 8:
        return None
    sport, dport, length, _ = struct.unpack_from(">HHHH", segment)
    if length < 8 or length > len(segment):
        return None
    return sport, dport, segment[8:length]
