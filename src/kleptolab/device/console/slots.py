"""Console connection slots: pre-authentication budgets per source and in total, then session slots.

A connection first holds a *pending* slot until it logs in (bounded by the
short pre-authentication timeout).  A source may hold ``max_pending_per_source``
pending slots; beyond that its new connections are refused.  When all
``max_pending`` are taken, a new connection from a source below its budget
evicts the oldest pending connection of the source holding the most (the same
fair-eviction rule as the IKE half-open table), so idle connections, from one
address or many, cannot keep a login from another address out.  A successful
login moves the connection to one of ``max_sessions`` session slots.
Sans-I/O: the transports pass a ``close`` callback that ends the connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ConsoleSlots", "Slot"]


@dataclass(eq=False)
class Slot:
    """One connection's hold on the console."""

    ip: str
    close: Callable[[], None]
    order: int = 0
    authenticated: bool = False
    released: bool = field(default=False, repr=False)


class ConsoleSlots:
    """Pending (pre-auth) and session slots for both transports."""

    def __init__(self, max_sessions: int, max_pending: int, max_pending_per_source: int) -> None:
        if min(max_sessions, max_pending, max_pending_per_source) < 1:
            raise ValueError("console slot limits must be at least 1")
        self.max_sessions = max_sessions
        self.max_pending = max_pending
        self.max_pending_per_source = min(max_pending_per_source, max_pending)
        self._pending: dict[str, list[Slot]] = {}
        self._sessions: set[Slot] = set()
        self._order = itertools.count()
        self.refused = 0
        self.evicted = 0

    @property
    def pending(self) -> int:
        return sum(len(slots) for slots in self._pending.values())

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def pending_from(self, ip: str) -> int:
        return len(self._pending.get(ip, ()))

    def open(self, ip: str, close: Callable[[], None]) -> Slot | None:
        """A pending slot for a new connection from ``ip``, or None (refused: its budget is used)."""
        if self.pending_from(ip) >= self.max_pending_per_source:
            self.refused += 1
            return None
        if self.pending >= self.max_pending:
            self._evict_one()
        slot = Slot(ip, close, next(self._order))
        self._pending.setdefault(ip, []).append(slot)
        return slot

    def authenticated(self, slot: Slot) -> bool:
        """Move ``slot`` to a session slot; False when all ``max_sessions`` are in use."""
        if slot.released or slot.authenticated:
            return slot.authenticated
        if len(self._sessions) >= self.max_sessions:
            return False
        self._unpend(slot)
        slot.authenticated = True
        self._sessions.add(slot)
        return True

    def release(self, slot: Slot) -> None:
        """The connection ended (idempotent)."""
        if slot.released:
            return
        slot.released = True
        if slot.authenticated:
            self._sessions.discard(slot)
        else:
            self._unpend(slot)

    def _evict_one(self) -> None:
        most = max(len(slots) for slots in self._pending.values())
        victim = min(
            (slots[0] for slots in self._pending.values() if len(slots) == most),
            key=lambda s: s.order,
        )
        self.release(victim)
        self.evicted += 1
        victim.close()

    def _unpend(self, slot: Slot) -> None:
        slots = self._pending.get(slot.ip)
        if slots is not None and slot in slots:
            slots.remove(slot)
            if not slots:
                del self._pending[slot.ip]
