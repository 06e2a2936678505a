"""Tiny protected-network services the gateway emulates in-process.

:class:`ProtectedNetwork` answers inner IPv4 packets addressed to the
protected network without any I/O: ICMP echo requests get echo replies from
the pinged address, and UDP datagrams to an echo port (RFC 862, port 7) come
back unchanged.  :func:`start_udp_echo` is a real loopback UDP echo service,
for labs and tests that forward to a socket instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import cast

from kleptolab.netpkt import (
    PROTO_ICMP,
    PROTO_UDP,
    build_ip_udp,
    echo_reply_for,
    parse_ipv4,
    parse_udp,
)

ECHO_PORT = 7


class ProtectedNetwork:
    """The hosts behind the gateway, as far as in-process answers go."""

    def __init__(
        self,
        networks: Sequence[ipaddress.IPv4Network],
        udp_echo_ports: Sequence[int] = (ECHO_PORT,),
    ) -> None:
        self.networks = tuple(networks)
        self.udp_echo_ports = frozenset(udp_echo_ports)

    def contains(self, address: str) -> bool:
        """True when ``address`` is inside one of the protected networks."""
        ip = ipaddress.IPv4Address(address)
        return any(ip in net for net in self.networks)

    def answer(self, packet: bytes) -> bytes | None:
        """The reply packet for an inner packet the network answers itself, else None.

        Raises :class:`~kleptolab.netpkt.PacketError` for malformed packets.
        """
        ip = parse_ipv4(packet)
        if not self.contains(ip.dst) or ip.is_fragment:
            return None
        if ip.proto == PROTO_ICMP and ip.payload[:1] == b"\x08":
            return echo_reply_for(packet)
        if ip.proto == PROTO_UDP:
            udp = parse_udp(ip.payload, ip.src, ip.dst)
            if udp.dport in self.udp_echo_ports:
                return build_ip_udp(ip.dst, udp.dport, ip.src, udp.sport, udp.payload)
        return None


class _EchoProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)


async def start_udp_echo(
    host: str = "127.0.0.1", port: int = 0
) -> tuple[asyncio.DatagramTransport, tuple[str, int]]:
    """Start a UDP echo service; return its transport (close it to stop) and bound address."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_EchoProtocol, local_addr=(host, port))
    sockname = transport.get_extra_info("sockname")
    return transport, (str(sockname[0]), int(sockname[1]))
