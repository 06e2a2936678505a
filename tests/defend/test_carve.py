"""Carving compressed streams at any offset, ScreenOS downloads, and decompression bombs."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import struct
import zlib
from collections.abc import Callable

import pytest

from kleptolab.defend.carve import CarveLimits, candidates, carve
from kleptolab.defend.constants import Verdict, constant_by_id
from kleptolab.defend.containers import Limits
from kleptolab.defend.diff import diff_images
from kleptolab.defend.scan import scan_bytes
from kleptolab.device import firmware_layout as layout
from kleptolab.device.firmware import build_image, image_name, unpack_image
from kleptolab.device.profiles import NAMED_PROFILES
from kleptolab.drbg.trapdoor import Trapdoor

RNG = random.Random(11)


def noise(n: int) -> bytes:
    return RNG.randbytes(n)


def payload() -> bytes:
    buf = bytearray(noise(3000))
    buf[1234 : 1234 + 64] = constant_by_id("unauthorized-2012-p256-qx").hex.upper().encode()
    return bytes(buf) + b"interrupt disabled and no entropy \x00" * 50


def _alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


def _alone_stripped(data: bytes) -> bytes:
    stream = _alone(data)
    return stream[:5] + stream[13:]


COMPRESSORS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "lzma-alone": ("lzma", _alone),
    "lzma-alone-without-size": ("lzma", _alone_stripped),
    "xz": ("xz", lzma.compress),
    "gzip": ("gzip", gzip.compress),
    "zlib": ("zlib", zlib.compress),
    "bzip2": ("bzip2", bz2.compress),
}


def _known_bad(result_findings: list) -> list[tuple[str | None, int]]:  # type: ignore[type-arg]
    return sorted(
        (f.inner, f.hit.offset) for f in result_findings if f.hit.verdict is Verdict.KNOWN_BAD
    )


@pytest.mark.parametrize("name", COMPRESSORS)
@pytest.mark.parametrize("offset", [0, 0x40, 0x4253, 0x12C01])
def test_each_compression_is_carved_at_odd_offsets(name: str, offset: int) -> None:
    kind, compress = COMPRESSORS[name]
    inner = payload()
    data = noise(offset) + compress(inner) + noise(333)
    result = scan_bytes("blob.bin", data)
    label = f"{kind}@0x{offset:X}"
    assert (label, 1234) in _known_bad(result.findings)
    found = [f for f in result.findings if f.inner == label and f.hit.offset == 1234]
    assert found[0].trail == f"blob.bin → {label} → offset 0x4D2"
    assert not result.warnings


def test_streams_one_after_another_and_nested() -> None:
    inner = payload()
    nested = gzip.compress(noise(77) + bz2.compress(inner))
    data = noise(99) + zlib.compress(inner) + noise(5) + nested + noise(17)
    where = [w for w, _ in _known_bad(scan_bytes("x", data).findings)]
    second = 99 + len(zlib.compress(inner)) + 5
    assert sorted(where) == sorted(["zlib@0x63", f"gzip@0x{second:X} → bzip2@0x4D"])


def test_candidates_are_cheap_header_checks() -> None:
    junk = bytearray(noise(4096))
    junk[100:103] = b"\x5d\x00\x00"  # properties byte, but a bad dictionary size follows
    junk[103:105] = b"\x12\x34"
    junk[500:504] = b"BZh9"  # no block magic after it
    junk[600:603] = b"\x1f\x8b\x08"
    junk[603] = 0xFF  # reserved gzip flag bits set
    kinds = {k for p, k in candidates(bytes(junk)) if p in (100, 500, 600)}
    assert kinds == set()
    assert list(carve(bytes(junk), lambda: CarveLimits(1 << 20, 100))) == []


@pytest.mark.parametrize("compress", [bz2.compress, gzip.compress, _alone_stripped, lzma.compress])
def test_bombs_are_dropped_with_a_warning(compress: Callable[[bytes], bytes]) -> None:
    bomb = compress(b"\x00" * (64 << 20))
    result = scan_bytes("bomb.bin", noise(0x101) + bomb + noise(10))
    assert any("possible decompression bomb" in w for w in result.warnings), result.warnings
    assert not result.findings


def test_output_cap_total_budget_and_depth() -> None:
    big = noise(100) + gzip.compress(noise(3 << 20)) + noise(10)
    capped = scan_bytes("big", big, limits=Limits(max_member=1 << 20, max_ratio=10**6))
    assert any("truncated at the 1 MiB member limit" in w for w in capped.warnings)
    deep = payload()
    for _ in range(6):
        deep = noise(3) + zlib.compress(deep)
    nested = scan_bytes("deep", deep)
    assert not _known_bad(nested.findings)
    total = noise(10) + bz2.compress(payload()) + noise(10) + bz2.compress(payload())
    limited = scan_bytes("two", total, limits=Limits(max_total=4000))
    assert len(_known_bad(limited.findings)) <= 1


def _screenos(inner: bytes, *, sized: bool, dict_field: bytes | None = None) -> bytes:
    """A download as Phrack 66 describes it (header, stub, body at 0x12C00)."""
    stream = _alone(inner)
    if not sized:
        stream = stream[:5] + stream[13:]
    if dict_field is not None:
        stream = stream[:1] + dict_field + stream[5:]
    body = struct.pack(">I", 0x1440598) + stream
    head = struct.pack(
        ">8I",
        0xEE16BA81,
        0x00110A12,
        0x20,
        0x02860000,
        len(body) - 79,
        0x15100050,
        0x29808000,
        0xC72C15F7,
    )
    return head + noise(0x12C00 - 32) + body


@pytest.mark.parametrize(
    ("sized", "dict_field"), [(False, None), (True, None), (False, b"\x12\x34\x56\x00")]
)
def test_phrack_layout_downloads_are_unpacked(sized: bool, dict_field: bytes | None) -> None:
    data = _screenos(payload(), sized=sized, dict_field=dict_field)
    result = scan_bytes("ssg5ssg20.6.3.0r20.0", data)
    assert ("lzma@0x12C04", 1234) in _known_bad(result.findings)


def test_lab_downloads_scan_like_their_unpacked_images(trapdoor: Trapdoor) -> None:
    for name in NAMED_PROFILES:
        packed = build_image(name, trapdoor_q=trapdoor.q)
        inner = unpack_image(packed)
        file = image_name(name)
        a = scan_bytes(file, packed)
        b = scan_bytes(file, inner)
        assert {f.inner for f in a.findings} <= {f"lzma@0x{layout.LZMA_OFFSET:X}"}
        key = [(f.hit.offset, f.hit.constant, f.hit.verdict, f.hit.variant) for f in a.findings]
        assert key == [
            (f.hit.offset, f.hit.constant, f.hit.verdict, f.hit.variant) for f in b.findings
        ], name
        assert not a.warnings and not b.warnings


def test_diff_of_packed_pair_equals_diff_of_unpacked_pair(images: dict[str, bytes]) -> None:
    for old, new in (("6.3.0r20", "6.3.0r21"), ("6.2.0r14", "6.2.0r15")):
        packed = diff_images(images[old], images[new], old, new)
        plain = diff_images(unpack_image(images[old]), unpack_image(images[new]), old, new)
        assert [c.to_json() for c in packed.changes] == [c.to_json() for c in plain.changes]
        assert packed.headlines == plain.headlines and packed.headlines
        assert packed.old_source == f"{old} → lzma@0x12C04" and plain.old_source == old
