"""Parse ScreenOS event logs: the ``get event`` form and ScreenOS syslog (RFC 5424 / BSD).

``get event`` (and the lab gateway's log file)::

    2026-11-23 11:20:13 system warn 00515 Admin user system has logged on via SSH from 127.0.0.1:40522
    2026-11-23 11:20:13 system warn 00528 SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.

Syslog carries the same message text after a header and the ScreenOS body
prefix ``NetScreen device_id=<id>  [Root]system-warning-00515: <text> (<date> <time>)``.

Hash chain (agreed with the gateway, :mod:`kleptolab.device.eventlog`): a line
may end in `` chain=<64 hex>`` with ``chain = sha256(previous chain + line
text)`` as hex, over the ``get event`` text without the suffix, starting from
64 zeros.  For syslog lines the ``get event`` text is rebuilt from the fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Event", "ParseResult", "parse_line", "parse_lines"]

_WORDS = {"emergency": "emer", "alert": "alert", "critical": "crit", "error": "error",
          "warning": "warn", "notification": "notif", "information": "info", "debugging": "debug"}
_CHAIN = r"(?: chain=(?P<chain>[0-9a-f]{64}))?\s*$"
_EVENT_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2}) (?P<module>[a-z][\w-]*) "
    r"(?P<sev>emer|alert|crit|error|warn|notif|info|debug) +(?P<id>\d{5}) (?P<msg>.*?)" + _CHAIN
)
_SYSLOG_RE = re.compile(
    r"NetScreen device_id=(?P<dev>\S+)\s+\[(?P<vsys>[^\]]*)\](?P<module>[a-z][\w]*)-"
    r"(?P<word>[a-z]+)-(?P<id>\d{5}): (?P<msg>.*?) "
    r"\((?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})\)" + _CHAIN
)
_RFC5424 = re.compile(r"^<\d{1,3}>1 ")
_BSD = re.compile(r"^(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} ")

_LOGON = re.compile(r"^Admin user (?P<user>\S+) has logged on via (?P<via>\w+) from "
                    r"(?P<ip>\S+):(?P<port>\d+)$")
_PASSWORD_OK = re.compile(r"^(?P<via>\w+): Password authentication successful for admin user "
                          r"'(?P<user>[^']*)' at host (?P<ip>\S+?)\.?$")
_FAILED = re.compile(r'^Admin user "(?P<user>[^"]*)" login attempt for (?P<via>\w+) management '
                     r"\(port \d+\) from (?P<ip>\S+):(?P<port>\d+) failed\.?$")


@dataclass(frozen=True)
class Event:
    """One parsed line.

    ``kind`` is ``logon`` (00515 logged on), ``password-ok`` (00528),
    ``login-failed`` (00518) or ``other``; ``user``/``ip``/``via`` are set for
    the first three.  ``text`` is the ``get event`` text used for the chain.
    """

    source: str
    line: int
    when: datetime
    module: str
    severity: str
    msg_id: int
    message: str
    form: str  # "event" | "syslog-rfc5424" | "syslog-bsd" | "syslog"
    chain: str | None
    kind: str = "other"
    user: str | None = None
    ip: str | None = None
    via: str | None = None

    @property
    def text(self) -> str:
        """The ``get event`` form of the line, without the chain suffix."""
        return (f"{self.when:%Y-%m-%d %H:%M:%S} {self.module} {self.severity} "
                f"{self.msg_id:05d} {self.message}")


def _semantics(msg_id: int, message: str) -> dict[str, str | None]:
    patterns = {515: (_LOGON, "logon"), 528: (_PASSWORD_OK, "password-ok"),
                518: (_FAILED, "login-failed")}
    if msg_id not in patterns:
        return {}
    regex, kind = patterns[msg_id]
    m = regex.match(message)
    if m is None:
        return {}
    return {"kind": kind, "user": m["user"], "ip": m["ip"], "via": m["via"]}


def parse_line(line: str, source: str = "-", number: int = 0) -> Event | None:
    """Parse one line of any supported form; ``None`` when it is not a ScreenOS event."""
    text = line.rstrip("\r\n")
    m = _EVENT_RE.match(text)
    form, severity = "event", ""
    if m is not None:
        severity = m["sev"]
    else:
        m = _SYSLOG_RE.search(text)
        if m is None or m["word"] not in _WORDS:
            return None
        severity = _WORDS[m["word"]]
        form = ("syslog-rfc5424" if _RFC5424.match(text) else
                "syslog-bsd" if _BSD.match(text) else "syslog")
    try:
        when = datetime.strptime(f"{m['date']} {m['time']}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    msg_id, message = int(m["id"]), m["msg"]
    sem = _semantics(msg_id, message)
    return Event(source, number, when, m["module"], severity, msg_id, message, form,
                 m["chain"], sem.get("kind") or "other", sem.get("user"), sem.get("ip"),
                 sem.get("via"))


@dataclass
class ParseResult:
    """Events in file order, plus the bad lines (counted; the first few kept)."""

    events: list[Event]
    bad_lines: int
    bad_examples: list[str]


def parse_lines(lines: Iterable[str], source: str = "-") -> ParseResult:
    """Parse every line; blank lines are skipped, unparseable ones counted, never fatal."""
    result = ParseResult([], 0, [])
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        event = parse_line(raw, source, number)
        if event is None:
            result.bad_lines += 1
            if len(result.bad_examples) < 5:
                result.bad_examples.append(f"{source}:{number}: {raw.strip()[:120]}")
        else:
            result.events.append(event)
    return result
