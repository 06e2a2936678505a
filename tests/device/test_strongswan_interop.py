"""A real strongSwan 5.9.8 initiator establishes tunnels with the gateway and pings through them.

Runs in two network namespaces the harness creates (root only); charon uses
kernel-libipsec, which forces NAT-T, so IKE floats to 4500 and ESP is
UDP-encapsulated.  The gateway is a 6.3.0r20-like device: its responder
nonce in the capture breaks with the lab trapdoor and predicts its DH value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kleptolab.capture import EspPacket, IkePacket, classify_all, read_capture
from kleptolab.drbg.trapdoor import load_trapdoor
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.wire import iter_payloads

from .strongswan_harness import (
    GW_ADDR,
    IKEV1_RSA,
    IKEV2_RSA,
    InteropCase,
    InteropResult,
    interop_skip_reason,
    run_interop,
    strongswan_ikev1,
    strongswan_ikev2,
)
from .test_vpn_dualec import predict_dh, responder_ke_nonce

pytestmark = [pytest.mark.root, pytest.mark.slow]
__all__ = ["strongswan_ikev1", "strongswan_ikev2"]  # fixtures used below


def _packets(result: InteropResult) -> tuple[list[IkePacket], list[EspPacket]]:
    packets = classify_all(read_capture(result.pcap).datagrams)
    return [p for p in packets if isinstance(p, IkePacket)], [
        p for p in packets if isinstance(p, EspPacket)
    ]


def _check_tunnel(result: InteropResult, version: int) -> list[IkePacket]:
    assert result.established, result.initiate_output[-3000:]
    assert "CHILD_SA net{1} established" in result.initiate_output
    assert result.ping_replies == 3, result.ping_output
    log = result.charon_log.read_text()
    assert "faking NAT situation to enforce UDP encapsulation" in log
    ike, esp = _packets(result)
    assert {p.version for p in ike} == {version}
    assert any(not p.non_esp_marker and p.datagram.dport == 500 for p in ike)
    assert any(p.non_esp_marker and p.datagram.dport == 4500 for p in ike)
    # 3 echo requests to the gateway and 3 replies from it, all ESP in UDP 4500
    to_gw = [p for p in esp if p.datagram.dst == GW_ADDR]
    from_gw = [p for p in esp if p.datagram.src == GW_ADDR]
    assert len(to_gw) >= 3 and len(from_gw) >= 3
    assert all(p.udp_encapsulated and p.datagram.sport == 4500 for p in from_gw)
    assert len({p.spi for p in to_gw}) == 1 and len({p.spi for p in from_gw}) == 1
    gateway_log = result.gateway_log.read_text()
    assert "Phase 1: Completed" in gateway_log
    (spi_in,) = {p.spi for p in to_gw}
    assert f"Completed negotiations with SPI <{spi_in.hex()}>" in gateway_log
    return ike


def test_ikev1_main_mode_psk_3des_with_pfs(strongswan_ikev1: InteropResult) -> None:
    ike = _check_tunnel(strongswan_ikev1, 1)
    assert (
        "selected proposal: ESP:3DES_CBC/HMAC_SHA1_96/MODP_1024" in strongswan_ikev1.initiate_output
    )
    mm4 = [kn for p in ike if p.datagram.src == GW_ADDR and (kn := responder_ke_nonce(p.message))]
    assert len(mm4) == 1
    ke, nonce = mm4[0]
    assert strongswan_ikev1.trapdoor is not None
    step = predict_dh(nonce, ke, load_trapdoor(strongswan_ikev1.trapdoor), group_by_number(2))
    assert step is not None, "the 6.3.0r20 gateway's nonce did not reveal its DH value"


def test_ikev2_psk_aes128_sha256_modp2048(strongswan_ikev2: InteropResult) -> None:
    ike = _check_tunnel(strongswan_ikev2, 2)
    assert (
        "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
        in strongswan_ikev2.initiate_output
    )
    (init_response,) = [
        p for p in ike if p.datagram.src == GW_ADDR and p.header.exchange_type == 34
    ]
    payloads = dict(iter_payloads(init_response.header.next_payload, init_response.message[28:]))
    ke, nonce = payloads[34][4:], payloads[40]  # KE body: group (2), reserved (2), data
    assert len(nonce) == 32
    assert strongswan_ikev2.trapdoor is not None
    step = predict_dh(nonce, ke, load_trapdoor(strongswan_ikev2.trapdoor), group_by_number(14))
    assert step is not None, "the 6.3.0r20 gateway's nonce did not reveal its DH value"


@pytest.mark.parametrize("case", [IKEV1_RSA, IKEV2_RSA], ids=["ikev1-main-mode", "ikev2"])
def test_rsa_certificates_and_a_client_host_inside_the_configured_network(
    case: InteropCase, tmp_path: Path
) -> None:
    """`kleptolab pki init` credentials on both sides; the gateway allows 203.0.113.0/24 and
    accepts strongSwan's 203.0.113.1/32 (IKEv1: as proposed; IKEv2: narrowed to it)."""
    reason = interop_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    result = run_interop(tmp_path / case.name, case)
    _check_tunnel(result, case.version)
    log = result.charon_log.read_text()
    assert "authentication of 'gw.example' with RSA" in log, log[-3000:]
    assert "203.0.113.1/32 === 198.51.100.1/32" in result.initiate_output + result.sas_output
