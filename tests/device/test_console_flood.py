"""Console exhaustion (issue 13): idle connections must not keep a login from another address out.

Before: 4 idle TCP connections held every SSH and Telnet slot until the 60 s
login timeout.  Now pre-authentication slots are budgeted per source (4) and in
all (32, fair eviction), and the pre-authentication timeout is 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh
import pytest

from kleptolab.device.console.slots import ConsoleSlots
from kleptolab.device.gateway import Gateway

from .test_gateway import read_until, run_gateway, telnet_login

IDLE = 100
ATTEMPTS = 10


def test_slots_per_source_budget_and_fair_eviction() -> None:
    closed: list[str] = []
    slots = ConsoleSlots(max_sessions=2, max_pending=6, max_pending_per_source=3)
    mine = [slots.open("10.0.0.1", lambda n=n: closed.append(f"a{n}")) for n in range(5)]
    assert [s is not None for s in mine] == [True, True, True, False, False]
    others = [slots.open(f"10.0.1.{n}", lambda n=n: closed.append(f"b{n}")) for n in range(3)]
    assert all(others) and slots.pending == 6
    legit = slots.open("10.9.9.9", lambda: closed.append("legit"))
    assert legit is not None and closed == ["a0"]  # the oldest of the busiest source
    assert slots.pending == 6 and slots.refused == 2 and slots.evicted == 1
    assert slots.authenticated(legit) and slots.sessions == 1 and slots.pending == 5
    second = others[0]
    assert second is not None and slots.authenticated(second)
    third = others[1]
    assert third is not None and not slots.authenticated(third)  # 2 sessions at most
    slots.release(legit)
    slots.release(legit)  # idempotent
    assert slots.sessions == 1 and slots.authenticated(third)


async def _idle(port: int, sources: list[str]) -> list[asyncio.StreamWriter]:
    writers = []
    for host in sources:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))
            writers.append(writer)
    await asyncio.sleep(0.2)
    return writers


async def _telnet_ok(port: int) -> bool:
    try:
        reader, writer, _ = await telnet_login(port, "netscreen", "netscreen")
        try:
            await read_until(reader, b"ssg5-lab-> ", timeout=5)
            writer.write(b"exit\r\n")
            return True
        finally:
            writer.close()
    except (EOFError, ConnectionError, TimeoutError, AssertionError):
        return False


async def _ssh_ok(gw: Gateway) -> bool:
    try:
        async with asyncssh.connect(
            "127.0.0.1",
            gw.ports["ssh"],
            username="netscreen",
            password="netscreen",
            known_hosts=None,
            preferred_auth="password",
            login_timeout=5,
        ) as conn:
            return "Date " in str((await conn.run("get clock")).stdout)
    except (asyncssh.Error, OSError, TimeoutError):
        return False


def _exhaustion(sources: list[str]) -> tuple[int, int, Gateway]:
    results: list[tuple[int, int]] = []

    async def body(gw: Gateway) -> None:
        idle = await _idle(gw.ports["telnet"], sources) + await _idle(gw.ports["ssh"], sources)
        try:
            telnet = [await _telnet_ok(gw.ports["telnet"]) for _ in range(ATTEMPTS)]
            ssh = [await _ssh_ok(gw) for _ in range(ATTEMPTS)]
            results.append((sum(telnet), sum(ssh)))
        finally:
            for writer in idle:
                writer.close()

    console: dict[str, Any] = {"idle_timeout": 30}
    gw = run_gateway("6.3.0r20", body, console=console)
    telnet, ssh = results[0]
    print(
        f"{len(sources)} idle connections per port: Telnet {telnet}/{ATTEMPTS}, SSH {ssh}/{ATTEMPTS}"
    )
    return telnet, ssh, gw


@pytest.mark.network
def test_100_idle_connections_from_one_source_do_not_block_another() -> None:
    telnet, ssh, gw = _exhaustion(["127.0.0.2"] * IDLE)
    assert telnet >= 0.9 * ATTEMPTS and ssh >= 0.9 * ATTEMPTS
    assert gw.admin.slots.refused >= 2 * (IDLE - 4)  # beyond its budget of 4, per port


@pytest.mark.network
def test_100_idle_connections_from_100_sources_do_not_block_another() -> None:
    telnet, ssh, gw = _exhaustion([f"127.2.0.{n}" for n in range(1, IDLE + 1)])
    assert telnet >= 0.9 * ATTEMPTS and ssh >= 0.9 * ATTEMPTS
    assert gw.admin.slots.evicted > 0  # all 32 pending slots taken: the oldest idle ones go


@pytest.mark.network
def test_pre_authentication_timeout_closes_idle_connections() -> None:
    async def body(gw: Gateway) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.ports["telnet"])
        await read_until(reader, b"login: ")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        assert gw.admin.active == 0

    run_gateway("6.3.0r20", body, console={"login_timeout": 0.5, "idle_timeout": 30})
