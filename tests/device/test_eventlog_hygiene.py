"""Event-log hygiene under floods: rate limits with summaries, pinned boot and critical lines."""

from __future__ import annotations

import random
from datetime import UTC

from kleptolab.device.eventlog import EventLog, RateLimit, Severity, admin_logon
from kleptolab.device.sealing import setup_keys
from kleptolab.device.vpn_report import VpnReporter

T0 = 1795000000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def test_repeated_events_are_summarised() -> None:
    clock = Clock()
    log = EventLog(clock=clock, tz=UTC, rate_limit=RateLimit(burst=20, window=10.0))
    for k in range(500):
        clock.t += 0.01
        log.emit(539, f"Dropped packet from 10.0.0.{k % 200}:{1000 + k}: malformed")
    assert len(log.entries) == 20 and log.suppressed == 480
    clock.t += 10
    log.tick()
    summary = log.entries[-1]
    assert summary.msg_id == 539 and "repeated 480 more times" in summary.message
    other = log.emit(539, "Dropped packet from 10.0.0.1:1: malformed")
    assert other.seq != 0  # a new window logs again


def test_admin_logons_and_criticals_are_never_limited() -> None:
    clock = Clock()
    log = EventLog(clock=clock, tz=UTC, rate_limit=RateLimit(burst=2))
    for k in range(100):
        admin_logon(log, "netscreen", "SSH", "127.0.0.1", 40000 + k)
        log.emit(700, f"Power supply {k} failed", severity=Severity.CRIT)
    assert len(log.entries) == 200 and log.suppressed == 0


def test_boot_and_critical_lines_survive_a_full_ring() -> None:
    clock = Clock()
    log = EventLog(clock=clock, tz=UTC, max_entries=100, rate_limit=None)
    log.emit(9, "System booted ScreenOS 6.3.0r20 (build 1234).", severity=Severity.NOTIF)
    log.emit(9, "Dual EC known-answer self-test passed (Q fingerprint 00).")
    log.emit(701, "Temperature critical", severity=Severity.CRIT)
    for k in range(10_000):
        log.emit(536, f"IKE 127.0.0.{k % 250}: event {k}")
    lines = log.lines()
    assert len(lines) == 103
    assert " 00009 System booted" in lines[0] and " 00009 Dual EC" in lines[1]
    assert " crit 00701 " in lines[2]
    assert "event 9999" in lines[-1]


def test_a_cookie_flood_writes_few_lines_and_keeps_the_boot_lines() -> None:
    """20k IKEv2 COOKIE events at 500/s (issue 13: 19,794 syslog lines, boot lines evicted)."""
    clock = Clock()
    sealer, key = setup_keys(random.Random(1).randbytes, device_id="1", interval=10, start=clock.t)
    log = EventLog(clock=clock, tz=UTC, sealer=sealer)
    sent: list[str] = []
    log.add_sink(lambda e: sent.append(e.line))
    log.emit(9, "System booted ScreenOS 6.3.0r20 (build 1234).", severity=Severity.NOTIF)
    reporter = VpnReporter(log, clock)
    for k in range(20_000):
        clock.t += 1 / 500
        remote = (f"127.0.{k % 250 // 100}.{k % 100 + 1}", 500)
        reporter.info(
            "ike", f"IKE {remote[0]}: IKEv2 COOKIE sent (half-open {k % 64} >= 32)", remote=remote
        )
        reporter.flush()
        log.tick()
    clock.t += 20
    reporter.flush()
    log.tick()
    cookie_lines = [line for line in sent if "COOKIE" in line]
    assert 0 < len(cookie_lines) < 1_000, len(cookie_lines)
    assert len(sent) < 1_500  # seals every 10 s included
    assert any("not logged" in line for line in sent)
    assert " 00009 System booted" in log.lines()[0]
    from kleptolab.defend.eventlog_format import parse_lines
    from kleptolab.defend.logseal import verify_events

    alerts = verify_events(parse_lines(log.lines(), "event.log").events, key)
    assert [a for a in alerts if a.severity == "high"] == []
