"""Following IKEv2 IKE SA rekeys (RFC 7296 §2.18) across a capture: report entries and chains.

A rekeyed SA has no IKE_SA_INIT of its own, so the capture grouping first
reports it as unattackable; once its parent's keys open the rekeying
CREATE_CHILD_SA, :func:`adopt_rekeys` gives it its messages and turns its
report entry into a link of the chain.  :func:`rekey_chains` lists every
chain from its IKE_SA_INIT root, for report.json and the HTML report.
"""

from __future__ import annotations

from typing import Any

from kleptolab.attack.ikev2_attack import Ikev2Handshake, Ikev2Outcome
from kleptolab.capture import IkePacket

__all__ = ["REKEY_EXCHANGE", "adopt_rekeys", "rekey_chains"]

REKEY_EXCHANGE = "CREATE_CHILD_SA (IKE SA rekey)"


def adopt_rekeys(
    out: Ikev2Outcome,
    groups: dict[tuple[bytes, bytes], list[IkePacket]],
    by_id: dict[str, dict[str, Any]],
    sessions: list[dict[str, Any]],
    known: set[str],
) -> list[Ikev2Handshake]:
    """The new IKE SAs ``out`` found that are not ``known`` yet, with their messages and report entries."""
    adopted: list[Ikev2Handshake] = []
    for h in out.rekeys:
        if h.sid in known or h.parent is None:
            continue
        known.add(h.sid)
        h.later = list(groups.get((h.spi_i, h.spi_r), []))
        entry = by_id.get(h.sid)
        if entry is None:
            entry = {
                "id": h.sid,
                "version": 2,
                "initiator": h.initiator,
                "responder": h.responder,
                "messages": len(h.later),
                "first_frame": h.nr_order,
            }
            sessions.append(entry)
            by_id[h.sid] = entry
        entry.pop("failure", None)
        entry.update(
            exchange=REKEY_EXCHANGE,
            proposal=h.suite.describe(),
            nr=h.nr.hex(),
            nonce_bytes=len(h.nr),
            rekeyed_from=h.parent.sid,
            rekey_frame=h.parent.frame,
            initiator=h.initiator,
            responder=h.responder,
        )
        parent = by_id.get(h.parent.sid)
        if parent is not None:
            parent.setdefault("rekeyed_to", []).append(h.sid)
        adopted.append(h)
    return adopted


def rekey_chains(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rekey chain: its root IKE SA, then each SA that replaced the previous one.

    Where a simultaneous rekey made two SAs, the chain goes on with the one that
    carried more messages (the survivor) and lists the other under ``redundant``.
    """
    by_id = {s["id"]: s for s in sessions}
    chains = []
    for root in sessions:
        if "rekeyed_from" in root or not root.get("rekeyed_to"):
            continue
        links: list[dict[str, Any]] = []
        redundant: list[str] = []
        current = root
        while current.get("rekeyed_to"):
            nexts = [by_id[sid] for sid in current["rekeyed_to"] if sid in by_id]
            if not nexts:
                break
            nexts.sort(key=lambda s: s.get("messages", 0), reverse=True)
            redundant += [s["id"] for s in nexts[1:]]
            current = nexts[0]
            links.append(
                {
                    "id": current["id"],
                    "frame": current.get("rekey_frame"),
                    "decrypted": "keys" in current,
                    "esp_packets": current.get("esp_packets", 0),
                    "child_sas": len(current.get("child_sas", [])),
                }
            )
        chains.append(
            {
                "root": root["id"],
                "rekeys": len(links),
                "links": links,
                "redundant": redundant,
                "all_decrypted": "keys" in root and all(link["decrypted"] for link in links),
            }
        )
    return chains
