"""Lab firmware images laid out like ScreenOS 6.x ones (CCS 2016 §3, §6; JSA10713).

Layout (all integers big-endian, as on the SSG5/SSG20's big-endian ARM):

* a 96-byte header: magic ``KLSCREEN``, header length, format version, the
  release (16 bytes), the build stamp (40 bytes), body length, symbol table
  offset (inside the body) and count, then a body checksum and a header
  checksum.  Both checksums are the non-cryptographic 32-bit word sum real
  ScreenOS images carried (CCS 2016 §6 had to "fix up" one): anybody can
  recompute them, which is exactly the point of the lesson.
* the body: a deterministic "code" block (identical in every release), the
  string table, and a symbol section of ``name(8) offset(4) length(4)`` rows
  naming ``DUALEC_Q`` (Qx as 64 hex digits), ``DUALEC_K`` (the KAT answer as
  hex) and ``MASTERPW`` (the admin master password); an absent item has
  offset ``0xFFFFFFFF``.

The string table holds the P-256 parameters (p, a, b, Gx, n as hex), the two
"ERROR Out Of Memory" strings, then Qx — UPPER case for the unauthorized Q
(in the lab: the lab trapdoor's Qx), lower case for Juniper's — then
``interrupt disabled and no entropy `` and, further on, look-alike debug
format strings (among them the master password in backdoored builds) and the
KAT.  6.1 images carry no Dual EC strings.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from kleptolab.device.profiles import (
    LAB_MASTER_PASSWORD,
    FirmwareProfile,
    QKind,
    ScreenOsVersion,
    profile_for,
)
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.curves import P256

__all__ = ["MAGIC", "FirmwareImage", "build_image", "checksum", "parse_image", "q_for_profile"]

MAGIC = b"KLSCREEN"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHH16s40sIIHHII")  # ... body checksum, header checksum
HEADER_SIZE = _HEADER.size
_SYMBOL = struct.Struct(">8sII")
_ABSENT = 0xFFFFFFFF
_CODE_SIZE = 16 * 1024
Point = tuple[int, int]

_DEBUG_STRINGS = (
    "SSH key: <<< %s(*ssh_key=%08x) = %u (found=%u)",
    "auth_admin_internal: <<< %s(un='%s') -> %d",
    "ike: >>> %s(sa=%08x, spi=%08x) = %d",
    "pki: <<< %s(cert=%p, len=%u) = %d",
)


def checksum(data: bytes) -> int:
    """32-bit sum of the big-endian 32-bit words of ``data`` (zero-padded)."""
    padded = data + b"\x00" * (-len(data) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


def q_for_profile(profile: FirmwareProfile, trapdoor_q: Point | None) -> Point | None:
    """The Q a build carries: Juniper's (y lifted, even), the lab trapdoor's, or none (6.1)."""
    if profile.q_kind is QKind.NONE:
        return None
    if profile.q_kind is QKind.JUNIPER:
        return P256.lift_x(JUNIPER_QX.x)  # x(s*Q) does not depend on the sign of y
    if trapdoor_q is None:
        raise ValueError(
            f"ScreenOS {profile.name} carries the unauthorized Q; the lab stands in its own "
            "trapdoor Q there: pass --trapdoor key.json (kleptolab keygen makes one)"
        )
    if not P256.contains(trapdoor_q):
        raise ValueError("the trapdoor Q is not a point of P-256")
    return trapdoor_q


def _code_block() -> bytes:
    rng = random.Random(0x5C2EE2)  # the same "code" in every release: diffs stay small
    return bytes(rng.getrandbits(8) for _ in range(_CODE_SIZE))


def _strings(profile: FirmwareProfile, q: Point | None, kat: bytes | None,
             password: str | None) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = [
        (None, "Copyright (c) 1996-2012 Juniper Networks, Inc. (kleptolab reproduction)"),
        (None, f"ScreenOS {profile.name}"),
        (None, "auth_admin_internal"),
    ]
    if q is not None and kat is not None:
        qx = f"{q[0]:064x}"
        out += [
            (None, f"{P256.p:064X}"), (None, f"{P256.a:064X}"), (None, f"{P256.b:064X}"),
            (None, f"{P256.gx:064X}"), (None, f"{P256.n:064X}"),
            (None, "ERROR Out Of Memory: DH priv val."),
            (None, "ERROR Out Of Memory: other DH pub val"),
            ("DUALEC_Q", qx.upper() if profile.q_kind is QKind.UNAUTHORIZED else qx),
            (None, "interrupt disabled and no entropy "),
            (None, "prng: Dual EC DRBG known-answer test"),
            ("DUALEC_K", kat.hex()),
        ]
    else:
        out.append((None, "prng: ANSI X9.31 reseed from system entropy"))
    for text in _DEBUG_STRINGS[:2]:
        out.append((None, text))
    if password is not None:
        out.append(("MASTERPW", password))
    for text in _DEBUG_STRINGS[2:]:
        out.append((None, text))
    return out


def build_image(profile: FirmwareProfile | str, *, trapdoor_q: Point | None = None,
                master_password: str | None = None) -> bytes:
    """Build the image of ``profile``; ``ValueError`` on a missing trapdoor or bad password."""
    prof = profile if isinstance(profile, FirmwareProfile) else profile_for(profile)
    if master_password is not None and not prof.admin_backdoor:
        raise ValueError(f"ScreenOS {prof.name} has no admin backdoor; --master-password only "
                         "applies to 6.3.0r17-r20")
    password = (master_password or LAB_MASTER_PASSWORD) if prof.admin_backdoor else None
    if password is not None and (not password.isascii() or not password.isprintable()
                                 or not 1 <= len(password) <= 64):
        raise ValueError("master password must be 1-64 printable ASCII characters")
    q = q_for_profile(prof, trapdoor_q)
    kat = None
    if q is not None:
        from kleptolab.drbg.screenos import kat_expected

        kat = kat_expected(q)
    body = bytearray(_code_block())
    symbols: dict[str, tuple[int, int]] = {}
    for name, text in _strings(prof, q, kat, password):
        if name is not None:
            symbols[name] = (len(body), len(text))
        body += text.encode("ascii") + b"\x00"
    body += b"\x00" * (-len(body) % 4)
    symtab = len(body)
    names = ("DUALEC_Q", "DUALEC_K", "MASTERPW")
    for name in names:
        offset, length = symbols.get(name, (_ABSENT, 0))
        body += _SYMBOL.pack(name.encode(), offset, length)
    head = _HEADER.pack(MAGIC, HEADER_SIZE, FORMAT_VERSION, prof.name.encode(),
                        prof.build_stamp.encode(), len(body), symtab, len(names), 0,
                        checksum(bytes(body)), 0)
    head = head[:-4] + struct.pack(">I", checksum(head[:-4]))
    return head + bytes(body)


@dataclass(frozen=True)
class FirmwareImage:
    """What a loader learns from an image (``None`` for items the build lacks)."""

    version: ScreenOsVersion
    profile: FirmwareProfile
    build_stamp: str
    q_x: int | None
    q_x_text: str | None
    kat: bytes | None
    master_password: str | None
    body_checksum: int
    header_checksum: int
    size: int

    def q_point(self) -> Point | None:
        """Q lifted from Qx (even y; Dual EC output is the same for either sign)."""
        return None if self.q_x is None else P256.lift_x(self.q_x)


def _text(name: str, fields: bytes) -> str:
    try:
        return fields.rstrip(b"\x00").decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"corrupt firmware image: header field {name} is not ASCII") from None


def _symbol(body: bytes, name: str, offset: int, length: int) -> str | None:
    if offset == _ABSENT:
        return None
    if offset + length + 1 > len(body) or body[offset + length] != 0:
        raise ValueError(f"corrupt firmware image: symbol {name} points outside the string table")
    try:
        return body[offset : offset + length].decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"corrupt firmware image: symbol {name} is not ASCII text") from None


def parse_image(data: bytes) -> FirmwareImage:
    """Verify magic, lengths and both checksums, then read the symbols; ``ValueError`` if corrupt."""
    if len(data) < HEADER_SIZE:
        raise ValueError(f"corrupt firmware image: {len(data)} bytes, the header alone is {HEADER_SIZE}")
    (magic, hlen, fmt, version, stamp, body_len, symtab, count, _reserved, body_sum,
     head_sum) = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"not a kleptolab firmware image: magic {magic!r}, expected {MAGIC!r}")
    if hlen != HEADER_SIZE or fmt != FORMAT_VERSION:
        raise ValueError(f"unsupported firmware header: length {hlen}, format {fmt}")
    if checksum(data[: HEADER_SIZE - 4]) != head_sum:
        raise ValueError(f"corrupt firmware image: header checksum {head_sum:#010x} does not match "
                         f"{checksum(data[: HEADER_SIZE - 4]):#010x}")
    body = data[HEADER_SIZE:]
    if len(body) != body_len:
        raise ValueError(f"corrupt firmware image: body is {len(body)} bytes, header says {body_len}")
    if checksum(body) != body_sum:
        raise ValueError(f"corrupt firmware image: body checksum {checksum(body):#010x} does not "
                         f"match the header's {body_sum:#010x}")
    if symtab + count * _SYMBOL.size > len(body):
        raise ValueError("corrupt firmware image: symbol table runs past the end of the body")
    symbols: dict[str, str | None] = {}
    for k in range(count):
        raw_name, offset, length = _SYMBOL.unpack_from(body, symtab + k * _SYMBOL.size)
        name = _text("symbol name", raw_name)
        symbols[name] = _symbol(body, name, offset, length)
    release = ScreenOsVersion.parse(_text("version", version))
    qx_text, kat_text = symbols.get("DUALEC_Q"), symbols.get("DUALEC_K")
    try:
        q_x = None if qx_text is None else int(qx_text, 16)
        kat = None if kat_text is None else bytes.fromhex(kat_text)
    except ValueError:
        raise ValueError("corrupt firmware image: DUALEC_Q/DUALEC_K is not hex") from None
    if qx_text is not None and len(qx_text) != 64:
        raise ValueError(f"corrupt firmware image: Qx has {len(qx_text)} hex digits, expected 64")
    return FirmwareImage(
        version=release, profile=profile_for(release), build_stamp=_text("build stamp", stamp),
        q_x=q_x, q_x_text=qx_text, kat=kat, master_password=symbols.get("MASTERPW"),
        body_checksum=body_sum, header_checksum=head_sum, size=len(data),
    )
