"""Parse ScreenOS event logs: the ``get event`` form and ScreenOS syslog (RFC 5424 / BSD).

``get event`` (and the lab gateway's log file)::

    2026-11-23 11:20:13 system warn 00515 Admin user system has logged on via SSH from 127.0.0.1:40522
    2026-11-23 11:20:13 system warn 00528 SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.

Syslog carries the same message text after a header and the ScreenOS body
prefix ``NetScreen device_id=<id>  [Root]system-warning-00515: <text> (<date> <time>)``.

Suffixes (agreed with the gateway, :mod:`kleptolab.device.eventlog`): `` chain=<64 hex>``
and then `` mac=<epoch>:<seq>:<32 hex>`` (forward-secure sealing); seal lines
have module ``fss`` and message ID 00000.  Parsing is linear in the input.

Hash chain (agreed with the gateway, :mod:`kleptolab.device.eventlog`): a line
may end in `` chain=<64 hex>`` with ``chain = sha256(previous chain + line
text)`` as hex, over the ``get event`` text without the suffix, starting from
64 zeros.  For syslog lines the ``get event`` text is rebuilt from the fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Event", "ParseResult", "iter_events", "parse_line", "parse_lines"]

_WORDS = {
    "emergency": "emer",
    "alert": "alert",
    "critical": "crit",
    "error": "error",
    "warning": "warn",
    "notification": "notif",
    "information": "info",
    "debugging": "debug",
}
# Linear time by construction: anchored prefixes without nested or overlapping
# quantifiers; suffixes (mac=, chain=, the syslog date) are cut off with
# rpartition and checked with fixed-width patterns (issue: one 100 KB line).
_EVENT_HEAD = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2}) (?P<module>[a-z][\w-]{0,63}) "
    r"(?P<sev>emer|alert|crit|error|warn|notif|info|debug) +(?P<id>\d{5})(?: |$)"
)
_SYSLOG_MARK = "NetScreen device_id="
_SYSLOG_HEAD = re.compile(
    r"(?P<dev>[^\s\]]{1,64})\s{1,8}\[(?P<vsys>[^\]]{0,64})\](?P<module>[a-z]\w{0,63})-"
    r"(?P<word>[a-z]{1,16})-(?P<id>\d{5}): "
)
_SYSLOG_DATE = re.compile(r" \((?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})\)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MACVAL = re.compile(r"\d{1,12}:\d{1,15}:[0-9a-f]{32}")
_RFC5424 = re.compile(r"<\d{1,3}>1 ")
_BSD = re.compile(r"(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} ")

_LOGON = re.compile(
    r"Admin user (?P<user>\S{1,256}) has logged on via (?P<via>\w{1,16}) from "
    r"(?P<ip>[^\s:]{1,64}|[^\s]{1,64}?):(?P<port>\d{1,5})"
)
_PASSWORD_OK = re.compile(
    r"(?P<via>\w{1,16}): Password authentication successful for admin user "
    r"'(?P<user>[^']{0,256})' at host (?P<ip>[^\s]{1,64}?)\.?"
)
_FAILED = re.compile(
    r'Admin user "(?P<user>[^"]{0,256})" login attempt for (?P<via>\w{1,16}) '
    r"management \(port \d{1,5}\) from (?P<ip>[^\s]{1,64}?):(?P<port>\d{1,5}) failed\.?"
)
_PATTERNS = {
    515: (_LOGON, "logon"),
    528: (_PASSWORD_OK, "password-ok"),
    518: (_FAILED, "login-failed"),
}
MAX_SEMANTIC = 1024
"""Messages longer than this are never admin-login lines (their patterns are bounded)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One parsed line.

    ``kind`` is ``logon`` (00515 logged on), ``password-ok`` (00528),
    ``login-failed`` (00518), ``seal`` (a sealing line, module ``fss``) or
    ``other``; ``user``/``ip``/``via`` are set for the first three.  ``text``
    is the ``get event`` text the chain and the MAC cover; ``mac`` is the
    ``mac=`` value and ``device`` the syslog ``device_id``, when present.
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
    mac: str | None = None
    device: str | None = None

    @property
    def stamp(self) -> str:
        """The device's date and time as the line shows it."""
        return f"{self.when:%Y-%m-%d %H:%M:%S}"

    @property
    def text(self) -> str:
        """The ``get event`` form of the line, without the suffixes."""
        return f"{self.stamp} {self.module} {self.severity} {self.msg_id:05d} {self.message}"


def _semantics(msg_id: int, message: str) -> tuple[str, str | None, str | None, str | None]:
    pattern = _PATTERNS.get(msg_id)
    if pattern is None or len(message) > MAX_SEMANTIC:
        return "other", None, None, None
    m = pattern[0].fullmatch(message)
    if m is None:
        return "other", None, None, None
    return pattern[1], m["user"], m["ip"], m["via"]


def _suffixes(rest: str) -> tuple[str, str | None, str | None]:
    """Cut `` mac=…`` and `` chain=…`` off the end: ``(rest, chain, mac)``."""
    rest = rest.rstrip()
    mac = chain = None
    head, sep, tail = rest.rpartition(" mac=")
    if sep and _MACVAL.fullmatch(tail):
        rest, mac = head.rstrip(), tail
    head, sep, tail = rest.rpartition(" chain=")
    if sep and _HEX64.fullmatch(tail):
        rest, chain = head, tail
    return rest, chain, mac


def parse_line(line: str, source: str = "-", number: int = 0) -> Event | None:
    """Parse one line of any supported form; ``None`` when it is not a ScreenOS event.

    Linear in the line's length.
    """
    text = line.rstrip("\r\n")
    device = None
    m = _EVENT_HEAD.match(text)
    if m is not None:
        form, severity, module = "event", m["sev"], m["module"]
        date, clock, msg_id = m["date"], m["time"], m["id"]
        message, chain, mac = _suffixes(text[m.end() :])
    else:
        at = text.find(_SYSLOG_MARK)
        if at < 0:
            return None
        h = _SYSLOG_HEAD.match(text, at + len(_SYSLOG_MARK))
        if h is None or h["word"] not in _WORDS:
            return None
        body, chain, mac = _suffixes(text[h.end() :])
        d = _SYSLOG_DATE.fullmatch(body, len(body) - 22) if len(body) >= 22 else None
        if d is None:
            return None
        message, date, clock = body[: len(body) - 22], d["date"], d["time"]
        severity, module, msg_id, device = _WORDS[h["word"]], h["module"], h["id"], h["dev"]
        form = (
            "syslog-rfc5424"
            if _RFC5424.match(text)
            else "syslog-bsd"
            if _BSD.match(text)
            else "syslog"
        )
    try:
        when = datetime.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    ident = int(msg_id)
    if module == "fss" and ident == 0:
        kind, user, ip, via = "seal", None, None, None
    else:
        kind, user, ip, via = _semantics(ident, message)
    return Event(
        source,
        number,
        when,
        module,
        severity,
        ident,
        message,
        form,
        chain,
        kind,
        user,
        ip,
        via,
        mac,
        device,
    )


@dataclass
class ParseResult:
    """Events in file order, plus the bad lines (counted; the first few kept)."""

    events: list[Event]
    bad_lines: int
    bad_examples: list[str]


def iter_events(lines: Iterable[str], source: str, result: ParseResult) -> Iterator[Event]:
    """Parse lazily (constant memory); bad lines are counted in ``result``, never fatal."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        event = parse_line(raw, source, number)
        if event is None:
            result.bad_lines += 1
            if len(result.bad_examples) < 5:
                result.bad_examples.append(f"{source}:{number}: {raw.strip()[:120]}")
        else:
            yield event


def parse_lines(lines: Iterable[str], source: str = "-") -> ParseResult:
    """Parse every line; blank lines are skipped, unparseable ones counted, never fatal."""
    result = ParseResult([], 0, [])
    result.events.extend(iter_events(lines, source, result))
    return result
