"""ScreenOS log parsing, correlation rules, Sigma export and the ``logs`` CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.eventlog_format import parse_line, parse_lines
from kleptolab.defend.logrules import evaluate, export_sigma
from kleptolab.device.eventlog import (
    EventLog,
    SyslogFormat,
    SyslogSender,
    admin_login_failed,
    admin_logon,
    admin_password_ok,
)

runner = CliRunner()
LOGON = "2026-11-23 11:20:13 system warn 00515 Admin user system has logged on via SSH from 127.0.0.1:40522"
OK = ("2026-11-23 11:20:13 system warn 00528 SSH: Password authentication successful for admin "
      "user 'netscreen' at host 127.0.0.1.")


def test_get_event_lines() -> None:
    e = parse_line(LOGON)
    assert e is not None and (e.kind, e.user, e.ip, e.via, e.msg_id) == ("logon", "system", "127.0.0.1", "SSH", 515)
    ok = parse_line(OK)
    assert ok is not None and (ok.kind, ok.user, ok.ip) == ("password-ok", "netscreen", "127.0.0.1")
    wrapped = parse_line("2015-12-23 17:25:27 system warn  00515 Admin user system has logged on "
                         "via SSH from 1.1.1.1:32366")
    assert wrapped is not None and wrapped.ip == "1.1.1.1"
    telnet = parse_line(LOGON.replace("SSH", "Telnet"))
    assert telnet is not None and telnet.via == "Telnet"
    assert parse_line("garbage") is None
    timeout = parse_line("2014-05-23 11:11:39 system warn 00515 Management session via SSH from "
                         "10.10.10.100:0 for admin netscreen has timed out")
    assert timeout is not None and timeout.kind == "other"


def test_wazuh_style_syslog_line() -> None:
    line = ("May 23 11:11:39 10.0.0.1 ssg5-serial: NetScreen device_id=0275112227993284  "
            "[Root]system-warning-00515: Admin user system has logged on via SSH from "
            "203.0.113.9:2222 (2014-05-23 11:11:39)")
    e = parse_line(line)
    assert e is not None and e.form == "syslog-bsd" and e.ip == "203.0.113.9" and e.severity == "warn"


def _gateway_log(tmp_path: Path) -> list[str]:
    clock = iter(range(1795000000, 1795000100, 5))
    log = EventLog(clock=lambda: float(next(clock)), tz=UTC)
    admin_logon(log, "netscreen", "SSH", "127.0.0.1", 40000)
    admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
    admin_logon(log, "system", "Telnet", "127.0.0.1", 40522)
    admin_password_ok(log, "netscreen", "Telnet", "127.0.0.1")
    return log.lines()


@pytest.mark.parametrize("form", ["event", "rfc5424", "bsd"])
def test_gateway_output_in_every_form_raises_the_jsa10713_alert(tmp_path: Path, form: str) -> None:
    lines = _gateway_log(tmp_path)
    if form != "event":
        clock = iter(range(1795000000, 1795000100, 5))
        log = EventLog(clock=lambda: float(next(clock)), tz=UTC)
        admin_logon(log, "netscreen", "SSH", "127.0.0.1", 40000)
        admin_password_ok(log, "netscreen", "SSH", "127.0.0.1")
        admin_logon(log, "system", "Telnet", "127.0.0.1", 40522)
        admin_password_ok(log, "netscreen", "Telnet", "127.0.0.1")
        sender = SyslogSender(("127.0.0.1", 9), fmt=SyslogFormat(form if form == "bsd" else "rfc5424"))
        lines = [sender.format(e).decode() for e in log.entries]
        sender.close()
    parsed = parse_lines(lines, "gw.log")
    assert parsed.bad_lines == 0 and len(parsed.events) == 4
    alerts = evaluate(parsed.events)
    assert [a.rule for a in alerts] == ["jsa10713-system-logon"]
    assert alerts[0].evidence == ("gw.log:3", "gw.log:4")


def test_no_alert_for_other_source_or_later_than_a_minute() -> None:
    other = OK.replace("127.0.0.1", "127.0.0.2")
    late = OK.replace("11:20:13", "11:21:14")
    for partner in (other, late):
        assert not [a for a in evaluate(parse_lines([LOGON, partner]).events)
                    if a.rule == "jsa10713-system-logon"]
    normal = LOGON.replace("user system", "user netscreen")
    assert evaluate(parse_lines([normal, OK]).events) == []


def test_unexpected_source_and_failed_burst() -> None:
    clock = iter(range(1795000000, 1795000100, 3))
    log = EventLog(clock=lambda: float(next(clock)), tz=UTC, hash_chain=False)
    for _ in range(5):
        admin_login_failed(log, "admin", "SSH", 22, "198.51.100.7", 5000)
    admin_logon(log, "netscreen", "SSH", "198.51.100.7", 5001)
    alerts = evaluate(parse_lines(log.lines()).events)
    assert {a.rule for a in alerts} == {"failed-login-burst", "unexpected-source"}
    assert not evaluate(parse_lines(log.lines()).events, allowed=["198.51.100.0/24"])[1:]


def test_chain_break_gap_and_anchor(tmp_path: Path) -> None:
    lines = _gateway_log(tmp_path)
    assert evaluate(parse_lines(lines).events)[0].rule == "jsa10713-system-logon"
    deleted = lines[:1] + lines[2:]
    rules = [a.rule for a in evaluate(parse_lines(deleted, "d").events)]
    assert "chain-break" in rules
    edited = [lines[0], lines[1].replace("netscreen", "netscreem"), *lines[2:]]
    assert "chain-break" in [a.rule for a in evaluate(parse_lines(edited).events)]
    first = [lines[0].replace("netscreen", "netscreem"), *lines[1:]]
    assert "chain-anchor" in [a.rule for a in evaluate(parse_lines(first).events)]
    unchained = [*lines[:2], lines[2].split(" chain=")[0], lines[3]]
    got = [a.rule for a in evaluate(parse_lines(unchained).events)]
    assert "chain-gap" in got
    rotated = lines[2:]
    assert "chain-anchor" in [a.rule for a in evaluate(parse_lines(rotated).events)]


def test_bad_lines_are_counted_not_fatal() -> None:
    parsed = parse_lines([LOGON, "", "not a log line", "2026-13-45 99:99:99 system warn 00515 x", OK])
    assert parsed.bad_lines == 2 and len(parsed.events) == 2 and len(parsed.bad_examples) == 2


def test_sigma_export_is_valid_yaml_with_a_temporal_correlation() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    docs = list(yaml.safe_load_all(export_sigma()))
    assert len(docs) == 5
    names = {d.get("name") for d in docs}
    temporal = [d for d in docs if d.get("correlation", {}).get("type") == "temporal"]
    assert temporal and temporal[0]["correlation"]["timespan"] == "1m"
    assert set(temporal[0]["correlation"]["rules"]) <= names
    assert all("title" in d and ("detection" in d or "correlation" in d) for d in docs)


def test_cli(tmp_path: Path) -> None:
    log = tmp_path / "event.log"
    log.write_text("\n".join([*_gateway_log(tmp_path), "junk line"]) + "\n")
    table = runner.invoke(app, ["logs", str(log)])
    assert table.exit_code == 1 and "1 alerts over 4 events" in table.output
    assert "1 lines not understood" in table.output
    doc = runner.invoke(app, ["logs", str(log), "--format", "json"])
    data = json.loads(doc.stdout)
    assert data["bad_lines"] == 1 and data["alerts"][0]["severity"] == "critical"
    sarif = json.loads(runner.invoke(app, ["logs", str(log), "--format", "sarif"]).stdout)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    sigma = tmp_path / "rules.yml"
    clean = tmp_path / "clean.log"
    clean.write_text(LOGON.replace("user system", "user admin") + "\n")
    out = runner.invoke(app, ["logs", str(clean), "--export-sigma", str(sigma)])
    assert out.exit_code == 0 and "correlation:" in sigma.read_text()
    assert runner.invoke(app, ["logs", str(clean), "--allow", "nonsense"]).exit_code == 2
    assert runner.invoke(app, ["logs", str(tmp_path / "missing.log")]).exit_code == 2
    assert datetime.now(UTC).year >= 2024
