"""Stateless IKEv2 cookies (RFC 7296 §2.6), for a responder under a half-open flood.

Cookie = <version of secret> | SHA-256(Ni | IPi | SPIi | secret).  The
responder answers an IKE_SA_INIT request that lacks a valid cookie with a
one-payload N(COOKIE) reply and keeps no state at all; the initiator repeats
its request with the cookie first.  The previous secret stays valid after
:meth:`CookieJar.rotate`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from kleptolab.ike.v2.constants import ExchangeType, NotifyType
from kleptolab.ike.v2.payloads import (
    Ikev2Message,
    NoncePayload,
    NotifyPayload,
    build_message,
    parse_message,
)
from kleptolab.ike.wire import FLAG_RESPONSE, WireError


class CookieJar:
    """Makes and checks cookies; ``secret`` should be at least 16 random bytes."""

    def __init__(self, secret: bytes, version: int = 0) -> None:
        if len(secret) < 16:
            raise ValueError(f"cookie secret must be at least 16 bytes, got {len(secret)}")
        self._secrets = {version & 0xFF: secret}
        self._version = version & 0xFF

    def rotate(self, secret: bytes) -> None:
        """Use a new secret; cookies made with the previous one still verify."""
        if len(secret) < 16:
            raise ValueError(f"cookie secret must be at least 16 bytes, got {len(secret)}")
        old = self._secrets[self._version]
        self._version = (self._version + 1) & 0xFF
        self._secrets = {self._version - 1 & 0xFF: old, self._version: secret}

    def make(self, ni: bytes, ip: str, spi_i: bytes) -> bytes:
        """The cookie for this initiator nonce, address and SPI."""
        return self._make(self._version, ni, ip, spi_i)

    def check(self, cookie: bytes, ni: bytes, ip: str, spi_i: bytes) -> bool:
        """Constant-time check against the current or previous secret."""
        if not cookie or cookie[0] not in self._secrets:
            return False
        return hmac.compare_digest(self._make(cookie[0], ni, ip, spi_i), cookie)

    def _make(self, version: int, ni: bytes, ip: str, spi_i: bytes) -> bytes:
        packed = ipaddress.ip_address(ip).packed
        return bytes([version]) + hashlib.sha256(ni + packed + spi_i + self._secrets[version]).digest()


def cookie_challenge(request: bytes, jar: CookieJar, remote_ip: str) -> bytes | None:
    """For an IKE_SA_INIT request: None if it carries a valid COOKIE, else the N(COOKIE) reply.

    Raises :class:`WireError` when ``request`` is not a well-formed IKE_SA_INIT request.
    """
    msg = parse_message(request)
    if msg.exchange_type != ExchangeType.IKE_SA_INIT or msg.flags & FLAG_RESPONSE or msg.message_id:
        raise WireError("cookie challenge: not an IKE_SA_INIT request")
    nonces = [p for p in msg.payloads if isinstance(p, NoncePayload)]
    if len(nonces) != 1:
        raise WireError("cookie challenge: IKE_SA_INIT request without exactly one nonce")
    cookie = msg.notifies().get(NotifyType.COOKIE)
    if cookie is not None and jar.check(cookie.data, nonces[0].nonce, remote_ip, msg.spi_i):
        return None
    reply = Ikev2Message(
        msg.spi_i, b"\x00" * 8, ExchangeType.IKE_SA_INIT, FLAG_RESPONSE, 0,
        (NotifyPayload(NotifyType.COOKIE, jar.make(nonces[0].nonce, remote_ip, msg.spi_i)),),
    )
    return build_message(reply)
