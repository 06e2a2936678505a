"""CLI commands of `kleptolab.defend`: scan, diff, fingerprint (plus logs, advisory, signatures).

Exit codes: 0 when nothing security-relevant was found, 1 when something was
(a known-bad constant, a replaced Q, an alert, an affected version), 2 for
usage errors (:func:`kleptolab.ui.fail`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kleptolab import ui

OUTPUT_FORMATS = ("table", "json", "sarif")
MAX_MIB = 1 << 20


def _scannable(paths: list[Path]) -> list[Path]:
    """The files and folders among ``paths``; fail on missing ones, skip devices and FIFOs."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        ui.fail(f"no such file or folder: {', '.join(missing)}")
    kept = [p for p in paths if p.is_dir() or p.is_file()]
    if not kept:
        ui.fail(f"nothing to scan: {', '.join(map(str, paths))} is not a regular file or folder "
                "(a device, FIFO or socket)")
    for p in paths:
        if p not in kept:
            ui.warn(f"{p} is not a regular file (a device, FIFO or socket): skipped")
    return kept


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (JSON when --format table).")] = None,
    engine: Annotated[str, typer.Option(help="python (default) or yara (needs yara-python).")] = "python",
    export_yara: Annotated[Path | None, typer.Option("--export-yara", help="Write YARA rules for every constant to FILE.")] = None,
    max_member_mib: Annotated[int, typer.Option(help="Largest archive member to unpack (MiB).")] = 256,
    max_total_mib: Annotated[int, typer.Option(help="Most bytes one input may expand to (MiB).")] = 1024,
    thorough: Annotated[bool, typer.Option("--thorough/--fast", help="--thorough (default) guarantees every binary layout, the low-entropy primes included; --fast samples those and runs faster.")] = True,
) -> None:
    """Find Dual EC constants (P, Q, curve parameters) and backdoor strings in files and archives."""
    from kleptolab.defend.containers import Limits
    from kleptolab.defend.report import dumps, findings_table, scan_json, scan_sarif
    from kleptolab.defend.scan import scan_paths

    if fmt not in OUTPUT_FORMATS:
        ui.fail(f"unknown format {fmt!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if engine not in ("python", "yara"):
        ui.fail(f"unknown engine {engine!r}: expected python or yara")
    if max_member_mib < 1 or max_total_mib < 1:
        ui.fail("--max-member-mib and --max-total-mib must be at least 1")
    if max_member_mib > MAX_MIB or max_total_mib > MAX_MIB:
        ui.fail(f"--max-member-mib and --max-total-mib must be at most {MAX_MIB}")
    for target, what in ((output, "--output"), (export_yara, "--export-yara")):
        if target is not None:
            ui.check_output_file(target, what)
    if output is not None and export_yara is not None and output.resolve() == export_yara.resolve():
        ui.fail("--output and --export-yara must name different files")
    if engine == "yara":
        try:
            import yara  # noqa: F401
        except ImportError:
            ui.fail("--engine yara needs yara-python (pip install yara-python)")
    paths = _scannable(paths)
    if export_yara is not None:
        from kleptolab.defend.yara_rules import export_yara as render

        ui.emit(render(), export_yara)
    limits = Limits(max_member=max_member_mib << 20, max_total=max_total_mib << 20)
    with ui.progress() as bar:
        task = bar.add_task("scanning", total=None)
        result = scan_paths(paths, engine=engine, thorough=thorough, limits=limits,
                            on_file=lambda _p, size: bar.advance(task, size))
    if fmt == "json":
        ui.emit(dumps(scan_json(result)), output)
    elif fmt == "sarif":
        ui.emit(dumps(scan_sarif(result, "kleptolab scan " + " ".join(map(str, paths)))), output)
    elif output is not None:
        ui.emit(dumps(scan_json(result)), output)
    else:
        ui.console.print(findings_table(result))
    for warning in result.warnings:
        ui.warn(warning)
    ui.err_console.print(f"{result.files} files, {result.bytes / (1 << 20):.1f} MiB in "
                         f"{result.seconds:.2f} s ({result.mib_per_s:.0f} MiB/s)")
    bad = {"known-bad", "replaced-q"}
    if any(f.hit.verdict.value in bad for f in result.findings):
        raise typer.Exit(1)


def diff(
    old: Annotated[Path, typer.Argument(help="The older image or binary.")],
    new: Annotated[Path, typer.Argument(help="The newer image or binary.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    all_changes: Annotated[bool, typer.Option("--all", help="Also list changes without crypto tags.")] = False,
) -> None:
    """Strings-diff two firmware images and single out changed crypto constants."""
    from rich.table import Table

    from kleptolab.defend.diff import diff_images
    from kleptolab.defend.report import dumps

    if fmt not in ("table", "json"):
        ui.fail(f"unknown format {fmt!r}: expected table or json")
    ui.check_input_file(old, "OLD image")
    ui.check_input_file(new, "NEW image")
    report = diff_images(old.read_bytes(), new.read_bytes(), str(old), str(new))
    if fmt == "json":
        ui.emit(dumps(report.to_json()), None)
    else:
        title = f"{old.name} -> {new.name}: {len(report.changes)} changed strings"
        table = Table(title=ui.safe(title))
        for column in ("kind", "old", "new", "tags", "neighbourhood"):
            table.add_column(column, overflow="fold")
        for c in report.changes:
            if c.crypto or all_changes:
                table.add_row(c.kind, ui.safe(c.old.text if c.old else ""),
                              ui.safe(c.new.text if c.new else ""), ui.safe("\n".join(c.tags)),
                              ui.safe(" | ".join(c.before[-1:] + c.after[:1])))
        ui.console.print(table)
        for line in report.headlines:
            ui.console.print(f"[bold red]![/] {ui.safe(line)}", soft_wrap=True)
    if report.tagged("new:replaced-q") or report.tagged("new:known-bad"):
        raise typer.Exit(1)


def fingerprint(
    captures: Annotated[list[Path], typer.Argument(help="pcap/pcapng files (gzip welcome).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    alpha: Annotated[float, typer.Option(help="Probability below which 'never zero' convicts.")] = 0.01,
    ike_port: Annotated[list[int] | None, typer.Option(
        "--ike-port", help="Read this UDP port as IKE/NAT-T (repeatable; IKE is also found by content).")] = None,
) -> None:
    """Passive CCS 2016 §7 test: do an IKE responder's 32-byte nonces never have byte 0/30 = 0?"""
    from rich.table import Table

    from kleptolab.capture import IkePacket, classify_all, no_ike_hint, read_capture
    from kleptolab.defend.fingerprint import fingerprint as run
    from kleptolab.defend.fingerprint import nonces_needed, responder_nonces

    if not 0 < alpha < 1:
        ui.fail("--alpha must be between 0 and 1")
    if fmt not in ("table", "json"):
        ui.fail(f"unknown format {fmt!r}: expected table or json")
    ike_ports = frozenset(ike_port or ())
    if any(not 1 <= port <= 65535 for port in ike_ports):
        ui.fail("--ike-port must be between 1 and 65535")
    for path in captures:
        ui.check_input_file(path, "capture")
    messages: list[tuple[str, str, bytes]] = []
    for path in captures:
        try:
            capture = read_capture(path)
        except (OSError, ValueError) as exc:
            ui.fail(f"{path}: {exc}")
        for warning in capture.warnings:
            ui.warn(f"{path}: {warning}")
        packets = classify_all(capture.datagrams, ike_ports)
        hint = no_ike_hint(capture.datagrams, packets)
        if hint is not None:
            ui.warn(f"{path}: {hint}")
        for packet in packets:
            if isinstance(packet, IkePacket):
                messages.append((packet.datagram.src, packet.datagram.dst, packet.message))
    stats = run(responder_nonces(messages))
    if fmt == "json":
        ui.emit(json.dumps({"alpha": alpha, "nonces_needed": nonces_needed(alpha),
                           "responders": [s.to_json(alpha) for s in stats]}, indent=2) + "\n", None)
    else:
        table = Table(title=f"IKE responders ({nonces_needed(alpha)} zero-free nonces convict at "
                            f"alpha={alpha})")
        for column in ("responder", "nonces", "32-byte", "zeros @0/30", "P(uniform)", "verdict"):
            table.add_column(column)
        for s in stats:
            table.add_row(s.address, str(s.nonces), str(s.nonces32), str(s.zeros),
                          f"{s.p_uniform:.3g}", s.verdict(alpha))
        ui.console.print(table)
    if any(s.verdict(alpha) == "screenos-dualec" for s in stats):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    from kleptolab.defend import commands_ops

    app.command(epilog=ui.EXIT_CODES_HELP)(scan)
    app.command(epilog=ui.EXIT_CODES_HELP)(diff)
    app.command(epilog=ui.EXIT_CODES_HELP)(fingerprint)
    commands_ops.register(app)
