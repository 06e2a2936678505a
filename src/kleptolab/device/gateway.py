"""The emulated NetScreen gateway: boot from a firmware image, then serve VPN and admin console.

Boot (synchronous, in the constructor, as the firmware does at power-up):
verify and parse the image, take version/profile, Q and the KAT from it, run
the Dual EC KAT self-test, seed the PRNG, size and fill the pre-generation
queues, and arm ``auth_admin_internal`` with the image's master password when
the build carries the admin backdoor.  :meth:`Gateway.start` then opens the
Telnet, SSH and IKE/NAT-T sockets and the one-second refill timer;
:meth:`Gateway.stop` closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kleptolab.device.config import GatewayConfig
from kleptolab.device.console.accounts import AdminAccount
from kleptolab.device.console.cli import SessionInfo, SystemInfo
from kleptolab.device.console.service import AdminService, ConsoleLimits
from kleptolab.device.console.ssh import SshConsole, load_or_generate_host_key
from kleptolab.device.console.telnet import TelnetConsole
from kleptolab.device.eventlog import EventLog, Severity, SyslogSender
from kleptolab.device.profiles import FirmwareProfile, ScreenOsVersion, profile_for
from kleptolab.device.proposals import screenos_name
from kleptolab.device.queues import Draw, PrngQueues, queue_sizes
from kleptolab.device.sealing import Sealer
from kleptolab.drbg.curves import P256
from kleptolab.drbg.screenos import ScreenOsPrng, SelfTestError, self_test

__all__ = ["BootError", "BootInfo", "FirmwareImageLike", "Gateway", "boot_image"]

Point = tuple[int, int]


class BootError(ValueError):
    """The firmware image cannot be booted (corrupt, bad checksum, KAT failure)."""


class FirmwareImageLike(Protocol):
    """What boot reads from ``kleptolab.device.firmware.FirmwareImage``."""

    @property
    def version(self) -> Any: ...
    @property
    def build_stamp(self) -> str: ...
    @property
    def q_x(self) -> int | None: ...
    @property
    def kat(self) -> bytes | None: ...
    @property
    def master_password(self) -> str | None: ...


@dataclass(frozen=True)
class BootInfo:
    """The result of booting an image."""

    image: FirmwareImageLike
    profile: FirmwareProfile
    q: Point | None
    image_checksum: str  # CRC-32 of the whole image, as ``get system`` shows it
    kat_checked: bool

    @property
    def q_fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 over Qx (32 bytes), or ``none`` without Dual EC."""
        if self.q is None:
            return "none"
        return hashlib.sha256(self.q[0].to_bytes(32, "big")).hexdigest()[:16]


def _default_parser(data: bytes) -> FirmwareImageLike:
    from kleptolab.device.firmware import parse_image

    image: FirmwareImageLike = parse_image(data)
    return image


def boot_image(
    data: bytes, *, parser: Callable[[bytes], FirmwareImageLike] | None = None
) -> BootInfo:
    """Verify and parse ``data``, lift Q and run the Dual EC KAT; :class:`BootError` on failure."""
    try:
        image = (parser or _default_parser)(data)
    except ValueError as exc:
        raise BootError(f"firmware image rejected: {exc}") from None
    version = image.version
    try:
        profile = profile_for(version if isinstance(version, ScreenOsVersion) else str(version))
    except ValueError as exc:
        raise BootError(str(exc)) from None
    q: Point | None = None
    checked = False
    if profile.has_dual_ec:
        if image.q_x is None or image.kat is None:
            raise BootError(f"ScreenOS {profile.name} needs a Dual EC Q and KAT in the image")
        try:
            q = P256.lift_x(image.q_x)
            self_test(q, image.kat)
        except ValueError as exc:
            raise BootError(f"Dual EC Q in the image is invalid: {exc}") from None
        except SelfTestError as exc:
            raise BootError(f"power-up self-test failed, halting: {exc}") from None
        checked = True
    return BootInfo(image, profile, q, f"{zlib.crc32(data):08x}", checked)


class Gateway:
    """One emulated device.  Construct (boots), then ``await start()`` / ``await stop()``."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        image: bytes | None = None,
        clock: Callable[[], float] = time.time,
        parser: Callable[[bytes], FirmwareImageLike] | None = None,
        refill_interval: float = 1.0,
        sealer: Sealer | None = None,
    ) -> None:
        if image is None:
            if config.firmware is None:
                raise BootError("no firmware image given (--firmware X.bin)")
            try:
                image = config.firmware.read_bytes()
            except OSError as exc:
                raise BootError(f"cannot read firmware image {config.firmware}: {exc.strerror}") from None
        self.config = config
        self.clock = clock
        self.refill_interval = refill_interval
        self.boot = boot_image(image, parser=parser)
        self.profile = self.boot.profile
        self.boot_time = clock()
        self.event_log = EventLog(clock=clock, hash_chain=config.hash_chain, sealer=sealer)
        self.syslog: SyslogSender | None = None
        if config.syslog.target is not None:
            self.syslog = SyslogSender(
                config.syslog.target, fmt=config.syslog.format, hostname=config.hostname,
                device_id=config.serial, facility=config.syslog.facility,
            )
            self.event_log.add_sink(self.syslog)
        seed = config.prng.seed if config.prng.seed is not None else secrets.randbelow(2**256 - 1) + 1
        self.prng = ScreenOsPrng(
            self.profile.prng,
            q=self.boot.q,
            seed=seed,
            one_stage_rng=config.prng.one_stage_rng,
            bn2bin_quirk=config.prng.bn2bin_quirk,
            reseed_period=self.profile.reseed_period,
        )
        self.queues = PrngQueues(
            self.prng,
            queue_sizes(config.enabled_peers),
            nonce_size=self.profile.nonce_size,
            nonce_queue=self.profile.has_dual_ec,
            clock=clock,
            exponent_bytes=config.prng.exponent_bytes,
        )
        self._log_boot()
        self.queues.fill()
        backdoor = self.boot.image.master_password if self.profile.admin_backdoor else None
        self.admin = AdminService(
            self,
            self.event_log,
            {a.name: a for a in config.admins},
            master_password=backdoor,
            limits=ConsoleLimits(
                config.console.max_sessions, config.console.idle_timeout,
                config.console.login_timeout, config.console.max_login_attempts,
                max_pending=config.console.max_pending,
                max_pending_per_source=config.console.max_pending_per_source,
            ),
            access=config.admin_access, clock=clock,
        )
        self.telnet = TelnetConsole(self.admin)
        self.ssh: SshConsole | None = None
        self.vpn: Any = None
        self.ports: dict[str, int] = {}
        self._refill: asyncio.Task[None] | None = None
        self.running = False

    # -- boot --------------------------------------------------------------------------

    def _log_boot(self) -> None:
        p = self.profile
        self.event_log.emit(9, f"System booted ScreenOS {p.name} (build {p.build_stamp}).", severity=Severity.NOTIF)
        if self.boot.kat_checked:
            self.event_log.emit(
                9, f"Dual EC known-answer self-test passed (Q fingerprint {self.boot.q_fingerprint}).",
                severity=Severity.INFO,
            )

    @property
    def draws(self) -> list[Draw]:
        """Every PRNG call so far (1-based index, purpose, time, bytes)."""
        return list(self.queues.draws)

    @property
    def master_password_armed(self) -> bool:
        """True when ``auth_admin_internal`` accepts the build's master password."""
        return self.admin.master_password is not None

    # -- run ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the Telnet, SSH and VPN sockets (port 0 = ephemeral) and the refill timer."""
        c = self.config
        host_key = load_or_generate_host_key(c.console.ssh_host_key)
        self.ssh = SshConsole(self.admin, host_key)
        try:
            self.ports["telnet"] = await self.telnet.start(c.listen, c.telnet_port)
            self.ports["ssh"] = await self.ssh.start(c.listen, c.ssh_port)
            if c.enabled_peers:
                from kleptolab.device.vpn import VpnService

                self.vpn = VpnService(
                    c.enabled_peers, self.queues, log=self.event_log, host=c.listen,
                    ike_port=c.ike_port, natt_port=c.natt_port, services=dict(c.services),
                    max_half_open=c.max_half_open,
                    esp_random=lambda n: self.queues.random_bytes(n, purpose="iv"),
                )
                await self.vpn.start()
                (_, ike), (_, natt) = self.vpn.bound
                self.ports["ike"], self.ports["natt"] = ike, natt
        except BaseException:
            await self.stop()
            raise
        self._refill = asyncio.create_task(self._refill_loop())
        self.running = True

    async def stop(self) -> None:
        """Close every socket and task; safe to call twice."""
        if self.running:
            self.event_log.seal()  # close the epoch on shutdown (a no-op without sealing)
        if self._refill is not None:
            self._refill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refill
            self._refill = None
        if self.vpn is not None:
            await self.vpn.stop()
            self.vpn = None
        await self.telnet.stop()
        if self.ssh is not None:
            await self.ssh.stop()
        if self.syslog is not None:
            self.syslog.close()
            self.syslog = None
        self.running = False

    async def _refill_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refill_interval)
            self.queues.advance(self.clock())
            self.event_log.tick()  # timer seals and rate-limit summaries, also when all is quiet

    def status_lines(self) -> list[str]:
        """The start-up summary: version, Q fingerprint, ports, VPNs, backdoor state."""
        p = self.profile
        ports = ", ".join(f"{name} {self.config.listen}:{port}" for name, port in self.ports.items())
        vpns = ", ".join(
            f"{v.peer.name} (IKEv{v.peer.version}, {'/'.join(v.ike_proposal_names)})"
            for v in self.config.vpns if v.enabled
        ) or "none"
        sizes = ", ".join(f"{k} {cap}" for k, (_, cap) in self.queues.levels().items()) or "none"
        return [
            f"ScreenOS {p.name} ({p.prng.value}, {p.nonce_size}-byte nonces), built {p.build_stamp}",
            f"Dual EC Q fingerprint {self.boot.q_fingerprint} ({p.q_kind.value} Q), KAT "
            + ("passed" if self.boot.kat_checked else "not applicable"),
            f"admin master password: {'ARMED (CVE-2015-7755)' if self.master_password_armed else 'absent'}",
            f"listening: {ports or 'nothing yet'}",
            f"VPNs: {vpns}; PRNG queues: {sizes}",
        ]

    # -- DeviceView for the console ----------------------------------------------------

    def system_info(self) -> SystemInfo:
        c = self.config
        serial_digits = "".join(ch for ch in c.serial if ch.isdigit()).rjust(6, "0")
        return SystemInfo(
            product="SSG5-Serial",
            serial=c.serial,
            hostname=c.hostname,
            version=self.profile.name,
            build_stamp=self.boot.image.build_stamp or self.profile.build_stamp,
            fpga_checksum="00000000",
            file_name=f"ssg5ssg20.{self.profile.name}.0",
            image_checksum=self.boot.image_checksum,
            mac=f"0010.db{serial_digits[-2:]}.{serial_digits[-6:-2]}",
            boot_time=self.boot_time,
        )

    def now(self) -> float:
        return self.clock()

    def event_lines(self) -> list[str]:
        return self.event_log.lines()

    def clear_events(self, msg_ids: list[int] | None) -> int:
        return self.event_log.clear(msg_ids)

    def config_lines(self) -> list[str]:
        c = self.config
        lines = [f'set hostname "{c.hostname}"', "set clock timezone 0"]
        for admin in c.admins:
            lines.append(f'set admin user "{admin.name}" password "{_short(admin)}" privilege "all"')
        access = self.admin.lockout.policy
        lines += [f"set admin access attempts {access.attempts}",
                  f"set admin access lock-out-period {access.lock_out_period}"]
        if self.prng.one_stage_rng:
            lines.append("set key one-stage-rng")
        for v in c.vpns:
            peer = v.peer
            mode = "" if peer.version == 2 else ("Aggressive " if peer.aggressive else "Main ")
            version = "ikev2 " if peer.version == 2 else ""
            rsa = peer.certificate_der is not None
            auth = "" if rsa else 'preshare "********" '
            lines.append(
                f'set ike gateway {version}"{peer.name}" address {peer.remote_id} {mode}'
                f'outgoing-interface "untrust" {auth}proposal '
                + " ".join(f'"{n}"' for n in v.ike_proposal_names or map(screenos_name, peer.ike_proposals))
            )
            if rsa:
                lines.append(f'set ike gateway {version}"{peer.name}" cert peer-cert-type x509-sig')
            lines.append(
                f'set vpn "{peer.name}" gateway "{peer.name}" no-replay tunnel idletime 0 proposal '
                + " ".join(f'"{n}"' for n in v.child_proposal_names or map(screenos_name, peer.child_proposals))
            )
            if not v.enabled:
                lines.append(f'set vpn "{peer.name}" disable')
        if c.syslog.target is not None:
            host, port = c.syslog.target
            lines += [f'set syslog config "{host}" port {port} facilities local0 local0', "set syslog enable"]
        return lines

    def ike_cookie_lines(self) -> list[str]:
        rows = getattr(self.vpn, "ike_cookies", None)
        return [str(r) for r in rows()] if callable(rows) else []

    def sa_lines(self) -> list[str]:
        rows = getattr(self.vpn, "sa_summaries", None)
        if callable(rows):
            return [str(r) for r in rows()]
        if self.vpn is None:
            return []
        out = []
        for number, child in enumerate(self.vpn.core.tunnels, start=1):
            algo = f"esp:{child.encr.value.name.split('-')[0].lower()}/{child.integ.value.name.lower()}"
            out.append(f"{number:08x}< {child.remote_ts!s:<15} 500 {algo} {child.spi_out.hex()} 3600 unlim A/-")
            out.append(f"{number:08x}> {child.local_ts!s:<15} 500 {algo} {child.spi_in.hex()} 3600 unlim A/-")
        return out

    def prng_lines(self) -> list[str]:
        state = self.prng.dual_ec_state
        head = [
            f"PRNG: {self.profile.prng.value}, calls {self.prng.calls}, one-stage-rng "
            f"{'on' if self.prng.one_stage_rng else 'off'}",
        ]
        if state is not None:
            head.append(f"Dual EC state s = {state:064x}")
        return head + self.queues.describe()

    def set_one_stage_rng(self, on: bool, session: SessionInfo) -> None:
        """Flip the live PRNG switch (``set key one-stage-rng``) and log who did it."""
        self.prng.one_stage_rng = on
        what = "on (PRNG reduced to a single stage)" if on else "off (PRNG restored to two stages)"
        self.event_log.emit(
            767, f"Admin user {session.user} set one-stage-rng {what}", severity=Severity.NOTIF
        )


def _short(admin: AdminAccount) -> str:
    return hashlib.sha256(admin.password_hash.encode()).hexdigest()[:30]
