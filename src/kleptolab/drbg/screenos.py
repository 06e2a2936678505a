"""The ScreenOS PRNG, reproduced by mechanism (CCS 2016 §4, Listings 1-2).

6.2/6.3 (:attr:`PrngGeneration.DUALEC_X931`): every ``prng_generate()`` call
reseeds X9.31 from 32 bytes of Dual EC written into the shared output buffer
``prng_temporary``, leaving the *global* ``prng_output_index`` at 32; the
X9.31 loop ``while index <= 31`` then never runs, so the caller reads raw Dual
EC output (the "cascade bug").  ``fix_cascade_bug=True`` gives the loop its own
local index, and X9.31 output appears.  ``one_stage_rng`` (``set key
one-stage-rng``) suppresses the reseed, so X9.31 runs on the last seed/key.

6.1 (:attr:`PrngGeneration.X931_ONLY`): X9.31/3DES only, 20-byte outputs, a
local index, reseeded from the entropy callable every 10,000 calls.

Emulator choices (the sources do not say; CCS 2016 §2, §4):

* BN_bn2bin quirk (default on for 6.2/6.3): each 30-byte block value is
  written without zero padding, left-aligned; if it has leading zero bytes the
  tail of its slot keeps the previous buffer content.  Hence output bytes 0
  and 30 are never 0x00 (CCS 2016 §7).
* DT = {0, cycles} is two 32-bit big-endian words (SSG-5/20 are big-endian ARM).
* With ``one_stage_rng`` on before X9.31 was ever keyed, the call reseeds once.
* With no ``entropy`` callable, entropy is a SHAKE-256 stream of ``seed``
  (reproducible runs); a gateway seeds from ``secrets`` instead.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from enum import StrEnum

from kleptolab.drbg import _reference
from kleptolab.drbg.curves import P256
from kleptolab.drbg.dualec import dualec_blocks
from kleptolab.drbg.x931 import X931Rng

__all__ = ["KAT_SEED", "PrngGeneration", "ScreenOsPrng", "SelfTestError", "kat_expected", "self_test"]

Point = tuple[int, int]

_BLOCK = 30  # Dual EC P-256 output block
_MASK = (1 << (8 * _BLOCK)) - 1
KAT_SEED = 0x4B4C4550544F4C41422053637265656E4F53204475616C204543204B41542031
"""Fixed Dual EC state for the known-answer self-test (ASCII "KLEPTOLAB ScreenOS Dual EC KAT 1")."""


def _default_cycles() -> int:
    return time.perf_counter_ns() & 0xFFFFFFFF


def _bn2bin_into(buf: bytearray, offset: int, value: int, room: int) -> None:
    """BN_bn2bin without padding: minimal big-endian bytes, left-aligned, clipped to ``room``."""
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")[:room]
    buf[offset : offset + len(raw)] = raw


class PrngGeneration(StrEnum):
    """Which PRNG design a release runs (CCS 2016 §3, §4)."""

    X931_ONLY = "x931"  # 6.1: X9.31 reseeded from entropy every 10,000 calls
    DUALEC_X931 = "dualec-x931"  # 6.2/6.3: Dual EC reseeds X9.31 on every call (cascade bug)


class ScreenOsPrng:
    """One device's ``prng_generate()`` with its global state (see module docstring)."""

    def __init__(
        self,
        generation: PrngGeneration,
        *,
        q: Point | None,
        seed: int,
        one_stage_rng: bool = False,
        bn2bin_quirk: bool = True,
        cycle_counter: Callable[[], int] | None = None,
        entropy: Callable[[int], bytes] | None = None,
        fix_cascade_bug: bool = False,
        reseed_period: int = 10_000,
    ) -> None:
        self.generation = PrngGeneration(generation)
        if self.generation is PrngGeneration.DUALEC_X931:
            if q is None:
                raise ValueError("ScreenOS 6.2/6.3 needs a Dual EC point Q")
            if not P256.contains(q):
                raise ValueError("Q is not a point of P-256")
            if not 0 < seed < 2**256:
                raise ValueError("the Dual EC seed must be a positive 256-bit integer")
        elif q is not None:
            raise ValueError("ScreenOS 6.1 has no Dual EC: q must be None")
        if reseed_period < 1:
            raise ValueError("reseed_period must be at least 1")
        self.q = q
        self.one_stage_rng = one_stage_rng
        self.bn2bin_quirk = bn2bin_quirk
        self.fix_cascade_bug = fix_cascade_bug
        self.reseed_period = reseed_period
        self.calls = 0
        self._cycles = cycle_counter or _default_cycles
        self._entropy = entropy or self._seeded_entropy(seed)
        self._state = seed
        # The firmware's globals.
        self.prng_temporary = bytearray(32)
        self.prng_output_index = 0
        self.blocks_generated_since_reseed = 0
        self._x931: X931Rng | None = None
        if self.generation is PrngGeneration.X931_ONLY:
            self._reseed_from_entropy()

    @staticmethod
    def _seeded_entropy(seed: int) -> Callable[[int], bytes]:
        counter = 0

        def entropy(nbytes: int) -> bytes:
            nonlocal counter
            counter += 1
            material = seed.to_bytes(66, "big") + counter.to_bytes(8, "big")
            return hashlib.shake_256(material).digest(nbytes)

        return entropy

    @property
    def dual_ec_state(self) -> int | None:
        """The Dual EC state s (debug hook, CCS 2016 §4); ``None`` on 6.1."""
        return None if self.generation is PrngGeneration.X931_ONLY else self._state

    def _dt(self) -> bytes:
        return (0).to_bytes(4, "big") + (self._cycles() & 0xFFFFFFFF).to_bytes(4, "big")

    def _dualec_generate(self) -> None:
        """``dualec_generate(prng_temporary, 32)``: 30 + 2 bytes straight into the shared buffer."""
        assert self.q is not None
        r1, r2, self._state = dualec_blocks(self._state, self.q, P256)
        buf = self.prng_temporary
        if self.bn2bin_quirk:
            _bn2bin_into(buf, 0, r1 & _MASK, _BLOCK)
            _bn2bin_into(buf, _BLOCK, r2 & _MASK, 2)
        else:
            buf[0:_BLOCK] = (r1 & _MASK).to_bytes(_BLOCK, "big")
            buf[_BLOCK:32] = (r2 & _MASK).to_bytes(_BLOCK, "big")[:2]

    def _prng_reseed(self) -> None:
        """6.2/6.3 ``prng_reseed()``: note how it leaves the global index at 32."""
        self.blocks_generated_since_reseed = 0
        self._dualec_generate()
        seed = bytes(self.prng_temporary[0:8])
        self.prng_output_index = 8
        key = bytes(self.prng_temporary[self.prng_output_index : self.prng_output_index + 24])
        self.prng_output_index = 32
        self._x931 = X931Rng("TDES-3KEY", key, seed)

    def _reseed_from_entropy(self) -> None:
        """6.1: seed (8 bytes) and key (24 bytes) from system entropy."""
        material = self._entropy(32)
        if len(material) != 32:
            raise ValueError(f"entropy callable returned {len(material)} bytes, expected 32")
        self.blocks_generated_since_reseed = 0
        self._x931 = X931Rng("TDES-3KEY", material[8:], material[:8])

    def generate(self) -> bytes:
        """One ``prng_generate()`` call: 32 bytes on 6.2/6.3, 20 bytes on 6.1."""
        self.calls += 1
        if self.generation is PrngGeneration.X931_ONLY:
            return self._generate_61()
        return self._generate_62()

    def _generate_62(self) -> bytes:
        dt = self._dt()
        self.prng_output_index = 0
        self.blocks_generated_since_reseed += 1
        if not self.one_stage_rng or self._x931 is None:
            self._prng_reseed()
        assert self._x931 is not None
        if self.fix_cascade_bug:
            index = 0  # the fix: a local loop index
            while index <= 31:
                self.prng_temporary[index : index + 8] = self._x931.step(dt)
                index += 8
        else:
            while self.prng_output_index <= 31:  # the global index: already 32 after a reseed
                block = self._x931.step(dt)
                self.prng_temporary[self.prng_output_index : self.prng_output_index + 8] = block
                self.prng_output_index += 8
        return bytes(self.prng_temporary)

    def _generate_61(self) -> bytes:
        dt = self._dt()
        if self.blocks_generated_since_reseed >= self.reseed_period:
            self._reseed_from_entropy()
        self.blocks_generated_since_reseed += 1
        assert self._x931 is not None
        output = bytearray(20)
        index = 0
        while index < 20:
            block = self._x931.step(dt)
            take = min(20 - index, 8)
            output[index : index + take] = block[:take]
            index += take
        return bytes(output)


def kat_expected(q: Point) -> bytes:
    """The 32-byte KAT answer for ``q``: raw Dual EC output from :data:`KAT_SEED`.

    Computed with the pure-Python reference arithmetic, independently of the
    OpenSSL path that :func:`self_test` exercises.
    """
    if not P256.contains(q):
        raise ValueError("Q is not a point of P-256")
    g = P256.generator
    s1 = _reference.mul_x(P256, KAT_SEED, g)
    r1 = _reference.mul_x(P256, s1, q)
    s2 = _reference.mul_x(P256, s1, g)
    r2 = _reference.mul_x(P256, s2, q)
    return (r1 & _MASK).to_bytes(_BLOCK, "big") + (r2 & _MASK).to_bytes(_BLOCK, "big")[:2]


class SelfTestError(RuntimeError):
    """The Dual EC known-answer self-test failed."""


def self_test(q: Point, expected: bytes | None = None) -> None:
    """Power-up KAT as the firmware carried one: run the PRNG from :data:`KAT_SEED`.

    ``expected`` is the value stored with the firmware (default: recomputed by
    :func:`kat_expected`).  Raises :class:`SelfTestError` on a mismatch.
    """
    if expected is None:
        expected = kat_expected(q)
    prng = ScreenOsPrng(
        PrngGeneration.DUALEC_X931, q=q, seed=KAT_SEED, bn2bin_quirk=False, cycle_counter=lambda: 0
    )
    got = prng.generate()
    if got != expected:
        raise SelfTestError(f"Dual EC KAT failed: expected {expected.hex()}, got {got.hex()}")
