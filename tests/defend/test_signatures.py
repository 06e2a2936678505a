"""Snort/Suricata rules: they parse, and their content matches behave on Telnet sessions.

These sessions are built to the lab console protocol (banner + ``login: ``,
user, ``password: ``, password, prompt ``ssg5-lab-> ``) to cover splits and
variants; test_signatures_live.py runs the rules on sessions captured from the
gateway's real Telnet console.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.constants import HISTORIC_MASTER_PASSWORD
from kleptolab.defend.signatures import Segment, match_session, reassemble, render_rules
from kleptolab.device.profiles import LAB_MASTER_PASSWORD

suricataparser = pytest.importorskip("suricataparser", reason="suricataparser is not installed")
runner = CliRunner()
S = Segment


def telnet_session(user: str, password: str, *, banner: bool = True, success: bool = True,
                   split: bool = False) -> list[Segment]:
    greeting = b"Remote Management Console\r\nlogin: " if banner else b"login: "
    segments = [S(False, greeting), S(True, user.encode() + b"\r\n"), S(False, b"password: ")]
    secret = password.encode() + b"\r\n"
    if split:  # typed character by character, as an interactive client sends it
        segments += [S(True, secret[k : k + 1]) for k in range(len(secret))]
    else:
        segments.append(S(True, secret))
    segments.append(S(False, b"ssg5-lab-> " if success else b"### login failed\r\nlogin: "))
    return segments


def test_rules_parse_with_suricataparser() -> None:
    rules = suricataparser.parse_rules(render_rules())
    assert [int(r.sid) for r in rules] == [9001728, 9001729, 9001730, 9001731, 9001732]
    for rule in rules:
        names = [o.name for o in rule.options]
        assert {"msg", "sid", "rev", "classtype", "reference"} <= set(names)
    password_rule = rules[2]
    opts = {o.name: o.value for o in password_rule.options}
    assert opts["offset"] == "0" and opts["depth"] == str(len(LAB_MASTER_PASSWORD))
    assert "3C 3C 3C" in (opts["content"] or "")


def test_lab_password_logon_alerts() -> None:
    rules = render_rules()
    assert match_session(rules, telnet_session("netscreen", LAB_MASTER_PASSWORD)) == [9001730, 9001731]
    assert match_session(rules, telnet_session("admin", LAB_MASTER_PASSWORD, split=True)) == \
        [9001730, 9001731]


def test_historic_indicator_rule() -> None:
    session = telnet_session("netscreen", HISTORIC_MASTER_PASSWORD)
    assert match_session(render_rules(), session) == [9001732, 9001731]
    assert match_session(render_rules(historic=False), session) == []


def test_no_alert_for_normal_logins_or_failed_attempts() -> None:
    rules = render_rules()
    assert match_session(rules, telnet_session("netscreen", "correct horse")) == []
    assert match_session(rules, telnet_session("x", LAB_MASTER_PASSWORD, success=False)) == [9001730]
    assert match_session(rules, telnet_session("x", LAB_MASTER_PASSWORD, banner=False)) == []
    late = telnet_session("netscreen", "x" + LAB_MASTER_PASSWORD)  # not at offset 0
    assert match_session(rules, late) == []


def test_custom_password_and_ssh_banner_rule() -> None:
    rules = render_rules("<<< lab2 >>>", historic=False)
    assert match_session(rules, telnet_session("n", "<<< lab2 >>>")) == [9001730, 9001731]
    assert match_session(rules, [S(False, b"SSH-2.0-NetScreen\r\n")], ssh=True) == [9001728]
    assert match_session(rules, [S(False, b"SSH-2.0-OpenSSH_9.2\r\n")], ssh=True) == []
    with pytest.raises(ValueError, match="printable ASCII"):
        render_rules("bad\x01")


def test_reassembly_merges_same_direction_segments() -> None:
    pdus = reassemble([S(True, b"a"), S(True, b"b"), S(False, b"c"), S(True, b""), S(True, b"d")])
    assert [(p.to_server, p.payload) for p in pdus] == [(True, b"ab"), (False, b"c"), (True, b"d")]


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "lab.rules"
    result = runner.invoke(app, ["signatures", "-o", str(out), "--master-password", "<<< x >>>",
                                 "--no-historic"])
    assert result.exit_code == 0
    text = out.read_text()
    assert "sid:9001730" in text and "sid:9001732" not in text
    assert match_session(text, telnet_session("n", "<<< x >>>")) == [9001730, 9001731]
    stdout = runner.invoke(app, ["signatures"])
    assert stdout.exit_code == 0 and "SSH-2.0-NetScreen" in stdout.stdout
    assert runner.invoke(app, ["signatures", "--master-password", "caf\u00e9"]).exit_code == 2
