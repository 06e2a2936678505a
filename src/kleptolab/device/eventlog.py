"""The gateway's event log in ScreenOS ``get event`` form, hash-chained, with a syslog sender.

A line reads ``2026-11-23 11:20:13 system warn 00515 Admin user netscreen has
logged on via SSH from 127.0.0.1:40522``.  The lab adds what the real device
lacked: each line carries ``chain=<hex>`` where
``chain_n = sha256((chain_{n-1} + text_n).encode()).hexdigest()`` over the line
without its chain suffix, starting from :data:`GENESIS`; deleting or editing a
line breaks every later link (:func:`verify_chain`).

Message IDs (00515/00518/00528 as in JSA10713; the others lab-chosen,
ScreenOS-like): 00515 admin logon / session timeout, 00518 failed admin
login, 00528 SSH/Telnet password authentication, 00536 IKE phase 1, 00537
IKE phase 2 (tunnel), 00538 ESP, 00539 dropped packets, 00767 configuration
change, 00009 boot and self-test.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

__all__ = [
    "GENESIS",
    "ChainReport",
    "EventLog",
    "LogEntry",
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
    """One event: ``text`` is the ScreenOS line, ``chain`` its hash-chain value (or "")."""

    seq: int
    when: datetime
    module: str
    severity: Severity
    msg_id: int
    message: str
    chain: str

    @property
    def text(self) -> str:
        """The line as ``get event`` shows it, without the chain suffix."""
        return (
            f"{self.when:%Y-%m-%d %H:%M:%S} {self.module} {self.severity.value} "
            f"{self.msg_id:05d} {self.message}"
        )

    @property
    def line(self) -> str:
        """The stored line: :attr:`text` plus `` chain=<hex>`` when chaining is on."""
        return f"{self.text} chain={self.chain}" if self.chain else self.text


class EventLog:
    """Append-only event log; sinks (e.g. :class:`SyslogSender`) see each new entry.

    Only the newest ``max_entries`` are kept; :attr:`anchor` is then the chain
    value before the oldest kept line (pass it to :func:`verify_chain`).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        hash_chain: bool = True,
        tz: tzinfo | None = None,
        max_entries: int = 10_000,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._clock = clock
        self._tz = tz
        self.hash_chain = hash_chain
        self._entries: deque[LogEntry] = deque()
        self._max = max_entries
        self._head = GENESIS
        self.anchor = GENESIS
        self._seq = 0
        self._sinks: list[Callable[[LogEntry], None]] = []

    def add_sink(self, sink: Callable[[LogEntry], None]) -> None:
        """Call ``sink(entry)`` for every later entry (a failing sink never stops logging)."""
        self._sinks.append(sink)

    def emit(
        self, msg_id: int, message: str, *, severity: Severity = Severity.INFO, module: str = "system"
    ) -> LogEntry:
        """Append one event and return it."""
        if not 0 <= msg_id <= 99_999:
            raise ValueError(f"message ID must be 0..99999, got {msg_id}")
        clean = " ".join(message.replace("\x00", "").split())
        self._seq += 1
        when = datetime.fromtimestamp(self._clock(), tz=self._tz)
        draft = LogEntry(self._seq, when, module, Severity(severity), msg_id, clean, "")
        if self.hash_chain:
            chain = chain_next(self._head, draft.text)
            draft = LogEntry(self._seq, when, module, draft.severity, msg_id, clean, chain)
            self._head = chain
        self._entries.append(draft)
        while len(self._entries) > self._max:
            dropped = self._entries.popleft()
            self.anchor = dropped.chain or GENESIS
        for sink in self._sinks:
            with contextlib.suppress(Exception):  # a broken sink must not take the device down
                sink(draft)
        return draft

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
        """The kept entries, oldest first."""
        return tuple(self._entries)

    @property
    def head(self) -> str:
        """The chain value of the newest line."""
        return self._head

    def lines(self) -> list[str]:
        """The kept lines, oldest first, each with its chain suffix when chaining is on."""
        return [entry.line for entry in self._entries]


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
    Deleting only the newest lines is invisible here: compare :attr:`EventLog.head`
    (or the syslog copy) for that.
    """
    previous = genesis
    checked = 0
    for number, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
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
    return log.emit(515, f"Admin user {user} has logged on via {via} from {ip}:{port}", severity=Severity.WARN)


def admin_password_ok(log: EventLog, typed_user: str, via: str, ip: str) -> LogEntry:
    """00528: ``<via>: Password authentication successful for admin user '<typed>' at host <ip>.``"""
    return log.emit(
        528,
        f"{via}: Password authentication successful for admin user '{typed_user}' at host {ip}.",
        severity=Severity.WARN,
    )


def admin_login_failed(log: EventLog, typed_user: str, via: str, local_port: int, ip: str, port: int) -> LogEntry:
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


# -- syslog -------------------------------------------------------------------------------


class SyslogFormat(StrEnum):
    """Syslog framing: RFC 5424 or the BSD form of RFC 3164."""

    RFC5424 = "rfc5424"
    BSD = "bsd"


def parse_syslog_target(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (default port 514); ``ValueError`` unless HOST is a loopback address.

    The lab only ever sends syslog to a collector on this machine (safety rule).
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), "514"
    host = host.strip("[]") or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"syslog collector {host!r} is not an IP address (use e.g. 127.0.0.1:5514)") from None
    if not address.is_loopback:
        raise ValueError(
            f"syslog collector {host} is not a loopback address: the lab only sends syslog to 127.0.0.0/8 or ::1"
        )
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"syslog port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"syslog port must be 1..65535, got {port}")
    return str(address), port


class SyslogSender:
    """Send each :class:`LogEntry` as one UDP datagram in ScreenOS syslog form (add it as a sink).

    Body: ``NetScreen device_id=<id>  [Root]system-<severity>-<msgid>: <text> (<date time>) chain=<hex>``.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        fmt: SyslogFormat = SyslogFormat.RFC5424,
        hostname: str = "ssg5-lab",
        device_id: str = "0000000000000000",
        facility: int = 16,
    ) -> None:
        host, port = parse_syslog_target(f"[{target[0]}]:{target[1]}")
        if not 0 <= facility <= 23:
            raise ValueError(f"syslog facility must be 0..23, got {facility}")
        self.target = (host, port)
        self.fmt = SyslogFormat(fmt)
        self.hostname = hostname
        self.device_id = device_id
        self.facility = facility
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.sent = 0

    def format(self, entry: LogEntry) -> bytes:
        """The datagram for ``entry``."""
        pri = self.facility * 8 + entry.severity.code
        body = (
            f"NetScreen device_id={self.device_id}  [Root]{entry.module}-{entry.severity.word}-"
            f"{entry.msg_id:05d}: {entry.message} ({entry.when:%Y-%m-%d %H:%M:%S})"
        )
        if entry.chain:
            body += f" chain={entry.chain}"
        if self.fmt is SyslogFormat.BSD:
            stamp = f"{entry.when:%b} {entry.when.day:>2} {entry.when:%H:%M:%S}"
            return f"<{pri}>{stamp} {self.hostname}: {body}".encode()
        stamp = entry.when.astimezone().isoformat(timespec="seconds")
        return f"<{pri}>1 {stamp} {self.hostname} NetScreen - {entry.msg_id:05d} - {body}".encode()

    def __call__(self, entry: LogEntry) -> None:
        """Send ``entry``; a full buffer or an absent collector loses the datagram, as UDP does."""
        try:
            self._sock.sendto(self.format(entry), self.target)
            self.sent += 1
        except OSError:
            pass

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
