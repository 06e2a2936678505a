"""IKEv2 key derivation and AUTH computation (RFC 7296 §2.13-2.17), as pure functions.

These are the functions both the engines and the passive decryptor use: given
the nonces, SPIs and the DH shared secret, everything else follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kleptolab.crypto.algorithms import Encr, Integ, Prf

KEY_PAD = b"Key Pad for IKEv2"


def prf_plus(prf: Prf, key: bytes, seed: bytes, size: int) -> bytes:
    """prf+(K, S) = T1 | T2 | ... truncated to ``size`` bytes (at most 255 blocks)."""
    blocks = -(-size // prf.output_size)
    if size < 0 or blocks > 255:
        raise ValueError(f"prf+ cannot produce {size} bytes with {prf.name} (255 blocks at most)")
    out, block = b"", b""
    for counter in range(1, blocks + 1):
        block = prf(key, block + seed + bytes([counter]))
        out += block
    return out[:size]


def skeyseed(prf: Prf, ni: bytes, nr: bytes, shared_secret: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir)."""
    return prf(ni + nr, shared_secret)


def rekeyed_skeyseed(prf: Prf, old_sk_d: bytes, shared_secret: bytes, ni: bytes, nr: bytes) -> bytes:
    """SKEYSEED of an IKE SA rekeyed by CREATE_CHILD_SA: prf(SK_d(old), g^ir(new) | Ni | Nr)."""
    return prf(old_sk_d, shared_secret + ni + nr)


def encr_keymat_size(encr: Encr, key_size: int) -> int:
    """Bytes of keying material one cipher key takes (AES-CTR, GCM and CCM include the salt)."""
    return encr.keymat_size(key_size)


@dataclass(frozen=True)
class IkeSaKeys:
    """The seven IKE SA keys and the SKEYSEED they came from."""

    skeyseed: bytes
    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes

    def as_dict(self) -> dict[str, bytes]:
        """The keys under their RFC names: SKEYSEED, SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr."""
        return {
            "SKEYSEED": self.skeyseed,
            "SK_d": self.sk_d,
            "SK_ai": self.sk_ai,
            "SK_ar": self.sk_ar,
            "SK_ei": self.sk_ei,
            "SK_er": self.sk_er,
            "SK_pi": self.sk_pi,
            "SK_pr": self.sk_pr,
        }


def ike_keys_from_skeyseed(
    prf: Prf, seed_key: bytes, encr: Encr, key_size: int, integ: Integ | None,
    ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes,
) -> IkeSaKeys:
    """{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).

    ``integ`` is None for AEAD ciphers (no SK_a keys).  SK_d/SK_pi/SK_pr take
    the PRF's output size.
    """
    _check_spi(spi_i, "SPIi")
    _check_spi(spi_r, "SPIr")
    d = prf.output_size
    a = integ.key_size if integ is not None else 0
    e = encr.keymat_size(key_size)
    stream = prf_plus(prf, seed_key, ni + nr + spi_i + spi_r, 3 * d + 2 * a + 2 * e)
    parts: list[bytes] = []
    pos = 0
    for size in (d, a, a, e, e, d, d):
        parts.append(stream[pos : pos + size])
        pos += size
    return IkeSaKeys(seed_key, *parts)


def derive_ike_keys(
    prf: Prf, encr: Encr, key_size: int, integ: Integ | None,
    ni: bytes, nr: bytes, shared_secret: bytes, spi_i: bytes, spi_r: bytes,
) -> IkeSaKeys:
    """SKEYSEED from the nonces and g^ir, then the seven SK_* keys (RFC 7296 §2.14)."""
    return ike_keys_from_skeyseed(
        prf, skeyseed(prf, ni, nr, shared_secret), encr, key_size, integ, ni, nr, spi_i, spi_r
    )


@dataclass(frozen=True)
class ChildKeymat:
    """Child SA keys by direction: ``*_i`` protect initiator→responder traffic."""

    encr_i: bytes
    integ_i: bytes
    encr_r: bytes
    integ_r: bytes


def derive_child_keys(
    prf: Prf, sk_d: bytes, encr: Encr, key_size: int, integ: Integ | None,
    ni: bytes, nr: bytes, shared_secret: bytes | None = None,
) -> ChildKeymat:
    """KEYMAT = prf+(SK_d, [g^ir(new) |] Ni | Nr) (RFC 7296 §2.17).

    Initiator→responder keys come first, each SA's encryption key before its
    integrity key.  "Initiator" is the initiator of the exchange that made the SA.
    """
    e = encr.keymat_size(key_size)
    a = integ.key_size if integ is not None else 0
    seed = (shared_secret or b"") + ni + nr
    km = prf_plus(prf, sk_d, seed, 2 * (e + a))
    return ChildKeymat(km[:e], km[e : e + a], km[e + a : 2 * e + a], km[2 * e + a :])


def signed_octets(message: bytes, peer_nonce: bytes, prf: Prf, sk_p: bytes, id_body: bytes) -> bytes:
    """InitiatorSignedOctets / ResponderSignedOctets = message | nonce | prf(SK_px, IDx').

    ``message`` is this side's IKE_SA_INIT message, ``peer_nonce`` the other
    side's nonce data, ``id_body`` the ID payload body (IDx').
    """
    return message + peer_nonce + prf(sk_p, id_body)


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """AUTH for shared-key MIC: prf(prf(Shared Secret, "Key Pad for IKEv2"), octets)."""
    return prf(prf(psk, KEY_PAD), octets)


def rsa_sign(private_key_pem: bytes, octets: bytes) -> bytes:
    """AUTH method 1 (RSA Digital Signature): PKCS#1 v1.5 with SHA-1 over ``octets``."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("AUTH method 1 needs an RSA private key")
    return key.sign(octets, padding.PKCS1v15(), hashes.SHA1())


def rsa_verify(certificate_der: bytes, octets: bytes, signature: bytes) -> bool:
    """Check an AUTH method 1 signature against the RSA key of ``certificate_der``."""
    key = x509.load_der_x509_certificate(certificate_der).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, octets, padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return False
    return True


def _check_spi(spi: bytes, name: str) -> None:
    if len(spi) != 8:
        raise ValueError(f"{name} must be 8 bytes, got {len(spi)}")


derive_sk = derive_ike_keys
"""Alias of :func:`derive_ike_keys` (the name the passive decryptor asked for)."""

child_keymat = derive_child_keys
"""Alias of :func:`derive_child_keys`."""
