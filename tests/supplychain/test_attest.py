"""DSSE envelopes and the signed policy."""

from __future__ import annotations

import base64
import json

import pytest

from kleptolab.supplychain.attest import Signer, canonical, open_envelope, sign_envelope, statement
from kleptolab.supplychain.gitrepo import Git
from kleptolab.supplychain.make import LabRepo
from kleptolab.supplychain.policy import POLICY_REF, load_policy


def test_envelope_round_trip_and_tamper() -> None:
    alice, mallory = Signer.generate("alice"), Signer.generate("mallory")
    stmt = statement("git+x:abc", {"gitCommit": "ab" * 20}, "t", {"decision": "approved"})
    env = sign_envelope(stmt, alice)
    payload, good, problem = open_envelope(env, {alice.keyid: alice.public})
    assert payload == stmt and good == [alice.keyid] and problem == ""
    _, good, problem = open_envelope(env, {mallory.keyid: mallory.public})
    assert not good and "unknown key" in problem
    forged = dict(env, payload=base64.b64encode(canonical(dict(stmt, subject=[]))).decode())
    _, good, problem = open_envelope(forged, {alice.keyid: alice.public})
    assert not good and "bad signature" in problem
    assert open_envelope("junk", {})[2] == "not a DSSE envelope"


def test_policy_verifies_and_refuses_tampering(labs: dict[str, LabRepo]) -> None:
    lab = labs["clean"]
    raw = Git(lab.path).read_ref_blob(POLICY_REF)
    assert raw is not None and lab.root is not None
    policy, note = load_policy(raw, lab.root.keyid)
    assert "pinned" in note and policy.rule_for(["src/prng/dualec_params.h"]).approvals == 2
    assert policy.rule_for(["README"]).approvals == 1
    with pytest.raises(ValueError, match="pinned"):
        load_policy(raw, "00" * 32)
    envelope = json.loads(raw)
    body = json.loads(base64.b64decode(envelope["payload"]))
    body["rules"][0]["approvals"] = 1  # an attacker lowers the bar
    envelope["payload"] = base64.b64encode(canonical(body)).decode()
    with pytest.raises(ValueError, match="signature does not verify"):
        load_policy(json.dumps(envelope).encode())
