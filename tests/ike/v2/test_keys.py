"""Key derivation and AUTH: prf+, SK_* sizes, child KEYMAT order, RSA signatures."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.v1.auth import issue_certificate, make_lab_ca
from kleptolab.ike.v2.keys import (
    KEY_PAD,
    child_keymat,
    derive_child_keys,
    derive_ike_keys,
    derive_sk,
    ike_keys_from_skeyseed,
    prf_plus,
    psk_auth,
    rekeyed_skeyseed,
    rsa_sign,
    rsa_verify,
    skeyseed,
)
from tests.ike.v2.helpers import STRONGSWAN_V2, strongswan_case


@given(st.sampled_from(list(Prf)), st.binary(max_size=40), st.binary(max_size=40), st.integers(0, 300))
def test_prf_plus_is_the_rfc_iteration(prf: Prf, key: bytes, seed: bytes, size: int) -> None:
    out = prf_plus(prf, key, seed, size)
    assert len(out) == size
    t, expected = b"", b""
    for n in range(1, 1 + -(-size // prf.output_size)):
        t = hmac.new(key, t + seed + bytes([n]), prf.hash_name).digest()
        expected += t
    assert out == expected[:size]
    assert prf_plus(prf, key, seed, size + 7)[:size] == out


def test_prf_plus_refuses_more_than_255_blocks() -> None:
    assert len(prf_plus(Prf.HMAC_MD5, b"k", b"s", 255 * 16)) == 4080
    with pytest.raises(ValueError, match="255 blocks"):
        prf_plus(Prf.HMAC_MD5, b"k", b"s", 255 * 16 + 1)


@pytest.mark.parametrize(("encr", "key_size", "integ", "ei", "ai"), [
    (Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, 24, 20),
    (Encr.AES_CTR, 32, Integ.HMAC_SHA2_512_256, 36, 64),
    (Encr.AES_GCM_16, 16, None, 20, 0),
    (Encr.AES_CCM_8, 24, None, 27, 0),
])
def test_key_sizes(encr: Encr, key_size: int, integ: Integ | None, ei: int, ai: int) -> None:
    keys = derive_ike_keys(Prf.HMAC_SHA2_384, encr, key_size, integ, b"n" * 32, b"m" * 32, b"g" * 128,
                           bytes(8), bytes(range(8)))
    assert (len(keys.sk_ei), len(keys.sk_er), len(keys.sk_ai), len(keys.sk_ar)) == (ei, ei, ai, ai)
    assert len(keys.sk_d) == len(keys.sk_pi) == len(keys.sk_pr) == 48
    stream = prf_plus(Prf.HMAC_SHA2_384, keys.skeyseed, b"n" * 32 + b"m" * 32 + bytes(8) + bytes(range(8)),
                      3 * 48 + 2 * ai + 2 * ei)
    assert stream == b"".join(keys.as_dict()[k] for k in ("SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er",
                                                          "SK_pi", "SK_pr"))
    assert derive_sk is derive_ike_keys and child_keymat is derive_child_keys
    with pytest.raises(ValueError, match="SPIi must be 8 bytes"):
        derive_ike_keys(Prf.HMAC_SHA1, encr, key_size, integ, b"n", b"m", b"g", b"", bytes(8))


def test_child_keymat_order_with_and_without_pfs() -> None:
    km = derive_child_keys(Prf.HMAC_SHA1, b"d" * 20, Encr.AES_CTR, 16, Integ.HMAC_SHA1_96, b"i", b"r")
    stream = prf_plus(Prf.HMAC_SHA1, b"d" * 20, b"ir", 2 * (20 + 20))
    assert (km.encr_i, km.integ_i, km.encr_r, km.integ_r) == (stream[:20], stream[20:40], stream[40:60],
                                                              stream[60:])
    pfs = derive_child_keys(Prf.HMAC_SHA1, b"d" * 20, Encr.AES_CTR, 16, Integ.HMAC_SHA1_96, b"i", b"r", b"gir")
    assert pfs.encr_i == prf_plus(Prf.HMAC_SHA1, b"d" * 20, b"girir", 20)


def test_rekeyed_skeyseed_and_psk_auth_definitions() -> None:
    assert rekeyed_skeyseed(Prf.HMAC_SHA1, b"d", b"g", b"i", b"r") == hmac.new(b"d", b"gir", "sha1").digest()
    assert skeyseed(Prf.HMAC_MD5, b"i", b"r", b"g") == hmac.new(b"ir", b"g", "md5").digest()
    inner = hmac.new(b"psk", KEY_PAD, "sha256").digest()
    assert psk_auth(Prf.HMAC_SHA2_256, b"psk", b"oct") == hmac.new(inner, b"oct", "sha256").digest()
    seed = ike_keys_from_skeyseed(Prf.HMAC_SHA1, b"s" * 20, Encr.AES_CBC, 16, Integ.HMAC_SHA1_96,
                                  b"i", b"r", bytes(8), bytes(8))
    assert seed.skeyseed == b"s" * 20


@pytest.mark.parametrize("name", STRONGSWAN_V2)
def test_psk_intermediate_matches_charon(name: str) -> None:
    case = strongswan_case(name)
    prf = Prf.HMAC_SHA1 if "3des" in name else Prf.HMAC_SHA2_256
    assert prf(case.one("secret"), KEY_PAD) == case.one("prf(secret, keypad)")


def test_rsa_signature_round_trip() -> None:
    ca = make_lab_ca(key_size=1024)
    cred = issue_certificate(ca, "gw.example", key_size=1024)
    sig = rsa_sign(cred.key_pem, b"octets")
    assert rsa_verify(cred.cert_der, b"octets", sig)
    assert not rsa_verify(cred.cert_der, b"octetz", sig)
    assert not rsa_verify(ca.cert_der, b"octets", sig)
