"""Signed statements: in-toto Statement v1 in DSSE envelopes, signed with Ed25519.

Format references: in-toto Attestation Framework (Statement v1,
https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md), DSSE v1
(https://github.com/secure-systems-lab/dsse/blob/master/protocol.md: the
signature covers ``PAE(payloadType, payload)``), SLSA provenance v1
(https://slsa.dev/spec/v1.0/provenance) for release builds.  The primitives
are pyca/cryptography's Ed25519 (RFC 8032).  Key ids are the SHA-256 of the
raw 32-byte public key, in hex.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "IN_TOTO_PAYLOAD",
    "REVIEW_PREDICATE",
    "SLSA_PREDICATE",
    "STATEMENT_TYPE",
    "Signer",
    "canonical",
    "key_id",
    "open_envelope",
    "pae",
    "public_hex",
    "sign_envelope",
    "statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
REVIEW_PREDICATE = "https://kleptolab.example/code-review/v1"
SLSA_PREDICATE = "https://slsa.dev/provenance/v1"


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def public_hex(key: Ed25519PublicKey) -> str:
    """The raw public key as hex."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id(public: str) -> str:
    """SHA-256 of the raw public key (hex in, hex out)."""
    return hashlib.sha256(bytes.fromhex(public)).hexdigest()


@dataclass(frozen=True)
class Signer:
    """A persona's (or machine's) Ed25519 key."""

    owner: str
    key: Ed25519PrivateKey

    @classmethod
    def generate(cls, owner: str) -> Signer:
        """A fresh key (per run)."""
        return cls(owner, Ed25519PrivateKey.generate())

    @property
    def public(self) -> str:
        return public_hex(self.key.public_key())

    @property
    def keyid(self) -> str:
        return key_id(self.public)


def statement(
    subject_name: str, digest: dict[str, str], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 about one subject."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": digest}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_envelope(
    payload: dict[str, Any], signer: Signer, payload_type: str = IN_TOTO_PAYLOAD
) -> dict[str, Any]:
    """A DSSE envelope over the canonical JSON of ``payload``."""
    body = canonical(payload)
    sig = signer.key.sign(pae(payload_type, body))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(body).decode(),
        "signatures": [{"keyid": signer.keyid, "sig": base64.b64encode(sig).decode()}],
    }


def open_envelope(envelope: object, keys: dict[str, str]) -> tuple[dict[str, Any], list[str], str]:
    """Verify a DSSE envelope against ``keys`` (keyid -> public hex).

    Returns ``(payload, verified keyids, problem)``; ``problem`` is ``""`` when at
    least one signature verifies, else why none did.  Never raises on bad input.
    """
    if not isinstance(envelope, dict):
        return {}, [], "not a DSSE envelope"
    try:
        body = base64.b64decode(str(envelope.get("payload", "")), validate=True)
        payload = json.loads(body)
        payload_type = str(envelope.get("payloadType", ""))
    except (ValueError, TypeError):
        return {}, [], "payload is not base64 JSON"
    if not isinstance(payload, dict):
        return {}, [], "payload is not a JSON object"
    good: list[str] = []
    problems: list[str] = []
    for entry in envelope.get("signatures") or []:
        kid = str(entry.get("keyid", "")) if isinstance(entry, dict) else ""
        if kid not in keys:
            problems.append(f"unknown key {kid[:12]}")
            continue
        try:
            sig = base64.b64decode(str(entry.get("sig", "")), validate=True)
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(keys[kid])).verify(
                sig, pae(payload_type, body)
            )
        except (InvalidSignature, ValueError):
            problems.append(f"bad signature by {kid[:12]}")
            continue
        good.append(kid)
    if good:
        return payload, good, ""
    return payload, [], "; ".join(problems) or "no signatures"
