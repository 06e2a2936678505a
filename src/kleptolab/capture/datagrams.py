"""Read IKE and ESP traffic out of a capture file.

``read_capture`` / ``iter_capture`` turn a pcap or pcapng file (gzip welcome)
into :class:`Datagram` s: UDP datagrams plus raw ESP (IP protocol 50, ports
0), with IP fragments reassembled.  ``classify`` says what a datagram is
(IKE on 500, IKE or UDP-encapsulated ESP on 4500, raw ESP, and IKE recognised
by its content on any other port, with its NAT-T ESP); the group helpers
sort IKE messages by SA and ESP packets by (SPI, src, dst).

A damaged file yields everything readable plus warnings; only a file that is
not a capture at all raises ``ValueError("not a pcap or pcapng file ...")``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from kleptolab import netpkt
from kleptolab.capture.ikedetect import strict_ike_header
from kleptolab.capture.linklayer import Reassembler, UnsupportedLinkType, ip_from_frame, udp_ports
from kleptolab.capture.pcapio import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_RAW,
    PcapWriter,
    iter_frames,
)
from kleptolab.esp.packet import IKE_PORT, NAT_T_PORT, NON_ESP_MARKER, NatTKind, demux_nat_t
from kleptolab.ike.wire import IkeHeader, WireError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_RAW",
    "Capture",
    "Datagram",
    "EspPacket",
    "IkePacket",
    "PcapWriter",
    "classify",
    "classify_all",
    "flow_of",
    "group_esp_sas",
    "group_ike_sas",
    "iter_capture",
    "natt_flows",
    "no_ike_hint",
    "read_capture",
]

MAX_WARNINGS = 200
"""Warnings kept per capture; the rest are counted in one final line."""

Source = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram (or raw ESP packet, ``proto`` 50 with ports 0) from a capture.

    ``index`` is the frame number (from 1, as in Wireshark) of the frame that
    completed it; ``payload`` is the UDP payload (or the whole ESP packet).
    """

    index: int
    timestamp: float
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    proto: int = netpkt.PROTO_UDP


@dataclass(frozen=True, slots=True)
class Capture:
    """Everything read from one file."""

    datagrams: list[Datagram]
    warnings: list[str]
    frame_count: int = 0


class _Warnings(list[str]):
    """A warnings list that stops growing after MAX_WARNINGS entries."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink
        self.dropped = 0

    def append(self, item: str) -> None:
        if len(self.sink) < MAX_WARNINGS:
            self.sink.append(item)
        else:
            self.dropped += 1

    def close(self) -> None:
        if self.dropped:
            self.sink.append(f"{self.dropped} more warnings not shown")


def iter_capture(source: Source, warnings: list[str] | None = None) -> Iterator[Datagram]:
    """Stream the datagrams of a capture; problems are appended to ``warnings``."""
    return _iter_capture(source, warnings if warnings is not None else [], [0])


def _iter_capture(source: Source, warnings: list[str], frames: list[int]) -> Iterator[Datagram]:
    sink = _Warnings(warnings)
    reassembler = Reassembler(sink)
    bad_links: set[int] = set()
    try:
        for frame in iter_frames(source, sink):
            frames[0] = frame.number
            try:
                raw_ip = ip_from_frame(frame.linktype, frame.data)
            except UnsupportedLinkType as exc:
                if frame.linktype not in bad_links:
                    bad_links.add(frame.linktype)
                    sink.append(f"frame {frame.number}: {exc}; such frames are skipped")
                continue
            if raw_ip is None:
                continue
            try:
                ip = netpkt.parse_ip(raw_ip, verify_checksum=False)
            except netpkt.PacketError as exc:
                if frame.orig_len > len(frame.data):
                    sink.append(f"frame {frame.number}: cut short by the snap length; skipped")
                else:
                    sink.append(f"frame {frame.number}: {exc}; skipped")
                continue
            if ip.proto not in (netpkt.PROTO_UDP, netpkt.PROTO_ESP):
                continue
            if ip.is_fragment:
                whole = reassembler.feed(ip, frame.number)
                if whole is None:
                    continue
                ip = whole
            datagram = _datagram(ip, frame.number, frame.timestamp, sink)
            if datagram is not None:
                yield datagram
        reassembler.finish()
    finally:
        sink.close()


def _datagram(ip: netpkt.IpPacket, number: int, ts: float, sink: list[str]) -> Datagram | None:
    if ip.proto == netpkt.PROTO_ESP:
        return Datagram(number, ts, ip.src, 0, ip.dst, 0, ip.payload, netpkt.PROTO_ESP)
    parts = udp_ports(ip.payload)
    if parts is None:
        sink.append(f"frame {number}: malformed UDP header; skipped")
        return None
    sport, dport, payload = parts
    return Datagram(number, ts, ip.src, sport, ip.dst, dport, payload, netpkt.PROTO_UDP)


def read_capture(source: Source) -> Capture:
    """Read a whole capture into memory (see :func:`iter_capture`)."""
    warnings: list[str] = []
    frames = [0]
    datagrams = list(_iter_capture(source, warnings, frames))
    return Capture(datagrams, warnings, frames[0])


# --- classification --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IkePacket:
    """An IKE message (non-ESP marker removed) and where it came from."""

    datagram: Datagram
    message: bytes
    header: IkeHeader
    non_esp_marker: bool

    @property
    def spi_i(self) -> bytes:
        return self.header.spi_i

    @property
    def spi_r(self) -> bytes:
        return self.header.spi_r

    @property
    def version(self) -> int:
        return self.header.major_version

    @property
    def timestamp(self) -> float:
        return self.datagram.timestamp


@dataclass(frozen=True, slots=True)
class EspPacket:
    """An ESP packet (from the SPI to the ICV) and where it came from."""

    datagram: Datagram
    data: bytes
    udp_encapsulated: bool

    @property
    def spi(self) -> bytes:
        return self.data[:4]

    @property
    def seq(self) -> int:
        return int.from_bytes(self.data[4:8], "big")

    @property
    def timestamp(self) -> float:
        return self.datagram.timestamp


def _ike(d: Datagram, message: bytes, marker: bool) -> IkePacket | None:
    try:
        header = IkeHeader.parse(message)
    except WireError:
        return None
    if header.major_version not in (1, 2):
        return None
    return IkePacket(d, message, header, marker)


Endpoint = tuple[str, int]
Flow = frozenset[Endpoint]
"""An unordered pair of UDP endpoints."""


def flow_of(d: Datagram) -> Flow:
    """The unordered endpoint pair of ``d`` (both directions of one UDP flow)."""
    return frozenset({(d.src, d.sport), (d.dst, d.dport)})


def _by_content(d: Datagram, natt_flows: Collection[Flow]) -> IkePacket | EspPacket | None:
    """IKE proven by its content (with or without the non-ESP marker), or ESP on a learned NAT-T flow."""
    payload = d.payload
    if payload[:4] == NON_ESP_MARKER:
        header = strict_ike_header(payload[4:])
        return IkePacket(d, payload[4:], header, True) if header is not None else None
    header = strict_ike_header(payload)
    if header is not None:
        return IkePacket(d, payload, header, False)
    if natt_flows and flow_of(d) in natt_flows:
        kind, body = demux_nat_t(payload)
        if kind is NatTKind.ESP and body[:4] != NON_ESP_MARKER:
            return EspPacket(d, body, True)
    return None


def classify(
    d: Datagram, ike_ports: Collection[int] = (), natt_flows: Collection[Flow] = ()
) -> IkePacket | EspPacket | None:
    """Say what ``d`` is; None for NAT keepalives, other traffic and malformed packets.

    UDP 4500 carries IKE after the non-ESP marker and ESP without it (RFC 3948);
    UDP 500 and every port in ``ike_ports`` carry IKE (a forced port also takes
    the NAT-T framing).  On any other port only a datagram that is IKE by its
    content counts (:func:`~kleptolab.capture.ikedetect.strict_ike_header`),
    or ESP on a flow in ``natt_flows`` — flows seen carrying IKE after the
    non-ESP marker, i.e. NAT-T moved to a port other than 4500
    (:func:`classify_all` learns them).
    """
    if d.proto == netpkt.PROTO_ESP:
        if len(d.payload) < 8 or d.payload[:4] == b"\x00\x00\x00\x00":
            return None
        return EspPacket(d, d.payload, False)
    if d.proto != netpkt.PROTO_UDP:
        return None
    forced = bool(ike_ports) and (d.sport in ike_ports or d.dport in ike_ports)
    if NAT_T_PORT in (d.sport, d.dport) or (forced and d.payload[:4] == NON_ESP_MARKER):
        kind, body = demux_nat_t(d.payload)
        if kind is NatTKind.IKE:
            return _ike(d, body, True)
        if kind is NatTKind.ESP and not forced:
            return EspPacket(d, body, True)
        if kind is not NatTKind.ESP:
            return None
    if IKE_PORT in (d.sport, d.dport) or forced:
        found = _ike(d, d.payload, False)
        if found is not None or not forced:
            return found
        kind, body = demux_nat_t(d.payload)  # a forced NAT-T port: what is not IKE is ESP
        return EspPacket(d, body, True) if kind is NatTKind.ESP else None
    return _by_content(d, natt_flows)


def natt_flows(datagrams: Iterable[Datagram], ike_ports: Collection[int] = ()) -> set[Flow]:
    """The UDP flows that carry IKE after the non-ESP marker on a port other than 4500."""
    flows: set[Flow] = set()
    for d in datagrams:
        if d.proto != netpkt.PROTO_UDP or NAT_T_PORT in (d.sport, d.dport) or d.payload[:4] != NON_ESP_MARKER:
            continue
        packet = classify(d, ike_ports)
        if isinstance(packet, IkePacket) and packet.non_esp_marker:
            flows.add(flow_of(d))
    return flows


def classify_all(datagrams: Iterable[Datagram], ike_ports: Collection[int] = ()) -> list[IkePacket | EspPacket]:
    """Classify every datagram, keeping the IKE and ESP packets in capture order.

    Two passes: the first learns the NAT-T flows on non-standard ports
    (:func:`natt_flows`), so the UDP-encapsulated ESP there is found too.
    """
    items = list(datagrams)
    flows = natt_flows(items, ike_ports)
    return [p for p in (classify(d, ike_ports, flows) for d in items) if p is not None]


def no_ike_hint(datagrams: Sequence[Datagram], packets: Iterable[IkePacket | EspPacket | None]) -> str | None:
    """A hint for a capture with UDP datagrams but no IKE message in them; None otherwise."""
    if any(isinstance(p, IkePacket) for p in packets):
        return None
    udp = [d for d in datagrams if d.proto == netpkt.PROTO_UDP]
    if not udp:
        return None
    return udp_without_ike_hint(len(udp), Counter(port for d in udp for port in {d.sport, d.dport}))


def udp_without_ike_hint(udp: int, ports: Counter[int]) -> str:
    """The hint for ``udp`` datagrams without IKE; ``ports`` counts the datagrams per port."""
    ranked = sorted(ports.items(), key=lambda item: (-item[1], item[0]))
    common = ", ".join(str(port) for port, _ in ranked[:6])
    more = ", …" if len(ports) > 6 else ""
    return (f"no IKE found in {udp} UDP datagram(s) (ports {common}{more}); if IKE runs on "
            "another port, try --ike-port PORT")


_ZERO_SPI = b"\x00" * 8


def group_ike_sas(
    packets: Iterable[IkePacket | EspPacket | None],
) -> dict[tuple[bytes, bytes], list[IkePacket]]:
    """Group IKE messages by (SPIi, SPIr) — IKEv1 cookies — in order of first appearance.

    A message sent before the responder chose its SPI (SPIr all zero) joins the
    group that SPIi later gets; if it never gets one the key keeps the zero SPIr.
    """
    order: list[tuple[bytes, bytes]] = []
    groups: dict[tuple[bytes, bytes], list[IkePacket]] = {}
    waiting: dict[bytes, list[IkePacket]] = {}
    for p in packets:
        if not isinstance(p, IkePacket):
            continue
        if p.spi_r == _ZERO_SPI:
            known = next((k for k in order if k[0] == p.spi_i and k[1] != _ZERO_SPI), None)
            if known is not None:
                groups[known].append(p)
                continue
            if p.spi_i not in waiting:
                waiting[p.spi_i] = []
                order.append((p.spi_i, _ZERO_SPI))
            waiting[p.spi_i].append(p)
            continue
        key = (p.spi_i, p.spi_r)
        if key not in groups:
            early = waiting.pop(p.spi_i, [])
            if early:
                order[order.index((p.spi_i, _ZERO_SPI))] = key
            else:
                order.append(key)
            groups[key] = early
        groups[key].append(p)
    result: dict[tuple[bytes, bytes], list[IkePacket]] = {}
    for key in order:
        result[key] = groups[key] if key in groups else waiting[key[0]]
    return result


def group_esp_sas(
    packets: Iterable[IkePacket | EspPacket | None],
) -> dict[tuple[bytes, str, str], list[EspPacket]]:
    """Group ESP packets by (SPI, src, dst) in order of first appearance."""
    groups: dict[tuple[bytes, str, str], list[EspPacket]] = {}
    for p in packets:
        if isinstance(p, EspPacket):
            groups.setdefault((p.spi, p.datagram.src, p.datagram.dst), []).append(p)
    return groups


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts for a quick look at a capture."""

    ike: int = 0
    esp: int = 0
    other: int = 0
    ike_sas: list[tuple[bytes, bytes]] = field(default_factory=list)


def summarize(capture: Capture) -> Summary:
    """Count IKE, ESP and other datagrams of ``capture``."""
    packets = classify_all(capture.datagrams)
    ike = sum(isinstance(p, IkePacket) for p in packets)
    esp = sum(isinstance(p, EspPacket) for p in packets)
    return Summary(ike, esp, len(capture.datagrams) - ike - esp, list(group_ike_sas(packets)))
