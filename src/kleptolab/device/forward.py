"""Inner traffic forwarding: decapsulated packets to the protected network's services.

For each inner IPv4 packet :class:`InnerForwarder` either

* forwards a UDP payload addressed to a configured service (protected
  ``(ip, port)`` → loopback ``(ip, port)``) over a per-flow loopback socket and
  sends each reply back into the tunnel as an inner IPv4/UDP packet from the
  protected address, or
* lets :class:`~kleptolab.device.services.ProtectedNetwork` answer it
  in-process (ICMP echo, UDP echo), or
* drops and logs it.

The number of live flows is bounded; the oldest is closed first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping

from kleptolab.device.services import ProtectedNetwork
from kleptolab.device.vpn_core import Address, VpnLog
from kleptolab.netpkt import PROTO_UDP, PacketError, build_ip_udp, parse_ipv4, parse_udp

FlowKey = tuple[str, int, str, int]  # inner src, sport, dst, dport


class _FlowProtocol(asyncio.DatagramProtocol):
    def __init__(self, key: FlowKey, reply: Callable[[FlowKey, bytes], None]) -> None:
        self._key = key
        self._reply = reply

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._reply(self._key, data)


class InnerForwarder:
    """Handles :class:`~kleptolab.device.vpn_core.InnerPacket` payloads for one gateway."""

    def __init__(
        self,
        send_inner: Callable[[bytes], bool],
        protected: ProtectedNetwork,
        services: Mapping[Address, Address],
        log: VpnLog,
        max_flows: int = 256,
    ) -> None:
        self._send_inner = send_inner
        self._protected = protected
        self._services = dict(services)
        self._log = log
        self._max_flows = max_flows
        self._flows: OrderedDict[FlowKey, asyncio.DatagramTransport] = OrderedDict()

    async def handle(self, packet: bytes) -> None:
        """Route one inner packet; malformed or unroutable packets are logged and dropped."""
        try:
            ip = parse_ipv4(packet)
            if ip.proto == PROTO_UDP and not ip.is_fragment:
                udp = parse_udp(ip.payload, ip.src, ip.dst)
                target = self._services.get((ip.dst, udp.dport))
                if target is not None:
                    await self._forward((ip.src, udp.sport, ip.dst, udp.dport), target, udp.payload)
                    return
            reply = self._protected.answer(packet)
        except PacketError as exc:
            self._log.record("drop", f"malformed inner packet: {exc}")
            return
        if reply is None:
            self._log.record(
                "drop", f"no service for inner packet {ip.src} -> {ip.dst} (proto {ip.proto})"
            )
            return
        self._send_inner(reply)

    async def _forward(self, key: FlowKey, target: Address, payload: bytes) -> None:
        transport = self._flows.get(key)
        if transport is None or transport.is_closing():
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _FlowProtocol(key, self._reply), remote_addr=target
            )
            self._flows[key] = transport
            while len(self._flows) > self._max_flows:
                _, oldest = self._flows.popitem(last=False)
                oldest.close()
        self._flows.move_to_end(key)
        transport.sendto(payload)
        self._log.record(
            "esp",
            f"forwarded {len(payload)} bytes {key[0]}:{key[1]} -> {key[2]}:{key[3]} via {target}",
        )

    def _reply(self, key: FlowKey, data: bytes) -> None:
        src, sport, dst, dport = key
        try:
            packet = build_ip_udp(dst, dport, src, sport, data)
        except ValueError as exc:
            self._log.record("drop", f"service reply not sent: {exc}")
            return
        self._send_inner(packet)

    def close(self) -> None:
        """Close every flow socket."""
        for transport in self._flows.values():
            transport.close()
        self._flows.clear()
