"""Audit output: the timeline and findings as text, JSON, SARIF 2.1.0, and the
signature verification result (per commit and per release) as JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kleptolab import __version__
from kleptolab.supplychain.audit import AuditResult

__all__ = ["audit_json", "audit_sarif", "audit_text", "dumps", "timeline", "verification_json"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_RULE_TEXT = {
    "policy/missing-approvals": "A protected change lacks the approvals the review policy requires.",
    "signature/copied-approval": "Approvals on a commit were signed for another change.",
    "signature/rewritten-history": "Approvals were signed for other commit ids: history rewritten.",
    "signature/moved-tags": "Release tags name other commits than the signed build provenance.",
    "rebuild/mismatch": "The shipped image is not the reproducible build of its release tag.",
    "rebuild/failed": "The release tag does not build.",
    "attribution/replaced-q": "A replaced Dual EC Q shipped; attributed to its commit or build.",
    "attribution/lab-master-password": "A master password shipped; attributed to its commit or build.",
}


def timeline(result: AuditResult) -> list[dict[str, str]]:
    """Commits and releases in date order, with what the audit says about each."""
    flagged = {f.commit for f in result.findings if f.commit}
    rows = []
    for r in result.reviews:
        c = r.commit
        status = "ok" if r.ok else f"approvals {r.valid}/{r.required}"
        if r.copied:
            status = "copied approvals"
        elif r.rewritten:
            status = "rewritten"
        rows.append(
            {
                "date": c.author_date,
                "kind": "commit",
                "id": c.id,
                "who": c.author,
                "what": c.subject,
                "status": status + (" !" if c.id in flagged and status == "ok" else ""),
            }
        )
    for rel in result.releases:
        date = next(
            (r.commit.committer_date for r in result.reviews if r.commit.id == rel.commit), ""
        )
        bad = sorted(i.label for i in rel.shipped if i.bad)
        rebuild = {True: "rebuild identical", False: "REBUILD DIFFERS", None: "no image"}[
            rel.identical
        ]
        rows.append(
            {
                "date": date,
                "kind": "release",
                "id": rel.commit,
                "who": rel.tag,
                "what": "; ".join(bad) or "no bad scanner findings",
                "status": f"{rebuild}, provenance {rel.provenance}",
            }
        )
    rows.sort(key=lambda row: (row["date"], row["kind"]))
    return rows


def audit_text(result: AuditResult) -> str:
    """The human report: verdict, findings (with attribution), timeline, verification."""
    lines = [
        f"kleptolab audit of {result.repo} against {result.images}",
        f"policy: {result.policy_note}",
        f"{len(result.reviews)} commits, {len(result.releases)} release tags, "
        f"{len(result.findings)} findings in {result.seconds:.2f} s",
        "",
    ]
    if result.clean:
        lines.append(
            "CLEAN: every change has its approvals, every signature verifies, "
            "every release rebuilds byte for byte."
        )
    else:
        lines.append("FINDINGS:")
        for f in result.findings:
            lines.append(f"  [{f.rule}] (control: {f.control}) {f.message}")
    lines += ["", "TIMELINE:"]
    for row in timeline(result):
        ident = row["id"][:12]
        lines.append(
            f"  {row['date'][:10]}  {row['kind']:7} {ident}  {row['who'][:18]:18}  "
            f"{row['what'][:70]:70}  [{row['status']}]"
        )
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def verification_json(result: AuditResult) -> dict[str, Any]:
    """The signature verification result: each approval and each release provenance."""
    return {
        "policy": result.policy_note,
        "approvals": [
            {
                "commit": r.commit.id,
                "required": r.required,
                "valid": r.valid,
                "approvals": [
                    {
                        "reviewer": a.reviewer,
                        "status": a.status,
                        "signed_commit": a.signed_commit,
                        "detail": a.detail,
                    }
                    for a in r.approvals
                ],
            }
            for r in result.reviews
        ],
        "provenance": [
            {
                "tag": r.tag,
                "commit": r.commit,
                "status": r.provenance,
                "signer": r.provenance_signer,
                "signed_commit": r.provenance_commit,
                "shipped_sha256": r.shipped_sha256,
                "rebuilt_sha256": r.rebuilt_sha256,
                "identical": r.identical,
            }
            for r in result.releases
        ],
    }


def audit_json(result: AuditResult) -> dict[str, Any]:
    """The JSON document of ``kleptolab audit``."""
    return {
        "tool": "kleptolab",
        "version": __version__,
        "repo": str(result.repo),
        "images": str(result.images),
        "clean": result.clean,
        "seconds": round(result.seconds, 3),
        "findings": [dataclasses.asdict(f) for f in result.findings],
        "attributions": [
            {
                "indicator": a.indicator.kind,
                "value": a.indicator.value,
                "tags": a.tags,
                "in_source": a.in_source,
                "method": a.method,
                "commit": a.commit.id if a.commit else None,
                "claimed_author": f"{a.commit.author} <{a.commit.author_email}>"
                if a.commit
                else None,
                "author": a.author,
                "date": a.commit.author_date if a.commit else None,
                "original_commit": a.original.id if a.original else None,
                "path": a.path,
                "line": a.line,
                "approvals": a.review.valid if a.review else None,
                "required": a.review.required if a.review else None,
                "missing_control": a.missing_control,
                "text": a.sentence(),
            }
            for a in result.attributions
        ],
        "releases": [
            {
                "tag": r.tag,
                "commit": r.commit,
                "image": str(r.image) if r.image else None,
                "identical": r.identical,
                "provenance": r.provenance,
                "added": [i.label for i in r.added],
                "removed": [i.label for i in r.removed],
            }
            for r in result.releases
        ],
        "timeline": timeline(result),
        "verification": verification_json(result),
        "warnings": result.warnings,
    }


def audit_sarif(result: AuditResult, command: str) -> dict[str, Any]:
    """SARIF 2.1.0: one result per finding; commit findings point at the changed file."""
    rules = sorted({f.rule for f in result.findings})
    results = []
    for f in result.findings:
        location = f.path or "."
        results.append(
            {
                "ruleId": f.rule,
                "level": "error",
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": location}}}],
                "properties": {
                    "commit": f.commit,
                    "author": f.author,
                    "tag": f.tag,
                    "control": f.control,
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kleptolab audit",
                        "version": __version__,
                        "informationUri": "https://eprint.iacr.org/2016/376",
                        "rules": [
                            {"id": r, "shortDescription": {"text": _RULE_TEXT.get(r, r)}}
                            for r in rules
                        ],
                    }
                },
                "invocations": [{"executionSuccessful": True, "commandLine": command}],
                "results": results,
            }
        ],
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
