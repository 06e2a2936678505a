"""``kleptolab diff`` on the lab's adjacent releases."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.diff import diff_images
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.trapdoor import Trapdoor

runner = CliRunner()


def test_r14_to_r15_singles_out_the_replaced_qx(images: dict[str, bytes], trapdoor: Trapdoor) -> None:
    report = diff_images(images["6.2.0r14"], images["6.2.0r15"])
    replaced = report.tagged("new:replaced-q")
    assert len(replaced) == 1
    change = replaced[0]
    assert change.old is not None and change.new is not None
    assert change.old.text == JUNIPER_QX.firmware_text
    assert change.new.text == f"{trapdoor.q[0]:064X}"
    assert "old:known-good juniper-p256-qx" in change.tags
    assert "ERROR Out Of Memory: other DH pub val" in change.before
    assert "interrupt disabled and no entropy " in change.after
    assert len(report.headlines) == 1 and "replaced" in report.headlines[0]


def test_r20_to_r21_restores_q_and_removes_password(images: dict[str, bytes]) -> None:
    report = diff_images(images["6.3.0r20"], images["6.3.0r21"])
    restored = report.tagged("new:known-good juniper-p256-qx")
    assert len(restored) == 1 and "old:replaced-q P-256 Qx" in restored[0].tags
    removed = [c for c in report.changes if c.kind == "removed" and c.tags]
    assert len(removed) == 1 and "old:known-bad lab-master-password" in removed[0].tags
    # (binary header checksums can form short printable runs: those carry no tags)
    assert not report.tagged("new:replaced-q")


def test_identical_images_have_no_changes(images: dict[str, bytes]) -> None:
    assert diff_images(images["6.3.0r21"], images["6.3.0r21"]).changes == []


def test_cli_json_and_exit_codes(image_files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["diff", str(image_files["6.2.0r14"]),
                                 str(image_files["6.2.0r15"]), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert any("new:replaced-q P-256 Qx" in c["tags"] for c in doc["changes"])
    fixed = runner.invoke(app, ["diff", str(image_files["6.3.0r20"]), str(image_files["6.3.0r21"])])
    assert fixed.exit_code == 0
    assert "known Q restored" in fixed.output and "known-bad string removed" in fixed.output
    assert runner.invoke(app, ["diff", "nope.bin", str(image_files["6.3.0r21"])]).exit_code == 2
    assert runner.invoke(app, ["diff", str(image_files["6.3.0r21"]), str(image_files["6.3.0r21"]),
                               "--format", "xml"]).exit_code == 2
