"""Lab firmware images: build -> parse, corruption refused, release-to-release diffs, CLI."""

from __future__ import annotations

import json
import lzma
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.constants import Verdict
from kleptolab.defend.diff import extract_strings
from kleptolab.defend.engine import scan_buffer
from kleptolab.device import firmware_layout as layout
from kleptolab.device.firmware import (
    HEADER_SIZE,
    build_image,
    build_unpacked,
    image_name,
    pack_image,
    parse_image,
    parse_unpacked,
    unpack_image,
)
from kleptolab.device.gateway import boot_image
from kleptolab.device.profiles import LAB_MASTER_PASSWORD, NAMED_PROFILES, QKind, profile_for
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.curves import P256
from kleptolab.drbg.screenos import kat_expected
from kleptolab.drbg.trapdoor import Trapdoor, generate_trapdoor

runner = CliRunner()


@pytest.fixture(scope="module")
def trapdoor() -> Trapdoor:
    return generate_trapdoor()


@pytest.mark.parametrize("name", NAMED_PROFILES)
def test_build_then_parse_gives_the_profile_fields(name: str, trapdoor: Trapdoor) -> None:
    profile = profile_for(name)
    image = parse_image(build_image(profile, trapdoor_q=trapdoor.q))
    assert image.version == profile.version and image.profile == profile
    assert image.build_stamp == profile.build_stamp
    if profile.q_kind is QKind.NONE:
        assert image.q_x is None and image.kat is None
    else:
        q = trapdoor.q if profile.q_kind is QKind.UNAUTHORIZED else image.q_point()
        assert q is not None
        assert image.q_x == (trapdoor.q[0] if profile.vpn_backdoor else JUNIPER_QX.x)
        assert image.kat == kat_expected(q)
        text = image.q_x_text or ""
        assert text == (text.upper() if profile.vpn_backdoor else text.lower())
    assert image.master_password == (LAB_MASTER_PASSWORD if profile.admin_backdoor else None)


@pytest.mark.parametrize("name", NAMED_PROFILES)
def test_gateway_boots_from_every_real_layout_image(name: str, trapdoor: Trapdoor) -> None:
    boot = boot_image(build_image(name, trapdoor_q=trapdoor.q))
    assert boot.profile == profile_for(name)
    assert boot.kat_checked == boot.profile.has_dual_ec


def test_kat_does_not_depend_on_the_sign_of_y() -> None:
    x, y = JUNIPER_QX.x, JUNIPER_QX.y_candidates()[0]
    assert kat_expected((x, y)) == kat_expected((x, JUNIPER_QX.curve.p - y))


def test_every_single_byte_corruption_is_refused(trapdoor: Trapdoor) -> None:
    data = build_image("6.3.0r20", trapdoor_q=trapdoor.q)
    for position in range(0, len(data), 97):
        bad = bytearray(data)
        bad[position] ^= 0x40
        with pytest.raises(ValueError, match=r"corrupt|magic|unsupported"):
            parse_image(bytes(bad))


def test_precise_error_messages(trapdoor: Trapdoor) -> None:
    data = build_image("6.2.0r15", trapdoor_q=trapdoor.q)
    with pytest.raises(ValueError, match="magic"):
        parse_image(b"XXXX" + data[4:])
    with pytest.raises(ValueError, match="header alone"):
        parse_image(data[:10])
    with pytest.raises(ValueError, match="ends before the LZMA body"):
        parse_image(data[: layout.BODY_OFFSET])
    with pytest.raises(ValueError, match="does not match the body"):
        parse_image(data[:-4])
    body = bytearray(data)
    body[layout.BODY_OFFSET + 100] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        parse_image(bytes(body))
    head = bytearray(data)
    head[0x1C] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        parse_image(bytes(head))
    inner = bytearray(unpack_image(data))
    inner[HEADER_SIZE + 50] ^= 1
    with pytest.raises(ValueError, match="body checksum"):
        parse_unpacked(bytes(inner))
    # a body that fails to decode, behind a header that was fixed up to match it
    broken = bytearray(data)
    broken[layout.LZMA_OFFSET + 40 : layout.LZMA_OFFSET + 60] = b"\xff" * 20
    struct.pack_into(">I", broken, 0x1C, layout.image_sum(bytes(broken)))
    with pytest.raises(ValueError, match="LZMA body"):
        parse_image(bytes(broken))


@pytest.mark.parametrize("name", NAMED_PROFILES)
def test_real_layout_of_every_profile(name: str, trapdoor: Trapdoor) -> None:
    """Header words, stub, LZMA body without its size field, inner big-endian image at 0x80000."""
    data = build_image(name, trapdoor_q=trapdoor.q)
    words = struct.unpack_from(">8I", data)
    assert words[0] == 0xEE16BA81 and words[2] == 0x20 and words[3] == 0x80000
    assert words[4] == len(data) - 0x12C00 - 79
    assert words[7] == layout.checksum(data[:0x1C] + data[0x20:])
    assert b"LZMA: decompressing image" in data[0x2020:0x12940]
    assert data[0x12C04] == 0x5D and int.from_bytes(data[0x12C05:0x12C09], "little") == 1 << 23
    # the standard 13-byte header with the size field put back decodes with stock liblzma
    stream = data[0x12C04 : 0x12C04 + 5] + b"\xff" * 8 + data[0x12C04 + 5 :]
    inner = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(stream)
    assert inner == unpack_image(data)
    assert struct.unpack_from(">I", data, 0x12C00)[0] == len(inner)
    iw = struct.unpack_from(">8I", inner)
    assert iw[0] == 0xEE16BA81 and iw[2] == 0x20 and iw[3] == 0x80000 and iw[4] == len(inner) - 32
    # nothing to find in the packed bytes: the strings exist only after decompression
    b_hex = f"{P256.b:064X}".encode()
    assert b_hex not in data and (b_hex in inner) == profile_for(name).has_dual_ec
    assert image_name(name) == f"ssg5ssg20.{name}.0"


def test_builds_are_deterministic_byte_for_byte(trapdoor: Trapdoor) -> None:
    for name in ("6.3.0r20", "6.1.0r7"):
        a = build_image(name, trapdoor_q=trapdoor.q)
        assert a == build_image(name, trapdoor_q=trapdoor.q)
        assert pack_image(unpack_image(a)) == a
        assert a == pack_image(build_unpacked(name, trapdoor_q=trapdoor.q))


def test_refixed_checksum_is_accepted_like_real_screenos(trapdoor: Trapdoor) -> None:
    """The checksum is not a signature: unpack, patch, repack and it boots (CCS16 §6)."""
    data = build_image("6.2.0r14")
    image = parse_image(data)
    inner = bytearray(unpack_image(data))
    old, new = (image.q_x_text or "").encode(), f"{trapdoor.q[0]:064X}".encode()
    start = inner.index(old)
    inner[start : start + 64] = new
    with pytest.raises(ValueError, match="body checksum"):
        parse_unpacked(bytes(inner))
    assert parse_image(pack_image(bytes(inner))).q_x == trapdoor.q[0]


def test_unauthorized_profile_needs_a_trapdoor_and_password_rules() -> None:
    with pytest.raises(ValueError, match="--trapdoor"):
        build_image("6.3.0r12")
    with pytest.raises(ValueError, match="no admin backdoor"):
        build_image("6.3.0r21", master_password="x")
    with pytest.raises(ValueError, match="printable ASCII"):
        build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q, master_password="bad\x00")


def test_custom_master_password(trapdoor: Trapdoor) -> None:
    image = parse_image(
        build_image("6.3.0r18", trapdoor_q=trapdoor.q, master_password="<<< %x >>>")
    )
    assert image.master_password == "<<< %x >>>"


def _strings(data: bytes) -> list[str]:
    return [s.text for s in extract_strings(data)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("6.2.0r14", "6.2.0r15", {"version", "stamp", "qx", "kat"}),
        ("6.3.0r20", "6.3.0r21", {"version", "stamp", "qx", "kat", "password"}),
        ("6.3.0r18", "6.3.0r19", {"version", "stamp"}),
    ],
)
def test_adjacent_releases_differ_only_where_the_real_ones_did(
    old: str, new: str, expected: set[str], trapdoor: Trapdoor
) -> None:
    a = parse_image(build_image(old, trapdoor_q=trapdoor.q))
    b = parse_image(build_image(new, trapdoor_q=trapdoor.q))
    # body strings only: the header's binary checksums may form random printable runs
    sa = set(_strings(build_unpacked(old, trapdoor_q=trapdoor.q)[HEADER_SIZE:]))
    sb = set(_strings(build_unpacked(new, trapdoor_q=trapdoor.q)[HEADER_SIZE:]))
    labels: dict[str | None, str] = {}
    for img in (a, b):
        labels.update(
            {
                str(img.version): "version",
                f"ScreenOS {img.version}": "version",
                img.build_stamp: "stamp",
                img.q_x_text: "qx",
                (img.kat or b"").hex(): "kat",
                img.master_password: "password",
            }
        )
    changed = {labels.get(s, f"unexpected: {s}") for s in sa ^ sb}
    if a.build_stamp != b.build_stamp:
        changed.add("stamp")  # the stamp lives in the header
    assert changed == expected


def test_61_images_carry_no_dual_ec_strings() -> None:
    data = build_unpacked("6.1.0r7")
    assert not [h for h in scan_buffer(data) if h.verdict is not Verdict.KNOWN_BAD]
    assert "interrupt disabled and no entropy " not in _strings(data)


def test_cli_build_and_info(tmp_path: Path, trapdoor: Trapdoor) -> None:
    key = tmp_path / "key.json"
    trapdoor.save(key)
    out = tmp_path / "r20.bin"
    result = runner.invoke(
        app,
        [
            "firmware",
            "build",
            "--profile",
            "6.3.0r20",
            "--trapdoor",
            str(key),
            "--master-password",
            "<<< lab2 >>>",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["firmware", "info", str(out), "--json"])
    assert info.exit_code == 0 and '"master_password": "<<< lab2 >>>"' in info.output
    assert f"{trapdoor.q[0]:064X}" in info.output
    plain = runner.invoke(app, ["firmware", "info", str(out)])
    assert plain.exit_code == 0 and "6.3.0r20" in plain.output


def test_cli_errors(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["firmware", "build", "--profile", "6.2.0r15", "-o", str(tmp_path / "x.bin")]
    )
    assert missing.exit_code == 2 and "--trapdoor" in missing.output
    bad_version = runner.invoke(
        app, ["firmware", "build", "--profile", "7.0", "-o", str(tmp_path / "x.bin")]
    )
    assert bad_version.exit_code == 2 and "not a ScreenOS version" in bad_version.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 200)
    info = runner.invoke(app, ["firmware", "info", str(junk)])
    assert info.exit_code == 2 and "magic" in info.output
    assert runner.invoke(app, ["firmware", "info", str(tmp_path / "nope")]).exit_code == 2


def test_cli_info_marks_what_it_cannot_verify(tmp_path: Path, trapdoor: Trapdoor) -> None:
    """A real download's checksum cannot be checked (unpublished): info says so and exits 0."""
    data = bytearray(build_image("6.3.0r21", trapdoor_q=trapdoor.q))
    struct.pack_into(">I", data, 0x1C, 0x8C102D42)
    path = tmp_path / "ssg5ssg20.6.3.0r21.0"
    path.write_bytes(bytes(data))
    result = runner.invoke(app, ["firmware", "info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["magic"].startswith("0xee16ba81") and "verified" in doc["size_word"]
    assert "not verifiable" in doc["checksum"] and "not verifiable" in doc["word5"]
    assert doc["lab_loader"].startswith("refused") and "version" not in doc
