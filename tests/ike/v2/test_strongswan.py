"""Acceptance: the two IKEv2 strongSwan runs, from the pcap plus only the PSK and the logged g^ir."""

from __future__ import annotations

import pytest

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.ike.v2.constants import (
    ExchangeType,
    TransformType,
    encr_from_id,
    integ_from_id,
    prf_from_id,
)
from kleptolab.ike.v2.keys import derive_child_keys, derive_ike_keys, psk_auth, signed_octets
from kleptolab.ike.v2.payloads import (
    AuthPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    build_message,
    parse_message,
)
from kleptolab.ike.v2.proposals import Proposal, SaPayload
from kleptolab.ike.v2.sk import IntegrityError, SkKeys, unprotect
from tests.ike.v2.helpers import STRONGSWAN_V2, StrongswanCase, strongswan_case


def _algorithms(proposal: Proposal) -> tuple[Encr, int]:
    encr_t = proposal.of_type(TransformType.ENCR)[0]
    encr = encr_from_id(encr_t.id)
    key_size = encr_t.key_length // 8 if encr_t.key_length else encr.key_sizes[0]
    return encr, key_size


def _only(payloads: tuple[object, ...], kind: type) -> object:
    found = [p for p in payloads if type(p) is kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.fixture(params=STRONGSWAN_V2, scope="module")
def case(request: pytest.FixtureRequest) -> StrongswanCase:
    return strongswan_case(request.param)


def test_every_message_round_trips_to_identical_bytes(case: StrongswanCase) -> None:
    assert len(case.messages) == 4
    for raw in case.messages:
        assert build_message(parse_message(raw)) == raw


def test_derives_logged_keys_verifies_auth_and_child_keys(case: StrongswanCase) -> None:
    init_req, init_resp = (parse_message(m) for m in case.messages[:2])
    assert init_req.exchange_type == init_resp.exchange_type == ExchangeType.IKE_SA_INIT
    sa = _only(init_resp.payloads, SaPayload)
    assert isinstance(sa, SaPayload)
    chosen = sa.proposals[0]
    encr, key_size = _algorithms(chosen)
    integ = integ_from_id(chosen.of_type(TransformType.INTEG)[0].id)
    prf = prf_from_id(chosen.of_type(TransformType.PRF)[0].id)
    ni = _only(init_req.payloads, NoncePayload).nonce  # type: ignore[attr-defined]
    nr = _only(init_resp.payloads, NoncePayload).nonce  # type: ignore[attr-defined]
    ke = _only(init_resp.payloads, KePayload)
    assert isinstance(ke, KePayload) and ke.group == chosen.of_type(TransformType.DH)[0].id

    # Only the PSK and the logged DH secret come from outside the capture.
    shared = case.one("shared Diffie Hellman secret")
    psk = str(case.keys["psk"]).encode()
    keys = derive_ike_keys(prf, encr, key_size, integ, ni, nr, shared, init_req.spi_i, init_resp.spi_r)
    assert keys.skeyseed == case.one("SKEYSEED")
    for name, label in [("sk_d", "Sk_d"), ("sk_ai", "Sk_ai"), ("sk_ar", "Sk_ar"), ("sk_ei", "Sk_ei"),
                        ("sk_er", "Sk_er"), ("sk_pi", "Sk_pi"), ("sk_pr", "Sk_pr")]:
        assert getattr(keys, name) == case.one(f"{label} secret"), name

    sk = SkKeys(encr, integ, keys.sk_ei, keys.sk_er, keys.sk_ai, keys.sk_ar)
    auth_req, auth_resp = (unprotect(m, sk) for m in case.messages[2:])
    assert auth_req.exchange_type == auth_resp.exchange_type == ExchangeType.IKE_AUTH

    # AUTH payloads verify with the PSK (and equal what charon logged).
    idi = _only(auth_req.payloads, IdiPayload)
    idr = _only(auth_resp.payloads, IdrPayload)
    assert isinstance(idi, IdiPayload) and isinstance(idr, IdrPayload)
    octets_i = signed_octets(case.messages[0], nr, prf, keys.sk_pi, idi.build())
    octets_r = signed_octets(case.messages[1], ni, prf, keys.sk_pr, idr.build())
    assert octets_i == case.one("octets = message + nonce + prf(Sk_px, IDx')", 0)
    auth_i = _only(auth_req.payloads, AuthPayload)
    auth_r = _only(auth_resp.payloads, AuthPayload)
    assert isinstance(auth_i, AuthPayload) and isinstance(auth_r, AuthPayload)
    assert auth_i.data == psk_auth(prf, psk, octets_i) == case.one("AUTH = prf(prf(secret, keypad), octets)", 0)
    assert auth_r.data == psk_auth(prf, psk, octets_r) == case.one("AUTH = prf(prf(secret, keypad), octets)", 1)
    assert auth_i.data != psk_auth(prf, b"wrong", octets_i)

    # Child ESP keys: initiator->responder SA uses the SPI the responder chose.
    esp_req = _only(auth_req.payloads, SaPayload)
    esp_resp = _only(auth_resp.payloads, SaPayload)
    assert isinstance(esp_req, SaPayload) and isinstance(esp_resp, SaPayload)
    esp = esp_resp.proposals[0]
    child_encr, child_key_size = _algorithms(esp)
    child_integ = integ_from_id(esp.of_type(TransformType.INTEG)[0].id)
    km = derive_child_keys(prf, keys.sk_d, child_encr, child_key_size, child_integ, ni, nr)
    sas = case.keys["esp_sas"]
    assert isinstance(sas, dict)
    assert int(sas["initiator"]["spi"], 16).to_bytes(4, "big") == esp.spi
    assert int(sas["responder"]["spi"], 16).to_bytes(4, "big") == esp_req.proposals[0].spi
    assert km.encr_i.hex() == sas["initiator"]["encr_key"]
    assert km.integ_i.hex() == sas["initiator"]["integ_key"]
    assert km.encr_r.hex() == sas["responder"]["encr_key"]
    assert km.integ_r.hex() == sas["responder"]["integ_key"]


def test_wrong_integrity_key_is_rejected(case: StrongswanCase) -> None:
    encr = Encr.TDES_CBC if "3des" in case.name else Encr.AES_CBC
    integ = Integ.HMAC_SHA1_96 if "3des" in case.name else Integ.HMAC_SHA2_256_128
    good = SkKeys(encr, integ, case.one("Sk_ei secret"), case.one("Sk_er secret"),
                  case.one("Sk_ai secret"), case.one("Sk_ar secret"))
    assert unprotect(case.messages[2], good).exchange_type == ExchangeType.IKE_AUTH
    bad = SkKeys(encr, integ, good.sk_ei, good.sk_er, bytes(len(good.sk_ai)), good.sk_ar)
    with pytest.raises(IntegrityError, match="does not verify"):
        unprotect(case.messages[2], bad)
    tampered = bytearray(case.messages[3])
    tampered[60] ^= 1
    with pytest.raises(IntegrityError):
        unprotect(bytes(tampered), good)
