"""Typed ESP failures: every inbound problem is an :class:`EspError` (a ``ValueError``)."""

from __future__ import annotations


class EspError(ValueError):
    """An ESP packet was rejected, or an SA cannot do what was asked."""


class TruncatedPacket(EspError):
    """Too short, or its ciphertext is not a whole number of cipher blocks."""


class UnknownSpi(EspError):
    """No inbound SA has this SPI."""

    def __init__(self, spi: bytes) -> None:
        super().__init__(f"no inbound SA for SPI 0x{spi.hex()}")
        self.spi = spi


class ReplayedPacket(EspError):
    """The sequence number was already seen, or lies left of the anti-replay window."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"sequence number {seq} rejected: {reason}")
        self.seq = seq


class BadIcv(EspError):
    """The integrity check value does not match (wrong key, or a forged/damaged packet)."""


class BadPadding(EspError):
    """Pad length or pad bytes are not the RFC 4303 monotonic sequence 1, 2, 3, …"""


class SequenceExhausted(EspError):
    """The 32-bit sequence number would wrap; the SA must be rekeyed (RFC 4303 §3.3.3)."""
