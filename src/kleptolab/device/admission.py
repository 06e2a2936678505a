"""Admission control for new IKE SAs: the half-open bound and IKEv2 COOKIEs (RFC 7296 §2.6).

While fewer than ``max_half_open`` SAs are half-open in all, and fewer than
``max_per_peer`` from the requesting address, a new initiator is admitted.
Beyond either bound, an IKEv2 IKE_SA_INIT is admitted only if it carries a
valid COOKIE notify (else the responder answers with one, statelessly), and
an IKEv1 Main/Aggressive Mode request is dropped.  A hard cap of twice the
bound evicts the oldest half-open SA, so cookie-returning floods cannot grow
state without limit either.  Cookies are made and checked by
:mod:`kleptolab.ike.v2.cookies`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kleptolab.ike.v2.cookies import CookieJar, cookie_challenge
from kleptolab.ike.wire import IkeHeader, WireError, parse_payload_chain

IKEV2_SA_INIT = 34
IKEV2_NONCE = 40
IKEV2_NOTIFY = 41
NOTIFY_COOKIE = 16390


class Verdict(Enum):
    """What to do with a request for a new IKE SA."""

    ADMIT = "admit"
    SEND_COOKIE = "send-cookie"
    DROP = "drop"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    reply: bytes = b""  # the stateless COOKIE response, for SEND_COOKIE


class Admission:
    """Decides whether a new responder SA may be created (state lives in the caller's SA table)."""

    def __init__(self, max_half_open: int, secret: bytes, max_per_peer: int | None = None) -> None:
        if max_half_open < 1:
            raise ValueError(f"max_half_open must be at least 1, got {max_half_open}")
        per_peer = max(1, max_half_open // 4) if max_per_peer is None else max_per_peer
        if not 1 <= per_peer <= max_half_open:
            raise ValueError(f"max_per_peer must be between 1 and {max_half_open}, got {per_peer}")
        self.max_half_open = max_half_open
        self.max_per_peer = per_peer
        self.jar = CookieJar(secret)

    @property
    def hard_cap(self) -> int:
        """Half-open count at which the oldest half-open SA is evicted."""
        return 2 * self.max_half_open

    def decide(
        self, version: int, message: bytes, address: str, half_open: int, from_peer: int
    ) -> Decision:
        """Judge a first message (IKEv1 MM/AM request or IKEv2 IKE_SA_INIT request).

        ``half_open`` counts all half-open SAs, ``from_peer`` those from ``address``.
        """
        if half_open < self.max_half_open and from_peer < self.max_per_peer:
            return Decision(Verdict.ADMIT, "below the half-open bounds")
        load = f"{half_open} half-open SAs ({from_peer} from {address})"
        if version == 1:
            return Decision(Verdict.DROP, f"{load}: IKEv1 request dropped")
        try:
            reply = cookie_challenge(message, self.jar, address)
        except WireError as exc:
            return Decision(Verdict.DROP, f"malformed IKE_SA_INIT under load: {exc}")
        if reply is None:
            return Decision(Verdict.ADMIT, "valid COOKIE")
        return Decision(Verdict.SEND_COOKIE, f"{load}: COOKIE requested", reply)


def cookie_from_response(message: bytes) -> bytes | None:
    """The COOKIE data of an IKE_SA_INIT response that asks for one (initiator side), else None."""
    try:
        header = IkeHeader.parse(message)
        if header.exchange_type != IKEV2_SA_INIT or not header.is_response:
            return None
        payloads = parse_payload_chain(header.next_payload, message[IkeHeader.SIZE : header.length])
    except WireError:
        return None
    for payload in payloads:
        body = payload.body
        if (
            payload.type == IKEV2_NOTIFY
            and len(body) >= 4
            and int.from_bytes(body[2:4], "big") == NOTIFY_COOKIE
        ):
            return body[4 + body[1] :]
    return None
