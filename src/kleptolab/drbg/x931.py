"""ANSI X9.31 (A.2.4) RNG over TDES (2- or 3-key) and AES-128/192/256.

One step with date/time vector DT: ``I = E_K(DT); R = E_K(I xor V);
V = E_K(R xor I)``; R is the output block.  ScreenOS runs the 3-key TDES
variant with an 8-byte V ("seed"), a 24-byte key and DT = {0, cycle counter}.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = ["CIPHERS", "X931Rng"]

CIPHERS: dict[str, int] = {
    "TDES-2KEY": 16,
    "TDES-3KEY": 24,
    "AES-128": 16,
    "AES-192": 24,
    "AES-256": 32,
}
"""Supported block ciphers and their key lengths in bytes (2-key TDES also takes K1||K2||K1)."""

_ALIASES = {"3DES": "TDES-3KEY", "TDES": "TDES-3KEY", "TDES3": "TDES-3KEY", "TDES2": "TDES-2KEY"}


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class X931Rng:
    """X9.31 generator state: cipher key K and seed V (one cipher block)."""

    def __init__(self, cipher: str, key: bytes, v: bytes) -> None:
        name = _ALIASES.get(cipher.upper(), cipher.upper())
        if name not in CIPHERS:
            raise ValueError(
                f"unknown X9.31 cipher {cipher!r}: expected one of {', '.join(CIPHERS)}"
            )
        if name == "TDES-2KEY" and len(key) == 24:
            if key[:8] != key[16:]:
                raise ValueError("a 24-byte 2-key TDES key must repeat K1 as K3")
        elif len(key) != CIPHERS[name]:
            raise ValueError(f"{name} needs a {CIPHERS[name]}-byte key, got {len(key)} bytes")
        algorithm = TripleDES(key) if name.startswith("TDES") else algorithms.AES(key)
        self.cipher = name
        self.block_size = algorithm.block_size // 8
        if len(v) != self.block_size:
            raise ValueError(f"V must be {self.block_size} bytes for {name}, got {len(v)}")
        self._enc: CipherContext = Cipher(algorithm, modes.ECB()).encryptor()
        self._v = bytes(v)

    @property
    def v(self) -> bytes:
        """The current seed value V."""
        return self._v

    def step(self, dt: bytes) -> bytes:
        """Run one X9.31 step with date/time vector ``dt``; return R and update V."""
        if len(dt) != self.block_size:
            raise ValueError(f"DT must be {self.block_size} bytes, got {len(dt)}")
        i = self._enc.update(dt)
        r = self._enc.update(_xor(i, self._v))
        self._v = self._enc.update(_xor(r, i))
        return r

    def monte_carlo(self, dt: bytes, iterations: int) -> bytes:
        """RNGVS Monte Carlo test: ``iterations`` steps, DT += 1 (big-endian) each; last R."""
        if iterations < 1:
            raise ValueError("iterations must be at least 1")
        counter = int.from_bytes(dt, "big")
        modulus = 1 << (8 * self.block_size)
        r = b""
        for _ in range(iterations):
            r = self.step(counter.to_bytes(self.block_size, "big"))
            counter = (counter + 1) % modulus
        return r
