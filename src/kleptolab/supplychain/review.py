"""Check every commit's signed approvals against the review policy.

An approval counts when its DSSE signature verifies under a reviewer key of
the policy, its statement names this commit id and tree, it says
``approved``, and the reviewer is not the commit's author.  An approval
signed for another commit id with the *same* tree marks a rewritten parent
chain; one for another tree was copied from a different change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kleptolab.supplychain.attest import REVIEW_PREDICATE, STATEMENT_TYPE, open_envelope
from kleptolab.supplychain.gitrepo import Commit, Git
from kleptolab.supplychain.policy import REVIEW_NOTES, Policy, Rule

__all__ = ["Approval", "CommitReview", "review_commits", "signed_commits"]


@dataclass(frozen=True)
class Approval:
    """One signed approval as found on a commit."""

    reviewer: str  # persona id (or key id prefix when unknown)
    status: str  # valid | self-approval | wrong-commit | wrong-tree | bad-signature | not-a-reviewer | malformed
    signed_commit: str | None = None
    signed_tree: str | None = None
    detail: str = ""


@dataclass
class CommitReview:
    """A commit, what it changes, the rule that applies and its approvals."""

    commit: Commit
    paths: list[str]
    rule: Rule
    approvals: list[Approval] = field(default_factory=list)

    @property
    def valid(self) -> int:
        """Distinct reviewers whose approval counts."""
        return len({a.reviewer for a in self.approvals if a.status == "valid"})

    @property
    def required(self) -> int:
        return self.rule.approvals

    @property
    def ok(self) -> bool:
        return self.valid >= self.required

    @property
    def rewritten(self) -> bool:
        """Approvals signed for another commit id over the same tree (parent chain rewritten)."""
        return any(a.status == "wrong-commit" for a in self.approvals)

    @property
    def copied(self) -> bool:
        """Approvals signed for a different change (another tree)."""
        return any(a.status == "wrong-tree" for a in self.approvals)

    @property
    def protected(self) -> bool:
        return self.rule.approvals >= 2


def _check(envelope: object, commit: Commit, policy: Policy, author: str | None) -> Approval:
    payload, good, problem = open_envelope(envelope, policy.keys)
    if problem:
        return Approval("?", "bad-signature", detail=problem)
    kid = good[0]
    reviewer = policy.owners.get(kid, kid[:12])
    if kid not in policy.reviewers:
        return Approval(
            reviewer, "not-a-reviewer", detail="key is not a reviewer key in the policy"
        )
    if payload.get("_type") != STATEMENT_TYPE or payload.get("predicateType") != REVIEW_PREDICATE:
        return Approval(reviewer, "malformed", detail="not a code-review statement")
    try:
        signed_commit = str(payload["subject"][0]["digest"]["gitCommit"])
        predicate = payload["predicate"]
        signed_tree, decision = str(predicate["tree"]), str(predicate["decision"])
    except (KeyError, IndexError, TypeError):
        return Approval(reviewer, "malformed", detail="not a code-review statement")
    if decision != "approved":
        return Approval(reviewer, "malformed", signed_commit, signed_tree, f"decision {decision}")
    if signed_commit != commit.id:
        status = "wrong-commit" if signed_tree == commit.tree else "wrong-tree"
        return Approval(
            reviewer, status, signed_commit, signed_tree, f"signed for commit {signed_commit[:12]}"
        )
    if signed_tree != commit.tree:
        return Approval(reviewer, "wrong-tree", signed_commit, signed_tree, "tree differs")
    if author is not None and reviewer == author:
        return Approval(
            reviewer,
            "self-approval",
            signed_commit,
            signed_tree,
            "the author cannot approve their own change",
        )
    return Approval(reviewer, "valid", signed_commit, signed_tree)


def review_commits(git: Git, commits: list[Commit], policy: Policy) -> list[CommitReview]:
    """Evaluate the policy on ``commits`` (with the review notes of the repository)."""
    notes = git.notes(REVIEW_NOTES)
    reviews = []
    for commit in commits:
        paths = git.changed_paths(commit)
        review = CommitReview(commit, paths, policy.rule_for(paths))
        author = policy.persona_of_email(commit.author_email)
        raw = notes.get(commit.id)
        if raw is not None:
            try:
                envelopes = json.loads(raw)["envelopes"]
            except (ValueError, KeyError, TypeError):
                envelopes = [None]
            for envelope in envelopes:
                review.approvals.append(_check(envelope, commit, policy, author))
        reviews.append(review)
    return reviews


def signed_commits(reviews: list[CommitReview]) -> set[str]:
    """Commit ids named by approvals whose signatures verify."""
    return {
        a.signed_commit
        for r in reviews
        for a in r.approvals
        if a.signed_commit is not None and a.status != "bad-signature"
    }
