"""``kleptolab supplychain init``: build the lab repository, its review records and shipped images.

Source commits are deterministic (fixed identities, dates and git environment:
the same lab Q gives the same commit ids).  Review approvals and build
provenance are signed with Ed25519 keys generated per run and kept out of the
source history (git notes, and the signed policy at ``refs/kleptolab/policy``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from kleptolab.device.firmware import build_image
from kleptolab.device.profiles import LAB_MASTER_PASSWORD, profile_for
from kleptolab.drbg.curves import P256
from kleptolab.supplychain.attest import (
    REVIEW_PREDICATE,
    SLSA_PREDICATE,
    Signer,
    canonical,
    sign_envelope,
    statement,
)
from kleptolab.supplychain.gitrepo import Git, Identity
from kleptolab.supplychain.policy import (
    POLICY_REF,
    PROVENANCE_NOTES,
    REVIEW_NOTES,
    Persona,
    make_policy,
)
from kleptolab.supplychain.rewrite import rewrite_history
from kleptolab.supplychain.source import PROTECTED_PATHS, build_from_tree
from kleptolab.supplychain.timeline import BUILDER, PERSONAS, ROOT, Event, events_for

__all__ = ["LabRepo", "create_lab", "identity"]


@dataclass
class LabRepo:
    """What ``create_lab`` made: tags, shipped image paths, signer keys (this run only)."""

    path: Path
    images: Path
    scenario: str
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit (before any rewrite)
    shipped: dict[str, Path] = field(default_factory=dict)
    signers: dict[str, Signer] = field(default_factory=dict)
    root: Signer | None = None


def identity(persona: Persona, date: str) -> Identity:
    return Identity(persona.name, persona.email, date)


def _approve(git: Git, commit: str, event: Event, signers: dict[str, Signer]) -> None:
    info = git.commit(commit)
    paths = git.changed_paths(info)
    envelopes = []
    for reviewer in event.approvers:
        predicate = {
            "decision": "approved",
            "reviewer": reviewer,
            "tree": info.tree,
            "parents": list(info.parents),
            "author": f"{info.author} <{info.author_email}>",
            "summary": info.subject,
            "paths": paths,
            "reviewedAt": event.date,
        }
        stmt = statement(
            f"git+screenos-lab:{commit}", {"gitCommit": commit}, REVIEW_PREDICATE, predicate
        )
        envelopes.append(sign_envelope(stmt, signers[reviewer]))
    if envelopes:
        last = PERSONAS[event.approvers[-1]]
        git.add_note(
            REVIEW_NOTES,
            commit,
            canonical({"envelopes": envelopes}).decode(),
            identity(last, event.date),
        )


def _provenance(git: Git, tag: str, commit: str, image: bytes, date: str, signer: Signer) -> None:
    predicate = {
        "buildDefinition": {
            "buildType": "https://kleptolab.example/screenos-release/v1",
            "externalParameters": {"tag": tag, "source": f"git+screenos-lab@refs/tags/{tag}"},
            "resolvedDependencies": [
                {"uri": f"git+screenos-lab@refs/tags/{tag}", "digest": {"gitCommit": commit}}
            ],
        },
        "runDetails": {
            "builder": {"id": f"https://kleptolab.example/{BUILDER}"},
            "metadata": {"finishedOn": date},
        },
    }
    stmt = statement(
        f"{tag}.bin", {"sha256": hashlib.sha256(image).hexdigest()}, SLSA_PREDICATE, predicate
    )
    git.add_note(
        PROVENANCE_NOTES,
        commit,
        canonical({"envelopes": [sign_envelope(stmt, signer)]}).decode(),
        identity(PERSONAS[BUILDER], date),
    )


def _tampered(tag: str, lab_q: tuple[int, int]) -> bytes | None:
    """What the compromised build server ships instead of the honest build (or ``None``)."""
    profile = profile_for(tag)
    if not (profile.vpn_backdoor or profile.admin_backdoor):
        return None
    return build_image(
        profile,
        trapdoor_q=lab_q,
        master_password=LAB_MASTER_PASSWORD if profile.admin_backdoor else None,
    )


def create_lab(
    path: Path, images: Path, lab_q: tuple[int, int], scenario: str = "insider"
) -> LabRepo:
    """Create the repository at ``path`` (must not exist or be empty) and the shipped images."""
    if not P256.contains(lab_q):
        raise ValueError("the lab Q is not a point of P-256")
    events = events_for(scenario, lab_q[0])
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise ValueError(f"{path} is not empty")
    images.mkdir(parents=True, exist_ok=True)
    git = Git(path)
    git.run("init", "-q", "-b", "main")
    lab = LabRepo(path, images, scenario)
    lab.signers = {pid: Signer.generate(pid) for pid in PERSONAS}
    lab.root = Signer.generate(ROOT.id)
    team = {pid: (PERSONAS[pid], lab.signers[pid]) for pid in PERSONAS}
    policy = make_policy(lab.root, team, [BUILDER], PROTECTED_PATHS)
    git.write_ref_blob(POLICY_REF, canonical(policy))
    current = "main"
    for event in events:
        if event.fork is not None:
            git.run("checkout", "-q", "-b", event.branch, event.fork)
            current = event.branch
        elif event.branch != current:
            git.run("checkout", "-q", event.branch)
            current = event.branch
        git.write_tree_files(event.changes)
        who = identity(PERSONAS[event.author], event.date)
        commit = git.commit_all(event.message, who, who)
        _approve(git, commit, event, lab.signers)
        if event.tag is not None:
            tagger = identity(PERSONAS["dana"], event.date)
            git.tag(event.tag, commit, f"ScreenOS {event.tag}", tagger)
            image = build_from_tree(git.files(commit))
            if scenario == "build-server":
                image = _tampered(event.tag, lab_q) or image
            _provenance(git, event.tag, commit, image, event.date, lab.signers[BUILDER])
            target = images / f"{event.tag}.bin"
            target.write_bytes(image)
            lab.tags[event.tag] = commit
            lab.shipped[event.tag] = target
    git.run("checkout", "-q", "main")
    if scenario == "rewrite":
        rewrite_history(git, lab.tags)
    return lab
