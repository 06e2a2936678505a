"""``kleptolab decrypt`` error handling and a small successful run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kleptolab.attack.recovery import SPACE, StateCache, jobs_for
from kleptolab.cli import app

from .conftest import V1_CASES, Run
from .synth import gateway_queues, ikev2_capture, lab_trapdoor
from .synth_v1 import PSK

RUNNER = CliRunner()


def _key(tmp: Path) -> Path:
    path = tmp / "key.json"
    lab_trapdoor().save(path)
    return path


def test_missing_capture(tmp_path: Path) -> None:
    r = RUNNER.invoke(app, ["decrypt", str(tmp_path / "nope.pcap"), "--trapdoor", str(_key(tmp_path)), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "capture not found" in r.output


def test_corrupt_trapdoor(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(b"")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = RUNNER.invoke(app, ["decrypt", str(cap), "--trapdoor", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not valid JSON" in r.output


def test_empty_capture_is_not_a_capture(tmp_path: Path) -> None:
    cap = tmp_path / "empty.pcap"
    cap.write_bytes(b"")
    r = RUNNER.invoke(app, ["decrypt", str(cap), "--trapdoor", str(_key(tmp_path)), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "error" in r.output


def test_missing_wordlist(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(b"")
    r = RUNNER.invoke(app, ["decrypt", str(cap), "--trapdoor", str(_key(tmp_path)), "-o", str(tmp_path / "o"),
                            "--psk-wordlist", str(tmp_path / "words.txt")])
    assert r.exit_code == 2 and "wordlist not found" in r.output


def test_unknown_engine(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(b"")
    r = RUNNER.invoke(app, ["decrypt", str(cap), "--trapdoor", str(_key(tmp_path)), "-o", str(tmp_path / "o"),
                            "--engine", "spark"])
    assert r.exit_code == 2 and "unknown engine" in r.output


def test_truncated_capture_still_decrypts(tmp_path: Path) -> None:
    full = tmp_path / "full.pcap"
    ikev2_capture(full, gateway_queues(lab_trapdoor().q, {2: 2}), 1)
    cut = tmp_path / "cut.pcap"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) - 30])  # the last ESP packet is cut off
    out = tmp_path / "o"
    r = RUNNER.invoke(app, ["decrypt", str(cut), "--trapdoor", str(_key(tmp_path)), "-o", str(out),
                            "--workers", "2", "--state-cache", str(tmp_path / "cache.json")])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["warnings"]
    assert sum(e["decrypted"] for e in report["esp"]) == 3
    assert "IKEv2 decryption table" in (out / "ikev2_decryption_table").read_text()
    assert len(StateCache(tmp_path / "cache.json")) == 1  # the SQLite state store


def test_bad_quirk_shifts(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(b"")
    r = RUNNER.invoke(app, ["decrypt", str(cap), "--trapdoor", str(_key(tmp_path)), "-o", str(tmp_path / "o"),
                            "--quirk-shifts", "9"])
    assert r.exit_code == 2 and "--quirk-shifts" in r.output


def test_quirk_shifts_add_one_sweep_per_shift() -> None:
    jobs = jobs_for(bytes(range(32)), lab_trapdoor().to_json(), chunks=4, quirk_shifts=2)
    assert len(jobs) == 12
    assert {j.leading_zeros for j in jobs} == {0, 1, 2}
    assert sum(j.size for j in jobs if j.leading_zeros == 1) == SPACE


def test_cli_cracks_an_ikev1_psk_and_summarises(
    tmp_path: Path, v1_run: Run, state_cache: StateCache
) -> None:
    cache = StateCache(tmp_path / "cache.json")
    for nonce, states in state_cache.items():
        cache.put(nonce, states)
    cache.save()  # a cache from an earlier run: no nonce is swept again
    words = tmp_path / "words.txt"
    words.write_bytes(b"password\r\nnetscreen\n\n" + PSK + b"\n")
    out = tmp_path / "o"
    r = RUNNER.invoke(app, ["decrypt", str(v1_run.capture), "--trapdoor", str(_key(tmp_path)), "-o", str(out),
                            "--psk-wordlist", str(words), "--workers", "1", "--state-cache", str(cache.path)])
    assert r.exit_code == 0, r.output
    esp = sum(4 * c.quick_modes for c in V1_CASES)
    assert "kleptolab decrypt" in r.output and f"ESP: {esp}/{esp} packets decrypted" in r.output
    report = json.loads((out / "report.json").read_text())
    cracked = [s["psk"] for s in report["sessions"] if "psk" in s]
    assert cracked and all(p == {"source": "cracked", "value": PSK.decode(), "guesses": 3, "verified": True}
                           for p in cracked)
    assert report["timings"]["recovery_s"] < 1
