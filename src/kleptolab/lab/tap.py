"""A passive network tap for the loopback lab.

Without root the lab cannot sniff an interface, so the tap sits inline, as a
hardware TAP would: it relays every UDP datagram between VPN clients and the
gateway unchanged and writes each one to a pcap.  It never alters, drops or
injects traffic.

The gateway listens on unprivileged ports in the lab; by default the tap
records the gateway side under IKE's well-known ports (500 and 4500), so the
capture reads as it would on a real wire and any IKE/ESP dissector recognises
it (``record_ports`` picks others).  For reproducible captures the demo also
records every client under a canonical lab address with fixed ports, in the
order the clients first appear (``canonical_client``), and stamps datagrams
from a :class:`PacketClock` instead of the wall clock.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from kleptolab.capture.pcapio import PcapWriter

Address = tuple[str, int]

WELL_KNOWN = {"ike": 500, "natt": 4500}
CLIENT_PORT_BASE = {"ike": 50000, "natt": 54500}
"""Canonical client k (from 1, per role, in order of first appearance) is recorded on base + k."""
LAB_EPOCH = 1450310400.0
"""2015-12-17 00:00:00 UTC, the day JSA10713 was published: where the lab's virtual clocks start."""


class PacketClock:
    """A virtual clock for capture timestamps: ``start``, then ``step`` seconds later per call."""

    def __init__(self, start: float = LAB_EPOCH, step: float = 0.001) -> None:
        self.start = start
        self.step = step
        self.calls = 0

    def __call__(self) -> float:
        now = self.start + self.calls * self.step
        self.calls += 1
        return now


@dataclass
class TapStats:
    """How much the tap relayed."""

    to_gateway: int = 0
    to_client: int = 0


class _Downstream(asyncio.DatagramProtocol):
    """The tap's client-facing socket for one role (ike or natt)."""

    def __init__(self, tap: PassiveTap, role: str) -> None:
        self.tap = tap
        self.role = role
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport: cast.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.tap._from_client(self.role, data, addr)


class _Upstream(asyncio.DatagramProtocol):
    """One gateway-facing socket per (client, role), so replies find their way back."""

    def __init__(self, tap: PassiveTap, role: str, client: Address) -> None:
        self.tap = tap
        self.role = role
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport: cast.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.tap._from_gateway(self.role, self.client, data)


class PassiveTap:
    """Relay and record UDP between clients and a gateway.

    ``gateway_ports`` maps roles (``ike``, ``natt``) to the gateway's real
    ports; :meth:`start` returns the tap's ports that clients should use.
    """

    def __init__(
        self,
        writer: PcapWriter,
        gateway_host: str,
        gateway_ports: dict[str, int],
        *,
        listen_host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        record_host: str | None = None,
        record_ports: dict[str, int] | None = None,
        canonical_client: str | None = None,
    ) -> None:
        unknown = set(gateway_ports) - set(WELL_KNOWN)
        if unknown:
            raise ValueError(f"unknown tap roles {sorted(unknown)}; expected {sorted(WELL_KNOWN)}")
        self.record_host = record_host or gateway_host
        self.record_ports = {**WELL_KNOWN, **(record_ports or {})}
        self.canonical_client = canonical_client
        self._names: dict[tuple[str, Address], Address] = {}
        self.writer = writer
        self.gateway_host = gateway_host
        self.gateway_ports = dict(gateway_ports)
        self.listen_host = listen_host
        self.clock = clock
        self.stats = TapStats()
        self._down: dict[str, _Downstream] = {}
        self._up: dict[tuple[str, Address], _Upstream] = {}
        self._pending: dict[tuple[str, Address], list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def start(self) -> dict[str, int]:
        """Open the client-facing sockets; return role → tap port."""
        loop = asyncio.get_running_loop()
        ports: dict[str, int] = {}
        for role in self.gateway_ports:
            transport, protocol = await loop.create_datagram_endpoint(
                functools.partial(_Downstream, self, role), local_addr=(self.listen_host, 0)
            )
            self._down[role] = protocol
            ports[role] = transport.get_extra_info("sockname")[1]
        return ports

    async def stop(self) -> None:
        """Close every socket, cancel pending upstream opens and flush the capture."""
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self._pending.clear()
        protocols: list[_Downstream | _Upstream] = [*self._down.values(), *self._up.values()]
        for proto in protocols:
            if proto.transport is not None:
                proto.transport.close()
        self._down.clear()
        self._up.clear()
        self.writer.flush()

    def _recorded(self, role: str, client: Address) -> Address:
        """How ``client`` appears in the capture (itself, or its canonical lab name)."""
        if self.canonical_client is None:
            return client
        key = (role, client)
        if key not in self._names:
            k = sum(r == role for r, _ in self._names) + 1
            self._names[key] = (self.canonical_client, CLIENT_PORT_BASE[role] + k)
        return self._names[key]

    def _from_client(self, role: str, data: bytes, client: Address) -> None:
        self.stats.to_gateway += 1
        src = self._recorded(role, client)
        self.writer.write_udp(self.clock(), src[0], src[1], self.record_host, self.record_ports[role], data)
        key = (role, client)
        upstream = self._up.get(key)
        if upstream is not None and upstream.transport is not None:
            upstream.transport.sendto(data, (self.gateway_host, self.gateway_ports[role]))
            return
        pending = self._pending.setdefault(key, [])
        pending.append(data)
        if len(pending) == 1:
            task = asyncio.get_running_loop().create_task(self._open_upstream(role, client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open_upstream(self, role: str, client: Address) -> None:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, role, client), local_addr=(self.listen_host, 0)
        )
        if protocol.transport is None:
            return
        if self._stopped:
            protocol.transport.close()
            return
        self._up[(role, client)] = protocol
        for data in self._pending.pop((role, client), []):
            protocol.transport.sendto(data, (self.gateway_host, self.gateway_ports[role]))

    def _from_gateway(self, role: str, client: Address, data: bytes) -> None:
        self.stats.to_client += 1
        dst = self._recorded(role, client)
        self.writer.write_udp(self.clock(), self.record_host, self.record_ports[role], dst[0], dst[1], data)
        down = self._down.get(role)
        if down is not None and down.transport is not None:
            down.transport.sendto(data, client)
