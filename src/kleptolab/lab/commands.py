"""CLI commands of `kleptolab.lab`: ``kleptolab demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kleptolab.lab.scenarios import SCENARIOS


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="where the report, pcaps, keys and logs go")] = Path("out"),
    scenario: Annotated[str, typer.Option(help=f"one of: {', '.join(SCENARIOS)}, supply-chain")] = "default",
    seed: Annotated[int | None, typer.Option(
        help="seed for the trapdoor, the gateways' Dual EC state and the clients (default: a fresh random "
             "seed, printed and stored in run.json)")] = None,
    workers: Annotated[int | None, typer.Option(help="processes for state recovery (default: all cores)")] = None,
    user: Annotated[str, typer.Option(help="username the attacker types with the master password")] = "anyone",
    survey_probes: Annotated[int, typer.Option(
        help="IKE_SA_INIT probes of the defender's nonce survey of its own gateway (0: no survey)")] = 640,
) -> None:
    """Run the ScreenOS Dual EC incident on loopback: victim, attacker, defender, then the fix."""
    from rich.markup import escape
    from rich.table import Table

    from kleptolab.lab.demo import DemoOptions, run_demo
    from kleptolab.ui import check_output_dir, console, fail, safe

    if scenario not in SCENARIOS and scenario != "supply-chain":
        fail(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if workers is not None and workers < 1:
        fail("--workers must be at least 1")
    if not user or not user.isprintable():
        fail("--user must be a non-empty printable name")
    if not 0 <= survey_probes <= 5000:
        fail("--survey-probes must be between 0 and 5000")
    if seed is not None and not 0 <= seed < 2**63:
        fail("--seed must be between 0 and 2^63 - 1")
    check_output_dir(out, "--out", create=False)
    if scenario == "supply-chain":  # how the code got in (kleptolab.lab.supplychain_act)
        from kleptolab.lab.demo import fresh_seed
        from kleptolab.lab.supplychain_act import run_supply_chain_demo

        if seed is None:
            seed = fresh_seed()
            console.print(f"seed {seed}: `kleptolab demo --scenario supply-chain --seed {seed}` repeats this run")
        problems = run_supply_chain_demo(out, seed, console)
        if problems:
            fail("; ".join(problems), code=1)
        return
    outcome = run_demo(DemoOptions(out, scenario, seed, workers, user, survey_probes), console)
    table = Table(title=f"kleptolab demo ({scenario}, seed {outcome.run.seed}) in {outcome.seconds:.1f} s")
    for column in ("firmware", "passive VPN decryption", "master-password login"):
        table.add_column(column, overflow="fold")
    phases = [p for p in (outcome.run.backdoored, outcome.run.patched) if p is not None]
    for phase in phases:
        table.add_row(
            phase.firmware_version,
            "[red]decrypted[/]" if phase.vpn_decrypted else "[green]failed[/]",
            "[red]accepted[/]" if phase.backdoor_login else "[green]rejected[/]",
        )
    console.print(table)
    for phase in phases:  # the why, as a list: a table cell would wrap to a column of words at 80 columns
        console.print(f"[bold]{phase.firmware_version}[/]: {escape(phase.reason)}", highlight=False)
    console.print(f"report: {out / 'report.html'}   (pcaps, key tables, images, logs in {out}/)",
                  markup=False, soft_wrap=True)
    if not outcome.ok:
        for problem in outcome.problems:
            console.print(f"[bold red]problem:[/] {safe(problem)}")
        fail(f"{len(outcome.problems)} stage(s) did not behave as expected; see {out / 'run.json'}", code=1)


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    app.command("demo")(demo)
