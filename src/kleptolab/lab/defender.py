"""The defender's half: run the toolkit on what a defender has, turn results into findings.

Each tool runs on its own input (firmware images, the syslog the demo
collected, the version string, the tap's pcap) and yields
:class:`~kleptolab.lab.model.Finding` rows.  A tool that crashes does not stop
the others: :func:`run_tool` turns the failure into an ``error`` finding and a
line in ``problems`` (the demo then exits non-zero).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from kleptolab.lab.model import Finding

__all__ = [
    "DefenderRun",
    "advisory_findings",
    "diff_findings",
    "fingerprint_findings",
    "log_findings",
    "run_tool",
    "scan_findings",
    "sealed_log_findings",
]


@dataclasses.dataclass
class DefenderRun:
    """Findings of all tools, plus what went wrong."""

    findings: list[Finding] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)


def scan_findings(image: Path) -> list[Finding]:
    """``kleptolab scan`` on one image: the replaced Q, known Qs, the master password."""
    from kleptolab.defend.scan import scan_paths

    result = scan_paths([image])
    rows = []
    for f in result.findings:
        h = f.hit
        if h.verdict.value == "curve-parameter":
            continue  # context only: the curve's p, a, b, n, G next to a Q
        what = h.constant.id if h.constant is not None else (h.role or "constant")
        rows.append(Finding("scan", image.name, h.verdict.value,
                            f"{what} at offset {h.offset:#x}: {h.value[:64]}"))
    if not rows:
        rows.append(Finding("scan", image.name, "clean", "no Dual EC Q and no master-password string"))
    return rows


def diff_findings(old: Path, new: Path) -> list[Finding]:
    """``kleptolab diff`` of two images: the security-relevant string changes."""
    from kleptolab.defend.diff import diff_images

    report = diff_images(old.read_bytes(), new.read_bytes(), old.name, new.name)
    target = f"{old.name} → {new.name}"
    rows = []
    for line in report.headlines:
        severity = "info" if line.startswith(("known Q restored", "known-bad string removed")) else "high"
        rows.append(Finding("diff", target, severity, line))
    crypto = sum(1 for c in report.changes if c.crypto)
    rows.append(Finding("diff", target, "info",
                        f"{len(report.changes)} string changes, {crypto} touching constants or passwords"))
    return rows


def advisory_findings(version: str) -> list[Finding]:
    """``kleptolab advisory``: is this release named by JSA10713, and what to upgrade to."""
    from kleptolab.defend.advisory import assess

    a = assess(version)
    cves = ", ".join(a.cves) or "no JSA10713 CVE"
    note = f"; {a.note}" if a.note else ""
    return [Finding("advisory", version, a.status, f"{cves}; upgrade: {a.upgrade}{note}")]


def log_findings(lines: Sequence[str], name: str) -> list[Finding]:
    """``kleptolab logs`` on the syslog lines the collector kept."""
    from kleptolab.defend.eventlog_format import parse_lines
    from kleptolab.defend.logrules import evaluate

    parsed = parse_lines(lines, name)
    alerts = evaluate(parsed.events)
    rows = [Finding("logs", name, a.severity, f"{a.rule}: {a.message}") for a in alerts]
    if not rows:
        rows.append(Finding("logs", name, "clean", f"{len(parsed.events)} events, no alert"))
    if parsed.bad_lines:
        rows.append(Finding("logs", name, "warning", f"{parsed.bad_lines} syslog lines not understood"))
    return rows


def sealed_log_findings(
    lines: Sequence[str], name: str, verify_key: str, collector: Sequence[str], collector_name: str,
) -> list[Finding]:
    """``kleptolab logs EVENT.log --verify-key K --collector SYSLOG.log``: the seals and the two copies.

    Only the sealing and cross-check findings are kept here (the JSA10713 rules
    already ran on the collector's copy).
    """
    from kleptolab.defend.eventlog_format import parse_lines
    from kleptolab.defend.logseal import cross_check, verify_events
    from kleptolab.device.sealing import VerifyKey

    key = VerifyKey.parse(verify_key)
    device = parse_lines(lines, name).events
    remote = parse_lines(collector, collector_name).events
    alerts = verify_events(device, key) + cross_check(device, remote, device_name=name,
                                                      collector_name=collector_name)
    rows = [Finding("logs", name, a.severity, f"{a.rule}: {a.message.removeprefix(name + ': ')}")
            for a in alerts if a.severity != "low"]
    if not rows:
        seals = sum(1 for e in device if e.kind == "seal")
        rows.append(Finding("logs", name, "clean", f"{len(device)} lines, {seals} seals verify with "
                            "the verification key; the collector's copy agrees"))
    return rows


def fingerprint_findings(pcap: Path, alpha: float = 0.01) -> list[Finding]:
    """``kleptolab fingerprint``: do a responder's 32-byte nonces avoid zero at bytes 0 and 30?

    Run on the defender's survey capture it convicts any ScreenOS 6.2/6.3 Dual EC PRNG,
    whatever its Q (6.3.0r21 too): the scanner and the advisory tell the Qs apart.
    """
    from kleptolab.capture import IkePacket, classify, read_capture
    from kleptolab.defend.fingerprint import fingerprint, nonces_needed, responder_nonces

    messages = []
    for d in read_capture(pcap).datagrams:
        packet = classify(d)
        if isinstance(packet, IkePacket):
            messages.append((d.src, d.dst, packet.message))
    rows = []
    for s in fingerprint(responder_nonces(messages)):
        other = ", ".join(f"{n} of {size} bytes" for size, n in sorted(s.other_lengths.items()))
        verdict = s.verdict(alpha)
        rows.append(Finding(
            "fingerprint", pcap.name, verdict,
            ("affected ScreenOS likely (6.2/6.3 Dual EC PRNG): " if verdict == "screenos-dualec" else "")
            + f"responder {s.address}: {s.nonces32} 32-byte nonces, {s.zeros} zero bytes at 0/30, "
            f"P(uniform) = {s.p_uniform:.3g} ({nonces_needed(alpha)} zero-free nonces convict)"
            + (f"; other nonces: {other}" if other else ""),
        ))
    if not rows:
        rows.append(Finding("fingerprint", pcap.name, "no-data", "no IKE responder nonce in the capture"))
    return rows


def run_tool(run: DefenderRun, tool: str, target: str, action: Callable[[], list[Finding]]) -> None:
    """Run one tool; add its findings (or an ``error`` finding and a problem) to ``run``."""
    try:
        rows = action()
    except Exception as exc:  # one broken tool must not hide the others' findings
        message = f"defender tool {tool!r} failed on {target}: {type(exc).__name__}: {exc}"
        run.problems.append(message)
        run.findings.append(Finding(tool, target, "error", message))
        return
    run.findings.extend(rows)
