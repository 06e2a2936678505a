"""The README's promises: its two set-up commands, and every command it shows, run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main

from kleptolab.cli import app
from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
DEMO_COMMAND = "python3 -m pip install . && kleptolab demo"
TEST_COMMAND = "python3 -m pip install -q -e '.[test]' && python3 -m pytest"
DEFENDERS = ("kleptolab scan", "kleptolab diff", "kleptolab logs", "kleptolab advisory", "kleptolab fingerprint",
             "kleptolab audit")
"""Defender commands exit 1 when they find something (documented in the README)."""


def _sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_setup_is_two_commands_and_ci_runs_the_readme_test_command() -> None:
    blocks = _sh_blocks()
    assert blocks[0].strip() == DEMO_COMMAND
    assert blocks[1].strip() == TEST_COMMAND
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND in ci.splitlines(), ".ci/run must run the README's test command verbatim"


def test_every_cli_command_is_documented() -> None:
    text = README.read_text()
    group = typer.main.get_group(app)
    names = set(group.commands) - {"version"}
    missing = sorted(name for name in names if f"kleptolab {name}" not in text)
    assert not missing, f"commands without a README example: {missing}"


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("kleptolab") is None:
        pytest.skip("the kleptolab console script is not installed (pip install -e .)")
    body = "\n".join(_sh_blocks()[2:])
    stub = "" if shutil.which("tshark") else 'tshark() { echo "tshark missing: skipped"; }\n'
    script = (
        "set -u -o pipefail\n"
        'trap \'echo "FAILED rc=$? :: $BASH_COMMAND" >&2\' ERR\n'
        + stub
        + body
    )
    (tmp_path / "readme.sh").write_text(script)
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        ["bash", "readme.sh"], cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env
    )
    failures = re.findall(r"^FAILED rc=(\d+) :: (.*)$", result.stderr, flags=re.MULTILINE)
    unexpected = [
        (rc, cmd) for rc, cmd in failures if not (rc == "1" and cmd.startswith(DEFENDERS))
    ]
    assert not unexpected, f"{unexpected}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    out = result.stdout
    assert out.count("tunnel up:") == 4, out[-3000:]
    assert "candidate state" in out
    assert (tmp_path / "decrypted" / "plaintext.pcap").is_file()
    assert "ESP: 12/12 packets decrypted" in out, out[-3000:]  # the IKEv1 PSK came from the demo's wordlist
    assert (tmp_path / "decrypted" / "esp_sa").read_text().strip()
    assert (tmp_path / "scan.sarif").is_file() and (tmp_path / "dualec.yar").is_file()
    assert (tmp_path / "lab.rules").read_text().count("sid:") >= 4
    assert "affected ScreenOS likely" in out
    if shutil.which("tshark"):
        icv = [line.split("\t")[-1] for line in out.splitlines() if re.match(r"^\d+\t[0-9a-fx]+\t[01]", line)]
        assert len(icv) == 12 and set(icv) == {"1"}, out[-3000:]
