"""Wireshark 4.0 ``esp_sa`` UAT files: write the decryptor's keys, load Wireshark's tables.

One record per line, eight double-quoted CSV fields::

    "IPv4","192.0.2.2","192.0.2.1","0x2501ddc8","TripleDES-CBC [RFC2451]","0xbb58…","HMAC-SHA-1-96 [RFC2404]","0x0086…"

Algorithm names must match Wireshark's exactly (``TripleDes-CBC`` is
rejected by Wireshark, so it is rejected here too).  Keys are hex with
``0x``; without it Wireshark takes the text as ASCII, and so does this loader.
Addresses and the SPI may be ``*`` wildcards.  Lines starting with ``#`` are
comments.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.sa import EspSa

ENCR_NAMES: dict[Encr, str] = {
    Encr.DES_CBC: "DES-CBC [RFC2405]",
    Encr.TDES_CBC: "TripleDES-CBC [RFC2451]",
    Encr.AES_CBC: "AES-CBC [RFC3602]",
    Encr.AES_CTR: "AES-CTR [RFC3686]",
}
INTEG_NAMES: dict[Integ, str] = {
    Integ.HMAC_MD5_96: "HMAC-MD5-96 [RFC2403]",
    Integ.HMAC_SHA1_96: "HMAC-SHA-1-96 [RFC2404]",
    Integ.HMAC_SHA2_256_128: "HMAC-SHA-256-128 [RFC4868]",
    Integ.HMAC_SHA2_384_192: "HMAC-SHA-384-192 [RFC4868]",
    Integ.HMAC_SHA2_512_256: "HMAC-SHA-512-256 [RFC4868]",
}
# Names Wireshark 4.0 accepts that this project cannot turn into an EspSa.
_OTHER_ENCR = {
    "NULL",
    "CAST5-CBC [RFC2144]",
    "BLOWFISH-CBC [RFC2451]",
    "TWOFISH-CBC",
    "AES-GCM [RFC4106]",
    *(f"AES-GCM with {n} octet ICV [RFC4106]" for n in (8, 12, 16)),
}
_OTHER_AUTH = {
    "NULL",
    "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
    "MAC-RIPEMD-160-96 [RFC2857]",
    *(f"ANY {n} bit authentication [no checking]" for n in (64, 96, 128, 192, 256)),
}
_ENCR_BY_NAME = {v: k for k, v in ENCR_NAMES.items()}
_INTEG_BY_NAME = {v: k for k, v in INTEG_NAMES.items()}


@dataclass(frozen=True)
class EspSaRecord:
    """One row of Wireshark's ``esp_sa`` table."""

    protocol: str
    src: str
    dst: str
    spi: str
    encr_name: str
    encr_key: bytes
    auth_name: str
    auth_key: bytes

    @classmethod
    def from_sa(cls, sa: EspSa, src: str, dst: str) -> EspSaRecord:
        """The row that lets Wireshark decrypt ``sa``'s packets from ``src`` to ``dst``."""
        if sa.integ is not None and sa.integ not in INTEG_NAMES:
            raise ValueError(f"Wireshark 4.0 has no ESP name for {sa.integ.value.name}")
        return cls(
            "IPv6" if ":" in src else "IPv4",
            src,
            dst,
            "0x" + sa.spi.hex(),
            ENCR_NAMES[sa.encr],
            sa.encr_key,
            INTEG_NAMES[sa.integ] if sa.integ is not None else "NULL",
            sa.integ_key,
        )

    def to_line(self) -> str:
        fields = [
            self.protocol, self.src, self.dst, self.spi, self.encr_name,
            "0x" + self.encr_key.hex(), self.auth_name, "0x" + self.auth_key.hex(),
        ]
        return ",".join('"' + f.replace("\\", "\\\\").replace('"', '\\"') + '"' for f in fields)

    @property
    def encr(self) -> Encr:
        try:
            return _ENCR_BY_NAME[self.encr_name]
        except KeyError:
            raise ValueError(f"encryption {self.encr_name!r} is not supported here") from None

    @property
    def integ(self) -> Integ | None:
        if self.auth_name == "NULL":
            return None
        try:
            return _INTEG_BY_NAME[self.auth_name]
        except KeyError:
            raise ValueError(f"authentication {self.auth_name!r} is not supported here") from None

    def to_sa(self, *, replay_window: int | None = None) -> EspSa:
        """An inbound :class:`EspSa` for this row (the SPI must not be a wildcard)."""
        try:
            spi = int(self.spi, 16).to_bytes(4, "big")
        except (ValueError, OverflowError):
            raise ValueError(f"SPI {self.spi!r} is not one 32-bit hex value") from None
        return EspSa(
            spi, self.encr, self.encr_key, self.integ, self.auth_key, replay_window=replay_window
        )


def format_esp_sa(records: Iterable[EspSaRecord]) -> str:
    """The text of an ``esp_sa`` file (one line per record)."""
    return "".join(r.to_line() + "\n" for r in records)


def write_esp_sa(path: str | os.PathLike[str], records: Iterable[EspSaRecord]) -> None:
    Path(path).write_text(format_esp_sa(records), encoding="utf-8")


def _key(text: str, where: str) -> bytes:
    if text.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise ValueError(f"{where}: key {text!r} is not hex") from None
    return text.encode()


def parse_esp_sa(text: str, name: str = "esp_sa") -> list[EspSaRecord]:
    """Parse ``esp_sa`` text; a bad line raises ``ValueError("esp_sa:N: ...")``."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{name}:{lineno}"
        row = next(csv.reader(io.StringIO(line), escapechar="\\", doublequote=False))
        if len(row) != 8:
            raise ValueError(f"{where}: {len(row)} fields, Wireshark 4.0 esp_sa has 8")
        protocol, src, dst, spi, encr_name, encr_key, auth_name, auth_key = row
        if protocol not in ("IPv4", "IPv6", "*"):
            raise ValueError(f"{where}: invalid value {protocol!r} for the protocol")
        if encr_name not in _ENCR_BY_NAME and encr_name not in _OTHER_ENCR:
            raise ValueError(f"{where}: invalid value {encr_name!r} for the encryption algorithm")
        if auth_name not in _INTEG_BY_NAME and auth_name not in _OTHER_AUTH:
            raise ValueError(f"{where}: invalid value {auth_name!r} for the authentication algorithm")
        records.append(
            EspSaRecord(
                protocol, src, dst, spi, encr_name, _key(encr_key, where), auth_name,
                _key(auth_key, where),
            )
        )
    return records


def load_esp_sa(path: str | os.PathLike[str]) -> list[EspSaRecord]:
    """Read an ``esp_sa`` (or Wireshark ``esp_sa.tmpl``) file."""
    p = Path(path)
    return parse_esp_sa(p.read_text(encoding="utf-8"), p.name)
