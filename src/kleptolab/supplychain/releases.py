"""Rebuild each release tag and compare it with the shipped image and its provenance.

The comparison is made twice: byte for byte (SHA-256), and at the level of the
scanner's findings (:func:`kleptolab.defend.scan.scan_bytes`), so that a
mismatch is explained as "the shipped image carries a replaced Q that the
source does not" rather than "the hashes differ" (Reproducible Builds; SLSA
v1 "verifying artifacts").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from kleptolab.defend.scan import scan_bytes
from kleptolab.supplychain.attest import SLSA_PREDICATE, STATEMENT_TYPE, open_envelope
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.policy import PROVENANCE_NOTES, Policy
from kleptolab.supplychain.source import build_from_tree

__all__ = ["BAD_VERDICTS", "Indicator", "ReleaseCheck", "check_releases", "indicators"]

BAD_VERDICTS = frozenset({"known-bad", "replaced-q"})


@dataclass(frozen=True, order=True)
class Indicator:
    """A scanner finding without its offset: what it is and its value."""

    kind: str  # constant id, or "replaced-q"
    verdict: str
    value: str

    @property
    def bad(self) -> bool:
        return self.verdict in BAD_VERDICTS

    @property
    def label(self) -> str:
        if self.kind == "replaced-q":
            return f"replaced Dual EC Q (Qx {self.value[:16]}...)"
        if "password" in self.kind:
            return f"master password {self.value!r} ({self.kind})"
        return f"{self.kind} ({self.verdict})"


def indicators(name: str, image: bytes) -> set[Indicator]:
    """The scanner's findings in ``image`` as offset-free indicators."""
    found = set()
    for f in scan_bytes(name, image).findings:
        h = f.hit
        kind = h.constant.id if h.constant else h.verdict.value
        found.add(Indicator(kind, h.verdict.value, h.value))
    return found


@dataclass
class ReleaseCheck:
    """One release tag: rebuild, shipped image, provenance."""

    tag: str
    commit: str
    image: Path | None
    rebuilt_sha256: str = ""
    shipped_sha256: str | None = None
    identical: bool | None = None
    rebuilt: set[Indicator] = field(default_factory=set)
    shipped: set[Indicator] = field(default_factory=set)
    provenance: str = (
        "missing"  # ok | missing | bad-signature | wrong-image | wrong-commit | malformed
    )
    provenance_commit: str | None = None
    provenance_signer: str | None = None
    error: str | None = None

    @property
    def added(self) -> list[Indicator]:
        """Indicators in the shipped image that the source does not produce."""
        return sorted(self.shipped - self.rebuilt)

    @property
    def removed(self) -> list[Indicator]:
        return sorted(self.rebuilt - self.shipped)


def _provenance(git: Git, check: ReleaseCheck, policy: Policy, notes: dict[str, bytes]) -> None:
    raw = notes.get(check.commit)
    candidates = []
    if raw is None:
        # The tag may have moved: look for provenance naming this tag anywhere.
        for text in notes.values():
            if f'refs/tags/{check.tag}"' in text.decode("utf-8", "replace"):
                candidates.append(text)
    else:
        candidates.append(raw)
    for text in candidates:
        try:
            envelopes = json.loads(text)["envelopes"]
        except (ValueError, KeyError, TypeError):
            check.provenance = "malformed"
            continue
        for envelope in envelopes:
            payload, good, problem = open_envelope(envelope, policy.keys)
            if problem or good[0] not in policy.builders:
                check.provenance = "bad-signature"
                continue
            try:
                if payload["_type"] != STATEMENT_TYPE or payload["predicateType"] != SLSA_PREDICATE:
                    continue
                params = payload["predicate"]["buildDefinition"]
                if params["externalParameters"]["tag"] != check.tag:
                    continue
                signed_commit = str(params["resolvedDependencies"][0]["digest"]["gitCommit"])
                signed_sha = str(payload["subject"][0]["digest"]["sha256"])
            except (KeyError, IndexError, TypeError):
                check.provenance = "malformed"
                continue
            check.provenance_signer = policy.owners.get(good[0], good[0][:12])
            check.provenance_commit = signed_commit
            if signed_commit != check.commit:
                check.provenance = "wrong-commit"
            elif check.shipped_sha256 is not None and signed_sha != check.shipped_sha256:
                check.provenance = "wrong-image"
            else:
                check.provenance = "ok"
            return


def check_releases(
    git: Git, tags: dict[str, str], images: Path, policy: Policy, warnings: list[str]
) -> list[ReleaseCheck]:
    """Rebuild every tag, compare with ``images/<tag>.bin`` and check its provenance."""
    notes = git.notes(PROVENANCE_NOTES)
    checks = []
    for tag in sorted(tags, key=lambda t: git.commit(tags[t]).committer_date):
        path = images / f"{tag}.bin"
        check = ReleaseCheck(tag, tags[tag], path if path.is_file() else None)
        try:
            rebuilt = build_from_tree(git.files(check.commit))
        except ValueError as exc:
            check.error = f"cannot rebuild {tag}: {exc}"
            rebuilt = b""
        check.rebuilt_sha256 = hashlib.sha256(rebuilt).hexdigest()
        if rebuilt:
            check.rebuilt = indicators(f"rebuild:{tag}", rebuilt)
        if check.image is None:
            warnings.append(f"no shipped image {path.name} for release tag {tag}")
        else:
            shipped = check.image.read_bytes()
            check.shipped_sha256 = hashlib.sha256(shipped).hexdigest()
            check.identical = shipped == rebuilt
            check.shipped = indicators(str(check.image), shipped)
        _provenance(git, check, policy, notes)
        checks.append(check)
    for extra in sorted(p.name for p in images.glob("*.bin") if p.stem not in tags):
        warnings.append(f"shipped image {extra} has no release tag in the repository")
    return checks
