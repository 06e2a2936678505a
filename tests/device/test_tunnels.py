"""TunnelTable routing of inner replies when several SAs cover the destination (sans-I/O)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os

from kleptolab.device.tunnels import Tunnel, TunnelTable
from kleptolab.esp.sa import EspSa, sa_pair_from_child
from kleptolab.ike.common import ChildSaKeys
from kleptolab.netpkt import build_ip_udp

from .vpn_fakes import child_keys

PEER = ("192.0.2.2", 4500)


class Peer:
    """One remote client: its side of a child SA, and the gateway's side to install."""

    count = 0

    def __init__(self, remote_ts: str) -> None:
        Peer.count += 1
        spi_gw, spi_peer = (0x2000 + Peer.count).to_bytes(4, "big"), (0x1000 + Peer.count).to_bytes(4, "big")
        net = ipaddress.IPv4Network(remote_ts)
        self.gateway_child: ChildSaKeys = dataclasses.replace(
            child_keys(spi_gw, spi_peer, initiator=False), remote_ts=net
        )
        mine = dataclasses.replace(child_keys(spi_peer, spi_gw, initiator=True), local_ts=net)
        self.out: EspSa
        self.inbound: EspSa
        self.out, self.inbound = sa_pair_from_child(mine, os.urandom)

    def request(self, src: str) -> bytes:
        return self.out.encapsulate(build_ip_udp(src, 40000, "198.51.100.7", 7, b"hi"))


def table_with(*peers: Peer) -> tuple[TunnelTable, list[Tunnel]]:
    table = TunnelTable(os.urandom, lambda: 0.0)
    return table, [table.install(b"o" * 8, p.gateway_child, 3600) for p in peers]


def reply_to(dst: str) -> bytes:
    return build_ip_udp("198.51.100.7", 7, dst, 40000, b"re")


def test_most_specific_remote_selector_wins_over_the_newest() -> None:
    host, net = Peer("203.0.113.5/32"), Peer("203.0.113.0/24")
    table, (t_host, t_net) = table_with(host, net)
    assert table.encapsulate(reply_to("203.0.113.5"))[0] is t_host
    assert table.encapsulate(reply_to("203.0.113.6"))[0] is t_net
    # Traffic from .5 over the /24 SA does not beat the more specific /32 SA.
    table.decapsulate(net.request("203.0.113.5"), PEER)
    tunnel, esp = table.encapsulate(reply_to("203.0.113.5"))
    assert tunnel is t_host and host.inbound.decapsulate(esp) == reply_to("203.0.113.5")


def test_equal_selectors_follow_the_last_inbound_sa_per_source() -> None:
    a, b = Peer("203.0.113.0/24"), Peer("203.0.113.0/24")
    table, (t_a, t_b) = table_with(a, b)
    assert table.encapsulate(reply_to("203.0.113.5"))[0] is t_b  # nothing seen yet: newest
    table.decapsulate(a.request("203.0.113.5"), PEER)
    table.decapsulate(b.request("203.0.113.6"), PEER)
    tunnel, esp = table.encapsulate(reply_to("203.0.113.5"))
    assert tunnel is t_a and a.inbound.decapsulate(esp) == reply_to("203.0.113.5")
    assert table.encapsulate(reply_to("203.0.113.6"))[0] is t_b
    table.decapsulate(b.request("203.0.113.5"), PEER)  # .5 moved to b
    assert table.encapsulate(reply_to("203.0.113.5"))[0] is t_b


def test_removed_tunnels_leave_the_table_and_the_source_map_is_bounded() -> None:
    a, b = Peer("203.0.113.0/24"), Peer("203.0.113.0/24")
    table = TunnelTable(os.urandom, lambda: 0.0, max_sources=2)
    t_a = table.install(b"A" * 8, a.gateway_child, 3600)
    t_b = table.install(b"B" * 8, b.gateway_child, 3600)
    table.decapsulate(a.request("203.0.113.5"), PEER)
    assert table.encapsulate(reply_to("203.0.113.5"))[0] is t_a
    table.decapsulate(b.request("203.0.113.6"), PEER)
    table.decapsulate(b.request("203.0.113.7"), PEER)  # evicts .5, the oldest entry
    assert table.encapsulate(reply_to("203.0.113.5"))[0] is t_b
    table.decapsulate(a.request("203.0.113.8"), PEER)
    assert table.remove(b"A" * 8) == 1
    assert table.route(ipaddress.IPv4Address("198.51.100.7"), ipaddress.IPv4Address("203.0.113.8")) is t_b
    table.remove(b"B" * 8)
    assert table.route(ipaddress.IPv4Address("198.51.100.7"), ipaddress.IPv4Address("203.0.113.8")) is None
