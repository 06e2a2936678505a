"""The decryptor follows IKEv2 IKE SA rekeys (RFC 7296 §2.18) on a synthetic long-lived tunnel.

Two in-memory VpnCores (the gateway over the lab-trapdoor PRNG queues) run a
tunnel with PFS CHILD_SA rekeys, IKE SA rekeys by either side, a simultaneous
rekey, and lost gateway replies (retransmitted requests in the capture).  The
decryptor must recover every IKE SA's keys (equal to the gateway's), every
child SA's keys (equal to the client's), decrypt every ESP packet, and write a
Wireshark row per IKE SA that tshark accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kleptolab.attack.recovery import StateCache
from kleptolab.device.vpn_core import IkeEventSeen
from kleptolab.ike.common import IkeSaEstablished
from kleptolab.lab.report import rekeys_section

from .conftest import TRAPDOOR, Run, decrypt_to
from .synth import gateway_queues
from .synth_rekey import RekeyLab
from .test_tshark import _rows, _tshark


@pytest.fixture(scope="module")
def rekey_run(
    tmp_path_factory: pytest.TempPathFactory, state_cache: StateCache
) -> tuple[Run, RekeyLab]:
    tmp = tmp_path_factory.mktemp("rekey")
    lab = RekeyLab(tmp / "rekey.pcap", gateway_queues(TRAPDOOR.q, {2: 2}), pfs=True)
    try:
        lab.connect()
        lab.ping(2)
        lab.rekey_child()
        lab.ping(2)
        lab.rekey_ike()
        lab.ping(2)
        lab.rekey_ike(by_gateway=True)
        lab.rekey_child()
        lab.ping(2)
        lab.rekey_both()
        lab.ping(2)
        lab.drop_gateway_ike = lambda n: (
            n % 2 == 0
        )  # from now on every second gateway IKE reply is lost
        lab.rekey_child()
        lab.ping(2)
        lab.rekey_ike()
        lab.ping(2)
    finally:
        lab.close()
    assert lab.replies == 14  # every ping answered through every rekey, collision and loss
    result = decrypt_to(tmp / "rekey.pcap", tmp / "out", state_cache)
    return Run(tmp / "rekey.pcap", [], result, tmp / "out"), lab


def _gateway_sas(lab: RekeyLab) -> dict[str, dict[str, bytes]]:
    seen = [e.event for e in lab.events["gateway"] if isinstance(e, IkeEventSeen)]
    return {
        f"{e.spi_i.hex()}:{e.spi_r.hex()}": e.keys for e in seen if isinstance(e, IkeSaEstablished)
    }


def test_every_ike_sa_of_the_chain_is_decrypted_with_the_gateways_keys(
    rekey_run: tuple[Run, RekeyLab],
) -> None:
    run, lab = rekey_run
    truth = _gateway_sas(lab)
    assert len(truth) == 6  # IKE_SA_INIT + 3 rekeys + both SAs of the simultaneous rekey
    sessions = {s["id"]: s for s in run.sessions}
    assert set(truth) <= set(sessions)
    for sid, keys in truth.items():
        entry = sessions[sid]
        assert "failure" not in entry, entry
        assert entry["keys"]["SKEYSEED"] == keys["SKEYSEED"].hex()
        assert entry["keys"]["SK_d"] == keys["SK_d"].hex()
        assert entry["ike_messages_failed"] == 0
    assert len(run.result.ikev2) == 6 and {r.spi_i.hex() for r in run.result.ikev2} == {
        s[:16] for s in truth
    }
    (chain,) = run.result.report["ike_rekey_chains"]
    assert chain["rekeys"] == 4 and chain["all_decrypted"] and len(chain["redundant"]) == 1
    rekeyed = [s for s in run.sessions if "rekeyed_from" in s]
    assert len(rekeyed) == 5 and all(
        s["exchange"] == "CREATE_CHILD_SA (IKE SA rekey)" for s in rekeyed
    )


def test_every_child_sa_and_esp_packet_decrypts(rekey_run: tuple[Run, RekeyLab]) -> None:
    run, lab = rekey_run
    report = run.result.report
    assert report["esp"] and all(
        e["decrypted"] == e["packets"] and e["icv_failed"] == 0 for e in report["esp"]
    )
    assert (
        sum(e["packets"] for e in report["esp"]) == 2 * 2 * 7
    )  # 7 rounds of 2 pings, request + reply
    rows = {(r.spi, r.encr_key, r.integ_key) for r in run.result.esp}
    for tunnel in lab.client.tunnels:
        assert (tunnel.spi_out, tunnel.encr_key_out, tunnel.integ_key_out) in rows
        assert (tunnel.spi_in, tunnel.encr_key_in, tunnel.integ_key_in) in rows
    assert len(run.result.plaintext) == 28


def test_tshark_verifies_every_rekeyed_sa(rekey_run: tuple[Run, RekeyLab], tmp_path: Path) -> None:
    run, _ = rekey_run
    rows = _rows(run, tmp_path)
    esp = [r for r in rows if r["esp.spi"]]
    assert len(esp) == 28 and all(r["esp.icv_good"] == "1" for r in esp)
    sk = [r for r in rows if r["isakmp.exchangetype"] in ("35", "36", "37")]
    assert len(sk) > 30
    creates = [r for r in sk if r["isakmp.exchangetype"] == "36"]
    assert all(
        len(r["isakmp.typepayload"].split(",")) > 1 for r in creates
    )  # SA, Nonce, KE... opened
    verbose = _tshark(run, tmp_path, "-V")
    icd = [line for line in verbose.splitlines() if "Integrity Checksum Data:" in line]
    assert len(icd) == len(sk) and all(line.endswith("[correct]") for line in icd)


def test_html_report_shows_the_rekey_chain(rekey_run: tuple[Run, RekeyLab]) -> None:
    run, _ = rekey_run
    chains = run.result.report["ike_rekey_chains"]
    html = rekeys_section(chains)
    assert html.startswith('<section id="rekeys">')
    for link in chains[0]["links"]:
        assert link["id"] in html
    assert html.count('class="match"') == 4 and html.count('class="stale"') == 1
    assert rekeys_section([]) == ""
