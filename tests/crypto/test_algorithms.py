"""Known-answer tests for the symmetric façade (RFC 3602, 3686, 2202, 2403/2404, 4231, 4868)."""

from __future__ import annotations

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf, decrypt, encrypt, hash_bytes

H = bytes.fromhex


@pytest.mark.parametrize(
    ("key", "iv", "plaintext", "ciphertext"),
    [  # RFC 3602 §4, cases 1 and 2
        (
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            b"Single block msg".hex(),
            "e353779c1079aeb82708942dbe77181a",
        ),
        (
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        ),
    ],
)
def test_aes_cbc_rfc3602(key: str, iv: str, plaintext: str, ciphertext: str) -> None:
    assert encrypt(Encr.AES_CBC, H(key), H(iv), H(plaintext)) == H(ciphertext)
    assert decrypt(Encr.AES_CBC, H(key), H(iv), H(ciphertext)) == H(plaintext)


@pytest.mark.parametrize(
    ("key", "nonce", "iv", "plaintext", "ciphertext"),
    [  # RFC 3686 §6, test vectors 1 and 2
        (
            "ae6852f8121067cc4bf7a5765577f39e",
            "00000030",
            "0000000000000000",
            b"Single block msg".hex(),
            "e4095d4fb7a7b3792d6175a3261311b8",
        ),
        (
            "7e24067817fae0d743d6ce1f32539163",
            "006cb6db",
            "c0543b59da48d90b",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28",
        ),
    ],
)
def test_aes_ctr_rfc3686(key: str, nonce: str, iv: str, plaintext: str, ciphertext: str) -> None:
    keymat = H(key + nonce)
    assert Encr.AES_CTR.keymat_size(16) == len(keymat)
    assert encrypt(Encr.AES_CTR, keymat, H(iv), H(plaintext)) == H(ciphertext)
    assert decrypt(Encr.AES_CTR, keymat, H(iv), H(ciphertext)) == H(plaintext)


def test_des_and_3des_textbook_vector() -> None:
    # FIPS 46 worked example: K = 133457799BBCDFF1, M = 0123456789ABCDEF -> 85E813540F0AB405.
    key, block, expected = H("133457799bbcdff1"), H("0123456789abcdef"), H("85e813540f0ab405")
    assert encrypt(Encr.DES_CBC, key, bytes(8), block) == expected
    assert encrypt(Encr.TDES_CBC, key * 3, bytes(8), block) == expected  # EDE with K1=K2=K3 is DES
    k3 = H("0123456789abcdef23456789abcdef01456789abcdef0123")
    two_blocks = encrypt(Encr.TDES_CBC, k3, H("0001020304050607"), block * 2)
    assert decrypt(Encr.TDES_CBC, k3, H("0001020304050607"), two_blocks) == block * 2
    assert two_blocks[:8] != two_blocks[8:]  # CBC chaining


@pytest.mark.parametrize(
    ("prf", "key", "data", "digest"),
    [
        (Prf.HMAC_MD5, b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),  # RFC 2202
        (
            Prf.HMAC_MD5,
            b"Jefe",
            b"what do ya want for nothing?",
            "750c783e6ab0b503eaa86e310a5db738",
        ),
        (Prf.HMAC_SHA1, b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
        (
            Prf.HMAC_SHA1,
            b"Jefe",
            b"what do ya want for nothing?",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
        (  # RFC 4231 test case 1
            Prf.HMAC_SHA2_256,
            b"\x0b" * 20,
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            Prf.HMAC_SHA2_384,
            b"\x0b" * 20,
            b"Hi There",
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            Prf.HMAC_SHA2_512,
            b"\x0b" * 20,
            b"Hi There",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (  # RFC 4231 test case 2
            Prf.HMAC_SHA2_256,
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
    ],
)
def test_prf_known_answers(prf: Prf, key: bytes, data: bytes, digest: str) -> None:
    assert prf(key, data) == H(digest)
    assert prf.output_size == len(H(digest))


@pytest.mark.parametrize(
    ("integ", "key", "icv"),
    [
        (Integ.HMAC_MD5_96, b"\x0b" * 16, "9294727a3638bb1c13f48ef8"),  # RFC 2403 (RFC 2202 case 1)
        (Integ.HMAC_SHA1_96, b"\x0b" * 20, "b617318655057264e28bc0b6"),  # RFC 2404
        (Integ.HMAC_SHA1_160, b"\x0b" * 20, "b617318655057264e28bc0b6fb378c8ef146be00"),
        (
            Integ.HMAC_SHA2_256_128,
            b"\x0b" * 32,
            "198a607eb44bfbc69903a0f1cf2bbdc5",
        ),  # RFC 4868 AUTH256-1
    ],
)
def test_integrity_truncations(integ: Integ, key: bytes, icv: str) -> None:
    assert integ.compute(key, b"Hi There") == H(icv)
    assert integ.verify(key, b"Hi There", H(icv))
    assert not integ.verify(key, b"Hi there", H(icv))


@pytest.mark.parametrize(
    ("integ", "prf"),
    [
        (Integ.HMAC_SHA2_384_192, Prf.HMAC_SHA2_384),
        (Integ.HMAC_SHA2_512_256, Prf.HMAC_SHA2_512),
    ],
)
def test_sha2_truncation_is_the_left_half(integ: Integ, prf: Prf) -> None:
    key = bytes(range(integ.key_size))
    assert integ.compute(key, b"data") == prf(key, b"data")[: integ.icv_size]
    assert integ.icv_size * 2 == prf.output_size


def test_hash_bytes() -> None:
    assert hash_bytes("md5", b"RFC 3947") == H("4a131c81070358455c5728f20e95452f")  # the NAT-T VID


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: encrypt(Encr.AES_CBC, bytes(15), bytes(16), bytes(16)),
            r"AES-CBC key must be one of \(16, 24, 32\) bytes, got 15",
        ),
        (
            lambda: encrypt(Encr.AES_CBC, bytes(16), bytes(8), bytes(16)),
            "AES-CBC IV must be 16 bytes, got 8",
        ),
        (
            lambda: encrypt(Encr.TDES_CBC, bytes(24), bytes(8), bytes(12)),
            "not a multiple of the 8-byte block",
        ),
        (
            lambda: decrypt(Encr.DES_CBC, bytes(16), bytes(8), bytes(8)),
            r"DES-CBC key must be one of \(8,\) bytes",
        ),
        (
            lambda: encrypt(Encr.AES_CTR, bytes(20), bytes(16), b"x"),
            "AES-CTR IV must be 8 bytes, got 16",
        ),
        (
            lambda: Integ.HMAC_SHA1_96.compute(bytes(16), b""),
            "HMAC-SHA1-96 key must be 20 bytes, got 16",
        ),
    ],
)
def test_bad_parameters_raise_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
