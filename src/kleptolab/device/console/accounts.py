"""Admin accounts, salted password hashes, and ``auth_admin_internal`` with CVE-2015-7755.

Passwords are stored as ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (hashlib
scrypt; ``pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`` is also read).

``auth_admin_internal`` reproduces the 2013 change (CVE-2015-7755; CCS 2016 §9.1): before
the normal check it compares the supplied password with a constant compiled
into the build; on a match it succeeds for ANY username and the session runs
as the internal user ``system``.  The gateway passes ``master_password`` only
for builds that carry it (6.3.0r17-r20 with a password in the image).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

__all__ = [
    "BACKDOOR_USER",
    "AdminAccount",
    "AuthResult",
    "auth_admin_internal",
    "hash_password",
    "verify_password",
]

BACKDOOR_USER = "system"
"""The user a master-password session is logged as (JSA10713)."""

_SCRYPT_DEFAULT = (2**14, 8, 1)
_MAX_PASSWORD = 1024


def hash_password(
    password: str, *, salt: bytes | None = None, n: int = _SCRYPT_DEFAULT[0], r: int = 8, p: int = 1
) -> str:
    """Return the salted scrypt hash string of ``password``."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


_MAX_SCRYPT_WORK = 2**20  # n*r*p: 8x the default, well under a second per login
_MAX_SCRYPT_MEMORY = 2**18  # n*r: 128*n*r bytes = 32 MiB, OpenSSL's default limit
_MAX_PBKDF2_ITERATIONS = 2_000_000


def _check_cost(kind: str, *numbers: int, salt: bytes, expected: bytes) -> None:
    """Refuse cost parameters that would make every login (and the config load) hang."""
    if kind == "scrypt":
        n, r, p = numbers
        if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise ValueError(
                f"password hash: scrypt needs n a power of two >= 2, r in 1..32 and p in 1..16 "
                f"(got n={n}, r={r}, p={p})"
            )
        if n * r > _MAX_SCRYPT_MEMORY or n * r * p > _MAX_SCRYPT_WORK:
            raise ValueError(
                f"password hash: scrypt cost too high (n*r at most 2**18, n*r*p at most 2**20; "
                f"got n={n}, r={r}, p={p}): every login would take too long"
            )
    elif not 1 <= numbers[0] <= _MAX_PBKDF2_ITERATIONS:
        raise ValueError(
            f"password hash: pbkdf2 iterations must be 1..{_MAX_PBKDF2_ITERATIONS}, got {numbers[0]}"
        )
    if len(salt) > 64 or not 1 <= len(expected) <= 64:
        raise ValueError("password hash: the salt must be at most 64 bytes and the hash 1..64 bytes")


def _derive(password: bytes, stored: str) -> tuple[bytes, bytes]:
    parts = stored.split("$")
    numbers: list[int]
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            kind, numbers = "scrypt", [int(parts[1]), int(parts[2]), int(parts[3])]
            salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
        elif parts[0] == "pbkdf2-sha256" and len(parts) == 4:
            kind, numbers = "pbkdf2", [int(parts[1])]
            salt, expected = bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
        else:
            raise ValueError(
                "unknown password hash format (expected 'scrypt$...' or 'pbkdf2-sha256$...')"
            )
    except ValueError as exc:
        if str(exc).startswith("unknown"):
            raise
        raise ValueError(f"malformed password hash: {exc}") from None
    _check_cost(kind, *numbers, salt=salt, expected=expected)
    try:
        if kind == "scrypt":
            n, r, p = numbers[0], numbers[1], numbers[2]
            got = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=len(expected))
        else:
            got = hashlib.pbkdf2_hmac("sha256", password, salt, numbers[0], len(expected))
    except ValueError as exc:
        raise ValueError(f"password hash: {exc}") from None
    return got, expected


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the hash string ``stored`` (constant-time compare)."""
    if len(password) > _MAX_PASSWORD:
        return False
    got, expected = _derive(password.encode("utf-8", "replace"), stored)
    return hmac.compare_digest(got, expected)


@dataclass(frozen=True)
class AdminAccount:
    """One configured administrator."""

    name: str
    password_hash: str
    privilege: str = "root"

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 31 or not self.name.isprintable() or " " in self.name:
            raise ValueError(
                f"invalid admin name {self.name!r} (1-31 printable characters, no spaces)"
            )
        _derive(b"", self.password_hash)  # ValueError on a malformed hash


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a login: ``user`` is who the session runs as (``system`` for the backdoor)."""

    ok: bool
    typed_user: str
    user: str | None = None
    privilege: str | None = None
    backdoor: bool = False
    locked: bool = False  # refused because the account is locked out (right password or not)


@cache
def _dummy_hash() -> str:
    return hash_password("kleptolab-dummy", salt=b"\x00" * 16)


def auth_admin_internal(
    accounts: Mapping[str, AdminAccount],
    username: str,
    password: str,
    *,
    master_password: str | None = None,
    locked: Callable[[str], bool] | None = None,
) -> AuthResult:
    """Check an admin login the way the affected firmware did.

    With ``master_password`` set, that password is accepted for ANY username
    and the session is the internal user ``system``; this comparison comes
    first, so it bypasses the lockout too (see :mod:`.lockout`).  Otherwise a
    locked-out account (``locked(name)``) is refused whatever the password,
    and for every other case the account's salted hash decides.  Unknown and
    locked users cost one hash too, so timing reveals neither.
    """
    if master_password is not None and hmac.compare_digest(
        password.encode("utf-8", "replace"), master_password.encode("utf-8")
    ):
        return AuthResult(True, username, BACKDOOR_USER, "root", backdoor=True)
    account = accounts.get(username)
    if account is not None and locked is not None and locked(username):
        verify_password(password, _dummy_hash())
        return AuthResult(False, username, locked=True)
    if account is None:
        verify_password(password, _dummy_hash())
        return AuthResult(False, username)
    if verify_password(password, account.password_hash):
        return AuthResult(True, username, account.name, account.privilege)
    return AuthResult(False, username)
