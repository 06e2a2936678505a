"""``kleptolab supplychain init`` and ``kleptolab audit`` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, require_tool

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "COLUMNS": "200"}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kleptolab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def test_init_and_audit_exit_codes_and_outputs(tmp_path: Path) -> None:
    require_tool("git")
    done = _run("supplychain", "init", "src", "--scenario", "insider", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "src-images" / "6.3.0r12.bin").is_file()
    (tmp_path / "src-images" / "rogue.bin").write_bytes(b"not from any tag")
    audit = _run(
        "audit", "src", "--images", "src-images", "--out", "report", "-f", "json", cwd=tmp_path
    )
    assert audit.returncode == 1, audit.stderr
    doc = json.loads(audit.stdout)
    assert not doc["clean"] and doc["verification"]["provenance"]
    sarif = json.loads((tmp_path / "report" / "audit.sarif").read_text())
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert "policy/missing-approvals" in rules and "attribution/replaced-q" in rules
    text = (tmp_path / "report" / "audit.txt").read_text()
    assert "TIMELINE:" in text and "rogue.bin has no release tag" in text
    assert json.loads((tmp_path / "report" / "verification.json").read_text())["approvals"]
    wrong = _run("audit", "src", "--images", "src-images", "--root-key", "0" * 16, cwd=tmp_path)
    assert wrong.returncode == 2 and "pinned" in wrong.stderr, wrong.stderr
    root = re.search(r"--root-key ([0-9a-f]{16})", " ".join(done.stdout.split()))
    assert root is not None, done.stdout
    pinned = _run(
        "audit", "src", "--images", "src-images", "--root-key", root.group(1), cwd=tmp_path
    )
    assert pinned.returncode == 1 and "(pinned)" in pinned.stdout, pinned.stderr
    built = _run("supplychain", "build", "src", "6.3.0r12", "-o", "r12.bin", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "r12.bin").read_bytes() == (
        tmp_path / "src-images" / "6.3.0r12.bin"
    ).read_bytes()


def test_clean_audit_exits_zero(tmp_path: Path) -> None:
    require_tool("git")
    assert _run("supplychain", "init", "c", "--scenario", "clean", cwd=tmp_path).returncode == 0
    done = _run("audit", "c", "--images", "c-images", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CLEAN" in done.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    require_tool("git")
    (tmp_path / "plain").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "plain")], check=True)
    cases = [
        ("audit", "missing", "--images", "."),
        ("audit", "plain", "--images", "."),
        ("audit", ".", "--images", "nowhere"),
        ("audit", "plain", "--images", ".", "--format", "xml"),
        ("supplychain", "init", "x", "--scenario", "nope"),
        ("supplychain", "init", "plain"),
    ]
    for args in cases:
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and ": error: " in lines[0], (args, done.stderr)
