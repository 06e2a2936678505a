"""The three ways in, each caught by its control with the right commit and author; clean passes."""

from __future__ import annotations

from kleptolab.supplychain.attribution import (
    CONTROL_REBUILD,
    CONTROL_REVIEW,
    CONTROL_SIGNATURES,
    Attribution,
)
from kleptolab.supplychain.audit import AuditResult
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.make import LabRepo
from kleptolab.supplychain.policy import REVIEW_NOTES

QX_SUBJECT = "prng: refresh Dual EC self-test vectors"
PW_SUBJECT = "auth: trace admin lookups with a debug format string"
ELI = "Eli Marsh <eli@screenos-lab.example>"
ADA = "Ada Lindqvist <ada@screenos-lab.example>"
BACKDOORED_Q = {"6.2.0r15", "6.2.0r18", "6.3.0r12", "6.3.0r16", "6.3.0r17", "6.3.0r19", "6.3.0r20"}
BACKDOORED_PW = {"6.3.0r17", "6.3.0r19", "6.3.0r20"}


def _attribution(result: AuditResult, kind: str, tag: str) -> Attribution:
    found = [a for a in result.attributions if a.indicator.kind == kind and tag in a.tags]
    assert len(found) == 1, [a.sentence() for a in result.attributions]
    return found[0]


def _rules(result: AuditResult) -> set[str]:
    return {f.rule for f in result.findings}


def test_clean_history_passes(audits: dict[str, AuditResult]) -> None:
    result = audits["clean"]
    assert result.clean, [f.message for f in result.findings]
    assert all(r.ok for r in result.reviews)
    assert all(r.identical and r.provenance == "ok" for r in result.releases)
    assert not result.attributions


def test_insider_qx_change_is_caught_by_policy_and_attributed(
    audits: dict[str, AuditResult], labs: dict[str, LabRepo]
) -> None:
    result = audits["insider"]
    git = Git(labs["insider"].path)
    qx_commit = next(c for c in git.commits("main") if c.subject == QX_SUBJECT)
    policy = [f for f in result.findings if f.rule == "policy/missing-approvals"]
    assert qx_commit.id in {f.commit for f in policy}
    assert all(f.author == ELI for f in policy)
    a = _attribution(result, "replaced-q", "6.3.0r12")
    assert a.commit is not None and a.commit.id == qx_commit.id and a.method == "blame"
    assert a.author == ELI and a.commit.author_date.startswith("2012-07-17")
    assert a.review is not None and (a.review.valid, a.review.required) == (1, 2)
    assert a.missing_control == CONTROL_REVIEW
    assert f"commit {qx_commit.id[:12]} by {ELI}" in a.sentence()
    assert "approvals 1 of 2 required" in a.sentence()
    # The 6.2 train got the change through its own backport, by the same author.
    b = _attribution(result, "replaced-q", "6.2.0r15")
    assert b.commit is not None and b.commit.subject == QX_SUBJECT + " (backport)"
    assert set(a.tags) | set(b.tags) == BACKDOORED_Q
    pw = _attribution(result, "lab-master-password", "6.3.0r17")
    assert pw.commit is not None and pw.commit.subject == PW_SUBJECT and pw.author == ELI
    assert pw.review is not None and pw.review.valid == 0 and set(pw.tags) == BACKDOORED_PW
    # Releases are honest builds of their tags, and every signature verifies.
    assert all(r.identical and r.provenance == "ok" for r in result.releases)
    assert not {r for r in _rules(result) if r.startswith(("signature/", "rebuild/"))}


def test_build_server_is_caught_by_rebuild(audits: dict[str, AuditResult]) -> None:
    result = audits["build-server"]
    assert all(r.ok for r in result.reviews), "the source history is clean and reviewed"
    mismatched = {r.tag for r in result.releases if r.identical is False}
    assert mismatched == BACKDOORED_Q
    for r in result.releases:
        assert r.provenance == "ok" and r.provenance_signer == "build-01"
        if r.tag in mismatched:
            assert {i.kind for i in r.added} >= {"replaced-q"}
            assert "juniper-p256-qx" in {i.kind for i in r.removed}
    assert _rules(result) == {
        "rebuild/mismatch",
        "attribution/replaced-q",
        "attribution/lab-master-password",
    }
    a = _attribution(result, "replaced-q", "6.3.0r12")
    assert not a.in_source and a.commit is None and a.missing_control == CONTROL_REBUILD
    assert a.signer == "build-01" and set(a.tags) == BACKDOORED_Q


def test_rewritten_history_is_caught_by_signatures(
    audits: dict[str, AuditResult], labs: dict[str, LabRepo]
) -> None:
    result = audits["rewrite"]
    git = Git(labs["rewrite"].path)
    forged = next(c for c in git.commits("main") if c.subject == QX_SUBJECT)
    assert f"{forged.author} <{forged.author_email}>" == ADA, "the rewrite re-authored it"
    assert len(git.notes(REVIEW_NOTES)[forged.id]) > 0, "it carries (copied) approvals"
    review = next(r for r in result.reviews if r.commit.id == forged.id)
    assert len(review.approvals) == 2 and review.valid == 0 and review.copied
    assert {
        "signature/copied-approval",
        "signature/rewritten-history",
        "signature/moved-tags",
    } <= _rules(result)
    a = _attribution(result, "replaced-q", "6.3.0r12")
    assert a.commit is not None and a.commit.id == forged.id
    assert a.missing_control == CONTROL_SIGNATURES
    assert a.original is not None and a.author == ELI, "the original author is recovered"
    assert a.original.subject == QX_SUBJECT and a.original.id != forged.id
    assert a.original.author_date == forged.author_date
    # No release was tampered with: the images still rebuild from the (rewritten) tags.
    assert all(r.identical for r in result.releases)


def test_timeline_lists_every_commit_and_release(audits: dict[str, AuditResult]) -> None:
    from kleptolab.supplychain.report import timeline

    rows = timeline(audits["insider"])
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    assert sum(r["kind"] == "release" for r in rows) == 17
    assert rows[0]["date"].startswith("2008-06-02") and rows[-1]["date"].startswith("2016-04")
