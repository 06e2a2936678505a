"""IKE recognised by its content on any UDP port, NAT-T ESP on the flows it moved to, and no false alarms."""

from __future__ import annotations

import dataclasses
import struct
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
    no_ike_hint,
    read_capture,
)
from kleptolab.capture.ikedetect import strict_ike_header
from tests.conftest import CAPTURES

SHARED = sorted(
    p for p in CAPTURES.rglob("*") if p.name.endswith((".pcap", ".pcapng", ".pcapng.gz"))
)
MOVED = {500: 10500, 4500: 14500}  # the README's gateway ports


def _ike_messages() -> list[bytes]:
    out = []
    for path in SHARED:
        out += [
            p.message
            for p in classify_all(read_capture(path).datagrams)
            if isinstance(p, IkePacket)
        ]
    return out


def _moved(d: Datagram) -> Datagram:
    return dataclasses.replace(
        d, sport=MOVED.get(d.sport, d.sport), dport=MOVED.get(d.dport, d.dport)
    )


def _udp(
    payload: bytes, sport: int = 33333, dport: int = 10500, src: str = "192.0.2.1"
) -> Datagram:
    return Datagram(1, 0.0, src, sport, "192.0.2.2", dport, payload)


def _summary(packets: list[IkePacket | EspPacket]) -> list[tuple[str, bytes, bool]]:
    return [
        ("ike", p.message, p.non_esp_marker)
        if isinstance(p, IkePacket)
        else ("esp", p.data, p.udp_encapsulated)
        for p in packets
    ]


def test_every_ike_message_of_the_shared_captures_passes_the_content_check() -> None:
    messages = _ike_messages()
    assert len(messages) > 100
    assert all(strict_ike_header(m) is not None for m in messages)


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_moved_to_other_ports_the_captures_classify_the_same(path: Path) -> None:
    datagrams = read_capture(path).datagrams
    moved = [_moved(d) for d in datagrams]
    assert not any({d.sport, d.dport} & {500, 4500} for d in moved if d.proto == netpkt.PROTO_UDP)
    assert _summary(classify_all(moved)) == _summary(classify_all(datagrams))


def test_nat_t_esp_is_found_only_on_the_flow_whose_ike_moved_there() -> None:
    [ike] = [m for m in _ike_messages()[:1]]
    marker_ike = _udp(b"\0\0\0\0" + ike, 40001, 14500)
    esp = _udp(b"\x11\x22\x33\x44" + bytes(4) + bytes(range(40)), 40001, 14500)
    reply = dataclasses.replace(esp, src="192.0.2.2", sport=14500, dst="192.0.2.1", dport=40001)
    stranger = _udp(esp.payload, 40002, 14500)
    keepalive = _udp(b"\xff", 40001, 14500)
    packets = classify_all([marker_ike, esp, reply, stranger, keepalive])
    assert _summary(packets) == [
        ("ike", ike, True),
        ("esp", esp.payload, True),
        ("esp", esp.payload, True),
    ]
    assert classify(esp) is None  # alone, an ESP packet on an unknown port is nobody's


def test_a_forced_port_reads_ike_and_nat_t_whatever_the_content() -> None:
    ike = _ike_messages()[0]
    damaged = ike[:-1] + bytes([ike[-1] ^ 1])  # content check still passes: same structure
    padded = ike + b"\0\0\0\0"  # length field no longer equals the datagram: content check fails
    assert classify(_udp(padded)) is None
    found = classify(_udp(padded), ike_ports={10500})
    assert isinstance(found, IkePacket) and found.message == padded
    assert isinstance(classify(_udp(damaged)), IkePacket)
    esp = classify(_udp(b"\x11\x22\x33\x44" + bytes(20)), ike_ports={10500})
    assert isinstance(esp, EspPacket) and esp.udp_encapsulated


def _dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)


OTHER_UDP = [
    _dns_query("example.com"),
    _dns_query("ike.vpn.example.org"),
    b"<134>Dec  4 15:52:29 ssg5-lab: NetScreen device_id=0185122017000042 system-information-00536: IKE",
    b"\x1b" + bytes(47),  # NTP client request
    bytes(64),
    b"\xff" * 64,
]


@pytest.mark.parametrize("payload", OTHER_UDP)
def test_other_udp_is_not_ike(payload: bytes) -> None:
    for ports in ((53, 40000), (514, 514), (123, 123), (40000, 10500)):
        assert classify(_udp(payload, *ports)) is None
        assert classify(_udp(b"\0\0\0\0" + payload, *ports)) is None


@settings(max_examples=300, deadline=None)
@given(
    payloads=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8),
    marker=st.booleans(),
    port=st.integers(1, 65535).filter(lambda p: p not in (500, 4500)),
)
def test_random_udp_on_other_ports_never_classifies(
    payloads: list[bytes], marker: bool, port: int
) -> None:
    datagrams = [
        _udp((b"\0\0\0\0" if marker else b"") + p, 40000 + k, port) for k, p in enumerate(payloads)
    ]
    assert classify_all(datagrams) == []


def test_no_ike_hint_names_the_ports(tmp_path: Path) -> None:
    datagrams = [_udp(_dns_query("example.com"), 40000, 53), _udp(b"x" * 30, 40001, 9999)]
    hint = no_ike_hint(datagrams, classify_all(datagrams))
    assert (
        hint is not None and "2 UDP datagram(s)" in hint and "53" in hint and "--ike-port" in hint
    )
    ike = _udp(_ike_messages()[0], 40000, 10500)
    assert no_ike_hint([ike], classify_all([ike])) is None
    assert no_ike_hint([], []) is None
    with PcapWriter(tmp_path / "dns.pcap") as writer:
        writer.write_udp(1.0, "192.0.2.1", 40000, "192.0.2.2", 53, _dns_query("example.com"))
    assert "no IKE found in 1 UDP" in (
        no_ike_hint(read_capture(tmp_path / "dns.pcap").datagrams, []) or ""
    )
