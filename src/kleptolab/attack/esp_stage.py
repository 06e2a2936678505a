"""The ESP stage of one capture, streamed: verify, decrypt, write plaintext as it is produced.

The capture is read datagram by datagram (:func:`kleptolab.capture.iter_capture`);
only the ESP packets of SAs whose keys were recovered are kept, and only
until :data:`BUFFER` of them wait: then each SA's share is opened by
:meth:`~kleptolab.esp.sa.EspSa.unprotect_batch` (one CBC context per batch)
and the inner packets are written, in capture order, to the plaintext pcap.
Memory therefore stays flat whatever the capture's size: the SA table, one
buffer and the per-SA counters.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.attack.outputs import EspSaRow
from kleptolab.capture import EspPacket, classify, iter_capture
from kleptolab.capture.datagrams import Flow
from kleptolab.capture.pcapio import LINKTYPE_RAW, PcapWriter
from kleptolab.esp.errors import EspError
from kleptolab.esp.packet import NEXT_HEADER_IPV4, NEXT_HEADER_IPV6
from kleptolab.esp.sa import EspSa

__all__ = ["BUFFER", "EspJob", "EspOutcome", "SaKey", "decrypt_esp"]

BUFFER = 512  # ESP packets held before a flush (measured: 64 per SA batch is the sweet spot)
SaKey = tuple[bytes, str, str]  # (SPI, outer source, outer destination)


@dataclass(frozen=True)
class EspJob:
    """Decrypt the ESP of capture ``path``; plaintext goes to ``plaintext`` (a pcap) or, if None,
    comes back in memory."""

    path: str
    plaintext: str | None = None
    rows: dict[SaKey, EspSaRow] = field(
        default_factory=dict
    )  # the keys it may need (or pass them apart)
    ike_ports: frozenset[int] = frozenset()
    natt_flows: frozenset[Flow] = frozenset()  # NAT-T on ports other than 4500 (learnt by the scan)


@dataclass
class EspOutcome:
    """Per-SA counts (report.json ``esp``), ESP bytes seen, and the in-memory plaintext if asked."""

    report: list[dict[str, Any]]
    esp_bytes: int = 0
    packets: int = 0
    plaintext: list[tuple[float, bytes]] | None = None
    warnings: list[str] = field(default_factory=list)
    crypto_s: float = 0.0  # time spent verifying, decrypting and writing (the rest is reading)


@dataclass
class _Count:
    packets: int = 0
    ok: int = 0
    bad: int = 0
    other: int = 0


class _Sink:
    def __init__(self, path: str | None) -> None:
        self.memory: list[tuple[float, bytes]] | None = [] if path is None else None
        self.part = None if path is None else path + ".part"
        self.writer = None if self.part is None else PcapWriter(Path(self.part), LINKTYPE_RAW)

    def write(self, ts: float, packet: bytes) -> None:
        if self.writer is not None:
            self.writer.write_ip(ts, packet)
        elif self.memory is not None:
            self.memory.append((ts, packet))

    def close(self, final: str | None, ok: bool) -> None:
        if self.writer is not None and self.part is not None:
            self.writer.close()
            if ok and final is not None:
                os.replace(self.part, final)
            else:
                Path(self.part).unlink(missing_ok=True)


def decrypt_esp(job: EspJob, rows: dict[SaKey, EspSaRow]) -> EspOutcome:
    """Stream ``job.path``; open every ESP packet of an SA in ``rows`` (ICV checked first)."""
    counts: dict[SaKey, _Count] = {}
    sas: dict[SaKey, EspSa] = {}
    buffer: list[tuple[SaKey, EspPacket]] = []
    sink = _Sink(job.plaintext)
    outcome = EspOutcome(report=[])

    def flush() -> None:
        t0 = time.perf_counter()
        by_sa: dict[SaKey, list[int]] = {}
        for i, (key, _) in enumerate(buffer):
            by_sa.setdefault(key, []).append(i)
        opened: list[Any] = [None] * len(buffer)
        for key, idx in by_sa.items():
            sa = sas.get(key)
            if sa is None:
                sa = sas[key] = rows[key].sa()
            for i, result in zip(
                idx, sa.unprotect_batch([buffer[i][1].data for i in idx]), strict=True
            ):
                opened[i] = result
        for (key, packet), result in zip(buffer, opened, strict=True):
            count = counts[key]
            if isinstance(result, EspError):
                count.bad += 1
                continue
            count.ok += 1
            if result.next_header in (NEXT_HEADER_IPV4, NEXT_HEADER_IPV6):
                sink.write(packet.timestamp, result.payload)
            else:
                count.other += 1
        buffer.clear()
        outcome.crypto_s += time.perf_counter() - t0

    ok = False
    try:
        for datagram in iter_capture(job.path, outcome.warnings):
            packet = classify(datagram, job.ike_ports, job.natt_flows)
            if not isinstance(packet, EspPacket):
                continue
            key = (packet.spi, datagram.src, datagram.dst)
            count = counts.get(key)
            if count is None:
                count = counts[key] = _Count()
            count.packets += 1
            outcome.packets += 1
            outcome.esp_bytes += len(packet.data)
            if key in rows:
                buffer.append((key, packet))
                if len(buffer) >= BUFFER:
                    flush()
        flush()
        ok = True
    finally:
        sink.close(job.plaintext, ok)
    for (spi, src, dst), c in counts.items():
        known = (spi, src, dst) in rows
        outcome.report.append(
            {
                "spi": spi.hex(),
                "src": src,
                "dst": dst,
                "packets": c.packets,
                "decrypted": c.ok,
                "icv_failed": c.bad,
                "not_tunnel_mode": c.other,
                "failure": None if known else "no keys recovered for this SPI",
            }
        )
    if sink.memory is not None:
        sink.memory.sort(key=lambda t: t[0])  # stable: capture order within a timestamp
    outcome.plaintext = sink.memory
    return outcome
