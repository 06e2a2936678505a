"""Many captures in one run: one sweep per gateway, the state store spares the next run, CLI outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kleptolab.attack.decryptor import DecryptOptions
from kleptolab.attack.engine import make_engine
from kleptolab.attack.pipeline import ManyResult, decrypt_many
from kleptolab.attack.store import StateStore
from kleptolab.capture import read_capture

from .synth import lab_trapdoor
from .synth_mass import MassGateway, mass_captures
from .synth_v1 import PSK

TRAPDOOR = lab_trapdoor()
OPTIONS = DecryptOptions(psk=PSK)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mass(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[MassGateway], Path]:
    folder = tmp_path_factory.mktemp("mass")
    paths, gws = mass_captures(
        folder / "caps", 2, 6, 2, gap=40
    )  # ~100 calls between captures: > --steps
    return paths, gws, folder


@pytest.fixture(scope="module")
def local_run(mass: tuple[list[Path], list[MassGateway], Path]) -> tuple[ManyResult, StateStore]:
    paths, _, folder = mass
    store = StateStore(folder / "store.db")
    engine = make_engine("local", 2)
    try:
        return decrypt_many(list(reversed(paths)), TRAPDOOR, engine, store, OPTIONS), store
    finally:
        engine.close()


def comparable(run: ManyResult) -> Any:
    """Everything a run produced except wall-clock times."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if k not in ("timings", "time_s", "seconds")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [
        (c.path, strip(c.report), c.ikev1, c.ikev2, c.esp, c.plaintext) for c in run.captures
    ], strip(run.report)


def test_one_sweep_per_gateway_across_captures(
    mass: tuple[list[Path], list[MassGateway], Path], local_run: tuple[ManyResult, StateStore]
) -> None:
    _, gws, _ = mass
    run, _store = local_run
    assert (
        run.report["sweeps"] == 2
        and run.report["sessions_decrypted"] == run.report["sessions"] == 12
    )
    assert {g: v["sweeps"] for g, v in run.report["gateways"].items()} == {
        "10.0.0.1:500": 1,
        "10.0.1.1:500": 1,
    }
    walked = [
        s
        for c in run.captures
        for s in c.report["sessions"]
        if s["recovered_by"].startswith("state cache")
    ]
    assert (
        len(walked) == 4
    )  # every later capture's first nonce: walked from the gateway's known states
    assert all(s["recovery"]["walked"] > 64 for s in walked)
    plaintext = sorted(p for c in run.captures for _, p in c.plaintext or [])
    assert plaintext == sorted(p for g in gws for p in g.inner)
    # given in reverse, processed in time order: the first capture of each gateway is the swept one
    swept = {Path(c.path).name for c in run.captures if c.report["nonce_recovery"]["sweep"]}
    assert swept == {"mass-00000.pcap", "mass-00001.pcap"}


def test_the_store_spares_the_next_run_and_later_captures(
    mass: tuple[list[Path], list[MassGateway], Path], local_run: tuple[ManyResult, StateStore]
) -> None:
    paths, _, folder = mass
    _, store = local_run
    engine = make_engine("local", 1)
    try:
        again = decrypt_many(paths[:2], TRAPDOOR, engine, StateStore(store.path), OPTIONS)
        assert again.report["sweeps"] == 0 and again.report["sessions_decrypted"] == 4
        more, gws = mass_captures(
            folder / "later", 2, 8, 1, gap=40
        )  # same gateways, later captures
        later = decrypt_many(more[6:], TRAPDOOR, engine, StateStore(store.path), OPTIONS)
    finally:
        engine.close()
    assert later.report["sweeps"] == 0 and later.report["sessions_decrypted"] == 2
    assert all("walked" in s["recovery"] for c in later.captures for s in c.report["sessions"])
    assert sorted(p for c in later.captures for _, p in c.plaintext or []) == sorted(
        p for g in gws for p in g.inner[-4:]
    )


def test_cli_many_captures_from_a_folder_and_a_glob(
    mass: tuple[list[Path], list[MassGateway], Path],
    local_run: tuple[ManyResult, StateStore],
    tmp_path: Path,
) -> None:
    paths, _, folder = mass
    _, store = local_run
    key = tmp_path / "trapdoor.json"
    key.write_text(json.dumps(TRAPDOOR.to_json()))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "kleptolab",
        "decrypt",
        str(paths[0].parent),
        str(folder / "caps" / "mass-0000[45].pcap"),
        "--trapdoor",
        str(key),
        "-o",
        str(out),
        "--psk",
        PSK.decode(),
        "--workers",
        "2",
        "--state-cache",
        str(store.path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env())
    assert done.returncode == 0, done.stderr
    merged = json.loads((out / "report.json").read_text())
    assert (
        len(merged["captures"]) == 6
        and merged["sweeps"] == 0
        and merged["sessions_decrypted"] == 12
    )
    for p in paths:
        d = out / p.stem
        report = json.loads((d / "report.json").read_text())
        assert sum(e["decrypted"] for e in report["esp"]) == 8
        assert read_capture(d / "plaintext.pcap").frame_count == 8  # the inner packets, streamed
        assert not (d / ".plaintext.pcap.stream").exists()
        assert (d / "esp_sa").read_text().count("\n") == 5  # title + 4 SAs


def test_cli_no_capture_is_one_error_line(tmp_path: Path) -> None:
    key = tmp_path / "trapdoor.json"
    key.write_text(json.dumps(TRAPDOOR.to_json()))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleptolab",
            "decrypt",
            str(tmp_path / "*.pcap"),
            "--trapdoor",
            str(key),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert (
        done.returncode == 2 and done.stderr.count("\n") == 1 and "no capture files" in done.stderr
    )


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def test_esp_of_an_sa_negotiated_in_an_earlier_capture_is_decrypted(tmp_path: Path) -> None:
    from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter, iter_frames

    from .synth import gateway_queues, ikev2_capture

    whole = tmp_path / "whole.pcap"
    sent = ikev2_capture(
        whole, gateway_queues(TRAPDOOR.q, {2: 2}, seed_label="split"), 2, packets=3
    )
    frames = list(iter_frames(whole, []))
    cut = len(frames) - 4  # the second SA's last two echo pairs go to the second file
    parts = [tmp_path / "a.pcap", tmp_path / "b.pcap"]
    for path, chunk in zip(parts, (frames[:cut], frames[cut:]), strict=True):
        with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
            for f in chunk:
                writer.write_frame(f.timestamp, f.data)
    engine = make_engine("local", 1)
    try:
        run = decrypt_many(parts, TRAPDOOR, engine, StateStore(), OPTIONS)
    finally:
        engine.close()
    first, second = run.captures
    assert len(first.report["sessions"]) == 2
    assert second.report["sessions"] == [] and len(second.plaintext or []) == 4
    assert sum(e["decrypted"] for e in second.report["esp"]) == 4
    everything = sorted(p for c in run.captures for _, p in c.plaintext or [])
    assert everything == sorted(p for s in sent for p in s.inner)
