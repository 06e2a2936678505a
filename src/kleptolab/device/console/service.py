"""What the Telnet and SSH servers share: session slots, authentication with logging, CLI sessions.

Logging follows JSA10713: a successful login writes 00515 ("Admin user <who>
has logged on via ...") naming the user the session runs as, then 00528
("... Password authentication successful for admin user '<typed>' ...")
naming the user that was typed; with the master password the first names
``system``.  A failed login writes 00518.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from kleptolab.device.console.accounts import AdminAccount, AuthResult, auth_admin_internal
from kleptolab.device.console.cli import CliSession, DeviceView, SessionInfo
from kleptolab.device.eventlog import (
    EventLog,
    admin_login_failed,
    admin_logon,
    admin_password_ok,
    admin_timeout,
)

__all__ = ["AdminService", "ConsoleLimits"]


@dataclass(frozen=True)
class ConsoleLimits:
    """Bounds on the admin console (per server process)."""

    max_sessions: int = 4
    idle_timeout: float = 600.0
    login_timeout: float = 60.0
    max_login_attempts: int = 3
    max_line: int = 512


class AdminService:
    """Accounts, the build's master password (or None) and the event log, for both transports."""

    def __init__(
        self,
        device: DeviceView,
        log: EventLog,
        accounts: Mapping[str, AdminAccount],
        *,
        master_password: str | None,
        limits: ConsoleLimits = ConsoleLimits(),
    ) -> None:
        self.device = device
        self.log = log
        self.accounts = dict(accounts)
        self.master_password = master_password
        self.limits = limits
        self.active = 0
        self.logins = 0
        self.failures = 0

    def acquire(self) -> bool:
        """Take a session slot; False when ``max_sessions`` are in use."""
        if self.active >= self.limits.max_sessions:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        """Give a session slot back."""
        self.active = max(0, self.active - 1)

    def check(self, typed_user: str, password: str) -> AuthResult:
        """Run ``auth_admin_internal`` (no logging; safe to call from a worker thread)."""
        clean = "".join(ch for ch in typed_user if ch.isprintable())[:64]
        return auth_admin_internal(
            self.accounts, clean, password, master_password=self.master_password
        )

    def record(self, result: AuthResult, *, via: str, ip: str, port: int, local_port: int) -> None:
        """Log a login outcome: 00515 + 00528 on success, 00518 on failure."""
        if result.ok and result.user is not None:
            self.logins += 1
            admin_logon(self.log, result.user, via, ip, port)
            admin_password_ok(self.log, result.typed_user, via, ip)
        else:
            self.failures += 1
            admin_login_failed(self.log, result.typed_user, via, local_port, ip, port)

    def authenticate(
        self, typed_user: str, password: str, *, via: str, ip: str, port: int, local_port: int
    ) -> AuthResult:
        """Check a login and log the outcome."""
        result = self.check(typed_user, password)
        self.record(result, via=via, ip=ip, port=port, local_port=local_port)
        return result

    async def authenticate_async(
        self, typed_user: str, password: str, *, via: str, ip: str, port: int, local_port: int
    ) -> AuthResult:
        """:meth:`authenticate` with the password hashing in a worker thread."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, self.check, typed_user, password)
        self.record(result, via=via, ip=ip, port=port, local_port=local_port)
        return result

    def open_cli(self, result: AuthResult, *, via: str, ip: str, port: int) -> CliSession:
        """A CLI session for a successful login."""
        if not result.ok or result.user is None:
            raise ValueError("cannot open a CLI session for a failed login")
        info = SessionInfo(result.user, result.typed_user, via, ip, port, result.privilege or "root")
        return CliSession(self.device, info)

    def timed_out(self, session: CliSession) -> None:
        """Log the 00515 timeout line for ``session``."""
        s = session.session
        admin_timeout(self.log, s.user, s.via, s.ip, s.port)
