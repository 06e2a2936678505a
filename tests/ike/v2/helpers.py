"""Shared test helpers: reading the reference captures and strongSwan's logged keys."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kleptolab.capture import IkePacket, classify, read_capture
from kleptolab.ike.common import IkeEndpoint, IkeEvent, SimpleKeySource
from tests.conftest import CAPTURES

STRONGSWAN = CAPTURES / "strongswan-5.9.8"
WIRESHARK = CAPTURES / "wireshark-4.0.17"
STRONGSWAN_V2 = ("ikev2-psk-3des-sha1-modp1024", "ikev2-psk-aes128-sha256-modp2048")


def ike_messages(path: Path) -> list[bytes]:
    """Every IKE message of a capture, in order, non-ESP marker stripped."""
    return [p.message for p in map(classify, read_capture(path).datagrams) if isinstance(p, IkePacket)]


@dataclass(frozen=True)
class StrongswanCase:
    name: str
    keys: dict[str, object]
    logged: dict[str, list[bytes]]
    messages: list[bytes]

    def one(self, label: str, index: int = 0) -> bytes:
        return self.logged[label][index]


def strongswan_case(name: str) -> StrongswanCase:
    folder = STRONGSWAN / name
    keys = json.loads((folder / "keys.json").read_text())
    logged: dict[str, list[bytes]] = {}
    for entry in keys["logged_values_initiator_side"]:
        logged.setdefault(entry["label"], []).append(bytes.fromhex(entry["hex"]))
    return StrongswanCase(name, keys, logged, ike_messages(folder / f"{name}.pcap"))


def seeded_keys(seed: int) -> SimpleKeySource:
    """A deterministic KeySource for tests."""
    rng = random.Random(seed)
    return SimpleKeySource(rng.randbytes)


def pump(a: IkeEndpoint, b: IkeEndpoint, rounds: int = 10,
         tap: Callable[[bytes], bytes] | None = None) -> tuple[list[IkeEvent], list[IkeEvent]]:
    """Shuttle messages both ways until quiet; return (events at a, events at b)."""
    events_a: list[IkeEvent] = []
    events_b: list[IkeEvent] = []
    for _ in range(rounds):
        moved = False
        for msg in a.outgoing():
            moved = True
            events_b += b.receive(tap(msg) if tap else msg)
        for msg in b.outgoing():
            moved = True
            events_a += a.receive(tap(msg) if tap else msg)
        if not moved:
            return events_a, events_b
    raise AssertionError("endpoints did not go quiet")
