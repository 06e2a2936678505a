"""``kleptolab audit``: the defender's check of a source repository and its shipped images.

Three controls, each catching one way in:

* the review policy over the whole history (two approvers on protected paths)
  catches an insider change merged with one approval;
* signatures (approvals bound to commit id and tree, provenance bound to the
  tag's commit) catch history rewritten after the fact;
* an independent reproducible rebuild of every release tag, compared with the
  shipped image at the level of scanner findings, catches a compromised build
  server.

Every bad scanner finding in a shipped image is then attributed to the commit
that introduced it (or to the build).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kleptolab.supplychain.attribution import (
    CONTROL_REBUILD,
    CONTROL_REVIEW,
    CONTROL_SIGNATURES,
    Attribution,
    attribute,
    original_history,
)
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.policy import POLICY_REF, Policy, load_policy
from kleptolab.supplychain.releases import ReleaseCheck, check_releases
from kleptolab.supplychain.review import CommitReview, review_commits, signed_commits

__all__ = ["AuditFinding", "AuditResult", "run_audit"]


@dataclass(frozen=True)
class AuditFinding:
    """One integrity problem: which control caught it, where, and who."""

    rule: (
        str  # policy/missing-approvals, signature/..., rebuild/..., provenance/..., attribution/...
    )
    control: str
    message: str
    commit: str | None = None
    author: str | None = None
    tag: str | None = None
    path: str | None = None


@dataclass
class AuditResult:
    """Everything one audit found."""

    repo: Path
    images: Path
    policy_note: str
    reviews: list[CommitReview] = field(default_factory=list)
    releases: list[ReleaseCheck] = field(default_factory=list)
    attributions: list[Attribution] = field(default_factory=list)
    findings: list[AuditFinding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings


def _who(review: CommitReview) -> str:
    c = review.commit
    return f"{c.author} <{c.author_email}>"


def _review_findings(result: AuditResult) -> None:
    rewritten = [r for r in result.reviews if r.rewritten and not r.copied]
    for r in result.reviews:
        c = r.commit
        if r.copied:
            sources = sorted(
                {
                    a.signed_commit[:12]
                    for a in r.approvals
                    if a.status == "wrong-tree" and a.signed_commit
                }
            )
            result.findings.append(
                AuditFinding(
                    "signature/copied-approval",
                    CONTROL_SIGNATURES,
                    f"commit {c.id[:12]} ({c.subject!r}, claims {_who(r)}, {c.author_date[:10]}) "
                    f"carries approvals signed for another change ({', '.join(sources)}): valid "
                    f"approvals {r.valid} of {r.required} required; history rewritten",
                    c.id,
                    _who(r),
                    path=r.paths[0] if r.paths else None,
                )
            )
        elif not r.ok and not r.rewritten:
            bad = [f"{a.reviewer}: {a.status}" for a in r.approvals if a.status != "valid"]
            result.findings.append(
                AuditFinding(
                    "policy/missing-approvals",
                    CONTROL_REVIEW,
                    f"commit {c.id[:12]} by {_who(r)} on {c.author_date[:10]} ({c.subject!r}) changes "
                    f"{', '.join(r.paths)}: approvals {r.valid} of {r.required} required "
                    f"({r.rule.name})" + (f"; rejected: {', '.join(bad)}" if bad else ""),
                    c.id,
                    _who(r),
                    path=r.paths[0] if r.paths else None,
                )
            )
    if rewritten:
        first = rewritten[0].commit
        result.findings.append(
            AuditFinding(
                "signature/rewritten-history",
                CONTROL_SIGNATURES,
                f"{len(rewritten)} commits carry approvals signed for other commit ids over the same "
                f"trees (parent chain rewritten after review), the first {first.id[:12]} "
                f"({first.subject!r}, committed {first.committer_date[:10]} by {first.committer})",
                first.id,
                f"{first.committer}",
            )
        )


def _release_findings(result: AuditResult) -> None:
    moved = [r for r in result.releases if r.provenance == "wrong-commit"]
    for r in result.releases:
        if r.error is not None:
            result.findings.append(
                AuditFinding("rebuild/failed", CONTROL_REBUILD, r.error, r.commit, tag=r.tag)
            )
        if r.identical is False:
            added = "; ".join(i.label for i in r.added) or "none"
            removed = "; ".join(i.label for i in r.removed) or "none"
            result.findings.append(
                AuditFinding(
                    "rebuild/mismatch",
                    CONTROL_REBUILD,
                    f"{r.tag}: shipped image ({r.shipped_sha256 and r.shipped_sha256[:12]}) is not the "
                    f"rebuild of tag {r.tag} (commit {r.commit[:12]}, {r.rebuilt_sha256[:12]}); "
                    f"scanner findings only in the shipped image: {added}; only in the rebuild: "
                    f"{removed}; provenance {r.provenance}"
                    + (f" (signed by {r.provenance_signer})" if r.provenance_signer else ""),
                    r.commit,
                    r.provenance_signer,
                    r.tag,
                    str(r.image),
                )
            )
        if r.provenance in ("bad-signature", "wrong-image", "malformed"):
            result.findings.append(
                AuditFinding(
                    f"provenance/{r.provenance}",
                    CONTROL_SIGNATURES,
                    f"{r.tag}: build provenance {r.provenance}",
                    r.commit,
                    tag=r.tag,
                )
            )
    if moved:
        result.findings.append(
            AuditFinding(
                "signature/moved-tags",
                CONTROL_SIGNATURES,
                f"{len(moved)} release tags name other commits than the build server signed: "
                + ", ".join(
                    f"{r.tag} {r.provenance_commit and r.provenance_commit[:12]} -> {r.commit[:12]}"
                    for r in moved
                ),
                moved[0].commit,
                tag=moved[0].tag,
            )
        )


def _attribution_findings(result: AuditResult) -> None:
    for a in result.attributions:
        control = a.missing_control
        result.findings.append(
            AuditFinding(
                "attribution/" + a.indicator.kind,
                control or "none (approved change)",
                a.sentence(),
                a.commit.id if a.commit else None,
                a.author,
                ", ".join(a.tags),
                a.path,
            )
        )


def run_audit(repo: Path, images: Path, root_key: str | None = None) -> AuditResult:
    """Audit ``repo`` against the shipped images in ``images``.

    ``ValueError`` when ``repo`` is not a lab repository (no git, no signed policy).
    """
    started = time.perf_counter()
    git = Git(repo)
    if not git.is_repository():
        raise ValueError(f"{repo} is not a git repository")
    raw = git.read_ref_blob(POLICY_REF)
    if raw is None:
        raise ValueError(
            f"{repo} has no review policy at {POLICY_REF} "
            "(make one with kleptolab supplychain init)"
        )
    policy: Policy
    policy, note = load_policy(raw, root_key)
    result = AuditResult(repo, images, note)
    commits = git.commits("--branches", "--tags")
    result.reviews = review_commits(git, commits, policy)
    by_id = {r.commit.id: r for r in result.reviews}
    result.releases = check_releases(git, git.tags(), images, policy, result.warnings)
    signed = signed_commits(result.reviews) | {
        r.provenance_commit for r in result.releases if r.provenance_commit
    }
    originals = original_history(git, signed, set(by_id))
    result.attributions = attribute(git, result.releases, by_id, originals)
    _review_findings(result)
    _release_findings(result)
    _attribution_findings(result)
    result.seconds = time.perf_counter() - started
    return result
