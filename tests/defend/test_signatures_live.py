"""The Telnet rules against sessions captured from the lab gateway's real console (loopback)."""

from __future__ import annotations

import asyncio

import pytest

from kleptolab.defend.signatures import Segment, match_session, render_rules
from kleptolab.device.gateway import Gateway
from kleptolab.device.profiles import LAB_MASTER_PASSWORD
from tests.device.test_gateway import read_until, run_gateway

pytest.importorskip("suricataparser", reason="suricataparser is not installed")
pytestmark = pytest.mark.network

PASSWORD_ATTEMPT, SUCCESSFUL_LOGON = 9001730, 9001731


def capture_login(version: str, user: str, password: str, *, accepted: bool) -> list[Segment]:
    """Log in over Telnet and record every byte each way, in order, as the rules see a flow."""
    segments: list[Segment] = []

    async def body(gateway: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ports["telnet"])

        async def expect(marker: bytes) -> None:
            segments.append(Segment(False, await read_until(reader, marker)))

        def send(data: bytes) -> None:
            segments.append(Segment(True, data))
            writer.write(data)

        await expect(b"login: ")
        send(user.encode() + b"\r\n")
        await expect(b"password: ")
        send(password.encode() + b"\r\n")
        await expect(b"-> " if accepted else b": ")  # the prompt, or the next login/password prompt
        writer.close()

    run_gateway(version, body)
    return segments


def test_master_password_logon_on_the_backdoored_console_raises_both_alerts() -> None:
    session = capture_login("6.3.0r20", "anyone", LAB_MASTER_PASSWORD, accepted=True)
    assert session[-1].payload.endswith(b"-> ")
    assert match_session(render_rules(), session) == [PASSWORD_ATTEMPT, SUCCESSFUL_LOGON]


def test_master_password_on_the_fixed_console_is_an_attempt_without_logon() -> None:
    session = capture_login("6.3.0r21", "anyone", LAB_MASTER_PASSWORD, accepted=False)
    assert not session[-1].payload.endswith(b"-> ")
    assert match_session(render_rules(), session) == [PASSWORD_ATTEMPT]


def test_ordinary_admin_logon_raises_nothing() -> None:
    session = capture_login("6.3.0r20", "netscreen", "netscreen", accepted=True)
    assert session[-1].payload.endswith(b"-> ")
    assert match_session(render_rules(), session) == []
