"""The CLI boundary beyond the bad-input table: --version, --debug, the exit-code contract in
the help, diff's exit codes, skipped devices, escaped log bytes, and the client's reasons."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kleptolab import __version__, ui

from .cli_cases import make_workspace
from .test_cli_contract import ENV, ERROR_LINE, run_subprocess

DEFENDER_COMMANDS = ("scan", "diff", "logs", "advisory", "signatures", "fingerprint", "audit")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("cli-boundary"))


def kleptolab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_subprocess(args, cwd if cwd is not None else Path.cwd())


def test_version() -> None:
    result = kleptolab("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"kleptolab {__version__}"
    assert kleptolab("version").stdout.strip() == __version__


def test_debug_shows_the_traceback_and_keeps_the_exit_code(workspace: Path) -> None:
    plain = kleptolab("gateway", "--firmware", "fw.img", "--config", "admin1.toml", cwd=workspace)
    debug = kleptolab(
        "--debug", "gateway", "--firmware", "fw.img", "--config", "admin1.toml", cwd=workspace
    )
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr
    last = debug.stderr.strip().splitlines()[-1]
    assert ERROR_LINE.match(last) and last == plain.stderr.strip()


def test_debug_on_a_usage_error(workspace: Path) -> None:
    result = kleptolab("--debug", "client", "--ike-port", "70000", cwd=workspace)
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert "--ike-port" in result.stderr.strip().splitlines()[-1]


def test_help_states_the_exit_codes() -> None:
    assert ui.EXIT_CODES_HELP in kleptolab("--help").stdout
    for command in DEFENDER_COMMANDS:
        text = " ".join(kleptolab(command, "--help").stdout.split())
        assert ui.EXIT_CODES_HELP in text, command


def test_diff_exits_1_on_known_bad_changes_only(workspace: Path, tmp_path: Path) -> None:
    backdoored = kleptolab("diff", "fw21.img", "fw.img", cwd=workspace)  # r21 -> r20: Q replaced
    assert backdoored.returncode == 1, backdoored.stderr
    assert "replaced" in backdoored.stdout
    fixed = kleptolab("diff", "fw.img", "fw21.img", cwd=workspace)  # the JSA10713 fix
    assert fixed.returncode == 0, fixed.stderr
    assert kleptolab("diff", "fw.img", "fw.img", cwd=workspace).returncode == 0
    from kleptolab.device.firmware import build_image
    from kleptolab.drbg.trapdoor import load_public_q

    q = load_public_q(workspace / "q.json")[1]
    (tmp_path / "r16.img").write_bytes(build_image("6.3.0r16", trapdoor_q=q))
    (tmp_path / "r17.img").write_bytes(build_image("6.3.0r17", trapdoor_q=q))
    password = kleptolab("diff", "r16.img", "r17.img", cwd=tmp_path)  # the master password added
    assert password.returncode == 1 and "known-bad" in password.stdout, password.stderr


def test_scan_skips_devices_among_files(workspace: Path) -> None:
    result = kleptolab("scan", "/dev/null", "fw21.img", cwd=workspace)
    assert result.returncode in (0, 1), result.stderr
    assert "/dev/null is not a regular file" in result.stderr and "skipped" in result.stderr
    assert "Traceback" not in result.stderr


def test_logs_never_echo_control_bytes(tmp_path: Path) -> None:
    log = tmp_path / "weird.log"
    log.write_bytes(b"\x1b[2J\x1b]0;pwned\x07 [bold]not markup[/bold] \xff\n")
    result = kleptolab("logs", str(log))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr + result.stdout and "\x07" not in result.stderr
    assert "\\x1b" in result.stderr and "[bold]not markup[/bold]" in result.stderr


def test_error_lines_escape_control_characters() -> None:
    assert ui.error_line("bad \x1b[31mname\x07", "kleptolab x") == (
        "kleptolab x: error: bad \\x1b[31mname\\x07"
    )
    assert ui.error_line("two\nlines", "kleptolab x") == "kleptolab x: error: two lines"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.network
def test_client_says_why_no_tunnel_came_up(workspace: Path) -> None:
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kleptolab",
            "gateway",
            "--firmware",
            "fw.img",
            "--ike-port",
            "0",
            "--natt-port",
            "0",
            "--ssh-port",
            "0",
            "--telnet-port",
            "0",
            "--run-for",
            "60",
            "--no-events",
        ],
        cwd=workspace,
        env={**ENV, "COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ports: dict[str, str] = {}
        deadline = time.monotonic() + 20
        assert gateway.stdout is not None
        while not ports and time.monotonic() < deadline:
            line = gateway.stdout.readline()
            if not line:
                break
            if "listening:" in line:
                ports = dict(re.findall(r"(\w+) 127\.0\.0\.1:(\d+)", line))
        assert "ike" in ports and "natt" in ports, "the gateway did not start"
        where = ["--ike-port", ports["ike"], "--natt-port", ports["natt"], "--timeout", "2"]
        ok = kleptolab("client", *where, "-n", "1", "--pings", "0", cwd=workspace)
        assert ok.returncode == 0, ok.stderr
        main_mode = kleptolab("client", *where, "--psk", "wrong", cwd=workspace)
        assert main_mode.returncode == 1
        assert "wrong pre-shared key" in main_mode.stderr.strip()
        v2 = kleptolab("client", *where, "-V", "2", "--psk", "wrong", cwd=workspace)
        assert v2.returncode == 1 and "AUTHENTICATION_FAILED" in v2.stderr
        proposal = kleptolab("client", *where, "--proposal", "pre-g5-aes128-sha", cwd=workspace)
        assert proposal.returncode == 1 and "NO_PROPOSAL_CHOSEN" in proposal.stderr
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)
    nobody = kleptolab(
        "client", "--ike-port", str(_free_udp_port()), "--timeout", "1", cwd=workspace
    )
    assert nobody.returncode == 1 and "no answer at all" in nobody.stderr
    for result in (main_mode, v2, proposal, nobody):
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and ERROR_LINE.match(lines[0]), lines


def test_paths_and_file_strings_are_never_read_as_markup(workspace: Path, tmp_path: Path) -> None:
    """A rich markup tag in a path (``[/x]``) once ended commands with exit 70 (MarkupError)."""
    (tmp_path / "[").mkdir()
    (tmp_path / "[" / "z].img").write_bytes((workspace / "fw.img").read_bytes())
    runs = [
        (0, "keygen", "-o", "[/x].json", "--public-out", "[/q].json"),
        (
            0,
            "firmware",
            "build",
            "--profile",
            "6.3.0r21",
            "--trapdoor",
            "[/q].json",
            "-o",
            "[/y].img",
        ),
        (0, "firmware", "info", "[/y].img"),
        (1, "scan", "[/z].img"),
        (1, "diff", "[/y].img", "[/z].img"),
    ]
    for expected, *args in runs:
        result = kleptolab(*args, cwd=tmp_path)
        assert result.returncode == expected, (args, result.stderr)
        assert "MarkupError" not in result.stderr and "internal error" not in result.stderr
