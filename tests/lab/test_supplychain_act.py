"""``kleptolab demo --scenario supply-chain``: each way in is caught by its control."""

from __future__ import annotations

import json
from pathlib import Path

from kleptolab.lab.supplychain_act import run_supply_chain_demo
from tests.conftest import require_tool


def test_supply_chain_act_tells_how_it_got_in(tmp_path: Path) -> None:
    require_tool("git")
    problems = run_supply_chain_demo(tmp_path, seed=7)
    assert problems == []
    page = (tmp_path / "report.html").read_text()
    assert 'id="supply-chain"' in page and "How the code got in" in page
    for control in ("two-person review", "reproducible rebuild", "signed approvals"):
        assert control in page
    stories = {s["scenario"]: s for s in json.loads((tmp_path / "run.json").read_text())["stories"]}
    assert stories["clean"]["findings"] == 0 and stories["clean"]["control"] is None
    assert "2012-07-17" in stories["insider"]["when"]
    assert (tmp_path / "supply-chain" / "rewrite" / "audit" / "audit.sarif").is_file()
