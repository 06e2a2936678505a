"""``clear event`` on the console, seals in the syslog copy, and the sealed log under ``get event``."""

from __future__ import annotations

import random
from datetime import UTC

from kleptolab.defend.eventlog_format import parse_line, parse_lines
from kleptolab.defend.logseal import verify_events
from kleptolab.device.console.cli import CliSession, SessionInfo, SystemInfo
from kleptolab.device.eventlog import EventLog, admin_logon, admin_password_ok
from kleptolab.device.sealing import setup_keys
from kleptolab.device.syslog_send import SyslogFormat, SyslogSender

T0 = 1795000000.0


class Device:
    """A DeviceView over a real, sealed EventLog."""

    def __init__(self) -> None:
        self.t = T0
        sealer, self.key = setup_keys(
            random.Random(5).randbytes, device_id="0185122017000042", interval=10, start=T0
        )
        self.log = EventLog(clock=lambda: self.t, tz=UTC, sealer=sealer)

    def system_info(self) -> SystemInfo:
        return SystemInfo(
            "SSG5-Serial",
            "0185122017000042",
            "ssg5-lab",
            "6.3.0r20",
            "x",
            "00000000",
            "f",
            "1234abcd",
            "0010.db42.0000",
            T0,
        )

    def now(self) -> float:
        return self.t

    def event_lines(self) -> list[str]:
        return self.log.lines()

    def config_lines(self) -> list[str]:
        return []

    def ike_cookie_lines(self) -> list[str]:
        return []

    def sa_lines(self) -> list[str]:
        return []

    def prng_lines(self) -> list[str]:
        return []

    def set_one_stage_rng(self, on: bool, session: SessionInfo) -> None:
        pass

    def clear_events(self, msg_ids: list[int] | None) -> int:
        return self.log.clear(msg_ids)


def session(device: Device, privilege: str = "root") -> CliSession:
    return CliSession(device, SessionInfo("system", "anyone", "SSH", "127.0.0.1", 1, privilege))


def test_clear_event_by_type_and_all() -> None:
    device = Device()
    device.log.emit(9, "System booted")
    admin_logon(device.log, "system", "SSH", "127.0.0.1", 40522)
    admin_password_ok(device.log, "anyone", "SSH", "127.0.0.1")
    cli = session(device)
    assert cli.execute("clear event type 515-528").text == "2 event entries cleared"
    shown = cli.execute("get event").text
    assert "00515" not in shown and "00528" not in shown and "00009 System booted" in shown
    alerts = verify_events(parse_lines(device.log.lines(), "event.log").events, device.key)
    assert any(a.severity == "high" and "removed after sealing" in a.message for a in alerts)
    assert cli.execute("clear event").text.endswith("event entries cleared")
    assert device.log.lines() == []


def test_clear_event_syntax_and_privilege() -> None:
    device = Device()
    cli = session(device)
    assert "incomplete command" in cli.execute("clear").text
    assert "unknown keyword bogus" in cli.execute("clear bogus").text
    assert "incomplete command" in cli.execute("clear event type").text
    assert "unknown keyword 9-1" in cli.execute("clear event type 9-1").text
    assert "unknown keyword x" in cli.execute("clear event type x").text
    assert "unknown keyword extra" in cli.execute("clear event type 1 extra").text
    assert session(device, "read-only").execute("clear event").text.startswith("Permission denied")
    assert "clear event" in cli.execute("help").text


def test_syslog_carries_macs_and_seals_in_both_framings() -> None:
    device = Device()
    for fmt in (SyslogFormat.RFC5424, SyslogFormat.BSD):
        sender = SyslogSender(("127.0.0.1", 9), fmt=fmt, device_id="0185122017000042")
        sent: list[str] = []
        device.log.add_sink(lambda e, s=sender, out=sent: out.append(s.format(e).decode()))
        entry = device.log.emit(536, "IKE 127.0.0.1 Phase 1: done")
        seal = device.log.seal()
        sender.close()
        assert seal is not None and sent[-2].endswith(f" mac={entry.mac}")
        parsed = parse_line(sent[-1])
        assert parsed is not None and parsed.kind == "seal" and parsed.device == "0185122017000042"
        first = parse_line(sent[-2])
        assert first is not None and first.text == entry.text and first.mac == entry.mac
