"""RSA-signature VPNs end to end: `kleptolab pki init` files, the gateway, VpnClient and the CLI."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from kleptolab.device.client import VpnClient
from kleptolab.device.config import load_config
from kleptolab.device.gateway import Gateway
from kleptolab.device.pki import PkiFiles, RsaCredentials, init_pki, load_credentials
from kleptolab.device.services import start_udp_echo
from kleptolab.device.vpn import VpnService
from kleptolab.device.vpn_core import MemoryLog, TunnelUp
from kleptolab.ike.common import SimpleKeySource
from kleptolab.ike.v1.auth import LabCredential, issue_certificate, make_lab_ca

from .test_gateway import image

pytestmark = pytest.mark.network
EPHEMERAL = {"ike": 0, "natt": 0, "ssh": 0, "telnet": 0}
V2 = {"version": 2, "proposal": "rsa-g14-aes128-sha", "esp_proposal": "nopfs-esp-aes128-sha"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(tmp_path_factory.mktemp("pki"), key_size=1024)


@pytest.fixture(scope="module")
def client_creds(pki: PkiFiles) -> RsaCredentials:
    return load_credentials(pki.client_key, pki.client_cert, pki.ca_cert, "client.example")


@pytest.fixture(scope="module")
def rogue() -> tuple[LabCredential, LabCredential]:
    ca = make_lab_ca("rogue lab CA", key_size=1024)
    return ca, issue_certificate(ca, "client.example", 1024)


def rsa_client(ike: int, natt: int, key: bytes, cert: bytes, ca: bytes, **kw: object) -> VpnClient:
    return VpnClient("127.0.0.1", ike_port=ike, natt_port=natt, bind_host="127.0.0.1",
                     private_key=key, certificate=cert, trusted_ca=ca, **kw)  # type: ignore[arg-type]


def test_gateway_with_rsa_vpns_serves_ikev1_main_mode_and_ikev2_clients(
    pki: PkiFiles, client_creds: RsaCredentials
) -> None:
    async def main() -> Gateway:
        echo, echo_addr = await start_udp_echo()
        config = load_config(pki.config, ports=EPHEMERAL, seed="5eed",
                             service=[{"protected": "198.51.100.10:7", "target": f"127.0.0.1:{echo_addr[1]}"}])
        gateway = Gateway(config, image=image("6.3.0r20"))
        await gateway.start()
        try:
            for extra in ({}, V2):
                client = rsa_client(gateway.ports["ike"], gateway.ports["natt"], client_creds.key_pem,
                                    client_creds.cert_der, client_creds.ca_der, **extra)
                try:
                    child = await client.connect(timeout=10)
                    # the client's /32 is accepted inside the configured 203.0.113.0/24
                    assert (str(child.local_ts), str(child.remote_ts)) == ("203.0.113.1/32", "198.51.100.0/24")
                    assert await client.send_udp(("198.51.100.10", 7), b"via loopback") == b"via loopback"
                    assert await client.send_udp(("198.51.100.20", 7), b"in-process") == b"in-process"
                    assert None not in await client.ping("198.51.100.1", count=2)
                    # the gateway holds this client's tunnel with the narrowed /32 selector
                    # (close() below deletes it, so check each while it is up)
                    mine = [t for t in gateway.vpn.core.tunnels if t.spi_out == child.spi_in]  # type: ignore[union-attr]
                    assert [str(t.remote_ts) for t in mine] == ["203.0.113.1/32"]
                finally:
                    await client.close()
        finally:
            await gateway.stop()
            echo.close()
        return gateway

    gateway = asyncio.run(asyncio.wait_for(main(), 60))
    texts = [e.message for e in gateway.event_log.entries]
    assert any("Phase 1: Completed Main Mode negotiations" in t for t in texts), texts
    assert any("Phase 1: Completed IKEv2 IKE_SA_INIT/IKE_AUTH negotiations" in t for t in texts), texts
    assert sum("Phase 2: Completed negotiations with SPI" in t for t in texts) == 2, texts


def with_service(pki: PkiFiles, scenario: object) -> MemoryLog:
    log = MemoryLog()

    async def main() -> None:
        service = VpnService(load_config(pki.config).enabled_peers, SimpleKeySource(os.urandom), log=log,
                             host="127.0.0.1", ike_port=0, natt_port=0)
        await service.start()
        try:
            await scenario(service)  # type: ignore[operator]
        finally:
            await service.stop()

    asyncio.run(asyncio.wait_for(main(), 60))
    return log


@pytest.mark.parametrize("extra", [{}, V2], ids=["ikev1-main", "ikev2"])
def test_a_client_certificate_from_another_ca_is_refused_cleanly(
    pki: PkiFiles, client_creds: RsaCredentials, rogue: tuple[LabCredential, LabCredential],
    extra: dict[str, object],
) -> None:
    ca, cred = rogue

    async def scenario(service: VpnService) -> None:
        (_, ike), (_, natt) = service.bound
        bad = rsa_client(ike, natt, cred.key_pem, cred.cert_der, client_creds.ca_der, **extra)
        try:
            with pytest.raises((ConnectionError, TimeoutError)):
                await bad.connect(timeout=2)
        finally:
            await bad.close()
        assert service.core.tunnels == []
        # The client trusting the wrong CA refuses the gateway in turn.
        wary = rsa_client(ike, natt, client_creds.key_pem, client_creds.cert_der, ca.cert_der, **extra)
        try:
            with pytest.raises((ConnectionError, TimeoutError)):
                await wary.connect(timeout=2)
        finally:
            await wary.close()
        assert any("trusted CA" in m for m in wary.log.kinds("ike") + wary.log.kinds("drop")), wary.log.entries
        # ...and the gateway still serves a legitimate client.
        good = rsa_client(ike, natt, client_creds.key_pem, client_creds.cert_der, client_creds.ca_der, **extra)
        try:
            await good.connect(timeout=5)
            assert await good.ping("198.51.100.1") != [None]
        finally:
            await good.close()

    log = with_service(pki, scenario)
    failures = [m for k, m, _ in log.entries if k in ("ike", "drop")]
    assert any("trusted CA" in m for m in failures), failures


def test_client_api_refuses_inconsistent_credentials(client_creds: RsaCredentials) -> None:
    creds = {"private_key": client_creds.key_pem, "certificate": client_creds.cert_der,
             "trusted_ca": client_creds.ca_der}
    with pytest.raises(ValueError, match="give psk, or private_key"):
        VpnClient("127.0.0.1")
    with pytest.raises(ValueError, match="not both"):
        VpnClient("127.0.0.1", psk=b"x", **creds)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="need private_key, certificate and trusted_ca"):
        VpnClient("127.0.0.1", private_key=client_creds.key_pem)
    with pytest.raises(ValueError, match="does not fit the credentials"):
        VpnClient("127.0.0.1", proposal="pre-g2-3des-sha", **creds)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"does not name the local identity 'gw\.example'"):
        VpnClient("127.0.0.1", local_id="gw.example", **creds)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside local_ts"):
        VpnClient("127.0.0.1", psk=b"x", source="203.0.113.2")
    client = VpnClient("127.0.0.1", **creds)  # type: ignore[arg-type]
    assert client.config.ike_proposals[0].auth.value == "rsa-sig" and client.config.psk is None


def test_cli_client_with_certificates(pki: PkiFiles) -> None:
    async def scenario(service: VpnService) -> None:
        (_, ike), (_, natt) = service.bound
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kleptolab", "client", "127.0.0.1", "--ike-port", str(ike),
            "--natt-port", str(natt), "-V", "2", "--esp-proposal", "nopfs-esp-aes128-sha",
            "--key", str(pki.client_key), "--cert", str(pki.client_cert), "--ca", str(pki.ca_cert),
            "--udp", "198.51.100.10:7", "-n", "1", "--pings", "1", "--timeout", "5",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        text = (await proc.communicate())[0].decode()
        assert proc.returncode == 0, text
        assert "tunnel up: 203.0.113.1/32 <-> 198.51.100.0/24" in text, text
        assert "reply 'kleptolab message 1" in text and "lost" not in text, text
        missing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kleptolab", "client", "--key", str(pki.client_key),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        text = (await missing.communicate())[0].decode()
        assert missing.returncode == 2 and "--cert, --key and --ca" in text, text

    with_service(pki, scenario)


def test_rsa_and_psk_vpns_for_the_same_peer_side_by_side(
    pki: PkiFiles, client_creds: RsaCredentials
) -> None:
    """The default PSK VPNs and the RSA ones name the same client: each SA finds its own VPN."""
    configs = load_config(None).enabled_peers + load_config(pki.config).enabled_peers
    seen: list[TunnelUp] = []

    async def main() -> None:
        service = VpnService(configs, SimpleKeySource(os.urandom), host="127.0.0.1", ike_port=0,
                             natt_port=0, on_event=lambda e: seen.append(e) if isinstance(e, TunnelUp) else None)
        await service.start()
        (_, ike), (_, natt) = service.bound
        try:
            for version, rsa in ((1, True), (1, False), (2, True), (2, False)):
                extra: dict[str, object] = dict(V2) if version == 2 else {}
                if rsa:
                    client = rsa_client(ike, natt, client_creds.key_pem, client_creds.cert_der,
                                        client_creds.ca_der, **extra)
                else:
                    extra.pop("proposal", None)
                    client = VpnClient("127.0.0.1", psk=b"not-a-real-secret", ike_port=ike, natt_port=natt,
                                       bind_host="127.0.0.1", **extra)  # type: ignore[arg-type]
                try:
                    await client.connect(timeout=5)
                    assert await client.ping("198.51.100.1") != [None]
                finally:
                    await client.close()
        finally:
            await service.stop()

    asyncio.run(asyncio.wait_for(main(), 60))
    assert [t.config_name for t in seen] == ["lab-ikev1-rsa", "lab-ikev1", "lab-ikev2-rsa", "lab-ikev2"]
