"""ScreenOS proposal names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.device.proposals import (
    ProposalNameError,
    parse_child_proposal,
    parse_ike_proposal,
    parse_screenos_proposal,
    screenos_name,
)
from kleptolab.ike.common import AuthMethod, ChildProposal, IkeProposal


def test_pre_g2_3des_sha() -> None:
    assert parse_ike_proposal("pre-g2-3des-sha") == IkeProposal(
        Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2, AuthMethod.PSK
    )


def test_g2_esp_3des_sha_and_nopfs() -> None:
    assert parse_child_proposal("g2-esp-3des-sha") == ChildProposal(
        Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, 2
    )
    assert parse_child_proposal("nopfs-esp-aes128-md5") == ChildProposal(
        Encr.AES_CBC, 16, Integ.HMAC_MD5_96, None
    )


def test_rsa_and_sha256() -> None:
    p = parse_screenos_proposal("rsa-g14-aes256-sha-256")
    assert isinstance(p, IkeProposal)
    assert (p.auth, p.dh_group, p.key_size, p.prf) == (
        AuthMethod.RSA_SIG,
        14,
        32,
        Prf.HMAC_SHA2_256,
    )


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("pre-g3-3des-sha", "unknown DH group"),
        ("pre-g2-blowfish-sha", "unknown cipher"),
        ("pre-g2-3des-sha1", "unknown hash"),
        ("dsa-g2-3des-sha", "start with 'pre' or 'rsa'"),
        ("g2-ah-3des-sha", "<pfs>-esp-"),
        ("pre-g2-3des", "not a ScreenOS proposal name"),
    ],
)
def test_bad_names(name: str, fragment: str) -> None:
    with pytest.raises(ProposalNameError, match=fragment):
        parse_screenos_proposal(name) if "-esp-" in name or name.startswith(
            ("pre", "dsa")
        ) else parse_child_proposal(name)


@given(
    auth=st.sampled_from(["pre", "rsa"]),
    group=st.sampled_from([1, 2, 5, 14, 19, 20]),
    cipher=st.sampled_from(["des", "3des", "aes128", "aes192", "aes256"]),
    hash_name=st.sampled_from(["md5", "sha", "sha-256"]),
    pfs=st.sampled_from(["nopfs", "g1", "g2", "g5", "g14"]),
)
def test_round_trip(auth: str, group: int, cipher: str, hash_name: str, pfs: str) -> None:
    for name in (f"{auth}-g{group}-{cipher}-{hash_name}", f"{pfs}-esp-{cipher}-{hash_name}"):
        assert screenos_name(parse_screenos_proposal(name)) == name
