"""``kleptolab demo --scenario supply-chain``: how the code got in, and what would have caught it.

For each way in (an insider change merged with one approval, a compromised
build server, history rewritten after the fact) and for the clean
counterfactual, the act builds the lab source repository and its shipped
images, runs the defender's audit, narrates which control catches it and
when, and writes ``report.html`` (section ``supply-chain``), ``run.json`` and
the audit outputs.  The story follows CACM 2018 §6 and CCS 2016 §9; the
controls are two-person review, signed approvals and reproducible rebuilds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console

from kleptolab.supplychain.attribution import CONTROL_REBUILD, CONTROL_REVIEW, CONTROL_SIGNATURES
from kleptolab.supplychain.audit import AuditResult, run_audit
from kleptolab.supplychain.make import create_lab
from kleptolab.supplychain.report import audit_json, audit_sarif, audit_text, dumps

__all__ = ["SCENARIO", "Story", "render_section", "run_supply_chain_demo"]

SCENARIO = "supply-chain"

_HOW = {
    "insider": "an insider committed the Qx/KAT change (and later the password check) and merged it "
    "with one approval where the policy requires two",
    "build-server": "the source stayed clean and reviewed; the build server shipped images with the "
    "lab Q and the password compiled in, and signed their provenance",
    "rewrite": "the insider's commits were re-authored as the crypto lead in 2015 and given "
    "approvals copied from a reviewed 2008 commit; tags were moved",
    "clean": "nothing got in: every protected change has two approvals (counterfactual history)",
}
_EXPECTED = {
    "insider": CONTROL_REVIEW,
    "build-server": CONTROL_REBUILD,
    "rewrite": CONTROL_SIGNATURES,
    "clean": None,
}


@dataclass
class Story:
    """One scenario's outcome, ready to narrate and render."""

    scenario: str
    how: str
    control: str | None
    when: str
    attributed: list[str] = field(default_factory=list)
    findings: int = 0
    seconds: float = 0.0


def _first_release(result: AuditResult, tags: list[str]) -> str:
    dates = {r.tag: r.commit for r in result.releases}
    by_id = {r.commit.id: r.commit.committer_date[:10] for r in result.reviews}
    known = sorted((by_id.get(dates.get(t, ""), "?"), t) for t in tags)
    return f"{known[0][1]} on {known[0][0]}" if known else "-"


def _story(scenario: str, result: AuditResult) -> Story:
    controls = {a.missing_control for a in result.attributions if a.missing_control}
    control = (
        _EXPECTED[scenario]
        if _EXPECTED[scenario] in controls
        else (sorted(controls)[0] if controls else None)
    )
    first = [a for a in result.attributions if a.indicator.kind == "replaced-q"]
    when = "-"
    if first:
        a = first[0]
        shipped = _first_release(result, sorted({t for x in first for t in x.tags}))
        if control == CONTROL_REVIEW and a.commit is not None:
            when = (
                f"at merge on {a.commit.author_date[:10]} (commit {a.commit.id[:12]}), "
                f"before {shipped} shipped"
            )
        elif control == CONTROL_REBUILD:
            when = f"at release: an independent rebuild of {shipped} differs from the shipped image"
        elif control == CONTROL_SIGNATURES:
            moved = next((f for f in result.findings if f.rule == "signature/moved-tags"), None)
            when = (
                "at the first audit after the rewrite: copied approvals and moved tags no longer "
                "verify"
                + (f" ({moved.message.split(':')[0]})" if moved else "")
                + "; review at merge would have stopped the original change in 2012"
            )
    return Story(
        scenario,
        _HOW[scenario],
        control,
        when,
        [a.sentence() for a in result.attributions],
        len(result.findings),
        result.seconds,
    )


def render_section(stories: list[Story]) -> str:
    """The report section ``supply-chain``: how the change got in, which control catches it, when."""
    rows = []
    for s in stories:
        caught = escape(s.control) if s.control else ('<span class="ok">clean: audit passes</span>')
        details = "".join(f"<li>{escape(t)}</li>" for t in s.attributed)
        rows.append(
            f"<tr><td><code>{escape(s.scenario)}</code></td><td>{escape(s.how)}</td>"
            f"<td>{caught}</td><td>{escape(s.when)}</td>"
            f"<td><ul>{details}</ul></td></tr>"
        )
    return (
        '<section id="supply-chain"><h2>How the code got in</h2>'
        '<p class="small">Juniper found the change in an internal code review (JSA10713); '
        "CACM 2018 §6 asks who made it and how. Each row builds the lab source repository, "
        "its signed reviews and shipped images, and runs <code>kleptolab audit</code>.</p>"
        "<table><tr><th>way in</th><th>how</th><th>caught by</th><th>when</th>"
        "<th>attribution</th></tr>" + "".join(rows) + "</table></section>"
    )


def _page(section: str) -> str:
    from kleptolab.lab.report import _CSS

    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>kleptolab: how the code got in</title>"
        f"<style>{_CSS}</style></head><body><header><h1>How the code got in: "
        "a supply-chain forensics lab</h1></header><main>" + section + "</main></body></html>\n"
    )


def run_supply_chain_demo(out: Path, seed: int, console: Console | None = None) -> list[str]:
    """Run the act into ``out``; return the problems (a control that did not catch its way in)."""
    from kleptolab.lab.demo import seeded_trapdoor

    trapdoor = seeded_trapdoor(seed)
    base = out / SCENARIO
    if base.exists() and any(base.iterdir()):
        raise ValueError(f"{base} exists and is not empty; pick another --out")
    stories, problems = [], []
    for scenario in ("insider", "build-server", "rewrite", "clean"):
        if console is not None:
            console.rule(f"[bold]supply chain: {scenario}")
            console.print(f"[bold]lab[/]      {_HOW[scenario]}")
        lab = create_lab(base / scenario / "src", base / scenario / "images", trapdoor.q, scenario)
        result = run_audit(lab.path, lab.images)
        report = base / scenario / "audit"
        report.mkdir()
        (report / "audit.txt").write_text(audit_text(result), encoding="utf-8")
        (report / "audit.json").write_text(dumps(audit_json(result)), encoding="utf-8")
        (report / "audit.sarif").write_text(
            dumps(audit_sarif(result, "kleptolab demo")), encoding="utf-8"
        )
        story = _story(scenario, result)
        stories.append(story)
        if console is not None:
            for line in story.attributed:
                console.print(f"[cyan]defender[/] {line}", highlight=False, soft_wrap=True)
            console.print(
                f"[cyan]defender[/] caught by: {story.control or 'nothing to catch'}; "
                f"when: {story.when}",
                highlight=False,
                soft_wrap=True,
            )
        expected = _EXPECTED[scenario]
        if expected is None and not result.clean:
            problems.append(f"{scenario}: the clean history did not pass the audit")
        elif expected is not None and story.control != expected:
            problems.append(f"{scenario}: expected {expected} to catch it, got {story.control}")
    (out / "report.html").write_text(_page(render_section(stories)), encoding="utf-8")
    data: dict[str, Any] = {
        "scenario": SCENARIO,
        "seed": seed,
        "problems": problems,
        "stories": [vars(s) for s in stories],
    }
    (out / "run.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if console is not None:
        console.print(f"report: {out / 'report.html'}   (repositories, images, audits in {base}/)")
    return problems
