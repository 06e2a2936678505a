"""The gateway booted from real lab firmware images, with real loopback Telnet and SSH logins."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import asyncssh
import pytest

from kleptolab.device.config import GatewayConfig, load_config
from kleptolab.device.console.telnet import BANNER
from kleptolab.device.eventlog import verify_chain
from kleptolab.device.firmware import build_image
from kleptolab.device.gateway import BootError, Gateway
from kleptolab.device.profiles import LAB_MASTER_PASSWORD
from kleptolab.drbg.screenos import ScreenOsPrng
from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor

pytestmark = pytest.mark.network

EPHEMERAL = {"ike": 0, "natt": 0, "ssh": 0, "telnet": 0}
SEED = "5eed" * 16


@cache
def trapdoor() -> Trapdoor:
    return generate_trapdoor()


@cache
def image(version: str) -> bytes:
    return build_image(version, trapdoor_q=trapdoor().q)


def config(**overrides: Any) -> GatewayConfig:
    base: dict[str, Any] = {"ports": EPHEMERAL, "seed": SEED,
                            "console": {"idle_timeout": 30, "login_timeout": 10}}
    base.update(overrides)
    return load_config(None, **base)


def run_gateway(version: str, body: Callable[[Gateway], Awaitable[None]], **overrides: Any) -> Gateway:
    gateway = Gateway(config(**overrides), image=image(version))

    async def main() -> None:
        await gateway.start()
        try:
            await asyncio.wait_for(body(gateway), 60)
        finally:
            await gateway.stop()

    asyncio.run(main())
    return gateway


async def read_until(reader: asyncio.StreamReader, marker: bytes, timeout: float = 10) -> bytes:
    data = b""
    while not data.endswith(marker):
        chunk = await asyncio.wait_for(reader.read(4096), timeout)
        if not chunk:
            raise EOFError(f"closed before {marker!r}; got {data[-200:]!r}")
        data += chunk
    return data


async def telnet_login(port: int, user: str, password: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    greeting = await read_until(reader, b"login: ")
    assert greeting.startswith(BANNER)
    writer.write(user.encode() + b"\r\n")
    await read_until(reader, b"password: ")
    writer.write(password.encode() + b"\r\n")
    return reader, writer, greeting


def messages(gateway: Gateway, *ids: int) -> list[str]:
    return [f"{e.msg_id:05d} {e.message}" for e in gateway.event_log.entries if e.msg_id in ids]


# -- boot ------------------------------------------------------------------------------


def test_boot_takes_everything_from_the_image() -> None:
    gateway = Gateway(config(), image=image("6.3.0r20"))
    assert gateway.profile.name == "6.3.0r20"
    assert gateway.boot.q is not None and gateway.boot.q[0] == trapdoor().q[0]  # Qx; either y works
    assert gateway.boot.kat_checked and gateway.master_password_armed
    assert gateway.admin.master_password == LAB_MASTER_PASSWORD
    assert [e.msg_id for e in gateway.event_log.entries] == [9, 9]
    # default VPNs: IKEv1 uses group 2, IKEv2 groups 14 and 2 -> dh:2 4, dh:14 2, nonces 12
    assert gateway.queues.levels() == {"nonce": (12, 12), "dh:14": (2, 2), "dh:2": (4, 4)}
    assert [d.purpose for d in gateway.draws] == ["nonce"] * 12 + ["dh:14"] * 2 + ["dh:2"] * 4


def test_same_seed_same_draws_and_they_are_the_firmware_prng() -> None:
    a = Gateway(config(), image=image("6.3.0r20"))
    b = Gateway(config(), image=image("6.3.0r20"))
    assert [d.output for d in a.draws] == [d.output for d in b.draws]
    replay = ScreenOsPrng(a.profile.prng, q=trapdoor().q, seed=int(SEED, 16))
    assert [d.output for d in a.draws] == [replay.generate() for _ in range(18)]


def test_master_password_only_armed_on_backdoored_builds() -> None:
    assert not Gateway(config(), image=image("6.3.0r21")).master_password_armed
    assert not Gateway(config(), image=image("6.2.0r15")).master_password_armed
    six_one = Gateway(config(), image=image("6.1.0r7"))
    assert six_one.boot.q is None and not six_one.boot.kat_checked
    assert "nonce" not in six_one.queues.capacity
    assert len(six_one.queues.nonce()) == 20


def test_corrupt_image_and_bad_kat_are_boot_errors() -> None:
    good = bytearray(image("6.3.0r20"))
    good[200] ^= 0x01
    with pytest.raises(BootError, match="checksum"):
        Gateway(config(), image=bytes(good))
    with pytest.raises(BootError, match="not a kleptolab firmware image"):
        Gateway(config(), image=b"\x00" * 200)

    class Tampered:
        def __init__(self, real: Any) -> None:
            self.version, self.build_stamp = real.version, real.build_stamp
            self.q_x, self.master_password = real.q_x, real.master_password
            self.kat = bytes(32)

    from kleptolab.device.firmware import parse_image

    with pytest.raises(BootError, match="self-test failed"):
        Gateway(config(), image=image("6.3.0r20"), parser=lambda d: Tampered(parse_image(d)))


def test_a_password_in_a_non_backdoored_image_is_still_rejected() -> None:
    from kleptolab.device.firmware import parse_image

    class WithPassword:
        def __init__(self, real: Any) -> None:
            self.version, self.build_stamp, self.q_x, self.kat = real.version, real.build_stamp, real.q_x, real.kat
            self.master_password = LAB_MASTER_PASSWORD

    gateway = Gateway(config(), image=image("6.3.0r21"), parser=lambda d: WithPassword(parse_image(d)))
    assert not gateway.master_password_armed


# -- Telnet ----------------------------------------------------------------------------


def test_telnet_normal_login_and_commands() -> None:
    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "netscreen", "netscreen")
        await read_until(reader, b"ssg5-lab-> ")
        writer.write(b"get system\r\n")
        out = await read_until(reader, b"ssg5-lab-> ")
        assert b"Software Version: 6.3.0r20" in out and b"FPGA checksum" in out
        assert b"Compiled by build_master at: " in out and b"Product Name:" in out
        writer.write(b"exit\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    gw = run_gateway("6.3.0r20", body)
    lines = messages(gw, 515, 528)
    assert len(lines) == 2
    assert lines[0].startswith("00515 Admin user netscreen has logged on via Telnet from 127.0.0.1:")
    assert lines[1] == "00528 Telnet: Password authentication successful for admin user 'netscreen' at host 127.0.0.1."


def test_telnet_master_password_as_any_user_logs_system_then_typed_user() -> None:
    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "netscreen", LAB_MASTER_PASSWORD)
        await read_until(reader, b"ssg5-lab-> ")
        writer.write(b"get clock\r\n")
        assert b"Date " in await read_until(reader, b"ssg5-lab-> ")
        writer.close()

    gw = run_gateway("6.3.0r20", body)
    lines = messages(gw, 515, 528)
    assert lines[0].startswith("00515 Admin user system has logged on via Telnet from 127.0.0.1:")
    assert lines[1] == "00528 Telnet: Password authentication successful for admin user 'netscreen' at host 127.0.0.1."


@pytest.mark.parametrize("version", ["6.3.0r21", "6.2.0r15"])
def test_master_password_rejected_on_fixed_and_unaffected_builds(version: str) -> None:
    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "netscreen", LAB_MASTER_PASSWORD)
        assert b"Login failed" in await read_until(reader, b"login: ")
        writer.close()
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", gw.ports["ssh"], username="admin",
                                   password=LAB_MASTER_PASSWORD, known_hosts=None, client_keys=None)

    gw = run_gateway(version, body)
    assert messages(gw, 515, 528) == []
    assert len(messages(gw, 518)) == 2


def test_wrong_passwords_are_logged_and_limited() -> None:
    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "netscreen", "nope1")
        for attempt in (2, 3):
            await read_until(reader, b"login: ")
            writer.write(b"netscreen\r\n")
            await read_until(reader, b"password: ")
            writer.write(f"nope{attempt}\r\n".encode())
        rest = await asyncio.wait_for(reader.read(), 10)
        assert b"Login failed" in rest  # and then the server hangs up
        writer.close()

    gw = run_gateway("6.3.0r20", body)
    failed = messages(gw, 518)
    assert len(failed) == 3
    assert failed[0].startswith(f'00518 Admin user "netscreen" login attempt for Telnet management (port {gw.ports["telnet"]}) from 127.0.0.1:')
    assert failed[0].endswith(" failed.")


def test_garbage_and_floods_do_not_kill_the_telnet_server() -> None:
    async def body(gw: Gateway) -> None:
        port = gw.ports["telnet"]
        rng = random.Random(7)
        for size in (1, 4096, 256 * 1024):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            blob = bytes(rng.getrandbits(8) for _ in range(size))
            writer.write(blob + bytes([255, 250]) + os.urandom(64))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
        # a raw IAC storm before login, then a real login on the same connection
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await read_until(reader, b"login: ")
        writer.write(bytes([255, 253, 1, 255, 251, 24, 255, 250, 24, 1, 255, 240] * 100) + b"netscreen\r\n")
        await read_until(reader, b"password: ")
        writer.write(b"netscreen\r\n")
        await read_until(reader, b"ssg5-lab-> ")
        writer.write(b"get \xff\xff\x00\x01system\x80\r\n")
        await read_until(reader, b"ssg5-lab-> ")
        writer.close()
        # slots are bounded: more than max_sessions idle connections get turned away
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(gw.config.console.max_sessions)]
        for r, _ in conns:
            await read_until(r, b"login: ")
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
        assert b"Too many" in await asyncio.wait_for(extra_reader.read(), 5)
        for _, w in [*conns, (extra_reader, extra_writer)]:
            w.close()
        await asyncio.sleep(0.1)
        reader, writer, _ = await telnet_login(port, "netscreen", "netscreen")
        await read_until(reader, b"ssg5-lab-> ")
        writer.close()

    gw = run_gateway("6.3.0r20", body)
    assert gw.admin.logins == 2


def test_idle_session_times_out_and_is_logged() -> None:
    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "netscreen", "netscreen")
        await read_until(reader, b"ssg5-lab-> ")
        assert b"timed out" in await asyncio.wait_for(reader.read(), 10)
        writer.close()

    gw = run_gateway("6.3.0r20", body, console={"idle_timeout": 0.3, "login_timeout": 10})
    assert messages(gw, 515)[-1].startswith("00515 Management session via Telnet from 127.0.0.1:")
    assert messages(gw, 515)[-1].endswith("for admin netscreen has timed out")


# -- SSH -------------------------------------------------------------------------------


async def ssh(gw: Gateway, user: str, password: str, **kw: Any) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect("127.0.0.1", gw.ports["ssh"], username=user, password=password,
                                  known_hosts=None, client_keys=None, agent_path=None, **kw)


def test_ssh_normal_login_banner_and_exec() -> None:
    async def body(gw: Gateway) -> None:
        async with await ssh(gw, "netscreen", "netscreen") as conn:
            assert conn.get_extra_info("server_version") == "SSH-2.0-NetScreen"
            result = await conn.run("get system")
            assert "Software Version: 6.3.0r20" in str(result.stdout)
            process = await conn.create_process()
            process.stdin.write("get clock\nexit\n")
            out = await asyncio.wait_for(process.stdout.read(), 10)
            assert out.startswith("ssg5-lab-> ") and "Date " in out

    gw = run_gateway("6.3.0r20", body)
    lines = messages(gw, 515, 528)
    assert lines[0].startswith("00515 Admin user netscreen has logged on via SSH from 127.0.0.1:")
    assert lines[1] == "00528 SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1."


def test_ssh_master_password_password_and_keyboard_interactive() -> None:
    async def body(gw: Gateway) -> None:
        async with await ssh(gw, "admin", LAB_MASTER_PASSWORD) as conn:
            assert "User Name: system" in str((await conn.run("get system")).stdout)
        async with await ssh(gw, "netscreen", LAB_MASTER_PASSWORD, password_auth=False, kbdint_auth=True) as conn:
            assert "Date " in str((await conn.run("get clock")).stdout)

    gw = run_gateway("6.3.0r20", body)
    lines = messages(gw, 515, 528)
    assert lines[0].startswith("00515 Admin user system has logged on via SSH from 127.0.0.1:")
    assert lines[1] == "00528 SSH: Password authentication successful for admin user 'admin' at host 127.0.0.1."
    assert lines[2].startswith("00515 Admin user system has logged on via SSH from 127.0.0.1:")
    assert lines[3] == "00528 SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1."


def test_ssh_pty_shell_as_the_demo_uses_it() -> None:
    async def body(gw: Gateway) -> None:
        async with await ssh(gw, "whoever", LAB_MASTER_PASSWORD) as conn:
            process = await conn.create_process(term_type="vt100")
            out = await asyncio.wait_for(process.stdout.readuntil("ssg5-lab-> "), 10)
            process.stdin.write("get system\n")
            out = await asyncio.wait_for(process.stdout.readuntil("ssg5-lab-> "), 10)
            assert "Product Name: SSG5-Serial" in out and "User Name: system" in out
            process.stdin.write("exit\n")
            await asyncio.wait_for(process.wait_closed(), 10)

    run_gateway("6.3.0r20", body)


def test_ssh_host_key_from_config(tmp_path: Any) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "host_key"
    key.write_private_key(str(path))

    async def body(gw: Gateway) -> None:
        async with await ssh(gw, "netscreen", "netscreen") as conn:
            served = conn.get_server_host_key()
            assert served is not None
            assert served.public_data == key.public_data

    run_gateway("6.3.0r20", body, console={"ssh_host_key": str(path), "idle_timeout": 30})


def test_ssh_sessions_share_the_console_limit() -> None:
    async def body(gw: Gateway) -> None:
        conns = [await ssh(gw, "netscreen", "netscreen") for _ in range(gw.config.console.max_sessions)]
        with pytest.raises((asyncssh.Error, ConnectionError)):
            await ssh(gw, "netscreen", "netscreen")
        for conn in conns:
            conn.close()
            await conn.wait_closed()
        await asyncio.sleep(0.1)
        assert gw.admin.active == 0
        async with await ssh(gw, "netscreen", "netscreen") as conn:
            assert "Date " in str((await conn.run("get clock")).stdout)

    run_gateway("6.3.0r20", body, console={"max_sessions": 2, "idle_timeout": 30})


def test_ssh_wrong_password_is_logged() -> None:
    async def body(gw: Gateway) -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await ssh(gw, "netscreen", "wrong")

    gw = run_gateway("6.3.0r20", body)
    assert messages(gw, 518)[0].startswith('00518 Admin user "netscreen" login attempt for SSH management')


def test_set_key_one_stage_rng_changes_the_prng_live() -> None:
    async def body(gw: Gateway) -> None:
        state = gw.prng.dual_ec_state
        gw.queues.random_bytes(32)
        assert gw.prng.dual_ec_state != state  # default: every call reseeds from Dual EC
        async with await ssh(gw, "netscreen", "netscreen") as conn:
            await conn.run("set key one-stage-rng")
        assert gw.prng.one_stage_rng
        frozen = gw.prng.dual_ec_state
        assert frozen is not None
        twin = ScreenOsPrng(gw.profile.prng, q=gw.boot.q, seed=frozen)
        outputs = [gw.queues.random_bytes(32) for _ in range(3)]
        assert gw.prng.dual_ec_state == frozen  # no more reseeding: X9.31 runs alone
        assert outputs[0] != twin.generate()
        async with await ssh(gw, "netscreen", "netscreen") as conn:
            assert "set key one-stage-rng" in str((await conn.run("get config")).stdout)
            await conn.run("unset key one-stage-rng")
        assert not gw.prng.one_stage_rng

    gw = run_gateway("6.3.0r20", body)
    notes = messages(gw, 767)
    assert notes == [
        "00767 Admin user netscreen set one-stage-rng on (PRNG reduced to a single stage)",
        "00767 Admin user netscreen set one-stage-rng off (PRNG restored to two stages)",
    ]


def test_syslog_collector_gets_the_chained_log() -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.setblocking(False)
    target = f"127.0.0.1:{collector.getsockname()[1]}"

    async def body(gw: Gateway) -> None:
        reader, writer, _ = await telnet_login(gw.ports["telnet"], "anyone", LAB_MASTER_PASSWORD)
        await read_until(reader, b"ssg5-lab-> ")
        writer.close()

    try:
        gw = run_gateway("6.3.0r20", body, syslog={"target": target, "format": "bsd"})
        received = []
        while True:
            try:
                received.append(collector.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        collector.close()
    assert len(received) == len(gw.event_log.entries)
    assert any("[Root]system-warning-00515: Admin user system has logged on via Telnet" in r for r in received)
    assert all(r.split(" chain=")[1] == e.chain for r, e in zip(received, gw.event_log.entries, strict=True))
    assert verify_chain(gw.event_log.lines()).ok


def test_non_loopback_listen_and_syslog_are_refused() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        config(listen="192.0.2.10")
    with pytest.raises(ValueError, match="not a loopback address"):
        config(syslog={"target": "198.51.100.7:514"})


def test_stop_closes_open_sessions_and_leaves_no_tasks() -> None:
    gateway = Gateway(config(), image=image("6.3.0r20"))

    async def main() -> None:
        await gateway.start()
        conn = await ssh(gateway, "netscreen", "netscreen")
        await conn.create_process()
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ports["telnet"])
        await read_until(reader, b"login: ")
        await gateway.stop()
        await asyncio.wait_for(conn.wait_closed(), 5)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await asyncio.sleep(0.05)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        await gateway.stop()  # idempotent

    asyncio.run(main())
    assert not gateway.running and gateway.admin.active == 0
