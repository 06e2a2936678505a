"""The gateway's event log in ScreenOS ``get event`` form: hash-chained, sealed, rate-limited.

A line reads ``2026-11-23 11:20:13 system warn 00515 Admin user netscreen has
logged on via SSH from 127.0.0.1:40522``.  The lab adds what the real device
lacked:

* ``chain=<hex>``: ``chain_n = sha256((chain_{n-1} + text_n).encode()).hexdigest()``
  over the line without its suffixes, from :data:`GENESIS` (unkeyed: it shows
  accidents and clumsy edits, not an intruder who recomputes it);
* with a :class:`~kleptolab.device.sealing.Sealer`, forward-secure sealing:
  ``mac=<epoch>:<seq>:<hex>`` on every entry and a seal line closing every
  epoch (on a timer, also when nothing is logged, and on demand: by default
  right after an admin logon's 00528, so the logon is sealed before the admin
  gets a prompt).  ``kleptolab logs --verify-key`` checks them
  (:mod:`kleptolab.defend.logseal`).

Hygiene: repeated events are rate-limited with a "repeated N times" summary
(:mod:`~kleptolab.device.eventlimit`); boot lines (00009) and events at
``crit`` or worse go to a pinned region of their own, so a flood that fills
the ring cannot evict them.

Message IDs (00515/00518/00528 as in JSA10713; the others lab-chosen,
ScreenOS-like): 00515 admin logon / session timeout, 00518 failed admin
login, 00528 SSH/Telnet password authentication, 00536 IKE phase 1, 00537
IKE phase 2 (tunnel), 00538 ESP, 00539 dropped packets, 00767 configuration
change, 00009 boot and self-test, 00000 (module ``fss``) seal lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from enum import StrEnum

from kleptolab.device.eventlimit import RateLimit, RateLimiter
from kleptolab.device.sealing import SEAL_MODULE, SEAL_MSG_ID, Sealer, seal_message
from kleptolab.device.syslog_send import SyslogFormat, SyslogSender, parse_syslog_target

__all__ = [
    "GENESIS",
    "ChainReport",
    "EventLog",
    "LogEntry",
    "RateLimit",
    "Severity",
    "SyslogFormat",
    "SyslogSender",
    "admin_login_failed",
    "admin_logon",
    "admin_password_ok",
    "admin_timeout",
    "chain_next",
    "parse_syslog_target",
    "verify_chain",
]

GENESIS = "0" * 64
"""The chain value before the first line."""
DEFAULT_RATE_LIMIT = RateLimit()
"""50 lines per message ID per 10 s; boot, admin logons and seals exempt."""
MAX_CATCH_UP = 10_000
"""At most this many timer seals are written at once after a long pause (clock jump)."""


class Severity(StrEnum):
    """ScreenOS severities as ``get event`` prints them."""

    EMERG = "emer"
    ALERT = "alert"
    CRIT = "crit"
    ERROR = "error"
    WARN = "warn"
    NOTIF = "notif"
    INFO = "info"
    DEBUG = "debug"

    @property
    def code(self) -> int:
        """The syslog severity number (RFC 5424 §6.2.1)."""
        return list(Severity).index(self)

    @property
    def word(self) -> str:
        """The word ScreenOS syslog uses, e.g. ``warning`` in ``system-warning-00515``."""
        return _SYSLOG_WORDS[self]


_SYSLOG_WORDS = {
    Severity.EMERG: "emergency",
    Severity.ALERT: "alert",
    Severity.CRIT: "critical",
    Severity.ERROR: "error",
    Severity.WARN: "warning",
    Severity.NOTIF: "notification",
    Severity.INFO: "information",
    Severity.DEBUG: "debugging",
}

# VpnLog kinds (device-contract.md) -> (message ID, default severity)
_KINDS: dict[str, tuple[int, Severity]] = {
    "ike": (536, Severity.INFO),
    "tunnel": (537, Severity.INFO),
    "esp": (538, Severity.NOTIF),
    "drop": (539, Severity.WARN),
}


def chain_next(previous: str, text: str) -> str:
    """The chain value of a line with text ``text`` following chain value ``previous``."""
    return hashlib.sha256((previous + text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LogEntry:
    """One event: ``text`` is the ScreenOS line; ``chain``/``mac`` its suffix values (or "").

    ``seq`` numbers the MACed entries (1, 2, …); a seal line carries the ``seq``
    of the entry that will follow it.
    """

    seq: int
    when: datetime
    module: str
    severity: Severity
    msg_id: int
    message: str
    chain: str
    mac: str = ""

    @property
    def is_seal(self) -> bool:
        return self.module == SEAL_MODULE and self.msg_id == SEAL_MSG_ID

    @property
    def text(self) -> str:
        """The line as ``get event`` shows it, without the suffixes."""
        return (
            f"{self.when:%Y-%m-%d %H:%M:%S} {self.module} {self.severity.value} "
            f"{self.msg_id:05d} {self.message}"
        )

    @property
    def line(self) -> str:
        """The stored line: :attr:`text`, then `` chain=<hex>`` and `` mac=<e>:<seq>:<hex>`` if set."""
        out = self.text
        if self.chain:
            out += f" chain={self.chain}"
        if self.mac:
            out += f" mac={self.mac}"
        return out

    def _order(self) -> tuple[int, int]:
        return (self.seq, 1 if self.mac or not self.is_seal else 0)


def _pinned(entry: LogEntry) -> bool:
    return (
        entry.msg_id == 9 and entry.module == "system"
    ) or entry.severity.code <= Severity.CRIT.code


class EventLog:
    """Append-only event log; sinks (e.g. :class:`SyslogSender`) see each new entry (seals too).

    Only the newest ``max_entries`` are kept in the ring, plus up to
    ``max_pinned`` boot and critical lines in a pinned region; :attr:`anchor`
    is the chain value before the oldest ring line that was dropped, and
    :attr:`evicted` the highest ``seq`` dropped (recorded in every seal).
    ``sealer`` turns on forward-secure sealing; ``seal_after`` lists message
    IDs after which an epoch is sealed at once.  Call :meth:`tick` regularly
    (the gateway does, every second) so timer seals are written on time.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        hash_chain: bool = True,
        tz: tzinfo | None = None,
        max_entries: int = 10_000,
        max_pinned: int = 256,
        sealer: Sealer | None = None,
        seal_after: Iterable[int] = (528,),
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_pinned < 0:
            raise ValueError("max_pinned must not be negative")
        self._clock = clock
        self._tz = tz
        self.hash_chain = hash_chain
        self._entries: deque[LogEntry] = deque()
        self._pinned: deque[LogEntry] = deque()
        self._max = max_entries
        self._max_pinned = max_pinned
        self._head = GENESIS
        self.anchor = GENESIS
        self.evicted = 0
        self._seq = 0
        self._sinks: list[Callable[[LogEntry], None]] = []
        self.sealer = sealer
        self.seal_after = frozenset(seal_after)
        self._limiter = RateLimiter(rate_limit) if rate_limit is not None else None

    def add_sink(self, sink: Callable[[LogEntry], None]) -> None:
        """Call ``sink(entry)`` for every later entry (a failing sink never stops logging)."""
        self._sinks.append(sink)

    @property
    def suppressed(self) -> int:
        """Events not logged because of the rate limit (each counted in a summary line)."""
        return self._limiter.suppressed_total if self._limiter is not None else 0

    def _when(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, tz=self._tz)

    def _append(self, entry: LogEntry) -> LogEntry:
        if self.hash_chain:
            entry = replace(entry, chain=chain_next(self._head, entry.text))
            self._head = entry.chain
        pinned = _pinned(entry) and self._max_pinned > 0
        ring, cap = (self._pinned, self._max_pinned) if pinned else (self._entries, self._max)
        ring.append(entry)
        while len(ring) > cap:
            dropped = ring.popleft()
            if not pinned:
                self.anchor = dropped.chain or GENESIS
            self.evicted = max(self.evicted, dropped.seq - 1 if dropped.is_seal else dropped.seq)
        for sink in self._sinks:
            with contextlib.suppress(Exception):  # a broken sink must not take the device down
                sink(entry)
        return entry

    def _write_seal(self, when: datetime) -> LogEntry:
        assert self.sealer is not None
        fields = self.sealer.close(when, self._seq + 1, self.evicted)
        entry = LogEntry(
            self._seq + 1, when, SEAL_MODULE, Severity.NOTIF, SEAL_MSG_ID, seal_message(fields), ""
        )
        return self._append(entry)

    def seal(self) -> LogEntry | None:
        """Close the current epoch now (on demand) and restart the timer; None without a sealer."""
        if self.sealer is None:
            return None
        self.tick()
        now = self._clock()
        entry = self._write_seal(self._when(now))
        self.sealer.deadline = float(int(now)) + self.sealer.interval
        return entry

    def tick(self) -> None:
        """Write the timer seals and rate-limit summaries that are due by now."""
        now = self._clock()
        if self.sealer is not None:
            written = 0
            while self.sealer.deadline <= now and written < MAX_CATCH_UP:
                self._write_seal(self._when(self.sealer.deadline))
                self.sealer.deadline += self.sealer.interval
                written += 1
            if self.sealer.deadline <= now:  # clock jump: resume the timer from now
                self.sealer.deadline = float(int(now)) + self.sealer.interval
        if self._limiter is not None:
            for s in self._limiter.due(now):
                self._emit_now(
                    s.msg_id,
                    f"Message repeated {s.count} more times within {s.window:g} s, "
                    f"not logged (rate limit); the last: {s.last_message}",
                    Severity(s.severity),
                    s.module,
                    now,
                )

    def _emit_now(
        self, msg_id: int, clean: str, severity: Severity, module: str, now: float
    ) -> LogEntry:
        self._seq += 1
        draft = LogEntry(self._seq, self._when(now), module, severity, msg_id, clean, "")
        if self.sealer is not None:
            draft = replace(draft, mac=self.sealer.mac(self._seq, draft.text))
        entry = self._append(draft)
        if self.sealer is not None and msg_id in self.seal_after:
            self._write_seal(self._when(now))
            self.sealer.deadline = float(int(now)) + self.sealer.interval
        return entry

    def emit(
        self,
        msg_id: int,
        message: str,
        *,
        severity: Severity = Severity.INFO,
        module: str = "system",
    ) -> LogEntry:
        """Append one event and return it (a rate-limited event is returned but not stored)."""
        if not 0 <= msg_id <= 99_999:
            raise ValueError(f"message ID must be 0..99999, got {msg_id}")
        if module == SEAL_MODULE:
            raise ValueError(f"module {SEAL_MODULE!r} is reserved for seal lines")
        clean = " ".join(message.replace("\x00", "").split())
        sev = Severity(severity)
        self.tick()
        now = self._clock()
        if self._limiter is not None:
            ok, _ = self._limiter.allow(
                now, msg_id, sev.code <= Severity.CRIT.code, module, sev.value, clean
            )
            if not ok:
                return LogEntry(0, self._when(now), module, sev, msg_id, clean, "")
        return self._emit_now(msg_id, clean, sev, module, now)

    def clear(self, msg_ids: Iterable[int] | None = None) -> int:
        """Erase entries (all, or those with a message ID in ``msg_ids``), as ``clear event`` does.

        Nothing else changes: the sealer keeps its epoch and sequence numbers,
        so a verifier holding the verification key sees what went missing.
        """
        wanted = None if msg_ids is None else frozenset(msg_ids)
        removed = 0
        for ring in (self._entries, self._pinned):
            keep = [e for e in ring if wanted is not None and e.msg_id not in wanted]
            removed += len(ring) - len(keep)
            ring.clear()
            ring.extend(keep)
        return removed

    def record(self, kind: str, message: str, **fields: object) -> None:
        """The VPN service's ``VpnLog`` hook: ``ike``→00536, ``tunnel``→00537, ``esp``→00538, ``drop``→00539.

        ``msg_id=`` and ``severity=`` in ``fields`` override the defaults.
        """
        msg_id, severity = _KINDS.get(kind, (536, Severity.INFO))
        override_id = fields.get("msg_id")
        if isinstance(override_id, int):
            msg_id = override_id
        override_sev = fields.get("severity")
        if isinstance(override_sev, str) and override_sev in Severity._value2member_map_:
            severity = Severity(override_sev)
        self.emit(msg_id, message, severity=severity)

    @property
    def entries(self) -> tuple[LogEntry, ...]:
        """The kept entries (pinned and ring merged), oldest first."""
        if not self._pinned:
            return tuple(self._entries)
        return tuple(heapq.merge(self._pinned, self._entries, key=LogEntry._order))

    @property
    def head(self) -> str:
        """The chain value of the newest line."""
        return self._head

    def lines(self) -> list[str]:
        """The kept lines, oldest first, each with its suffixes."""
        return [entry.line for entry in self.entries]


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`: ``ok``, lines checked, and the first bad line (0-based)."""

    ok: bool
    checked: int
    first_bad: int | None = None
    reason: str = ""


_CHAIN_RE = re.compile(r"^(?P<text>.*) chain=(?P<chain>[0-9a-f]{64})$")


def verify_chain(lines: Iterable[str], genesis: str = GENESIS) -> ChainReport:
    """Check that ``lines`` (oldest first) form an unbroken chain from ``genesis``.

    A deleted, inserted, reordered or edited line makes the next link fail.
    Deleting only the newest lines is invisible here, and anyone can recompute
    the chain: sealing (:mod:`kleptolab.defend.logseal`) covers both.
    A trailing `` mac=…`` is ignored here.
    """
    previous = genesis
    checked = 0
    for number, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        head, sep, tail = line.rpartition(" mac=")
        if sep and " " not in tail:
            line = head
        match = _CHAIN_RE.match(line)
        if match is None:
            return ChainReport(False, checked, number, "line has no chain=<64 hex> suffix")
        expected = chain_next(previous, match["text"])
        if match["chain"] != expected:
            return ChainReport(
                False, checked, number, "chain value does not follow from the previous line"
            )
        previous = match["chain"]
        checked += 1
    return ChainReport(True, checked)


# -- admin-session messages (JSA10713 shapes) -------------------------------------------


def admin_logon(log: EventLog, user: str, via: str, ip: str, port: int) -> LogEntry:
    """00515: ``Admin user <user> has logged on via <SSH|Telnet> from <ip>:<port>``."""
    return log.emit(
        515, f"Admin user {user} has logged on via {via} from {ip}:{port}", severity=Severity.WARN
    )


def admin_password_ok(log: EventLog, typed_user: str, via: str, ip: str) -> LogEntry:
    """00528: ``<via>: Password authentication successful for admin user '<typed>' at host <ip>.``"""
    return log.emit(
        528,
        f"{via}: Password authentication successful for admin user '{typed_user}' at host {ip}.",
        severity=Severity.WARN,
    )


def admin_login_failed(
    log: EventLog, typed_user: str, via: str, local_port: int, ip: str, port: int
) -> LogEntry:
    """00518: ``Admin user "<typed>" login attempt for <via> management (port N) from ip:port failed.``"""
    return log.emit(
        518,
        f'Admin user "{typed_user}" login attempt for {via} management (port {local_port}) '
        f"from {ip}:{port} failed.",
        severity=Severity.WARN,
    )


def admin_timeout(log: EventLog, user: str, via: str, ip: str, port: int) -> LogEntry:
    """00515 (timeout form): ``Management session via <via> from ip:port for admin <user> has timed out``."""
    return log.emit(
        515,
        f"Management session via {via} from {ip}:{port} for admin {user} has timed out",
        severity=Severity.WARN,
    )
