"""JSA10713 as data: which ScreenOS releases each CVE covers, and the upgrade path.

These ranges are the advisory's statement (as revised after Rapid7, 20 Dec
2015; CCS 2016 §3), kept here on purpose rather than derived from the
emulator's profiles:

* CVE-2015-7755 (admin master password): 6.3.0r17 through 6.3.0r20;
* CVE-2015-7756 (VPN decryption, replaced Dual EC Q): 6.2.0r15 through
  6.2.0r18 and 6.3.0r12 through 6.3.0r20;
* fixed in 6.2.0r19 and 6.3.0r21 and in the "b" respins of affected builds.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from kleptolab.device.profiles import ScreenOsVersion

__all__ = ["AFFECTED", "Assessment", "assess", "assess_inventory"]

# (cve, train, first revision, last revision)
AFFECTED: tuple[tuple[str, tuple[int, int, int], int, int], ...] = (
    ("CVE-2015-7755", (6, 3, 0), 17, 20),
    ("CVE-2015-7756", (6, 2, 0), 15, 18),
    ("CVE-2015-7756", (6, 3, 0), 12, 20),
)
FIXED = {(6, 2, 0): 19, (6, 3, 0): 21}
REFERENCE = "https://kb.juniper.net/InfoCenter/index?page=content&id=JSA10713"


@dataclass(frozen=True)
class Assessment:
    """The advisory's answer for one release."""

    version: ScreenOsVersion
    cves: tuple[str, ...]
    status: str  # "affected" | "fixed" | "not-affected"
    upgrade: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"version": str(self.version), "status": self.status, "cves": list(self.cves),
                "upgrade": self.upgrade, "note": self.note}


def _in_range(v: ScreenOsVersion, train: tuple[int, int, int], lo: int, hi: int) -> bool:
    return v.release == train and lo <= v.revision <= hi


def assess(version: ScreenOsVersion | str) -> Assessment:
    """Assess one release; ``ValueError`` (from the parser) for unparseable text."""
    v = ScreenOsVersion.parse(version) if isinstance(version, str) else version
    covered = tuple(sorted({cve for cve, t, lo, hi in AFFECTED if _in_range(v, t, lo, hi)}))
    if covered and v.respin:
        return Assessment(v, (), "fixed", "none needed",
                          f"respin {v.respin!r} of an affected build (fixed by JSA10713)")
    if covered:
        fix = f"{v.major}.{v.minor}.{v.patch}r{FIXED[v.release]}"
        if v.release == (6, 3, 0) and v.revision <= 19:
            path = f"upgrade to {v}b (respin) or {fix} or later"
        else:
            path = f"upgrade to {fix} or later"
        return Assessment(v, covered, "affected", path,
                          "exploitation of CVE-2015-7756 leaves no trace (JSA10713)"
                          if "CVE-2015-7755" not in covered else
                          "check logs for 00515 'system' + 00528 (kleptolab logs)")
    if v.release in FIXED and v.revision >= FIXED[v.release]:
        return Assessment(v, (), "fixed", "none needed",
                          "still runs Dual EC with Juniper's Q until the April 2016 RNG update")
    if v.release in FIXED:
        return Assessment(v, (), "not-affected", "none for JSA10713",
                          "predates the unauthorized code; carries Juniper's own Dual EC Q")
    return Assessment(v, (), "not-affected", "none for JSA10713",
                      f"the {v.major}.{v.minor}.{v.patch} train is not named by JSA10713")


@dataclass(frozen=True)
class InventoryRow:
    """One inventory line: the host, the text given, and an assessment or an error."""

    line: int
    host: str
    version_text: str
    assessment: Assessment | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        base: dict[str, Any] = {"line": self.line, "host": self.host, "version": self.version_text}
        if self.assessment is not None:
            base.update(self.assessment.to_json())
            base["version"] = self.version_text
        else:
            base.update({"status": "error", "error": self.error})
        return base


def assess_inventory(text: str) -> list[InventoryRow]:
    """Assess a CSV inventory with a ``version`` column (and ``host``/``name`` if present).

    ``ValueError`` only when the header has no ``version`` column; bad rows
    become rows with ``error`` set.
    """
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "version" not in fields:
        raise ValueError(f"inventory has no 'version' column (columns: {', '.join(fields) or 'none'})")
    rows: list[InventoryRow] = []
    for number, raw in enumerate(reader, start=2):
        record = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        host = record.get("host") or record.get("name") or record.get("hostname") or f"line {number}"
        text_v = record.get("version", "")
        try:
            rows.append(InventoryRow(number, host, text_v, assess(text_v), None))
        except ValueError as exc:
            rows.append(InventoryRow(number, host, text_v, None, str(exc)))
    return rows
