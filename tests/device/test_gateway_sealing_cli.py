"""``kleptolab gateway`` sets up forward-secure sealing: the key is shown once, the syslog copy verifies."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kleptolab.device.firmware import build_image
from kleptolab.device.sealing import VerifyKey
from kleptolab.drbg.curves import curve_by_name
from kleptolab.drbg.trapdoor import generate_trapdoor

pytestmark = pytest.mark.network


def _kleptolab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kleptolab", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_gateway_seals_its_log_and_shows_the_key_once(tmp_path: Path) -> None:
    trapdoor = generate_trapdoor(curve_by_name("P-256"))
    (tmp_path / "fw.img").write_bytes(build_image("6.3.0r20", trapdoor_q=trapdoor.q))
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(0.2)
    lines: list[str] = []
    done = threading.Event()

    def collect() -> None:
        while not done.is_set():
            try:
                lines.append(collector.recv(65536).decode())
            except TimeoutError:
                continue

    reader = threading.Thread(target=collect)
    reader.start()
    try:
        run = _kleptolab(
            "gateway", "--firmware", "fw.img", "--run-for", "3", "--no-events",
            "--ike-port", "0", "--natt-port", "0", "--ssh-port", "0", "--telnet-port", "0",
            "--syslog", f"127.0.0.1:{collector.getsockname()[1]}",
            "--seal-interval", "1", "--verify-key-out", "vk.txt", cwd=tmp_path,
        )
    finally:
        done.set()
        reader.join()
        collector.close()
    assert run.returncode == 0, run.stderr
    key_file = tmp_path / "vk.txt"
    text = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run.stdout.count(text) == 1  # shown once, and only by the command
    key = VerifyKey.parse(text)
    assert (key.interval, key.device_id) == (1, "0185122017000042")
    assert any("mac=" in line for line in lines) and any(" seal epoch=" in line for line in lines)
    log = tmp_path / "syslog.log"
    log.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    clean = _kleptolab("logs", "syslog.log", "--verify-key", text, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    kept = [line for line in log.read_text().splitlines() if "00009" not in line]  # drop the boot lines
    (tmp_path / "trimmed.log").write_text("\n".join(kept) + "\n")
    trimmed = _kleptolab("logs", "trimmed.log", "--verify-key", text, cwd=tmp_path)
    assert trimmed.returncode == 1 and "high" in trimmed.stdout, trimmed.stdout
