"""Dual_EC_DRBG (NIST SP 800-90A, 2007/2012 form) and ScreenOS's ``dualec32``.

:class:`DualEcDrbg` follows SP 800-90A §10.3.1: Hash_df seeding, reseed,
additional input, prediction resistance, partial final blocks (the leftmost
bytes of the last block) and the per-call final state update ``s = x(s*P)``
(the 2007 "step 14").  P defaults to the curve generator; Q is always given by
the caller (the lab passes its own trapdoor Q; the NIST Q only reproduces the
published vectors).

:func:`dualec32` is the ScreenOS variant (CCS 2016 §2, §4.1): two blocks per call,
30 bytes of the first and 2 of the second, no additional input and *no* final
update, so the returned state s2 is the one the next call continues from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from kleptolab.drbg import _ec
from kleptolab.drbg.curves import P256, Curve

__all__ = ["DualEcDrbg", "dualec32", "dualec_blocks", "hash_df", "outlen"]

Point = tuple[int, int]

_HASH_STRENGTH = {"sha1": 128, "sha224": 192, "sha256": 256, "sha384": 256, "sha512": 256}
_CURVE_STRENGTH = {256: 128, 384: 192, 521: 256}
_MAX_INPUT = 1 << 10  # bytes of entropy, nonce, personalization or additional input
_RESEED_INTERVAL = 1 << 32  # blocks (SP 800-90A Table 4)


def _hash_name(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _HASH_STRENGTH:
        raise ValueError(
            f"unsupported hash {name!r}: expected one of SHA-1, SHA-224, SHA-256, SHA-384, SHA-512"
        )
    return key


def hash_df(hash_name: str, data: bytes, bits: int) -> int:
    """SP 800-90A §10.4.1 Hash_df: the leftmost ``bits`` bits of the hash stream, as an int."""
    if bits <= 0 or bits > 255 * 512:
        raise ValueError(f"Hash_df cannot return {bits} bits")
    name = _hash_name(hash_name)
    nbytes = (bits + 7) // 8
    stream = b""
    counter = 1
    while len(stream) < nbytes:
        stream += hashlib.new(name, bytes([counter]) + bits.to_bytes(4, "big") + data).digest()
        counter += 1
    return int.from_bytes(stream[:nbytes], "big") >> (8 * nbytes - bits)


def outlen(curve: Curve) -> int:
    """Output block length in bytes: the largest multiple of 8 bits below ``seedlen - 13``."""
    return (curve.bits - 13) // 8


def _mult_x(curve: Curve, k: int, point: Point) -> int:
    try:
        return _ec.mult_x(curve, k, point)
    except ValueError as exc:  # probability about 2^-256: the state hit the identity
        raise RuntimeError("Dual EC state reached the point at infinity") from exc


class DualEcDrbg:
    """SP 800-90A Dual_EC_DRBG over ``curve`` with points P (default G) and Q.

    ``entropy_source(nbytes)`` is called for prediction-resistant requests and
    for :meth:`reseed` without explicit entropy.  ``final_update=False`` drops
    the per-call step 14 (the "2006" form; for experiments only).
    """

    def __init__(
        self,
        curve: Curve,
        hash_name: str,
        q: Point,
        *,
        p: Point | None = None,
        entropy_source: Callable[[int], bytes] | None = None,
        final_update: bool = True,
    ) -> None:
        if curve.bits not in _CURVE_STRENGTH:
            raise ValueError(f"Dual EC is defined on P-256, P-384 and P-521, not {curve.name}")
        self.curve = curve
        self.hash_name = _hash_name(hash_name)
        self.security_strength = _CURVE_STRENGTH[curve.bits]
        if _HASH_STRENGTH[self.hash_name] < self.security_strength:
            raise ValueError(
                f"{hash_name} is too weak for {curve.name} "
                f"({_HASH_STRENGTH[self.hash_name]} < {self.security_strength} bits)"
            )
        point_p = curve.generator if p is None else p
        for label, point in (("P", point_p), ("Q", q)):
            if not curve.contains(point):
                raise ValueError(f"{label} is not a point of {curve.name}")
        self.p = point_p
        self.q = q
        self.seedlen = curve.bits
        self.outlen = outlen(curve)
        self.final_update = final_update
        self._entropy_source = entropy_source
        self._s: int | None = None
        self.reseed_counter = 0

    @property
    def state(self) -> int:
        """The secret state s (for tests and the lab's debug hooks)."""
        if self._s is None:
            raise ValueError("the DRBG is not instantiated")
        return self._s

    def _check(self, label: str, data: bytes, minimum: int = 0) -> None:
        if len(data) > _MAX_INPUT:
            raise ValueError(f"{label} is too long ({len(data)} > {_MAX_INPUT} bytes)")
        if len(data) < minimum:
            raise ValueError(f"{label} is too short ({len(data)} < {minimum} bytes)")

    def instantiate(self, entropy: bytes, nonce: bytes = b"", personalization: bytes = b"") -> None:
        """``s = Hash_df(entropy || nonce || personalization, seedlen)``."""
        self._check("entropy input", entropy, self.security_strength // 8)
        self._check("nonce", nonce)
        self._check("personalization string", personalization)
        self._s = hash_df(self.hash_name, entropy + nonce + personalization, self.seedlen)
        self.reseed_counter = 0

    def _pad8(self, value: int) -> bytes:
        nbytes = (self.seedlen + 7) // 8
        return (value << (8 * nbytes - self.seedlen)).to_bytes(nbytes, "big")

    def reseed(self, entropy: bytes | None = None, additional_input: bytes = b"") -> None:
        """``s = Hash_df(pad8(s) || entropy || additional_input, seedlen)``."""
        if entropy is None:
            entropy = self._fresh_entropy()
        self._check("entropy input", entropy, self.security_strength // 8)
        self._check("additional input", additional_input)
        self._s = hash_df(
            self.hash_name, self._pad8(self.state) + entropy + additional_input, self.seedlen
        )
        self.reseed_counter = 0

    def _fresh_entropy(self) -> bytes:
        if self._entropy_source is None:
            raise ValueError("no entropy source: pass entropy explicitly or give entropy_source")
        return self._entropy_source(self.security_strength // 8)

    def generate(
        self, nbytes: int, additional_input: bytes = b"", prediction_resistance: bool = False
    ) -> bytes:
        """Return ``nbytes`` pseudorandom bytes (SP 800-90A Dual_EC_DRBG_Generate)."""
        if nbytes < 0:
            raise ValueError("cannot generate a negative number of bytes")
        self._check("additional input", additional_input)
        if prediction_resistance:
            self.reseed(self._fresh_entropy(), additional_input)
            additional_input = b""
        blocks = -(-nbytes // self.outlen)
        if self.reseed_counter + blocks > _RESEED_INTERVAL:
            raise ValueError("reseed required before generating more output")
        t = self.state
        if additional_input:
            t ^= hash_df(self.hash_name, additional_input, self.seedlen)
        mask = (1 << (8 * self.outlen)) - 1
        out = bytearray()
        s = t
        for _ in range(blocks):
            s = _mult_x(self.curve, s, self.p)
            r = _mult_x(self.curve, s, self.q)
            out += (r & mask).to_bytes(self.outlen, "big")
        if self.final_update:
            s = _mult_x(self.curve, s, self.p)
        self._s = s
        self.reseed_counter += blocks
        return bytes(out[:nbytes])


def dualec_blocks(state: int, q: Point, curve: Curve = P256) -> tuple[int, int, int]:
    """One ScreenOS Dual EC call as integers: ``(r1, r2, s2)`` (full x-coordinates)."""
    if not curve.contains(q):
        raise ValueError(f"Q is not a point of {curve.name}")
    g = curve.generator
    s1 = _mult_x(curve, state, g)
    r1 = _mult_x(curve, s1, q)
    s2 = _mult_x(curve, s1, g)
    r2 = _mult_x(curve, s2, q)
    return r1, r2, s2


def dualec32(state: int, q: Point, curve: Curve = P256) -> tuple[bytes, int]:
    """ScreenOS Dual EC: ``(lsb30(r1) || first 2 bytes of lsb30(r2), s2)``.

    For P-256 the output is 32 bytes; on other curves it is ``outlen + 2``.
    The state is not updated again after the call (CCS 2016 §2).
    """
    r1, r2, s2 = dualec_blocks(state, q, curve)
    size = outlen(curve)
    mask = (1 << (8 * size)) - 1
    head = (r2 & mask).to_bytes(size, "big")[:2]
    return (r1 & mask).to_bytes(size, "big") + head, s2
