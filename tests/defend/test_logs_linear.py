"""The analyzer is linear: hostile lines parse, the nearest-pairing rule equals the brute force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.defend.eventlog_format import Event, parse_line, parse_lines
from kleptolab.defend.logrules import WINDOW, evaluate
from kleptolab.device.eventlog import EventLog, Severity

BASE = datetime(2026, 11, 23, 11, 0, 0)


def _event(kind: str, ip: str, seconds: int, line: int) -> Event:
    user = "system" if kind == "logon" else "netscreen"
    msg_id = 515 if kind == "logon" else 528
    return Event(
        "f",
        line,
        BASE + timedelta(seconds=seconds),
        "system",
        "warn",
        msg_id,
        "m",
        "event",
        None,
        kind,
        user,
        ip,
        "SSH",
    )


def _brute(events: list[Event]) -> list[tuple[str, ...]]:
    """The rule as first written: every logon against every 00528 (quadratic)."""
    out = []
    oks = [e for e in events if e.kind == "password-ok"]
    for logon in (e for e in events if e.kind == "logon"):
        pair = [ok for ok in oks if ok.ip == logon.ip and abs(ok.when - logon.when) <= WINDOW]
        if pair:
            ok = min(pair, key=lambda o: (abs(o.when - logon.when), o.when < logon.when))
            out.append((f"f:{logon.line}", f"f:{ok.line}"))
    return sorted(out)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["logon", "password-ok"]),
            st.sampled_from(["127.0.0.1", "127.0.0.2"]),
            st.integers(0, 300),
        ),
        max_size=30,
    )
)
def test_system_logon_pairing_equals_the_quadratic_rule(items: list[tuple[str, str, int]]) -> None:
    events = [_event(kind, ip, t, k + 1) for k, (kind, ip, t) in enumerate(items)]
    got = sorted(a.evidence for a in evaluate(events) if a.rule == "jsa10713-system-logon")
    assert got == _brute(events)


def test_hostile_lines_parse_or_are_refused() -> None:
    head = "2026-11-23 11:20:13 system warn 00515 "
    assert parse_line("NetScreen device_id=1  [Root]system-warning-00515: " * 2000) is None
    long = parse_line(head + "Admin user " + "a" * 100_000)
    assert long is not None and long.kind == "other"
    spaces = parse_line(head + " " * 100_000 + "x")
    assert spaces is not None and spaces.message.endswith("x")
    chained = parse_line(head + "a" + " chain=" * 14_000)
    assert chained is not None and chained.chain is None


def test_a_rotated_ring_with_pinned_boot_lines_is_not_a_chain_break() -> None:
    t = [1795000000.0]
    log = EventLog(clock=lambda: t[0], tz=UTC, max_entries=10, rate_limit=None)
    log.emit(9, "System booted", severity=Severity.NOTIF)
    for k in range(30):
        t[0] += 1
        log.emit(536, f"event {k}")
    alerts = evaluate(parse_lines(log.lines(), "event.log").events)
    assert [(a.rule, a.severity) for a in alerts] == [("chain-anchor", "low")]
