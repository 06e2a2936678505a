"""IPv4/IPv6/UDP/ICMP helpers: checksums against scapy, parse ↔ build, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab import netpkt

ADDR4 = st.builds(lambda n: f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", st.integers(0, 2**24 - 1))


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 §3 example: the one's-complement sum of these words is 0xddf2
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert netpkt.internet_checksum(data) == ~0xDDF2 & 0xFFFF
    assert netpkt.internet_checksum(b"\x01") == ~0x0100 & 0xFFFF


def test_ipv4_udp_checksums_match_scapy() -> None:
    from scapy.all import IP, UDP

    packet = netpkt.build_ip_udp("192.0.2.2", 4500, "192.0.2.1", 4500, b"\xff", ident=77, ttl=9)
    ref = IP(bytes(IP(src="192.0.2.2", dst="192.0.2.1", id=77, ttl=9) / UDP(sport=4500, dport=4500) / b"\xff"))
    assert packet == bytes(ref)
    assert ref[UDP].chksum == int.from_bytes(packet[26:28], "big")


def test_ipv6_udp_checksum_matches_scapy() -> None:
    from scapy.all import UDP, IPv6

    packet = netpkt.build_ip_udp("2001:db8::1", 500, "2001:db8::2", 500, b"hello")
    ref = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=500, dport=500) / b"hello")
    assert packet == ref
    ip = netpkt.parse_ip(packet)
    udp = netpkt.parse_udp(ip.payload, ip.src, ip.dst)
    assert (ip.version, udp.sport, udp.payload) == (6, 500, b"hello")


def test_icmp_echo_matches_scapy_and_reply() -> None:
    from scapy.all import ICMP, IP

    packet = netpkt.build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 0x1234, 3, b"abcdefgh")
    ref = IP(packet)
    assert ref[ICMP].type == 8 and ref[ICMP].seq == 3
    del ref[ICMP].chksum, ref[IP].chksum
    assert bytes(ref.__class__(bytes(ref))) == packet
    reply = netpkt.parse_ipv4(netpkt.echo_reply_for(packet))
    echo = netpkt.parse_icmp_echo(reply.payload)
    assert (reply.src, reply.dst, echo.type, echo.ident, echo.seq, echo.data) == (
        "198.51.100.1", "203.0.113.1", 0, 0x1234, 3, b"abcdefgh",
    )
    with pytest.raises(netpkt.PacketError, match="not an ICMP echo request"):
        netpkt.echo_reply_for(netpkt.build_ipv4_icmp_echo("1.1.1.1", "2.2.2.2", 1, 1, b"", reply=True))


@given(ADDR4, ADDR4, st.integers(0, 65535), st.integers(0, 65535), st.binary(max_size=1500))
def test_ipv4_udp_round_trip(src: str, dst: str, sport: int, dport: int, payload: bytes) -> None:
    packet = netpkt.build_ip_udp(src, sport, dst, dport, payload)
    ip = netpkt.parse_ipv4(packet + b"\x00" * 6)  # link padding is dropped
    assert (ip.src, ip.dst, ip.proto, ip.is_fragment) == (src, dst, 17, False)
    udp = netpkt.parse_udp(ip.payload, src, dst)
    assert (udp.sport, udp.dport, udp.payload) == (sport, dport, payload)
    assert udp.checksum != 0


@given(st.binary(min_size=1, max_size=4000), st.integers(68, 1500))
def test_fragment_ipv4_pieces_cover_payload(payload: bytes, mtu: int) -> None:
    packet = netpkt.build_ipv4("192.0.2.1", "192.0.2.2", 17, payload, ident=5)
    frags = [netpkt.parse_ipv4(f) for f in netpkt.fragment_ipv4(packet, mtu)]
    assert all(len(f.header) + len(f.payload) <= mtu for f in frags) or len(frags) == 1
    assert b"".join(f.payload for f in frags) == payload
    assert [f.more_fragments for f in frags] == [True] * (len(frags) - 1) + [False]


def test_parse_errors_are_precise() -> None:
    good = netpkt.build_ip_udp("192.0.2.1", 1, "192.0.2.2", 2, b"data")
    with pytest.raises(netpkt.PacketError, match="truncated, 10 bytes"):
        netpkt.parse_ipv4(good[:10])
    with pytest.raises(netpkt.PacketError, match="total length 32 but only 30"):
        netpkt.parse_ipv4(good[:30])
    bad = bytearray(good)
    bad[8] ^= 1  # TTL changes, checksum no longer matches
    with pytest.raises(netpkt.PacketError, match="header checksum is wrong"):
        netpkt.parse_ipv4(bytes(bad))
    assert netpkt.parse_ipv4(bytes(bad), verify_checksum=False).ttl == 65
    bad = bytearray(good)
    bad[-1] ^= 1
    with pytest.raises(netpkt.PacketError, match="UDP: checksum is wrong"):
        netpkt.parse_udp(bytes(bad[20:]), "192.0.2.1", "192.0.2.2")
    with pytest.raises(netpkt.PacketError, match="version is 6, not 4"):
        netpkt.parse_ipv4(b"\x60" + bytes(39))
    with pytest.raises(netpkt.PacketError, match="IPv6: truncated"):
        netpkt.parse_ip(b"\x60" + bytes(10))
    with pytest.raises(netpkt.PacketError, match="ICMP: checksum is wrong"):
        netpkt.parse_icmp_echo(b"\x08\x00\x00\x00" + bytes(4))


def test_builder_argument_errors() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        netpkt.build_ip_udp("192.0.2.300", 1, "192.0.2.1", 1, b"")
    with pytest.raises(ValueError, match="port 70000 out of range"):
        netpkt.build_ip_udp("192.0.2.1", 70000, "192.0.2.1", 1, b"")
    with pytest.raises(ValueError, match="exceeds 65535"):
        netpkt.build_ipv4("192.0.2.1", "192.0.2.2", 17, bytes(65520))
    with pytest.raises(ValueError, match="needs IPv4 addresses"):
        netpkt.build_ipv4("::1", "192.0.2.2", 17, b"")
    with pytest.raises(ValueError, match="address families differ"):
        netpkt.build_udp("::1", 1, "192.0.2.2", 2, b"")


def test_ipv6_fragment_header_is_walked() -> None:
    inner = netpkt.build_udp("2001:db8::1", 500, "2001:db8::2", 500, b"x" * 16)
    frag_hdr = bytes([17, 0]) + (0 | 1).to_bytes(2, "big") + (0xABCD).to_bytes(4, "big")
    packet = netpkt.build_ipv6("2001:db8::1", "2001:db8::2", 44, frag_hdr + inner)
    ip = netpkt.parse_ipv6(packet)
    assert (ip.proto, ip.ident, ip.more_fragments, ip.frag_offset, ip.payload) == (
        17, 0xABCD, True, 0, inner,
    )
