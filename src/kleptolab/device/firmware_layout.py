"""The ScreenOS image container: header words, decompressor stub, LZMA body.

The layout follows the only byte-level public description of a ScreenOS
download, Graeme Neilson's "Netscreen of the Dead" (Phrack 66, file 5, 2009,
§0x5, §0x7, §0x8: ScreenOS 5.x on the NS-5XT), with the SSG5/SSG20 values of
the 6.x unpacked image (big-endian XScale ARM, code loaded at 0x80000 from
file offset 0x20, as analysts loaded ``ssg5ssg20.6.3.0r19.0`` in IDA in
December 2015).  All words are big-endian.

Packed file (what a customer downloads, ``<platform>.<release>``)::

    0x00000  header, 8 words: magic 0xEE16BA81 | 00 platform cpu version |
             entry offset 0x20 | entry address | size (= body length - 79) |
             unknown | unknown | checksum
    0x02020  the boot-time decompressor stub (up to 0x12940)
    0x12C00  body: a 4-byte word, the LZMA properties byte, the 4-byte
             dictionary size, then the LZMA data -- the 8-byte uncompressed
             size field of a standard ``.lzma`` header is missing

Unpacked image (the LZMA payload; loaded at ``address - 0x20``)::

    0x00     header, 8 words: magic 0xEE16BA81 | 00 platform cpu version |
             code offset 0x20 | load address 0x80000 | code+data length |
             symbol table offset | symbol count | checksum
    0x20     code and data (:mod:`kleptolab.device.firmware` fills them)

What is the lab's own choice, because no source publishes it:

* the checksum algorithm: Phrack 66 had the device print the value instead of
  reversing it, and CCS 2016 §6 only says it is a non-cryptographic header
  checksum they "fixed up".  The lab uses the 32-bit sum of the big-endian
  words (:func:`checksum`) of everything but the checksum word itself;
* the platform/CPU codes of word 1 and the meaning of words 5 and 6 (written
  as zero); the inner header's words 4-7;
* the 4-byte word at 0x12C00: Phrack 66 gives ``0x1440598`` for it without
  naming it; that is 21,234,072, about the ~20 MB of the unpacked 5.x image,
  so the lab stores the unpacked length there.
"""

from __future__ import annotations

import lzma
import random
import struct
from dataclasses import dataclass

__all__ = [
    "BODY_OFFSET",
    "HEADER_SIZE",
    "LZMA_OFFSET",
    "MAGIC",
    "PLATFORMS",
    "ContainerHeader",
    "Platform",
    "checksum",
    "image_sum",
    "pack",
    "read_header",
    "unpack",
]

MAGIC = 0xEE16BA81
HEADER_SIZE = 0x20
STUB_OFFSET = 0x2020
STUB_END = 0x12940
BODY_OFFSET = 0x12C00
LZMA_OFFSET = BODY_OFFSET + 4
SIZE_BIAS = 79  # header size word = body length - 79 (Phrack 66 §0x5)
DICT_SIZE = 1 << 23
MAX_UNPACKED = 256 << 20
_WORDS = struct.Struct(">8I")
_LZMA_PROPS = 0x5D  # lc=3, lp=0, pb=2: the liblzma default


@dataclass(frozen=True)
class Platform:
    """One hardware family: its file-name prefix and header codes."""

    name: str
    code: int  # lab-chosen: the real platform codes are unpublished
    cpu: int  # lab-chosen
    load_address: int
    description: str


PLATFORMS = {
    "ssg5ssg20": Platform("ssg5ssg20", 0x1C, 0x0B, 0x80000, "SSG5/SSG20, XScale ARM big-endian"),
}


def checksum(data: bytes) -> int:
    """32-bit sum of the big-endian 32-bit words of ``data`` (zero-padded): the lab's checksum."""
    padded = data + b"\x00" * (-len(data) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


def image_sum(data: bytes) -> int:
    """The lab checksum of an image or container: every byte but the checksum word at 0x1C."""
    return checksum(data[:0x1C] + data[HEADER_SIZE:])


@dataclass(frozen=True)
class ContainerHeader:
    """The eight header words of a packed image, as read (nothing verified)."""

    magic: int
    platform_word: int
    entry_offset: int
    entry_address: int
    size: int
    word5: int
    word6: int
    checksum: int

    @property
    def platform_code(self) -> int:
        """Byte 1 of word 1."""
        return (self.platform_word >> 16) & 0xFF

    @property
    def cpu_code(self) -> int:
        """Byte 2 of word 1."""
        return (self.platform_word >> 8) & 0xFF

    @property
    def version_code(self) -> int:
        """Byte 3 of word 1 (the lab writes major.minor as 0x63 for 6.3)."""
        return self.platform_word & 0xFF


def read_header(data: bytes) -> ContainerHeader:
    """The header words of ``data``; ``ValueError`` when it is short or the magic is wrong."""
    if len(data) < HEADER_SIZE:
        raise ValueError(
            f"corrupt firmware image: {len(data)} bytes, the header alone is {HEADER_SIZE}"
        )
    words = _WORDS.unpack_from(data)
    if words[0] != MAGIC:
        raise ValueError(
            f"not a kleptolab firmware image: magic {words[0]:#010x}, expected {MAGIC:#010x} (ScreenOS)"
        )
    return ContainerHeader(*words)


def _stub() -> bytes:
    """A deterministic stand-in for the decompressor (random "code" and its messages)."""
    rng = random.Random(0x12C00)
    size = STUB_END - STUB_OFFSET
    messages = (
        b"\x00LZMA: decompressing image ...\x00LZMA: bad properties\x00"
        b"LZMA: data error\x00Incorrect firmware data\x00Done.\x00"
    )
    code = rng.randbytes(size - len(messages))
    return code[: size // 2] + messages + code[size // 2 :]


def _word1(platform: Platform, version_code: int) -> int:
    return (platform.code << 16) | (platform.cpu << 8) | (version_code & 0xFF)


def inner_header(
    platform: Platform, version_code: int, body: bytes, symtab: int, count: int
) -> bytes:
    """The 0x20-byte header of an unpacked image whose code and data are ``body``."""
    words = [
        MAGIC,
        _word1(platform, version_code),
        HEADER_SIZE,
        platform.load_address,
        len(body),
        symtab,
        count,
        0,
    ]
    head = _WORDS.pack(*words)
    return head[:0x1C] + struct.pack(">I", image_sum(head + body))


def pack(unpacked: bytes, platform: Platform, version_code: int) -> bytes:
    """The packed download around an unpacked image: header, stub, LZMA body (deterministic)."""
    stream = lzma.compress(
        unpacked,
        format=lzma.FORMAT_ALONE,
        filters=[{"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": DICT_SIZE}],
    )
    # drop the 8-byte uncompressed-size field (all 0xFF here) of the 13-byte header
    body = struct.pack(">I", len(unpacked)) + stream[:5] + stream[13:]
    out = bytearray(BODY_OFFSET)
    out[STUB_OFFSET:STUB_END] = _stub()
    out += body
    words = [
        MAGIC,
        _word1(platform, version_code),
        HEADER_SIZE,
        platform.load_address,
        len(body) - SIZE_BIAS,
        0,
        0,
        0,
    ]
    out[:HEADER_SIZE] = _WORDS.pack(*words)
    struct.pack_into(">I", out, 0x1C, image_sum(bytes(out)))
    return bytes(out)


def unpack(data: bytes) -> tuple[ContainerHeader, bytes]:
    """Verify size and checksum of a packed image and decompress its body.

    ``ValueError`` names the first check that fails.
    """
    head = read_header(data)
    if len(data) < LZMA_OFFSET + 5:
        raise ValueError(
            f"corrupt firmware image: {len(data)} bytes ends before the LZMA body "
            f"at {LZMA_OFFSET:#x}"
        )
    body = len(data) - BODY_OFFSET
    if head.size != body - SIZE_BIAS:
        raise ValueError(
            f"corrupt firmware image: header size {head.size:#x} does not match the "
            f"body ({body:#x} bytes - {SIZE_BIAS})"
        )
    if image_sum(data) != head.checksum:
        raise ValueError(
            f"corrupt firmware image: checksum {head.checksum:#010x} does not match "
            f"{image_sum(data):#010x} (lab algorithm)"
        )
    (expected,) = struct.unpack_from(">I", data, BODY_OFFSET)
    if expected > MAX_UNPACKED:
        raise ValueError(
            f"corrupt firmware image: unpacked size {expected} is over the "
            f"{MAX_UNPACKED >> 20} MiB limit"
        )
    props = data[LZMA_OFFSET : LZMA_OFFSET + 5]
    decoder = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    try:
        out = decoder.decompress(props + b"\xff" * 8 + data[LZMA_OFFSET + 5 :], expected + 1)
    except lzma.LZMAError as exc:
        raise ValueError(f"corrupt firmware image: LZMA body does not decode ({exc})") from None
    if len(out) != expected or not decoder.eof:
        raise ValueError(
            f"corrupt firmware image: LZMA body gives {len(out)} bytes, "
            f"the body header says {expected}"
        )
    return head, out


def check_inner(data: bytes) -> tuple[ContainerHeader, bytes]:
    """Verify an unpacked image's header (length, checksum); return it and the code+data."""
    head = read_header(data)
    if head.entry_offset != HEADER_SIZE:
        raise ValueError(
            f"corrupt firmware image: code offset {head.entry_offset:#x}, expected {HEADER_SIZE:#x}"
        )
    body = data[HEADER_SIZE:]
    if len(body) != head.size:
        raise ValueError(
            f"corrupt firmware image: body is {len(body)} bytes, header says {head.size}"
        )
    if image_sum(data) != head.checksum:
        raise ValueError(
            f"corrupt firmware image: body checksum {head.checksum:#010x} does not "
            f"match {image_sum(data):#010x}"
        )
    return head, body
