"""Structural checks of a gateway configuration, before any value is interpreted.

:func:`check_structure` rejects what :mod:`kleptolab.device.config` would
otherwise silently ignore or trip over: unknown keys at any level (a typo such
as ``[ports] ikee`` names the key), tables where arrays of tables belong
(``admin = [1]``), nesting deeper than any valid file needs, and strings that
are not valid Unicode text (a lone surrogate from a JSON ``"\\ud800"`` escape)
or hold control characters.  Every problem raises :class:`ConfigError` naming
the key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARRAY_KEYS", "MAX_DEPTH", "TABLE_KEYS", "TOP_KEYS", "ConfigError", "check_structure"]


class ConfigError(ValueError):
    """The gateway configuration is invalid; the message names the key."""


TABLE_KEYS: dict[str, frozenset[str]] = {
    "ports": frozenset({"ike", "natt", "ssh", "telnet"}),
    "console": frozenset(
        {
            "max_sessions", "idle_timeout", "login_timeout", "max_login_attempts", "ssh_host_key",
            "max_pending", "max_pending_per_source",
        }
    ),
    "admin_access": frozenset({"attempts", "lock_out_period"}),
    "syslog": frozenset({"target", "format", "facility"}),
    "prng": frozenset({"seed", "one_stage_rng", "bn2bin_quirk", "exponent_bytes"}),
}
"""The single tables (``[ports]``) and the keys each may hold."""

ARRAY_KEYS: dict[str, frozenset[str]] = {
    "admin": frozenset({"name", "password", "password_hash", "privilege"}),
    "vpn": frozenset(
        {
            "name",
            "version",
            "enabled",
            "auth",
            "local_id",
            "remote_id",
            "psk",
            "private_key",
            "certificate",
            "trusted_ca",
            "ike_proposals",
            "child_proposals",
            "local_ts",
            "remote_ts",
            "aggressive",
            "nat_t",
        }
    ),
    "service": frozenset({"protected", "target"}),
}
"""The arrays of tables (``[[vpn]]``) and the keys each of their tables may hold."""

TOP_KEYS = (
    frozenset(
        {
            "hostname",
            "serial",
            "listen",
            "allow_external_listen",
            "seed",
            "firmware",
            "hash_chain",
            "max_half_open",
        }
    )
    | TABLE_KEYS.keys()
    | ARRAY_KEYS.keys()
)

MAX_DEPTH = 6
"""Deepest nesting a valid file has is 4 (top, ``vpn`` array, its table, a proposal list)."""

MAX_STRING = 4096
"""Longest string value (hostnames, PSKs, paths, proposal names are all far shorter)."""


def check_structure(data: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` unless ``data`` only holds known keys and sound values."""
    _check_value(data, "", 0)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(unknown)}")
    for name, keys in TABLE_KEYS.items():
        if name in data:
            table = data[name]
            if not isinstance(table, dict):
                raise ConfigError(f"{name}: expected a table, got {_kind(table)}")
            _check_keys(table, keys, f"{name}.")
    for name, keys in ARRAY_KEYS.items():
        if name in data:
            items = data[name]
            if not isinstance(items, list):
                raise ConfigError(
                    f"{name}: expected an array of tables ([[{name}]]), got {_kind(items)}"
                )
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ConfigError(f"{name}[{i}]: expected a table, got {_kind(item)}")
                _check_keys(item, keys, f"{name}[{i}].")


def _check_keys(table: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _check_value(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"{where or 'configuration'}: nested too deeply (at most {MAX_DEPTH} levels)"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where}{key!r}" if where else repr(key), key=True)
            _check_value(item, f"{where}{key}.", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where.rstrip('.')}[{i}].", depth + 1)
    elif isinstance(value, str):
        _check_text(value, where.rstrip("."), key=False)


def _check_text(text: Any, where: str, *, key: bool) -> None:
    if not isinstance(text, str):
        raise ConfigError(f"{where}: keys must be strings")
    what = "key" if key else "value"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{where}: the {what} is not valid Unicode text (a lone surrogate)"
        ) from None
    if len(text) > MAX_STRING:
        raise ConfigError(f"{where}: the {what} is longer than {MAX_STRING} characters")
    if any(not ch.isprintable() for ch in text):
        raise ConfigError(f"{where}: the {what} holds control characters")


def _kind(value: Any) -> str:
    names = {
        dict: "a table",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
    }
    return names.get(type(value), type(value).__name__)
