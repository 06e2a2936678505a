"""Rate limiting of repeated events, as devices do (syslogd's "last message repeated N times").

Per message ID, at most ``burst`` lines per ``window`` seconds reach the log;
the rest are counted, and once the window is over one summary line says how
many were suppressed.  Message IDs in ``exempt`` (boot, admin logons, seals)
and events at ``crit`` or worse are never limited.  Sans-I/O: the caller
passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RateLimit", "RateLimiter", "Suppressed"]


@dataclass(frozen=True)
class RateLimit:
    """``burst`` lines per message ID per ``window`` seconds; ``exempt`` IDs are never limited."""

    burst: int = 50
    window: float = 10.0
    exempt: frozenset[int] = frozenset({0, 9, 515, 518, 528})

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"rate limit burst must be at least 1, got {self.burst}")
        if not self.window > 0:
            raise ValueError(f"rate limit window must be positive, got {self.window}")


@dataclass(frozen=True)
class Suppressed:
    """A window is over: ``count`` lines of ``msg_id`` were not logged (the last one is kept)."""

    msg_id: int
    count: int
    window: float
    module: str
    severity: str
    last_message: str


@dataclass
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0
    module: str = ""
    severity: str = ""
    last: str = ""


@dataclass
class RateLimiter:
    """Decides per event whether it is logged; collects the summaries that are due."""

    limit: RateLimit = field(default_factory=RateLimit)
    suppressed_total: int = 0
    _windows: dict[int, _Window] = field(default_factory=dict)

    def allow(
        self, now: float, msg_id: int, critical: bool, module: str, severity: str, message: str
    ) -> tuple[bool, list[Suppressed]]:
        """``(log it?, summaries now due)`` for one event at ``now``."""
        due = self.due(now)
        if critical or msg_id in self.limit.exempt:
            return True, due
        w = self._windows.get(msg_id)
        if w is None:
            w = self._windows[msg_id] = _Window(now)
        if w.logged < self.limit.burst:
            w.logged += 1
            return True, due
        w.suppressed += 1
        self.suppressed_total += 1
        w.module, w.severity, w.last = module, severity, message
        return False, due

    def due(self, now: float) -> list[Suppressed]:
        """Summaries of windows that are over (their counters are reset)."""
        out: list[Suppressed] = []
        for msg_id in [k for k, w in self._windows.items() if now - w.start >= self.limit.window]:
            w = self._windows.pop(msg_id)
            if w.suppressed:
                out.append(
                    Suppressed(
                        msg_id, w.suppressed, self.limit.window, w.module, w.severity, w.last
                    )
                )
        return out
