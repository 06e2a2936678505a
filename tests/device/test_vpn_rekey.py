"""IKEv2 IKE SA rekeys through two in-memory VpnCores (no sockets): tunnels survive, draws, lost replies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kleptolab.device.ike_slots import IkeSlot, RetiredSas
from kleptolab.device.vpn import VpnService
from kleptolab.device.vpn_core import Datagram, IkeEventSeen
from kleptolab.ike.v2.rekey import IkeSaRekeyed
from tests.attack.synth import gateway_queues, lab_trapdoor
from tests.attack.synth_rekey import CLIENT, RekeyLab

from .test_client import client_for, peer, with_gateway

TRAPDOOR = lab_trapdoor()


def lab(tmp_path: Path, pfs: bool = False) -> RekeyLab:
    made = RekeyLab(tmp_path / "rekey.pcap", gateway_queues(TRAPDOOR.q, {2: 2}), pfs=pfs)
    made.connect()
    return made


def rekeys(events: list[object]) -> list[IkeSaRekeyed]:
    return [
        e.event for e in events if isinstance(e, IkeEventSeen) and isinstance(e.event, IkeSaRekeyed)
    ]


def test_tunnels_follow_three_ike_rekeys_and_pings_keep_flowing(tmp_path: Path) -> None:
    run = lab(tmp_path, pfs=True)
    spis = [run.spi]
    for n in range(3):
        run.ping(2)
        run.rekey_child()
        run.rekey_ike(by_gateway=n == 1)
        spis.append(run.spi)
    run.ping(2)
    run.close()
    assert run.replies == 8 and len(set(spis)) == 4
    assert len(run.client.ike_cookies()) == len(run.gateway.ike_cookies()) == 1
    assert run.client.ike_cookies()[0].startswith(run.spi.hex())
    assert (
        len(run.client.tunnels) == len(run.gateway.tunnels) == 1
    )  # old children deleted after each rekey
    assert len(rekeys(run.events["client"])) == len(rekeys(run.events["gateway"])) == 3


def test_rekey_draws_through_the_queues(tmp_path: Path) -> None:
    """The gateway's rekey answer takes one queued nonce and one queued DH value, like IKE_SA_INIT."""
    run = lab(tmp_path)
    queues = run.gw_keys
    before = len(queues.taken)
    run.rekey_ike()
    taken = list(queues.taken)[before:]
    assert [t.kind for t in taken] == ["dh:2", "nonce"]
    assert not any(t.on_demand for t in taken)
    (event,) = rekeys(run.events["gateway"])
    assert event.keys["Nr"] == taken[1].value


def test_lost_replies_are_resent_from_the_cache_even_after_delete(tmp_path: Path) -> None:
    run = lab(tmp_path)
    run.drop_gateway_ike = lambda n: n % 2 == 0  # every second IKE reply of the gateway is lost
    draws = run.gw_keys.calls
    run.rekey_ike()
    run.ping(1)
    assert run.replies == 1 and len(run.gateway.ike_cookies()) == 1
    # the client saw the old SA's Delete answered although the first answer was lost after deletion
    assert len(run.client.ike_cookies()) == 1 and run.gateway_ike_sent >= 4
    # one rekey: SPI + IVs from random draws, one dh + one nonce from the queues; no extra for resends
    assert run.gw_keys.calls - draws <= 6


def test_retransmitted_delete_for_a_gone_sa_gets_the_same_answer(tmp_path: Path) -> None:
    run = lab(tmp_path)
    old = run.spi
    run.client.delete_ike_sa(old)
    (request,) = run.client.outgoing()
    answers = []
    for _ in range(3):
        run.gateway.receive(Datagram(request.data, (CLIENT, request.local_port), request.remote[1]))
        answers += [d.data for d in run.gateway.outgoing()]
    assert len(answers) == 3 and len(set(answers)) == 1
    assert run.gateway.ike_cookies() == [] and run.gateway.tunnels == []


@pytest.mark.network
def test_vpn_client_rekeys_its_ike_sa_over_loopback() -> None:
    """VpnClient.rekey_ike_sa against the real VpnService: tunnel kept, old SA gone on both sides."""

    async def scenario(service: VpnService, _echo: tuple[str, int]) -> None:
        client = client_for(
            service, version=2, proposal="pre-g2-aes128-sha", esp_proposal="g2-esp-aes128-sha"
        )
        try:
            await client.connect(timeout=5)
            first = client.ike_spi
            assert first is not None and all(await client.ping("198.51.100.1", count=1))
            for _ in range(2):
                new = await client.rekey_ike_sa(timeout=5)
                assert new == client.ike_spi and all(await client.ping("198.51.100.1", count=1))
            await client.create_child_sa(timeout=5)
            assert all(await client.ping("198.51.100.1", count=2))
            await asyncio.sleep(0.1)  # the old SA's Delete answer
            rows = service.ike_cookies()
            assert len(rows) == 1 and rows[0].startswith(client.ike_spi.hex()), rows
            assert len(client.core.ike_cookies()) == 1
            assert first != client.ike_spi
        finally:
            await client.close()

    log = with_gateway([peer(2, ike="pre-g2-aes128-sha", esp="g2-esp-aes128-sha")], scenario)
    assert sum("IKE SA rekey" in m for m in log.kinds("ike")) == 2


def test_retired_sas_are_kept_for_a_while_and_bounded() -> None:
    retired = RetiredSas(keep=10.0, limit=2)
    slots = [
        IkeSlot(bytes([n]) * 8, 2, object(), ("192.0.2.2", 500), 500, 0.0, False) for n in range(3)
    ]  # type: ignore[arg-type]
    retired.retire(slots[0], 0.0)
    assert retired.lookup(slots[0].spi_i, 10.0) is slots[0]
    assert retired.lookup(slots[0].spi_i, 10.5) is None and len(retired) == 0
    for n, slot in enumerate(slots):
        retired.retire(slot, 20.0 + n)
    assert len(retired) == 2 and slots[0].spi_i not in retired and retired.slots() == slots[1:]
