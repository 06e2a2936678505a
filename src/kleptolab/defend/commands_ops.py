"""CLI commands of `kleptolab.defend` for operations: logs, advisory, signatures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from kleptolab import __version__, ui


def _check_log(path: Path) -> None:
    """``fail`` unless ``path`` is a readable text file: a binary one (NUL bytes in its first
    64 KiB) would otherwise be echoed to the terminal as "lines not understood"."""
    ui.check_input_file(path, "log")
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        ui.fail(f"{path}: cannot read ({exc.strerror or exc})")
    if b"\x00" in head:
        ui.fail(f"{path} is a binary file (it holds NUL bytes), not a text event log")


def _cell(text: str) -> str:
    """Log-derived text for a rich table cell: no markup, no control characters."""
    return ui.safe(text)


def _alerts_sarif(alerts: list[Any]) -> dict[str, Any]:
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    results = []
    for a in alerts:
        locations = []
        for where in a.evidence:
            path, _, line = where.rpartition(":")
            locations.append({"physicalLocation": {"artifactLocation": {"uri": path},
                                                   "region": {"startLine": max(1, int(line))}}})
        results.append({
            "ruleId": a.rule, "level": levels[a.severity], "message": {"text": a.message},
            "locations": locations,
            "partialFingerprints": {"kleptolab/v1": hashlib.sha256(
                f"{a.rule}|{'|'.join(a.evidence)}".encode()).hexdigest()[:32]},
            "properties": {"severity": a.severity, "source_ip": a.source_ip},
        })
    rules = sorted({a.rule for a in alerts})
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "kleptolab-logs", "version": __version__,
                                          "rules": [{"id": r} for r in rules]}},
                      "results": results}]}


def _open_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        for line in f:
            yield line.rstrip("\r\n")


def logs(
    files: Annotated[list[Path], typer.Argument(help="ScreenOS event logs (get event or syslog).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif.")] = "table",
    allow: Annotated[list[str] | None, typer.Option("--allow", help="Allowed management network (CIDR); repeatable.")] = None,
    export_sigma: Annotated[Path | None, typer.Option("--export-sigma", help="Write the rules as Sigma YAML to FILE.")] = None,
    verify_key: Annotated[str | None, typer.Option("--verify-key", help="Verification key from the device's set-up (<seed hex>/<interval>/<device id>): check the forward-secure seals.")] = None,
    now: Annotated[str | None, typer.Option("--now", help="The collector's clock, 'YYYY-MM-DD HH:MM:SS' in the log's time zone: seals missing up to then mean a cut tail.")] = None,
    collector: Annotated[Path | None, typer.Option("--collector", help="The syslog collector's copy: analysed too, and cross-checked against FILES (entries in one copy only).")] = None,
) -> None:
    """Correlate JSA10713 log evidence (00515 'system' + 00528) and other admin-login rules.

    With --verify-key, also verify the forward-secure seals: deleted, edited,
    reordered, stripped or foreign entries and a cut tail are high findings.
    """
    import ipaddress
    from datetime import datetime

    from rich.table import Table

    from kleptolab.defend.eventlog_format import Event, ParseResult, iter_events
    from kleptolab.defend.logrules import DEFAULT_ALLOWED, evaluate_stream
    from kleptolab.defend.logrules import export_sigma as sigma
    from kleptolab.defend.logseal import SealVerifier, cross_check
    from kleptolab.device.sealing import VerifyKey

    if fmt not in ("table", "json", "sarif"):
        ui.fail(f"unknown format {fmt!r}: expected table, json or sarif")
    networks = allow or list(DEFAULT_ALLOWED)
    for net in networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            ui.fail(f"--allow {net!r} is not a network (e.g. 10.0.0.0/8)")
    key: VerifyKey | None = None
    if verify_key is not None:
        try:
            key = VerifyKey.parse(verify_key)
        except ValueError as exc:
            ui.fail(f"--verify-key: {exc}")
    clock: datetime | None = None
    if now is not None:
        try:
            clock = datetime.strptime(now.strip(), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            ui.fail(f"--now {now!r} is not 'YYYY-MM-DD HH:MM:SS'")
    for path in [*files, *([collector] if collector is not None else [])]:
        _check_log(path)
    if export_sigma is not None:
        ui.check_output_file(export_sigma, "--export-sigma")
        ui.emit(sigma(), export_sigma)
    parsed = ParseResult([], 0, [])
    verifier = SealVerifier(key, now=clock) if key is not None else None
    if verifier is not None:
        for path in [*files, *([collector] if collector is not None else [])]:
            verifier.expect(str(path))

    def stream() -> Iterator[Event]:
        for path in [*files, *([collector] if collector is not None else [])]:
            try:
                yield from iter_events(_open_lines(path), str(path), parsed)
            except OSError as exc:
                ui.fail(f"{path}: cannot read ({exc.strerror or exc})")

    result = evaluate_stream(stream(), allowed=networks,
                             observe=verifier.feed if verifier is not None else None)
    alerts = result.alerts
    if verifier is not None:
        alerts += verifier.finish()
    if collector is not None:
        for path in files:
            alerts += cross_check(iter_events(_open_lines(path), str(path), ParseResult([], 0, [])),
                                  iter_events(_open_lines(collector), str(collector),
                                              ParseResult([], 0, [])),
                                  device_name=str(path), collector_name=str(collector))
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    alerts.sort(key=lambda a: (order.get(a.severity, 5), a.evidence))
    bad, examples = parsed.bad_lines, parsed.bad_examples
    if fmt == "json":
        doc = {"events": result.events, "bad_lines": bad, "bad_examples": examples,
               "alerts": [a.to_json() for a in alerts]}
        ui.emit(json.dumps(doc, indent=2) + "\n", None)
    elif fmt == "sarif":
        ui.emit(json.dumps(_alerts_sarif(alerts), indent=2) + "\n", None)
    else:
        table = Table(title=f"{len(alerts)} alerts over {result.events} events")
        for column in ("severity", "rule", "source", "message", "evidence"):
            table.add_column(column, overflow="fold")
        for a in alerts:
            table.add_row(a.severity, a.rule, _cell(a.source_ip or ""), _cell(a.message),
                          _cell(", ".join(a.evidence)))
        ui.console.print(table)
    if bad:
        ui.err_console.print(f"[yellow]warning:[/] {bad} lines not understood, e.g. "
                             f"{_cell(examples[0])}", soft_wrap=True)
    if any(a.severity in ("critical", "high") for a in alerts):
        raise typer.Exit(1)


def advisory(
    versions: Annotated[list[str] | None, typer.Argument(help="ScreenOS versions, e.g. 6.3.0r20.")] = None,
    inventory: Annotated[Path | None, typer.Option("--inventory", help="CSV with a 'version' column (and 'host').")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Check ScreenOS versions against JSA10713 (CVE-2015-7755/7756) and print the upgrade path."""
    from rich.table import Table

    from kleptolab.defend.advisory import InventoryRow, assess, assess_inventory

    if fmt not in ("table", "json"):
        ui.fail(f"unknown format {fmt!r}: expected table or json")
    if not versions and inventory is None:
        ui.fail("give VERSION arguments or --inventory FILE.csv")
    rows: list[InventoryRow] = []
    for k, text in enumerate(versions or [], start=1):
        try:
            rows.append(InventoryRow(k, text, text, assess(text), None))
        except ValueError as exc:
            ui.fail(str(exc))
    if inventory is not None:
        ui.check_input_file(inventory, "inventory")
        try:
            rows += assess_inventory(inventory.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            ui.fail(f"{inventory}: not UTF-8 text; an inventory is a CSV file")
        except OSError as exc:
            ui.fail(f"{inventory}: cannot read ({exc.strerror or exc})")
        except ValueError as exc:
            ui.fail(f"{inventory}: {exc}")
    if fmt == "json":
        ui.emit(json.dumps([r.to_json() for r in rows], indent=2) + "\n", None)
    else:
        table = Table(title="JSA10713 (CVE-2015-7755, CVE-2015-7756)")
        for column in ("host", "version", "status", "CVEs", "upgrade", "note"):
            table.add_column(column, overflow="fold")
        for r in rows:
            a = r.assessment
            if a is None:
                table.add_row(_cell(r.host), _cell(r.version_text), "[red]error[/]", "", "",
                              _cell(r.error or ""))
            else:
                style = "bold red" if a.status == "affected" else "green"
                table.add_row(_cell(r.host), _cell(r.version_text), f"[{style}]{a.status}[/]",
                              ", ".join(a.cves), a.upgrade, a.note)
        ui.console.print(table)
    failed = sum(r.assessment is None for r in rows)
    if failed:
        ui.fail(f"{failed} of {len(rows)} inventory rows could not be assessed (see 'error' rows)")
    if any(r.assessment.status == "affected" for r in rows if r.assessment):
        raise typer.Exit(1)


def signatures(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the rules here.")] = None,
    master_password: Annotated[str | None, typer.Option("--master-password", help="The lab gateway's master password.")] = None,
    historic: Annotated[bool, typer.Option("--historic/--no-historic", help="Add the historic-password indicator rule.")] = True,
) -> None:
    """Emit Snort/Suricata rules (Fox-IT style) for the Telnet backdoor and NetScreen SSH."""
    from kleptolab.defend.signatures import render_rules
    from kleptolab.device.profiles import LAB_MASTER_PASSWORD

    if output is not None:
        ui.check_output_file(output, "--output")
    try:
        text = render_rules(master_password or LAB_MASTER_PASSWORD, historic=historic)
    except ValueError as exc:
        ui.fail(str(exc))
    ui.emit(text, output)


def register(app: typer.Typer) -> None:
    """Add the logs, advisory and signatures commands to ``app``."""
    app.command(epilog=ui.EXIT_CODES_HELP)(logs)
    app.command(epilog=ui.EXIT_CODES_HELP)(advisory)
    app.command(epilog=ui.EXIT_CODES_HELP)(signatures)
