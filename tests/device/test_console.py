"""Admin console without sockets: password hashes, auth_admin_internal, the CLI, the Telnet codec."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.device.console.accounts import (
    AdminAccount,
    auth_admin_internal,
    hash_password,
    verify_password,
)
from kleptolab.device.console.cli import CliSession, SessionInfo, SystemInfo
from kleptolab.device.console.service import AdminService
from kleptolab.device.console.telnet import (
    DO,
    DONT,
    ECHO,
    IAC,
    SB,
    SE,
    SGA,
    WILL,
    WONT,
    TelnetCodec,
)
from kleptolab.device.eventlog import EventLog
from kleptolab.device.profiles import LAB_MASTER_PASSWORD


def accounts() -> dict[str, AdminAccount]:
    return {"netscreen": AdminAccount("netscreen", hash_password("s3cret", n=16))}


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("pw", n=16), hash_password("pw", n=16)
    assert a != b and a.startswith("scrypt$16$8$1$")
    assert verify_password("pw", a) and not verify_password("pW", a)
    assert hash_password("pw").startswith("scrypt$16384$8$1$")
    pbkdf2 = "pbkdf2-sha256$1000$00112233$" + hashlib.pbkdf2_hmac(
        "sha256", b"pw", bytes.fromhex("00112233"), 1000
    ).hex()
    assert verify_password("pw", pbkdf2) and not verify_password("px", pbkdf2)
    with pytest.raises(ValueError, match="unknown password hash format"):
        verify_password("pw", "md5$abc")
    with pytest.raises(ValueError, match="malformed"):
        AdminAccount("x", "scrypt$16$8$1$zz$00")
    with pytest.raises(ValueError, match="invalid admin name"):
        AdminAccount("bad name", a)


def test_normal_login_and_wrong_password() -> None:
    ok = auth_admin_internal(accounts(), "netscreen", "s3cret")
    assert ok.ok and ok.user == "netscreen" and not ok.backdoor
    assert not auth_admin_internal(accounts(), "netscreen", "wrong").ok
    assert not auth_admin_internal(accounts(), "nobody", "s3cret").ok


def test_master_password_accepts_any_username_as_system() -> None:
    for typed in ("netscreen", "admin", "no-such-user", ""):
        result = auth_admin_internal(accounts(), typed, LAB_MASTER_PASSWORD, master_password=LAB_MASTER_PASSWORD)
        assert result.ok and result.backdoor and result.user == "system" and result.typed_user == typed
    # a build without the master password rejects it
    assert not auth_admin_internal(accounts(), "netscreen", LAB_MASTER_PASSWORD).ok
    # the real account password still works on a backdoored build
    normal = auth_admin_internal(accounts(), "netscreen", "s3cret", master_password=LAB_MASTER_PASSWORD)
    assert normal.ok and not normal.backdoor


@dataclass
class FakeDevice:
    one_stage: list[tuple[bool, str]] = field(default_factory=list)

    def system_info(self) -> SystemInfo:
        return SystemInfo("SSG5-Serial", "0185122017000042", "ssg5-lab", "6.3.0r20",
                          "Mon Jan 21 12:00:00 PST 2014", "00000000", "ssg5ssg20.6.3.0r20.0",
                          "1234abcd", "0010.db42.0000", 1_000_000.0)

    def now(self) -> float:
        return 1_000_000.0 + 3723

    def event_lines(self) -> list[str]:
        return ["2026-11-23 11:20:13 system warn 00515 line"]

    def config_lines(self) -> list[str]:
        return ['set hostname "ssg5-lab"']

    def ike_cookie_lines(self) -> list[str]:
        return ["aa/bb 127.0.0.1 Main done"]

    def sa_lines(self) -> list[str]:
        return []

    def prng_lines(self) -> list[str]:
        return ["PRNG: dualec-x931"]

    def set_one_stage_rng(self, on: bool, session: SessionInfo) -> None:
        self.one_stage.append((on, session.user))


def cli(privilege: str = "root") -> tuple[CliSession, FakeDevice]:
    device = FakeDevice()
    return CliSession(device, SessionInfo("system", "admin", "SSH", "127.0.0.1", 1, privilege)), device


def test_get_system_has_the_fields_scanners_match() -> None:
    session, _ = cli()
    out = session.execute("get system").text
    for needle in ("Product Name: SSG5-Serial", "Serial Number: 0185122017000042", "FPGA checksum",
                   "Software Version: 6.3.0r20,", "Compiled by build_master at: Mon Jan 21 12:00:00 PST 2014",
                   "Up 1 hours 2 minutes 3 seconds"):
        assert needle in out
    assert session.prompt == "ssg5-lab-> "


def test_commands_and_screenos_errors() -> None:
    session, device = cli()
    assert "Up 1 hours 2 minutes 3 seconds" in session.execute("get clock").text
    assert session.execute("get event").text == "Total event entries = 1\n2026-11-23 11:20:13 system warn 00515 line"
    assert session.execute("GET CONFIG").text == 'set hostname "ssg5-lab"'
    assert session.execute("get ike cookies").text.endswith("aa/bb 127.0.0.1 Main done")
    assert session.execute("get sa").text.startswith("total configured sa: 0")
    assert session.execute("get prng").text == "PRNG: dualec-x931"
    assert session.execute("get bogus").text == "get bogus\n    ^-------unknown keyword bogus"
    assert session.execute("frobnicate now").text == "frobnicate now\n^-------unknown keyword frobnicate"
    assert session.execute("get").text == "get\n   ^-------incomplete command"
    assert session.execute("get ike").text.endswith("incomplete command")
    assert session.execute("get system extra").text.endswith("unknown keyword extra")
    assert session.execute("set key foo").text.endswith("unknown keyword foo")
    assert session.execute("").text == ""
    assert session.execute("set key one-stage-rng").text == ""
    assert session.execute("unset key one-stage-rng").text == ""
    assert device.one_stage == [(True, "system"), (False, "system")]
    assert "get system" in session.execute("help").text
    reply = session.execute("exit")
    assert reply.close and session.closed


def test_read_only_admin_cannot_flip_the_prng() -> None:
    session, device = cli("read-only")
    assert "Permission denied" in session.execute("set key one-stage-rng").text
    assert device.one_stage == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_cli_never_raises_on_any_line(line: str) -> None:
    session, _ = cli()
    reply = session.execute(line)
    assert isinstance(reply.text, str)


def test_service_logs_backdoor_login_as_system_then_typed_user() -> None:
    log = EventLog(hash_chain=False)
    service = AdminService(FakeDevice(), log, accounts(), master_password=LAB_MASTER_PASSWORD)
    result = service.authenticate("netscreen", LAB_MASTER_PASSWORD, via="SSH", ip="127.0.0.1", port=40522, local_port=22)
    assert result.backdoor
    service.authenticate("eve", "guess", via="Telnet", ip="127.0.0.1", port=40523, local_port=23)
    texts = [e.message for e in log.entries]
    assert texts == [
        "Admin user system has logged on via SSH from 127.0.0.1:40522",
        "SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.",
        'Admin user "eve" login attempt for Telnet management (port 23) from 127.0.0.1:40523 failed.',
    ]
    assert [e.msg_id for e in log.entries] == [515, 528, 518]
    assert service.acquire() and service.active == 1


# -- Telnet codec --------------------------------------------------------------------


def test_codec_lines_and_line_endings() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"get sys") == []
    assert codec.feed(b"tem\r\nget clock\r\x00exit\n") == ["get system", "get clock", "exit"]
    assert codec.feed(b"a\rb\r") == ["a", "b"]
    assert codec.feed(b"\nabc\x08d\x7fe\n") == ["abe"]  # LF after CR is not a second line


def test_codec_strips_negotiation_and_answers_once() -> None:
    codec = TelnetCodec()
    data = bytes([IAC, DO, 24, IAC, WILL, 31, IAC, DO, SGA, IAC, SB, 24, 1, IAC, SE]) + b"user\r\n"
    assert codec.feed(data) == ["user"]
    assert codec.data_to_send() == bytes([IAC, WONT, 24, IAC, DONT, 31, IAC, WILL, SGA])
    codec.feed(bytes([IAC, DO, 24, IAC, WILL, 31]))
    assert codec.data_to_send() == b""  # no negotiation loops
    assert codec.set_echo(True) == bytes([IAC, WILL, ECHO])
    codec.feed(bytes([IAC, DO, ECHO]))
    assert codec.data_to_send() == b""
    assert codec.set_echo(False) == bytes([IAC, WONT, ECHO])
    assert codec.feed(bytes([IAC, IAC]) + b"x\n") == ["\ufffdx"]


def test_codec_caps_line_length_and_subnegotiation() -> None:
    codec = TelnetCodec(max_line=16)
    assert codec.feed(b"A" * 10_000 + b"\n") == ["A" * 16]
    # an unterminated subnegotiation is abandoned after 1 KiB: the rest is data again
    assert codec.feed(bytes([IAC, SB]) + b"x" * 2000 + b"\nok\n") == ["x" * 16, "ok"]
    assert codec.feed(bytes([IAC, SB]) + b"x" * 100 + bytes([IAC, SE]) + b"ok\n") == ["ok"]
    assert codec.feed(b"next\n") == ["next"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_codec_never_raises(data: bytes) -> None:
    codec = TelnetCodec(max_line=64)
    for line in codec.feed(data):
        assert len(line) <= 64
    codec.data_to_send()
