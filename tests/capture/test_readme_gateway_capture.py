"""The README's own gateway and client steps (IKE 10500, NAT-T 14500), captured by tcpdump, decrypt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kleptolab.capture import PcapWriter
from tests.conftest import REPO_ROOT, require_root, require_tool

README_PSK = "not-a-real-secret"  # the gateway's and the client's default PSK


def _kleptolab(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "kleptolab", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, (
            f"{args}: rc={result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def test_decrypt_hints_at_ike_port_when_a_capture_has_udp_but_no_ike(tmp_path: Path) -> None:
    with PcapWriter(tmp_path / "dns.pcap") as writer:
        writer.write_udp(1.0, "192.0.2.1", 40000, "192.0.2.2", 53, b"\x12\x34\x01\x00" + bytes(20))
    _kleptolab("keygen", "-o", "trapdoor.json", cwd=tmp_path)
    key = tmp_path / "trapdoor.json"
    r = _kleptolab("decrypt", "dns.pcap", "--trapdoor", str(key), "-o", "out", cwd=tmp_path)
    said = r.stdout + r.stderr  # the hint is a warning: stderr
    assert "no IKE found in 1 UDP datagram(s) (ports 53, 40000)" in said and "--ike-port" in said
    r = _kleptolab("fingerprint", "dns.pcap", cwd=tmp_path)
    assert "no IKE found in 1 UDP" in r.stderr
    bad = _kleptolab(
        "decrypt",
        "dns.pcap",
        "--trapdoor",
        str(key),
        "-o",
        "out",
        "--ike-port",
        "0",
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 2 and "--ike-port" in bad.stderr


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.network
def test_readme_gateway_steps_captured_with_tcpdump_decrypt(tmp_path: Path) -> None:
    require_root()
    tcpdump = require_tool("tcpdump")
    _kleptolab("keygen", "-o", "trapdoor.json", "--public-out", "q.json", cwd=tmp_path)
    _kleptolab(
        "firmware",
        "build",
        "--profile",
        "6.3.0r20",
        "--trapdoor",
        "q.json",
        "-o",
        "fw.bin",
        cwd=tmp_path,
    )
    sniffer = subprocess.Popen(
        [
            tcpdump,
            "-i",
            "lo",
            "--immediate-mode",
            "-U",
            "-n",
            "-w",
            "readme.pcap",
            "udp port 10500 or udp port 14500",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "kleptolab", "gateway", "--firmware", "fw.bin", "--run-for", "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # as the README does
        for version in ("1", "2"):
            _kleptolab(
                "client",
                "127.0.0.1",
                "--ike-port",
                "10500",
                "--natt-port",
                "14500",
                "-V",
                version,
                "-n",
                "2",
                "--pings",
                "1",
                cwd=tmp_path,
            )
        time.sleep(0.5)
    finally:
        gateway.send_signal(signal.SIGINT)
        try:
            gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.kill()
        sniffer.send_signal(signal.SIGINT)
        sniffer.wait(timeout=20)
    r = _kleptolab(
        "decrypt",
        "readme.pcap",
        "--trapdoor",
        "trapdoor.json",
        "-o",
        "dec",
        "--psk",
        README_PSK,
        cwd=tmp_path,
    )
    report = json.loads((tmp_path / "dec" / "report.json").read_text())
    assert [s["version"] for s in report["sessions"]] == [1, 2], r.stdout
    assert all("failure" not in s for s in report["sessions"]), r.stdout
    esp = report["esp"]
    total = sum(e["packets"] for e in esp)
    assert total >= 8 and sum(e["decrypted"] for e in esp) == total, r.stdout
    assert all(e["icv_failed"] == 0 for e in esp)
    fp = _kleptolab("fingerprint", "readme.pcap", "-f", "json", cwd=tmp_path, check=False)
    responders = json.loads(fp.stdout)["responders"]
    assert [x["responder"] for x in responders] == ["127.0.0.1"] and responders[0]["nonces"] >= 2, (
        fp.stdout
    )
