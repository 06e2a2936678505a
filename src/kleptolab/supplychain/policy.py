"""The machine-readable review policy (an in-toto-layout-like document).

The policy lists the team's public keys (who may approve, who may build) and
rules: a change touching a protected path (the PRNG constants, authentication)
needs approvals from ``approvals`` distinct team keys other than the author's;
other changes need one.  The policy is itself a DSSE envelope signed by the
project owner's root key and stored outside the source history (at
``refs/kleptolab/policy``), so the source commit ids stay deterministic.

"Two sets of eyes on any code change" is the control the CACM 2018 article
(§6, "Lessons") says would have recorded who made the change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kleptolab.supplychain.attest import Signer, key_id, open_envelope, sign_envelope

__all__ = [
    "POLICY_PAYLOAD",
    "POLICY_REF",
    "PROVENANCE_NOTES",
    "REVIEW_NOTES",
    "Persona",
    "Policy",
    "Rule",
    "load_policy",
    "make_policy",
]

POLICY_REF = "refs/kleptolab/policy"
REVIEW_NOTES = "refs/notes/reviews"
PROVENANCE_NOTES = "refs/notes/provenance"
POLICY_PAYLOAD = "application/vnd.kleptolab.review-policy+json"


@dataclass(frozen=True)
class Persona:
    """A fictional lab team member (or machine)."""

    id: str
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class Rule:
    """Changes under any of ``paths`` (prefixes; ``*`` = any) need ``approvals`` approvers."""

    name: str
    paths: tuple[str, ...]
    approvals: int

    def matches(self, path: str) -> bool:
        return any(p == "*" or path.startswith(p) for p in self.paths)


@dataclass(frozen=True)
class Policy:
    """The verified policy: keys by id, who owns them, rules, builders."""

    keys: dict[str, str]  # keyid -> public hex
    owners: dict[str, str]  # keyid -> persona id
    emails: dict[str, str]  # persona id -> email
    reviewers: frozenset[str]  # keyids allowed to approve
    builders: frozenset[str]  # keyids allowed to sign release provenance
    rules: tuple[Rule, ...]
    root_keyid: str

    def rule_for(self, paths: list[str]) -> Rule:
        """The strictest rule any of ``paths`` falls under."""
        best = Rule("any change", ("*",), 1)
        for rule in self.rules:
            if any(rule.matches(p) for p in paths) and rule.approvals > best.approvals:
                best = rule
        return best

    def persona_of_email(self, email: str) -> str | None:
        for persona, mail in self.emails.items():
            if mail.lower() == email.lower():
                return persona
        return None


def make_policy(
    root: Signer,
    team: dict[str, tuple[Persona, Signer]],
    builders: list[str],
    protected: tuple[str, ...],
) -> dict[str, Any]:
    """The signed policy envelope (``team``: persona id -> persona and key)."""
    keys = {
        s.keyid: {
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": s.public},
            "owner": p.id,
            "name": p.name,
            "email": p.email,
            "role": p.role,
        }
        for p, s in team.values()
    }
    doc = {
        "_type": "kleptolab-review-policy",
        "version": 1,
        "keys": keys,
        "reviewers": sorted(s.keyid for pid, (_, s) in team.items() if pid not in builders),
        "builders": sorted(team[b][1].keyid for b in builders),
        "rules": [
            {
                "name": "protected: PRNG constants and authentication",
                "paths": list(protected),
                "approvals": 2,
            },
            {"name": "any change", "paths": ["*"], "approvals": 1},
        ],
        "author_may_not_approve": True,
    }
    envelope = sign_envelope(doc, root, POLICY_PAYLOAD)
    envelope["root_public"] = root.public
    return envelope


def load_policy(raw: bytes, pinned_root: str | None = None) -> tuple[Policy, str]:
    """Parse and verify the policy envelope; ``(policy, note)``.

    The root key is the one the envelope names (``root_public``) unless
    ``pinned_root`` (a key id or public key hex) is given; ``note`` says which.
    ``ValueError`` when the policy is malformed or its signature does not verify.
    """
    try:
        envelope = json.loads(raw)
    except ValueError:
        raise ValueError("the review policy is not JSON") from None
    embedded = envelope.get("root_public") if isinstance(envelope, dict) else None
    if not isinstance(embedded, str) or len(embedded) != 64:
        raise ValueError("the review policy carries no root public key")
    root_id = key_id(embedded)
    if pinned_root is not None:
        if pinned_root.lower() not in (root_id, embedded.lower()):
            raise ValueError(
                f"the review policy is signed by root key {root_id[:16]}, not by "
                f"the pinned {pinned_root[:16]}"
            )
        note = f"root key {root_id[:16]} (pinned)"
    else:
        note = f"root key {root_id[:16]} (trusted on first use: pass --root-key to pin it)"
    payload, _good, problem = open_envelope(envelope, {root_id: embedded})
    if problem:
        raise ValueError(f"the review policy signature does not verify: {problem}")
    try:
        entries = payload["keys"]
        keys = {kid: str(k["keyval"]["public"]) for kid, k in entries.items()}
        owners = {kid: str(k["owner"]) for kid, k in entries.items()}
        emails = {str(k["owner"]): str(k["email"]) for k in entries.values()}
        rules = tuple(
            Rule(str(r["name"]), tuple(r["paths"]), int(r["approvals"])) for r in payload["rules"]
        )
        policy = Policy(
            keys,
            owners,
            emails,
            frozenset(payload["reviewers"]),
            frozenset(payload["builders"]),
            rules,
            root_id,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError(
            "the review policy is missing keys, reviewers, builders or rules"
        ) from None
    for kid, public_key in keys.items():
        if key_id(public_key) != kid:
            raise ValueError(f"the review policy lists key {kid[:16]} under a wrong id")
    return policy, note
