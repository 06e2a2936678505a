"""Which PRNG draw became what: the gateway's draw log lined up with the wire and the attack.

The gateway logs every ``prng_generate()`` call (:class:`~kleptolab.device.queues.Draw`)
and every value a connection took from a queue (``Taken``).  A nonce taken
is found on the wire as some SA's responder nonce; a DH private value is
found by recomputing its public value and matching the responder's KE.  The
decryptor's report says which draws it predicted and from which nonce.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kleptolab.lab.model import DrawRecord
from kleptolab.lab.observe import ResponderValues

__all__ = ["MAX_ROWS", "draw_records"]

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
