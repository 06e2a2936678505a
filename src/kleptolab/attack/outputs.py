"""What the decryptor writes: Wireshark 4.0 key tables, plaintext.pcap and report.json.

Table formats and algorithm names follow Wireshark 4.0.17's UAT fields
(reference/ike-ecosystem.md §1.2); names are matched exactly by Wireshark.
``esp_sa`` rows come from :mod:`kleptolab.esp.uat` and IKEv2 rows from
:mod:`kleptolab.ike.v2.uat`, so each set of names has one source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleptolab.capture.pcapio import LINKTYPE_RAW, PcapWriter
from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.sa import EspSa
from kleptolab.esp.uat import EspSaRecord
from kleptolab.ike.v2.uat import format_ikev2_table_row

__all__ = [
    "EspSaRow",
    "Ikev1Row",
    "Ikev2Row",
    "write_outputs",
]


@dataclass(frozen=True)
class Ikev1Row:
    """``ikev1_decryption_table``: initiator cookie and the phase-1 cipher key Ka."""

    cky_i: bytes
    ka: bytes

    def line(self) -> str:
        return f"{self.cky_i.hex()},{self.ka.hex()}"


@dataclass(frozen=True)
class Ikev2Row:
    """``ikev2_decryption_table``: SPIs, SK_e*, SK_a* and the algorithm names."""

    spi_i: bytes
    spi_r: bytes
    sk_ei: bytes
    sk_er: bytes
    encr: Encr
    key_size: int
    sk_ai: bytes
    sk_ar: bytes
    integ: Integ | None

    def line(self) -> str:
        """The Wireshark 4.0 row, via :mod:`kleptolab.ike.v2.uat` (one source of IKEv2 names)."""
        return format_ikev2_table_row(
            self.spi_i, self.spi_r, self.sk_ei, self.sk_er, self.encr, self.key_size,
            self.sk_ai, self.sk_ar, self.integ,
        )


@dataclass(frozen=True)
class EspSaRow:
    """The recovered keys of one direction of one ESP SA (``src``/``dst``: the outer peers)."""

    src: str
    dst: str
    spi: bytes
    encr: Encr
    encr_key: bytes
    integ: Integ | None
    integ_key: bytes

    def sa(self) -> EspSa:
        """An inbound :class:`~kleptolab.esp.sa.EspSa` without anti-replay (a tap sees every copy)."""
        return EspSa(self.spi, self.encr, self.encr_key, self.integ, self.integ_key, replay_window=None)

    def line(self) -> str:
        """The Wireshark 4.0 ``esp_sa`` record (8 fields), via :mod:`kleptolab.esp.uat`."""
        return EspSaRecord.from_sa(self.sa(), self.src, self.dst).to_line()


def _write_table(path: Path, title: str, lines: Iterable[str]) -> None:
    body = "".join(line + "\n" for line in lines)
    path.write_text(f"# {title} (written by kleptolab decrypt)\n{body}", encoding="utf-8")


def write_outputs(
    outdir: Path,
    *,
    ikev1: Iterable[Ikev1Row],
    ikev2: Iterable[Ikev2Row],
    esp: Iterable[EspSaRow],
    plaintext: Iterable[tuple[float, bytes]],
    report: dict[str, Any],
) -> dict[str, Path]:
    """Write every output file into ``outdir`` (created); return their paths by name."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "ikev1_decryption_table": outdir / "ikev1_decryption_table",
        "ikev2_decryption_table": outdir / "ikev2_decryption_table",
        "esp_sa": outdir / "esp_sa",
        "plaintext.pcap": outdir / "plaintext.pcap",
        "report.json": outdir / "report.json",
    }
    _write_table(paths["ikev1_decryption_table"], "IKEv1 decryption table", (r.line() for r in ikev1))
    _write_table(paths["ikev2_decryption_table"], "IKEv2 decryption table", (r.line() for r in ikev2))
    _write_table(paths["esp_sa"], "ESP SAs", (r.line() for r in esp))
    with PcapWriter(paths["plaintext.pcap"], LINKTYPE_RAW) as writer:
        for timestamp, packet in plaintext:
            writer.write_ip(timestamp, packet)
    paths["report.json"].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return paths
