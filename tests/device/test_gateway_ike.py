"""The gateway's PRNG queues behind real IKE handshakes (the lab client over loopback)."""

from __future__ import annotations

import asyncio

import pytest

from kleptolab.device.client import VpnClient
from kleptolab.device.config import load_config
from kleptolab.device.firmware import build_image
from kleptolab.device.gateway import Gateway
from kleptolab.drbg.trapdoor import generate_trapdoor
from kleptolab.ike.dh import GROUPS

pytestmark = pytest.mark.network


def test_ikev1_handshake_takes_queued_key_and_nonce_1_and_logs_screenos_lines() -> None:
    image = build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q)
    config = load_config(None, seed="abcd", ports={"ike": 0, "natt": 0, "ssh": 0, "telnet": 0})
    gateway = Gateway(config, image=image)
    boot_draws = len(gateway.draws)

    async def main() -> None:
        await gateway.start()
        try:
            client = VpnClient("127.0.0.1", psk=b"not-a-real-secret", ike_port=gateway.ports["ike"],
                               natt_port=gateway.ports["natt"], version=1, bind_host="127.0.0.1")
            try:
                await client.connect(timeout=15)
            finally:
                await client.close()
        finally:
            await gateway.stop()

    asyncio.run(main())
    # default config: groups 2 (IKEv1 + PFS, IKEv2) and 14 -> nonces 1-12, MODP2048 13-14, MODP1024 15-18
    assert boot_draws == 18
    taken = list(gateway.queues.taken)
    assert (taken[0].kind, taken[0].draws, taken[0].on_demand) == ("dh:2", (15,), False)
    assert (taken[1].kind, taken[1].draws) == ("nonce", (1,))
    assert taken[1].value == gateway.draws[0].output  # the wire nonce is PRNG draw 1, whole
    assert taken[0].value == GROUPS[2].private_from_prng(lambda: gateway.draws[14].output, 20)
    # the responder cookie came from the same PRNG, after boot
    assert gateway.draws[18].purpose == "random"
    lines = [f"{e.msg_id:05d} {e.message}" for e in gateway.event_log.entries if e.msg_id in (536, 537)]
    phase1 = "00536 IKE 127.0.0.1 Phase 1: Completed Main Mode negotiations with a <28800>-second lifetime."
    assert lines.count(phase1) == 1, lines
    phase2 = [line for line in lines if line.startswith("00537 IKE 127.0.0.1 Phase 2: Completed negotiations with SPI <")]
    assert len(phase2) == 1, lines
