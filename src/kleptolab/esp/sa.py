"""ESP security associations: tunnel-mode encapsulation and decapsulation (RFC 4303).

Sans-I/O: an :class:`EspSa` turns an inner IP packet into ESP bytes (SPI to
ICV) and back.  Whether those bytes travel as IP protocol 50 or inside UDP
4500 (RFC 3948, ``udp_encapsulated``) is the caller's business; the bytes
are the same.  Randomness (IVs) is injected.  Inbound processing follows
RFC 4303 §3.4: length, SPI, anti-replay check, ICV (constant time), window
update, decryption, padding check.  Every rejection is an
:class:`~kleptolab.esp.errors.EspError` subclass with a precise message.

Bulk decryption reuses what ``cryptography`` lets it reuse: the keyed HMAC
state is copied per packet, and short CBC packets are decrypted with one
long-lived ECB context plus an XOR with the previous ciphertext blocks.
:meth:`EspSa.unprotect_batch` goes further for CBC: after every ICV is
checked, the verified packets' ``IV || ciphertext`` are joined and decrypted
by ONE CBC context.  CBC decryption computes ``P_i = D(C_i) xor C_{i-1}``, so
each packet's IV block acts as the chaining value of its first ciphertext
block and only the IV block itself decrypts to garbage (dropped): one cipher
context and one OpenSSL call per batch instead of per packet.
Extended sequence numbers and combined-mode (AEAD) ciphers are not supported.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.errors import (
    BadIcv,
    BadPadding,
    EspError,
    SequenceExhausted,
    TruncatedPacket,
    UnknownSpi,
)
from kleptolab.esp.packet import NEXT_HEADER_IPV4, NEXT_HEADER_IPV6
from kleptolab.esp.replay import ReplayWindow
from kleptolab.ike.common import ChildSaKeys

_PADS = [bytes(range(1, n + 1)) for n in range(256)]
_ECB_LIMIT = 512  # below this many ciphertext bytes ECB+XOR beats a fresh CBC context

RandomBytes = Callable[[int], bytes]
_PENDING = EspError("not decrypted yet")


@dataclass(frozen=True, slots=True)
class EspPayload:
    """A verified, decrypted ESP packet: the payload (inner packet) and its trailer fields."""

    spi: bytes
    seq: int
    next_header: int
    payload: bytes
    pad_length: int


class EspSa:
    """One direction of an ESP SA in tunnel mode.

    ``replay_window`` is the anti-replay window size for inbound use, or None
    to accept any sequence number (a passive decryptor sees retransmissions
    too).  ``random_bytes`` supplies IVs and is needed only to encapsulate.
    Not thread-safe: it holds a sequence counter and reusable cipher state.
    """

    def __init__(
        self,
        spi: bytes,
        encr: Encr,
        encr_key: bytes,
        integ: Integ | None,
        integ_key: bytes = b"",
        *,
        random_bytes: RandomBytes | None = None,
        replay_window: int | None = 64,
        udp_encapsulated: bool = False,
    ) -> None:
        if len(spi) != 4:
            raise ValueError(f"ESP SPI must be 4 bytes, got {len(spi)}")
        if spi[:3] == b"\x00\x00\x00":
            raise ValueError(f"ESP SPI 0x{spi.hex()} is reserved (1-255 and 0 are not valid)")
        encr.keymat_size(len(encr_key) - encr.salt_size)  # validates the key size
        if integ is not None and len(integ_key) != integ.key_size:
            raise ValueError(
                f"{integ.value.name} key must be {integ.key_size} bytes, got {len(integ_key)}"
            )
        self.spi = spi
        self.encr = encr
        self.encr_key = encr_key
        self.integ = integ
        self.integ_key = integ_key
        self.udp_encapsulated = udp_encapsulated
        self.seq = 0  # last sequence number sent
        self.replay = ReplayWindow(replay_window) if replay_window else None
        self._random = random_bytes
        self._iv_size = encr.iv_size
        self._icv_size = integ.icv_size if integ is not None else 0
        self._align = encr.block_size if encr is not Encr.AES_CTR else 4
        self._cbc = encr is not Encr.AES_CTR
        self._mac = hmac.new(integ_key, digestmod=integ.hash_name) if integ is not None else None
        self._algorithm = _algorithm(encr, encr_key)
        self._salt = encr_key[len(encr_key) - encr.salt_size :] if encr.salt_size else b""
        self._ecb: CipherContext | None = (
            Cipher(self._algorithm, modes.ECB()).decryptor() if self._cbc else None
        )
        self._min_size = 8 + self._iv_size + self._align + self._icv_size

    def __repr__(self) -> str:
        integ = self.integ.value.name if self.integ else "none"
        return f"EspSa(spi=0x{self.spi.hex()}, {self.encr.value.name}, {integ})"

    # --- outbound ------------------------------------------------------------------------

    def encapsulate(self, inner: bytes, next_header: int | None = None) -> bytes:
        """Protect ``inner`` (an IPv4/IPv6 packet in tunnel mode); return SPI..ICV bytes."""
        if self._random is None:
            raise EspError(f"SA 0x{self.spi.hex()} has no random source, so it cannot encapsulate")
        if self.seq >= 0xFFFFFFFF:
            raise SequenceExhausted(f"SA 0x{self.spi.hex()} has sent 2^32-1 packets; rekey it")
        if next_header is None:
            next_header = NEXT_HEADER_IPV6 if inner[:1] and inner[0] >> 4 == 6 else NEXT_HEADER_IPV4
        self.seq += 1
        pad_len = -(len(inner) + 2) % self._align
        plaintext = inner + _PADS[pad_len] + bytes((pad_len, next_header))
        iv = self._random(self._iv_size)
        if len(iv) != self._iv_size:
            raise EspError(f"random source gave {len(iv)} IV bytes, {self._iv_size} needed")
        enc = Cipher(self._algorithm, self._mode(iv)).encryptor()
        head = self.spi + self.seq.to_bytes(4, "big") + iv
        body = head + enc.update(plaintext) + enc.finalize()
        if self._mac is None:
            return body
        mac = self._mac.copy()
        mac.update(body)
        return body + mac.digest()[: self._icv_size]

    # --- inbound -------------------------------------------------------------------------

    def unprotect(self, esp: bytes) -> EspPayload:
        """Verify and decrypt ESP bytes (SPI..ICV) in RFC 4303 §3.4 order."""
        seq, end = self._verify(esp)
        start = 8 + self._iv_size
        plaintext = self._decrypt(esp[8:start], esp[start:end], self.spi, seq)
        return self._trailer(plaintext, seq)

    def unprotect_batch(self, packets: Sequence[bytes]) -> list[EspPayload | EspError]:
        """:meth:`unprotect` for many packets at once: per packet the payload or the error.

        Same checks in the same order per packet (length, SPI, replay, ICV, then
        decryption and padding); CBC ciphertexts of the verified packets are
        decrypted together by one cipher context (see the module docstring).
        """
        results: list[EspPayload | EspError] = []
        verified: list[tuple[int, int, int]] = []  # (result index, sequence number, ICV start)
        for esp in packets:
            try:
                seq, end = self._verify(esp)
                if self._cbc:
                    size = end - 8 - self._iv_size
                    if size == 0 or size % self._align:
                        raise TruncatedPacket(
                            f"ciphertext of {size} bytes is not a whole number of "
                            f"{self._align}-byte blocks (SPI 0x{self.spi.hex()} sequence {seq})"
                        )
            except EspError as exc:
                results.append(exc)
                continue
            verified.append((len(results), seq, end))
            results.append(_PENDING)  # replaced below
        if not verified:
            return results
        if not self._cbc:
            for i, seq, end in verified:
                esp = packets[i]
                try:
                    iv, body = esp[8 : 8 + self._iv_size], esp[8 + self._iv_size : end]
                    text = self._decrypt(iv, body, self.spi, seq)
                    results[i] = self._trailer(text, seq)
                except EspError as exc:
                    results[i] = exc
            return results
        dec = Cipher(self._algorithm, modes.CBC(bytes(self._iv_size))).decryptor()
        joined = dec.update(b"".join(packets[i][8:end] for i, _, end in verified))
        offset = 0
        for i, seq, end in verified:
            size = end - 8
            text = joined[offset + self._iv_size : offset + size]
            offset += size
            try:
                results[i] = self._trailer(text, seq)
            except EspError as exc:
                results[i] = exc
        return results

    def _verify(self, esp: bytes) -> tuple[int, int]:
        """Length, SPI, anti-replay and ICV checks; (sequence number, ICV offset)."""
        n = len(esp)
        if n < self._min_size:
            raise TruncatedPacket(
                f"ESP packet of {n} bytes is shorter than the {self._min_size}-byte minimum "
                f"for {self!r}"
            )
        spi = esp[:4]
        if spi != self.spi:
            raise UnknownSpi(spi)
        seq = int.from_bytes(esp[4:8], "big")
        if self.replay is not None:
            self.replay.check(seq)
        end = n - self._icv_size
        if self._mac is not None:
            mac = self._mac.copy()
            mac.update(esp[:end])
            if not hmac.compare_digest(mac.digest()[: self._icv_size], esp[end:]):
                raise BadIcv(f"ICV mismatch on SPI 0x{spi.hex()} sequence {seq}")
        if self.replay is not None:
            self.replay.accept(seq)
        return seq, end

    def _trailer(self, plaintext: bytes, seq: int) -> EspPayload:
        """Check the padding and split off the ESP trailer (RFC 4303 §2.4-2.6)."""
        pad_len, next_header = plaintext[-2], plaintext[-1]
        size = len(plaintext) - 2 - pad_len
        if size < 0:
            raise BadPadding(
                f"pad length {pad_len} exceeds the {len(plaintext) - 2}-byte payload "
                f"(SPI 0x{self.spi.hex()} sequence {seq})"
            )
        if plaintext[size:-2] != _PADS[pad_len]:
            raise BadPadding(
                f"padding is not 1, 2, 3, ... (got {plaintext[size:-2].hex()}; "
                f"SPI 0x{self.spi.hex()} sequence {seq})"
            )
        return EspPayload(self.spi, seq, next_header, plaintext[:size], pad_len)

    def decapsulate(self, esp: bytes) -> bytes:
        """Return the inner IP packet of a tunnel-mode ESP packet (next header 4 or 41)."""
        result = self.unprotect(esp)
        if result.next_header not in (NEXT_HEADER_IPV4, NEXT_HEADER_IPV6):
            raise EspError(
                f"next header {result.next_header} is not a tunnel-mode inner IP packet "
                f"(SPI 0x{result.spi.hex()} sequence {result.seq})"
            )
        return result.payload

    def _decrypt(self, iv: bytes, ciphertext: bytes, spi: bytes, seq: int) -> bytes:
        size = len(ciphertext)
        if self._cbc:
            if size == 0 or size % self._align:
                raise TruncatedPacket(
                    f"ciphertext of {size} bytes is not a whole number of "
                    f"{self._align}-byte blocks (SPI 0x{spi.hex()} sequence {seq})"
                )
            if size <= _ECB_LIMIT and self._ecb is not None:
                blocks = self._ecb.update(ciphertext)
                chain = iv + ciphertext[: -self._align]
                return (int.from_bytes(blocks, "big") ^ int.from_bytes(chain, "big")).to_bytes(
                    size, "big"
                )
        elif size < 2:
            raise TruncatedPacket(f"ciphertext of {size} bytes has no ESP trailer")
        dec = Cipher(self._algorithm, self._mode(iv)).decryptor()
        return dec.update(ciphertext) + dec.finalize()

    def _mode(self, iv: bytes) -> modes.CBC | modes.CTR:
        if self._cbc:
            return modes.CBC(iv)
        return modes.CTR(self._salt + iv + b"\x00\x00\x00\x01")


def _algorithm(encr: Encr, keymat: bytes) -> algorithms.AES | TripleDES:
    if encr is Encr.DES_CBC:
        return TripleDES(keymat * 3)
    if encr is Encr.TDES_CBC:
        return TripleDES(keymat)
    return algorithms.AES(keymat[: len(keymat) - encr.salt_size])


def sa_pair_from_child(
    child: ChildSaKeys, random_bytes: RandomBytes, *, replay_window: int | None = 64
) -> tuple[EspSa, EspSa]:
    """Build (outbound, inbound) SAs from negotiated child SA keys."""
    outbound = EspSa(
        child.spi_out, child.encr, child.encr_key_out, child.integ, child.integ_key_out,
        random_bytes=random_bytes, replay_window=None, udp_encapsulated=child.udp_encapsulated,
    )
    inbound = EspSa(
        child.spi_in, child.encr, child.encr_key_in, child.integ, child.integ_key_in,
        replay_window=replay_window, udp_encapsulated=child.udp_encapsulated,
    )
    return outbound, inbound


class InboundSad:
    """Inbound SAs by SPI (the RFC 4301 SAD lookup for received ESP)."""

    def __init__(self) -> None:
        self._by_spi: dict[bytes, EspSa] = {}

    def add(self, sa: EspSa) -> None:
        self._by_spi[sa.spi] = sa

    def remove(self, spi: bytes) -> None:
        self._by_spi.pop(spi, None)

    def lookup(self, spi: bytes) -> EspSa:
        try:
            return self._by_spi[spi]
        except KeyError:
            raise UnknownSpi(spi) from None

    def __len__(self) -> int:
        return len(self._by_spi)

    def decapsulate(self, esp: bytes) -> bytes:
        """Find the SA by the packet's SPI and decapsulate."""
        if len(esp) < 8:
            raise TruncatedPacket(f"ESP packet of {len(esp)} bytes has no complete header")
        return self.lookup(esp[:4]).decapsulate(esp)
