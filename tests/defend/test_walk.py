"""Robust tree scanning: shrinking files, unreadable directories, special files, the pool."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from kleptolab.defend import scan as scan_module
from kleptolab.defend.constants import constant_by_id
from kleptolab.defend.scan import scan_paths
from kleptolab.defend.walk import FileRef, read_windows, walk

QX = constant_by_id("unauthorized-2012-p256-qx").hex.upper().encode()


def _file(path: Path, size: int, plant_at: int | None = None) -> Path:
    data = bytearray(random.Random(size).randbytes(size))
    if plant_at is not None:
        data[plant_at : plant_at + len(QX)] = QX
    path.write_bytes(bytes(data))
    return path


def test_file_truncated_mid_scan_is_a_warning_not_sigbus(tmp_path: Path) -> None:
    path = _file(tmp_path / "shrinks.bin", 1 << 20, plant_at=1000)
    warnings: list[str] = []
    windows = read_windows(
        FileRef(str(path), 1 << 20), warnings, whole_limit=1000, window=256 << 10, overlap=4096
    )
    first = next(windows)
    os.truncate(path, 300_000)  # shrinks between two reads
    rest = list(windows)
    assert len(first.data) == 256 << 10 and sum(len(w.data) for w in rest) > 0
    assert any("shrank while being read; scanned 300000 of 1048576" in w for w in warnings)


def test_file_shrunk_after_the_walk_still_scans_what_is_left(tmp_path: Path) -> None:
    path = _file(tmp_path / "a.bin", 5000, plant_at=100)
    found = list(walk([str(tmp_path)], []))
    os.truncate(path, 2000)
    result = scan_module.ScanResult()
    assert scan_module._scan_file(found[0], "python", True, None, result)
    assert any("shrank" in w for w in result.warnings)
    assert [f.hit.offset for f in result.findings if f.hit.constant] == [100]


def test_shrinking_file_in_a_child_process_exits_normally(tmp_path: Path) -> None:
    """The real race: a writer truncates the file in a loop while the scanner reads it."""
    path = _file(tmp_path / "race.bin", 8 << 20)
    code = (
        "import os, sys, threading\n"
        "from kleptolab.defend.scan import scan_paths\n"
        "p = sys.argv[1]\n"
        "stop = threading.Event()\n"
        "def shrink():\n"
        "    n = 8 << 20\n"
        "    while not stop.is_set() and n > 0:\n"
        "        n -= 1 << 16\n"
        "        os.truncate(p, n)\n"
        "t = threading.Thread(target=shrink); t.start()\n"
        "for _ in range(20): scan_paths([p], jobs=1)\n"
        "stop.set(); t.join(); print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(scan_module.__file__).parents[2]))
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_unreadable_directory_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    _file(locked / "x.bin", 100)
    _file(tmp_path / "ok.bin", 100, plant_at=10)
    real = os.scandir

    def scandir(path: str) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root reads any directory: simulate
    result = scan_paths([tmp_path])
    assert f"{locked}: cannot read directory (Permission denied)" in result.warnings
    assert result.files == 1 and len(result.findings) == 1


def test_special_files_are_skipped_with_a_message(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for reading would block forever
    _file(tmp_path / "plain.bin", 200)
    result = scan_paths([tmp_path, Path("/dev/null")])
    assert f"{fifo}: skipped, a FIFO is not a regular file" in result.warnings
    assert "/dev/null: skipped, a character device is not a regular file" in result.warnings
    assert result.files == 1


def test_pool_gives_the_same_result_in_walk_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in range(30):
        folder = tmp_path / f"d{k % 3}"
        folder.mkdir(exist_ok=True)
        _file(folder / f"f{k:02}.bin", 3000 + k, plant_at=17 * k if k % 4 == 0 else None)
    serial = scan_paths([tmp_path], jobs=1)
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan_module, "BATCH_FILES", 4)
    seen: list[str] = []
    pooled = scan_paths([tmp_path], jobs=2, on_file=lambda p, _s: seen.append(p.name))
    assert [f.to_json() for f in pooled.findings] == [f.to_json() for f in serial.findings]
    assert pooled.files == serial.files == 30 and len(pooled.findings) == 8
    assert seen == sorted(seen, key=lambda n: (int(n[1:3]) % 3, n))
