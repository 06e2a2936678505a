"""IKEv1 message encryption with CBC IV chaining (RFC 2409 §5.3, App. B).

Phase 1 (message ID 0) chains one IV across both directions: the first is
hash(g^xi | g^xr), each next one the last ciphertext block of the previous
encrypted message.  Each phase-2 / Informational exchange (message ID ≠ 0)
starts from hash(last phase-1 IV | M-ID) and then chains the same way.

:class:`Ikev1Cipher` holds that state for an endpoint or a passive observer:
feed it every encrypted message in capture order and it decrypts them all.
A wrong key (or a wrong IV) is detected by the structure check: the
plaintext must be a well-formed payload chain of known types followed by
at most one block of padding (or a padding length byte that matches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kleptolab.crypto.algorithms import Encr, Prf, decrypt, encrypt
from kleptolab.ike.v1.keys import Phase1Keys, phase2_iv
from kleptolab.ike.v1.message import (
    PayloadChain,
    decode_chain,
    encode_chain,
    header_bytes,
    parse_message,
)
from kleptolab.ike.v1.payloads import Payload
from kleptolab.ike.wire import FLAG_ENCRYPTION, IkeHeader, WireError

MAX_PADDING = 255


class DecryptionError(WireError):
    """The ciphertext did not decrypt to a well-formed payload chain (wrong key, IV or data)."""


@dataclass(frozen=True)
class DecryptedMessage:
    header: IkeHeader
    chain: PayloadChain
    plaintext: bytes
    iv: bytes


@dataclass
class _Chain:
    next_iv: bytes
    last_iv: bytes = b""
    last_ct: bytes = b""


@dataclass
class Ikev1Cipher:
    """Encryption state of one IKEv1 SA (key Ka, cipher, hash for phase-2 IVs, IV chains)."""

    encr: Encr
    ka: bytes
    prf: Prf
    phase1_iv: bytes
    _chains: dict[int, _Chain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encr is Encr.AES_CTR:
            raise ValueError("IKEv1 phase 1 defines CBC ciphers only; AES-CTR is not allowed")
        if len(self.phase1_iv) != self.encr.block_size:
            raise ValueError(
                f"phase-1 IV must be {self.encr.block_size} bytes, got {len(self.phase1_iv)}"
            )
        self.encr.keymat_size(len(self.ka))
        self._chains[0] = _Chain(self.phase1_iv)

    @classmethod
    def from_keys(cls, keys: Phase1Keys, encr: Encr, prf: Prf) -> Ikev1Cipher:
        return cls(encr, keys.ka, prf, keys.iv)

    def next_iv(self, message_id: int) -> bytes:
        """The IV the next message of exchange ``message_id`` will use."""
        return self._chain(message_id).next_iv

    def _chain(self, message_id: int) -> _Chain:
        chain = self._chains.get(message_id)
        if chain is None:
            bs = self.encr.block_size
            chain = _Chain(phase2_iv(self.prf, self._chains[0].next_iv, message_id, bs))
            self._chains[message_id] = chain
        return chain

    def decrypt(self, data: bytes) -> DecryptedMessage:
        """Decrypt one whole message (header included) and advance its IV chain."""
        msg = parse_message(data)
        if not msg.encrypted:
            raise WireError("IKEv1 message: E flag not set, nothing to decrypt")
        ct = msg.body
        bs = self.encr.block_size
        if not ct or len(ct) % bs:
            raise DecryptionError(
                f"IKEv1 message: encrypted body of {len(ct)} bytes is not a whole number of {bs}-byte blocks"
            )
        mid = msg.header.message_id
        chain = self._chains.get(mid)
        retransmit = chain is not None and ct == chain.last_ct
        iv = chain.last_iv if chain is not None and retransmit else self._chain(mid).next_iv
        plaintext = decrypt(self.encr, self.ka, iv, ct)
        try:
            decoded = decode_chain(msg.header.next_payload, plaintext, allow_padding=True)
        except WireError as exc:
            raise DecryptionError(
                f"IKEv1 message ID {mid:#x} did not decrypt (wrong key or IV?): {exc}"
            ) from None
        if not _padding_ok(decoded.padding, bs):
            raise DecryptionError(
                f"IKEv1 message ID {mid:#x}: {len(decoded.padding)} bytes after the last payload "
                "(wrong key or IV?)"
            )
        if not retransmit:
            self._advance(mid, iv, ct)
        return DecryptedMessage(msg.header, decoded, plaintext, iv)

    def encrypt(
        self,
        spi_i: bytes,
        spi_r: bytes,
        exchange: int,
        message_id: int,
        payloads: Sequence[Payload],
        flags: int = 0,
    ) -> bytes:
        """Build, pad and encrypt a message; advance the chain.

        Padding (RFC 2409 §5.3): 1 to block-size bytes, always present, zeros except the last,
        which counts the others.  No random bytes are drawn.
        """
        first, chain = encode_chain(payloads)
        bs = self.encr.block_size
        pad = bs - (len(chain) % bs)
        plaintext = chain + bytes(pad - 1) + bytes([pad - 1])
        iv = self._chain(message_id).next_iv
        ct = encrypt(self.encr, self.ka, iv, plaintext)
        self._advance(message_id, iv, ct)
        header = header_bytes(
            spi_i,
            spi_r,
            first,
            exchange,
            flags | FLAG_ENCRYPTION,
            message_id,
            IkeHeader.SIZE + len(ct),
        )
        return header + ct

    def _advance(self, message_id: int, iv: bytes, ct: bytes) -> None:
        chain = self._chain(message_id)
        chain.last_iv, chain.last_ct = iv, ct
        chain.next_iv = ct[-self.encr.block_size :]


def _padding_ok(padding: bytes, block_size: int) -> bool:
    """Accept up to one block of padding, or up to 256 bytes whose last byte counts the others."""
    if len(padding) <= block_size:
        return True
    return len(padding) <= MAX_PADDING + 1 and padding[-1] == len(padding) - 1
