"""Tiny IPv4/IPv6/UDP/ICMP build and parse helpers with correct checksums.

Used by the ESP tests, the gateway's forwarding, the lab client and the
capture reader/writer.  Parsers raise :class:`PacketError` (a ``ValueError``)
with a precise message; builders validate their arguments.  Addresses are
text (``"192.0.2.1"``, ``"2001:db8::1"``).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

PROTO_ICMP = 1
PROTO_IPV4 = 4
PROTO_UDP = 17
PROTO_IPV6 = 41
PROTO_ESP = 50
PROTO_ICMPV6 = 58

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8

# IPv4 header: ver/ihl, tos, total length, ident, flags/fragment, ttl, proto, checksum, src, dst
_IPV4 = struct.Struct(">BBHHHBBH4s4s")
# IPv6 header: ver/class/flow, payload length, next header, hop limit, src, dst
_IPV6 = struct.Struct(">IHBB16s16s")
# UDP header: source port, destination port, length, checksum
_UDP = struct.Struct(">HHHH")
# ICMP echo: type, code, checksum, identifier, sequence
_ICMP_ECHO = struct.Struct(">BBHHH")

_FLAG_DF = 0x4000
_FLAG_MF = 0x2000


class PacketError(ValueError):
    """A malformed, truncated or inconsistent packet."""


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum of ``data`` (odd length padded with a zero byte)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _addr(text: str) -> bytes:
    try:
        return ipaddress.ip_address(text).packed
    except ValueError as exc:
        raise ValueError(f"not an IP address: {text!r}") from exc


@dataclass(frozen=True, slots=True)
class IpPacket:
    """A parsed IPv4 or IPv6 packet (IPv6 extension headers before the payload are skipped).

    ``frag_offset`` is in bytes; ``ident`` is the IPv4 ident or the IPv6 fragment id.
    """

    version: int
    src: str
    dst: str
    proto: int
    ttl: int
    ident: int
    frag_offset: int
    more_fragments: bool
    header: bytes
    payload: bytes

    @property
    def is_fragment(self) -> bool:
        return self.more_fragments or self.frag_offset != 0


def parse_ipv4(data: bytes, *, verify_checksum: bool = True) -> IpPacket:
    """Parse an IPv4 packet; bytes past the total length (link padding) are dropped."""
    if len(data) < 20:
        raise PacketError(f"IPv4: truncated, {len(data)} bytes but at least 20 needed")
    vihl, _, total, ident, frag, ttl, proto, _, src, dst = _IPV4.unpack_from(data)
    if vihl >> 4 != 4:
        raise PacketError(f"IPv4: version is {vihl >> 4}, not 4")
    ihl = (vihl & 0x0F) * 4
    if ihl < 20 or total < ihl:
        raise PacketError(f"IPv4: bad header length {ihl} or total length {total}")
    if total > len(data):
        raise PacketError(f"IPv4: total length {total} but only {len(data)} bytes captured")
    header = data[:ihl]
    if verify_checksum and internet_checksum(header) != 0:
        raise PacketError("IPv4: header checksum is wrong")
    return IpPacket(
        4,
        socket.inet_ntoa(src),
        socket.inet_ntoa(dst),
        proto,
        ttl,
        ident,
        (frag & 0x1FFF) * 8,
        bool(frag & _FLAG_MF),
        header,
        data[ihl:total],
    )


_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options


def parse_ipv6(data: bytes) -> IpPacket:
    """Parse an IPv6 packet, walking hop-by-hop/routing/destination/fragment headers."""
    if len(data) < 40:
        raise PacketError(f"IPv6: truncated, {len(data)} bytes but at least 40 needed")
    vcf, plen, nh, hlim, src, dst = _IPV6.unpack_from(data)
    if vcf >> 28 != 6:
        raise PacketError(f"IPv6: version is {vcf >> 28}, not 6")
    if 40 + plen > len(data):
        raise PacketError(f"IPv6: payload length {plen} but only {len(data) - 40} bytes captured")
    end = 40 + plen
    pos, ident, offset, more = 40, 0, 0, False
    while nh in _IPV6_EXTENSIONS or nh == 44:
        if pos + 8 > end:
            raise PacketError(f"IPv6: extension header {nh} truncated")
        if nh == 44:
            nxt, _, fo, ident = struct.unpack_from(">BBHI", data, pos)
            offset, more = fo & 0xFFF8, bool(fo & 1)
            nh, pos = nxt, pos + 8
        else:
            nh, pos = data[pos], pos + (data[pos + 1] + 1) * 8
    if pos > end:
        raise PacketError("IPv6: extension headers run past the payload")
    src_t = socket.inet_ntop(socket.AF_INET6, src)
    dst_t = socket.inet_ntop(socket.AF_INET6, dst)
    return IpPacket(6, src_t, dst_t, nh, hlim, ident, offset, more, data[:pos], data[pos:end])


def parse_ip(data: bytes, *, verify_checksum: bool = True) -> IpPacket:
    """Parse an IPv4 or IPv6 packet by its version nibble."""
    if not data:
        raise PacketError("IP: empty packet")
    if data[0] >> 4 == 6:
        return parse_ipv6(data)
    return parse_ipv4(data, verify_checksum=verify_checksum)


def build_ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
    tos: int = 0,
    dont_fragment: bool = False,
    frag_offset: int = 0,
    more_fragments: bool = False,
) -> bytes:
    """Build an IPv4 packet (20-byte header, checksum filled in); ``frag_offset`` in bytes."""
    total = 20 + len(payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total} bytes exceeds 65535")
    if frag_offset % 8 or not 0 <= frag_offset < 1 << 16:
        raise ValueError(f"fragment offset {frag_offset} must be a multiple of 8 below 65536")
    frag = frag_offset // 8 | (_FLAG_DF if dont_fragment else 0) | (_FLAG_MF if more_fragments else 0)
    src_b, dst_b = _addr(src), _addr(dst)
    if len(src_b) != 4 or len(dst_b) != 4:
        raise ValueError(f"IPv4 packet needs IPv4 addresses, got {src!r} and {dst!r}")
    header = _IPV4.pack(0x45, tos, total, ident, frag, ttl, proto, 0, src_b, dst_b)
    checksum = internet_checksum(header)
    return header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload


def build_ipv6(src: str, dst: str, next_header: int, payload: bytes, *, hop_limit: int = 64) -> bytes:
    """Build an IPv6 packet with no extension headers."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"IPv6 payload of {len(payload)} bytes exceeds 65535")
    src_b, dst_b = _addr(src), _addr(dst)
    if len(src_b) != 16 or len(dst_b) != 16:
        raise ValueError(f"IPv6 packet needs IPv6 addresses, got {src!r} and {dst!r}")
    return _IPV6.pack(6 << 28, len(payload), next_header, hop_limit, src_b, dst_b) + payload


def _pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    src_b, dst_b = _addr(src), _addr(dst)
    if len(src_b) != len(dst_b):
        raise ValueError(f"address families differ: {src!r} and {dst!r}")
    if len(src_b) == 4:
        return src_b + dst_b + struct.pack(">BBH", 0, proto, length)
    return src_b + dst_b + struct.pack(">IxxxB", length, proto)


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """A parsed UDP datagram; ``checksum`` 0 means the sender sent none (IPv4 only)."""

    sport: int
    dport: int
    checksum: int
    payload: bytes


def build_udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    """Build a UDP header and payload; the checksum covers the pseudo-header of ``src``/``dst``."""
    for port in (sport, dport):
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"UDP port {port} out of range")
    length = 8 + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"UDP datagram of {length} bytes exceeds 65535")
    segment = _UDP.pack(sport, dport, length, 0) + payload
    checksum = internet_checksum(_pseudo_header(src, dst, PROTO_UDP, length) + segment) or 0xFFFF
    return segment[:6] + checksum.to_bytes(2, "big") + segment[8:]


def parse_udp(segment: bytes, src: str | None = None, dst: str | None = None) -> UdpDatagram:
    """Parse a UDP segment; with ``src``/``dst`` a non-zero checksum is verified."""
    if len(segment) < 8:
        raise PacketError(f"UDP: truncated, {len(segment)} bytes but 8 needed")
    sport, dport, length, checksum = _UDP.unpack_from(segment)
    if length < 8 or length > len(segment):
        raise PacketError(f"UDP: length field {length} but {len(segment)} bytes present")
    if src is not None and dst is not None and checksum != 0:
        pseudo = _pseudo_header(src, dst, PROTO_UDP, length)
        if internet_checksum(pseudo + segment[:length]) != 0:
            raise PacketError("UDP: checksum is wrong")
    return UdpDatagram(sport, dport, checksum, segment[8:length])


def build_ip_udp(
    src: str, sport: int, dst: str, dport: int, payload: bytes, *, ident: int = 0, ttl: int = 64
) -> bytes:
    """Build IPv4+UDP or IPv6+UDP (by the address family) with both checksums correct."""
    udp = build_udp(src, sport, dst, dport, payload)
    if ":" in src:
        return build_ipv6(src, dst, PROTO_UDP, udp, hop_limit=ttl)
    return build_ipv4(src, dst, PROTO_UDP, udp, ident=ident, ttl=ttl)


@dataclass(frozen=True, slots=True)
class IcmpEcho:
    """An ICMP echo request (type 8) or reply (type 0)."""

    type: int
    code: int
    ident: int
    seq: int
    data: bytes

    @property
    def is_request(self) -> bool:
        return self.type == ICMP_ECHO_REQUEST


def build_icmp_echo(ident: int, seq: int, data: bytes, *, reply: bool = False) -> bytes:
    """Build an ICMPv4 echo request (or reply) message with its checksum."""
    msg = _ICMP_ECHO.pack(ICMP_ECHO_REPLY if reply else ICMP_ECHO_REQUEST, 0, 0, ident, seq) + data
    return msg[:2] + internet_checksum(msg).to_bytes(2, "big") + msg[4:]


def parse_icmp_echo(message: bytes) -> IcmpEcho:
    """Parse an ICMPv4 echo request/reply, verifying its checksum."""
    if len(message) < 8:
        raise PacketError(f"ICMP: truncated, {len(message)} bytes but 8 needed")
    if internet_checksum(message) != 0:
        raise PacketError("ICMP: checksum is wrong")
    icmp_type, code, _, ident, seq = _ICMP_ECHO.unpack_from(message)
    if icmp_type not in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
        raise PacketError(f"ICMP: type {icmp_type} is not an echo request or reply")
    return IcmpEcho(icmp_type, code, ident, seq, message[8:])


def build_ipv4_icmp_echo(
    src: str, dst: str, ident: int, seq: int, data: bytes, *, reply: bool = False, ttl: int = 64
) -> bytes:
    """Build a complete IPv4 ICMP echo packet (what the lab client pings with)."""
    icmp = build_icmp_echo(ident, seq, data, reply=reply)
    return build_ipv4(src, dst, PROTO_ICMP, icmp, ident=seq & 0xFFFF, ttl=ttl)


def echo_reply_for(packet: bytes) -> bytes:
    """Answer an IPv4 ICMP echo request packet with the matching reply packet."""
    ip = parse_ipv4(packet)
    if ip.proto != PROTO_ICMP:
        raise PacketError(f"not ICMP: IP protocol {ip.proto}")
    echo = parse_icmp_echo(ip.payload)
    if not echo.is_request:
        raise PacketError("not an ICMP echo request")
    return build_ipv4_icmp_echo(ip.dst, ip.src, echo.ident, echo.seq, echo.data, reply=True)


def fragment_ipv4(packet: bytes, mtu: int) -> list[bytes]:
    """Split an IPv4 packet (20-byte header) into fragments of at most ``mtu`` bytes."""
    ip = parse_ipv4(packet)
    if len(ip.header) != 20:
        raise ValueError("fragment_ipv4 handles only packets without IP options")
    chunk = (mtu - 20) // 8 * 8
    if chunk <= 0:
        raise ValueError(f"MTU {mtu} leaves no room for fragment data")
    if len(packet) <= mtu:
        return [packet]
    parts = []
    data = ip.payload
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        parts.append(
            build_ipv4(
                ip.src, ip.dst, ip.proto, piece, ident=ip.ident, ttl=ip.ttl,
                frag_offset=ip.frag_offset + start,
                more_fragments=start + chunk < len(data) or ip.more_fragments,
            )
        )
    return parts
