"""The CLI's one error contract, over every command (see ``tests/cli_cases.py`` for the table).

Bad input: exit 2, exactly one stderr line ``kleptolab CMD: error: …``, no traceback, and
nothing written.  The table runs in-process through :func:`kleptolab.cli.main` (the real
boundary, fast on two cores); a subset, the read-only-folder rows and the full-disk rows run
through ``python -m kleptolab`` in a subprocess.
"""

from __future__ import annotations

import importlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kleptolab import ui
from kleptolab.cli import main

from .cli_cases import READ_ONLY_ROWS, ROWS, SUBPROCESS_ROWS, Case, D, make_workspace
from .conftest import REPO_ROOT

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "COLUMNS": "80"}
TIMEOUT = 30
ERROR_LINE = re.compile(r"kleptolab( [a-z0-9-]+)*: error: \S")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("cli-contract"))


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (to prove nothing was written)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def assert_one_error_line(stderr: str, case: Case) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{case.id}: expected one stderr line, got {lines}"
    line = lines[0]
    assert ERROR_LINE.match(line), line
    assert case.expect.lower() in line.lower(), f"{case.id}: {case.expect!r} not in {line!r}"
    assert line.isprintable(), f"{case.id}: control characters in {line!r}"


def run_in_process(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return code if isinstance(code, int) else 1, out, err


def run_subprocess(
    args: tuple[str, ...], cwd: Path, prefix: tuple[str, ...] = (), **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kleptolab", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_table_is_large_and_covers_every_command() -> None:
    assert len(ROWS) >= 100
    assert len({c.id for c in ROWS}) == len(ROWS)
    commands = {" ".join(c.args[:1]) for c in ROWS} | {" ".join(c.args[:2]) for c in ROWS}
    for name in (
        "keygen",
        "prng",
        "recover",
        "firmware build",
        "firmware info",
        "gateway",
        "client",
        "pki init",
        "decrypt",
        "scan",
        "diff",
        "fingerprint",
        "logs",
        "advisory",
        "signatures",
        "demo",
    ):
        assert name in commands, name
    assert set(SUBPROCESS_ROWS) <= {c.id for c in ROWS} and len(SUBPROCESS_ROWS) >= 15


@pytest.mark.parametrize("case", ROWS, ids=lambda c: c.id)
def test_bad_input_in_process(
    case: Case, workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(workspace)
    before = tree(workspace)
    code, _, err = run_in_process(case.args, capsys)
    assert code == 2, f"{case.id}: exit {code}, stderr {err!r}"
    assert_one_error_line(err, case)
    assert tree(workspace) == before, f"{case.id} left files behind"


@pytest.mark.parametrize("case", [c for c in ROWS if c.id in SUBPROCESS_ROWS], ids=lambda c: c.id)
def test_bad_input_real_entry_point(case: Case, workspace: Path) -> None:
    before = tree(workspace)
    result = run_subprocess(case.args, workspace)
    assert result.returncode == 2, (case.id, result.returncode, result.stderr)
    assert_one_error_line(result.stderr, case)
    assert tree(workspace) == before, f"{case.id} left files behind"


def _read_only_prefix(folder: Path) -> tuple[str, ...]:
    """Make ``folder`` read-only for the command: chmod, or (root ignores modes) a read-only
    bind mount in a private mount namespace."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return ()
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root without unshare: no way to make a folder read-only")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    probe = subprocess.run(
        [unshare, "--mount", "--", "sh", "-c", script, str(folder), "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.decode().strip()}")
    return (unshare, "--mount", "--", "sh", "-c", script, str(folder))


@pytest.fixture(scope="module")
def read_only(workspace: Path) -> Iterator[tuple[str, ...]]:
    folder = workspace / "ro"
    folder.mkdir()
    prefix = _read_only_prefix(folder)
    yield prefix
    folder.chmod(0o755)


@pytest.mark.parametrize("case", READ_ONLY_ROWS, ids=lambda c: c.id)
def test_read_only_folder(case: Case, workspace: Path, read_only: tuple[str, ...]) -> None:
    before = tree(workspace)
    result = run_subprocess(case.args, workspace, read_only)
    assert result.returncode == 2, (case.id, result.returncode, result.stderr)
    assert_one_error_line(result.stderr, case)
    assert tree(workspace) == before, f"{case.id} left files behind (keygen: both or neither)"


def _file_size_limit(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG, like a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        (
            ("firmware", "build", "--profile", "6.3.0r21", "--trapdoor", "q.json", "-o", "x.img"),
            4096,
        ),
        (("keygen", "-o", "k.json", "--public-out", "k.pub.json"), 200),
        (("signatures", "-o", "x.rules"), 256),
        (("scan", "--export-yara", "x.yar", "fw.img"), 256),
        (("decrypt", "empty.pcap", "--trapdoor", "td.json", "-o", "out"), 300),
        ((*D.split(), "-o", "dir", "--state-cache", "c.json"), 10),
        (("pki", "init", "newpki", "--key-size", "1024"), 1000),
    ],
    ids=[
        "firmware-build",
        "keygen-pair",
        "signatures",
        "scan-export-yara",
        "decrypt-outdir",
        "decrypt-state-cache",
        "pki-init",
    ],
)
def test_full_disk_leaves_nothing(args: tuple[str, ...], limit: int, workspace: Path) -> None:
    before = tree(workspace)
    result = run_subprocess(args, workspace, preexec_fn=lambda: _file_size_limit(limit))
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "nothing written" in line or "none written" in line, line
    assert "Traceback" not in result.stderr
    assert tree(workspace) == before, "a partial or temporary file was left behind"


def test_write_files_atomically_takes_back_earlier_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "missing" / "b.json"
    with pytest.raises(OSError):
        ui.write_files_atomically({first: b"private", second: b"public"})
    assert list(tmp_path.iterdir()) == []


def test_keygen_writes_both_files_private_key_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_in_process(("keygen", "-o", "k.json", "--public-out", "q.json"), capsys)
    assert code == 0 and "Qx" in out
    assert (tmp_path / "k.json").stat().st_mode & 0o777 == 0o600
    assert '"d"' not in (tmp_path / "q.json").read_text()


BEFORE_WORK = [
    ("kleptolab.attack.decryptor.decrypt_capture", f"{D} -o out --state-cache /dev/full"),
    ("kleptolab.attack.decryptor.decrypt_capture", f"{D} -o /dev/full"),
    ("kleptolab.attack.decryptor.decrypt_capture", f"{D} -o out --steps 1000000000"),
    ("kleptolab.defend.scan.scan_paths", "scan -o nodir/r.json fw.img"),
    ("kleptolab.defend.scan.scan_paths", "scan --export-yara /dev/full fw.img"),
    ("kleptolab.lab.demo.run_demo", "demo --out /dev/full"),
    ("kleptolab.device.pki.init_pki", "pki init newpki --key-size 65536"),
    ("kleptolab.drbg.trapdoor.generate_trapdoor", "keygen -o k.json --public-out nodir/q.json"),
    ("kleptolab.device.firmware.build_image", "firmware build --profile 6.3.0r21 -o /dev/full"),
]


@pytest.mark.parametrize(
    ("work", "line"),
    BEFORE_WORK,
    ids=[f"{w.rsplit('.', 1)[1]}:{i}" for i, (w, _) in enumerate(BEFORE_WORK)],
)
def test_checks_come_before_the_long_work(
    work: str,
    line: str,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module, name = work.rsplit(".", 1)

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{name} started before the bad input was reported")

    monkeypatch.setattr(importlib.import_module(module), name, started)
    monkeypatch.chdir(workspace)
    code, _, err = run_in_process(tuple(line.split()), capsys)
    assert code == 2 and "started before" not in err, err
    assert len(err.strip().splitlines()) == 1
