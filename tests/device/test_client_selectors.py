"""Several clients behind one configured selector: narrowing and reply routing over loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

import pytest

from kleptolab.device.client import VpnClient
from kleptolab.device.vpn import VpnService
from kleptolab.ike.common import PeerConfig

from .test_client import client_for, peer, with_gateway

pytestmark = pytest.mark.network
CONFIGURED = ipaddress.IPv4Network("203.0.113.0/24")
ESP = {1: "g2-esp-3des-sha", 2: "nopfs-esp-3des-sha"}


def gateway_peer(version: int) -> PeerConfig:
    return dataclasses.replace(peer(version, esp=ESP[version]), remote_ts=CONFIGURED)


async def exchange(client: VpnClient, tag: bytes) -> None:
    """UDP to the forwarded loopback service and to the in-process echo, then a ping."""
    assert await client.send_udp(("198.51.100.10", 7), tag) == tag
    assert await client.send_udp(("198.51.100.99", 7), tag + b"!") == tag + b"!"
    assert None not in await client.ping("198.51.100.1")


@pytest.mark.parametrize("version", [1, 2])
def test_two_clients_narrowed_to_hosts_inside_the_configured_network(version: int) -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        a = client_for(service, version=version, esp_proposal=ESP[version], local_ts="203.0.113.5/32")
        b = client_for(service, version=version, esp_proposal=ESP[version], local_ts="203.0.113.6/32")
        try:
            child_a, child_b = await a.connect(timeout=5), await b.connect(timeout=5)
            assert (str(child_a.local_ts), str(child_b.local_ts)) == ("203.0.113.5/32", "203.0.113.6/32")
            assert {str(c.remote_ts) for c in service.core.tunnels} == {"203.0.113.5/32", "203.0.113.6/32"}
            await asyncio.gather(exchange(a, b"from a"), exchange(b, b"from b"))
            await exchange(a, b"a again")
        finally:
            await a.close()
            await b.close()

    with_gateway([gateway_peer(version)], scenario)


@pytest.mark.parametrize("version", [1, 2])
def test_two_clients_with_the_same_network_selector_get_their_own_replies(version: int) -> None:
    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        kw = {"version": version, "esp_proposal": ESP[version], "local_ts": "203.0.113.0/24"}
        a = client_for(service, source="203.0.113.5", **kw)
        b = client_for(service, source="203.0.113.6", **kw)
        try:
            await a.connect(timeout=5)
            await b.connect(timeout=5)  # the newest SA: it used to take every reply
            assert [str(c.remote_ts) for c in service.core.tunnels] == ["203.0.113.0/24"] * 2
            await exchange(a, b"from a")
            await asyncio.gather(exchange(a, b"a"), exchange(b, b"b"))
        finally:
            await a.close()
            await b.close()

    with_gateway([gateway_peer(version)], scenario)


@pytest.mark.parametrize("version", [1, 2])
def test_two_clients_with_the_same_host_selector_take_turns(version: int) -> None:
    """Same /32 and the same inner address: each reply follows the SA its request came in on."""

    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        a = client_for(service, version=version, esp_proposal=ESP[version])
        b = client_for(service, version=version, esp_proposal=ESP[version])
        try:
            await a.connect(timeout=5)
            await b.connect(timeout=5)
            assert a.source == b.source == "203.0.113.1"
            for client, tag in ((a, b"a1"), (b, b"b1"), (a, b"a2"), (a, b"a3"), (b, b"b2")):
                await exchange(client, tag)
        finally:
            await a.close()
            await b.close()

    with_gateway([gateway_peer(version)], scenario)

