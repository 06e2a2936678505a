"""Capture reader/writer: shared captures against scapy, synthetic link types, damage, writer."""

from __future__ import annotations

import gc
import gzip
import io
import json
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab import netpkt
from kleptolab.capture import (
    Datagram,
    EspPacket,
    IkePacket,
    PcapWriter,
    classify,
    classify_all,
    group_esp_sas,
    group_ike_sas,
    iter_capture,
    read_capture,
    summarize,
)
from kleptolab.capture.pcapio import iter_frames
from tests.conftest import CAPTURES, require_tool

SHARED_CAPTURES = sorted(
    p
    for p in CAPTURES.rglob("*")
    if p.name.endswith((".pcap", ".pcapng", ".pcapng.gz", ".pcap.gz"))
)
STRONGSWAN = sorted((CAPTURES / "strongswan-5.9.8").glob("*/*.pcap"))
ESP_BUG = CAPTURES / "wireshark-4.0.17" / "esp-bug-12671.pcapng.gz"

IKE_HEADER = bytes(range(1, 9)) + bytes(8) + bytes([33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 28])


# --- capture builders (independent of the code under test) ------------------------------


def pcap_bytes(
    frames: list[tuple[float, bytes]], linktype: int, order: str = "<", nanos: bool = False
) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    scale = 10**9 if nanos else 10**6
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for ts, data in frames:
        ticks = round(ts * scale)
        out.append(struct.pack(order + "IIII", ticks // scale, ticks % scale, len(data), len(data)))
        out.append(data)
    return b"".join(out)


def block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def shb(order: str) -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, linktype: int, tsresol: int | None = None, tsoffset: int = 0) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    if tsoffset:
        opts += option(order, 14, struct.pack(order + "q", tsoffset))
    if opts:
        opts += struct.pack(order + "HH", 0, 0)
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts)


def epb(order: str, iface: int, ticks: int, data: bytes) -> bytes:
    head = struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
    return block(order, 6, head + data)


def udp_ip(src: str, sport: int, dst: str, dport: int, payload: bytes, ident: int = 7) -> bytes:
    return netpkt.build_ip_udp(src, sport, dst, dport, payload, ident=ident)


def read_bytes(data: bytes) -> tuple[list[Datagram], list[str]]:
    capture = read_capture(io.BytesIO(data))
    return capture.datagrams, capture.warnings


# --- shared captures, scapy as the oracle ------------------------------------------------


def scapy_datagrams(path: Path) -> list[tuple[str, int, str, int, bytes, float]]:
    from scapy.all import ESP, IP, UDP, IPv6, rdpcap

    out = []
    for pkt in rdpcap(str(path)):
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if ip is None or (ip.version == 4 and ip.frag != 0):
            continue
        if UDP in pkt:
            u = pkt[UDP]
            out.append((ip.src, u.sport, ip.dst, u.dport, bytes(u.payload), float(pkt.time)))
        elif ESP in pkt:
            out.append((ip.src, 0, ip.dst, 0, bytes(pkt[ESP]), float(pkt.time)))
    return out


def test_shared_captures_found() -> None:
    assert len(SHARED_CAPTURES) >= 17
    assert len(STRONGSWAN) == 5


@pytest.mark.parametrize("path", SHARED_CAPTURES, ids=lambda p: p.name)
def test_shared_capture_matches_scapy(path: Path) -> None:
    capture = read_capture(path)
    assert capture.warnings == []
    expected = scapy_datagrams(path)
    assert len(capture.datagrams) == len(expected) > 0
    for d, (src, sport, dst, dport, payload, ts) in zip(capture.datagrams, expected, strict=True):
        assert (d.src, d.sport, d.dst, d.dport, d.payload) == (src, sport, dst, dport, payload)
        assert d.timestamp == pytest.approx(ts, abs=1e-6)


@pytest.mark.parametrize("path", STRONGSWAN, ids=lambda p: p.parent.name)
def test_strongswan_classification_and_groups(path: Path) -> None:
    keys = json.loads((path.parent / "keys.json").read_text())
    packets = classify_all(read_capture(path).datagrams)
    ike = [p for p in packets if isinstance(p, IkePacket)]
    esp = [p for p in packets if isinstance(p, EspPacket)]
    assert all(p.version == keys["ike_version"] for p in ike)
    groups = group_ike_sas(packets)
    assert list(groups) == [(bytes.fromhex(keys["ike_spi_i"]), bytes.fromhex(keys["ike_spi_r"]))]
    assert sum(len(g) for g in groups.values()) == len(ike)
    expected_esp = {
        (int(sa["spi"], 16).to_bytes(4, "big"), sa["src"], sa["dst"])
        for sa in keys["esp_sas"].values()
    }
    esp_groups = group_esp_sas(packets)
    if "noesp" in path.name:
        assert esp == [] and esp_groups == {}
    else:
        assert set(esp_groups) == expected_esp
        assert len(esp) == 6 and all(p.udp_encapsulated for p in esp)
        assert [p.seq for p in esp_groups[next(iter(esp_groups))]] == [1, 2, 3]
        # IKE after the port float carried the non-ESP marker, and it was stripped
        assert any(p.non_esp_marker for p in ike)
        assert all(p.message[:8] == p.spi_i for p in ike)


def test_esp_bug_capture_is_raw_esp() -> None:
    packets = classify_all(read_capture(ESP_BUG).datagrams)
    assert len(packets) == 6
    assert all(isinstance(p, EspPacket) and not p.udp_encapsulated for p in packets)
    assert {(k[0].hex(), k[1], k[2]) for k in group_esp_sas(packets)} == {
        ("070883c2", "192.168.0.1", "192.168.0.100"),
        ("c254fe64", "192.168.0.100", "192.168.0.1"),
    }


def test_summarize_counts() -> None:
    summary = summarize(read_capture(STRONGSWAN[0]))
    assert (summary.ike, summary.esp, summary.other) == (9, 6, 0)


# --- not a capture, damaged captures -----------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\xd4\xc3", b"hello world, this is not a capture", bytes(64), b"\x1f\x8b" + bytes(30)],
)
def test_not_a_capture(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a pcap or pcapng file"):
        read_capture(io.BytesIO(data))


def test_gzip_of_non_capture_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a pcap or pcapng file"):
        read_capture(io.BytesIO(gzip.compress(b"06:25:01 charon log line\n" * 4)))


def _prefixes_ok(data: bytes, full: list[Datagram]) -> None:
    for cut in range(len(data)):
        try:
            got, warnings = read_bytes(data[:cut])
        except ValueError as exc:
            assert "not a pcap or pcapng file" in str(exc)
            assert cut < 8
            continue
        assert got == full[: len(got)], cut
        if len(got) < len(full) and cut > 24:
            assert warnings or cut in _record_boundaries(data), cut


_BOUNDARIES: dict[bytes, set[int]] = {}


def _record_boundaries(data: bytes) -> set[int]:
    """Offsets where a cut leaves only whole records (a clean, shorter file)."""
    if data not in _BOUNDARIES:
        cuts = set()
        for cut in range(len(data)):
            warnings: list[str] = []
            list(iter_frames(io.BytesIO(data[:cut]), warnings)) if cut >= 8 else None
            if cut >= 8 and not warnings:
                cuts.add(cut)
        _BOUNDARIES[data] = cuts
    return _BOUNDARIES[data]


def test_truncated_pcap_yields_prefix_and_warns() -> None:
    data = STRONGSWAN[0].read_bytes()
    full = read_capture(STRONGSWAN[0]).datagrams
    _prefixes_ok(data, full)
    got, warnings = read_bytes(data[: len(data) - 10])
    assert len(got) == len(full) - 1
    assert any("truncated" in w and "frame 15" in w for w in warnings)


def test_truncated_pcapng_yields_prefix_and_warns() -> None:
    data = gzip.decompress(ESP_BUG.read_bytes())
    full = read_capture(ESP_BUG).datagrams
    _prefixes_ok(data, full)


def test_truncated_gzip_warns() -> None:
    data = ESP_BUG.read_bytes()
    got, warnings = read_bytes(data[: len(data) * 2 // 3])
    assert 0 < len(got) < 6
    assert any("truncated" in w for w in warnings)


def test_corrupt_record_length_stops_with_warning() -> None:
    data = bytearray(STRONGSWAN[0].read_bytes())
    first_len = struct.unpack_from("<I", data, 24 + 8)[0]
    second = 24 + 16 + first_len
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    got, warnings = read_bytes(bytes(data))
    assert len(got) == 1
    assert any("corrupt record header" in w and "frame 2" in w for w in warnings)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 400))
def test_garbage_after_header_never_crashes(tail: bytes, cut: int) -> None:
    for base in (pcap_bytes([], 1), shb("<") + idb("<", 1)):
        data = base + tail
        capture = read_capture(io.BytesIO(data[: len(base) + cut]))
        assert isinstance(capture.warnings, list)


# --- synthetic link types, byte orders, resolutions --------------------------------------

PAYLOAD = b"\x00\x00\x00\x00" + IKE_HEADER
IP4 = udp_ip("192.0.2.2", 4500, "192.0.2.1", 4500, PAYLOAD)
IP6 = udp_ip("2001:db8::2", 500, "2001:db8::1", 500, IKE_HEADER)
ESP_RAW = netpkt.build_ipv4("192.0.2.1", "192.0.2.2", 50, b"\x01\x02\x03\x04\x00\x00\x00\x05" + bytes(24))


def _framed(linktype: int, ip: bytes) -> bytes:
    v6 = ip[0] >> 4 == 6
    etype = b"\x86\xdd" if v6 else b"\x08\x00"
    if linktype == 1:
        return bytes(12) + b"\x81\x00\x00\x05" + etype + ip
    if linktype == 113:
        return b"\x00\x04\x00\x01\x00\x06" + bytes(8) + etype + ip
    if linktype == 276:
        return etype + bytes(2) + b"\x00\x00\x00\x02\x00\x01\x04\x06" + bytes(8) + ip
    if linktype == 0:
        return struct.pack("<I", 30 if v6 else 2) + ip
    if linktype == 108:
        return struct.pack(">I", 24 if v6 else 2) + ip
    return ip


@pytest.mark.parametrize("linktype", [0, 1, 101, 108, 113, 228, 276])
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_link_types_orders_resolutions(linktype: int, order: str, nanos: bool) -> None:
    packets = [IP4, ESP_RAW] + ([] if linktype == 228 else [IP6])
    frames = [(1_700_000_000.25 + i * 0.000123, _framed(linktype, p)) for i, p in enumerate(packets)]
    got, warnings = read_bytes(pcap_bytes(frames, linktype, order, nanos))
    assert warnings == []
    assert [(d.index, d.src, d.sport, d.dst, d.dport, d.proto) for d in got] == [
        (1, "192.0.2.2", 4500, "192.0.2.1", 4500, 17),
        (2, "192.0.2.1", 0, "192.0.2.2", 0, 50),
        *([] if linktype == 228 else [(3, "2001:db8::2", 500, "2001:db8::1", 500, 17)]),
    ]
    assert got[1].timestamp == pytest.approx(1_700_000_000.250123, abs=2e-7)
    assert isinstance(classify(got[0]), IkePacket)
    esp = classify(got[1])
    assert isinstance(esp, EspPacket) and esp.spi == b"\x01\x02\x03\x04" and esp.seq == 5


def test_double_vlan_tag() -> None:
    frame = bytes(12) + b"\x88\xa8\x00\x07\x81\x00\x00\x05\x08\x00" + IP4
    got, _ = read_bytes(pcap_bytes([(1.0, frame)], 1))
    assert len(got) == 1 and got[0].payload == PAYLOAD


def test_unsupported_link_type_warns_once() -> None:
    got, warnings = read_bytes(pcap_bytes([(1.0, IP4), (2.0, IP4)], 147))
    assert got == [] and len(warnings) == 1 and "link type 147" in warnings[0]


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_interfaces_sections_resolutions(order: str) -> None:
    other = ">" if order == "<" else "<"
    data = b"".join(
        [
            shb(order),
            idb(order, 1),  # default µs
            idb(order, 101, tsresol=9, tsoffset=100),  # ns, offset
            block(order, 4, b"\x00" * 8),  # name resolution block: skipped
            epb(order, 0, 1_500_000_000_000_000, _framed(1, IP4)),
            epb(order, 1, 2_000_000_000_500_000_000, ESP_RAW),
            block(order, 3, struct.pack(order + "I", len(_framed(1, IP4))) + _framed(1, IP4)),  # SPB, iface 0
            shb(other),  # a new section in the other byte order resets interfaces
            idb(other, 113, tsresol=0x80 | 20),  # 2^-20 s units
            epb(other, 0, 3 << 20, _framed(113, IP6)),
        ]
    )
    got, warnings = read_bytes(data)
    assert warnings == []
    assert [d.index for d in got] == [1, 2, 3, 4]
    assert [d.proto for d in got] == [17, 50, 17, 17]
    assert got[0].timestamp == pytest.approx(1_500_000_000.0)
    assert got[1].timestamp == pytest.approx(2_000_000_100.5)
    assert got[2].timestamp == 0.0
    assert got[3].timestamp == pytest.approx(3.0) and got[3].src == "2001:db8::2"


def test_pcapng_unknown_interface_is_skipped_with_warning() -> None:
    data = shb("<") + idb("<", 101) + epb("<", 3, 0, IP4) + epb("<", 0, 0, IP4)
    got, warnings = read_bytes(data)
    assert [d.index for d in got] == [2]
    assert any("frame 1" in w for w in warnings)


# --- IP fragment reassembly ---------------------------------------------------------------

BIG = bytes(4) + IKE_HEADER + bytes(range(256)) * 12  # a 3000+-byte IKE message (CERT-like)


def test_fragmented_ike_is_reassembled_out_of_order() -> None:
    packet = udp_ip("192.0.2.2", 4500, "192.0.2.1", 4500, BIG, ident=0x1234)
    frags = netpkt.fragment_ipv4(packet, 1500)
    assert len(frags) == 3
    order = [frags[2], udp_ip("192.0.2.9", 1, "192.0.2.8", 2, b"x"), frags[0], frags[1]]
    got, warnings = read_bytes(pcap_bytes([(float(i), f) for i, f in enumerate(order)], 101))
    assert warnings == []
    assert [d.index for d in got] == [2, 4]
    assert got[1].payload == BIG and got[1].timestamp == 3.0
    ike = classify(got[1])
    assert isinstance(ike, IkePacket) and ike.message == BIG[4:]


def test_fragments_interleaved_by_ident_and_incomplete_warned() -> None:
    a = netpkt.fragment_ipv4(udp_ip("192.0.2.2", 500, "192.0.2.1", 500, BIG[4:], ident=1), 600)
    b = netpkt.fragment_ipv4(udp_ip("192.0.2.2", 500, "192.0.2.1", 500, BIG[4:], ident=2), 600)
    frames = [x for pair in zip(a, b, strict=True) for x in pair][:-1]  # last piece of b lost
    got, warnings = read_bytes(pcap_bytes([(0.0, f) for f in frames], 228))
    assert len(got) == 1 and got[0].payload == BIG[4:]
    assert len(warnings) == 1 and "never completed" in warnings[0]


# --- classify and groups -------------------------------------------------------------------


def _dg(sport: int, dport: int, payload: bytes, proto: int = 17) -> Datagram:
    return Datagram(1, 0.0, "10.0.0.1", sport, "10.0.0.2", dport, payload, proto)


def test_classify_cases() -> None:
    assert classify(_dg(4500, 4500, b"\xff")) is None  # NAT keepalive
    ike = classify(_dg(4500, 4500, b"\x00" * 4 + IKE_HEADER))
    assert isinstance(ike, IkePacket) and ike.non_esp_marker and ike.message == IKE_HEADER
    esp = classify(_dg(4500, 61234, b"\xaa\xbb\xcc\xdd" + bytes(20)))
    assert isinstance(esp, EspPacket) and esp.udp_encapsulated and esp.spi == b"\xaa\xbb\xcc\xdd"
    assert classify(_dg(4500, 4500, b"\x01\x02\x03")) is None  # too short for ESP
    plain = classify(_dg(500, 500, IKE_HEADER))
    assert isinstance(plain, IkePacket) and not plain.non_esp_marker and plain.version == 2
    assert classify(_dg(500, 500, IKE_HEADER[:20])) is None  # truncated header
    assert classify(_dg(53, 53, IKE_HEADER)) is None
    assert classify(_dg(0, 0, bytes(4) + bytes(8), proto=50)) is None  # SPI 0 is reserved
    assert isinstance(classify(_dg(0, 0, b"\x00\x00\x01\x00" + bytes(8), proto=50)), EspPacket)


def test_group_ike_sas_attaches_zero_spir_messages() -> None:
    def ike(spi_i: bytes, spi_r: bytes) -> IkePacket:
        p = classify(_dg(500, 500, spi_i + spi_r + IKE_HEADER[16:]))
        assert isinstance(p, IkePacket)
        return p

    a, b, z = b"A" * 8, b"B" * 8, bytes(8)
    seq = [ike(a, z), ike(b, z), ike(a, b"r" * 8), ike(a, z), ike(a, b"r" * 8), ike(b"C" * 8, z)]
    groups = group_ike_sas(seq)
    assert list(groups) == [(a, b"r" * 8), (b, z), (b"C" * 8, z)]
    assert groups[(a, b"r" * 8)] == [seq[0], seq[2], seq[3], seq[4]]


def test_iter_capture_streams_with_warnings() -> None:
    warnings: list[str] = []
    data = STRONGSWAN[0].read_bytes()[:-5]
    it = iter_capture(io.BytesIO(data), warnings)
    first = next(it)
    assert first.index == 1 and warnings == []
    rest = list(it)
    assert len(rest) == 13 and warnings


# --- writer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("linktype", [0, 1, 101, 108, 228])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_writer_round_trip(tmp_path: Path, linktype: int, nanoseconds: bool) -> None:
    path = tmp_path / "out.pcap"
    items = [
        (1_700_000_000.123456, "192.0.2.2", 500, "192.0.2.1", 500, IKE_HEADER),
        (1_700_000_000.5, "192.0.2.1", 4500, "192.0.2.2", 4500, b"\xff"),
        (1_700_000_001.000001, "10.1.2.3", 40000, "10.3.2.1", 4500, bytes(5000)),
    ]
    with PcapWriter(path, linktype=linktype, nanoseconds=nanoseconds) as w:
        for item in items:
            w.write_udp(*item)
        w.write_ip(1_700_000_002.0, ESP_RAW)
    capture = read_capture(path)
    assert capture.warnings == []
    got = [(d.timestamp, d.src, d.sport, d.dst, d.dport, d.payload) for d in capture.datagrams]
    assert got[:3] == [(pytest.approx(i[0], abs=1e-7), *i[1:]) for i in items]
    assert capture.datagrams[3].proto == 50
    # the synthesised headers carry valid checksums
    frames = list(iter_frames(path, []))
    for frame in frames[:3]:
        ip = netpkt.parse_ip(frame.data[{0: 4, 1: 14, 108: 4}.get(linktype, 0) :])
        netpkt.parse_udp(ip.payload, ip.src, ip.dst)


def test_writer_ipv6_and_file_object() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write_udp(5.0, "2001:db8::1", 500, "2001:db8::2", 500, IKE_HEADER)
    w.close()
    got, _ = read_bytes(buf.getvalue())
    assert got[0].src == "2001:db8::1" and got[0].payload == IKE_HEADER


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="link types"):
        PcapWriter(tmp_path / "x.pcap", linktype=147)
    with PcapWriter(tmp_path / "y.pcap") as w, pytest.raises(ValueError, match="IPv4 or IPv6"):
        w.write_ip(0.0, b"\x00\x01")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32 - 1),
            st.integers(0, 999_999),
            st.integers(1, 65535),
            st.integers(1, 65535),
            st.binary(max_size=2000),
        ),
        max_size=8,
    )
)
def test_writer_reader_round_trip_property(items: list[tuple[int, int, int, int, bytes]]) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=228)
    for sec, usec, sport, dport, payload in items:
        w.write_udp(sec + usec / 1e6, "198.51.100.7", sport, "203.0.113.9", dport, payload)
    got, warnings = read_bytes(buf.getvalue())
    assert warnings == []
    assert [(round(d.timestamp * 1e6), d.sport, d.dport, d.payload) for d in got] == [
        (sec * 10**6 + usec, sport, dport, payload) for sec, usec, sport, dport, payload in items
    ]


def test_scapy_reads_writer_output(tmp_path: Path) -> None:
    from scapy.all import UDP, rdpcap

    path = tmp_path / "w.pcap"
    with PcapWriter(path, linktype=1) as w:
        w.write_udp(10.0, "192.0.2.2", 4500, "192.0.2.1", 4500, b"\x00" * 4 + IKE_HEADER)
    pkt = rdpcap(str(path))[0]
    assert bytes(pkt[UDP].payload) == b"\x00" * 4 + IKE_HEADER
    original = pkt[UDP].chksum
    del pkt[UDP].chksum
    assert pkt.__class__(bytes(pkt))[UDP].chksum == original


def test_tshark_reads_writer_output(tmp_path: Path) -> None:
    tshark = require_tool("tshark")
    path = tmp_path / "w.pcap"
    with PcapWriter(path, linktype=228) as w:
        w.write_udp(10.0, "192.0.2.2", 500, "192.0.2.1", 500, IKE_HEADER)
        w.write_udp(11.0, "192.0.2.1", 4500, "192.0.2.2", 4500, b"\xff")
    out = subprocess.run(
        [tshark, "-r", str(path), "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-T", "fields", "-e", "udp.srcport", "-e", "ip.checksum.status", "-e", "udp.checksum.status",
         "-e", "isakmp.ispi"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split("\n")
    assert out[0].split("\t") == ["500", "1", "1", "0102030405060708"]
    assert out[1].split("\t")[:3] == ["4500", "1", "1"]


def test_caller_file_object_stays_open() -> None:
    buf = io.BytesIO(STRONGSWAN[0].read_bytes())
    assert len(read_capture(buf).datagrams) == 15
    gc.collect()
    assert not buf.closed


def test_ipv6_fragments_are_reassembled() -> None:
    src, dst = "2001:db8::2", "2001:db8::1"
    udp = netpkt.build_udp(src, 500, dst, 500, BIG[4:])
    cut = 1232  # a multiple of 8

    def frag(offset: int, more: bool, piece: bytes) -> bytes:
        header = bytes([17, 0]) + (offset | more).to_bytes(2, "big") + (0xBEEF).to_bytes(4, "big")
        return netpkt.build_ipv6(src, dst, 44, header + piece)

    frames = [frag(cut, True, udp[cut : 2 * cut]), frag(0, True, udp[:cut]), frag(2 * cut, False, udp[2 * cut :])]
    got, warnings = read_bytes(pcap_bytes([(0.0, f) for f in frames], 101))
    assert warnings == []
    assert [(d.index, d.src, d.sport, d.payload) for d in got] == [(3, src, 500, BIG[4:])]
