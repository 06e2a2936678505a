"""Symmetric primitives shared by IKE and ESP: ciphers, integrity MACs and PRFs.

A small façade over ``cryptography`` (OpenSSL).  Every function validates key
and IV sizes and raises ``ValueError`` with a precise message.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM


@dataclass(frozen=True)
class _CipherSpec:
    name: str
    block_size: int
    iv_size: int
    key_sizes: tuple[int, ...]
    salt_size: int = 0
    icv_size: int = 0  # AEAD only: bytes of authentication tag


class Encr(Enum):
    """Encryption algorithms (key sizes in bytes, excluding any salt)."""

    DES_CBC = _CipherSpec("DES-CBC", 8, 8, (8,))
    TDES_CBC = _CipherSpec("3DES-CBC", 8, 8, (24,))
    AES_CBC = _CipherSpec("AES-CBC", 16, 16, (16, 24, 32))
    AES_CTR = _CipherSpec("AES-CTR", 16, 8, (16, 24, 32), salt_size=4)
    # AEAD (RFC 4106/4309 for ESP, RFC 5282 for IKEv2): use aead_encrypt/aead_decrypt.
    AES_GCM_8 = _CipherSpec("AES-GCM-8", 16, 8, (16, 24, 32), salt_size=4, icv_size=8)
    AES_GCM_12 = _CipherSpec("AES-GCM-12", 16, 8, (16, 24, 32), salt_size=4, icv_size=12)
    AES_GCM_16 = _CipherSpec("AES-GCM-16", 16, 8, (16, 24, 32), salt_size=4, icv_size=16)
    AES_CCM_8 = _CipherSpec("AES-CCM-8", 16, 8, (16, 24, 32), salt_size=3, icv_size=8)
    AES_CCM_12 = _CipherSpec("AES-CCM-12", 16, 8, (16, 24, 32), salt_size=3, icv_size=12)
    AES_CCM_16 = _CipherSpec("AES-CCM-16", 16, 8, (16, 24, 32), salt_size=3, icv_size=16)

    @property
    def block_size(self) -> int:
        return self.value.block_size

    @property
    def iv_size(self) -> int:
        return self.value.iv_size

    @property
    def key_sizes(self) -> tuple[int, ...]:
        return self.value.key_sizes

    @property
    def is_aead(self) -> bool:
        """True for combined-mode ciphers (GCM, CCM): no separate integrity algorithm."""
        return self.value.icv_size > 0

    @property
    def icv_size(self) -> int:
        """AEAD tag length in bytes (0 for non-AEAD ciphers)."""
        return self.value.icv_size

    @property
    def salt_size(self) -> int:
        """Bytes of keying material appended to the key as a nonce salt (RFC 3686/5930)."""
        return self.value.salt_size

    def keymat_size(self, key_size: int) -> int:
        """Bytes of keying material a key of ``key_size`` consumes (key plus salt)."""
        self._check_key_size(key_size)
        return key_size + self.salt_size

    def _check_key_size(self, key_size: int) -> None:
        if key_size not in self.key_sizes:
            raise ValueError(
                f"{self.value.name} key must be one of {self.key_sizes} bytes, got {key_size}"
            )


def _block_cipher(encr: Encr, key: bytes) -> algorithms.AES | TripleDES:
    if encr is Encr.DES_CBC:
        encr._check_key_size(len(key))
        return TripleDES(key * 3)
    if encr is Encr.TDES_CBC:
        encr._check_key_size(len(key))
        return TripleDES(key)
    encr._check_key_size(len(key))
    return algorithms.AES(key)


def _check_cbc(encr: Encr, iv: bytes, data: bytes) -> None:
    if len(iv) != encr.iv_size:
        raise ValueError(f"{encr.value.name} IV must be {encr.iv_size} bytes, got {len(iv)}")
    if len(data) % encr.block_size:
        raise ValueError(
            f"{encr.value.name} data length {len(data)} is not a multiple of the "
            f"{encr.block_size}-byte block"
        )


def encrypt(encr: Encr, keymat: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` (already padded for CBC) under ``keymat`` and ``iv``."""
    _refuse_aead(encr)
    if encr is Encr.AES_CTR:
        return _ctr(keymat, iv, plaintext)
    _check_cbc(encr, iv, plaintext)
    enc = Cipher(_block_cipher(encr, keymat), modes.CBC(iv)).encryptor()
    return enc.update(plaintext) + enc.finalize()


def decrypt(encr: Encr, keymat: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Decrypt ``ciphertext``; padding is left for the caller's protocol to check."""
    _refuse_aead(encr)
    if encr is Encr.AES_CTR:
        return _ctr(keymat, iv, ciphertext)
    _check_cbc(encr, iv, ciphertext)
    dec = Cipher(_block_cipher(encr, keymat), modes.CBC(iv)).decryptor()
    return dec.update(ciphertext) + dec.finalize()


def _ctr(keymat: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-CTR as RFC 3686/5930: keymat = key ‖ 4-byte nonce, 8-byte IV, counter from 1."""
    if len(iv) != 8:
        raise ValueError(f"AES-CTR IV must be 8 bytes, got {len(iv)}")
    key, salt = keymat[:-4], keymat[-4:]
    Encr.AES_CTR._check_key_size(len(key))
    counter_block = salt + iv + b"\x00\x00\x00\x01"
    enc = Cipher(algorithms.AES(key), modes.CTR(counter_block)).encryptor()
    return enc.update(data) + enc.finalize()


def _refuse_aead(encr: Encr) -> None:
    if encr.is_aead:
        raise ValueError(f"{encr.value.name} is an AEAD cipher: use aead_encrypt/aead_decrypt")


def _aead(encr: Encr, keymat: bytes, iv: bytes) -> tuple[_Gcm | AESCCM, bytes]:
    if not encr.is_aead:
        raise ValueError(f"{encr.value.name} is not an AEAD cipher")
    if len(iv) != encr.iv_size:
        raise ValueError(f"{encr.value.name} IV must be {encr.iv_size} bytes, got {len(iv)}")
    key, salt = keymat[: -encr.salt_size], keymat[-encr.salt_size :]
    encr._check_key_size(len(key))
    if encr.name.startswith("AES_GCM"):
        return _Gcm(key, encr.icv_size), salt + iv
    return AESCCM(key, tag_length=encr.icv_size), salt + iv


class _Gcm:
    """AES-GCM with an 8-, 12- or 16-byte tag (``AESGCM`` only handles full tags)."""

    def __init__(self, key: bytes, tag_size: int) -> None:
        self._key, self._tag_size = key, tag_size

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
        enc = Cipher(algorithms.AES(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad or b"")
        out = enc.update(data) + enc.finalize()
        return out + enc.tag[: self._tag_size]

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
        body, tag = data[: -self._tag_size], data[-self._tag_size :]
        dec = Cipher(algorithms.AES(self._key), modes.GCM(nonce, tag, min_tag_length=len(tag))).decryptor()
        dec.authenticate_additional_data(aad or b"")
        return dec.update(body) + dec.finalize()


def aead_encrypt(encr: Encr, keymat: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """AEAD-encrypt: ``keymat`` = key ‖ salt, nonce = salt ‖ 8-byte IV; returns ciphertext ‖ tag."""
    cipher, nonce = _aead(encr, keymat, iv)
    return cipher.encrypt(nonce, plaintext, aad)


def aead_decrypt(encr: Encr, keymat: bytes, iv: bytes, aad: bytes, data: bytes) -> bytes:
    """AEAD-decrypt ``data`` (ciphertext ‖ tag); ``ValueError`` when the tag does not verify."""
    cipher, nonce = _aead(encr, keymat, iv)
    if len(data) < encr.icv_size:
        raise ValueError(f"{encr.value.name} data of {len(data)} bytes is shorter than its tag")
    try:
        return cipher.decrypt(nonce, data, aad)
    except InvalidTag:
        raise ValueError(f"{encr.value.name} authentication tag does not verify") from None


class Prf(Enum):
    """Pseudo-random functions (HMAC with the named hash)."""

    HMAC_MD5 = "md5"
    HMAC_SHA1 = "sha1"
    HMAC_SHA2_256 = "sha256"
    HMAC_SHA2_384 = "sha384"
    HMAC_SHA2_512 = "sha512"

    @property
    def hash_name(self) -> str:
        return self.value

    @property
    def output_size(self) -> int:
        return hashlib.new(self.value).digest_size

    def __call__(self, key: bytes, data: bytes) -> bytes:
        """Return HMAC(key, data) with this PRF's hash."""
        return hmac.new(key, data, self.value).digest()


@dataclass(frozen=True)
class _IntegSpec:
    name: str
    hash_name: str
    key_size: int
    icv_size: int


class Integ(Enum):
    """Integrity (MAC) algorithms with their key and truncated ICV sizes."""

    HMAC_MD5_96 = _IntegSpec("HMAC-MD5-96", "md5", 16, 12)
    HMAC_SHA1_96 = _IntegSpec("HMAC-SHA1-96", "sha1", 20, 12)
    HMAC_SHA1_160 = _IntegSpec("HMAC-SHA1-160", "sha1", 20, 20)
    HMAC_SHA2_256_128 = _IntegSpec("HMAC-SHA2-256-128", "sha256", 32, 16)
    HMAC_SHA2_384_192 = _IntegSpec("HMAC-SHA2-384-192", "sha384", 48, 24)
    HMAC_SHA2_512_256 = _IntegSpec("HMAC-SHA2-512-256", "sha512", 64, 32)

    @property
    def key_size(self) -> int:
        return self.value.key_size

    @property
    def icv_size(self) -> int:
        return self.value.icv_size

    @property
    def hash_name(self) -> str:
        return self.value.hash_name

    def compute(self, key: bytes, data: bytes) -> bytes:
        """Return the truncated ICV of ``data``."""
        if len(key) != self.key_size:
            raise ValueError(f"{self.value.name} key must be {self.key_size} bytes, got {len(key)}")
        return hmac.new(key, data, self.hash_name).digest()[: self.icv_size]

    def verify(self, key: bytes, data: bytes, icv: bytes) -> bool:
        """Constant-time check of ``icv`` against ``data``."""
        return hmac.compare_digest(self.compute(key, data), icv)


def hash_bytes(hash_name: str, data: bytes) -> bytes:
    """Plain hash used by IKEv1 (e.g. NAT-D, phase-1 IV = hash(g^xi | g^xr))."""
    return hashlib.new(hash_name, data).digest()
