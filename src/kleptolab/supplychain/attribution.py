"""Tie each bad scanner finding in a shipped image to the commit that introduced it.

First ``git blame`` on the source line holding the finding's value (Qx, the
password text) at the release tag; when the value is not written out in the
source, a ``git bisect``-style binary search over the tag's first-parent
chain for the first commit whose build carries the finding.  A finding the
source never produces was inserted after the source: at build time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kleptolab.supplychain.gitrepo import Commit, Git
from kleptolab.supplychain.releases import Indicator, ReleaseCheck, indicators
from kleptolab.supplychain.review import CommitReview
from kleptolab.supplychain.source import build_from_tree, locate

__all__ = ["Attribution", "attribute", "original_history"]

CONTROL_REVIEW = "two-person review"
CONTROL_SIGNATURES = "signed approvals bound to commit and tree"
CONTROL_REBUILD = "reproducible rebuild"


@dataclass
class Attribution:
    """Where one bad indicator came from."""

    indicator: Indicator
    tags: list[str] = field(default_factory=list)
    in_source: bool = True
    method: str = "blame"  # blame | bisect | none
    commit: Commit | None = None
    path: str | None = None
    line: int | None = None
    review: CommitReview | None = None
    original: Commit | None = None  # the pre-rewrite commit with the same tree, if recovered
    signer: str | None = None  # who signed the provenance of an image built off-source

    @property
    def what(self) -> str:
        if self.indicator.kind == "replaced-q":
            return "Qx replaced"
        if "password" in self.indicator.kind:
            return "master password added"
        return f"{self.indicator.kind} introduced"

    @property
    def missing_control(self) -> str | None:
        """The control that failed (``None``: the change was properly approved)."""
        if not self.in_source:
            return CONTROL_REBUILD
        if self.review is not None and (self.review.copied or self.review.rewritten):
            return CONTROL_SIGNATURES
        if self.review is None or not self.review.ok:
            return CONTROL_REVIEW
        return None

    @property
    def author(self) -> str | None:
        """Who really made the change: the recovered original author when history was rewritten."""
        source = self.original or self.commit
        return None if source is None else f"{source.author} <{source.author_email}>"

    def sentence(self) -> str:
        shipped = ", ".join(self.tags)
        if not self.in_source:
            return (
                f"{self.indicator.label} in shipped {shipped}: not produced by the source at "
                f"those tags; inserted after review, at build time (provenance signed by "
                f"{self.signer or 'nobody'}); missing control: {CONTROL_REBUILD}"
            )
        c = self.commit
        assert c is not None
        r = self.review
        approvals = f"approvals {r.valid} of {r.required} required" if r else "no review record"
        text = (
            f"{self.what} in commit {c.id[:12]} by {c.author} <{c.author_email}> on "
            f"{c.author_date[:10]} ({self.path}:{self.line}, by {self.method}), {approvals}"
        )
        if r is not None and (r.copied or r.rewritten):
            text += "; its approvals were signed for other commits (history rewritten)"
            if self.original is not None:
                o = self.original
                text += (
                    f"; original commit {o.id[:12]} by {o.author} <{o.author_email}> on "
                    f"{o.author_date[:10]}, committed as {c.id[:12]} by {c.committer}"
                )
        control = self.missing_control
        return (
            text + f"; shipped in {shipped}" + (f"; missing control: {control}" if control else "")
        )


def original_history(git: Git, signed: set[str], current: set[str]) -> dict[str, Commit]:
    """Tree id -> commit, over history reachable from signed commit ids no longer in ``current``
    whose objects are still in the repository (what a rewrite leaves behind)."""
    orphans = []
    for commit_id in sorted(signed - current):
        try:
            git.run("cat-file", "-e", f"{commit_id}^{{commit}}")
        except ValueError:
            continue
        orphans.append(commit_id)
    if not orphans:
        return {}
    by_tree: dict[str, Commit] = {}
    for commit in git.commits(*orphans):
        if commit.id not in current:
            by_tree.setdefault(commit.tree, commit)
    return by_tree


def _bisect(git: Git, tag: str, indicator: Indicator) -> str | None:
    chain = git.run("rev-list", "--first-parent", "--reverse", tag).split()

    def carries(commit: str) -> bool:
        try:
            return indicator in indicators(commit, build_from_tree(git.files(commit)))
        except ValueError:
            return False

    lo, hi = 0, len(chain) - 1
    if not chain or not carries(chain[hi]):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if carries(chain[mid]):
            hi = mid
        else:
            lo = mid + 1
    return chain[lo]


def attribute(
    git: Git,
    releases: list[ReleaseCheck],
    reviews: dict[str, CommitReview],
    originals: dict[str, Commit],
) -> list[Attribution]:
    """One attribution per (bad indicator, introducing commit), listing the releases carrying it."""
    out: dict[tuple[Indicator, str | None], Attribution] = {}
    for check in releases:
        for ind in sorted(i for i in check.shipped if i.bad):
            commit_id = path = line = None
            method = "none"
            in_source = ind in check.rebuilt
            if in_source:
                files = git.files(check.commit)
                where = locate(files, ind.value)
                if where is not None:
                    path, line = where
                    commit_id, method = git.blame_line(check.commit, path, line), "blame"
                else:
                    commit_id, method = _bisect(git, check.tag, ind), "bisect"
            key = (ind, commit_id)
            if key not in out:
                commit = git.commit(commit_id) if commit_id else None
                review = reviews.get(commit_id) if commit_id else None
                original = None
                if (
                    commit is not None
                    and review is not None
                    and (review.copied or review.rewritten)
                ):
                    candidate = originals.get(commit.tree)
                    original = candidate if candidate and candidate.id != commit.id else None
                out[key] = Attribution(
                    ind,
                    [],
                    in_source,
                    method,
                    commit,
                    path,
                    line,
                    review,
                    original,
                    check.provenance_signer,
                )
            out[key].tags.append(check.tag)
    return list(out.values())
