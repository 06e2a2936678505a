"""What the Telnet and SSH servers share: session slots, authentication with logging, CLI sessions.

Logging follows JSA10713: a successful login writes 00515 ("Admin user <who>
has logged on via ...") naming the user the session runs as, then 00528
("... Password authentication successful for admin user '<typed>' ...")
naming the user that was typed; with the master password the first names
``system``.  A failed login writes 00518; the lockout lines are in
:mod:`.lockout`.

Under attack: connections hold pending slots (:mod:`.slots`: per-source and
total budgets, fair eviction) for at most ``login_timeout`` seconds (10 by
default) before they log in; accounts lock after ``attempts`` failures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kleptolab.device.console.accounts import AdminAccount, AuthResult, auth_admin_internal
from kleptolab.device.console.cli import CliSession, DeviceView, SessionInfo
from kleptolab.device.console.lockout import (
    AccessPolicy,
    Lockout,
    log_locked_out,
    log_refused_locked,
)
from kleptolab.device.console.slots import ConsoleSlots, Slot
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
    login_timeout: float = 10.0  # pre-authentication
    max_login_attempts: int = 3  # per connection
    max_line: int = 512
    max_pending: int = 32  # connections not yet logged in, in all
    max_pending_per_source: int = 4


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
        access: AccessPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.log = log
        self.accounts = dict(accounts)
        self.master_password = master_password
        self.limits = limits
        self.slots = ConsoleSlots(
            limits.max_sessions, limits.max_pending, limits.max_pending_per_source
        )
        self.lockout = Lockout(self.accounts, access or AccessPolicy(), clock=clock)
        self._legacy = 0
        self.logins = 0
        self.failures = 0

    @property
    def active(self) -> int:
        """Connections holding a slot (pending or logged in)."""
        return self.slots.pending + self.slots.sessions + self._legacy

    def acquire(self) -> bool:
        """Take a session slot without a connection (no source); False when all are in use."""
        if self.slots.sessions + self._legacy >= self.limits.max_sessions:
            return False
        self._legacy += 1
        return True

    def release(self) -> None:
        """Give an :meth:`acquire` slot back."""
        self._legacy = max(0, self._legacy - 1)

    def connect(self, ip: str, close: Callable[[], None]) -> Slot | None:
        """A pending slot for a new connection from ``ip`` (see :mod:`.slots`); None: refuse it."""
        return self.slots.open(ip, close)

    def logged_in(self, slot: Slot) -> bool:
        """Move a connection that logged in to a session slot; False: all sessions in use."""
        return self.slots.authenticated(slot)

    def disconnect(self, slot: Slot) -> None:
        """The connection ended."""
        self.slots.release(slot)

    def set_access(self, policy: AccessPolicy) -> None:
        """``set admin access attempts/lock-out-period``."""
        self.lockout.set_policy(policy)

    def check(self, typed_user: str, password: str, *, locked: bool | None = None) -> AuthResult:
        """Run ``auth_admin_internal`` (no logging).  From a worker thread, pass ``locked``
        (the account's lockout state, read on the event loop's thread)."""
        clean = _clean_user(typed_user)
        state = self.lockout.locked(clean) if locked is None else locked
        return auth_admin_internal(
            self.accounts,
            clean,
            password,
            master_password=self.master_password,
            locked=lambda _name: state,
        )

    def record(self, result: AuthResult, *, via: str, ip: str, port: int, local_port: int) -> None:
        """Log a login outcome: 00515 + 00528 on success, 00518 on failure (+ lockout lines)."""
        if result.ok and result.user is not None:
            self.logins += 1
            if not result.backdoor:
                self.lockout.succeeded(result.typed_user)
            admin_logon(self.log, result.user, via, ip, port)
            admin_password_ok(self.log, result.typed_user, via, ip)
            return
        self.failures += 1
        if result.locked:
            log_refused_locked(self.log, result.typed_user, via, local_port, ip, port)
            return
        admin_login_failed(self.log, result.typed_user, via, local_port, ip, port)
        if self.lockout.failed(result.typed_user):
            log_locked_out(self.log, result.typed_user, self.lockout.policy)

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
        locked = self.lockout.locked(_clean_user(typed_user))
        result = await loop.run_in_executor(
            None, lambda: self.check(typed_user, password, locked=locked)
        )
        self.record(result, via=via, ip=ip, port=port, local_port=local_port)
        return result

    def open_cli(self, result: AuthResult, *, via: str, ip: str, port: int) -> CliSession:
        """A CLI session for a successful login."""
        if not result.ok or result.user is None:
            raise ValueError("cannot open a CLI session for a failed login")
        info = SessionInfo(
            result.user, result.typed_user, via, ip, port, result.privilege or "root"
        )
        return CliSession(self.device, info, access=self.set_access, policy=self.lockout.policy)

    def timed_out(self, session: CliSession) -> None:
        """Log the 00515 timeout line for ``session``."""
        s = session.session
        admin_timeout(self.log, s.user, s.via, s.ip, s.port)


def _clean_user(typed_user: str) -> str:
    return "".join(ch for ch in typed_user if ch.isprintable())[:64]
