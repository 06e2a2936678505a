"""Wireshark 4.0 ``ikev2_decryption_table`` (UAT) rows: load and write.

A row is ``SPIi,SPIr,SK_ei,SK_er,"<encr name>",SK_ai,SK_ar,"<integ name>"``
with bare-hex buffers and the exact algorithm names of Wireshark 4.0's
``packet-isakmp.c`` (names are matched case-sensitively by Wireshark).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kleptolab.crypto.algorithms import Encr, Integ

ENCR_NAMES: dict[tuple[Encr, int], str] = {(Encr.TDES_CBC, 24): "3DES [RFC2451]"}
for _bits in (128, 192, 256):
    ENCR_NAMES[(Encr.AES_CBC, _bits // 8)] = f"AES-CBC-{_bits} [RFC3602]"
    ENCR_NAMES[(Encr.AES_CTR, _bits // 8)] = f"AES-CTR-{_bits} [RFC5930]"
    for _icv in (8, 12, 16):
        ENCR_NAMES[(Encr[f"AES_GCM_{_icv}"], _bits // 8)] = f"AES-GCM-{_bits} with {_icv} octet ICV [RFC5282]"
        ENCR_NAMES[(Encr[f"AES_CCM_{_icv}"], _bits // 8)] = f"AES-CCM-{_bits} with {_icv} octet ICV [RFC5282]"
ENCR_NULL = "NULL [RFC2410]"

INTEG_NAMES: dict[Integ, str] = {
    Integ.HMAC_MD5_96: "HMAC_MD5_96 [RFC2403]",
    Integ.HMAC_SHA1_96: "HMAC_SHA1_96 [RFC2404]",
    Integ.HMAC_SHA1_160: "HMAC_SHA1_160 [RFC4595]",
    Integ.HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]",
    Integ.HMAC_SHA2_384_192: "HMAC_SHA2_384_192 [RFC4868]",
    Integ.HMAC_SHA2_512_256: "HMAC_SHA2_512_256 [RFC4868]",
}
INTEG_NONE = "NONE [RFC4306]"
_UNCHECKED = re.compile(r"ANY (64|96|128|160|192|256)-bits of Authentication \[No Checking\]")


@dataclass(frozen=True)
class Ikev2KeyRow:
    """One table row.  ``encr`` None means NULL; ``integ`` None means NONE (AEAD) or
    "ANY n-bits [No Checking]", in which case ``unchecked_icv_size`` is n/8."""

    spi_i: bytes
    spi_r: bytes
    sk_ei: bytes
    sk_er: bytes
    encr: Encr | None
    key_size: int
    sk_ai: bytes
    sk_ar: bytes
    integ: Integ | None
    unchecked_icv_size: int = 0


def format_ikev2_table_row(
    spi_i: bytes, spi_r: bytes, sk_ei: bytes, sk_er: bytes, encr: Encr, key_size: int,
    sk_ai: bytes, sk_ar: bytes, integ: Integ | None,
) -> str:
    """One line (without newline) for Wireshark 4.0's ``ikev2_decryption_table``.

    ``sk_ei``/``sk_er`` include any salt (AES-CTR/GCM/CCM); ``integ`` is None
    for AEAD ciphers.  ``ValueError`` for algorithms Wireshark 4.0 cannot name
    (e.g. DES) or inconsistent sizes.
    """
    name = ENCR_NAMES.get((encr, key_size))
    if name is None:
        raise ValueError(f"Wireshark 4.0 has no IKEv2 name for {encr.name} with a {key_size}-byte key")
    for key in (sk_ei, sk_er):
        if len(key) != encr.keymat_size(key_size):
            raise ValueError(f"SK_e for {name} must be {encr.keymat_size(key_size)} bytes, got {len(key)}")
    if encr.is_aead:
        if integ is not None:
            raise ValueError("AEAD ciphers take no integrity algorithm")
        integ_name, sk_ai, sk_ar = INTEG_NONE, b"", b""
    elif integ is None:
        raise ValueError(f"{name} needs an integrity algorithm")
    else:
        integ_name = INTEG_NAMES[integ]
    for spi in (spi_i, spi_r):
        if len(spi) != 8:
            raise ValueError(f"IKE SPIs must be 8 bytes, got {len(spi)}")
    return (
        f'{spi_i.hex()},{spi_r.hex()},{sk_ei.hex()},{sk_er.hex()},"{name}",'
        f'{sk_ai.hex()},{sk_ar.hex()},"{integ_name}"'
    )


def parse_ikev2_table(text: str) -> list[Ikev2KeyRow]:
    """Parse a whole table; ``#`` lines and blank lines are skipped.

    Rows naming NULL encryption are skipped (nothing to decrypt); unknown
    algorithm names raise ``ValueError`` with the line number.
    """
    by_name = {v: k for k, v in ENCR_NAMES.items()}
    integ_by_name = {v: k for k, v in INTEG_NAMES.items()}
    rows: list[Ikev2KeyRow] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = next(csv.reader(io.StringIO(line)))
        if len(fields) != 8:
            raise ValueError(f"ikev2_decryption_table:{lineno}: {len(fields)} fields, expected 8")
        spi_i, spi_r, ei, er, encr_name, ai, ar, integ_name = fields
        if encr_name == ENCR_NULL:
            continue
        if encr_name not in by_name:
            raise ValueError(f"ikev2_decryption_table:{lineno}: unknown encryption {encr_name!r}")
        encr, key_size = by_name[encr_name]
        unchecked = 0
        integ: Integ | None = None
        if integ_name in integ_by_name:
            integ = integ_by_name[integ_name]
        elif (m := _UNCHECKED.fullmatch(integ_name)) is not None:
            unchecked = int(m.group(1)) // 8
        elif integ_name != INTEG_NONE:
            raise ValueError(f"ikev2_decryption_table:{lineno}: unknown integrity {integ_name!r}")
        try:
            values = [bytes.fromhex(x) for x in (spi_i, spi_r, ei, er, ai, ar)]
        except ValueError:
            raise ValueError(f"ikev2_decryption_table:{lineno}: a key field is not hex") from None
        rows.append(Ikev2KeyRow(values[0], values[1], values[2], values[3], encr, key_size,
                                values[4], values[5], integ, unchecked))
    return rows


def load_ikev2_table(path: str | Path) -> list[Ikev2KeyRow]:
    """Read and parse a table file."""
    return parse_ikev2_table(Path(path).read_text(encoding="utf-8"))


def write_ikev2_table(rows: Iterable[str]) -> str:
    """Join formatted rows into file text (one row per line, trailing newline)."""
    return "".join(f"{row}\n" for row in rows)
