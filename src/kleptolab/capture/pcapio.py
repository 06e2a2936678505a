"""Capture files: read pcap/pcapng frames, write classic pcap.

Reading is streaming and forgiving: a truncated or corrupt file yields every
frame that can still be read, and the reason it stopped goes into the
caller's ``warnings`` list.  Only input that is not a capture at all raises
``ValueError("not a pcap or pcapng file ...")``.  Gzip-compressed files are
recognised by their magic and read transparently.

Supported: classic pcap (µs and ns, both byte orders) and pcapng (SHB, IDB,
EPB, SPB, the obsolete PB; several sections and interfaces, each with its own
link type, ``if_tsresol`` and ``if_tsoffset``; both byte orders).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, cast

from kleptolab import netpkt

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

MAX_FRAME = 1 << 20
"""Frames claiming more captured bytes than this are treated as corruption."""

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
_PCAPNG_SHB_MIN = 28  # type, length, byte-order magic, version, section length, trailer
_GZIP_MAGIC = b"\x1f\x8b"

# Classic pcap: global header (magic, major, minor, thiszone, sigfigs, snaplen, network)
# and record header (ts_sec, ts_frac, incl_len, orig_len).
_PCAP_HEADER = "IHHiIII"
_PCAP_RECORD = "IIII"


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame; ``number`` counts from 1 in file order, as Wireshark does."""

    number: int
    timestamp: float
    linktype: int
    data: bytes
    orig_len: int


class _Truncated(Exception):
    """The stream ended inside a structure (internal)."""


class _Stream:
    """``read_exact`` over a binary stream, tracking the byte offset."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.offset = 0

    def read(self, size: int) -> bytes:
        try:
            data = self._raw.read(size)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise _Truncated(f"compressed stream is damaged ({exc})") from exc
        self.offset += len(data)
        return data

    def read_exact(self, size: int, what: str) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise _Truncated(
                f"file ends inside {what} at byte {self.offset}: "
                f"{size} bytes needed, {len(data)} present"
            )
        return data


def open_capture_stream(source: str | os.PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool]:
    """Open ``source`` (path or binary file), gunzipping if needed; return (stream, owned)."""
    if isinstance(source, str | os.PathLike):
        raw: BinaryIO = open(Path(source), "rb")  # noqa: SIM115 - closed by the caller
        owned = True
    else:
        raw, owned = source, False
    if isinstance(raw, io.BufferedReader):
        magic = raw.peek(2)[:2]
    elif raw.seekable():
        start = raw.tell()
        magic = raw.read(2)
        raw.seek(start)
    else:  # neither peekable nor seekable: buffer it (the wrapper owns it from now on)
        raw = io.BufferedReader(cast("io.RawIOBase", raw))
        magic = raw.peek(2)[:2]
    if magic == _GZIP_MAGIC:
        return cast("BinaryIO", gzip.GzipFile(fileobj=raw, mode="rb")), owned
    return raw, owned


def iter_frames(source: str | os.PathLike[str] | BinaryIO, warnings: list[str]) -> Iterator[Frame]:
    """Yield every readable frame of a pcap or pcapng capture; problems go to ``warnings``."""
    stream, owned = open_capture_stream(source)
    try:
        s = _Stream(stream)
        try:
            head = s.read(4)
        except _Truncated as exc:
            raise ValueError(f"not a pcap or pcapng file: {exc}") from None
        if len(head) < 4:
            raise ValueError(f"not a pcap or pcapng file: only {len(head)} bytes")
        try:
            if struct.unpack(">I", head)[0] == _PCAPNG_SHB:
                yield from _read_pcapng(s, head, warnings)
            else:
                yield from _read_pcap(s, head, warnings)
        except _Truncated as exc:
            warnings.append(f"capture truncated: {exc}; frames before it were read")
    finally:
        if owned:
            stream.close()


def _read_pcap(s: _Stream, head: bytes, warnings: list[str]) -> Iterator[Frame]:
    for order in (">", "<"):
        magic = struct.unpack(order + "I", head)[0]
        if magic in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
            break
    else:
        raise ValueError(f"not a pcap or pcapng file: unknown magic 0x{head.hex()}")
    scale = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    rest = s.read_exact(20, "the pcap file header")
    *_, network = struct.unpack(order + _PCAP_HEADER, head + rest)
    linktype = network & 0xFFFF
    record = struct.Struct(order + _PCAP_RECORD)
    number = 0
    while True:
        header = s.read(16)
        if not header:
            return
        if len(header) < 16:
            raise _Truncated(f"file ends inside the header of frame {number + 1}")
        ts_sec, ts_frac, incl_len, orig_len = record.unpack(header)
        number += 1
        if incl_len > MAX_FRAME:
            warnings.append(
                f"frame {number}: corrupt record header at byte {s.offset - 16} "
                f"(captured length {incl_len}); stopped reading"
            )
            return
        data = s.read_exact(incl_len, f"frame {number}")
        yield Frame(number, ts_sec + ts_frac * scale, linktype, data, orig_len)


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    units_per_second: float = 1e6
    offset: int = 0
    usable: bool = True  # False: a malformed interface description block (its frames are skipped)


def _read_pcapng(s: _Stream, head: bytes, warnings: list[str]) -> Iterator[Frame]:
    order = ">"
    interfaces: list[_Interface] = []
    number = 0
    first = True
    while True:
        block_type_raw = head if first else s.read(4)
        first = False
        if not block_type_raw:
            return
        if len(block_type_raw) < 4:
            raise _Truncated("file ends inside a pcapng block header")
        length_raw = s.read_exact(4, "a pcapng block header")
        if struct.unpack(">I", block_type_raw)[0] == _PCAPNG_SHB:
            bom_raw = s.read_exact(4, "a section header block")
            if bom_raw == _PCAPNG_BOM.to_bytes(4, "big"):
                order = ">"
            elif bom_raw == _PCAPNG_BOM.to_bytes(4, "little"):
                order = "<"
            else:
                if number == 0:
                    raise ValueError("not a pcap or pcapng file: bad pcapng byte-order magic")
                warnings.append(f"corrupt pcapng section header at byte {s.offset - 12}; stopped")
                return
            interfaces = []
            pre = bom_raw
        else:
            pre = b""
        block_type = struct.unpack(order + "I", block_type_raw)[0]
        total = struct.unpack(order + "I", length_raw)[0]
        minimum = _PCAPNG_SHB_MIN if pre else 12
        if total < minimum or total % 4 or total > MAX_FRAME + 64:
            warnings.append(
                f"corrupt pcapng block at byte {s.offset - 8 - len(pre)}: length {total}; stopped"
            )
            return
        body = pre + s.read_exact(total - 12 - len(pre), f"a pcapng block of type {block_type:#x}")
        trailer = s.read_exact(4, "a pcapng block trailer")
        if struct.unpack(order + "I", trailer)[0] != total:
            warnings.append(
                f"pcapng block at byte {s.offset - total} has mismatched lengths; stopped"
            )
            return
        if block_type == 1:
            iface = _parse_idb(body, order)
            if not iface.usable:
                warnings.append(
                    f"pcapng interface description block {len(interfaces)} at byte "
                    f"{s.offset - total} is {len(body)} bytes, shorter than 8; its frames are skipped"
                )
            interfaces.append(iface)
        elif block_type in (6, 2, 3):
            number += 1
            frame = _packet_block(block_type, body, order, interfaces, number, warnings)
            if frame is not None:
                yield frame


def _parse_idb(body: bytes, order: str) -> _Interface:
    """An interface description block body; unusable (not an exception) when it is too short."""
    if len(body) < 8:
        return _Interface(-1, 0, usable=False)
    linktype, _, snaplen = struct.unpack(order + "HHI", body[:8])
    iface = _Interface(linktype, snaplen)
    for code, value in _options(body[8:], order):
        if code == 9 and len(value) >= 1:
            v = value[0]
            iface.units_per_second = float(2 ** (v & 0x7F)) if v & 0x80 else float(10**v)
        elif code == 14 and len(value) >= 8:
            iface.offset = struct.unpack(order + "q", value[:8])[0]
    return iface


def _options(data: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(data):
        code, size = struct.unpack(order + "HH", data[pos : pos + 4])
        if code == 0:
            return
        yield code, data[pos + 4 : pos + 4 + size]
        pos += 4 + ((size + 3) & ~3)


def _packet_block(
    block_type: int,
    body: bytes,
    order: str,
    interfaces: list[_Interface],
    number: int,
    warnings: list[str],
) -> Frame | None:
    try:
        if block_type == 3:  # Simple Packet Block: interface 0, no timestamp
            (orig_len,) = struct.unpack(order + "I", body[:4])
            iface = interfaces[0]
            cap = min(orig_len, len(body) - 4, iface.snaplen or orig_len)
            return Frame(number, 0.0, iface.linktype, body[4 : 4 + cap], orig_len)
        if block_type == 6:
            if_id, ts_hi, ts_lo, cap, orig_len = struct.unpack(order + "IIIII", body[:20])
            start = 20
        else:  # obsolete Packet Block
            if_id, _, ts_hi, ts_lo, cap, orig_len = struct.unpack(order + "HHIIII", body[:20])
            start = 20
        iface = interfaces[if_id]
    except (struct.error, IndexError):
        warnings.append(f"frame {number}: malformed packet block or unknown interface; skipped")
        return None
    if not iface.usable:
        warnings.append(f"frame {number}: its interface description block is malformed; skipped")
        return None
    if start + cap > len(body):
        warnings.append(f"frame {number}: captured length {cap} exceeds its block; skipped")
        return None
    ts = ((ts_hi << 32) | ts_lo) / iface.units_per_second + iface.offset
    return Frame(number, ts, iface.linktype, body[start : start + cap], orig_len)


class PcapWriter:
    """Write classic pcap (µs, or ns with ``nanoseconds=True``) frame by frame.

    ``write_ip`` and ``write_udp`` frame IP packets for the writer's link type
    (raw IP 101/228/229, Ethernet with zero MACs, or BSD null/loop).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        linktype: int = LINKTYPE_RAW,
        *,
        snaplen: int = 262_144,
        nanoseconds: bool = False,
    ) -> None:
        if linktype not in _FRAMERS:
            raise ValueError(f"PcapWriter supports link types {sorted(_FRAMERS)}, got {linktype}")
        self.linktype = linktype
        self._scale = 10**9 if nanoseconds else 10**6
        self._owned = isinstance(target, str | os.PathLike)
        self._out: BinaryIO = (
            open(Path(target), "wb") if isinstance(target, str | os.PathLike) else target  # noqa: SIM115
        )
        self._ident = 0
        magic = _PCAP_MAGIC_NS if nanoseconds else _PCAP_MAGIC_US
        self._out.write(struct.pack("<" + _PCAP_HEADER, magic, 2, 4, 0, 0, snaplen, linktype))

    def write_frame(self, timestamp: float, data: bytes, orig_len: int | None = None) -> None:
        """Append one frame, already framed for this writer's link type."""
        ticks = round(timestamp * self._scale)
        sec, frac = divmod(ticks, self._scale)
        if not 0 <= sec < 1 << 32:
            raise ValueError(f"timestamp {timestamp} does not fit a pcap record")
        size = len(data)
        self._out.write(struct.pack("<" + _PCAP_RECORD, sec, frac, size, orig_len or size))
        self._out.write(data)

    def write_ip(self, timestamp: float, ip_packet: bytes) -> None:
        """Append one IPv4 or IPv6 packet."""
        if not ip_packet or ip_packet[0] >> 4 not in (4, 6):
            raise ValueError("write_ip needs an IPv4 or IPv6 packet")
        self.write_frame(timestamp, _FRAMERS[self.linktype](ip_packet))

    def write_udp(
        self, timestamp: float, src: str, sport: int, dst: str, dport: int, payload: bytes
    ) -> None:
        """Append one UDP datagram inside a synthesised IP header (checksums correct)."""
        self._ident = (self._ident + 1) & 0xFFFF
        packet = netpkt.build_ip_udp(src, sport, dst, dport, payload, ident=self._ident)
        self.write_ip(timestamp, packet)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """Flush; close the file if this writer opened it."""
        self._out.flush()
        if self._owned:
            self._out.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _ethernet(ip: bytes) -> bytes:
    return b"\x00" * 12 + (b"\x86\xdd" if ip[0] >> 4 == 6 else b"\x08\x00") + ip


def _null(ip: bytes) -> bytes:
    return struct.pack("<I", 24 if ip[0] >> 4 == 6 else 2) + ip


def _loop(ip: bytes) -> bytes:
    return struct.pack(">I", 24 if ip[0] >> 4 == 6 else 2) + ip


def _raw(ip: bytes) -> bytes:
    return ip


_FRAMERS = {
    LINKTYPE_RAW: _raw,
    LINKTYPE_IPV4: _raw,
    LINKTYPE_IPV6: _raw,
    LINKTYPE_ETHERNET: _ethernet,
    LINKTYPE_NULL: _null,
    LINKTYPE_LOOP: _loop,
}
