"""Our DSSE envelopes verify with securesystemslib, the in-toto project's signing library."""

from __future__ import annotations

import copy
import json

import pytest

from kleptolab.supplychain.attest import (
    IN_TOTO_PAYLOAD,
    REVIEW_PREDICATE,
    Signer,
    sign_envelope,
    statement,
)

dsse = pytest.importorskip("securesystemslib.dsse", reason="securesystemslib not installed")
signer_mod = pytest.importorskip("securesystemslib.signer")
exceptions = pytest.importorskip("securesystemslib.exceptions")


def test_envelopes_verify_with_securesystemslib() -> None:
    reviewer = Signer.generate("bram")
    stmt = statement(
        "git+screenos-lab:" + "ab" * 20,
        {"gitCommit": "ab" * 20},
        REVIEW_PREDICATE,
        {"decision": "approved", "tree": "cd" * 20},
    )
    envelope = sign_envelope(stmt, reviewer)
    key = signer_mod.SSlibKey(reviewer.keyid, "ed25519", "ed25519", {"public": reviewer.public})
    parsed = dsse.Envelope.from_dict(copy.deepcopy(envelope))
    assert parsed.payload_type == IN_TOTO_PAYLOAD
    assert list(parsed.verify([key], 1)) == [reviewer.keyid]
    assert json.loads(parsed.payload) == stmt
    tampered = dsse.Envelope.from_dict(copy.deepcopy(envelope))
    tampered.payload = json.dumps(dict(stmt, subject=[])).encode()
    with pytest.raises(exceptions.VerificationError):
        tampered.verify([key], 1)
