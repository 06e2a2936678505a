"""Stateless cookies (RFC 7296 §2.6)."""

from __future__ import annotations

import pytest

from kleptolab.ike.v2.constants import NotifyType
from kleptolab.ike.v2.cookies import CookieJar, cookie_challenge
from kleptolab.ike.v2.payloads import (
    Ikev2Message,
    NoncePayload,
    NotifyPayload,
    build_message,
    parse_message,
)
from kleptolab.ike.wire import WireError


def _request(*extra: NotifyPayload) -> bytes:
    return build_message(Ikev2Message(b"s" * 8, bytes(8), 34, 0x08, 0, (*extra, NoncePayload(b"n" * 32))))


def test_challenge_then_accept() -> None:
    jar = CookieJar(b"secret-secret-secret")
    reply = cookie_challenge(_request(), jar, "192.0.2.2")
    assert reply is not None
    message = parse_message(reply)
    (cookie,) = message.payloads
    assert isinstance(cookie, NotifyPayload) and cookie.notify_type == NotifyType.COOKIE
    assert message.spi_r == bytes(8) and message.flags == 0x20
    assert cookie_challenge(_request(cookie), jar, "192.0.2.2") is None
    assert cookie_challenge(_request(cookie), jar, "192.0.2.3") is not None  # other address
    jar.rotate(b"another-secret-of-16+")
    assert cookie_challenge(_request(cookie), jar, "192.0.2.2") is None  # previous secret still valid
    jar.rotate(b"third-secret-of-16+++")
    assert cookie_challenge(_request(cookie), jar, "192.0.2.2") is not None
    assert not jar.check(b"", b"n", "192.0.2.2", b"s" * 8)


def test_rejects_short_secrets_and_non_requests() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        CookieJar(b"short")
    response = build_message(Ikev2Message(b"s" * 8, bytes(8), 34, 0x20, 0, (NoncePayload(b"n" * 32),)))
    with pytest.raises(WireError, match="not an IKE_SA_INIT request"):
        cookie_challenge(response, CookieJar(b"x" * 16), "192.0.2.2")
