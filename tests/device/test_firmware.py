"""Lab firmware images: build -> parse, corruption refused, release-to-release diffs, CLI."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kleptolab.cli import app
from kleptolab.defend.constants import Verdict
from kleptolab.defend.diff import extract_strings
from kleptolab.defend.engine import scan_buffer
from kleptolab.device.firmware import HEADER_SIZE, build_image, checksum, parse_image
from kleptolab.device.profiles import LAB_MASTER_PASSWORD, NAMED_PROFILES, QKind, profile_for
from kleptolab.drbg.constants import JUNIPER_QX
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
        parse_image(b"XXXXXXXX" + data[8:])
    with pytest.raises(ValueError, match="header alone"):
        parse_image(data[:10])
    with pytest.raises(ValueError, match="body is"):
        parse_image(data[:-4])
    body = bytearray(data)
    body[HEADER_SIZE + 100] ^= 1
    with pytest.raises(ValueError, match="body checksum"):
        parse_image(bytes(body))
    head = bytearray(data)
    head[40] ^= 1
    with pytest.raises(ValueError, match="header checksum"):
        parse_image(bytes(head))


def test_refixed_checksum_is_accepted_like_real_screenos(trapdoor: Trapdoor) -> None:
    """The checksum is not a signature: re-computing it makes a patched image boot (CCS16 §6)."""
    data = bytearray(build_image("6.2.0r14"))
    image = parse_image(bytes(data))
    old, new = (image.q_x_text or "").encode(), f"{trapdoor.q[0]:064X}".encode()
    start = data.index(old)
    data[start : start + 64] = new
    body = bytes(data[HEADER_SIZE:])
    struct.pack_into(">I", data, HEADER_SIZE - 8, checksum(body))
    struct.pack_into(">I", data, HEADER_SIZE - 4, checksum(bytes(data[: HEADER_SIZE - 4])))
    assert parse_image(bytes(data)).q_x == trapdoor.q[0]


def test_unauthorized_profile_needs_a_trapdoor_and_password_rules() -> None:
    with pytest.raises(ValueError, match="--trapdoor"):
        build_image("6.3.0r12")
    with pytest.raises(ValueError, match="no admin backdoor"):
        build_image("6.3.0r21", master_password="x")
    with pytest.raises(ValueError, match="printable ASCII"):
        build_image("6.3.0r20", trapdoor_q=generate_trapdoor().q, master_password="bad\x00")


def test_custom_master_password(trapdoor: Trapdoor) -> None:
    image = parse_image(build_image("6.3.0r18", trapdoor_q=trapdoor.q, master_password="<<< %x >>>"))
    assert image.master_password == "<<< %x >>>"


def _strings(data: bytes) -> list[str]:
    return [s.text for s in extract_strings(data)]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("6.2.0r14", "6.2.0r15", {"version", "stamp", "qx", "kat"}),
    ("6.3.0r20", "6.3.0r21", {"version", "stamp", "qx", "kat", "password"}),
    ("6.3.0r18", "6.3.0r19", {"version", "stamp"}),
])
def test_adjacent_releases_differ_only_where_the_real_ones_did(
    old: str, new: str, expected: set[str], trapdoor: Trapdoor
) -> None:
    a = parse_image(build_image(old, trapdoor_q=trapdoor.q))
    b = parse_image(build_image(new, trapdoor_q=trapdoor.q))
    # body strings only: the header's binary checksums may form random printable runs
    sa = set(_strings(build_image(old, trapdoor_q=trapdoor.q)[HEADER_SIZE:]))
    sb = set(_strings(build_image(new, trapdoor_q=trapdoor.q)[HEADER_SIZE:]))
    labels: dict[str | None, str] = {}
    for img in (a, b):
        labels.update({str(img.version): "version", f"ScreenOS {img.version}": "version",
                       img.build_stamp: "stamp", img.q_x_text: "qx", (img.kat or b"").hex(): "kat",
                       img.master_password: "password"})
    changed = {labels.get(s, f"unexpected: {s}") for s in sa ^ sb}
    if a.build_stamp != b.build_stamp:
        changed.add("stamp")  # the stamp lives in the header
    assert changed == expected


def test_61_images_carry_no_dual_ec_strings() -> None:
    data = build_image("6.1.0r7")
    assert not [h for h in scan_buffer(data) if h.verdict is not Verdict.KNOWN_BAD]
    assert "interrupt disabled and no entropy " not in _strings(data)


def test_cli_build_and_info(tmp_path: Path, trapdoor: Trapdoor) -> None:
    key = tmp_path / "key.json"
    trapdoor.save(key)
    out = tmp_path / "r20.bin"
    result = runner.invoke(app, ["firmware", "build", "--profile", "6.3.0r20", "--trapdoor",
                                 str(key), "--master-password", "<<< lab2 >>>", "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["firmware", "info", str(out), "--json"])
    assert info.exit_code == 0 and '"master_password": "<<< lab2 >>>"' in info.output
    assert f"{trapdoor.q[0]:064X}" in info.output
    plain = runner.invoke(app, ["firmware", "info", str(out)])
    assert plain.exit_code == 0 and "6.3.0r20" in plain.output


def test_cli_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["firmware", "build", "--profile", "6.2.0r15", "-o",
                                  str(tmp_path / "x.bin")])
    assert missing.exit_code == 2 and "--trapdoor" in missing.output
    bad_version = runner.invoke(app, ["firmware", "build", "--profile", "7.0", "-o",
                                      str(tmp_path / "x.bin")])
    assert bad_version.exit_code == 2 and "not a ScreenOS version" in bad_version.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 200)
    info = runner.invoke(app, ["firmware", "info", str(junk)])
    assert info.exit_code == 2 and "magic" in info.output
    assert runner.invoke(app, ["firmware", "info", str(tmp_path / "nope")]).exit_code == 2
