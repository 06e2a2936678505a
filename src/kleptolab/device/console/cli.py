"""A small ScreenOS-like command interpreter, sans-I/O: one text line in, text out.

Commands: ``get system``, ``get clock``, ``get event``, ``get config``,
``get ike cookies``, ``get sa``, ``get prng`` (lab debug: queues and draws),
``set key one-stage-rng`` / ``unset key one-stage-rng``,
``set admin access attempts N`` / ``set admin access lock-out-period M``
(minutes; ``unset`` restores 3 and 1), ``clear event``, ``help``, ``exit``.
Unknown or incomplete commands answer the way ScreenOS does (a caret under the
offending word).  The interpreter never raises on input: any line, however
long or binary, gives a reply.  Output uses ``\\n``; transports add ``\\r``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from kleptolab.device.console.lockout import (
    DEFAULT_ATTEMPTS,
    DEFAULT_LOCK_OUT_MINUTES,
    AccessPolicy,
)

__all__ = ["CliReply", "CliSession", "DeviceView", "SessionInfo", "SystemInfo", "format_uptime"]

MAX_LINE = 512


@dataclass(frozen=True)
class SystemInfo:
    """What ``get system`` shows."""

    product: str
    serial: str
    hostname: str
    version: str
    build_stamp: str
    fpga_checksum: str
    file_name: str
    image_checksum: str
    mac: str
    boot_time: float


@dataclass(frozen=True)
class SessionInfo:
    """Who is logged in: ``user`` runs the session (``system`` for the backdoor), ``typed_user`` was typed."""

    user: str
    typed_user: str
    via: str  # "SSH" or "Telnet"
    ip: str
    port: int
    privilege: str = "root"


@runtime_checkable
class ClearableLog(Protocol):
    """A device whose event log can be erased (``clear event``)."""

    def clear_events(self, msg_ids: list[int] | None) -> int: ...


class DeviceView(Protocol):
    """What the interpreter may read and change on the device."""

    def system_info(self) -> SystemInfo: ...
    def now(self) -> float: ...
    def event_lines(self) -> list[str]: ...
    def config_lines(self) -> list[str]: ...
    def ike_cookie_lines(self) -> list[str]: ...
    def sa_lines(self) -> list[str]: ...
    def prng_lines(self) -> list[str]: ...
    def set_one_stage_rng(self, on: bool, session: SessionInfo) -> None: ...


@dataclass(frozen=True)
class CliReply:
    """Output of one command; ``close`` ends the session."""

    text: str
    close: bool = False


def format_uptime(seconds: float) -> str:
    """``Up 0 hours 5 minutes 20 seconds`` as ScreenOS prints it."""
    total = max(0, int(seconds))
    return f"Up {total // 3600} hours {total % 3600 // 60} minutes {total % 60} seconds"


_HELP = """\
get system              system information
get clock               date, time and uptime
get event               the event log (oldest first, hash-chained)
get config              the running configuration
get ike cookies         IKE SAs (cookies)
get sa                  IPsec SAs
get prng                PRNG queues and recent draws (lab debug)
set key one-stage-rng   reduce PRNG to a single stage
unset key one-stage-rng restore the two-stage PRNG
clear event [type N[-M]] erase the event log (all, or message IDs N..M)
set admin access attempts N          lock an admin out after N failed logins
set admin access lock-out-period M   ... for M minutes
exit                    log out"""


def _clean(line: str) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in line[:MAX_LINE])
    return printable.strip()


class CliSession:
    """One logged-in admin session over a :class:`DeviceView`."""

    def __init__(
        self,
        device: DeviceView,
        session: SessionInfo,
        *,
        access: Callable[[AccessPolicy], None] | None = None,
        policy: AccessPolicy | None = None,
    ) -> None:
        self.device = device
        self.session = session
        self._access = access
        self.policy = policy or AccessPolicy()
        """The admin access policy as this session last set it."""
        self.closed = False
        self.commands = 0

    @property
    def prompt(self) -> str:
        """``<hostname>-> ``."""
        return f"{self.device.system_info().hostname}-> "

    def execute(self, line: str) -> CliReply:
        """Run one command line and return its output."""
        if self.closed:
            return CliReply("", close=True)
        text = _clean(line)
        if not text:
            return CliReply("")
        self.commands += 1
        words = text.split()
        verb = words[0].lower()
        if verb in ("exit", "quit", "logout"):
            self.closed = True
            return CliReply("", close=True)
        if verb in ("help", "?"):
            return CliReply(_HELP)
        if verb == "get":
            return self._get(text, words)
        if verb in ("set", "unset"):
            return self._set(text, words, on=verb == "set")
        if verb == "clear":
            return self._clear(text, words)
        return CliReply(_unknown(text, 0, words[0]))

    def _get(self, text: str, words: list[str]) -> CliReply:
        if len(words) < 2:
            return CliReply(_incomplete(text))
        what = words[1].lower()
        rest = [w.lower() for w in words[2:]]
        handlers: dict[str, Callable[[], str]] = {
            "system": self._system,
            "clock": self._clock,
            "event": self._event,
            "config": lambda: "\n".join(self.device.config_lines()),
            "sa": self._sa,
            "prng": lambda: "\n".join(self.device.prng_lines()),
        }
        if what == "ike":
            if not rest:
                return CliReply(_incomplete(text))
            if rest[0] != "cookies":
                return CliReply(_unknown(text, 2, words[2]))
            rows = self.device.ike_cookie_lines()
            return CliReply("\n".join([f"IKEv1/IKEv2 SA total: {len(rows)}", *rows]))
        handler = handlers.get(what)
        if handler is None:
            return CliReply(_unknown(text, 1, words[1]))
        if rest:
            return CliReply(_unknown(text, 2, words[2]))
        return CliReply(handler())

    def _set(self, text: str, words: list[str], *, on: bool) -> CliReply:
        if len(words) < 2:
            return CliReply(_incomplete(text))
        if words[1].lower() == "admin" and self._access is not None:
            return self._admin_access(text, words, on=on)
        if words[1].lower() != "key":
            return CliReply(_unknown(text, 1, words[1]))
        if len(words) < 3:
            return CliReply(_incomplete(text))
        if words[2].lower() != "one-stage-rng":
            return CliReply(_unknown(text, 2, words[2]))
        if len(words) > 3:
            return CliReply(_unknown(text, 3, words[3]))
        if self.session.privilege not in ("root", "read-write"):
            return CliReply("Permission denied: read-only administrator")
        self.device.set_one_stage_rng(on, self.session)
        return CliReply("")

    def _clear(self, text: str, words: list[str]) -> CliReply:
        """``clear event [type N[-M]]``: erase the event log, or the lines with message IDs N..M.

        ``clear event`` is how ScreenOS erases its event log (Juniper warned that
        an intruder would clean the JSA10713 lines this way); the exact syntax of
        the real command's filters could not be checked against a public CLI
        reference, so the ``type N[-M]`` filter is lab-defined.  Sealing keeps
        the erasure visible to whoever holds the verification key.
        """
        if len(words) < 2:
            return CliReply(_incomplete(text))
        if words[1].lower() != "event":
            return CliReply(_unknown(text, 1, words[1]))
        ids: list[int] | None = None
        if len(words) > 2:
            if words[2].lower() != "type":
                return CliReply(_unknown(text, 2, words[2]))
            if len(words) < 4:
                return CliReply(_incomplete(text))
            if len(words) > 4:
                return CliReply(_unknown(text, 4, words[4]))
            low, _, high = words[3].partition("-")
            if not (low.isdigit() and (high.isdigit() or not high)) or len(low) > 5 or len(high) > 5:
                return CliReply(_unknown(text, 3, words[3]))
            first, last = int(low), int(high or low)
            if first > last:
                return CliReply(_unknown(text, 3, words[3]))
            ids = list(range(first, last + 1))
        if self.session.privilege not in ("root", "read-write"):
            return CliReply("Permission denied: read-only administrator")
        if not isinstance(self.device, ClearableLog):
            return CliReply("event log cannot be cleared on this device")
        removed = self.device.clear_events(ids)
        return CliReply(f"{removed} event entries cleared")

    def _admin_access(self, text: str, words: list[str], *, on: bool) -> CliReply:
        """``set admin access attempts N`` / ``set admin access lock-out-period M`` (and unset)."""
        keys = [w.lower() for w in words]
        if len(words) < 4:
            return CliReply(_incomplete(text))
        if keys[2] != "access":
            return CliReply(_unknown(text, 2, words[2]))
        if keys[3] not in ("attempts", "lock-out-period"):
            return CliReply(_unknown(text, 3, words[3]))
        if on and len(words) < 5:
            return CliReply(_incomplete(text))
        if len(words) > (5 if on else 4):
            return CliReply(_unknown(text, len(words) - 1, words[-1]))
        if self.session.privilege not in ("root", "read-write"):
            return CliReply("Permission denied: read-only administrator")
        default = DEFAULT_ATTEMPTS if keys[3] == "attempts" else DEFAULT_LOCK_OUT_MINUTES
        try:
            value = int(words[4]) if on else default
            if keys[3] == "attempts":
                policy = AccessPolicy(value, self.policy.lock_out_period)
            else:
                policy = AccessPolicy(self.policy.attempts, value)
        except ValueError as exc:
            return CliReply(f"{text}\n{' ' * _caret(text, 4)}^-------{exc}")
        assert self._access is not None
        self._access(policy)
        self.policy = policy
        return CliReply("")

    def _system(self) -> str:
        info = self.device.system_info()
        now = self.device.now()
        booted = datetime.fromtimestamp(info.boot_time)
        return "\n".join(
            [
                f"Product Name: {info.product}",
                f"Serial Number: {info.serial}, Control Number: 00000000",
                f"Hardware Version: 0710(0)-(00), FPGA checksum: {info.fpga_checksum}, VLAN1 IP (0.0.0.0)",
                "Flash Type: Samsung",
                f"Software Version: {info.version}, Type: Firewall+VPN",
                "BOOT Loader Version: 1.3.2",
                f"Compiled by build_master at: {info.build_stamp}",
                f"Base Mac: {info.mac}",
                f"File Name: {info.file_name}, Checksum: {info.image_checksum}",
                "",
                f"Date {datetime.fromtimestamp(now):%m/%d/%Y %H:%M:%S}, Daylight Saving Time disabled",
                "The Network Time Protocol is Disabled",
                f"{format_uptime(now - info.boot_time)} Since {booted:%d %b %Y %H:%M:%S}",
                "Total Device Resets: 0",
                "",
                "System in NAT/route mode.",
                "",
                "Use interface IP, Config Port: 80",
                f"User Name: {self.session.user}",
            ]
        )

    def _clock(self) -> str:
        info = self.device.system_info()
        now = self.device.now()
        return "\n".join(
            [
                f"Date {datetime.fromtimestamp(now):%m/%d/%Y %H:%M:%S}, Timezone +00:00, "
                "Daylight Saving Time disabled",
                f"{format_uptime(now - info.boot_time)} Since "
                f"{datetime.fromtimestamp(info.boot_time):%d %b %Y %H:%M:%S}",
                "Total Device Resets: 0",
                "The Network Time Protocol is Disabled",
            ]
        )

    def _event(self) -> str:
        lines = self.device.event_lines()
        return "\n".join([f"Total event entries = {len(lines)}", *lines])

    def _sa(self) -> str:
        rows = self.device.sa_lines()
        header = [
            f"total configured sa: {len(rows)}",
            "HEX ID    Gateway         Port Algorithm     SPI      Life:sec kb Sta   PID vsys",
        ]
        return "\n".join(header + rows)


def _caret(text: str, index: int) -> int:
    position = 0
    for i, word in enumerate(text.split()):
        position = text.index(word, position)
        if i == index:
            return position
        position += len(word)
    return len(text)


def _unknown(text: str, index: int, word: str) -> str:
    return f"{text}\n{' ' * _caret(text, index)}^-------unknown keyword {word}"


def _incomplete(text: str) -> str:
    return f"{text}\n{' ' * len(text)}^-------incomplete command"
