"""Text layouts found in real libraries: separated hex, array literals, decimal, limb arrays."""

from __future__ import annotations

import random

import pytest

from kleptolab.defend.constants import CONSTANTS, Verdict, constant_by_id
from kleptolab.defend.engine import is_text, scan_buffer
from kleptolab.defend.patterns import pattern_index

RNG = random.Random(5)


def _full(buf: bytes) -> set[tuple[str, str]]:
    return {(h.constant.id, h.variant) for h in scan_buffer(buf) if h.constant and not h.partial}


def _hex(ident: str, width: int = 64) -> str:
    value = constant_by_id(ident).value
    assert value is not None
    return f"{value:0{width}x}"


def _groups(ident: str) -> str:
    digits = _hex(ident)
    return " ".join(digits[k : k + 8] for k in range(0, 64, 8))


def test_bn_js_style_space_separated_groups() -> None:
    """The layout of the npm ``elliptic`` package's curve table (curves.js)."""
    source = (
        "defineCurve('p256', {\n  type: 'short',\n  prime: null,\n"
        f"  p: '{_groups('p256-p')}',\n  a: '{_groups('p256-a')}',\n"
        f"  b: '{_groups('p256-b')}',\n  n: '{_groups('p256-n')}',\n"
        f"  g: [\n    '{_groups('p256-gx')}',\n    '{_groups('p256-gy')}',\n  ],\n}});\n"
    ).encode()
    found = _full(source)
    for ident in ("p256-p", "p256-a", "p256-b", "p256-n", "p256-gx", "p256-gy"):
        assert (ident, "hex-spaced") in found, ident
    hit = next(h for h in scan_buffer(source) if h.constant and h.constant.id == "p256-b")
    assert source[hit.offset : hit.offset + hit.length].decode() == _groups("p256-b")
    assert not [
        h for h in scan_buffer(source) if h.verdict in (Verdict.KNOWN_BAD, Verdict.REPLACED_Q)
    ]


def test_openssl_text_colon_separated_bytes_across_lines() -> None:
    """``openssl ec -text -noout`` prints the public point as colon bytes, 15 per line."""
    qx, qy = _hex("nist-p256-qx"), _hex("nist-p256-qy")
    octets = ["04"] + [(qx + qy)[k : k + 2] for k in range(0, 128, 2)]
    lines = [":".join(octets[k : k + 15]) + ":" for k in range(0, len(octets), 15)]
    text = (
        "read EC key\nPrivate-Key: (256 bit)\npub:\n"
        + "\n".join("    " + ln for ln in lines)
        + "\nASN1 OID: prime256v1\nNIST CURVE: P-256\n"
    ).encode()
    found = _full(text)
    assert ("nist-p256-qx", "hex-colon") in found and ("nist-p256-qy", "hex-colon") in found


@pytest.mark.parametrize("ident", ["p256-b", "unauthorized-2012-p256-qx", "p384-gx"])
def test_c_and_java_byte_arrays(ident: str) -> None:
    c = constant_by_id(ident)
    raw = c.be_bytes()
    c_src = (
        "static const unsigned char k[] = {\n    " + ", ".join(f"0x{b:02x}" for b in raw) + "\n};\n"
    ).encode()
    java = (
        "static final byte[] K = { " + ", ".join(f"(byte) 0x{b:02X}" for b in raw) + " };\n"
    ).encode()
    le = ("uint8_t k_le[] = {" + ",".join(f"0x{b:02x}" for b in raw[::-1]) + "};").encode()
    assert (ident, "c-array-u8") in _full(c_src)
    assert (ident, "c-array-u8") in _full(java)
    assert (ident, "c-array-u8-le") in _full(le)
    hit = next(h for h in scan_buffer(c_src) if h.constant == c)
    assert c_src[hit.offset : hit.offset + 4] == f"0x{raw[0]:02x}".encode()


def test_little_endian_limb_arrays_32_and_64_bit() -> None:
    """OpenSSL bn_nist.c style: words least-significant first, in 64- and 32-bit limbs."""
    p = constant_by_id("p256-p").value
    b = constant_by_id("p256-b").value
    assert p is not None and b is not None
    limbs64 = [(p >> (64 * k)) & (2**64 - 1) for k in range(4)]
    c64 = (
        "static const BN_ULONG _nist_p_256[] = {"
        + ", ".join(f"0x{w:016X}ULL" for w in limbs64)
        + "};"
    ).encode()
    limbs32 = [(b >> (32 * k)) & 0xFFFFFFFF for k in range(8)]
    c32 = (
        "static const uint32_t b[8] = {" + ", ".join(f"0x{w:08x}" for w in limbs32) + "};"
    ).encode()
    ms32 = (
        "const uint32_t b_ms[] = {" + ", ".join(f"0x{w:08x}" for w in limbs32[::-1]) + "};"
    ).encode()
    assert ("p256-p", "c-array-u64-be64-lslf") in _full(c64)
    assert ("p256-b", "c-array-u32-be32-lslf") in _full(c32)
    assert ("p256-b", "c-array-u32") in _full(ms32)


def test_decimal_strings() -> None:
    p = constant_by_id("p256-p").value
    qx = constant_by_id("nist-p384-qx").value
    src = (
        f'BigInteger P = new BigInteger("{p}");\nq_x = {qx}\nx = {p}1\n'
    ).encode()  # the last one is a longer number: no match
    hits = [(h.constant.id, h.variant, h.offset) for h in scan_buffer(src) if h.constant]
    assert ("p256-p", "decimal", src.index(str(p).encode())) in hits
    assert ("nist-p384-qx", "decimal", src.index(str(qx).encode())) in hits
    assert len(hits) == 2


def test_look_alikes_make_no_claims() -> None:
    """Random hex in the same layouts next to curve parameters is no replaced Q nor password."""
    params = "\n".join(f"  {n}: '{_groups(i)}'," for n, i in (("p", "p256-p"), ("b", "p256-b")))
    rnd = RNG.randbytes(32)
    spaced = " ".join(rnd.hex()[k : k + 8] for k in range(0, 64, 8))
    arr = ", ".join(f"0x{x:02x}" for x in RNG.randbytes(32))
    dec = str(int.from_bytes(RNG.randbytes(32), "big"))
    src = f"{params}\n  q: '{spaced}',\n  k: {{{arr}}},\n  d: {dec}\n".encode()
    hits = scan_buffer(src)
    assert {h.constant.id for h in hits if h.constant} == {"p256-p", "p256-b"}
    assert not [
        h for h in hits if h.verdict in (Verdict.KNOWN_BAD, Verdict.REPLACED_Q, Verdict.UNKNOWN)
    ]


def test_text_skips_binary_passes_without_losing_layouts() -> None:
    """No binary layout, nor any partial of one, is valid UTF-8: text may skip those passes."""
    for pattern in pattern_index().patterns:
        if pattern.variant == "utf16le":
            continue
        data = pattern.data
        for a in range(len(data) - 15):
            for b in range(a + 16, len(data) + 1):
                window = data[a:b]
                if len(set(window)) >= 8:
                    assert not is_text(window), (pattern.constant.id, pattern.variant, a, b)
    # UTF-16LE indicators in an otherwise ASCII file are still found (NUL keeps the pass)
    pw = next(c for c in CONSTANTS if c.id == "screenos-master-password")
    doc = b"ascii text\n" + (pw.text or "").encode("utf-16-le") + b"\nmore\n"
    assert ("screenos-master-password", "utf16le") in _full(doc)
    utf8 = ("résumé: " + _hex("p256-b").upper() + " ©\n").encode()
    assert is_text(utf8) and ("p256-b", "hex-lower") not in _full(utf8)
    assert ("p256-b", "hex-upper") in _full(utf8)
