"""SK payload: encryption round trips for every cipher, integrity and padding errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.crypto.algorithms import Encr, Integ, encrypt
from kleptolab.ike.v2.payloads import (
    EncryptedPayload,
    Ikev2Message,
    NoncePayload,
    NotifyPayload,
    VendorIdPayload,
    build_message,
)
from kleptolab.ike.v2.sk import IntegrityError, SkKeys, decrypt_sk, protect, unprotect
from kleptolab.ike.wire import WireError

CASES = [(e, 16, Integ.HMAC_SHA2_256_128) for e in (Encr.AES_CBC, Encr.AES_CTR)] + [
    (Encr.TDES_CBC, 24, Integ.HMAC_MD5_96),
    (Encr.DES_CBC, 8, Integ.HMAC_SHA1_96),
    (Encr.AES_CBC, 32, Integ.HMAC_SHA2_512_256),
] + [(e, 32, None) for e in Encr if e.is_aead]


def keys_for(encr: Encr, key_size: int, integ: Integ | None) -> SkKeys:
    e = encr.keymat_size(key_size)
    a = integ.key_size if integ else 0
    return SkKeys(encr, integ, b"\x01" * e, b"\x02" * e, b"\x03" * a, b"\x04" * a)


@pytest.mark.parametrize(("encr", "key_size", "integ"), CASES)
@settings(max_examples=20)
@given(payloads=st.lists(st.builds(VendorIdPayload, st.binary(max_size=70)), max_size=4),
       initiator=st.booleans())
def test_protect_unprotect_round_trip(encr: Encr, key_size: int, integ: Integ | None,
                                      payloads: list[VendorIdPayload], initiator: bool) -> None:
    keys = keys_for(encr, key_size, integ)
    message = Ikev2Message(b"i" * 8, b"r" * 8, 37, 0x08 if initiator else 0x20, 5, tuple(payloads))
    raw = protect(message, keys, b"\x09" * encr.iv_size)
    assert unprotect(raw, keys) == message
    if encr in (Encr.AES_CBC, Encr.TDES_CBC, Encr.DES_CBC):
        assert (len(raw) - 32 - encr.iv_size - (integ.icv_size if integ else 0)) % encr.block_size == 0
    swapped = SkKeys(encr, integ, keys.sk_er, keys.sk_ei, keys.sk_ar, keys.sk_ai)
    with pytest.raises(IntegrityError):
        unprotect(raw, swapped)


def test_plain_cipher_needs_integrity() -> None:
    with pytest.raises(ValueError, match="AEAD ciphers take no integrity"):
        SkKeys(Encr.AES_CBC, None, bytes(16), bytes(16))
    with pytest.raises(ValueError, match="SK_a must be 20 bytes"):
        SkKeys(Encr.AES_CBC, Integ.HMAC_SHA1_96, bytes(16), bytes(16), b"", b"")
    with pytest.raises(ValueError, match="key must be one of"):
        SkKeys(Encr.AES_CBC, Integ.HMAC_SHA1_96, bytes(15), bytes(16), bytes(20), bytes(20))


def _sealed(keys: SkKeys, plaintext: bytes, iv: bytes) -> bytes:
    """A message whose SK payload holds exactly ``plaintext`` (no padding added), with a valid ICD."""
    assert keys.integ is not None
    body = iv + encrypt(keys.encr, keys.sk_ei, iv, plaintext)
    total = 28 + 4 + len(body) + keys.integ.icv_size
    head = Ikev2Message(b"i" * 8, b"r" * 8, 37, 8, 1).header(total, 46).build()
    signed = head + bytes([0, 0]) + (4 + len(body) + keys.integ.icv_size).to_bytes(2, "big") + body
    return signed + keys.integ.compute(keys.sk_ai, signed)


def test_bad_padding_and_lengths_are_wire_errors() -> None:
    keys = keys_for(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)
    assert decrypt_sk(_sealed(keys, bytes(15) + b"\x0f", bytes(16)), keys.sk_ei, keys.sk_ai, keys.encr,
                      keys.integ) == (0, b"")
    with pytest.raises(WireError, match="pad length 255 exceeds the 16-byte plaintext"):
        unprotect(_sealed(keys, b"\xff" * 16, bytes(16)), keys)
    with pytest.raises(WireError, match="shorter than IV"):
        unprotect(build_message(Ikev2Message(b"i" * 8, b"r" * 8, 37, 8, 1, (EncryptedPayload(0, bytes(27)),))),
                  keys)
    ctr = keys_for(Encr.AES_CTR, 16, Integ.HMAC_SHA1_96)
    with pytest.raises(WireError, match="empty plaintext"):
        unprotect(_sealed(ctr, b"", bytes(8)), ctr)
    with pytest.raises(WireError, match="no Encrypted payload"):
        unprotect(build_message(Ikev2Message(b"i" * 8, b"r" * 8, 37, 8, 1, (NotifyPayload(16384),))), keys)
    with pytest.raises(ValueError, match="IV must be 16 bytes"):
        protect(Ikev2Message(b"i" * 8, b"r" * 8, 37, 8, 1), keys, bytes(8))


def test_unchecked_icv_is_skipped_only_when_asked() -> None:
    keys = keys_for(Encr.AES_CTR, 16, Integ.HMAC_SHA1_96)
    raw = protect(Ikev2Message(b"i" * 8, b"r" * 8, 37, 8, 1, (NoncePayload(b"n" * 16),)), keys, bytes(8))
    forged = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(IntegrityError):
        unprotect(forged, keys)
    unchecked = SkKeys(Encr.AES_CTR, None, keys.sk_ei, keys.sk_er, unchecked_icv_size=12)
    assert unprotect(forged, unchecked).payloads == (NoncePayload(b"n" * 16),)
    with pytest.raises(ValueError, match="needs an integrity algorithm"):
        decrypt_sk(raw, keys.sk_ei, b"", Encr.AES_CTR, None)
