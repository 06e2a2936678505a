"""``firmware info``: the header words of a ScreenOS image, each marked verified or not.

Works on any file that starts with the ScreenOS magic, a real download
included: what a public source pins down (magic, entry offset, the size
word) is checked; what no source publishes (platform codes, words 5 and 6,
the checksum algorithm) is printed and marked as such.  The lab loader's view
(release, Q, KAT, master password) follows when the file is a lab image.
"""

from __future__ import annotations

from typing import Any

from kleptolab.device import firmware_layout as layout
from kleptolab.device.firmware import parse_image

__all__ = ["describe"]


def _mark(ok: bool, good: str, bad: str) -> str:
    return good if ok else bad


def describe(data: bytes) -> dict[str, Any]:
    """Header fields with their status, then the lab loader's findings; ``ValueError`` if no
    magic, or if the file ends before its body (a truncated download: nothing to describe)."""
    head = layout.read_header(data)
    if len(data) <= layout.BODY_OFFSET:
        raise ValueError(
            f"truncated image: {len(data)} bytes end before the body at {layout.BODY_OFFSET:#x}"
        )
    platform = next((p for p in layout.PLATFORMS.values() if p.code == head.platform_code), None)
    body = len(data) - layout.BODY_OFFSET
    size_ok = body > 0 and head.size == body - layout.SIZE_BIAS
    sum_ok = layout.image_sum(data) == head.checksum
    fields: dict[str, Any] = {
        "magic": f"{head.magic:#010x} (ScreenOS; verified)",
        "platform_word": (
            f"{head.platform_word:#010x} (platform {head.platform_code:#04x}"
            f"{' = ' + platform.description if platform else ''}, cpu {head.cpu_code:#04x}, "
            f"version {head.version_code:#04x}; codes unpublished: not verifiable)"
        ),
        "entry_offset": f"{head.entry_offset:#x}"
        + _mark(
            head.entry_offset == layout.HEADER_SIZE, " (verified)", " (unexpected: 0x20 published)"
        ),
        "entry_address": f"{head.entry_address:#010x} (not verifiable)",
        "size_word": f"{head.size:#x}"
        + _mark(
            size_ok,
            f" (= body {body:#x} - {layout.SIZE_BIAS}; verified)",
            f" (body at {layout.BODY_OFFSET:#x} is {max(body, 0):#x} bytes: does not match)",
        ),
        "word5": f"{head.word5:#010x} (meaning unknown: not verifiable)",
        "word6": f"{head.word6:#010x} (meaning unknown: not verifiable)",
        "checksum": f"{head.checksum:#010x}"
        + _mark(
            sum_ok,
            " (matches the lab algorithm; the real one is unpublished)",
            " (does not match the lab algorithm; the real one is unpublished: not verifiable)",
        ),
        "size": len(data),
    }
    try:
        parsed = parse_image(data)
    except ValueError as exc:
        fields["lab_loader"] = f"refused: {exc}"
        return fields
    inner = parsed.inner_header
    fields.update(
        {
            "lab_loader": "boots (size, checksums, LZMA body, inner header verified)",
            "unpacked_size": parsed.unpacked_size,
            "load_address": f"{inner.entry_address:#010x}" if inner else None,
            "version": str(parsed.version),
            "build_stamp": parsed.build_stamp,
            "q_kind": parsed.profile.q_kind.value,
            "q_x": parsed.q_x_text,
            "kat": parsed.kat.hex() if parsed.kat else None,
            "master_password": parsed.master_password,
            "body_checksum": f"{parsed.body_checksum:#010x}",
            "header_checksum": f"{parsed.header_checksum:#010x}",
        }
    )
    return fields
