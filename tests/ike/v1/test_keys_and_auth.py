"""RFC 2409 key expansion rules, NAT-D detection, RSA signatures and the lab CA."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.auth import (
    AuthenticationError,
    id_payload,
    identity_of,
    issue_certificate,
    make_lab_ca,
    rsa_sign,
    rsa_verify,
    ts_id_payload,
    ts_of,
    verify_certificate,
)
from kleptolab.ike.v1.constants import NETSCREEN_VIDS, VID_NATT_DRAFT_03, VID_NATT_RFC3947, IdType
from kleptolab.ike.v1.natt import NatTVersion, detect_nat, natd_hash, natt_version
from kleptolab.ike.v1.payloads import IdPayload


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def test_ka_truncates_or_expands() -> None:
    e = bytes(range(20))
    assert kdf.expand_ka(Prf.HMAC_SHA1, e, 16) == e[:16]
    k1 = _hmac(e, b"\x00")
    k2 = _hmac(e, k1)
    assert kdf.expand_ka(Prf.HMAC_SHA1, e, 24) == (k1 + k2)[:24]
    assert kdf.expand_ka(Prf.HMAC_SHA2_512, bytes(64), 32) == bytes(32)


def test_keymat_expansion_and_split() -> None:
    d, spi, ni, nr, gxy = b"d" * 20, b"\x01\x02\x03\x04", b"i" * 16, b"r" * 16, b"g" * 128
    seed = gxy + b"\x03" + spi + ni + nr
    k1 = _hmac(d, seed)
    k2 = _hmac(d, k1 + seed)
    k3 = _hmac(d, k2 + seed)
    assert kdf.keymat(Prf.HMAC_SHA1, d, 3, spi, ni, nr, 44, gxy) == (k1 + k2 + k3)[:44]
    esp = kdf.esp_sa_keys(Prf.HMAC_SHA1, d, spi, ni, nr, Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, gxy)
    assert esp.encr_key + esp.integ_key == (k1 + k2 + k3)[:44]
    no_pfs = kdf.esp_sa_keys(Prf.HMAC_SHA1, d, spi, ni, nr, Encr.AES_CTR, 16, Integ.HMAC_SHA1_96)
    assert len(no_pfs.encr_key) == 20 and no_pfs.encr_key[:20] == _hmac(d, b"\x03" + spi + ni + nr)


def test_skeyid_forms_and_ivs() -> None:
    ni, nr, gxy, ci, cr = b"n" * 16, b"m" * 16, b"x" * 96, b"c" * 8, b"k" * 8
    assert kdf.skeyid_psk(Prf.HMAC_SHA1, b"psk", ni, nr) == _hmac(b"psk", ni + nr)
    assert kdf.skeyid_sig(Prf.HMAC_SHA1, ni, nr, gxy) == _hmac(ni + nr, gxy)
    assert kdf.skeyid_pke(Prf.HMAC_SHA1, ni, nr, ci, cr) == _hmac(
        hashlib.sha1(ni + nr).digest(), ci + cr
    )
    assert (
        kdf.phase2_iv(Prf.HMAC_MD5, b"v" * 8, 0x01020304, 8)
        == hashlib.md5(b"v" * 8 + b"\x01\x02\x03\x04").digest()[:8]
    )
    assert kdf.qm_hash3(Prf.HMAC_SHA1, b"a", 5, ni, nr) == _hmac(
        b"a", b"\x00\x00\x00\x00\x05" + ni + nr
    )
    with pytest.raises(ValueError, match="message ID 4294967296 does not fit 32 bits"):
        kdf.qm_hash1(Prf.HMAC_SHA1, b"a", 1 << 32, b"")


def test_nat_detection() -> None:
    ci, cr = b"i" * 8, b"r" * 8
    me, peer = ("10.0.0.2", 500), ("192.0.2.1", 500)
    seen_me = natd_hash(Prf.HMAC_SHA1, ci, cr, ("198.51.100.9", 4500))
    state = detect_nat(
        Prf.HMAC_SHA1, ci, cr, me, peer, [seen_me, natd_hash(Prf.HMAC_SHA1, ci, cr, peer)]
    )
    assert state.local_behind_nat and not state.remote_behind_nat and state.detected
    same = [natd_hash(Prf.HMAC_SHA1, ci, cr, me), natd_hash(Prf.HMAC_SHA1, ci, cr, peer)]
    assert not detect_nat(Prf.HMAC_SHA1, ci, cr, me, peer, same).detected
    assert natt_version([VID_NATT_DRAFT_03]) is NatTVersion.DRAFT
    assert natt_version([VID_NATT_DRAFT_03, VID_NATT_RFC3947]) is NatTVersion.RFC3947
    assert natt_version([NETSCREEN_VIDS["Netscreen-01"]]) is NatTVersion.NONE


def test_identities_and_selectors() -> None:
    assert identity_of(id_payload("192.0.2.1")) == "192.0.2.1"
    assert id_payload("vpn@example.org").id_type == IdType.USER_FQDN
    assert identity_of(id_payload("gw.example")) == "gw.example"
    import ipaddress

    for net in ("10.1.0.0/16", "203.0.113.1/32"):
        assert ts_of(ts_id_payload(ipaddress.IPv4Network(net))) == ipaddress.IPv4Network(net)
    rng = IdPayload(IdType.IPV4_ADDR_RANGE, 0, 0, bytes([10, 0, 0, 0, 10, 0, 0, 255]))
    assert ts_of(rng) == ipaddress.IPv4Network("10.0.0.0/24")
    with pytest.raises(ValueError, match="type 2 with 3 bytes is not an IPv4 selector"):
        ts_of(IdPayload(IdType.FQDN, 0, 0, b"abc"))


def test_rsa_signatures_and_certificates() -> None:
    ca = make_lab_ca(key_size=1024)
    gw = issue_certificate(ca, "gw.example", key_size=1024)
    key = verify_certificate(gw.cert_der, ca.cert_der, "gw.example")
    digest = hashlib.sha1(b"HASH_R").digest()
    sig = rsa_sign(gw.key_pem, digest)
    rsa_verify(key, sig, digest)
    with pytest.raises(AuthenticationError, match="covers a different hash"):
        rsa_verify(key, sig, bytes(20))
    with pytest.raises(AuthenticationError, match="does not verify"):
        rsa_verify(key, bytes(len(sig)), digest)
    with pytest.raises(AuthenticationError, match=r"does not name 'other\.example'"):
        verify_certificate(gw.cert_der, ca.cert_der, "other.example")
    rogue = make_lab_ca("rogue", key_size=1024)
    with pytest.raises(AuthenticationError, match="not signed by the trusted CA"):
        verify_certificate(gw.cert_der, rogue.cert_der, "gw.example")
