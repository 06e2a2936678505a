"""Passive fingerprint of ScreenOS 6.2/6.3 IKE responders (CCS 2016 §7, §8).

ScreenOS writes each 30-byte Dual EC block with BN_bn2bin without padding, so
byte 0 and byte 30 of its 32-byte nonces are never 0x00.  A uniform source
shows no zero in those 2n positions of n nonces with probability
``(255/256)^(2n)``; that probability is the likelihood ratio against "uniform"
and the verdict needs it below ``alpha`` (default 1 %, i.e. >= 589 nonces).
No trapdoor is needed: only responder nonces in clear (IKEv1 phase-1
messages without the E flag, IKEv2 IKE_SA_INIT responses).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kleptolab.ike.wire import FLAG_ENCRYPTION, IkeHeader, WireError, iter_payloads

__all__ = ["ResponderStats", "fingerprint", "nonces_needed", "responder_nonces"]

NONCE_V1, NONCE_V2 = 10, 40
IKE_SA_INIT = 34
_V1_CLEAR_EXCHANGES = (2, 4)  # Identity Protection (Main), Aggressive


def nonces_needed(alpha: float = 0.01) -> int:
    """How many zero-free 32-byte nonces push ``(255/256)^(2n)`` below ``alpha``."""
    return math.ceil(math.log(alpha) / (2 * math.log(255 / 256)))


@dataclass
class ResponderStats:
    """What one responder (``address``) showed."""

    address: str
    nonces: int = 0
    nonces32: int = 0
    zeros: int = 0  # zero bytes seen at positions 0 and 30 of 32-byte nonces
    other_lengths: dict[int, int] = field(default_factory=dict)

    @property
    def p_uniform(self) -> float:
        """Probability that a uniform source shows no zero in the observed positions."""
        return (255 / 256) ** (2 * self.nonces32)

    @property
    def likelihood_ratio(self) -> float:
        """P(observation | ScreenOS) / P(observation | uniform); 0 once a zero is seen."""
        return 0.0 if self.zeros else 1 / self.p_uniform

    def verdict(self, alpha: float = 0.01) -> str:
        """``screenos-dualec``, ``not-screenos``, ``inconclusive`` or ``no-32-byte-nonces``."""
        if self.nonces32 == 0:
            return "no-32-byte-nonces"
        if self.zeros:
            return "not-screenos"
        return "screenos-dualec" if self.p_uniform < alpha else "inconclusive"

    def to_json(self, alpha: float = 0.01) -> dict[str, Any]:
        """JSON form, with the verdict at ``alpha``."""
        return {
            "responder": self.address,
            "nonces": self.nonces,
            "nonces32": self.nonces32,
            "zeros_at_0_and_30": self.zeros,
            "p_uniform_no_zero": self.p_uniform,
            "likelihood_ratio": self.likelihood_ratio,
            "verdict": self.verdict(alpha),
            "other_nonce_lengths": {str(k): v for k, v in sorted(self.other_lengths.items())},
        }


def _nonce(header: IkeHeader, message: bytes) -> bytes | None:
    want = NONCE_V2 if header.major_version == 2 else NONCE_V1
    try:
        for kind, body in iter_payloads(header.next_payload, message[IkeHeader.SIZE : header.length]):
            if kind == want:
                return body
    except WireError:
        return None
    return None


def responder_nonces(messages: Iterable[tuple[str, str, bytes]]) -> list[tuple[str, bytes]]:
    """``(responder address, nonce)`` from ``(src, dst, ike_message)`` triples in capture order.

    IKEv2: responses to IKE_SA_INIT.  IKEv1: Main/Aggressive messages in clear
    sent by the side that received the first message of the exchange.
    """
    out: list[tuple[str, bytes]] = []
    responders: dict[bytes, str] = {}
    for src, dst, message in messages:
        try:
            header = IkeHeader.parse(message)
        except WireError:
            continue
        if header.major_version == 2:
            if header.exchange_type == IKE_SA_INIT and header.is_response:
                nonce = _nonce(header, message)
                if nonce is not None:
                    out.append((src, nonce))
            continue
        if header.exchange_type not in _V1_CLEAR_EXCHANGES or header.flags & FLAG_ENCRYPTION:
            continue
        responder = responders.setdefault(header.spi_i, dst)
        if src == responder:
            nonce = _nonce(header, message)
            if nonce is not None:
                out.append((src, nonce))
    return out


def fingerprint(nonces: Iterable[tuple[str, bytes]]) -> list[ResponderStats]:
    """Per-responder statistics, in order of first appearance."""
    stats: dict[str, ResponderStats] = {}
    for address, nonce in nonces:
        s = stats.setdefault(address, ResponderStats(address))
        s.nonces += 1
        if len(nonce) == 32:
            s.nonces32 += 1
            s.zeros += (nonce[0] == 0) + (nonce[30] == 0)
        else:
            s.other_lengths[len(nonce)] = s.other_lengths.get(len(nonce), 0) + 1
    return list(stats.values())
