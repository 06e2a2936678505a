"""Event log: exact ScreenOS lines, the hash chain, syslog to a loopback collector."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.device.eventlog import (
    GENESIS,
    EventLog,
    Severity,
    SyslogFormat,
    SyslogSender,
    admin_login_failed,
    admin_logon,
    admin_password_ok,
    admin_timeout,
    chain_next,
    parse_syslog_target,
    verify_chain,
)

T0 = datetime(2026, 11, 23, 11, 20, 13, tzinfo=UTC).timestamp()


def make_log(**kwargs: object) -> EventLog:
    return EventLog(clock=lambda: T0, tz=UTC, **kwargs)  # type: ignore[arg-type]


def test_admin_lines_are_exactly_the_screenos_form() -> None:
    log = make_log(hash_chain=False)
    admin_logon(log, "system", "SSH", "127.0.0.1", 40522)
    admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
    admin_logon(log, "netscreen", "Telnet", "127.0.0.1", 40600)
    admin_password_ok(log, "netscreen", "Telnet", "127.0.0.1")
    admin_login_failed(log, "admin", "Telnet", 2323, "127.0.0.1", 40601)
    admin_timeout(log, "netscreen", "SSH", "127.0.0.1", 40522)
    assert log.lines() == [
        "2026-11-23 11:20:13 system warn 00515 Admin user system has logged on via SSH from 127.0.0.1:40522",
        "2026-11-23 11:20:13 system warn 00528 SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.",
        "2026-11-23 11:20:13 system warn 00515 Admin user netscreen has logged on via Telnet from 127.0.0.1:40600",
        "2026-11-23 11:20:13 system warn 00528 Telnet: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.",
        '2026-11-23 11:20:13 system warn 00518 Admin user "admin" login attempt for Telnet management (port 2323) from 127.0.0.1:40601 failed.',
        "2026-11-23 11:20:13 system warn 00515 Management session via SSH from 127.0.0.1:40522 for admin netscreen has timed out",
    ]


def test_vpn_record_maps_kinds_to_message_ids() -> None:
    log = make_log(hash_chain=False)
    log.record("ike", "IKE 127.0.0.1 Phase 1: Completed Main Mode negotiations with a <28800>-second lifetime.", remote=("127.0.0.1", 500))
    log.record("tunnel", "IKE 127.0.0.1 Phase 2 msg ID <1a2b3c4d>: Completed negotiations with SPI <0a0b0c0d>, tunnel ID <1>, and lifetime <3600> seconds/<0> KB.")
    log.record("esp", "ESP replay", severity="warn")
    log.record("drop", "bad packet")
    log.record("ike", "no proposal chosen", msg_id=536, severity="not-a-level")
    got = [(e.msg_id, e.severity) for e in log.entries]
    assert got == [(536, Severity.INFO), (537, Severity.INFO), (538, Severity.WARN), (539, Severity.WARN), (536, Severity.INFO)]
    assert log.lines()[0] == (
        "2026-11-23 11:20:13 system info 00536 IKE 127.0.0.1 Phase 1: Completed Main Mode "
        "negotiations with a <28800>-second lifetime."
    )


def test_chain_values_follow_the_documented_formula() -> None:
    log = make_log()
    a = log.emit(515, "Admin user netscreen has logged on via SSH from 127.0.0.1:1", severity=Severity.WARN)
    b = log.emit(528, "SSH: Password authentication successful for admin user 'netscreen' at host 127.0.0.1.", severity=Severity.WARN)
    assert a.chain == chain_next(GENESIS, a.text)
    assert b.chain == chain_next(a.chain, b.text)
    assert b.line == f"{b.text} chain={b.chain}"
    assert re.fullmatch(r".* chain=[0-9a-f]{64}", b.line)
    assert log.head == b.chain
    assert verify_chain(log.lines()) == verify_chain(log.lines())
    assert verify_chain(log.lines()).ok and verify_chain(log.lines()).checked == 2


def test_chain_detects_a_deleted_line() -> None:
    log = make_log()
    for i in range(5):
        log.emit(515, f"Admin user u{i} has logged on via SSH from 127.0.0.1:{1000 + i}")
    lines = log.lines()
    assert verify_chain(lines).ok
    report = verify_chain(lines[:2] + lines[3:])
    assert not report.ok and report.first_bad == 2 and report.checked == 2
    edited = list(lines)
    edited[1] = edited[1].replace("u1", "u9")
    assert verify_chain(edited).first_bad == 1
    assert verify_chain(lines[1:]).first_bad == 0  # the first line is gone
    assert verify_chain([lines[0].split(" chain=")[0]]).reason.startswith("line has no chain")


def test_truncated_log_verifies_from_its_anchor() -> None:
    log = make_log(max_entries=3)
    for i in range(5):
        log.emit(536, f"event {i}")  # not 00009: boot lines are pinned and never rotate out
    assert len(log.entries) == 3
    assert not verify_chain(log.lines()).ok
    assert verify_chain(log.lines(), genesis=log.anchor).ok


@given(st.text(max_size=200))
def test_any_message_text_gives_one_verifiable_line(text: str) -> None:
    log = make_log()
    entry = log.emit(1, text)
    assert "\n" not in entry.line and "\r" not in entry.line
    assert verify_chain(log.lines()).ok


def test_bad_message_id_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"0\.\.99999"):
        make_log().emit(100_000, "x")


def test_syslog_target_must_be_loopback() -> None:
    assert parse_syslog_target("127.0.0.1:5514") == ("127.0.0.1", 5514)
    assert parse_syslog_target("localhost:5514") == ("127.0.0.1", 5514)
    assert parse_syslog_target("[::1]:514") == ("::1", 514)
    assert parse_syslog_target("127.0.0.2") == ("127.0.0.2", 514)
    with pytest.raises(ValueError, match="not a loopback address"):
        parse_syslog_target("192.0.2.1:514")
    with pytest.raises(ValueError, match="not a loopback address"):
        SyslogSender(("10.0.0.1", 514))
    with pytest.raises(ValueError, match="not an IP address"):
        parse_syslog_target("collector.example:514")
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        parse_syslog_target("127.0.0.1:70000")


@pytest.mark.parametrize("fmt", [SyslogFormat.RFC5424, SyslogFormat.BSD])
def test_syslog_reaches_a_loopback_collector(fmt: SyslogFormat) -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(5)
    try:
        sender = SyslogSender(collector.getsockname(), fmt=fmt, hostname="ssg5-lab", device_id="0185122017000042")
        log = make_log()
        log.add_sink(sender)
        entry = admin_logon(log, "system", "SSH", "127.0.0.1", 40522)
        data, _ = collector.recvfrom(4096)
        sender.close()
    finally:
        collector.close()
    text = data.decode()
    assert text.startswith("<132>")  # local0 (16) * 8 + warning (4)
    body = (
        "ssg5-lab: NetScreen device_id=0185122017000042  [Root]system-warning-00515: Admin user system "
        f"has logged on via SSH from 127.0.0.1:40522 (2026-11-23 11:20:13) chain={entry.chain}"
    )
    if fmt is SyslogFormat.BSD:
        assert text.startswith("<132>Nov 23 ")
        assert text.endswith(body)
    else:
        assert re.match(r"<132>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d ssg5-lab NetScreen - 00515 - ", text)
        assert text.endswith(body.split(": ", 1)[1])


def test_a_failing_sink_does_not_stop_logging() -> None:
    log = make_log()

    def broken(_entry: object) -> None:
        raise RuntimeError("collector gone")

    log.add_sink(broken)
    log.emit(9, "still logged")
    assert len(log.entries) == 1
