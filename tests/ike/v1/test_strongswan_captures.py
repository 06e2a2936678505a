"""Acceptance: from the PSK and the logged DH secrets alone, derive every key strongSwan logged
and decrypt every IKE message of the three IKEv1 strongSwan runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.auth import identity_of
from kleptolab.ike.v1.constants import Exchange, Notify
from kleptolab.ike.v1.crypto import DecryptedMessage, DecryptionError, Ikev1Cipher
from kleptolab.ike.v1.message import Ikev1Message, parse_message
from kleptolab.ike.v1.natt import natd_hash
from kleptolab.ike.v1.payloads import (
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    SaPayload,
)
from kleptolab.ike.v1.proposals import child_offers
from tests.conftest import CAPTURES
from tests.ike.v1.capture_util import IkeDatagram, ike_datagrams, load_keys, logged

CASES = {
    "ikev1-mm-psk-3des-sha1-modp1024": (Encr.TDES_CBC, 24),
    "ikev1-mm-psk-aes128-sha1-modp2048": (Encr.AES_CBC, 16),
    "ikev1-mm-psk-3des-sha1-modp1024-port500-noesp": (Encr.TDES_CBC, 24),
}
PRF = Prf.HMAC_SHA1


@dataclass
class Run:
    keys: dict[str, Any]
    datagrams: list[IkeDatagram]
    messages: list[Ikev1Message]
    encr: Encr
    key_size: int

    @property
    def cky(self) -> tuple[bytes, bytes]:
        return self.messages[1].header.spi_i, self.messages[1].header.spi_r

    def plain(self, index: int, cls: type[Any]) -> Any:
        chain = self.messages[index].chain
        assert chain is not None
        return chain.first(cls)


@pytest.fixture(scope="module", params=sorted(CASES))
def run(request: pytest.FixtureRequest) -> Run:
    case: str = request.param
    folder = CAPTURES / "strongswan-5.9.8" / case
    datagrams = ike_datagrams(Path(folder / f"{case}.pcap"))
    return Run(
        load_keys(folder), datagrams, [parse_message(d.data) for d in datagrams], *CASES[case]
    )


def _phase1(run: Run) -> kdf.Phase1Keys:
    psk = run.keys["psk"].encode()
    ni, nr = run.plain(2, NoncePayload).data, run.plain(3, NoncePayload).data
    g_xi, g_xr = run.plain(2, KePayload).data, run.plain(3, KePayload).data
    g_xy = logged(run.keys, "shared Diffie Hellman secret")[0]
    skeyid = kdf.skeyid_psk(PRF, psk, ni, nr)
    return kdf.derive_phase1(PRF, skeyid, g_xy, *run.cky, g_xi, g_xr, run.encr, run.key_size)


def _decrypt_all(run: Run) -> tuple[Ikev1Cipher, list[DecryptedMessage]]:
    cipher = Ikev1Cipher.from_keys(_phase1(run), run.encr, PRF)
    out = [
        cipher.decrypt(d.data)
        for d, m in zip(run.datagrams, run.messages, strict=True)
        if m.encrypted
    ]
    return cipher, out


def test_phase1_keys_match_the_log(run: Run) -> None:
    keys = _phase1(run)
    assert keys.skeyid == logged(run.keys, "SKEYID")[0]
    assert keys.skeyid_d == logged(run.keys, "SKEYID_d")[0]
    assert keys.skeyid_a == logged(run.keys, "SKEYID_a")[0]
    assert keys.skeyid_e == logged(run.keys, "SKEYID_e")[0]
    assert keys.ka == logged(run.keys, "encryption key Ka")[0]
    assert keys.iv == logged(run.keys, "initial IV")[0]
    assert run.keys["wireshark_uat"]["ikev1_decryption_table"].strip().endswith(keys.ka.hex())


def test_every_ike_message_decrypts(run: Run) -> None:
    _, decrypted = _decrypt_all(run)
    kinds = [
        (m.header.exchange_type, [type(p).__name__ for p in m.chain.payloads]) for m in decrypted
    ]
    assert kinds[0] == (Exchange.MAIN_MODE, ["IdPayload", "HashPayload", "NotifyPayload"])
    assert kinds[1] == (Exchange.MAIN_MODE, ["IdPayload", "HashPayload"])
    assert kinds[2][0] == Exchange.QUICK_MODE and kinds[2][1][:3] == [
        "HashPayload",
        "SaPayload",
        "NoncePayload",
    ]
    if (
        "noesp" in run.keys["case"]
    ):  # the SAs failed to install: N(NO_PROPOSAL_CHOSEN) instead of QM3
        assert kinds[4] == (Exchange.INFORMATIONAL, ["HashPayload", "NotifyPayload"])
        assert decrypted[4].chain.payloads[1].notify_type == Notify.NO_PROPOSAL_CHOSEN  # type: ignore[attr-defined]
    else:
        assert kinds[4] == (Exchange.QUICK_MODE, ["HashPayload"])
    assert identity_of(decrypted[0].chain.payloads[0]) == "client.example"
    assert identity_of(decrypted[1].chain.payloads[0]) == "gw.example"
    assert len(decrypted) == sum(m.encrypted for m in run.messages)


def test_auth_hashes_match_the_log(run: Run) -> None:
    keys = _phase1(run)
    _, dec = _decrypt_all(run)
    sai_b = run.messages[0].chain.body_of(SaPayload)  # type: ignore[union-attr]
    g_xi, g_xr = run.plain(2, KePayload).data, run.plain(3, KePayload).data
    idii_b, idir_b = dec[0].chain.body_of(IdPayload), dec[1].chain.body_of(IdPayload)
    assert sai_b is not None and idii_b is not None and idir_b is not None
    h_i = kdf.hash_i(PRF, keys.skeyid, g_xi, g_xr, *run.cky, sai_b, idii_b)
    h_r = kdf.hash_r(PRF, keys.skeyid, g_xi, g_xr, *run.cky, sai_b, idir_b)
    assert h_i == logged(run.keys, "HASH_I")[0] == dec[0].chain.first(HashPayload).data  # type: ignore[union-attr]
    assert h_r == logged(run.keys, "HASH_R")[0] == dec[1].chain.first(HashPayload).data  # type: ignore[union-attr]


def test_quick_mode_hashes_and_keymat(run: Run) -> None:
    keys = _phase1(run)
    _, dec = _decrypt_all(run)
    qm1, qm2 = dec[2], dec[3]
    mid = qm1.header.message_id
    ni = qm1.chain.first(NoncePayload).data  # type: ignore[union-attr]
    nr = qm2.chain.first(NoncePayload).data  # type: ignore[union-attr]
    assert qm1.chain.payloads[0].data == kdf.qm_hash1(
        PRF, keys.skeyid_a, mid, qm1.chain.after_first()
    )  # type: ignore[attr-defined]
    assert qm1.chain.payloads[0].data == logged(run.keys, "Hash(1)")[0]  # type: ignore[attr-defined]
    assert qm2.chain.payloads[0].data == kdf.qm_hash2(
        PRF, keys.skeyid_a, mid, ni, qm2.chain.after_first()
    )  # type: ignore[attr-defined]
    assert qm2.chain.payloads[0].data == logged(run.keys, "Hash(2)")[0]  # type: ignore[attr-defined]
    if len(dec) > 4 and dec[4].header.exchange_type == Exchange.QUICK_MODE:
        assert dec[4].chain.payloads[0].data == kdf.qm_hash3(PRF, keys.skeyid_a, mid, ni, nr)  # type: ignore[attr-defined]
        assert dec[4].chain.payloads[0].data == logged(run.keys, "Hash(3)")[0]  # type: ignore[attr-defined]
    offer_i = child_offers(qm1.chain.first(SaPayload))[0]  # type: ignore[arg-type]
    offer_r = child_offers(qm2.chain.first(SaPayload))[0]  # type: ignore[arg-type]
    p = offer_r.proposal
    assert p.encr is run.encr and p.integ is Integ.HMAC_SHA1_96 and p.pfs_group is not None
    g_qm_xy = logged(run.keys, "DH secret")[0]
    for who, spi in (("initiator", offer_r.spi), ("responder", offer_i.spi)):
        esp = kdf.esp_sa_keys(PRF, keys.skeyid_d, spi, ni, nr, p.encr, p.key_size, p.integ, g_qm_xy)
        sa = run.keys["esp_sas"][who]
        assert int(sa["spi"], 16) == int.from_bytes(spi, "big")
        assert (
            esp.encr_key.hex()
            == sa["encr_key"]
            == logged(run.keys, f"encryption {who} key")[0].hex()
        )
        assert (
            esp.integ_key.hex()
            == sa["integ_key"]
            == logged(run.keys, f"integrity {who} key")[0].hex()
        )
        seed = logged(run.keys, f"{who} SA seed")[0]
        assert seed == g_qm_xy + b"\x03" + spi + ni + nr


def test_iv_chain_matches_the_log(run: Run) -> None:
    keys = _phase1(run)
    cipher = Ikev1Cipher.from_keys(keys, run.encr, PRF)
    seen: dict[int, list[bytes]] = {}
    for d, m in zip(run.datagrams, run.messages, strict=True):
        if not m.encrypted:
            continue
        mid = m.header.message_id
        chain = seen.setdefault(mid, [] if mid == 0 else [cipher.next_iv(mid)])
        cipher.decrypt(d.data)
        chain.append(cipher.next_iv(mid))
    for mid, ivs in seen.items():
        expected = logged(run.keys, f"next IV for MID {mid}")
        assert expected and all(iv in ivs for iv in expected), mid
    assert logged(run.keys, "next IV for MID 0") == seen[0]


def test_informational_hash(run: Run) -> None:
    keys = _phase1(run)
    _, dec = _decrypt_all(run)
    infos = [m for m in dec if m.header.exchange_type == Exchange.INFORMATIONAL]
    for m in infos:
        digest = kdf.informational_hash(
            PRF, keys.skeyid_a, m.header.message_id, m.chain.after_first()
        )
        assert m.chain.payloads[0].data == digest  # type: ignore[attr-defined]
        assert digest in logged(run.keys, "Hash")


def test_natd_hashes_match_the_log(run: Run) -> None:
    chunks = logged(run.keys, "natd_chunk")
    hashes = logged(run.keys, "natd_hash")
    cky = b"".join(run.cky)
    for chunk, digest in zip(chunks, hashes, strict=True):
        assert chunk[:16] == cky
        ip = ".".join(str(b) for b in chunk[16:20])
        assert natd_hash(PRF, *run.cky, (ip, int.from_bytes(chunk[20:], "big"))) == digest
    mm3_natd = [p.data for p in run.messages[2].chain.payloads if isinstance(p, NatDPayload)]  # type: ignore[union-attr]
    responder, initiator = run.datagrams[2].dst, run.datagrams[2].src
    assert mm3_natd[0] == natd_hash(PRF, *run.cky, (responder, 500))
    if "noesp" in run.keys["case"]:
        assert mm3_natd[1] == natd_hash(PRF, *run.cky, (initiator, 500))
    else:  # kernel-libipsec fakes the initiator's own NAT-D to force UDP encapsulation
        assert mm3_natd[1] != natd_hash(PRF, *run.cky, (initiator, 500))


def test_wrong_key_is_detected(run: Run) -> None:
    keys = _phase1(run)
    bad = bytes(b ^ 0x10 for b in keys.ka)  # not 0x01: DES ignores parity bits
    cipher = Ikev1Cipher(run.encr, bad, PRF, keys.iv)
    first = next(d for d, m in zip(run.datagrams, run.messages, strict=True) if m.encrypted)
    with pytest.raises(DecryptionError, match="wrong key"):
        cipher.decrypt(first.data)
