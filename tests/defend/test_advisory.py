"""JSA10713 version logic against a table of releases, inventory mode and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.advisory import assess, assess_inventory

runner = CliRunner()
A, B = "CVE-2015-7755", "CVE-2015-7756"

TABLE = [
    ("5.4.0r28", "not-affected", ()), ("6.0.0r8", "not-affected", ()),
    ("6.1.0r7", "not-affected", ()), ("6.2.0r1", "not-affected", ()),
    ("6.2.0r13", "not-affected", ()), ("6.2.0r14", "not-affected", ()),
    ("6.2.0r15", "affected", (B,)), ("6.2.0r16", "affected", (B,)),
    ("6.2.0r17", "affected", (B,)), ("6.2.0r18", "affected", (B,)),
    ("6.2.0r19", "fixed", ()), ("6.2.0r20", "fixed", ()),
    ("6.2.0r15b", "fixed", ()), ("6.2.0r18b", "fixed", ()),
    ("6.3.0r1", "not-affected", ()), ("6.3.0r11", "not-affected", ()),
    ("6.3.0r12", "affected", (B,)), ("6.3.0r13", "affected", (B,)),
    ("6.3.0r14", "affected", (B,)), ("6.3.0r15", "affected", (B,)),
    ("6.3.0r16", "affected", (B,)), ("6.3.0r17", "affected", (A, B)),
    ("6.3.0r18", "affected", (A, B)), ("6.3.0r19", "affected", (A, B)),
    ("6.3.0r20", "affected", (A, B)), ("6.3.0r21", "fixed", ()),
    ("6.3.0r22", "fixed", ()), ("6.3.0r12b", "fixed", ()),
    ("6.3.0r13b", "fixed", ()), ("6.3.0r14b", "fixed", ()),
    ("6.3.0r15b", "fixed", ()), ("6.3.0r16b", "fixed", ()),
    ("6.3.0r17b", "fixed", ()), ("6.3.0r18b", "fixed", ()),
    ("6.3.0r19b", "fixed", ()), ("6.3.0r11b", "not-affected", ()),
    ("6.3.0r12.0", "affected", (B,)), ("6.2.0r15.0", "affected", (B,)),
    (" 6.3.0R20 ", "affected", (A, B)), ("6.3.0r10", "not-affected", ()),
    ("6.2.0r9", "not-affected", ()), ("6.3.0r19B", "fixed", ()),
]


@pytest.mark.parametrize(("version", "status", "cves"), TABLE)
def test_advisory_table(version: str, status: str, cves: tuple[str, ...]) -> None:
    result = assess(version)
    assert (result.status, result.cves) == (status, cves)


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 40


def test_upgrade_paths() -> None:
    assert assess("6.3.0r19").upgrade == "upgrade to 6.3.0r19b (respin) or 6.3.0r21 or later"
    assert assess("6.3.0r20").upgrade == "upgrade to 6.3.0r21 or later"
    assert assess("6.2.0r16").upgrade == "upgrade to 6.2.0r19 or later"


@pytest.mark.parametrize("bad", ["", "6.3", "6.3.0", "r20", "6.3.0r", "6.3.0-r20", "latest"])
def test_unparseable_versions(bad: str) -> None:
    with pytest.raises(ValueError, match="not a ScreenOS version"):
        assess(bad)


def test_inventory_rows_and_errors() -> None:
    rows = assess_inventory("host,version,site\nfw1,6.3.0r20,HQ\nfw2,6.3.0r21,DC\nfw3,junk,x\n")
    assert [r.host for r in rows] == ["fw1", "fw2", "fw3"]
    assert rows[0].assessment is not None and rows[0].assessment.status == "affected"
    assert rows[2].assessment is None and "not a ScreenOS version" in (rows[2].error or "")
    with pytest.raises(ValueError, match="no 'version' column"):
        assess_inventory("host,release\nfw1,6.3.0r20\n")


def test_cli(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["advisory", "6.3.0r21", "6.2.0r14"])
    assert ok.exit_code == 0 and "fixed" in ok.output
    bad = runner.invoke(app, ["advisory", "6.3.0r20", "--format", "json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)[0]["cves"] == [A, B]
    err = runner.invoke(app, ["advisory", "6.3.0x"])
    assert err.exit_code == 2 and "not a ScreenOS version" in err.output
    assert runner.invoke(app, ["advisory"]).exit_code == 2
    inv = tmp_path / "inv.csv"
    inv.write_text("name,version\nedge,6.2.0r19\nbroken,???\n")
    mixed = runner.invoke(app, ["advisory", "--inventory", str(inv), "--format", "json"])
    assert mixed.exit_code == 2
    doc = json.loads(mixed.stdout)
    assert doc[0]["status"] == "fixed" and doc[1]["status"] == "error"
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("a,b\n1,2\n")
    assert runner.invoke(app, ["advisory", "--inventory", str(nocol)]).exit_code == 2
