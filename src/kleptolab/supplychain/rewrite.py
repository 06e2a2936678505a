"""Scenario (c): history rewritten after the fact, as ``git filter-branch`` would do it.

In late 2015 the insider re-authors their own protected-path commits as the
crypto lead (author and committer, original dates kept), rewrites every
descendant (same trees, same metadata, new ids), moves branches and release
tags, transplants the review and provenance notes onto the new ids, and pastes
onto the re-authored commits the (genuinely signed) approvals of the crypto
lead's reviewed 2008 Dual EC commit.  A reviewer count looks fine; only the
signatures, which bind each approval to a commit id and tree, tell.
"""

from __future__ import annotations

from kleptolab.supplychain.gitrepo import Git, Identity
from kleptolab.supplychain.policy import PROVENANCE_NOTES, REVIEW_NOTES
from kleptolab.supplychain.source import PROTECTED_PATHS
from kleptolab.supplychain.timeline import PERSONAS

__all__ = ["rewrite_history"]

_FMT = "%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI"


def rewrite_history(
    git: Git, tags: dict[str, str], insider: str = "eli", impersonated: str = "ada"
) -> dict[str, str]:
    """Rewrite the repository in place; return old commit id -> new commit id."""
    victim = PERSONAS[impersonated]
    culprit = PERSONAS[insider]
    order = git.run("rev-list", "--topo-order", "--reverse", "--branches", "--tags").split()
    reviews = git.notes(REVIEW_NOTES)
    donor = next(
        c.id
        for c in git.commits("--branches")
        if c.author_email == victim.email and "Dual EC" in c.subject
    )
    mapping: dict[str, str] = {}
    forged: set[str] = set()
    for old in order:
        _h, tree, parents, an, ae, ad, cn, ce, cd = (
            git.run("show", "-s", f"--format={_FMT}", old).strip().split("\x1f")
        )
        message = git.run_bytes("show", "-s", "--format=%B", old)
        new_parents = [mapping.get(p, p) for p in parents.split()]
        info = git.commit(old)
        protected = any(p.startswith(PROTECTED_PATHS) for p in git.changed_paths(info))
        reauthor = ae == culprit.email and protected
        if not reauthor and new_parents == parents.split():
            mapping[old] = old
            continue
        author = Identity(victim.name, victim.email, ad) if reauthor else Identity(an, ae, ad)
        committer = Identity(victim.name, victim.email, cd) if reauthor else Identity(cn, ce, cd)
        args = ["commit-tree", tree]
        for parent in new_parents:
            args += ["-p", parent]
        new = git.run(*args, stdin=message, identity=(author, committer)).strip()
        mapping[old] = new
        if reauthor:
            forged.add(new)
    for line in git.run(
        "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"
    ).splitlines():
        ref, target = line.split()
        git.run("update-ref", ref, mapping.get(target, target))
    for name in tags:
        fields = git.run(
            "for-each-ref",
            "--format=%(taggername)\x1f%(taggeremail:trim)\x1f"
            "%(taggerdate:iso-strict)\x1f%(contents)",
            f"refs/tags/{name}",
        )
        tagger_name, tagger_email, tag_date, contents = fields.split("\x1f", 3)
        target = git.rev(name)
        if mapping.get(target, target) != target:
            tagger = Identity(tagger_name, tagger_email, tag_date)
            git.run(
                "tag",
                "-f",
                "-a",
                "-m",
                contents.strip(),
                name,
                mapping[target],
                identity=(tagger, tagger),
            )
    when = Identity(culprit.name, culprit.email, "2015-11-20T23:40:00-0800")
    for notes_ref in (REVIEW_NOTES, PROVENANCE_NOTES):
        for old, text in git.notes(notes_ref).items():
            new = mapping.get(old, old)
            if new != old:
                git.add_note(notes_ref, new, text.decode("utf-8"), when)
                git.run("notes", f"--ref={notes_ref}", "remove", old, identity=(when, when))
    for new in forged:  # paste the crypto lead's genuine 2008 approvals
        git.add_note(REVIEW_NOTES, new, reviews[donor].decode("utf-8"), when)
    git.run("checkout", "-q", "-f", "main")
    return mapping
