"""Values that cross the VPN core's boundary: datagrams, events and the log hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kleptolab.ike.common import ChildSaKeys, IkeEvent

Address = tuple[str, int]
IKE_PORT = 500
NATT_PORT = 4500


@dataclass(frozen=True)
class Datagram:
    """One UDP payload exactly as on the wire; ``local_port`` is the role (500 or 4500)."""

    data: bytes
    remote: Address
    local_port: int


class VpnLog(Protocol):
    """Where the core reports what it did (the gateway's event log satisfies it)."""

    def record(self, kind: str, message: str, **fields: object) -> None: ...


class MemoryLog:
    """A :class:`VpnLog` that keeps ``(kind, message, fields)`` tuples (clients and tests)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, dict[str, object]]] = []

    def record(self, kind: str, message: str, **fields: object) -> None:
        self.entries.append((kind, message, fields))

    def kinds(self, kind: str) -> list[str]:
        """Messages of one kind, in order."""
        return [message for k, message, _ in self.entries if k == kind]


@dataclass(frozen=True)
class TunnelUp:
    """A child SA is installed: ESP to and from ``remote`` now flows."""

    config_name: str
    remote: Address
    child: ChildSaKeys


@dataclass(frozen=True)
class InnerPacket:
    """A decapsulated inner IPv4 packet that passed the tunnel's traffic selectors."""

    remote: Address
    packet: bytes


@dataclass(frozen=True)
class IkeEventSeen:
    """An engine event, passed through (established, deleted, failed)."""

    remote: Address
    event: IkeEvent


@dataclass(frozen=True)
class Dropped:
    """A datagram or packet was refused; the reason is also logged."""

    remote: Address
    reason: str


VpnEvent = TunnelUp | InnerPacket | IkeEventSeen | Dropped
