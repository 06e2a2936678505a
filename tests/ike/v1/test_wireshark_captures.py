"""Acceptance: Wireshark's IKEv1 captures decrypt with their Ka alone (phase 1 and 2, IV chaining)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.attributes import attribute_map
from kleptolab.ike.v1.constants import P1_ENCR, P1_HASH, CertEncoding, Exchange, P1Attr, P1Auth
from kleptolab.ike.v1.crypto import DecryptedMessage, Ikev1Cipher
from kleptolab.ike.v1.message import Ikev1Message, parse_message
from kleptolab.ike.v1.payloads import CertPayload, HashPayload, KePayload, SaPayload, SigPayload
from tests.conftest import CAPTURES
from tests.ike.v1.capture_util import IkeDatagram, ike_datagrams

WS = CAPTURES / "wireshark-4.0.17"


def _ka_table() -> dict[bytes, bytes]:
    rows = (WS / "ikev1_decryption_table.tmpl").read_text().splitlines()
    pairs = [r.split(",") for r in rows if r.strip() and not r.startswith("#")]
    return {bytes.fromhex(c): bytes.fromhex(k) for c, k in pairs}


def _decrypt_capture(
    name: str,
) -> tuple[list[Ikev1Message], list[DecryptedMessage], list[IkeDatagram]]:
    datagrams = ike_datagrams(Path(WS / name))
    messages = [parse_message(d.data) for d in datagrams]
    answer = messages[1].chain.first(SaPayload)  # type: ignore[union-attr]
    assert answer is not None
    attrs = attribute_map(answer.proposals[0].transforms[0].attributes)
    encr, prf = P1_ENCR[attrs[P1Attr.ENCRYPTION]], P1_HASH[attrs[P1Attr.HASH]]
    kes = [
        m.chain.first(KePayload)
        for m in messages[:4]
        if m.chain is not None and m.chain.first(KePayload)
    ]
    g_xi, g_xr = kes[0].data, kes[1].data  # type: ignore[union-attr]
    ka = _ka_table()[messages[0].header.spi_i]
    cipher = Ikev1Cipher(encr, ka, prf, kdf.phase1_iv(prf, g_xi, g_xr, encr.block_size))
    decrypted = [
        cipher.decrypt(d.data) for d, m in zip(datagrams, messages, strict=True) if m.encrypted
    ]
    return messages, decrypted, datagrams


def _hashes(messages: list[Ikev1Message], decrypted: list[DecryptedMessage]) -> list[bytes]:
    chains = [m.chain for m in messages if m.chain is not None] + [d.chain for d in decrypted]
    return [p.data for c in chains for p in c.payloads if isinstance(p, HashPayload)]


def test_certs_capture_decrypts_and_yields_the_certificates() -> None:
    messages, decrypted, _ = _decrypt_capture("ikev1-certs.pcap")
    assert len(decrypted) == 6 and sum(m.encrypted for m in messages) == 6
    assert [d.header.exchange_type for d in decrypted] == [Exchange.MAIN_MODE] * 2 + [
        Exchange.QUICK_MODE
    ] * 4
    subjects = []
    for d in decrypted[:2]:
        cert = d.chain.first(CertPayload)
        sig = d.chain.first(SigPayload)
        assert cert is not None and sig is not None and cert.encoding == CertEncoding.X509_SIGNATURE
        parsed = x509.load_der_x509_certificate(cert.data)
        subjects.append(parsed.subject.rfc4514_string())
        key = parsed.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        # IKEv1 signs the bare MD5 HASH_I/HASH_R: PKCS#1 type 1 without a DigestInfo
        assert len(key.recover_data_from_signature(sig.data, padding.PKCS1v15(), None)) == 16
    assert "OpenSwan" in subjects[0]
    assert "srx210-3" in subjects[1]
    # frames 7 and 8 are a byte-identical retransmission of QM1: both decrypt with the same IV
    assert decrypted[2].iv == decrypted[3].iv and decrypted[2].plaintext == decrypted[3].plaintext


def test_bug_12610_main_mode_with_interleaved_exchanges() -> None:
    messages, decrypted, _ = _decrypt_capture("ikev1-bug-12610.pcapng.gz")
    sa = messages[1].chain.first(SaPayload)  # type: ignore[union-attr]
    assert (
        attribute_map(sa.proposals[0].transforms[0].attributes)[P1Attr.AUTH_METHOD]
        == P1Auth.XAUTH_INIT_PSK
    )  # type: ignore[union-attr]
    kinds = [d.header.exchange_type for d in decrypted]
    assert kinds[:2] == [Exchange.MAIN_MODE] * 2
    assert Exchange.TRANSACTION in kinds and Exchange.INFORMATIONAL in kinds
    assert kinds[-3:] == [Exchange.QUICK_MODE] * 3
    expected = bytes.fromhex("b52521f774967402c9f6cee95fd17e5b")
    assert any(h.startswith(expected) for h in _hashes([], decrypted))


def test_bug_12620_aggressive_mode_then_encrypted_exchanges() -> None:
    messages, decrypted, _ = _decrypt_capture("ikev1-bug-12620.pcapng.gz")
    assert [m.header.exchange_type for m in messages[:3]] == [Exchange.AGGRESSIVE] * 3
    assert not any(m.encrypted for m in messages[:3])
    assert len(decrypted) == 7
    assert {d.header.exchange_type for d in decrypted} == {
        Exchange.INFORMATIONAL,
        Exchange.TRANSACTION,
    }
    expected = bytes.fromhex("40043b640f4373250d5ac3a1fb63153c")
    assert any(h.startswith(expected) for h in _hashes([], decrypted))


@pytest.mark.parametrize(
    "name", ["ikev1-certs.pcap", "ikev1-bug-12610.pcapng.gz", "ikev1-bug-12620.pcapng.gz"]
)
def test_every_plaintext_message_rebuilds_identically(name: str) -> None:
    messages, decrypted, datagrams = _decrypt_capture(name)
    for d, m in zip(datagrams, messages, strict=True):
        if m.chain is not None:
            assert b"".join(m.chain.raw) == d.data[28:]
            assert b"".join(p.build() for p in m.chain.payloads) == b"".join(
                r[4:] for r in m.chain.raw
            )
    for dm in decrypted:
        assert [p.build() for p in dm.chain.payloads] == [r[4:] for r in dm.chain.raw]
