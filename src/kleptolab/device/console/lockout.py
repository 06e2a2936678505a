"""Admin lockout as ScreenOS configures it: ``set admin access attempts N`` and ``lock-out-period M``.

After ``attempts`` consecutive failed logins for one admin account, that
account is refused, even with the right password, for ``lock_out_period``
minutes; a successful login resets the count.  Sans-I/O: time comes from an
injected clock (seconds).  Only configured account names are tracked, so
guessed names cannot grow the table.

Master password (6.3.0r17-r20): the backdoor bypasses the lockout.  The
comparison with the compiled-in password sits at the top of
``auth_admin_internal``, before the account lookup and the normal checks
(CCS 2016 §9.1; JSA10713): it accepts any user name, including names that
have no account and therefore no lockout state.  So even a lockout enforced
before the call could only bind the name typed, and the attacker types
another one.  Lockout is no defence against the backdoor; the 00515/00528
lines naming ``system`` and an unknown typed user are the trace to look for.

Log lines use lab-defined message IDs (no public source gives ScreenOS's own
for these): 00519 ``Admin user "<name>" has been locked out for <M> minutes
after <N> failed login attempts.`` and 00520 ``Admin user "<name>" login
attempt for <via> management (port N) from <ip>:<port> refused: the account
is locked out.``
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kleptolab.device.eventlog import EventLog, LogEntry, Severity

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_LOCK_OUT_MINUTES",
    "MSG_LOCKED_OUT",
    "MSG_REFUSED_LOCKED",
    "AccessPolicy",
    "Lockout",
]

DEFAULT_ATTEMPTS = 3
DEFAULT_LOCK_OUT_MINUTES = 1
MSG_LOCKED_OUT = 519  # lab-defined
MSG_REFUSED_LOCKED = 520  # lab-defined
MAX_ATTEMPTS = 255
MAX_LOCK_OUT_MINUTES = 1440


@dataclass(frozen=True)
class AccessPolicy:
    """``set admin access attempts`` (1-255) and ``lock-out-period`` (minutes, 1-1440)."""

    attempts: int = DEFAULT_ATTEMPTS
    lock_out_period: int = DEFAULT_LOCK_OUT_MINUTES

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ValueError(
                f"admin access attempts must be 1..{MAX_ATTEMPTS}, got {self.attempts}"
            )
        if not 1 <= self.lock_out_period <= MAX_LOCK_OUT_MINUTES:
            raise ValueError(
                f"admin access lock-out-period must be 1..{MAX_LOCK_OUT_MINUTES} minutes, "
                f"got {self.lock_out_period}"
            )


class Lockout:
    """Failure counts and lockouts per admin account."""

    def __init__(
        self,
        accounts: Iterable[str],
        policy: AccessPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or AccessPolicy()
        self._names = frozenset(accounts)
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def locked(self, name: str) -> bool:
        """True while ``name`` is locked out (an expired lockout is cleared here)."""
        until = self._until.get(name)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._until[name]
        self._failures.pop(name, None)
        return False

    def remaining(self, name: str) -> float:
        """Seconds of lockout left for ``name`` (0 when not locked)."""
        return max(0.0, self._until.get(name, 0.0) - self._clock()) if self.locked(name) else 0.0

    def failed(self, name: str) -> bool:
        """Count a failed login for ``name``; True when this failure locks the account."""
        if name not in self._names or self.locked(name):
            return False
        count = self._failures.get(name, 0) + 1
        if count < self.policy.attempts:
            self._failures[name] = count
            return False
        self._failures.pop(name, None)
        self._until[name] = self._clock() + 60.0 * self.policy.lock_out_period
        return True

    def succeeded(self, name: str) -> None:
        """A successful login resets ``name``'s failure count."""
        self._failures.pop(name, None)

    def set_policy(self, policy: AccessPolicy) -> None:
        """Change the policy (the console's ``set admin access``); running lockouts keep their end."""
        self.policy = policy


def log_locked_out(log: EventLog, name: str, policy: AccessPolicy) -> LogEntry:
    """00519 (lab-defined): the account has just been locked out."""
    return log.emit(
        MSG_LOCKED_OUT,
        f'Admin user "{name}" has been locked out for {policy.lock_out_period} minutes '
        f"after {policy.attempts} failed login attempts.",
        severity=Severity.WARN,
    )


def log_refused_locked(
    log: EventLog, name: str, via: str, local_port: int, ip: str, port: int
) -> LogEntry:
    """00520 (lab-defined): a login for a locked-out account was refused."""
    return log.emit(
        MSG_REFUSED_LOCKED,
        f'Admin user "{name}" login attempt for {via} management (port {local_port}) '
        f"from {ip}:{port} refused: the account is locked out.",
        severity=Severity.WARN,
    )
