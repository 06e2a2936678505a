"""A long-lived IKEv2 tunnel between two in-memory :class:`VpnCore`s, written to a pcap.

The "gateway" core runs over the 6.3.0r20-style PRNG queues (lab trapdoor);
the "client" core over a seeded :class:`SimpleKeySource`.  :class:`RekeyLab`
shuttles every datagram between them (optionally losing some) and writes it
to the capture as UDP between 192.0.2.2 and 192.0.2.1; pings from the client
are answered by the gateway with :func:`kleptolab.netpkt.echo_reply_for`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Callable
from pathlib import Path

from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter
from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.device.queues import PrngQueues
from kleptolab.device.vpn_core import (
    Datagram,
    IkeEventSeen,
    InnerPacket,
    MemoryLog,
    VpnCore,
    VpnEvent,
)
from kleptolab.ike.common import ChildProposal, IkeProposal, PeerConfig, SimpleKeySource
from kleptolab.ike.v2.rekey import IkeSaRekeyed
from kleptolab.netpkt import build_ipv4_icmp_echo, echo_reply_for

CLIENT, GATEWAY = "192.0.2.2", "192.0.2.1"
CLIENT_NET, GATEWAY_NET = "203.0.113.1/32", "198.51.100.1/32"
IKE = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256, 2)
CHILD = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)


def peer_configs(pfs: bool) -> tuple[PeerConfig, PeerConfig]:
    child = dataclasses.replace(CHILD, pfs_group=2 if pfs else None)
    client = PeerConfig(
        "client",
        2,
        "client.example",
        "gw.example",
        (IKE,),
        (child,),
        ipaddress.IPv4Network(CLIENT_NET),
        ipaddress.IPv4Network(GATEWAY_NET),
        psk=b"lab psk",
    )
    gateway = PeerConfig(
        "gw",
        2,
        "gw.example",
        "client.example",
        (IKE,),
        (child,),
        ipaddress.IPv4Network(GATEWAY_NET),
        ipaddress.IPv4Network(CLIENT_NET),
        psk=b"lab psk",
    )
    return client, gateway


class RekeyLab:
    """Client and gateway cores joined by a (lossy on demand) wire that a pcap records."""

    def __init__(
        self, path: Path, gw_keys: PrngQueues, *, pfs: bool = False, seed: int = 7
    ) -> None:
        self.now = 1_700_000_000.0
        self.gw_keys = gw_keys
        client_cfg, gw_cfg = peer_configs(pfs)
        self.client = VpnCore(
            [client_cfg],
            SimpleKeySource(random.Random(seed).randbytes),
            log=MemoryLog(),
            local=(CLIENT, 500),
            clock=self.clock,
        )
        self.gateway = VpnCore(
            [gw_cfg], gw_keys, log=MemoryLog(), local=(GATEWAY, 500), clock=self.clock
        )
        self.writer = PcapWriter(path, LINKTYPE_ETHERNET)
        self.drop_gateway_ike: Callable[[int], bool] = lambda n: False
        self.gateway_ike_sent = 0
        self.events: dict[str, list[VpnEvent]] = {"client": [], "gateway": []}
        self.replies = 0
        self.spi: bytes = b""

    def clock(self) -> float:
        return self.now

    def close(self) -> None:
        self.writer.close()

    def _wire(self, src: str, dgram: Datagram) -> Datagram:
        self.now += 0.001
        self.writer.write_udp(
            self.now, src, dgram.local_port, dgram.remote[0], dgram.remote[1], dgram.data
        )
        return Datagram(dgram.data, (src, dgram.local_port), dgram.remote[1])

    def pump(self) -> None:
        """Move datagrams both ways until both cores are quiet."""
        for _ in range(100):
            moved = False
            for dgram in self.client.outgoing():
                moved = True
                self._deliver("gateway", self.gateway, self._wire(CLIENT, dgram))
            for dgram in self.gateway.outgoing():
                moved = True
                is_ike = dgram.local_port == 500 or dgram.data[:4] == b"\0\0\0\0"
                if is_ike:
                    self.gateway_ike_sent += 1
                    if self.drop_gateway_ike(self.gateway_ike_sent):
                        continue
                self._deliver("client", self.client, self._wire(GATEWAY, dgram))
            if not moved:
                return
        raise AssertionError("the cores did not go quiet")

    def settle(self) -> None:
        """Pump, and let the client retransmit what is still unanswered (lost replies)."""
        self.pump()
        for _ in range(8):
            if not self.client.retransmit():
                return
            self.now += 1.0
            self.pump()
        raise AssertionError("requests still unanswered after 8 retransmissions")

    def _deliver(self, name: str, core: VpnCore, dgram: Datagram) -> None:
        for event in core.receive(dgram):
            self.events[name].append(event)
            seen = event.event if isinstance(event, IkeEventSeen) else None
            if (
                name == "client"
                and isinstance(seen, IkeSaRekeyed)
                and seen.moves_children
                and seen.old_spi_i == self.spi
            ):
                self.spi = seen.spi_i
            if isinstance(event, InnerPacket):
                if name == "gateway":
                    self.gateway.send_inner(echo_reply_for(event.packet))
                else:
                    self.replies += 1

    def connect(self) -> None:
        self.spi = self.client.initiate("client", (GATEWAY, 500))
        self.settle()
        assert self.client.tunnels, self.client.log

    def ping(self, count: int = 2) -> None:
        for seq in range(count):
            self.now += 1.0
            self.gw_keys.tick()
            assert self.client.send_inner(
                build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 7, seq, b"ping")
            )
            self.settle()

    def rekey_child(self) -> None:
        old = [t.spi_in for t in self.client.tunnels]
        self.client.create_child_sa(self.spi)
        self.settle()
        for spi_in in old:  # as strongSwan does after a CHILD_SA rekey
            self.client.delete_child_sa(self.spi, spi_in)
            self.settle()

    def rekey_both(self) -> None:
        """A simultaneous rekey: both sides send their request before either sees the other's."""
        gw_spi = next(s for s, slot in self.gateway._sas.items() if slot.established)
        self.client.rekey_ike_sa(self.spi)
        self.gateway.rekey_ike_sa(gw_spi)
        self.settle()

    def rekey_ike(self, by_gateway: bool = False) -> None:
        if by_gateway:
            gw_spi = next(s for s in self.gateway._sas if self.gateway._sas[s].established)
            self.gateway.rekey_ike_sa(gw_spi)
        else:
            self.client.rekey_ike_sa(self.spi)
        self.settle()
