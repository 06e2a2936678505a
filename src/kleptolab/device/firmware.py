"""Lab firmware images in the real ScreenOS layout (CCS 2016 §3, §6; JSA10713; Phrack 66 file 5).

:func:`build_image` writes the packed download (:mod:`kleptolab.device.firmware_layout`:
0xEE16BA81 header, decompressor stub, LZMA body at 0x12C00 without its size
field) around an unpacked image laid out for SSG5/SSG20 (0x20-byte header,
code and data loaded at 0x80000, big-endian).  The code and data are:

* a deterministic "code" block (identical in every release);
* the string table: the P-256 parameters (p, a, b, Gx, n as upper-case hex),
  the two "ERROR Out Of Memory" strings, then Qx -- UPPER case for the
  unauthorized Q (in the lab: the lab trapdoor's Qx), lower case for
  Juniper's -- then ``interrupt disabled and no entropy ``, the KAT,
  look-alike debug format strings and, in backdoored builds, the master
  password among them; 6.1 images carry no Dual EC strings;
* a symbol section of ``name(8) offset(4) length(4)`` rows naming
  ``VERSION``, ``BUILDSTM``, ``DUALEC_Q`` (Qx as 64 hex digits), ``DUALEC_K``
  (the KAT answer as hex) and ``MASTERPW``; an absent item has offset
  ``0xFFFFFFFF``.  Real images have no such table (analysts found the items
  with ``strings``); it is the lab loader's shortcut.

Both checksums are non-cryptographic (the lab's algorithm: the real one is
unpublished, see :mod:`~kleptolab.device.firmware_layout`): anybody can
recompute them, which is exactly the point of the lesson.  The same inputs
always give the same bytes.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from kleptolab.device import firmware_layout as layout
from kleptolab.device.firmware_layout import PLATFORMS, ContainerHeader, Platform, checksum
from kleptolab.device.profiles import (
    LAB_MASTER_PASSWORD,
    FirmwareProfile,
    QKind,
    ScreenOsVersion,
    profile_for,
)
from kleptolab.drbg.constants import JUNIPER_QX
from kleptolab.drbg.curves import P256

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "FirmwareImage",
    "build_image",
    "build_unpacked",
    "checksum",
    "image_name",
    "pack_image",
    "parse_image",
    "parse_unpacked",
    "q_for_profile",
    "unpack_image",
]

MAGIC = layout.MAGIC.to_bytes(4, "big")
HEADER_SIZE = layout.HEADER_SIZE
_SYMBOL = struct.Struct(">8sII")
_ABSENT = 0xFFFFFFFF
_CODE_SIZE = 16 * 1024
_SYMBOLS = ("VERSION", "BUILDSTM", "DUALEC_Q", "DUALEC_K", "MASTERPW")
Point = tuple[int, int]

_DEBUG_STRINGS = (
    "SSH key: <<< %s(*ssh_key=%08x) = %u (found=%u)",
    "auth_admin_internal: <<< %s(un='%s') -> %d",
    "ike: >>> %s(sa=%08x, spi=%08x) = %d",
    "pki: <<< %s(cert=%p, len=%u) = %d",
)


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


def _strings(
    profile: FirmwareProfile, q: Point | None, kat: bytes | None, password: str | None
) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = [
        (None, "Copyright (c) 1996-2012 Juniper Networks, Inc. (kleptolab reproduction)"),
        (None, f"ScreenOS {profile.name}"),
        ("VERSION", profile.name),
        ("BUILDSTM", profile.build_stamp),
        (None, "auth_admin_internal"),
    ]
    if q is not None and kat is not None:
        qx = f"{q[0]:064x}"
        out += [
            (None, f"{P256.p:064X}"),
            (None, f"{P256.a:064X}"),
            (None, f"{P256.b:064X}"),
            (None, f"{P256.gx:064X}"),
            (None, f"{P256.n:064X}"),
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


def image_name(profile: FirmwareProfile | str, platform: str = "ssg5ssg20") -> str:
    """The release file name, e.g. ``ssg5ssg20.6.3.0r20.0`` (HDM's repository naming)."""
    prof = profile if isinstance(profile, FirmwareProfile) else profile_for(profile)
    return f"{_platform(platform).name}.{prof.name}.0"


def _platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(
            f"unknown platform {name!r}: expected one of {', '.join(PLATFORMS)}"
        ) from None


def _version_code(version: ScreenOsVersion) -> int:
    return (version.major << 4 | version.minor) & 0xFF


def build_unpacked(
    profile: FirmwareProfile | str,
    *,
    trapdoor_q: Point | None = None,
    master_password: str | None = None,
    platform: str = "ssg5ssg20",
) -> bytes:
    """The unpacked image of ``profile`` (what IDA loads); ``ValueError`` on bad inputs."""
    prof = profile if isinstance(profile, FirmwareProfile) else profile_for(profile)
    plat = _platform(platform)
    if master_password is not None and not prof.admin_backdoor:
        raise ValueError(
            f"ScreenOS {prof.name} has no admin backdoor; --master-password only "
            "applies to 6.3.0r17-r20"
        )
    password = (master_password or LAB_MASTER_PASSWORD) if prof.admin_backdoor else None
    if password is not None and (
        not password.isascii() or not password.isprintable() or not 1 <= len(password) <= 64
    ):
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
    for name in _SYMBOLS:
        offset, length = symbols.get(name, (_ABSENT, 0))
        body += _SYMBOL.pack(name.encode(), offset, length)
    head = layout.inner_header(
        plat, _version_code(prof.version), bytes(body), symtab, len(_SYMBOLS)
    )
    return head + bytes(body)


def build_image(
    profile: FirmwareProfile | str,
    *,
    trapdoor_q: Point | None = None,
    master_password: str | None = None,
    platform: str = "ssg5ssg20",
) -> bytes:
    """The packed download of ``profile``, byte for byte the same for the same inputs.

    ``ValueError`` on a missing trapdoor, a bad password or an unknown platform.
    """
    return pack_image(
        build_unpacked(
            profile, trapdoor_q=trapdoor_q, master_password=master_password, platform=platform
        )
    )


def pack_image(unpacked: bytes) -> bytes:
    """Pack an unpacked image (e.g. a patched one) into a download, checksums recomputed.

    The inner checksum is recomputed too, the way CCS 2016 §6 "fixed up" a
    modified image; the platform and version codes come from its header.
    """
    head = layout.read_header(unpacked)
    plat = next((p for p in PLATFORMS.values() if p.code == head.platform_code), None)
    if plat is None:
        raise ValueError(f"unknown platform code {head.platform_code:#04x} in the image header")
    body = unpacked[HEADER_SIZE:]
    fixed = layout.inner_header(plat, head.version_code, body, head.word5, head.word6)
    return layout.pack(fixed + body, plat, head.version_code)


def unpack_image(data: bytes) -> bytes:
    """The unpacked image inside a packed download (size and checksum verified)."""
    return layout.unpack(data)[1]


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
    body_checksum: int  # of the unpacked image (lab algorithm)
    header_checksum: int  # of the packed file (lab algorithm)
    size: int
    header: ContainerHeader | None = None  # the packed file's header words
    inner_header: ContainerHeader | None = None
    unpacked_size: int = 0

    def q_point(self) -> Point | None:
        """Q lifted from Qx (even y; Dual EC output is the same for either sign)."""
        return None if self.q_x is None else P256.lift_x(self.q_x)


def _symbol(body: bytes, name: str, offset: int, length: int) -> str | None:
    if offset == _ABSENT:
        return None
    if offset + length + 1 > len(body) or body[offset + length] != 0:
        raise ValueError(f"corrupt firmware image: symbol {name} points outside the string table")
    try:
        return body[offset : offset + length].decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"corrupt firmware image: symbol {name} is not ASCII text") from None


def parse_unpacked(
    data: bytes, *, size: int | None = None, header: ContainerHeader | None = None
) -> FirmwareImage:
    """Verify an unpacked image (header, checksum) and read its symbols; ``ValueError`` if corrupt."""
    inner, body = layout.check_inner(data)
    symtab, count = inner.word5, inner.word6
    if count > 64 or symtab + count * _SYMBOL.size > len(body):
        raise ValueError("corrupt firmware image: symbol table runs past the end of the body")
    symbols: dict[str, str | None] = {}
    for k in range(count):
        raw_name, offset, length = _SYMBOL.unpack_from(body, symtab + k * _SYMBOL.size)
        try:
            name = raw_name.rstrip(b"\x00").decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("corrupt firmware image: a symbol name is not ASCII") from None
        symbols[name] = _symbol(body, name, offset, length)
    version_text, stamp = symbols.get("VERSION"), symbols.get("BUILDSTM")
    if version_text is None or stamp is None:
        raise ValueError("corrupt firmware image: no VERSION/BUILDSTM symbol (not a lab image)")
    release = ScreenOsVersion.parse(version_text)
    qx_text, kat_text = symbols.get("DUALEC_Q"), symbols.get("DUALEC_K")
    try:
        q_x = None if qx_text is None else int(qx_text, 16)
        kat = None if kat_text is None else bytes.fromhex(kat_text)
    except ValueError:
        raise ValueError("corrupt firmware image: DUALEC_Q/DUALEC_K is not hex") from None
    if qx_text is not None and len(qx_text) != 64:
        raise ValueError(f"corrupt firmware image: Qx has {len(qx_text)} hex digits, expected 64")
    return FirmwareImage(
        version=release,
        profile=profile_for(release),
        build_stamp=stamp,
        q_x=q_x,
        q_x_text=qx_text,
        kat=kat,
        master_password=symbols.get("MASTERPW"),
        body_checksum=inner.checksum,
        header_checksum=header.checksum if header else 0,
        size=len(data) if size is None else size,
        header=header,
        inner_header=inner,
        unpacked_size=len(data),
    )


def parse_image(data: bytes) -> FirmwareImage:
    """Boot-time checks of a packed download: header size and checksum, LZMA body, inner image.

    ``ValueError`` names the first check that fails.
    """
    header, unpacked = layout.unpack(data)
    return parse_unpacked(unpacked, size=len(data), header=header)
