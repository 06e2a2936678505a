from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.drbg.dualec import dualec32
from kleptolab.drbg.trapdoor import load_trapdoor

runner = CliRunner()


@pytest.fixture
def keyfile(tmp_path, trapdoor):
    path = tmp_path / "trapdoor.json"
    trapdoor.save(path, public_path=tmp_path / "q.json")
    return path


def test_keygen(tmp_path):
    out, pub = tmp_path / "t.json", tmp_path / "q.json"
    result = runner.invoke(app, ["keygen", "-o", str(out), "--public-out", str(pub)])
    assert result.exit_code == 0, result.output
    td = load_trapdoor(out)
    assert f"{td.q[0]:064x}" in result.output
    assert "d" not in json.loads(pub.read_text())
    again = runner.invoke(app, ["keygen", "-o", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    bad = runner.invoke(app, ["keygen", "-o", str(tmp_path / "x.json"), "--curve", "P-1"])
    assert bad.exit_code == 2 and "unknown curve" in bad.output


def test_prng_prints_raw_dual_ec(keyfile, trapdoor):
    result = runner.invoke(
        app,
        [
            "prng",
            "--trapdoor",
            str(keyfile.parent / "q.json"),
            "-n",
            "2",
            "--seed",
            "0abc",
            "--show-state",
            "--no-bn2bin-quirk",
        ],
    )
    assert result.exit_code == 0, result.output
    first, state = dualec32(0xABC, trapdoor.q)
    second, state = dualec32(state, trapdoor.q)
    assert first.hex() in result.output and second.hex() in result.output
    assert f"state {state:064x}" in result.output
    fixed = runner.invoke(
        app, ["prng", "--trapdoor", str(keyfile), "-n", "1", "--seed", "0abc", "--fix-cascade-bug"]
    )
    assert fixed.exit_code == 0 and first.hex() not in fixed.output


def test_prng_61_and_errors(keyfile, tmp_path):
    assert runner.invoke(app, ["prng", "--profile", "6.1.0r7", "-n", "1"]).exit_code == 0
    missing = runner.invoke(app, ["prng", "--profile", "6.3.0r20"])
    assert missing.exit_code == 2 and "--trapdoor" in missing.output
    bad = runner.invoke(app, ["prng", "--profile", "7.0.0r1", "--trapdoor", str(keyfile)])
    assert bad.exit_code == 2 and "no firmware profile" in bad.output
    seed = runner.invoke(app, ["prng", "--trapdoor", str(keyfile), "--seed", "zz"])
    assert seed.exit_code == 2 and "not a hex string" in seed.output


@pytest.mark.slow
def test_recover_command(keyfile, trapdoor):
    out, s2 = dualec32(777, trapdoor.q)
    nxt, _ = dualec32(s2, trapdoor.q)
    result = runner.invoke(
        app, ["recover", out.hex(), "--trapdoor", str(keyfile), "--next", nxt.hex()]
    )
    assert result.exit_code == 0, result.output
    assert f"{s2:064x}" in result.output and nxt.hex() in result.output
    assert "confirmed" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["zz"], "not a hex string"),
        (["00" * 31], "must be 32 bytes, got 31"),
        (["00" * 32, "--next", "xx"], "--next is not a hex string"),
    ],
)
def test_recover_bad_input(keyfile, args, message):
    result = runner.invoke(app, ["recover", *args, "--trapdoor", str(keyfile)])
    assert result.exit_code == 2
    assert message in result.output


def test_recover_bad_key_files(tmp_path):
    nonce = "00" * 32
    missing = runner.invoke(app, ["recover", nonce, "--trapdoor", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "key file not found" in missing.output
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "kleptolab-dualec-trapdoor", "version": 1, "curve": "P-256"}')
    result = runner.invoke(app, ["recover", nonce, "--trapdoor", str(corrupt)])
    assert result.exit_code == 2 and "'q' is missing" in result.output
