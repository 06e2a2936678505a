"""Rate limiting of repeated events, as devices do (syslogd's "last message repeated N times").

Per message ID and message shape (the text with every run of digits and
hex letters folded, so "IKE 10.0.0.7: IKEv2 COOKIE sent" from any address is
one shape), at most ``burst`` lines per ``window`` seconds reach the log; the
rest are counted, and once the window is over one summary line says how many
were suppressed.  At most ``MAX_SHAPES`` shapes are tracked at once; beyond
that, lines share one budget per message ID (bounded memory under a flood).  Message IDs in ``exempt`` (boot, admin logons, seals)
and events at ``crit`` or worse are never limited.  Sans-I/O: the caller
passes the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["RateLimit", "RateLimiter", "Suppressed"]


MAX_SHAPES = 1024
_FOLD = re.compile(r"[0-9a-f]+")


def shape(message: str) -> str:
    """The message's template: runs of digits and hex letters folded to ``#`` (first 80 chars)."""
    return _FOLD.sub("#", message[:80])


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
    """A window is over: ``count`` lines of one shape of ``msg_id`` were not logged."""

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
    _windows: dict[tuple[int, str], _Window] = field(default_factory=dict)

    def allow(
        self, now: float, msg_id: int, critical: bool, module: str, severity: str, message: str
    ) -> tuple[bool, list[Suppressed]]:
        """``(log it?, summaries now due)`` for one event at ``now``."""
        due = self.due(now)
        if critical or msg_id in self.limit.exempt:
            return True, due
        key = (msg_id, shape(message))
        if key not in self._windows and len(self._windows) >= MAX_SHAPES:
            key = (msg_id, "")
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window(now)
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
        for key in [k for k, w in self._windows.items() if now - w.start >= self.limit.window]:
            w = self._windows.pop(key)
            msg_id = key[0]
            if w.suppressed:
                out.append(
                    Suppressed(
                        msg_id, w.suppressed, self.limit.window, w.module, w.severity, w.last
                    )
                )
        return out
