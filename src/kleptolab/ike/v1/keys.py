"""IKEv1 key derivation (RFC 2409 §5, §5.5, App. B) as pure functions.

Conventions: ``prf`` is the negotiated HMAC (IKEv1 uses HMAC with the
negotiated hash unless a PRF attribute says otherwise); ``ni_b``/``nr_b`` are
nonce bodies; ``g_xi``/``g_xr`` are KE payload bodies; message IDs are ints.
The passive decryptor calls these directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from kleptolab.crypto.algorithms import Encr, Integ, Prf, hash_bytes


def skeyid_psk(prf: Prf, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """Pre-shared key: SKEYID = prf(pre-shared-key, Ni_b | Nr_b)."""
    return prf(psk, ni_b + nr_b)


def skeyid_sig(prf: Prf, ni_b: bytes, nr_b: bytes, g_xy: bytes) -> bytes:
    """Signatures: SKEYID = prf(Ni_b | Nr_b, g^xy)."""
    return prf(ni_b + nr_b, g_xy)


def skeyid_pke(prf: Prf, ni_b: bytes, nr_b: bytes, cky_i: bytes, cky_r: bytes) -> bytes:
    """Public-key encryption: SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R)."""
    return prf(hash_bytes(prf.hash_name, ni_b + nr_b), cky_i + cky_r)


def expand_ka(prf: Prf, skeyid_e: bytes, size: int) -> bytes:
    """Ka: SKEYID_e truncated, or K1 | K2 | … with K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)."""
    if len(skeyid_e) >= size:
        return skeyid_e[:size]
    out = b""
    block = b"\x00"
    while len(out) < size:
        block = prf(skeyid_e, block)
        out += block
    return out[:size]


def phase1_iv(prf: Prf, g_xi: bytes, g_xr: bytes, block_size: int) -> bytes:
    """Initial phase-1 IV = hash(g^xi | g^xr) truncated to the cipher block."""
    return hash_bytes(prf.hash_name, g_xi + g_xr)[:block_size]


def phase2_iv(prf: Prf, last_phase1_iv: bytes, message_id: int, block_size: int) -> bytes:
    """First IV of a phase-2 / Informational exchange = hash(last phase-1 IV | M-ID)."""
    return hash_bytes(prf.hash_name, last_phase1_iv + _mid(message_id))[:block_size]


@dataclass(frozen=True)
class Phase1Keys:
    """Every phase-1 secret: SKEYID, SKEYID_d/a/e, Ka and the initial IV."""

    skeyid: bytes
    skeyid_d: bytes
    skeyid_a: bytes
    skeyid_e: bytes
    ka: bytes
    iv: bytes

    def as_dict(self) -> dict[str, bytes]:
        return {
            "SKEYID": self.skeyid,
            "SKEYID_d": self.skeyid_d,
            "SKEYID_a": self.skeyid_a,
            "SKEYID_e": self.skeyid_e,
            "Ka": self.ka,
            "IV": self.iv,
        }


def derive_phase1(
    prf: Prf,
    skeyid: bytes,
    g_xy: bytes,
    cky_i: bytes,
    cky_r: bytes,
    g_xi: bytes,
    g_xr: bytes,
    encr: Encr,
    key_size: int,
) -> Phase1Keys:
    """SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), _a = prf(SKEYID, SKEYID_d | … | 1), _e likewise | 2."""
    d = prf(skeyid, g_xy + cky_i + cky_r + b"\x00")
    a = prf(skeyid, d + g_xy + cky_i + cky_r + b"\x01")
    e = prf(skeyid, a + g_xy + cky_i + cky_r + b"\x02")
    return Phase1Keys(
        skeyid=skeyid,
        skeyid_d=d,
        skeyid_a=a,
        skeyid_e=e,
        ka=expand_ka(prf, e, encr.keymat_size(key_size)),
        iv=phase1_iv(prf, g_xi, g_xr, encr.block_size),
    )


def hash_i(
    prf: Prf,
    skeyid: bytes,
    g_xi: bytes,
    g_xr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idii_b: bytes,
) -> bytes:
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)."""
    return prf(skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b)


def hash_r(
    prf: Prf,
    skeyid: bytes,
    g_xi: bytes,
    g_xr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idir_b: bytes,
) -> bytes:
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) (SAi_b: the initiator's SA)."""
    return prf(skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b)


def qm_hash1(prf: Prf, skeyid_a: bytes, message_id: int, after_hash: bytes) -> bytes:
    """Quick Mode HASH(1) and Informational HASH = prf(SKEYID_a, M-ID | payloads after HASH)."""
    return prf(skeyid_a, _mid(message_id) + after_hash)


informational_hash = qm_hash1


def qm_hash2(prf: Prf, skeyid_a: bytes, message_id: int, ni_b: bytes, after_hash: bytes) -> bytes:
    """HASH(2) = prf(SKEYID_a, M-ID | Ni_b | payloads after HASH)."""
    return prf(skeyid_a, _mid(message_id) + ni_b + after_hash)


def qm_hash3(prf: Prf, skeyid_a: bytes, message_id: int, ni_b: bytes, nr_b: bytes) -> bytes:
    """HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)."""
    return prf(skeyid_a, b"\x00" + _mid(message_id) + ni_b + nr_b)


def keymat(
    prf: Prf,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    ni_b: bytes,
    nr_b: bytes,
    size: int,
    g_qm_xy: bytes = b"",
) -> bytes:
    """KEYMAT for one SA (one SPI, one direction), expanded to ``size`` bytes.

    K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
    Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b).
    ``g_qm_xy`` is empty without PFS.
    """
    seed = g_qm_xy + bytes([protocol]) + spi + ni_b + nr_b
    out = b""
    block = b""
    while len(out) < size:
        block = prf(skeyid_d, block + seed)
        out += block
    return out[:size]


@dataclass(frozen=True)
class EspSaKeys:
    """The keys of one ESP SA: ``spi`` is the SPI its receiver chose."""

    spi: bytes
    encr_key: bytes
    integ_key: bytes


def esp_sa_keys(
    prf: Prf,
    skeyid_d: bytes,
    spi: bytes,
    ni_b: bytes,
    nr_b: bytes,
    encr: Encr,
    key_size: int,
    integ: Integ,
    g_qm_xy: bytes = b"",
    protocol: int = 3,
) -> EspSaKeys:
    """KEYMAT split as encryption key (plus any salt) first, then integrity key."""
    enc_size = encr.keymat_size(key_size)
    material = keymat(prf, skeyid_d, protocol, spi, ni_b, nr_b, enc_size + integ.key_size, g_qm_xy)
    return EspSaKeys(spi, material[:enc_size], material[enc_size:])


def _mid(message_id: int) -> bytes:
    if not 0 <= message_id < 1 << 32:
        raise ValueError(f"message ID {message_id} does not fit 32 bits")
    return message_id.to_bytes(4, "big")
