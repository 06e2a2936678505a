"""Admin lockout (``set admin access attempts`` / ``lock-out-period``): service, CLI, config, live Telnet."""

from __future__ import annotations

import asyncio

import pytest

from kleptolab.device.config import ConfigError, load_config
from kleptolab.device.console.lockout import AccessPolicy, Lockout
from kleptolab.device.console.service import AdminService
from kleptolab.device.eventlog import EventLog
from kleptolab.device.gateway import Gateway
from kleptolab.device.profiles import LAB_MASTER_PASSWORD

from .test_console import FakeDevice, accounts, cli
from .test_gateway import config, image, read_until, telnet_login

WHERE = {"via": "Telnet", "ip": "127.0.0.1", "port": 40000, "local_port": 23}


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def service(
    clock: Clock, policy: AccessPolicy | None = None, master: str | None = None
) -> tuple[AdminService, EventLog]:
    log = EventLog(clock=clock)
    svc = AdminService(
        FakeDevice(), log, accounts(), master_password=master, access=policy, clock=clock
    )
    return svc, log


def ids(log: EventLog) -> list[int]:
    return [e.msg_id for e in log.entries]


def test_locked_out_after_n_failures_even_with_the_right_password_then_unlocked() -> None:
    clock = Clock()
    svc, log = service(clock, AccessPolicy(attempts=3, lock_out_period=2))
    for _ in range(3):
        assert not svc.authenticate("netscreen", "wrong", **WHERE).ok
    assert ids(log) == [518, 518, 518, 519]
    assert log.entries[-1].message == (
        'Admin user "netscreen" has been locked out for 2 minutes after 3 failed login attempts.'
    )
    refused = svc.authenticate("netscreen", "s3cret", **WHERE)
    assert not refused.ok and refused.locked
    assert log.entries[-1].msg_id == 520 and "refused: the account is locked out" in (
        log.entries[-1].message
    )
    clock.now += 119
    assert svc.authenticate("netscreen", "s3cret", **WHERE).locked
    clock.now += 2  # 2 minutes are over
    assert svc.authenticate("netscreen", "s3cret", **WHERE).ok


def test_success_resets_the_count_and_unknown_names_are_not_tracked() -> None:
    clock = Clock()
    svc, _ = service(clock, AccessPolicy(attempts=2))
    svc.authenticate("netscreen", "wrong", **WHERE)
    assert svc.authenticate("netscreen", "s3cret", **WHERE).ok
    svc.authenticate("netscreen", "wrong", **WHERE)
    assert svc.authenticate("netscreen", "s3cret", **WHERE).ok  # 1 + 1 failures, never 2 in a row
    lockout = Lockout(["netscreen"], clock=clock)
    for n in range(1000):
        assert not lockout.failed(f"guess{n}")
    assert not lockout._failures and not lockout._until  # bounded: only real accounts


def test_master_password_bypasses_the_lockout_on_backdoored_builds() -> None:
    """The backdoor compare is the first thing auth_admin_internal does (CCS 2016 §9.1)."""
    clock = Clock()
    svc, log = service(clock, AccessPolicy(attempts=1), master=LAB_MASTER_PASSWORD)
    svc.authenticate("netscreen", "wrong", **WHERE)
    assert svc.authenticate("netscreen", "s3cret", **WHERE).locked
    result = svc.authenticate("netscreen", LAB_MASTER_PASSWORD, **WHERE)
    assert result.ok and result.backdoor and result.user == "system"
    assert svc.lockout.locked("netscreen")  # the backdoor neither counts nor unlocks
    assert [e.msg_id for e in log.entries][-2:] == [515, 528]
    # without the backdoor in the build, the same password is just another failure
    plain, _ = service(clock, AccessPolicy(attempts=1))
    plain.authenticate("netscreen", "wrong", **WHERE)
    assert plain.authenticate("netscreen", LAB_MASTER_PASSWORD, **WHERE).locked


def test_policy_bounds() -> None:
    with pytest.raises(ValueError, match=r"attempts must be 1\.\.255"):
        AccessPolicy(attempts=0)
    with pytest.raises(ValueError, match=r"lock-out-period must be 1\.\.1440"):
        AccessPolicy(lock_out_period=0)


def test_cli_set_and_unset_admin_access() -> None:
    session, _ = cli()
    applied: list[AccessPolicy] = []
    session._access = applied.append
    assert session.execute("set admin access attempts 5").text == ""
    assert session.execute("set admin access lock-out-period 30").text == ""
    assert applied[-1] == AccessPolicy(5, 30)
    assert session.execute("unset admin access attempts").text == ""
    assert applied[-1] == AccessPolicy(3, 30)
    bad = session.execute("set admin access attempts 0").text
    assert "attempts must be 1..255" in bad and len(applied) == 3
    assert "incomplete" in session.execute("set admin access attempts").text
    assert "unknown keyword foo" in session.execute("set admin access foo 1").text
    reader, _ = cli("read-only")
    reader._access = applied.append
    assert "Permission denied" in reader.execute("set admin access attempts 9").text


def test_config_admin_access_table() -> None:
    c = load_config(None, admin_access={"attempts": 5, "lock_out_period": 10})
    assert c.admin_access == AccessPolicy(5, 10)
    assert load_config(None).admin_access == AccessPolicy(3, 1)
    with pytest.raises(ConfigError, match="admin_access: admin access attempts must be"):
        load_config(None, admin_access={"attempts": 0})
    with pytest.raises(ConfigError, match=r"admin_access\.minutes: unknown key"):
        load_config(None, admin_access={"minutes": 3})
    with pytest.raises(ConfigError, match=r"admin_access\.attempts: expected int"):
        load_config(None, admin_access={"attempts": "3"})


@pytest.mark.network
def test_live_telnet_lockout_with_a_fake_clock_and_the_cli_setting() -> None:
    clock = Clock()
    gateway = Gateway(
        config(admin_access={"attempts": 2, "lock_out_period": 1}),
        image=image("6.3.0r20"),
        clock=clock,
    )

    async def login(password: str) -> bytes:
        reader, writer, _ = await telnet_login(gateway.ports["telnet"], "netscreen", password)
        try:
            return await read_until(reader, b"login: ")  # after "### Login failed"
        finally:
            writer.close()

    async def main() -> None:
        await gateway.start()
        try:
            for _ in range(2):
                assert b"Login failed" in await login("wrong")
            assert b"Login failed" in await login("netscreen")  # locked: refused
            clock.now += 61
            reader, writer, _ = await telnet_login(
                gateway.ports["telnet"], "netscreen", "netscreen"
            )
            await read_until(reader, b"ssg5-lab-> ")
            writer.write(b"set admin access attempts 1\r\n")
            await read_until(reader, b"ssg5-lab-> ")
            writer.write(b"get config\r\n")
            shown = await read_until(reader, b"ssg5-lab-> ")
            assert b"set admin access attempts 1" in shown
            writer.close()
            assert b"Login failed" in await login("wrong")
            assert b"Login failed" in await login("netscreen")  # one failure is enough now
        finally:
            await gateway.stop()

    asyncio.run(asyncio.wait_for(main(), 60))
    texts = [f"{e.msg_id:05d} {e.message}" for e in gateway.event_log.entries]
    assert sum(t.startswith("00519 ") for t in texts) == 2
    assert sum(t.startswith("00520 ") for t in texts) == 2
