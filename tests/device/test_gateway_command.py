"""``kleptolab gateway``: boots from an image file, refuses corrupt ones with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.device.firmware import build_image
from kleptolab.drbg.trapdoor import generate_trapdoor

runner = CliRunner()


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fw") / "ssg5-6.3.0r20.bin"
    path.write_bytes(build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q))
    return path


PORTS = ["--ike-port", "0", "--natt-port", "0", "--ssh-port", "0", "--telnet-port", "0"]


@pytest.mark.network
def test_gateway_runs_and_stops(firmware: Path) -> None:
    result = runner.invoke(app, ["gateway", "--firmware", str(firmware), *PORTS, "--seed", "0x1234", "--run-for", "0.3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ScreenOS 6.3.0r20" in out and "Q fingerprint" in out and "ARMED" in out
    assert "telnet 127.0.0.1:" in out and "ssh 127.0.0.1:" in out and "ike 127.0.0.1:" in out
    assert "00009 Dual EC known-answer self-test passed" in out
    assert "stopped" in out


def test_corrupt_image_exits_2(tmp_path: Path, firmware: Path) -> None:
    data = bytearray(firmware.read_bytes())
    data[-1] ^= 0xFF
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    result = runner.invoke(app, ["gateway", "--firmware", str(bad), *PORTS])
    assert result.exit_code == 2
    assert "checksum" in result.output


def test_missing_image_and_bad_config_exit_2(tmp_path: Path, firmware: Path) -> None:
    result = runner.invoke(app, ["gateway", "--firmware", str(tmp_path / "none.bin")])
    assert result.exit_code == 2 and "firmware image" in result.output
    assert "not found" in result.output and "none.bin" in result.output
    config = tmp_path / "gw.toml"
    config.write_text('[syslog]\ntarget = "203.0.113.5:514"\n')
    result = runner.invoke(app, ["gateway", "--firmware", str(firmware), "--config", str(config)])
    assert result.exit_code == 2 and "loopback" in result.output


@pytest.mark.network
def test_sigterm_stops_cleanly(firmware: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "kleptolab", "gateway", "--firmware", str(firmware), *PORTS, "--no-events"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "SIGTERM stops" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(seen) + rest
    assert "gateway stopped" in rest
