"""Which PRNG draw became what: the gateway's draw log lined up with the wire and the attack.

The gateway logs every ``prng_generate()`` call (:class:`~kleptolab.device.queues.Draw`)
and every value a connection took from a queue (``Taken``).  A nonce taken
is found on the wire as some SA's responder nonce; a DH private value is
found by recomputing its public value and matching the responder's KE.  The
decryptor's report says which draws it predicted and from which nonce;
:func:`unlock_records` turns that into "connection N unlocked by connection
M's nonce (draw k)", with k the gateway's own PRNG call number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kleptolab.lab.model import DrawRecord, UnlockRecord
from kleptolab.lab.observe import ResponderValues

__all__ = ["MAX_ROWS", "draw_records", "unlock_records"]

MAX_ROWS = 400


def _sid(session: str) -> str:
    return f"{session[:8]}…"


def _attack_notes(report: dict[str, Any]) -> dict[str, str]:
    """Session id → how the attacker got its DH value (from the decryptor's report)."""
    notes = {}
    for s in report.get("sessions", []):
        draw = s.get("dh_draw")
        if isinstance(draw, dict):
            notes[str(s.get("id"))] = (
                f"; attacker predicted it {draw.get('offset', '?')} call(s) after the state behind "
                f"{draw.get('anchor_nonce', 'a nonce')} of {_sid(str(draw.get('anchor_session', '?')))}"
            )
    return notes


def draw_records(
    draws: Sequence[Any], taken: Sequence[Any], observed: Sequence[ResponderValues],
    report: dict[str, Any] | None = None,
) -> list[DrawRecord]:
    """One row per PRNG call (at most :data:`MAX_ROWS`), saying what the output became."""
    from kleptolab.ike.dh import group_by_number

    notes = _attack_notes(report or {})
    by_nonce = {o.nonce: o for o in observed}
    by_ke = {o.ke: o for o in observed}
    used: dict[int, str] = {}
    for t in taken:
        kind, value = str(t.kind), t.value
        where = "; made on demand" if getattr(t, "on_demand", False) else "; from the queue"
        if kind == "nonce" and isinstance(value, bytes):
            seen = by_nonce.get(value)
            text = (f"responder nonce Nr of IKEv{seen.version} SA {_sid(seen.session)} "
                    f"(frame {seen.frame})" if seen else "nonce sent encrypted (Quick Mode / CREATE_CHILD_SA Nr)")
        elif kind.startswith("dh:") and isinstance(value, int):
            group = group_by_number(int(kind[3:]))
            seen = by_ke.get(group.public_value(value))
            text = (f"DH private (group {group.number}) behind KEr of IKEv{seen.version} SA "
                    f"{_sid(seen.session)}" + notes.get(seen.session, "")
                    if seen else f"DH private (group {group.number}), not seen on the wire")
        else:
            text = kind
        for index in t.draws:
            used[int(index)] = text + where
    rows = []
    for d in list(draws)[:MAX_ROWS]:
        purpose = str(d.purpose)
        default = "queued, never used" if purpose == "nonce" or purpose.startswith("dh:") else purpose
        rows.append(DrawRecord(int(d.index), purpose, bytes(d.output).hex(), used.get(int(d.index), default)))
    return rows


def _first_draws(taken: Sequence[Any]) -> tuple[dict[bytes, int], dict[bytes, int]]:
    """(nonce value -> draw, DH public value -> first draw) over what the gateway handed out."""
    from kleptolab.ike.dh import group_by_number

    nonces: dict[bytes, int] = {}
    keys: dict[bytes, int] = {}
    for t in taken:
        kind, value = str(t.kind), t.value
        if kind == "nonce" and isinstance(value, bytes):
            nonces.setdefault(value, int(t.draws[0]))
        elif kind.startswith("dh:") and isinstance(value, int):
            keys.setdefault(group_by_number(int(kind[3:])).public_value(value), int(t.draws[0]))
    return nonces, keys


def _unlock_text(n: int, key: int | None, nonce: int | None, by: int | None, by_draw: int | None,
                 label: str, own: bool, offset: int | None) -> str:
    where = f"(draw {by_draw})" if by_draw is not None else "(draw ?)"
    if by is None:
        return f"connection {n}: not unlocked"
    kind = "Quick Mode nonce" if "Quick Mode" in label else (
        "CREATE_CHILD_SA nonce" if "CREATE_CHILD_SA" in label else "nonce")
    whose = "its own" if own else f"connection {by}'s"
    text = f"connection {n} unlocked by {whose} {kind} {where}, {offset} PRNG call(s) before its key"
    if key is not None and nonce is not None and key < nonce:
        text += f" — its key (draw {key}) predates its own nonce (draw {nonce})"
    return text


def _recovered_by(entry: dict[str, Any], connection: dict[str, int]) -> str:
    """The decryptor's ``recovered_by``, with connection numbers instead of SA ids."""
    rec = entry.get("recovery")
    if not isinstance(rec, dict):
        return str(entry.get("recovered_by", "-"))
    if rec.get("how") == "predicted":
        src = str(rec.get("from_session"))
        who = f"connection {connection[src]}" if src in connection else f"SA {src[:8]}…"
        return f"predicted from {who}'s state, {rec.get('draw')} call(s) on (no sweep)"
    if rec.get("how") == "sweep":
        return f"swept 2^16 prefixes → {rec.get('states')} state(s)"
    return str(rec.get("how"))


def unlock_records(
    report: dict[str, Any], sessions: Sequence[Any], taken: Sequence[Any], observed: Sequence[ResponderValues],
) -> list[UnlockRecord]:
    """One record per victim connection: its key and nonce draws, and whose nonce unlocked it.

    ``sessions`` are the victim's records (``index``, ``ike_sa``, ``version``).
    """
    nonce_draws, key_draws = _first_draws(taken)
    seen = {o.session: o for o in observed}
    entries = {str(s.get("id")): s for s in report.get("sessions", [])}
    connection = {str(s.ike_sa): int(s.index) + 1 for s in sessions if getattr(s, "ike_sa", "")}
    records = []
    for s in sorted(sessions, key=lambda s: int(s.index)):
        sid, n = str(getattr(s, "ike_sa", "")), int(s.index) + 1
        entry, wire = entries.get(sid, {}), seen.get(sid)
        key = key_draws.get(wire.ke) if wire is not None else None
        nonce = nonce_draws.get(wire.nonce) if wire is not None else None
        draw = entry.get("dh_draw") if isinstance(entry.get("dh_draw"), dict) else None
        by = by_draw = offset = None
        label = ""
        if draw is not None:
            anchor = str(draw.get("anchor_session"))
            by = connection.get(anchor)
            label = str(draw.get("anchor_nonce", ""))
            nr = draw.get("anchor_nr")
            by_draw = nonce_draws.get(bytes.fromhex(nr)) if isinstance(nr, str) else None
            offset = int(draw["offset"]) if isinstance(draw.get("offset"), int) else None
        text = _unlock_text(n, key, nonce, by, by_draw, label, by == n, offset)
        if draw is None and entry.get("failure"):
            text += f": {entry['failure']}"
        records.append(UnlockRecord(n, sid, int(s.version), key, nonce, _recovered_by(entry, connection),
                                    by, by_draw, offset, text))
    return records
