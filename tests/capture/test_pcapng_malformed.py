"""Malformed pcapng blocks become capture warnings, never ``struct.error`` (issue 13).

The regression: an interface description block shorter than 8 bytes made
``pcapio`` raise ``struct.error`` and ``fingerprint``/``decrypt`` print a
traceback.  Also a section header block shorter than its 28-byte minimum.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

from kleptolab.capture.datagrams import read_capture
from kleptolab.capture.pcapio import iter_frames
from kleptolab.drbg.trapdoor import generate_trapdoor

ROOT = Path(__file__).resolve().parents[2]


def block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
IDB = block(1, struct.pack("<HHI", 101, 0, 65535))  # LINKTYPE_RAW
SHORT_IDB = block(1, b"\x65\x00\x00\x00")  # 4 bytes: too short for linktype+reserved+snaplen


def epb(interface: int, packet: bytes) -> bytes:
    pad = packet + bytes(-len(packet) % 4)
    return block(6, struct.pack("<IIIII", interface, 0, 0, len(packet), len(packet)) + pad)


PACKET = bytes.fromhex("450000200001000040110000c0000201c000020101f401f4000c0000") + b"abcd"


def test_short_interface_block_is_a_warning_and_other_interfaces_still_read() -> None:
    data = SHB + SHORT_IDB + IDB + epb(0, PACKET) + epb(1, PACKET)
    warnings: list[str] = []

    frames = list(iter_frames(io.BytesIO(data), warnings))
    assert [f.number for f in frames] == [2]  # frame 1 came from the malformed interface
    assert any("shorter than 8" in w for w in warnings)
    assert any("frame 1: its interface description block is malformed" in w for w in warnings)


def test_short_section_header_block_stops_with_a_warning() -> None:

    short_shb = (
        struct.pack("<II", 0x0A0D0D0A, 16) + struct.pack("<I", 0x1A2B3C4D) + struct.pack("<I", 16)
    )
    warnings: list[str] = []
    frames = list(iter_frames(io.BytesIO(SHB + IDB + epb(0, PACKET) + short_shb + IDB), warnings))
    assert len(frames) == 1 and any("corrupt pcapng block" in w for w in warnings)


def test_fingerprint_and_decrypt_cli_give_no_traceback(tmp_path: Path) -> None:
    capture = tmp_path / "short-idb.pcapng"
    capture.write_bytes(SHB + SHORT_IDB + epb(0, PACKET))
    assert read_capture(capture).warnings  # the library: warnings, no exception
    trapdoor = tmp_path / "trapdoor.json"
    generate_trapdoor().save(trapdoor)
    for args in (
        ["fingerprint", str(capture)],
        ["decrypt", str(capture), "--trapdoor", str(trapdoor), "-o", str(tmp_path / "out")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "kleptolab", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        )
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        assert "struct.error" not in done.stderr
        assert done.returncode in (0, 1, 2), (args[0], done.returncode, done.stderr)
