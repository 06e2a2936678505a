"""``kleptolab scan``: formats, engines, YARA export, exit codes and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app

runner = CliRunner()


def test_scan_lab_firmware_tree(image_files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1  # the backdoored builds carry a replaced Q
    doc = json.loads(result.stdout)
    assert doc["files"] == len(image_files)
    by_file: dict[str, set[str]] = {}
    for f in doc["findings"]:
        by_file.setdefault(Path(f["path"]).name, set()).add(f["verdict"])
    assert "replaced-q" in by_file["ssg5-6.2.0r15.bin"]
    assert "known-bad" in by_file["ssg5-6.3.0r20.bin"]  # the lab master password
    assert "known-good" in by_file["ssg5-6.3.0r21.bin"]
    assert "replaced-q" not in by_file["ssg5-6.3.0r21.bin"]
    assert "ssg5-6.1.0r7.bin" not in by_file


def test_table_sarif_and_yara_export(image_files: dict[str, Path], tmp_path: Path) -> None:
    clean = image_files["6.3.0r21"]
    table = runner.invoke(app, ["scan", str(clean)])
    assert table.exit_code == 0 and "findings in 1 files" in table.output
    sarif_path = tmp_path / "out.sarif"
    rules = tmp_path / "dualec.yar"
    result = runner.invoke(app, ["scan", str(image_files["6.2.0r15"]), "-f", "sarif", "-o",
                                 str(sarif_path), "--export-yara", str(rules)])
    assert result.exit_code == 1
    sarif = json.loads(sarif_path.read_text())
    assert any(r["ruleId"] == "replaced-q" for r in sarif["runs"][0]["results"])
    assert "rule kleptolab_juniper_p256_qx" in rules.read_text()


def test_yara_engine_agrees(image_files: dict[str, Path]) -> None:
    pytest.importorskip("yara", reason="yara-python is not installed")
    path = str(image_files["6.3.0r20"])
    py = json.loads(runner.invoke(app, ["scan", path, "-f", "json"]).stdout)
    ya = json.loads(runner.invoke(app, ["scan", path, "-f", "json", "--engine", "yara"]).stdout)
    def key(doc: dict[str, Any]) -> list[tuple[int, str, str]]:
        return sorted((f["offset"], f["constant"], f["verdict"]) for f in doc["findings"])

    assert key(py) == key(ya)


def test_default_thorough_mode_guarantees_low_entropy_primes(tmp_path: Path) -> None:
    from kleptolab.drbg.curves import P256

    data = bytearray(4096)
    data[1012 : 1012 + 32] = P256.p.to_bytes(32, "big")  # only fill words are sampled here
    path = tmp_path / "p.bin"
    path.write_bytes(bytes(data))

    def found(*extra: str) -> set[str]:
        doc = json.loads(runner.invoke(app, ["scan", str(path), "-f", "json", *extra]).stdout)
        return {f["constant"] for f in doc["findings"] if not f["partial"]}

    assert "p256-p" in found()
    assert "p256-p" in found("--thorough")
    assert "p256-p" not in found("--fast")  # --fast samples the low-entropy layouts


def test_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["scan", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["scan", str(tmp_path), "-f", "xml"]).exit_code == 2
    assert runner.invoke(app, ["scan", str(tmp_path), "--engine", "grep"]).exit_code == 2
    assert runner.invoke(app, ["scan", str(tmp_path), "--max-member-mib", "0"]).exit_code == 2
    empty = runner.invoke(app, ["scan", str(tmp_path)])
    assert empty.exit_code == 0 and "0 findings" in empty.output
