"""Record a capture of the REAL lab gateway (6.3.0r20 image, lab trapdoor) through the passive tap.

:func:`record_capture` boots :class:`~kleptolab.device.gateway.Gateway` from a
firmware image built with the trapdoor's Q, one ``[[vpn]]`` per :class:`Case`,
puts :class:`~kleptolab.lab.tap.PassiveTap` in front of its IKE/NAT-T ports and
runs one :class:`~kleptolab.device.client.VpnClient` session per case, back to
back: connect, a few recognisable UDP messages and pings, close.  What each
client sent is returned for comparison with what the decryptor recovers.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.capture.pcapio import PcapWriter
from kleptolab.device.client import VpnClient
from kleptolab.device.config import load_config
from kleptolab.device.firmware import build_image
from kleptolab.device.gateway import Gateway
from kleptolab.device.pki import PkiFiles
from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.ike.common import SimpleKeySource
from kleptolab.lab.tap import PassiveTap
from kleptolab.lab.victim import LOOPBACK, gateway_host

__all__ = ["ECHO", "PING", "Case", "Session", "record_capture"]

PROTECTED_TS = "10.1.0.0/24"
ECHO = ("10.1.0.10", 7)  # answered in-process by the gateway's protected network
PING = "10.1.0.1"


@dataclass(frozen=True)
class Case:
    """One VPN on the gateway and the client session that uses it."""

    name: str
    version: int
    ike_proposal: str
    esp_proposal: str
    source: str  # the client's inner address (its /32 is the VPN's remote_ts)
    psk: bytes | None = None  # None: RSA signatures
    aggressive: bool = False
    pfs_rekey: bool = False  # IKEv2: a CREATE_CHILD_SA with PFS after the first child SA
    messages: int = 3
    pings: int = 2

    @property
    def client_id(self) -> str:
        return "client.example" if self.psk is None else f"{self.name}.client.example"

    def gateway_table(self, pki: PkiFiles) -> dict[str, Any]:
        table: dict[str, Any] = {
            "name": self.name, "version": self.version, "local_id": "gw.example",
            "remote_id": self.client_id, "ike_proposals": [self.ike_proposal],
            "child_proposals": [self.esp_proposal], "local_ts": PROTECTED_TS,
            "remote_ts": f"{self.source}/32", "aggressive": self.aggressive,
        }
        if self.psk is not None:
            table["psk"] = self.psk.decode()
        else:  # absolute paths: the config's base directory does not matter
            table.update(private_key=str(pki.gateway_key), certificate=str(pki.gateway_cert),
                         trusted_ca=str(pki.ca_cert))
        return table

    def message(self, n: int) -> bytes:
        return f"kleptolab gateway capture: {self.name} message {n + 1} to 4242-{n:04d}".encode()


@dataclass
class Session:
    """What one client did: its IKE SA id (``SPIi:SPIr`` hex, as in report.json) and inner packets."""

    case: Case
    ike_sa: str = ""
    udp: list[bytes] = field(default_factory=list)  # payloads sent, in order
    echoed: list[bytes | None] = field(default_factory=list)
    pings: list[float | None] = field(default_factory=list)
    children: int = 0


async def _session(case: Case, tap_ports: dict[str, int], pki: PkiFiles, seed: int) -> Session:
    creds: dict[str, Any] = {"psk": case.psk}
    if case.psk is None:
        from kleptolab.device.pki import load_credentials

        c = load_credentials(pki.client_key, pki.client_cert, pki.ca_cert, "client.example")
        creds = {"private_key": c.key_pem, "certificate": c.cert_der, "trusted_ca": c.ca_der}
    client = VpnClient(
        LOOPBACK, ike_port=tap_ports["ike"], natt_port=tap_ports["natt"], version=case.version,
        aggressive=case.aggressive, proposal=case.ike_proposal, esp_proposal=case.esp_proposal,
        local_id=case.client_id, remote_id="gw.example", local_ts=f"{case.source}/32",
        remote_ts=PROTECTED_TS, keys=SimpleKeySource(random.Random(seed).randbytes),
        bind_host=LOOPBACK, **creds,
    )
    session = Session(case)
    try:
        await client.connect(timeout=10.0)
        session.children = 1
        [row] = client.core.ike_cookies()  # "<spi_i>/<spi_r> <peer> <mode> done"
        session.ike_sa = row.split()[0].replace("/", ":")
        half = (case.messages + 1) // 2
        for n in range(case.messages):
            if case.pfs_rekey and n == half:
                await client.create_child_sa(10.0)
                session.children += 1
            payload = case.message(n)
            session.udp.append(payload)
            session.echoed.append(await client.send_udp(ECHO, payload, timeout=5.0))
        session.pings = await client.ping(PING, count=case.pings, timeout=5.0)
    finally:
        await client.close()
    assert [s.payload for s in client.sent if s.kind == "udp"] == session.udp
    return session


async def _record(
    pcap: Path, trapdoor: Trapdoor, cases: tuple[Case, ...], pki: PkiFiles
) -> tuple[list[Session], list[str]]:
    host = gateway_host()
    config = load_config(
        None, seed="6a7e3a7c" * 8, listen=host, ports={"ike": 0, "natt": 0, "ssh": 0, "telnet": 0},
        vpn=[c.gateway_table(pki) for c in cases],
    )
    gateway = Gateway(config, image=build_image("6.3.0r20", trapdoor_q=trapdoor.q))
    await gateway.start()
    sessions: list[Session] = []
    try:
        with PcapWriter(pcap) as writer:
            tap = PassiveTap(writer, host, {"ike": gateway.ports["ike"], "natt": gateway.ports["natt"]})
            tap_ports = await tap.start()
            try:
                for k, case in enumerate(cases):
                    sessions.append(await _session(case, tap_ports, pki, 1000 + k))
            finally:
                await tap.stop()
    finally:
        await gateway.stop()
    return sessions, [e.message for e in gateway.event_log.entries]


def record_capture(
    pcap: Path, trapdoor: Trapdoor, cases: tuple[Case, ...], pki: PkiFiles
) -> tuple[list[Session], list[str]]:
    """Run every case's session through the tap into ``pcap``; return the sessions and event log."""
    return asyncio.run(asyncio.wait_for(_record(pcap, trapdoor, cases, pki), 120))


