"""Scanner output: a rich table, JSON and SARIF 2.1.0.

SARIF results carry byte regions (``byteOffset``/``byteLength``) and, for
archive members, the member path in ``properties.inner``; the rule id is the
constant id (or ``replaced-q`` / ``unknown-constant``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rich.table import Table

from kleptolab import __version__
from kleptolab.defend.constants import CONSTANTS, Verdict
from kleptolab.defend.scan import Finding, ScanResult
from kleptolab.ui import safe

__all__ = ["LEVELS", "dumps", "findings_table", "scan_json", "scan_sarif"]

LEVELS = {
    Verdict.KNOWN_BAD: "error",
    Verdict.REPLACED_Q: "error",
    Verdict.UNKNOWN: "warning",
    Verdict.KNOWN_GOOD: "note",
    Verdict.CURVE: "note",
}
_STYLE = {"error": "bold red", "warning": "yellow", "note": "green"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def findings_table(result: ScanResult) -> Table:
    """One row per finding, most severe first within each file."""
    table = Table(title=f"{len(result.findings)} findings in {result.files} files")
    for column in ("location", "offset", "constant", "verdict", "variant", "conf.", "context"):
        table.add_column(column, overflow="fold")
    for f in result.findings:
        h = f.hit
        level = LEVELS[h.verdict]
        name = h.constant.id if h.constant else f"{h.curve} {h.role}"
        table.add_row(
            safe(f.location), f"{h.offset:#x}", name + (" (partial)" if h.partial else ""),
            f"[{_STYLE[level]}]{h.verdict.value}[/]", h.variant, h.confidence,
            safe(", ".join(h.context)),
        )
    return table


def _summary(result: ScanResult) -> dict[str, int]:
    counts = {v.value: 0 for v in Verdict}
    for f in result.findings:
        counts[f.hit.verdict.value] += 1
    return counts


def scan_json(result: ScanResult) -> dict[str, Any]:
    """The JSON document of ``kleptolab scan --format json``."""
    return {
        "tool": "kleptolab",
        "version": __version__,
        "files": result.files,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
        "summary": _summary(result),
        "findings": [f.to_json() for f in result.findings],
        "warnings": result.warnings,
    }


def _rule_id(f: Finding) -> str:
    if f.hit.constant is not None:
        return f.hit.constant.id
    return "replaced-q" if f.hit.verdict is Verdict.REPLACED_Q else "unknown-constant"


def _rules() -> list[dict[str, Any]]:
    rules = [
        {
            "id": c.id,
            "name": c.id.replace("-", "_"),
            "shortDescription": {"text": f"{c.curve or 'string'} {c.role}: {c.verdict.value}"},
            "fullDescription": {"text": f"Source: {c.source}"},
            "defaultConfiguration": {"level": LEVELS[c.verdict]},
            "properties": {"tags": ["dual-ec", "screenos"], "verdict": c.verdict.value},
        }
        for c in CONSTANTS
    ]
    rules.append({
        "id": "replaced-q",
        "name": "replaced_q",
        "shortDescription": {"text": "Unknown x-coordinate right after curve parameters"},
        "fullDescription": {"text": "A Qx-shaped hex value next to curve parameters that is "
                                    "no known Q: how the 2012 ScreenOS change showed up."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["dual-ec", "screenos"], "verdict": "replaced-q"},
    })
    rules.append({
        "id": "unknown-constant",
        "name": "unknown_constant",
        "shortDescription": {"text": "Constant-like value next to curve parameters, not a point"},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["dual-ec"], "verdict": "unknown-constant-like"},
    })
    return rules


def _result(f: Finding) -> dict[str, Any]:
    h = f.hit
    fingerprint = hashlib.sha256(
        f"{f.location}|{_rule_id(f)}|{h.variant}|{h.offset}".encode()
    ).hexdigest()[:32]
    return {
        "ruleId": _rule_id(f),
        "level": LEVELS[h.verdict],
        "kind": "fail" if LEVELS[h.verdict] != "note" else "informational",
        "message": {"text": f"{_rule_id(f)} ({h.variant}, {h.verdict.value}) at {f.location}"
                            f" offset {h.offset:#x}"},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": f.path},
                "region": {"byteOffset": h.offset, "byteLength": h.length},
            }
        }],
        "partialFingerprints": {"kleptolab/v1": fingerprint},
        "properties": {**f.to_json(), "inner": f.inner},
    }


def scan_sarif(result: ScanResult, command_line: str = "kleptolab scan") -> dict[str, Any]:
    """A SARIF 2.1.0 log of the scan."""
    return {
        "version": "2.1.0",
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": {
                "name": "kleptolab",
                "version": __version__,
                "rules": _rules(),
            }},
            "invocations": [{
                "executionSuccessful": True,
                "commandLine": command_line,
                "toolExecutionNotifications": [{"level": "warning", "message": {"text": w}}
                                               for w in result.warnings],
            }],
            "results": [_result(f) for f in result.findings],
        }],
    }


def dumps(document: dict[str, Any]) -> str:
    """Stable JSON text for files and stdout."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
