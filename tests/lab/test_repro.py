"""``kleptolab demo --seed N`` twice gives the same files; without ``--seed`` each run draws its own seed.

What is deliberately NOT byte-identical (the README says so too):

- ``timings.json``: wall-clock figures (start time, durations, per-line offsets);
- ``<version>/tap-<version>.pcap``: same datagrams, endpoints, timestamps, SPIs, nonces and KE
  values, but the NAT-D hashes cover the real loopback ports (RFC 3947) and the clients' ESP IVs
  and inner source ports are random, so those bytes and the ciphertexts behind them differ;
- ``<version>/decrypt/plaintext.pcap``: the inner packets, whose client source ports are random;
- ``<version>/syslog-<version>.log``, ``event-<version>.log``: the gateway logs its real loopback
  ports (and the hash chain carries the difference on).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kleptolab.lab.demo import VOLATILE_FILES, DemoOptions, run_demo

NOT_REPRODUCIBLE = {
    *VOLATILE_FILES,
    "6.3.0r20/tap-6.3.0r20.pcap",
    "6.3.0r21/tap-6.3.0r21.pcap",
    "6.3.0r20/decrypt/plaintext.pcap",
    "6.3.0r21/decrypt/plaintext.pcap",
    "6.3.0r20/syslog-6.3.0r20.log",
    "6.3.0r21/syslog-6.3.0r21.log",
    "6.3.0r20/event-6.3.0r20.log",
    "6.3.0r21/event-6.3.0r21.log",
}


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.network
def test_two_runs_with_the_same_seed_write_the_same_files(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        outcome = run_demo(DemoOptions(out=tmp_path / name, seed=5, workers=1, survey_probes=20))
        assert outcome.ok, outcome.problems
        runs.append(_files(tmp_path / name))
    a, b = runs
    assert a.keys() == b.keys()
    assert a.keys() >= NOT_REPRODUCIBLE
    differ = sorted(name for name in a if a[name] != b[name])
    assert set(differ) <= NOT_REPRODUCIBLE, (
        f"differ but should not: {sorted(set(differ) - NOT_REPRODUCIBLE)}"
    )
    same = sorted(a.keys() - NOT_REPRODUCIBLE)
    for name in (
        "run.json",
        "report.html",
        "6.3.0r20/decrypt/report.json",
        "6.3.0r20/decrypt/esp_sa",
        "6.3.0r20/survey-6.3.0r20.pcap",
        "attacker/wordlist.txt",
        "firmware/ssg5-6.3.0r20.img",
    ):
        assert name in same
    run = json.loads(a["run.json"])
    assert run["seed"] == 5 and "timings.json" in run["files"]
    text = a["run.json"].decode() + a["report.html"].decode()
    assert str(tmp_path) not in text and "started_at" not in text
    assert "started_at" in json.loads(a["timings.json"])


@pytest.mark.network
def test_without_seed_each_run_draws_a_fresh_seed_and_records_it(tmp_path: Path) -> None:
    seeds = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kleptolab",
                "demo",
                "--scenario",
                "6.1",
                "--survey-probes",
                "0",
                "--workers",
                "1",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={
                "COLUMNS": "80",
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
            },
        )
        assert result.returncode == 0, result.stdout + result.stderr
        seed = json.loads((out / "run.json").read_text())["seed"]
        assert f"kleptolab demo --seed {seed}` repeats this run" in result.stdout
        seeds.append(seed)
        # 80 columns: the summary table fits, and the "why" is a list below it, not a 20-line cell
        lines = result.stdout.splitlines()
        table = [line for line in lines if line[:1] in "┏┃┡│└"]
        assert table and max(len(line) for line in table) <= 80 and len(table) <= 6, "\n".join(
            table
        )
        why = [line for line in lines if line.startswith("6.1.0r7: VPN:")]
        assert why, result.stdout[-2000:]
        # piped: no progress bar, no cursor movement
        assert (
            "\r" not in result.stdout + result.stderr
            and "\x1b[" not in result.stdout + result.stderr
        )
    assert seeds[0] != seeds[1]


def test_progress_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from kleptolab import ui
    from kleptolab.lab.narration import bars

    with bars(None) as tick:
        assert tick is None  # the library (tests, no console): no bars at all
    piped = io.StringIO()
    monkeypatch.setattr(ui, "err_console", Console(file=piped, force_terminal=False))
    with bars(Console(file=io.StringIO())) as tick:
        assert tick is not None
        tick("nonce survey", 5, 10)
    assert piped.getvalue() == ""
    terminal = io.StringIO()
    monkeypatch.setattr(ui, "err_console", Console(file=terminal, force_terminal=True, width=80))
    with bars(Console(file=io.StringIO())) as tick:
        assert tick is not None
        tick("nonce survey", 5, 10)
        tick("sweeping 2^16 prefixes", 1, 4)
    assert "nonce survey" in terminal.getvalue() and "sweeping 2^16 prefixes" in terminal.getvalue()
