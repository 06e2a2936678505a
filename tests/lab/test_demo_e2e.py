"""End to end: the default demo in-process, scenario variants, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.drbg.trapdoor import load_trapdoor
from kleptolab.lab.demo import DemoOptions, DemoOutcome, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.network]


def _findings(outcome: DemoOutcome, tool: str) -> list[tuple[str, str, str]]:
    return [(f.target, f.severity, f.finding) for f in outcome.run.findings if f.tool == tool]


def test_default_demo_outcomes(default_demo: tuple[DemoOutcome, int, int]) -> None:
    outcome, _, _ = default_demo
    assert outcome.problems == []
    r20, r21 = outcome.run.backdoored, outcome.run.patched
    assert r21 is not None
    assert (r20.firmware_version, r21.firmware_version) == ("6.3.0r20", "6.3.0r21")

    # r20: every message the clients sent is read back from the tap's pcap, IKEv1 and IKEv2.
    assert r20.vpn_decrypted
    assert len(r20.plaintext) == 6
    assert {p.session.split("(")[1] for p in r20.plaintext} == {"IKEv1)", "IKEv2)"}
    for pair in r20.plaintext:
        assert pair.decrypted == pair.sent and "wire 1,250,000 USD" in pair.sent
    assert {k.name for k in r20.keys} >= {"SKEYID", "Ka"}
    assert any(k.session.startswith("ESP ") for k in r20.keys)
    # one sweep: the first nonce's walk predicts the next nonce, and so on (no sweep for them)
    first, *rest = r20.recovery
    assert (first.how, first.candidates) == ("sweep", 2**16) and first.survivors >= 1
    assert len(rest) == 2 and all(w.how == "predicted" and w.candidates == 0 for w in rest)
    nonce_rows = [d for d in r20.draws if d.used_in.startswith("responder nonce Nr")]
    dh_rows = [d for d in r20.draws if "attacker predicted it" in d.used_in]
    assert len(nonce_rows) == 3 and len(dh_rows) == 3
    # no queue ran dry: each connection's key comes after its own nonce, which unlocks it
    assert [u.connection for u in r20.unlocks] == [1, 2, 3]
    for u in r20.unlocks:
        assert u.nonce_draw is not None and u.key_draw is not None and u.nonce_draw < u.key_draw
        assert u.unlocked_by == u.connection and u.unlocked_by_draw == u.nonce_draw
        assert u.text.startswith(f"connection {u.connection} unlocked by its own nonce (draw {u.nonce_draw})")

    # r20: the master password opens the console for any username; `get system` answers.
    assert r20.backdoor_login
    assert "6.3.0r20" in r20.login_transcript

    # r21: same traffic, nothing decrypted, and the report says why; the password is refused.
    assert not r21.vpn_decrypted
    assert "Q is not the lab trapdoor's Q" in r21.reason
    assert all(p.decrypted == "" for p in r21.plaintext) and len(r21.plaintext) == 6
    # the sweep is still paid for; any chance candidates (the 2-byte check lets ~1 in 2 through
    # against a foreign Q) predict no KE, which is what vpn_decrypted already says
    assert [w.how for w in r21.recovery] == ["sweep"] * 3  # nothing predicts anything: every nonce swept
    assert all(u.unlocked_by is None for u in r21.unlocks)
    assert not r21.backdoor_login
    assert "no master password" in r21.reason and "permission denied" in r21.reason.lower()


def test_default_demo_defender_findings(default_demo: tuple[DemoOutcome, int, int]) -> None:
    outcome, _, _ = default_demo
    scan = _findings(outcome, "scan")
    assert any(t == "ssg5-6.3.0r20.img" and s == "replaced-q" for t, s, _ in scan)
    assert any(t == "ssg5-6.3.0r20.img" and "master-password" in f for t, _, f in scan)
    assert any(t == "ssg5-6.3.0r21.img" and s == "known-good" and "juniper" in f for t, s, f in scan)
    assert not any(t == "ssg5-6.3.0r21.img" and "master-password" in f for t, _, f in scan)
    logs = _findings(outcome, "logs")
    assert any(t == "syslog-6.3.0r20.log" and s == "critical" and "'system'" in f for t, s, f in logs)
    assert not any(t == "syslog-6.3.0r21.log" and s == "critical" for t, s, _ in logs)
    advisory = _findings(outcome, "advisory")
    assert ("6.3.0r20", "affected") in {(t, s) for t, s, _ in advisory}
    assert ("6.3.0r21", "fixed") in {(t, s) for t, s, _ in advisory}
    assert any("CVE-2015-7756" in f for t, _, f in advisory if t == "6.3.0r20")
    fingerprint = _findings(outcome, "fingerprint")
    # the defender's survey of its own gateway (640 abandoned IKE_SA_INITs) convicts both releases:
    # the fingerprint identifies ScreenOS 6.2/6.3's Dual EC PRNG, whatever its Q
    assert [t for t, _, _ in fingerprint] == ["survey-6.3.0r20.pcap", "survey-6.3.0r21.pcap"]
    for _, severity, finding in fingerprint:
        assert severity == "screenos-dualec" and finding.startswith("affected ScreenOS likely")
        assert "640 32-byte nonces, 0 zero bytes at 0/30" in finding
    story = [e.text for e in outcome.run.timeline]
    assert any("640 IKEv2 IKE_SA_INIT probes" in t and "device we own" in t for t in story)
    assert any("not the Q it uses" in t for t in story)
    diff = _findings(outcome, "diff")
    assert any("known Q restored" in f for _, _, f in diff)
    assert any("removed" in f and "lab=" in f for _, _, f in diff)


def test_default_demo_files(default_demo: tuple[DemoOutcome, int, int]) -> None:
    outcome, _, _ = default_demo
    out = outcome.out
    for name in (
        "report.html", "run.json", "trapdoor/lab-trapdoor.json", "trapdoor/lab-q.json",
        "firmware/ssg5-6.3.0r20.img", "firmware/ssg5-6.3.0r21.img",
        "6.3.0r20/tap-6.3.0r20.pcap", "6.3.0r20/syslog-6.3.0r20.log", "6.3.0r20/event-6.3.0r20.log",
        "6.3.0r20/decrypt/report.json", "6.3.0r20/decrypt/plaintext.pcap",
        "6.3.0r20/decrypt/ikev1_decryption_table", "6.3.0r20/decrypt/ikev2_decryption_table",
        "6.3.0r20/decrypt/esp_sa", "6.3.0r21/tap-6.3.0r21.pcap", "6.3.0r21/decrypt/report.json",
        "6.3.0r20/survey-6.3.0r20.pcap", "6.3.0r21/survey-6.3.0r21.pcap",
    ):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run["scenario"] == "default" and run["problems"] == []
    assert "report.html" in run["files"] and "6.3.0r20/tap-6.3.0r20.pcap" in run["files"]
    assert run["backdoored"]["vpn_decrypted"] is True and run["patched"]["vpn_decrypted"] is False
    trapdoor = load_trapdoor(out / "trapdoor" / "lab-trapdoor.json")
    assert f"{trapdoor.q[0]:064x}" == run["trapdoor_qx"]
    # Wireshark tables carry real rows; the syslog carries the backdoor login
    assert len((out / "6.3.0r20/decrypt/esp_sa").read_text().splitlines()) > 1
    assert "Admin user system has logged on via SSH" in (out / "6.3.0r20/syslog-6.3.0r20.log").read_text()
    assert (out / "6.3.0r21/decrypt/esp_sa").read_text().count("\n") == 1  # header only


def test_default_demo_cleans_up(default_demo: tuple[DemoOutcome, int, int]) -> None:
    _, before, after = default_demo
    assert after == before


def test_demo_is_reproducible_where_seeded(default_demo: tuple[DemoOutcome, int, int]) -> None:
    outcome, _, _ = default_demo
    from kleptolab.lab.demo import seeded_trapdoor

    assert outcome.run.trapdoor_qx == f"{seeded_trapdoor(7).q[0]:064x}"
    assert seeded_trapdoor(7).q != seeded_trapdoor(8).q
    # the gateway's PRNG is seeded too: the first draws are a pure function of --seed
    from kleptolab.lab.victim import gateway_seed

    assert gateway_seed(7, "6.3.0r20") == gateway_seed(7, "6.3.0r20") != gateway_seed(8, "6.3.0r20")


def test_scenario_61_neither_backdoor(tmp_path: Path) -> None:
    outcome = run_demo(DemoOptions(out=tmp_path / "out", scenario="6.1", seed=3, workers=1, survey_probes=20))
    assert outcome.problems == []
    phase = outcome.run.backdoored
    assert outcome.run.patched is None
    assert phase.firmware_version == "6.1.0r7"
    assert not phase.vpn_decrypted and not phase.backdoor_login
    assert "20 bytes" in phase.reason and "no master password" in phase.reason
    assert phase.recovery == []  # nothing to sweep: X9.31 nonces are not Dual EC output
    scan = [f for f in outcome.run.findings if f.tool == "scan"]
    assert [f.severity for f in scan] == ["clean"]
    fp = [f for f in outcome.run.findings if f.tool == "fingerprint"]
    assert [(f.target, f.severity) for f in fp] == [("survey-6.1.0r7.pcap", "no-32-byte-nonces")]
    assert "20 of 20 bytes" in fp[0].finding
    advisory = [f for f in outcome.run.findings if f.tool == "advisory"]
    assert advisory[0].severity == "not-affected"


def test_cli_scenario_62_vpn_backdoor_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--scenario", "6.2.0r15",
                                      "--seed", "5", "--workers", "2", "--survey-probes", "0"])
    assert result.exit_code == 0, result.output
    assert "6.2.0r15" in result.output and "6.2.0r19" in result.output
    run = json.loads((out / "run.json").read_text())
    r15, r19 = run["backdoored"], run["patched"]
    assert r15["vpn_decrypted"] is True and r15["backdoor_login"] is False
    assert r19["vpn_decrypted"] is False and r19["backdoor_login"] is False
    assert all(p["sent"] == p["decrypted"] for p in r15["plaintext"])
    assert (out / "report.html").is_file()
    scan = [f for f in run["findings"] if f["tool"] == "scan" and f["target"] == "ssg5-6.2.0r15.img"]
    assert any(f["severity"] == "replaced-q" for f in scan)
    assert not any("master-password" in f["finding"] for f in scan)


def test_scenario_weak_psk_is_cracked_from_the_wordlist(tmp_path: Path) -> None:
    outcome = run_demo(DemoOptions(out=tmp_path / "out", scenario="weak-psk", seed=11, workers=2, survey_probes=0))
    assert outcome.problems == []
    r20, r21 = outcome.run.backdoored, outcome.run.patched
    assert r20.vpn_decrypted and r21 is not None and not r21.vpn_decrypted
    assert any("PSK cracked from the wordlist: 'summer2015'" in k.source for k in r20.keys)
    report = json.loads((tmp_path / "out/6.3.0r20/decrypt/report.json").read_text())
    assert any((s.get("psk") or {}).get("source") == "cracked" for s in report["sessions"])


def test_scenario_drained_queues_is_the_multi_connection_attack(tmp_path: Path) -> None:
    """CCS16 Figure 2 on the real gateway: connection 9's MODP1024 key (a boot-time draw) predates
    its nonce, so only an earlier connection's nonce unlocks it; the run says which one."""
    from html import escape

    out = tmp_path / "out"
    outcome = run_demo(DemoOptions(out=out, scenario="drained-queues", seed=2015, workers=2, survey_probes=0))
    assert outcome.problems == []
    r20 = outcome.run.backdoored
    assert r20.vpn_decrypted and len(r20.plaintext) == 9
    assert all(p.sent == p.decrypted and "wire 1,250,000 USD" in p.sent for p in r20.plaintext)
    by_connection = {u.connection: u for u in r20.unlocks}
    assert sorted(by_connection) == list(range(1, 10))
    late = by_connection[9]
    assert late.version == 1 and late.key_draw is not None and late.nonce_draw is not None
    assert late.key_draw < late.nonce_draw  # the gateway's own draw log: the key predates the nonce
    assert late.key_draw == 11  # the boot-time MODP1024 key, as in CCS16 Figure 2
    m = late.unlocked_by
    assert m is not None and m != 9 and m < 9
    by_draw = late.unlocked_by_draw
    assert by_draw is not None and by_draw == by_connection[m].nonce_draw and by_draw < late.key_draw
    assert late.offset == late.key_draw - by_draw
    text = f"connection 9 unlocked by connection {m}'s nonce (draw {late.unlocked_by_draw})"
    assert late.text.startswith(text) and f"predates its own nonce (draw {late.nonce_draw})" in late.text
    for n in range(1, 9):  # the MODP2048 connections: each key drawn after its own nonce
        u = by_connection[n]
        assert u.unlocked_by == n and u.nonce_draw is not None and u.key_draw is not None
        assert u.nonce_draw < u.key_draw
    # the decryptor's own report: another SA's nonce unlocked connection 9; its state was predicted
    report = json.loads((out / "6.3.0r20/decrypt/report.json").read_text())
    entry = next(s for s in report["sessions"] if s["id"] == late.session)
    assert entry["unlocked_by"] == by_connection[m].session != late.session
    assert entry["recovered_by"].startswith("predicted from ")
    assert late.recovered_by.startswith("predicted from connection ")
    assert report["nonce_recovery"] == {"sweep": 1, "predicted": 8, "state cache": 0}
    # ... and the story, run.json and the HTML report all say it
    assert any(e.text.startswith(text) for e in outcome.run.timeline)
    run = json.loads((out / "run.json").read_text())
    assert run["backdoored"]["unlocks"][8]["text"] == late.text
    assert escape(text) in (out / "report.html").read_text()
    r21 = outcome.run.patched
    assert r21 is not None and not r21.vpn_decrypted
    late21 = next(u for u in r21.unlocks if u.connection == 9)
    assert late21.key_draw is not None and late21.nonce_draw is not None and late21.key_draw < late21.nonce_draw


def test_cli_rejects_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--scenario", "nope"])
    assert result.exit_code == 2
    assert not (tmp_path / "run.json").exists()
