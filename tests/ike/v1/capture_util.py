"""Read IKE datagrams from the shared captures with kleptolab.capture."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleptolab.capture import read_capture


@dataclass(frozen=True)
class IkeDatagram:
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes  # IKE message, non-ESP marker stripped


def _udp_payloads(path: Path) -> list[tuple[str, int, str, int, bytes]]:
    cap = read_capture(path)
    assert not cap.warnings, cap.warnings
    return [(d.src, d.sport, d.dst, d.dport, d.payload) for d in cap.datagrams if d.proto == 17]


def ike_datagrams(path: Path) -> list[IkeDatagram]:
    """IKE messages in capture order: port 500, or 4500 with the 4-byte zero marker."""
    out = []
    for src, sport, dst, dport, data in _udp_payloads(path):
        if 500 in (sport, dport):
            out.append(IkeDatagram(src, sport, dst, dport, data))
        elif 4500 in (sport, dport) and data[:4] == b"\x00\x00\x00\x00" and len(data) > 4:
            out.append(IkeDatagram(src, sport, dst, dport, data[4:]))
    return out


def load_keys(case_dir: Path) -> dict[str, Any]:
    return json.loads((case_dir / "keys.json").read_text())  # type: ignore[no-any-return]


def logged(keys: dict[str, Any], label: str) -> list[bytes]:
    """Every hex block the initiator logged under ``label``, in order."""
    return [
        bytes.fromhex(e["hex"]) for e in keys["logged_values_initiator_side"] if e["label"] == label
    ]
