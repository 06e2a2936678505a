"""``ike-scan`` (a scanner nobody on the project wrote) fingerprints the gateway as a NetScreen."""

from __future__ import annotations

import asyncio
import ipaddress
import os

import pytest

from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.device.vpn import VpnService
from kleptolab.ike.common import PeerConfig, SimpleKeySource

from ..conftest import require_tool

pytestmark = pytest.mark.network


def _config(name: str, version: int, aggressive: bool = False) -> PeerConfig:
    return PeerConfig(
        name,
        version,
        "gw.example",
        "client.example",
        (parse_ike_proposal("pre-g2-3des-sha"),),
        (parse_child_proposal("nopfs-esp-3des-sha"),),
        ipaddress.IPv4Network("198.51.100.0/24"),
        ipaddress.IPv4Network("203.0.113.1/32"),
        psk=b"not-a-real-secret",
        aggressive=aggressive,
    )


def scan(*argsets: list[str]) -> list[str]:
    """Run ike-scan once per argument list against a gateway on loopback (``--sport=0``: no root port)."""
    tool = require_tool("ike-scan")
    outputs: list[str] = []

    async def main() -> None:
        configs = [_config("mm", 1), _config("am", 1, aggressive=True), _config("v2", 2)]
        service = VpnService(
            configs, SimpleKeySource(os.urandom), host="127.0.0.1", ike_port=0, natt_port=0
        )
        await service.start()
        try:
            for args in argsets:
                proc = await asyncio.create_subprocess_exec(
                    tool,
                    *args,
                    "--sport=0",
                    f"--dport={service.bound[0][1]}",
                    "--retry=2",
                    "127.0.0.1",
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                out, _ = await asyncio.wait_for(proc.communicate(), 20)
                outputs.append(out.decode())
        finally:
            await service.stop()

    asyncio.run(main())
    return outputs


def test_ike_scan_sees_a_netscreen() -> None:
    main_mode, aggressive, ikev2 = scan(
        ["-M"], ["-M", "-A", "--id=client.example"], ["-M", "--ikev2"]
    )
    assert "Main Mode Handshake returned" in main_mode
    assert "Enc=3DES Hash=SHA1 Auth=PSK Group=2:modp1024" in main_mode
    assert "(Netscreen-15)" in main_mode
    assert "(Dead Peer Detection v1.0)" in main_mode and "(HeartBeat_Notify)" in main_mode
    assert "Aggressive Mode Handshake returned" in aggressive and "(Netscreen-15)" in aggressive
    assert "ID(Type=ID_FQDN, Value=gw.example)" in aggressive
    assert "IKEv2 SA_INIT Handshake returned" in ikev2 and "Nonce(32 bytes)" in ikev2
