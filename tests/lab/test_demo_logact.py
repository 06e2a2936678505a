"""The demo's log act: the attacker erases its 00515/00528 lines on 6.3.0r20, the seals convict."""

from __future__ import annotations

import subprocess
import sys

from kleptolab.lab.demo import DemoOutcome


def test_default_demo_log_act(default_demo: tuple[DemoOutcome, int, int]) -> None:
    outcome, _, _ = default_demo
    out = outcome.out
    assert outcome.run.backdoored.log_erased.endswith("event entries cleared")
    assert outcome.run.patched is not None and outcome.run.patched.log_erased == ""
    device = (out / "6.3.0r20/event-6.3.0r20.log").read_text()
    assert " 00515 Admin user system" not in device and " fss notif 00000 seal " in device
    assert "Admin user system has logged on" in (out / "6.3.0r20/syslog-6.3.0r20.log").read_text()
    logs = [(f.target, f.severity, f.finding) for f in outcome.run.findings if f.tool == "logs"]
    assert any(
        t == "event-6.3.0r20.log" and s == "high" and "removed after sealing (epoch" in f
        for t, s, f in logs
    )
    assert any(t == "event-6.3.0r20.log" and "copy-mismatch" in f for t, _, f in logs)
    assert [s for t, s, _ in logs if t == "event-6.3.0r21.log"] == ["clean"]
    key = (out / "6.3.0r20/verify-key-6.3.0r20.txt").read_text().strip()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleptolab",
            "logs",
            str(out / "6.3.0r20/event-6.3.0r20.log"),
            "--verify-key",
            key,
            "--collector",
            str(out / "6.3.0r20/syslog-6.3.0r20.log"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1 and "removed after sealing" in cli.stdout
    assert "copy-mismatch" in cli.stdout
    key21 = (out / "6.3.0r21/verify-key-6.3.0r21.txt").read_text().strip()
    clean = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleptolab",
            "logs",
            str(out / "6.3.0r21/event-6.3.0r21.log"),
            "--verify-key",
            key21,
            "--collector",
            str(out / "6.3.0r21/syslog-6.3.0r21.log"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stdout
    assert "The erased logon lines" in (out / "report.html").read_text()
