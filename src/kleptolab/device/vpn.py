"""The gateway's VPN service: asyncio UDP sockets on the 500 and 4500 roles around :class:`VpnCore`.

This is the only place where VPN sockets live.  Every datagram goes to the
sans-I/O core; whatever it queues is sent from the socket of its role;
decapsulated inner packets go to the :class:`InnerForwarder`.  A periodic
tick expires half-open SAs and sends NAT keepalives.

:attr:`VpnService.drop_outgoing` is a loss-injection hook for tests (e.g.
"lose every second IKE reply" to force the peer's retransmissions); it is
``None`` in normal operation.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence

from kleptolab.device.engines import EngineFactory
from kleptolab.device.forward import InnerForwarder
from kleptolab.device.services import ProtectedNetwork
from kleptolab.device.vpn_core import (
    IKE_PORT,
    NATT_PORT,
    Address,
    Datagram,
    InnerPacket,
    VpnCore,
    VpnEvent,
    VpnLog,
)
from kleptolab.ike.common import KeySource, PeerConfig

TICK_INTERVAL = 1.0


class _RoleProtocol(asyncio.DatagramProtocol):
    def __init__(self, service: VpnService, role: int) -> None:
        self._service = service
        self._role = role

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._service._received(Datagram(data, (str(addr[0]), int(addr[1])), self._role))

    def error_received(self, exc: Exception) -> None:
        self._service.core.log.record("drop", f"socket error on the {self._role} role: {exc}")


class VpnService:
    """Serve IKEv1/IKEv2 and UDP-encapsulated ESP for the configured VPNs."""

    def __init__(
        self,
        configs: Sequence[PeerConfig],
        keys: KeySource,
        *,
        log: VpnLog | None = None,
        host: str = "0.0.0.0",
        ike_port: int = IKE_PORT,
        natt_port: int = NATT_PORT,
        services: Mapping[Address, Address] | None = None,
        protected: Sequence[ipaddress.IPv4Network] | None = None,
        max_half_open: int = 32,
        max_half_open_per_peer: int | None = None,
        engines: EngineFactory | None = None,
        on_event: Callable[[VpnEvent], None] | None = None,
        esp_random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.core = VpnCore(
            configs,
            keys,
            log=log,
            esp_random=esp_random,
            local=(host, ike_port),
            max_half_open=max_half_open,
            max_half_open_per_peer=max_half_open_per_peer,
            engines=engines,
        )
        networks = protected if protected is not None else sorted({c.local_ts for c in configs})
        self.protected = ProtectedNetwork(networks)
        self.forwarder = InnerForwarder(
            self.send_inner, self.protected, services or {}, self.core.log
        )
        self._host = host
        self._ports = {IKE_PORT: ike_port, NATT_PORT: natt_port}
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._on_event = on_event
        self.received = 0
        self.drop_outgoing: Callable[[Datagram], bool] | None = None
        """Test hook: a datagram for which it returns True is not sent (counted in :attr:`lost`)."""
        self.lost = 0

    @property
    def bound(self) -> tuple[Address, Address]:
        """The actual (IKE, NAT-T) socket addresses once started."""
        return self._sockname(IKE_PORT), self._sockname(NATT_PORT)

    def _sockname(self, role: int) -> Address:
        name = self._transports[role].get_extra_info("sockname")
        return (str(name[0]), int(name[1]))

    def sa_summaries(self) -> list[str]:
        """ESP SAs as ``get sa`` rows (see :meth:`VpnCore.sa_summaries`)."""
        return self.core.sa_summaries()

    def ike_cookies(self) -> list[str]:
        """IKE SAs as ``get ike cookies`` rows (see :meth:`VpnCore.ike_cookies`)."""
        return self.core.ike_cookies()

    async def start(self) -> None:
        """Bind both roles and start the tick task."""
        loop = asyncio.get_running_loop()
        for role, port in self._ports.items():
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_RoleProtocol, self, role), local_addr=(self._host, port)
            )
            self._transports[role] = transport
        self.core.local = (self.core.local[0], self.bound[0][1])
        self.core.local_ports = {IKE_PORT: self.bound[0][1], NATT_PORT: self.bound[1][1]}
        self._ticker = asyncio.create_task(self._tick_loop())
        self.core.log.record(
            "tunnel", f"VPN service listening on {self.bound[0]} and {self.bound[1]}"
        )

    async def stop(self) -> None:
        """Close the sockets, the forwarder's flows and the tick task."""
        if self._ticker is not None:
            self._ticker.cancel()
        for task in list(self._tasks):
            task.cancel()
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        self.forwarder.close()

    async def initiate(self, config_name: str, remote: Address, natt_port: int = NATT_PORT) -> None:
        """Start a site-to-site SA towards ``remote`` (its IKE port; ``natt_port`` its NAT-T port)."""
        self.core.initiate(config_name, remote, natt_port)
        self._flush()

    def send_inner(self, packet: bytes) -> bool:
        """Encapsulate an inner packet into its tunnel and send it now."""
        sent = self.core.send_inner(packet)
        self._flush()
        return sent

    def _received(self, dgram: Datagram) -> None:
        self.received += 1
        for event in self.core.receive(dgram):
            if isinstance(event, InnerPacket):
                task = asyncio.ensure_future(self.forwarder.handle(event.packet))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._on_event is not None:
                self._on_event(event)
        self._flush()

    def _flush(self) -> None:
        for dgram in self.core.outgoing():
            if self.drop_outgoing is not None and self.drop_outgoing(dgram):
                self.lost += 1
                continue
            transport = self._transports.get(dgram.local_port)
            if transport is not None:
                transport.sendto(dgram.data, dgram.remote)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            for event in self.core.tick():
                if self._on_event is not None:
                    self._on_event(event)
            self._flush()
