"""The units of work of a many-capture run: scan one capture, attack one gateway.

Both are plain functions of picklable data (:class:`ScanJob`, :class:`GatewayJob`),
so any engine can run them (:mod:`kleptolab.attack.engine`);
:mod:`kleptolab.attack.pipeline` plans them and merges their results.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kleptolab.attack.decryptor import (
    DecryptOptions,
    Handshake,
    Progress,
    Rekeyable,
    attack_sessions,
    parse_session,
    report_session,
)
from kleptolab.attack.forward import ForwardWindow, Lineage
from kleptolab.attack.ikev1_attack import Ikev1Outcome
from kleptolab.attack.ikev2_attack import Ikev2Outcome
from kleptolab.attack.outputs import EspSaRow, Ikev1Row, Ikev2Row
from kleptolab.attack.recovery import MemoryCache, jobs_for, run_job
from kleptolab.attack.store import KnownState, StateRecord
from kleptolab.capture import IkePacket, classify, flow_of, group_ike_sas
from kleptolab.capture.datagrams import Flow, _iter_capture, udp_without_ike_hint
from kleptolab.drbg import recover
from kleptolab.esp.packet import NAT_T_PORT, NON_ESP_MARKER
from kleptolab.netpkt import PROTO_UDP

__all__ = ["CaptureScan", "GatewayJob", "GatewayResult", "ScanJob", "run_gateway", "scan_capture"]

_RANK = 1 << 32  # frame numbers of capture k become k * 2^32 + frame


@dataclass(frozen=True)
class ScanJob:
    path: str
    rank: int
    ike_ports: frozenset[int] = frozenset()


@dataclass
class CaptureScan:
    """One capture's IKE SAs: (gateway or None, report entry, handshake or None) in capture order."""

    path: str
    frames: int
    warnings: list[str]
    sessions: list[tuple[str | None, dict[str, Any], Handshake | None]]
    esp_peers: set[tuple[str, str]] = field(default_factory=set)  # (src, dst) of its ESP packets
    natt_flows: frozenset[Flow] = frozenset()  # NAT-T on ports other than 4500
    orphans: list[tuple[tuple[bytes, bytes], list[IkePacket], dict[str, Any]]] = field(default_factory=list)
    """IKE SAs without an IKE_SA_INIT (rekeyed IKEv2 SAs among them): SPIs, messages, report entry."""


def _lift(p: IkePacket, base: int) -> IkePacket:
    return dataclasses.replace(
        p, datagram=dataclasses.replace(p.datagram, index=base + p.datagram.index)
    )


def scan_capture(job: ScanJob, _shared: Any = None) -> CaptureScan:
    """Stream ``job.path`` keeping only IKE messages; parse every IKE SA (``ValueError``: not a capture)."""
    warnings: list[str] = []
    frames = [0]
    base = job.rank * _RANK
    ike: list[IkePacket] = []
    peers: set[tuple[str, str]] = set()
    flows: set[Flow] = set()
    unclassified: dict[Flow, tuple[str, str]] = {}  # UDP flows that may turn out to be NAT-T
    udp = 0
    ports: Counter[int] = Counter()
    for d in _iter_capture(job.path, warnings, frames):
        p = classify(d, job.ike_ports)
        if d.proto == PROTO_UDP:
            udp += 1
            ports.update({d.sport, d.dport})
        if isinstance(p, IkePacket):
            ike.append(_lift(p, base))
            if p.non_esp_marker and NAT_T_PORT not in (d.sport, d.dport):
                flows.add(flow_of(d))
        elif p is not None:
            peers.add((p.datagram.src, p.datagram.dst))
        elif d.proto == PROTO_UDP and d.payload[:4] != NON_ESP_MARKER and len(unclassified) < _MAX_FLOWS:
            unclassified.setdefault(flow_of(d), (d.src, d.dst))
    peers |= {pair for flow, pair in unclassified.items() if flow in flows}
    peers |= {(b, a) for flow, (a, b) in unclassified.items() if flow in flows}
    if not ike and udp:
        warnings.append(udp_without_ike_hint(udp, ports))
    sessions: list[tuple[str | None, dict[str, Any], Handshake | None]] = []
    orphans: list[tuple[tuple[bytes, bytes], list[IkePacket], dict[str, Any]]] = []
    for n, (spis, group) in enumerate(group_ike_sas(ike).items()):
        entry, h = parse_session(spis, group)
        entry["first_frame"] -= base
        entry["capture"] = job.path
        entry["_key"] = (job.rank, n)
        first = group[0].datagram
        sessions.append((f"{first.dst}:{first.dport}" if h is not None else None, entry, h))
        if h is None:
            orphans.append((spis, group, entry))
    return CaptureScan(job.path, frames[0], warnings, sessions, peers, frozenset(flows), orphans)


_MAX_FLOWS = 1 << 16
"""Distinct unclassified UDP flows remembered per capture (NAT-T candidates)."""


@dataclass
class GatewayJob:
    """Everything one gateway's attack needs (plain data: it travels to a worker)."""

    gateway: str
    handshakes: list[Handshake]
    entries: list[dict[str, Any]]
    cached: dict[bytes, list[int]]
    known: dict[bytes, list[KnownState]]
    latest: list[KnownState]
    options: DecryptOptions
    threads: int = 1
    rekeyable: Rekeyable = field(default_factory=Rekeyable)


@dataclass
class GatewayResult:
    gateway: str
    entries: list[dict[str, Any]]
    ikev1: list[tuple[str, Ikev1Row]]
    ikev2: list[tuple[str, Ikev2Row]]
    esp: list[tuple[str, EspSaRow]]  # (session id, row)
    records: list[StateRecord]
    how: list[
        tuple[str, str | None]
    ]  # per nonce: (sweep / predicted / state cache, capture of its session)
    anchors: int
    window_calls: int
    timings: dict[str, float]


def _thread_sweeper(
    data: dict[str, Any], quirk_shifts: int, threads: int
) -> Callable[[list[bytes]], dict[bytes, list[int]]]:
    """Sweep nonces in ``threads`` threads of this process (one kernel per thread)."""

    def sweep(nonces: list[bytes]) -> dict[bytes, list[int]]:
        jobs = [
            j
            for n in nonces
            for j in jobs_for(n, data, 4 * threads if threads > 1 else 1, quirk_shifts)
        ]
        found: dict[bytes, set[int]] = {n: set() for n in nonces}
        if threads == 1:
            results = map(run_job, jobs)
            for nonce, states in results:
                found[nonce].update(states)
        else:
            with ThreadPoolExecutor(threads) as pool:
                for nonce, states in pool.map(run_job, jobs):
                    found[nonce].update(states)
        return {n: sorted(s) for n, s in found.items()}

    return sweep


def run_gateway(
    job: GatewayJob,
    trapdoor: dict[str, Any],
    sweep: Callable[[list[bytes]], dict[bytes, list[int]]] | None = None,
    progress: Progress | None = None,
) -> GatewayResult:
    """Attack every IKE SA of one gateway (a unit of work; ``trapdoor`` is its JSON form)."""
    key = recover._trapdoor(trapdoor)  # validated once per process
    for h, entry in zip(job.handshakes, job.entries, strict=True):  # parents of rekeyed SAs
        job.rekeyable.entries.setdefault(h.sid, entry)
    cache = MemoryCache(job.cached)
    lineage = Lineage(job.known)
    window = ForwardWindow(key.q, job.options.window)
    for known in sorted(job.latest, key=lambda k: k.position):
        window.add(known)
    sweeper = sweep or _thread_sweeper(trapdoor, job.options.quirk_shifts, job.threads)
    found = attack_sessions(
        job.handshakes, key.q, sweeper, cache, job.options, progress, window, lineage, job.rekeyable
    )
    parents = {h.sid: e for h, e in zip(job.handshakes, job.entries, strict=True)}
    for h in found.adopted:  # rekeyed IKE SAs: their entries join this gateway's
        entry = job.rekeyable.entries[h.sid]
        if "capture" not in entry:  # no messages of its own: it lives in its parent's capture
            parent = getattr(h, "parent", None)
            entry["capture"] = parents.get(parent.sid, {}).get("capture") if parent is not None else None
        parents[h.sid] = entry
        job.handshakes.append(h)
        job.entries.append(entry)
    result = GatewayResult(
        job.gateway,
        job.entries,
        [],
        [],
        [],
        [],
        [],
        len(found.walker.anchors),
        window.calls,
        dict(found.timings),
    )
    capture_of = {h.sid: e["capture"] for h, e in zip(job.handshakes, job.entries, strict=True)}
    for h, entry in zip(job.handshakes, job.entries, strict=True):
        out = report_session(h, entry, found, cache)
        if out.failure is not None:
            continue
        if isinstance(out, Ikev1Outcome) and out.row is not None:
            result.ikev1.append((h.sid, out.row))
        elif isinstance(out, Ikev2Outcome) and out.row is not None:
            result.ikev2.append((h.sid, out.row))
        result.esp += [(h.sid, row) for row in out.esp]
    for nonce, (sid, rec) in found.recoveries.items():
        capture = capture_of.get(sid)
        result.how.append((rec.how, capture))
        for state in cache.get(nonce) or []:
            place = lineage.of(nonce, state)
            epoch, position = place if place is not None else (None, None)
            result.records.append(
                StateRecord(nonce, state, job.gateway, epoch, position, rec.how, capture)
            )
    return result
