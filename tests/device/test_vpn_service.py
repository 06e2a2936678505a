"""VpnService over loopback sockets: inner forwarding, in-process services, floods (toy IKE engines)."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from kleptolab.device.services import start_udp_echo
from kleptolab.device.vpn import VpnService
from kleptolab.device.vpn_core import MemoryLog
from kleptolab.esp.sa import EspSa, sa_pair_from_child
from kleptolab.ike.common import SimpleKeySource
from kleptolab.netpkt import (
    build_ip_udp,
    build_ipv4_icmp_echo,
    echo_reply_for,
    parse_ipv4,
    parse_udp,
)

from .vpn_fakes import ToyEngines, child_keys, config, ike_message

pytestmark = pytest.mark.network


class ToyPeer:
    """A hand-driven peer: completes the toy handshake on 4500 and speaks ESP-in-UDP."""

    def __init__(self, service: VpnService, spi_i: bytes = b"P" * 8) -> None:
        self.ike, self.natt = service.bound
        self.spi_i = spi_i
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        out, inn = sa_pair_from_child(
            child_keys(b"\x00\x00\x20\x02", b"\x00\x00\x10\x01", initiator=True), os.urandom
        )
        self.out: EspSa = out
        self.inn: EspSa = inn

    async def recv(self, timeout: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65535), timeout)

    async def handshake(self) -> None:
        self.sock.sendto(ike_message(self.spi_i), self.ike)
        await self.recv()
        self.sock.sendto(bytes(4) + ike_message(self.spi_i, b"R" * 8, message_id=1), self.natt)
        await asyncio.sleep(0.05)

    async def exchange(self, inner: bytes) -> bytes:
        self.sock.sendto(self.out.encapsulate(inner), self.natt)
        return self.inn.decapsulate(await self.recv())


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def make_service(log: MemoryLog, **kwargs: object) -> VpnService:
    return VpnService(
        [config()],
        SimpleKeySource(os.urandom),
        log=log,
        host="127.0.0.1",
        ike_port=0,
        natt_port=0,
        engines=ToyEngines(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_icmp_echo_answered_in_process_and_udp_forwarded_to_loopback_service() -> None:
    async def scenario() -> None:
        echo, echo_addr = await start_udp_echo()
        log = MemoryLog()
        service = make_service(log, services={("198.51.100.10", 7): echo_addr})
        await service.start()
        peer = ToyPeer(service)
        try:
            await peer.handshake()
            request = build_ipv4_icmp_echo(
                "203.0.113.1", "198.51.100.1", 77, 1, b"ping through the tunnel"
            )
            assert await peer.exchange(request) == echo_reply_for(request)
            reply = parse_ipv4(
                await peer.exchange(
                    build_ip_udp("203.0.113.1", 40001, "198.51.100.10", 7, b"hello")
                )
            )
            udp = parse_udp(reply.payload, reply.src, reply.dst)
            assert (reply.src, udp.sport, reply.dst, udp.dport, udp.payload) == (
                "198.51.100.10",
                7,
                "203.0.113.1",
                40001,
                b"hello",
            )
            # in-process UDP echo for protected hosts without a mapped service
            reply = parse_ipv4(
                await peer.exchange(
                    build_ip_udp("203.0.113.1", 40002, "198.51.100.20", 7, b"again")
                )
            )
            assert parse_udp(reply.payload).payload == b"again"
            assert any("forwarded" in m for m in log.kinds("esp"))
        finally:
            peer.sock.close()
            await service.stop()
            echo.close()

    run(scenario())


def test_flood_of_garbage_and_half_open_handshakes_then_legitimate_peer() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        service = make_service(log, max_half_open=8)
        await service.start()
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.bind(("127.0.0.2", 0))  # another loopback source: the per-peer bound isolates it
        peer = ToyPeer(service)
        try:
            ike, natt = service.bound
            sent, deadline = 0, time.monotonic() + 3.0
            while sent < 3000 and time.monotonic() < deadline:
                kind = sent % 4
                if kind == 0:
                    flood.sendto(os.urandom(1 + sent % 300), ike)
                elif kind == 1:
                    flood.sendto(os.urandom(1 + sent % 300), natt)
                elif kind == 2:
                    flood.sendto(ike_message(os.urandom(8)), ike)  # IKEv1 half-open
                else:
                    flood.sendto(
                        bytes(4) + ike_message(os.urandom(8), version=2, exchange=34, flags=8), natt
                    )
                sent += 1
                if sent % 4 == 0:
                    await asyncio.sleep(0)  # let the service read
            await asyncio.sleep(0.2)
            assert service.core.half_open <= 2  # max(1, 8 // 4) from the flooding address
            assert service.received > sent // 2
            await peer.handshake()
            request = build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 5, 1, b"still here")
            assert await peer.exchange(request) == echo_reply_for(request)
            assert service.core.dropped > sent // 4
        finally:
            flood.close()
            peer.sock.close()
            await service.stop()

    run(scenario())


def test_site_to_site_initiator_between_two_gateways() -> None:
    import ipaddress

    from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
    from kleptolab.device.vpn_core import InnerPacket, TunnelUp, VpnEvent
    from kleptolab.ike.common import PeerConfig

    def site(name: str, version: int, local: str, remote: str, me: str, peer: str) -> PeerConfig:
        return PeerConfig(
            name,
            version,
            me,
            peer,
            (parse_ike_proposal("pre-g2-aes128-sha"),),
            (parse_child_proposal("g2-esp-aes128-sha"),),
            ipaddress.IPv4Network(local),
            ipaddress.IPv4Network(remote),
            psk=b"site-to-site",
        )

    async def scenario(version: int) -> None:
        events: list[VpnEvent] = []
        a = VpnService(
            [site("to-b", version, "10.1.0.0/24", "10.2.0.0/24", "a.example", "b.example")],
            SimpleKeySource(os.urandom),
            host="127.0.0.1",
            ike_port=0,
            natt_port=0,
            on_event=events.append,
        )
        b = VpnService(
            [site("to-a", version, "10.2.0.0/24", "10.1.0.0/24", "b.example", "a.example")],
            SimpleKeySource(os.urandom),
            host="127.0.0.1",
            ike_port=0,
            natt_port=0,
        )
        await a.start()
        await b.start()
        try:
            (b_ike, b_natt) = b.bound
            await a.initiate("to-b", b_ike, natt_port=b_natt[1])
            for _ in range(100):
                if any(isinstance(e, TunnelUp) for e in events):
                    break
                await asyncio.sleep(0.02)
            request = build_ipv4_icmp_echo("10.1.0.5", "10.2.0.1", 9, 1, b"site to site")
            assert a.send_inner(request)
            for _ in range(100):
                replies = [e.packet for e in events if isinstance(e, InnerPacket)]
                if replies:
                    break
                await asyncio.sleep(0.02)
            assert replies == [echo_reply_for(request)]
            assert len(b.sa_summaries()) == 2
        finally:
            await a.stop()
            await b.stop()

    for version in (1, 2):
        run(scenario(version))
