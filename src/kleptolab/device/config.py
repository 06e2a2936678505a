"""Gateway configuration: frozen dataclasses, loaded from TOML or JSON over embedded defaults.

A file only needs the keys it changes; every table and key is optional::

    hostname = "ssg5-lab"
    seed = "1234abcd"                 # Dual EC start state (hex) for reproducible runs
    [ports]    ike = 10500, natt = 14500, ssh = 2222, telnet = 2323
    [console]  max_sessions = 4, idle_timeout = 600, max_login_attempts = 3, login_timeout = 10,
               max_pending = 32, max_pending_per_source = 4   # pre-authentication slots
    [admin_access]  attempts = 3, lock_out_period = 1   # set admin access attempts / lock-out-period (min)
    [syslog]   target = "127.0.0.1:5514", format = "rfc5424"   # or "bsd"
    [prng]     one_stage_rng = false, bn2bin_quirk = true
    [[admin]]  name = "netscreen", password = "netscreen"     # or password_hash = "scrypt$..."
    [[vpn]]    name = "lab-ikev1", version = 1, psk = "...", ike_proposals = ["pre-g2-3des-sha"], ...
    [[vpn]]    name = "lab-rsa", auth = "rsa-sig", private_key = "gw.key.pem", certificate = "gw.crt",
               trusted_ca = "ca.crt", ike_proposals = ["rsa-g2-3des-sha"], ...   # kleptolab pki init
    [[service]] protected = "10.1.0.10:7", target = "127.0.0.1:7007"

If the file has ``[[admin]]`` or ``[[vpn]]`` tables they replace the defaults.
A VPN authenticates with ``auth = "psk"`` (needs ``psk``, ``pre-*`` proposals) or
``auth = "rsa-sig"`` (needs ``private_key``, ``certificate`` (ours, naming
``local_id``) and ``trusted_ca``, PEM or DER files relative to the config file,
and ``rsa-*`` proposals); without ``auth`` the proposals' prefix decides.
Errors raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.device.config_check import ConfigError, check_structure
from kleptolab.device.console.accounts import AdminAccount, hash_password
from kleptolab.device.console.lockout import AccessPolicy
from kleptolab.device.eventlog import SyslogFormat, parse_syslog_target
from kleptolab.device.pki import RSA_FILE_KEYS, PkiError, RsaCredentials, read_vpn_credentials
from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.ike.common import AuthMethod, IkeProposal, PeerConfig

__all__ = [
    "DEFAULT_CONFIG_TOML",
    "ConfigError",
    "ConsoleSettings",
    "GatewayConfig",
    "PrngSettings",
    "SyslogSettings",
    "VpnSettings",
    "load_config",
    "parse_config",
]

Address = tuple[str, int]


@dataclass(frozen=True)
class ConsoleSettings:
    """Admin console limits."""

    max_sessions: int = 4
    idle_timeout: float = 600.0
    login_timeout: float = 10.0  # pre-authentication
    max_login_attempts: int = 3
    ssh_host_key: Path | None = None  # None: a fresh ephemeral key at every boot
    max_pending: int = 32  # connections not yet logged in, in all
    max_pending_per_source: int = 4


@dataclass(frozen=True)
class SyslogSettings:
    """Where to send syslog (loopback only) and in which framing."""

    target: Address | None = None
    format: SyslogFormat = SyslogFormat.RFC5424
    facility: int = 16  # local0


@dataclass(frozen=True)
class PrngSettings:
    """PRNG knobs; ``seed`` None means a fresh secret Dual EC state at boot."""

    seed: int | None = None
    one_stage_rng: bool = False
    bn2bin_quirk: bool = True
    exponent_bytes: int = 20


@dataclass(frozen=True)
class VpnSettings:
    """One configured VPN with the ScreenOS proposal names it was written with."""

    peer: PeerConfig
    enabled: bool = True
    ike_proposal_names: tuple[str, ...] = ()
    child_proposal_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    """Everything ``kleptolab gateway`` needs besides the firmware image contents."""

    firmware: Path | None = None
    hostname: str = "ssg5-lab"
    serial: str = "0185122017000042"
    listen: str = "127.0.0.1"
    allow_external_listen: bool = False
    ike_port: int = 10500
    natt_port: int = 14500
    ssh_port: int = 2222
    telnet_port: int = 2323
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    syslog: SyslogSettings = field(default_factory=SyslogSettings)
    prng: PrngSettings = field(default_factory=PrngSettings)
    hash_chain: bool = True
    admins: tuple[AdminAccount, ...] = ()
    vpns: tuple[VpnSettings, ...] = ()
    services: tuple[tuple[Address, Address], ...] = ()
    max_half_open: int = 32
    admin_access: AccessPolicy = field(default_factory=AccessPolicy)

    @property
    def enabled_peers(self) -> tuple[PeerConfig, ...]:
        """The PeerConfigs of the enabled VPNs (these size the DH queues)."""
        return tuple(v.peer for v in self.vpns if v.enabled)


DEFAULT_CONFIG_TOML = """
hostname = "ssg5-lab"
serial = "0185122017000042"

[[admin]]
name = "netscreen"
password = "netscreen"

[[vpn]]
name = "lab-ikev1"
version = 1
local_id = "gw.example"
remote_id = "client.example"
psk = "not-a-real-secret"
ike_proposals = ["pre-g2-3des-sha"]
child_proposals = ["g2-esp-3des-sha"]
local_ts = "198.51.100.0/24"
remote_ts = "203.0.113.1/32"

[[vpn]]
name = "lab-ikev2"
version = 2
local_id = "gw.example"
remote_id = "client.example"
psk = "not-a-real-secret"
ike_proposals = ["pre-g14-aes128-sha", "pre-g2-3des-sha"]
child_proposals = ["nopfs-esp-aes128-sha", "g2-esp-3des-sha"]
local_ts = "198.51.100.0/24"
remote_ts = "203.0.113.1/32"
"""


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) and kind is not bool and (not isinstance(kind, tuple) or bool not in kind):
        raise ConfigError(f"{where}{key}: expected {_kind_name(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}{key}: expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _port(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = int(_get(table, key, int, where, default))
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}{key}: port must be 0..65535 (0 = pick a free one), got {value}")
    return value


def _address(text: str, where: str) -> Address:
    host, sep, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host)
        if not sep:
            raise ValueError
        return host, int(port)
    except ValueError:
        raise ConfigError(f"{where.rstrip('.')}: expected 'IP:PORT', got {text!r}") from None


def _admin(table: dict[str, Any], where: str) -> AdminAccount:
    name = _get(table, "name", str, where, None)
    if name is None:
        raise ConfigError(f"{where}name: missing")
    stored = _get(table, "password_hash", str, where, None)
    password = _get(table, "password", str, where, None)
    if (stored is None) == (password is None):
        raise ConfigError(f"{where.rstrip('.')}: give exactly one of 'password' or 'password_hash'")
    try:
        return AdminAccount(name, stored if stored is not None else hash_password(password),
                            _get(table, "privilege", str, where, "root"))
    except ValueError as exc:
        raise ConfigError(f"{where.rstrip('.')}: {exc}") from None


_AUTH = {"psk": AuthMethod.PSK, "rsa-sig": AuthMethod.RSA_SIG}


def _auth(
    table: dict[str, Any], where: str, names: tuple[str, ...], ike: tuple[IkeProposal, ...]
) -> AuthMethod:
    text = _get(table, "auth", str, where, None)
    if text is None:
        methods = {p.auth for p in ike}
        if len(methods) > 1:
            raise ConfigError(
                f"{where}ike_proposals: mixes 'pre-' and 'rsa-' proposals; "
                "set auth = 'psk' or 'rsa-sig' and use one kind"
            )
        return methods.pop()
    if text not in _AUTH:
        raise ConfigError(f"{where}auth: must be 'psk' or 'rsa-sig', got {text!r}")
    method = _AUTH[text]
    for name, proposal in zip(names, ike, strict=True):
        if proposal.auth is not method:
            prefix = "rsa" if method is AuthMethod.RSA_SIG else "pre"
            raise ConfigError(
                f"{where}ike_proposals: {name!r} does not authenticate with {text} "
                f"(auth = {text!r} takes '{prefix}-...' proposals)"
            )
    return method


def _vpn(table: dict[str, Any], where: str, base: Path) -> VpnSettings:
    def need(key: str, kind: type) -> Any:
        value = _get(table, key, kind, where, None)
        if value is None:
            raise ConfigError(f"{where}{key}: missing")
        return value

    ike_names = tuple(need("ike_proposals", list))
    child_names = tuple(need("child_proposals", list))
    try:
        ike = tuple(parse_ike_proposal(str(n)) for n in ike_names)
        child = tuple(parse_child_proposal(str(n)) for n in child_names)
        local_ts = ipaddress.IPv4Network(need("local_ts", str))
        remote_ts = ipaddress.IPv4Network(need("remote_ts", str))
    except ValueError as exc:
        raise ConfigError(f"{where.rstrip('.')}: {exc}") from None
    if not ike or not child:
        raise ConfigError(f"{where.rstrip('.')}: needs at least one IKE and one child proposal")
    version = need("version", int)
    if version not in (1, 2):
        raise ConfigError(f"{where}version: must be 1 or 2, got {version}")
    psk = _get(table, "psk", str, where, None)
    local_id = need("local_id", str)
    rsa: RsaCredentials | None = None
    if _auth(table, where, ike_names, ike) is AuthMethod.PSK:
        if psk is None:
            raise ConfigError(f"{where}psk: missing (auth = 'psk')")
        extra = [k for k in RSA_FILE_KEYS if k in table]
        if extra:
            raise ConfigError(f"{where}{extra[0]}: only used with auth = 'rsa-sig'")
    else:
        if psk is not None:
            raise ConfigError(f"{where}psk: not used with auth = 'rsa-sig'; remove it")
        names = {k: _get(table, k, str, where, None) for k in RSA_FILE_KEYS}
        try:
            rsa = read_vpn_credentials(names, base, local_id)
        except PkiError as exc:
            raise ConfigError(f"{where}{exc}") from None
    peer = PeerConfig(
        name=need("name", str),
        version=version,
        local_id=local_id,
        remote_id=need("remote_id", str),
        ike_proposals=ike,
        child_proposals=child,
        local_ts=local_ts,
        remote_ts=remote_ts,
        psk=psk.encode() if psk is not None else None,
        aggressive=_get(table, "aggressive", bool, where, False),
        rsa_key_pem=rsa.key_pem if rsa else None,
        certificate_der=rsa.cert_der if rsa else None,
        trusted_ca_der=rsa.ca_der if rsa else None,
        nat_t=_get(table, "nat_t", bool, where, True),
    )
    enabled = _get(table, "enabled", bool, where, True)
    return VpnSettings(peer, enabled, tuple(map(str, ike_names)), tuple(map(str, child_names)))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(data: dict[str, Any], *, base_dir: Path | None = None) -> GatewayConfig:
    """Build a :class:`GatewayConfig` from parsed TOML/JSON ``data`` laid over the defaults.

    Unknown keys at any level, wrongly shaped tables and unsound strings are rejected first
    (:func:`kleptolab.device.config_check.check_structure`).
    """
    check_structure(data)
    d = _merge(tomllib.loads(DEFAULT_CONFIG_TOML), data)
    ports = _get(d, "ports", dict, "", {})
    console = _get(d, "console", dict, "", {})
    syslog = _get(d, "syslog", dict, "", {})
    prng = _get(d, "prng", dict, "", {})
    seed_text = _get(d, "seed", str, "", _get(prng, "seed", str, "prng.", None))
    try:
        seed = int(seed_text, 16) if seed_text is not None else None
    except ValueError:
        raise ConfigError(f"seed: not a hex number: {seed_text!r}") from None
    if seed is not None and not 0 < seed < 2**256:
        raise ConfigError("seed: must be a non-zero 256-bit value")
    target_text = _get(syslog, "target", str, "syslog.", None)
    try:
        target = parse_syslog_target(target_text) if target_text else None
        fmt = SyslogFormat(_get(syslog, "format", str, "syslog.", "rfc5424"))
    except ValueError as exc:
        raise ConfigError(f"syslog: {exc}") from None
    key_path = _get(console, "ssh_host_key", str, "console.", None)
    firmware = _get(d, "firmware", str, "", None)
    base = base_dir or Path.cwd()
    config = GatewayConfig(
        firmware=(base / firmware) if firmware else None,
        hostname=_get(d, "hostname", str, "", "ssg5-lab"),
        serial=_get(d, "serial", str, "", "0185122017000042"),
        listen=_get(d, "listen", str, "", "127.0.0.1"),
        allow_external_listen=_get(d, "allow_external_listen", bool, "", False),
        ike_port=_port(ports, "ike", "ports.", 10500),
        natt_port=_port(ports, "natt", "ports.", 14500),
        ssh_port=_port(ports, "ssh", "ports.", 2222),
        telnet_port=_port(ports, "telnet", "ports.", 2323),
        console=ConsoleSettings(
            max_sessions=_get(console, "max_sessions", int, "console.", 4),
            idle_timeout=float(_get(console, "idle_timeout", (int, float), "console.", 600.0)),
            login_timeout=float(_get(console, "login_timeout", (int, float), "console.", 10.0)),
            max_login_attempts=_get(console, "max_login_attempts", int, "console.", 3),
            ssh_host_key=(base / key_path) if key_path else None,
            max_pending=_get(console, "max_pending", int, "console.", 32),
            max_pending_per_source=_get(console, "max_pending_per_source", int, "console.", 4),
        ),
        syslog=SyslogSettings(target, fmt, _get(syslog, "facility", int, "syslog.", 16)),
        prng=PrngSettings(
            seed=seed,
            one_stage_rng=_get(prng, "one_stage_rng", bool, "prng.", False),
            bn2bin_quirk=_get(prng, "bn2bin_quirk", bool, "prng.", True),
            exponent_bytes=_get(prng, "exponent_bytes", int, "prng.", 20),
        ),
        hash_chain=_get(d, "hash_chain", bool, "", True),
        admins=tuple(_admin(t, f"admin[{i}].") for i, t in enumerate(_get(d, "admin", list, "", []))),
        vpns=tuple(
            _vpn(t, f"vpn[{i}].", base) for i, t in enumerate(_get(d, "vpn", list, "", []))
        ),
        services=tuple(
            (_address(str(t.get("protected", "")), f"service[{i}].protected"),
             _address(str(t.get("target", "")), f"service[{i}].target"))
            for i, t in enumerate(_get(d, "service", list, "", []))
        ),
        max_half_open=_get(d, "max_half_open", int, "", 32),
        admin_access=_admin_access(_get(d, "admin_access", dict, "", {})),
    )
    validate(config)
    return config


def _admin_access(table: dict[str, Any]) -> AccessPolicy:
    """``[admin_access]``: ScreenOS's ``set admin access attempts N`` / ``lock-out-period M``."""
    unknown = set(table) - {"attempts", "lock_out_period"}
    if unknown:
        raise ConfigError(f"admin_access.{sorted(unknown)[0]}: unknown key")
    try:
        return AccessPolicy(
            _get(table, "attempts", int, "admin_access.", 3),
            _get(table, "lock_out_period", int, "admin_access.", 1),
        )
    except ValueError as exc:
        raise ConfigError(f"admin_access: {exc}") from None


def validate(config: GatewayConfig) -> None:
    """Cross-field checks; :class:`ConfigError` on the first problem."""
    c = config.console
    if c.max_sessions < 1 or c.max_login_attempts < 1 or c.idle_timeout <= 0 or c.login_timeout <= 0:
        raise ConfigError("console: max_sessions, max_login_attempts and the timeouts must be positive")
    if c.max_pending < 1 or not 1 <= c.max_pending_per_source <= c.max_pending:
        raise ConfigError("console: max_pending must be positive and max_pending_per_source 1..max_pending")
    try:
        listen = ipaddress.ip_address(config.listen)
    except ValueError:
        raise ConfigError(f"listen: not an IP address: {config.listen!r}") from None
    if not listen.is_loopback and not config.allow_external_listen:
        raise ConfigError(
            f"listen: {config.listen} is not a loopback address; the lab gateway carries backdoors, "
            "so it listens on loopback unless allow_external_listen = true (use a network namespace)"
        )
    names = [v.peer.name for v in config.vpns]
    if len(names) != len(set(names)):
        raise ConfigError("vpn: names must be unique")
    if not config.admins:
        raise ConfigError("admin: at least one admin account is needed")
    if not 1 <= config.prng.exponent_bytes <= 32:
        raise ConfigError("prng.exponent_bytes: must be 1..32")
    if not math.isfinite(c.idle_timeout) or not math.isfinite(c.login_timeout):
        raise ConfigError("console: the timeouts must be finite numbers of seconds")
    if not 0 <= config.syslog.facility <= 23:
        raise ConfigError(f"syslog.facility: must be 0..23, got {config.syslog.facility}")
    if not 1 <= config.max_half_open <= 65536:
        raise ConfigError(f"max_half_open: must be 1..65536, got {config.max_half_open}")


def load_config(path: Path | str | None = None, **overrides: Any) -> GatewayConfig:
    """Load ``path`` (``.toml`` or ``.json``; None = embedded defaults) and apply top-level overrides."""
    data: dict[str, Any] = {}
    base_dir = None
    if path is not None:
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{p}: not UTF-8 text (byte {exc.start}); a configuration is a TOML or JSON file"
            ) from None
        try:
            loaded = json.loads(raw) if p.suffix.lower() == ".json" else tomllib.loads(raw)
        except RecursionError:
            raise ConfigError(f"{p}: nested too deeply") from None
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{p}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a table/object")
        data = loaded
        base_dir = p.parent
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    return parse_config(data, base_dir=base_dir)
