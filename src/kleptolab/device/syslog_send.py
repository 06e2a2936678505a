"""The gateway's syslog sender: each event (seals included) as one UDP datagram to a loopback collector.

Body: ``NetScreen device_id=<id>  [Root]<module>-<severity>-<msgid>: <text> (<date time>)``
followed by `` chain=<hex>`` and `` mac=<epoch>:<seq>:<hex>`` when the log has them.
Seals travel as lab-defined seal lines (module ``fss``, message ID 00000,
see :mod:`kleptolab.device.sealing`), so a collector keeps everything a
verifier needs, in the spirit of RFC 5848's signature blocks.
"""

from __future__ import annotations

import ipaddress
import socket
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kleptolab.device.eventlog import LogEntry

__all__ = ["SyslogFormat", "SyslogSender", "parse_syslog_target"]


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
        raise ValueError(
            f"syslog collector {host!r} is not an IP address (use e.g. 127.0.0.1:5514)"
        ) from None
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
        if entry.mac:
            body += f" mac={entry.mac}"
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
