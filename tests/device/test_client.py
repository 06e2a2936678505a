"""VpnClient ↔ VpnService over loopback with the real IKEv1/IKEv2 engines and ESP."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable

import pytest

from kleptolab.device.client import VpnClient
from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.device.services import start_udp_echo
from kleptolab.device.vpn import VpnService
from kleptolab.device.vpn_core import MemoryLog
from kleptolab.ike.common import PeerConfig, SimpleKeySource
from kleptolab.netpkt import parse_ipv4

from .vpn_fakes import ike_message, sa_init

pytestmark = pytest.mark.network
PSK = b"not-a-real-secret"


def peer(
    version: int,
    *,
    aggressive: bool = False,
    ike: str = "pre-g2-3des-sha",
    esp: str = "g2-esp-3des-sha",
) -> PeerConfig:
    return PeerConfig(
        f"v{version}{'-am' if aggressive else ''}",
        version,
        "gw.example",
        "client.example",
        (parse_ike_proposal(ike),),
        (parse_child_proposal(esp),),
        ipaddress.IPv4Network("198.51.100.0/24"),
        ipaddress.IPv4Network("203.0.113.1/32"),
        psk=PSK,
        aggressive=aggressive,
    )


Scenario = Callable[[VpnService, tuple[str, int]], Awaitable[None]]


def with_gateway(configs: list[PeerConfig], scenario: Scenario, **kwargs: object) -> MemoryLog:
    """Run ``scenario(service, echo_addr)`` against a gateway on loopback; return the gateway's log."""
    log = MemoryLog()

    async def main() -> None:
        echo, echo_addr = await start_udp_echo()
        service = VpnService(
            configs,
            SimpleKeySource(os.urandom),
            log=log,
            host="127.0.0.1",
            ike_port=0,
            natt_port=0,
            services={("198.51.100.10", 7): echo_addr},
            **kwargs,  # type: ignore[arg-type]
        )
        await service.start()
        try:
            await scenario(service, echo_addr)
        finally:
            await service.stop()
            echo.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    return log


def client_for(service: VpnService, **kwargs: object) -> VpnClient:
    ike, natt = service.bound
    return VpnClient("127.0.0.1", psk=PSK, ike_port=ike[1], natt_port=natt[1], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "aggressive", "ike", "esp"),
    [
        (1, False, "pre-g2-3des-sha", "g2-esp-3des-sha"),
        (1, True, "pre-g2-3des-sha", "nopfs-esp-3des-sha"),
        (1, False, "pre-g14-aes128-sha", "g14-esp-aes128-sha"),
        (2, False, "pre-g2-3des-sha", "nopfs-esp-3des-sha"),
        (2, False, "pre-g14-aes256-sha-256", "nopfs-esp-aes128-sha"),
    ],
)
def test_connect_udp_and_ping(version: int, aggressive: bool, ike: str, esp: str) -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        client = client_for(
            service, version=version, aggressive=aggressive, proposal=ike, esp_proposal=esp
        )
        try:
            child = await client.connect(timeout=5)
            assert (
                child.udp_encapsulated
            )  # NAT-D sees ephemeral ports: NAT-T floats to the 4500 role
            assert (
                await client.send_udp(("198.51.100.10", 7), b"to the loopback service")
                == b"to the loopback service"
            )
            assert (
                await client.send_udp(("198.51.100.77", 7), b"in-process echo")
                == b"in-process echo"
            )
            rtts = await client.ping("198.51.100.1", count=2)
            assert all(r is not None and r < 1.0 for r in rtts)
            assert await client.send_udp(("198.51.100.10", 9), b"nobody", timeout=0.3) is None
            kinds = [r.kind for r in client.sent]
            assert kinds == ["udp", "udp", "icmp", "icmp", "udp"]
            first = parse_ipv4(client.sent[0].packet)
            assert (first.src, first.dst, client.sent[0].payload) == (
                "203.0.113.1",
                "198.51.100.10",
                b"to the loopback service",
            )
            assert len(service.sa_summaries()) == 2 and service.ike_cookies()[0].endswith(" done")
        finally:
            await client.close()

    log = with_gateway([peer(version, aggressive=aggressive, ike=ike, esp=esp)], scenario)
    assert any("Phase 1: Completed" in m for m in log.kinds("ike"))
    assert any("Phase 2: Completed negotiations with SPI" in m for m in log.kinds("tunnel"))
    assert any("no service for inner packet" in m for m in log.kinds("drop"))


def test_wrong_psk_fails_cleanly() -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        ike, natt = service.bound
        client = VpnClient("127.0.0.1", psk=b"wrong", ike_port=ike[1], natt_port=natt[1], version=2)
        try:
            with pytest.raises((ConnectionError, TimeoutError)):
                await client.connect(timeout=2)
        finally:
            await client.close()

    with_gateway([peer(2, esp="nopfs-esp-3des-sha")], scenario)


def test_legitimate_clients_get_through_a_flood() -> None:
    """Garbage + half-open IKEv1/IKEv2 from 127.0.0.2; IKEv2 (via COOKIE) and IKEv1 clients still connect."""

    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        ike, natt = service.bound
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.bind(("127.0.0.2", 0))
        try:
            sent, deadline = 0, time.monotonic() + 4.0
            while sent < 2000 and time.monotonic() < deadline:
                choice = sent % 4
                if choice == 0:
                    flood.sendto(os.urandom(1 + sent % 200), ike)
                elif choice == 1:
                    flood.sendto(os.urandom(1 + sent % 200), natt)
                elif choice == 2:
                    flood.sendto(ike_message(os.urandom(8)), ike)
                else:
                    flood.sendto(sa_init(os.urandom(8), os.urandom(32)), ike)
                sent += 1
                if sent % 4 == 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(0.1)
            assert service.core.half_open <= 8
            assert service.core.dropped > sent // 4
            logged = [m for k, m, _ in service.core.log.entries if k == "drop"]  # type: ignore[attr-defined]
            assert len(logged) < service.core.dropped // 4  # drop lines are rate limited
            for version, esp in ((2, "nopfs-esp-3des-sha"), (1, "g2-esp-3des-sha")):
                client = client_for(service, version=version, esp_proposal=esp)
                try:
                    await client.connect(timeout=5)
                    assert await client.ping("198.51.100.1") != [None]
                finally:
                    await client.close()
        finally:
            flood.close()

    log = with_gateway([peer(1), peer(2, esp="nopfs-esp-3des-sha")], scenario, max_half_open=8)
    assert sum("COOKIE" in m for m in log.kinds("ike")) > 0


def test_cli_client_against_gateway() -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        ike, natt = service.bound
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kleptolab",
            "client",
            "127.0.0.1",
            "--ike-port",
            str(ike[1]),
            "--natt-port",
            str(natt[1]),
            "--ike-version",
            "2",
            "--esp-proposal",
            "nopfs-esp-3des-sha",
            "--udp",
            "198.51.100.10:7",
            "-n",
            "2",
            "--pings",
            "2",
            "--timeout",
            "5",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        text = out.decode()
        assert proc.returncode == 0, text
        assert "tunnel up" in text, text
        assert text.count("reply 'kleptolab message") == 2, text
        assert text.count("ping 198.51.100.1 seq=") == 2 and "lost" not in text, text

    with_gateway([peer(2, esp="nopfs-esp-3des-sha")], scenario)


def test_ikev2_create_child_sa_with_pfs_replaces_the_tunnel() -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        client = client_for(service, version=2, proposal="pre-g2-3des-sha", esp_proposal="g2-esp-3des-sha")
        try:
            first = await client.connect(timeout=5)
            second = await client.create_child_sa(timeout=5)
            assert second.spi_in != first.spi_in and second.spi_out != first.spi_out
            assert second.encr_key_out != first.encr_key_out
            assert await client.send_udp(("198.51.100.10", 7), b"over the new child") == b"over the new child"
        finally:
            await client.close()

    log = with_gateway([peer(2, esp="g2-esp-3des-sha")], scenario)
    assert sum("Phase 2: Completed negotiations with SPI" in m for m in log.kinds("tunnel")) == 2


def test_create_child_sa_is_refused_on_ikev1_and_before_connect() -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        client = client_for(service, version=1)
        try:
            with pytest.raises(RuntimeError, match="connect"):
                await client.create_child_sa(timeout=1)
            await client.connect(timeout=5)
            with pytest.raises(ValueError, match="IKEv2"):
                await client.create_child_sa(timeout=1)
        finally:
            await client.close()

    with_gateway([peer(1)], scenario)


@pytest.mark.parametrize("version", [1, 2])
def test_close_deletes_the_ike_sa_at_the_gateway(version: int) -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        client = client_for(service, version=version)
        await client.connect(timeout=5)
        assert len(service.ike_cookies()) == 1 and service.sa_summaries()
        await client.close()
        for _ in range(50):  # the Delete crosses loopback asynchronously
            if not service.ike_cookies():
                break
            await asyncio.sleep(0.02)
        assert service.ike_cookies() == [] and service.sa_summaries() == []

    log = with_gateway([peer(version)], scenario)
    assert any("Received a delete for the IKE SA" in m for m in log.kinds("tunnel"))
