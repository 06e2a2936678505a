"""IKEv1 end to end: Main/Aggressive Mode, PSK (given or cracked) and RSA signatures, QM ± PFS."""

from __future__ import annotations

import json
from pathlib import Path

from kleptolab.attack.decryptor import DecryptOptions, decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.ikev1_attack import NEED_PSK
from kleptolab.attack.outputs import Ikev1Row
from kleptolab.attack.recovery import StateCache
from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter
from kleptolab.ike.common import AuthMethod

from .conftest import TRAPDOOR, V1_CASES, Run, decrypt_to
from .synth import gateway_queues
from .synth_v1 import PSK, V1Case, V1Session, ikev1_capture, ikev1_pke_session

WORDS = [b"password", b"123456", b"netscreen", b"juniper123", PSK, b"letmein"]


def test_every_esp_packet_decrypts_to_what_the_client_sent(v1_run: Run) -> None:
    inner = sorted(p for s in v1_run.sent for p in s.inner)
    assert len(inner) == sum(4 * c.quick_modes for c in V1_CASES)
    assert sorted(p for _, p in v1_run.result.plaintext) == inner
    for e in v1_run.result.report["esp"]:
        assert e["decrypted"] == e["packets"] == 2 and e["icv_failed"] == 0, e


def test_every_session_is_unlocked_with_the_peers_keys(v1_run: Run) -> None:
    sent: list[V1Session] = v1_run.sent  # type: ignore[assignment]
    assert [r.line() for r in v1_run.result.ikev1] == [Ikev1Row(s.spi_i, s.ka).line() for s in sent]
    for s, case, entry in zip(sent, V1_CASES, v1_run.sessions, strict=True):
        assert "failure" not in entry, entry
        assert entry["exchange"] == ("Aggressive Mode" if case.aggressive else "Main Mode")
        assert entry["keys"]["g_xy"] == s.g_xy.hex()
        assert entry["ike_messages_failed"] == 0
        encrypted = 3 * case.quick_modes + (0 if case.aggressive else 2)
        assert entry["ike_messages_decrypted"] == encrypted
        children = entry["child_sas"]
        assert isinstance(children, list) and len(children) == case.quick_modes
        assert all(c["pfs"] is case.pfs and c["udp_encapsulated"] is case.nat_t for c in children)
        if case.pfs:
            assert all("pfs_draw" in c for c in children)
        keys = {row.spi: (row.encr_key, row.integ_key) for row in v1_run.result.esp}
        assert all(keys[spi] == k for spi, k in s.esp_keys.items())


def test_authentication_is_checked(v1_run: Run) -> None:
    for case, entry in zip(V1_CASES, v1_run.sessions, strict=True):
        if case.auth is AuthMethod.PSK:
            assert entry["psk"] == {"source": "given", "verified": True}
            assert entry["auth_check"] == ("HASH_R verified" if case.aggressive else "HASH_I verified")
        else:
            assert "psk" not in entry
            assert entry["auth_check"].startswith("SIG_R" if case.aggressive else "SIG_I")
            assert entry["auth_check"].endswith("verified with the sender's certificate")


def test_psk_cracked_from_a_wordlist(v1_capture: tuple[Path, list[V1Session]], state_cache: StateCache) -> None:
    path, sent = v1_capture
    result = decrypt_to(path, path.parent / "out-crack", state_cache, DecryptOptions(psk_wordlist=tuple(WORDS)))
    for case, entry in zip(V1_CASES, result.report["sessions"], strict=True):
        assert "failure" not in entry, entry
        if case.auth is AuthMethod.PSK:
            assert entry["psk"] == {"source": "cracked", "value": PSK.decode(), "guesses": 5, "verified": True}
    assert len(result.plaintext) == sum(len(s.inner) for s in sent)


def test_psk_sessions_without_a_psk_say_what_is_missing(
    v1_capture: tuple[Path, list[V1Session]], state_cache: StateCache
) -> None:
    path, _ = v1_capture
    result = decrypt_to(path, path.parent / "out-nopsk", state_cache)
    for case, entry in zip(V1_CASES, result.report["sessions"], strict=True):
        if case.auth is AuthMethod.PSK:
            assert entry["failure"] == NEED_PSK
            assert "dh_draw" in entry and "keys" not in entry  # g^xy was recovered nonetheless
        else:
            assert "failure" not in entry
    assert len(result.ikev1) == 2


def test_wrong_psk_and_exhausted_wordlist(v1_capture: tuple[Path, list[V1Session]], state_cache: StateCache) -> None:
    path, _ = v1_capture
    wrong = decrypt_to(path, path.parent / "out-wrong", state_cache, DecryptOptions(psk=b"hunter2"))
    psk_entries = [e for c, e in zip(V1_CASES, wrong.report["sessions"], strict=True) if c.auth is AuthMethod.PSK]
    assert {e["failure"] for e in psk_entries} == {
        "the given pre-shared key does not verify (HASH_I mismatch)",
        "the given pre-shared key does not verify (HASH_R mismatch)",
    }
    short = decrypt_to(path, path.parent / "out-short", state_cache, DecryptOptions(psk_wordlist=(b"a", b"b")))
    first = short.report["sessions"][0]
    assert first["failure"] == f"{NEED_PSK} (none of 2 wordlist entries verifies)"


def test_drained_nonce_queue_is_unlocked_by_the_earlier_connection(tmp_path: Path, state_cache: StateCache) -> None:
    """Dossier §4.2: three nonce-only Quick Modes drain the nonce queue, so connection B's
    DH key (drawn at boot) predates B's nonce; only A's nonce walks forward to it."""
    gw = gateway_queues(TRAPDOOR.q, {2: 2}, seed_label="drained-v1")
    cases = [V1Case(quick_modes=3), V1Case()]
    sent = ikev1_capture(tmp_path / "drained.pcap", gw, cases)
    result = decrypt_to(tmp_path / "drained.pcap", tmp_path / "out", state_cache, DecryptOptions(psk=PSK))
    a, b = result.report["sessions"]
    assert "failure" not in a and "failure" not in b, (a, b)
    assert a["unlocked_by"] == a["id"] and b["unlocked_by"] == a["id"]
    assert len(result.plaintext) == sum(len(s.inner) for s in sent)


def test_public_key_encryption_is_reported_not_attackable(tmp_path: Path) -> None:
    cap = tmp_path / "pke.pcap"
    with PcapWriter(cap, LINKTYPE_ETHERNET) as writer:
        ikev1_pke_session(writer, gateway_queues(TRAPDOOR.q, {2: 2}, seed_label="pke"), 1_700_000_000.0, 7)
    result = decrypt_capture(cap, TRAPDOOR, make_engine("local", 1), StateCache())
    [entry] = result.report["sessions"]
    assert entry["failure"].startswith("public-key encryption authentication (RSA encryption)")
    assert "not attackable" in entry["failure"]
    assert result.report["timings"]["recovery_s"] < 1  # nothing was swept


def test_outputs_are_written(v1_run: Run) -> None:
    report = json.loads((v1_run.out / "report.json").read_text())
    assert len(report["sessions"]) == len(V1_CASES)
    table = (v1_run.out / "ikev1_decryption_table").read_text().splitlines()
    assert table[0].startswith("# IKEv1 decryption table") and len(table) == 1 + len(V1_CASES)


def test_pfs_exponents_out_of_reach_are_found_from_quick_mode_nonces(tmp_path: Path, state_cache: StateCache) -> None:
    """With a 6-output walk the phase-1 nonce does not reach the on-demand PFS exponents of later
    Quick Modes.  Queued QM nonces are predicted by a walk, so the decryptor re-anchors there for
    free; the last two QM nonces are made on demand, and the first of them is predicted by
    nothing and gets swept."""
    gw = gateway_queues(TRAPDOOR.q, {2: 2}, seed_label="qm-rounds")
    sent = ikev1_capture(tmp_path / "qm.pcap", gw, [V1Case(pfs=True, quick_modes=5)])
    assert [t.on_demand for t in gw.taken if t.kind == "nonce"] == [False] * 4 + [True] * 2
    result = decrypt_to(tmp_path / "qm.pcap", tmp_path / "out", state_cache, DecryptOptions(psk=PSK, steps=6))
    [entry] = result.report["sessions"]
    assert "failure" not in entry, entry
    labels = [c["pfs_draw"]["anchor_nonce"] for c in entry["child_sas"]]
    assert "Quick Mode Nr (predicted)" in labels and labels[-1] == "Quick Mode Nr", labels
    assert sorted(p for _, p in result.plaintext) == sorted(sent[0].inner)
