"""End to end: IKEv2 captures, and releases whose traffic cannot be decrypted."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleptolab.attack.decryptor import NOT_DUAL_EC, WRONG_Q, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.recovery import StateCache
from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter

from .conftest import TRAPDOOR, V2_VARIANTS, Run
from .synth import ikev2_session, release_queues
from .synth_v1 import V1Case, ikev1_session


def test_ikev2_psk_every_esp_packet_decrypts(v2_run: Run) -> None:
    inner = [p for s in v2_run.sent for p in s.inner]
    assert len(inner) == 4 + 8 + 8
    assert sorted(p for _, p in v2_run.result.plaintext) == sorted(inner)
    for s, variant in zip(v2_run.sessions, V2_VARIANTS, strict=True):
        assert "failure" not in s, s
        rekeyed = variant.get("rekey_pfs", False)
        assert s["ike_messages_decrypted"] == (4 if rekeyed else 2) and s["ike_messages_failed"] == 0
        assert s["confirmed_states"]
        assert s["esp_packets"] == (8 if rekeyed else 4)
    assert all(e["decrypted"] == e["packets"] and e["icv_failed"] == 0 for e in v2_run.result.report["esp"])
    assert len((v2_run.out / "esp_sa").read_text().splitlines()) == 1 + 2 * 5
    assert (v2_run.out / "plaintext.pcap").stat().st_size > 24


def test_create_child_sa_with_pfs(v2_run: Run) -> None:
    for s, variant in zip(v2_run.sessions, V2_VARIANTS, strict=True):
        children = s["child_sas"]
        assert isinstance(children, list)
        if variant.get("rekey_pfs"):
            first, rekey = children
            assert first["pfs"] is False and rekey["pfs"] is True
            assert rekey["pfs_draw"]["offset"] >= 1
        else:
            assert [c["pfs"] for c in children] == [False]


@pytest.mark.parametrize(
    ("version", "ike", "reason"),
    [
        ("6.3.0r21", 1, WRONG_Q),
        ("6.2.0r14", 2, WRONG_Q),
        ("6.1.0r7", 1, NOT_DUAL_EC.format(n=20)),
        ("6.1.0r7", 2, NOT_DUAL_EC.format(n=20)),
    ],
    ids=["6.3.0r21-ikev1", "6.2.0r14-ikev2", "6.1-ikev1", "6.1-ikev2"],
)
def test_releases_without_the_lab_q_recover_no_state(tmp_path: Path, version: str, ike: int, reason: str) -> None:
    """6.3.0r21 / 6.2.0r14 carry Juniper's Q; 6.1 has no Dual EC at all (20-byte X9.31 nonces)."""
    gw = release_queues(version, TRAPDOOR, {2: 2}, seed_label=version)
    cap = tmp_path / f"{version}.pcap"
    with PcapWriter(cap, LINKTYPE_ETHERNET) as writer:
        if ike == 1:
            ikev1_session(writer, gw, 1_700_000_000.0, 1, V1Case())
        else:
            ikev2_session(writer, gw, 1_700_000_000.0, 1)
    result = decrypt_capture(cap, TRAPDOOR, make_engine("local", 2), StateCache())
    [session] = result.report["sessions"]
    assert session["failure"] == reason
    assert "no state recovered" in reason
    assert result.ikev1 == [] and result.ikev2 == [] and result.esp == [] and result.plaintext == []
    assert all(e["decrypted"] == 0 for e in result.report["esp"])
