"""One live phase of the demo: boot a gateway from its image and use the VPN through a tap.

:func:`run_live_phase` starts, on loopback and in this order, a syslog
collector, the protected UDP echo service, the gateway (from the firmware
image, ephemeral ports), the passive tap in front of its IKE/NAT-T ports, and
the VPN clients of the scenario, which send recognisable UDP payloads through
the tunnel.  While the gateway is up the attacker tries the master password
over SSH, and the defender surveys the gateway's nonces
(:mod:`~kleptolab.lab.survey`) through a second tap with its own capture.
Everything is torn down (``AsyncExitStack``) before it returns, even when a
stage fails.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kleptolab.device.sealing import Sealer, VerifyKey
from kleptolab.lab.backdoor import LoginAttempt, ssh_login
from kleptolab.lab.model import volatile
from kleptolab.lab.scenarios import (
    ECHO_PORT,
    PROTECTED_HOST,
    Scenario,
    SessionPlan,
    VpnPlan,
    session_message,
)
from kleptolab.lab.survey import SurveyResult, nonce_survey
from kleptolab.lab.syslog import SyslogCollector

if TYPE_CHECKING:
    from kleptolab.capture.pcapio import PcapWriter
    from kleptolab.lab.tap import PassiveTap

__all__ = ["LAB_CLIENT", "LivePhase", "PhaseError", "SentMessage", "SessionRecord", "run_live_phase"]

Say = Callable[[str, str], None]
SEAL_INTERVAL = 5
"""Seconds between the event log's timer seals in the demo."""
ERASE = "clear event type 515-528"
"""What the attacker types to erase its own 00515/00528 logon lines."""
LOOPBACK = "127.0.0.1"
GATEWAY_HOST = "127.0.0.10"
"""Where the gateway listens when the system routes all of 127/8 to loopback (Linux), so
the tap's pcap shows two distinct endpoints; :func:`gateway_host` falls back to 127.0.0.1."""
LAB_CLIENT = LOOPBACK
"""The address the taps record every VPN client under (ports: ``lab.tap.CLIENT_PORT_BASE`` + k)."""


def gateway_host() -> str:
    """:data:`GATEWAY_HOST` if a socket can bind it here, else ``127.0.0.1``."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((GATEWAY_HOST, 0))
        except OSError:
            return LOOPBACK
    return GATEWAY_HOST


class PhaseError(RuntimeError):
    """A stage of the live phase failed unexpectedly (the message names the stage)."""


@dataclass(frozen=True)
class SentMessage:
    """One UDP payload a client sent into the tunnel, its inner flow and whether it came back."""

    payload: bytes
    src: str
    sport: int
    dst: str
    dport: int
    echoed: bool


@dataclass
class SessionRecord:
    """One client session of the phase."""

    index: int
    vpn: str
    version: int
    ike_sa: str = ""  # "SPIi:SPIr" in hex, as in the decryptor's report
    connected: bool = False
    error: str = ""
    messages: list[SentMessage] = field(default_factory=list)


@dataclass
class LivePhase:
    """What the victim side of one phase left behind."""

    firmware_version: str
    pcap: Path
    gateway_ports: dict[str, int]
    sessions: list[SessionRecord]
    draws: list[Any]
    taken: list[Any]
    event_lines: list[str]
    syslog_lines: list[str]
    login: LoginAttempt | None
    master_password_in_image: str | None
    survey: SurveyResult | None = None
    survey_pcap: Path | None = None
    verify_key: str = ""
    """The event log's verification key, shown once at set-up and kept off the device."""
    erased: str = ""
    """What the attacker's ``clear event`` answered (empty when nothing was erased)."""


def _once(stop: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Wrap an async ``stop`` so that calling it again (from the exit stack) does nothing."""
    done = False

    async def run() -> None:
        nonlocal done
        if not done:
            done = True
            await stop()

    return run


def gateway_seed(seed: int, phase: str) -> str:
    """The Dual EC start state for ``phase`` as a 64-digit hex string (never zero)."""
    import hashlib

    digest = hashlib.sha256(f"kleptolab demo seed {seed} phase {phase}".encode()).digest()
    return (digest[:-1] + b"\x01").hex()


async def _run_session(
    plan: SessionPlan, index: int, scenario: Scenario, tap_ports: dict[str, int], phase: str,
    rng: random.Random, say: Say,
) -> SessionRecord:
    from kleptolab.device.client import VpnClient
    from kleptolab.ike.common import SimpleKeySource

    vpn = plan.vpn
    record = SessionRecord(index, vpn.name, vpn.version)
    client_rng = random.Random(rng.getrandbits(64))
    client = VpnClient(
        LOOPBACK, psk=scenario.psk, ike_port=tap_ports["ike"], natt_port=tap_ports["natt"],
        version=vpn.version, proposal=vpn.ike_proposal, esp_proposal=vpn.esp_proposal,
        local_id=vpn.client_id, remote_id=vpn.gateway_id, local_ts=vpn.client_ts,
        remote_ts=vpn.protected_ts, keys=SimpleKeySource(client_rng.randbytes), bind_host=LOOPBACK,
    )
    try:
        await client.connect(timeout=15.0)
        record.connected = True
        rows = client.core.ike_cookies()  # "<spi_i>/<spi_r> <peer> <mode> done"
        if rows:
            record.ike_sa = rows[0].split()[0].replace("/", ":")
        say("victim", f"session {index + 1}: IKEv{vpn.version} tunnel up ({vpn.ike_proposal} / {vpn.esp_proposal})")
        for n in range(scenario.messages_per_session):
            payload = session_message(phase, index, vpn, n)
            before = len(client.sent)
            reply = await client.send_udp((PROTECTED_HOST, ECHO_PORT), payload, timeout=5.0)
            packet = client.sent[before].packet
            from kleptolab.netpkt import parse_ipv4, parse_udp

            ip = parse_ipv4(packet)
            udp = parse_udp(ip.payload, ip.src, ip.dst)
            record.messages.append(
                SentMessage(payload, ip.src, udp.sport, ip.dst, udp.dport, reply == payload)
            )
    except (TimeoutError, ConnectionError, OSError, RuntimeError, ValueError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        say("victim", f"session {index + 1}: IKEv{vpn.version} failed: {record.error}")
    finally:
        await client.close()
    return record


async def run_live_phase(
    scenario: Scenario, version: str, image: Path, workdir: Path, *, seed: int,
    master_password: str, login_user: str, say: Say, survey_probes: int = 0, epoch: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LivePhase:
    """Run the victim's side of one phase on ``image``; files go to ``workdir``.

    ``survey_probes`` > 0: afterwards the defender runs its nonce survey (needs an IKEv2 VPN).
    ``epoch``: a virtual instant for the gateway's clock (its logs, console, SA timers) and the
    start of the taps' packet clocks; the taps then record canonical lab addresses and ports
    (reproducible captures).  None: the wall clock and the real loopback endpoints.
    ``progress(what, done, total)``: the survey's ticks (a progress bar).
    """
    from kleptolab.capture.pcapio import PcapWriter
    from kleptolab.device.config import load_config
    from kleptolab.device.firmware import parse_image
    from kleptolab.device.gateway import Gateway
    from kleptolab.device.services import start_udp_echo
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = workdir / f"tap-{version}.pcap"
    host = gateway_host()
    rng = random.Random(f"{seed}:{version}")
    image_info = parse_image(image.read_bytes())
    sessions: list[SessionRecord] = []
    login: LoginAttempt | None = None
    erased = ""
    async with AsyncExitStack() as stack:
        collector = SyslogCollector()
        await collector.start()
        stack.push_async_callback(collector.stop)
        echo_transport, echo_addr = await start_udp_echo(LOOPBACK, 0)
        stack.callback(echo_transport.close)
        try:
            config = load_config(
                None, firmware=str(image), seed=gateway_seed(seed, version), listen=host,
                ports={"ike": 0, "natt": 0, "ssh": 0, "telnet": 0},
                # the survey comes from one address, and the per-peer half-open bound is a
                # quarter of max_half_open: leave room for every abandoned probe
                max_half_open=max(32, 4 * survey_probes),
                syslog={"target": collector.target, "format": "bsd"},
                vpn=[v.gateway_table(scenario.psk) for v in scenario.vpns],
                service=[{"protected": f"{PROTECTED_HOST}:{ECHO_PORT}",
                          "target": f"{echo_addr[0]}:{echo_addr[1]}"}],
            )
            sealer, verify_key = _seal_keys(seed, version, config.serial, epoch)
            gateway = (Gateway(config, sealer=sealer) if epoch is None
                       else Gateway(config, clock=lambda: epoch, sealer=sealer))
            await gateway.start()
        except Exception as exc:
            raise PhaseError(f"booting the {version} gateway failed: {type(exc).__name__}: {exc}") from exc
        stop_gateway = _once(gateway.stop)
        stack.push_async_callback(stop_gateway)
        ports = dict(gateway.ports)
        say("victim", f"gateway {version} booted from {image.name}: IKE, NAT-T and SSH on {host}"
                      + volatile(f" (:{ports['ike']}, :{ports['natt']}, :{ports['ssh']})"))
        say("defender", f"event log sealing set up (forward-secure, a seal every {SEAL_INTERVAL} s and "
                        f"after each admin logon); verification key {verify_key.text[:16]}… shown once, "
                        "kept off the device")

        writer = PcapWriter(pcap)
        stack.callback(writer.close)
        tap = _tap(writer, host, {"ike": ports["ike"], "natt": ports["natt"]}, epoch)
        tap_ports = await tap.start()
        stop_tap = _once(tap.stop)
        stack.push_async_callback(stop_tap)
        say("victim", "passive tap inline" + volatile(f" on :{tap_ports['ike']}/:{tap_ports['natt']}")
                      + f", recording {pcap.name}"
                      + ("" if epoch is None else f" (gateway as {GATEWAY_HOST}:500/4500, clients as {LAB_CLIENT})"))

        for index, plan in enumerate(scenario.sessions):  # back to back, as fast as the clients go
            sessions.append(await _run_session(plan, index, scenario, tap_ports, version, rng, say))

        say("attacker", f"SSH to the admin console as {login_user!r} with the master password")
        login = await ssh_login(host, ports["ssh"], login_user, master_password, then=(ERASE,))
        if login.accepted:
            say("attacker", "logged in: `get system` answered "
                            f"({len(login.output.splitlines())} lines)")
            erased = login.then_output[0] if login.then_output else ""
            say("attacker", f"covering tracks: `{ERASE}` erases the 00515/00528 logon lines "
                            f"({erased or 'no answer'})")
        else:
            say("attacker", f"login refused: {login.error}")

        # the draw log of the victim's traffic (the survey's draws would only bury it)
        draws, taken = list(gateway.queues.draws), list(gateway.queues.taken)
        survey, survey_pcap = None, None
        ikev2 = next((v for v in scenario.vpns if v.version == 2), None)
        if survey_probes and ikev2 is not None:
            survey_pcap = workdir / f"survey-{version}.pcap"
            survey = await _survey(stack, survey_pcap, host, ports, ikev2, survey_probes, seed, say, epoch,
                                   progress)

        await stop_tap()
        await stop_gateway()
        await collector.wait_quiet()
        event_lines = list(gateway.event_log.lines())
    collector.write(workdir / f"syslog-{version}.log")
    (workdir / f"verify-key-{version}.txt").write_text(verify_key.text + "\n", encoding="utf-8")
    (workdir / f"event-{version}.log").write_text("".join(x + "\n" for x in event_lines), encoding="utf-8")
    return LivePhase(
        firmware_version=version, pcap=pcap, gateway_ports=ports, sessions=sessions, draws=draws,
        taken=taken, event_lines=event_lines, syslog_lines=list(collector.lines), login=login,
        master_password_in_image=image_info.master_password, survey=survey, survey_pcap=survey_pcap,
        verify_key=verify_key.text, erased=erased,
    )


def _seal_keys(seed: int, version: str, device_id: str, epoch: float | None) -> tuple[Sealer, VerifyKey]:
    """The gateway's sealing key and the defender's verification key (seeded: reproducible);
    the first epoch starts at the gateway's clock (``epoch`` when it runs on a virtual one)."""
    import time

    from kleptolab.device.sealing import setup_keys

    rng = random.Random(f"kleptolab demo sealing {seed}:{version}")
    start = time.time() if epoch is None else epoch
    return setup_keys(rng.randbytes, device_id=device_id, interval=SEAL_INTERVAL, start=start)


async def _survey(
    stack: AsyncExitStack, pcap: Path, host: str, ports: dict[str, int], vpn: VpnPlan, probes: int,
    seed: int, say: Say, epoch: float | None, progress: Callable[[str, int, int], None] | None,
) -> SurveyResult:
    """The defender probes its own gateway through a tap of its own (a separate capture)."""
    from kleptolab.capture.pcapio import PcapWriter

    writer = PcapWriter(pcap)
    stack.callback(writer.close)
    tap = _tap(writer, host, {"ike": ports["ike"]}, None if epoch is None else epoch + 600)
    tap_ports = await tap.start()
    stop = _once(tap.stop)
    stack.push_async_callback(stop)
    say("defender", f"nonce survey of our own gateway: {probes} IKEv2 IKE_SA_INIT probes over loopback, "
                    f"each abandoned half-open, recorded in {pcap.name} (as the CCS16 §8 scans, but only "
                    "to a device we own)")
    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress("nonce survey", done, total)

    result = await nonce_survey((LOOPBACK, tap_ports["ike"]), vpn, probes, seed=seed, tick=tick)
    await stop()
    sizes = ", ".join(f"{n} of {size} bytes" for size, n in result.nonce_lengths.items()) or "none"
    say("defender", f"survey: {result.answered}/{result.sent} answered" + volatile(f" in {result.seconds:.1f} s")
                    + f" (nonces: {sizes}; {result.cookies} COOKIE round trips)"
                    + (f"; stopped early: {result.stopped}" if result.stopped else ""))
    return result


def _tap(writer: PcapWriter, host: str, ports: dict[str, int], epoch: float | None) -> PassiveTap:
    """A passive tap; with ``epoch``, one that records canonical lab endpoints on a packet clock."""
    from kleptolab.lab.tap import PacketClock, PassiveTap

    if epoch is None:
        return PassiveTap(writer, host, ports)
    return PassiveTap(writer, host, ports, clock=PacketClock(epoch), record_host=GATEWAY_HOST,
                      canonical_client=LAB_CLIENT)
