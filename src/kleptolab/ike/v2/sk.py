"""The IKEv2 Encrypted (SK) payload: encryption, integrity and AEAD (RFC 7296 §3.14, RFC 5282).

Plaintext = inner payloads ‖ padding ‖ pad length.  With a plain cipher the
Integrity Checksum Data (ICD) covers the whole message from the IKE header to
the end of the ciphertext and is checked in constant time before anything is
decrypted.  With AES-GCM/CCM the associated data is the message up to the IV.
Messages from the original initiator (I flag) use SK_ei/SK_ai, the others
SK_er/SK_ar.  Padding is zero bytes (no randomness needed); the IV comes from
the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kleptolab.crypto.algorithms import Encr, Integ, aead_decrypt, aead_encrypt, decrypt, encrypt
from kleptolab.ike.v2.constants import PayloadType
from kleptolab.ike.v2.payloads import Ikev2Message, decode_chain, encode_chain
from kleptolab.ike.wire import (
    FLAG_INITIATOR,
    GENERIC_HEADER,
    IkeHeader,
    WireError,
    parse_payload_chain,
)


class IntegrityError(ValueError):
    """The ICD (or AEAD tag) of an SK payload does not verify: wrong keys or a forged message."""


@dataclass(frozen=True)
class SkKeys:
    """The keys protecting one IKE SA's SK payloads; ``integ`` is None for AEAD ciphers."""

    encr: Encr
    integ: Integ | None
    sk_ei: bytes
    sk_er: bytes
    sk_ai: bytes = b""
    sk_ar: bytes = b""
    unchecked_icv_size: int = 0
    """Only for reading captures without SK_a: skip the ICD of this size (Wireshark's "No Checking")."""

    def __post_init__(self) -> None:
        if self.encr.is_aead != (self.integ is None) and not self.unchecked_icv_size:
            raise ValueError("SK keys: AEAD ciphers take no integrity algorithm, others need one")
        for key in (self.sk_ei, self.sk_er):
            self.encr.keymat_size(len(key) - self.encr.salt_size)
        if self.integ is not None:
            for key in (self.sk_ai, self.sk_ar):
                if len(key) != self.integ.key_size:
                    raise ValueError(f"SK_a must be {self.integ.key_size} bytes, got {len(key)}")

    def sender(self, from_initiator: bool) -> tuple[bytes, bytes]:
        """(SK_e, SK_a) for messages sent by the original initiator or responder."""
        return (self.sk_ei, self.sk_ai) if from_initiator else (self.sk_er, self.sk_ar)


def _block(encr: Encr) -> int:
    """Padding alignment: the cipher block for CBC; none for the stream-like CTR/GCM/CCM."""
    return encr.block_size if encr in (Encr.DES_CBC, Encr.TDES_CBC, Encr.AES_CBC) else 1


def _icv_size(encr: Encr, integ: Integ | None, unchecked: int = 0) -> int:
    if integ is not None:
        return integ.icv_size
    return encr.icv_size if encr.is_aead else unchecked


def decrypt_sk(
    message: bytes, sk_e: bytes, sk_a: bytes, encr: Encr, integ: Integ | None,
    *, unchecked_icv_size: int = 0,
) -> tuple[int, bytes]:
    """Verify and decrypt the SK payload ending ``message``; return (first inner type, inner chain).

    ``integ`` is None for AEAD ciphers.  With a plain cipher, ``integ`` None
    and ``unchecked_icv_size`` > 0 the ICD is skipped unverified (captures
    whose SK_a is unknown).  Raises :class:`IntegrityError` when the ICD/tag is wrong and
    :class:`WireError` when the message or the padding is malformed.
    """
    header = IkeHeader.parse(message)
    if header.length != len(message):
        raise WireError(f"SK: header says {header.length} bytes but {len(message)} were given")
    raws = parse_payload_chain(header.next_payload, message[IkeHeader.SIZE :])
    if not raws or raws[-1].type != PayloadType.SK:
        raise WireError("SK: the message has no Encrypted payload")
    sk = raws[-1]
    body_start = len(message) - len(sk.body)
    iv_size, icv = encr.iv_size, _icv_size(encr, integ, unchecked_icv_size)
    if not encr.is_aead and integ is None and not icv:
        raise ValueError("SK: a non-AEAD cipher needs an integrity algorithm or unchecked_icv_size")
    if len(sk.body) < iv_size + icv:
        raise WireError(f"SK: payload body of {len(sk.body)} bytes is shorter than IV + ICV")
    iv = sk.body[:iv_size]
    ciphertext = message[body_start + iv_size : len(message) - icv]
    if encr.is_aead:
        try:
            plain = aead_decrypt(encr, sk_e, iv, message[:body_start], message[body_start + iv_size :])
        except ValueError as exc:
            raise IntegrityError(f"SK: {exc}") from None
    else:
        if integ is not None and not integ.verify(sk_a, message[: len(message) - icv], message[len(message) - icv :]):
            raise IntegrityError(f"SK: integrity checksum ({integ.value.name}) does not verify")
        if len(ciphertext) % _block(encr):
            raise WireError(f"SK: ciphertext of {len(ciphertext)} bytes is not a whole number of blocks")
        plain = decrypt(encr, sk_e, iv, ciphertext)
    if not plain:
        raise WireError("SK: empty plaintext (no pad length byte)")
    pad = plain[-1]
    if pad + 1 > len(plain):
        raise WireError(f"SK: pad length {pad} exceeds the {len(plain)}-byte plaintext")
    return sk.inner_next, plain[: len(plain) - pad - 1]


def encrypt_sk(
    outer: bytes, inner_first: int, inner: bytes, sk_e: bytes, sk_a: bytes,
    encr: Encr, integ: Integ | None, iv: bytes,
) -> bytes:
    """Append an SK payload holding ``inner`` to ``outer`` (header + cleartext payloads).

    ``outer``'s header length field is rewritten; its last payload must already
    name SK (46) as next payload, or the header must when there is none.
    """
    icv = _icv_size(encr, integ)
    block = _block(encr)
    pad = (-(len(inner) + 1)) % block
    plain = inner + b"\x00" * pad + bytes([pad])
    sk_length = 4 + len(iv) + len(plain) + icv
    total = len(outer) + sk_length
    if total > 65_535:
        raise WireError(f"SK: message of {total} bytes exceeds 65535")
    head = outer[:24] + total.to_bytes(4, "big") + outer[28:]
    sk_header = GENERIC_HEADER.pack({"next_payload": inner_first, "flags": 0, "body": b""})
    sk_header = sk_header[:2] + sk_length.to_bytes(2, "big")
    if integ is None:
        sealed = aead_encrypt(encr, sk_e, iv, head + sk_header, plain)
        return head + sk_header + iv + sealed
    signed = head + sk_header + iv + encrypt(encr, sk_e, iv, plain)
    return signed + integ.compute(sk_a, signed)


def protect(message: Ikev2Message, keys: SkKeys, iv: bytes) -> bytes:
    """Build ``message`` with all its payloads inside one SK payload (sender from the I flag)."""
    if len(iv) != keys.encr.iv_size:
        raise ValueError(f"SK: IV must be {keys.encr.iv_size} bytes, got {len(iv)}")
    inner_first, inner = encode_chain(message.payloads)
    outer = message.header(IkeHeader.SIZE, PayloadType.SK).build()
    sk_e, sk_a = keys.sender(bool(message.flags & FLAG_INITIATOR))
    return encrypt_sk(outer, inner_first, inner, sk_e, sk_a, keys.encr, keys.integ, iv)


def unprotect(data: bytes, keys: SkKeys) -> Ikev2Message:
    """Verify and decrypt ``data``; return the message with its inner payloads decoded.

    Cleartext payloads before SK (rare) are kept in front of the inner ones.
    """
    header = IkeHeader.parse(data)
    sk_e, sk_a = keys.sender(header.is_initiator)
    inner_first, inner = decrypt_sk(
        data, sk_e, sk_a, keys.encr, keys.integ, unchecked_icv_size=keys.unchecked_icv_size
    )
    outer = decode_chain(header.next_payload, data[IkeHeader.SIZE :])
    if header.major_version != 2:
        raise WireError(f"IKEv2 message: major version {header.major_version}, expected 2")
    payloads = outer[:-1] + decode_chain(inner_first, inner)
    return replace(
        Ikev2Message(header.spi_i, header.spi_r, header.exchange_type, header.flags, header.message_id),
        payloads=payloads,
        version=(header.major_version << 4) | header.minor_version,
    )
