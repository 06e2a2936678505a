"""The ONE table of constants the scanner looks for, each with its provenance.

Integers (curve parameters, Dual EC P and Q coordinates) come from
:mod:`kleptolab.drbg.curves` and :mod:`kleptolab.drbg.constants`; this module
only adds what a defender needs on top: the role, the verdict a hit earns and
where the value was published.  Strings (the historic admin master password
and the lab's stand-in) are indicators only: nothing here logs in anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from kleptolab.device.profiles import LAB_MASTER_PASSWORD
from kleptolab.drbg.constants import (
    JUNIPER_QX,
    NIST_Q_P256,
    NIST_Q_P384,
    NIST_Q_P521,
    UNAUTHORIZED_QX,
    HistoricQ,
)
from kleptolab.drbg.curves import CURVES, Curve, curve_by_name

__all__ = [
    "CONSTANTS",
    "HISTORIC_MASTER_PASSWORD",
    "KnownConstant",
    "Verdict",
    "constant_by_id",
]


class Verdict(StrEnum):
    """How a finding should be read by a defender."""

    KNOWN_GOOD = "known-good"  # NIST Q, Juniper's own Q
    KNOWN_BAD = "known-bad"  # the 2012 unauthorized Q, master-password strings
    CURVE = "curve-parameter"  # p, a, b, n, the generator (= Dual EC's P): context only
    REPLACED_Q = "replaced-q"  # a Qx-shaped value next to curve parameters matching no known Q
    UNKNOWN = "unknown-constant-like"  # constant-shaped, next to curve parameters, not a point


_FIPS = "FIPS 186-4 App. D.1.2 (NIST prime curves); kleptolab.drbg.curves"
_DUALEC_P = "NIST SP 800-90A App. A.1: Dual EC P is the curve generator; " + _FIPS
HISTORIC_MASTER_PASSWORD = "<<< %s(un='%s') = %u"
"""The 2013 ScreenOS master password (hdm/juniper-cve-2015-7755 README; Metasploit
juniper_backdoor.rb; Fox-IT rule 21001730).  An indicator only."""


@dataclass(frozen=True)
class KnownConstant:
    """One table row.

    ``value`` is the integer for numeric constants (``None`` for strings);
    ``text`` is the string for string indicators.  ``curve`` names the curve
    (``None`` for strings).  ``binary`` says whether binary layouts are
    searched (``False`` for P-521's p and a: all ones, they match any 0xFF fill).
    """

    id: str
    curve: str | None
    role: str
    verdict: Verdict
    source: str
    value: int | None = None
    text: str | None = None
    binary: bool = True

    @property
    def size(self) -> int:
        """Field-element byte size of the curve (0 for strings)."""
        return curve_by_name(self.curve).size if self.curve else 0

    @cached_property
    def hex(self) -> str:
        """Lower-case hex without leading zeros (numeric constants only)."""
        if self.value is None:
            raise ValueError(f"{self.id} is a string indicator, it has no hex form")
        return f"{self.value:x}"

    def be_bytes(self) -> bytes:
        """Big-endian bytes at the field size (numeric constants only)."""
        if self.value is None:
            raise ValueError(f"{self.id} is a string indicator, it has no integer form")
        return self.value.to_bytes(self.size, "big")


def _slug(curve: Curve) -> str:
    return curve.name.lower().replace("-", "")


def _curve_rows(curve: Curve) -> list[KnownConstant]:
    s = _slug(curve)
    rows = [
        KnownConstant(f"{s}-p", curve.name, "p", Verdict.CURVE, _FIPS, curve.p,
                      binary=curve.name != "P-521"),
        KnownConstant(f"{s}-a", curve.name, "a", Verdict.CURVE, _FIPS, curve.a,
                      binary=curve.name != "P-521"),
        KnownConstant(f"{s}-b", curve.name, "b", Verdict.CURVE, _FIPS, curve.b),
        KnownConstant(f"{s}-n", curve.name, "n", Verdict.CURVE, _FIPS, curve.n),
        KnownConstant(f"{s}-gx", curve.name, "Px", Verdict.CURVE, _DUALEC_P, curve.gx),
        KnownConstant(f"{s}-gy", curve.name, "Py", Verdict.CURVE, _DUALEC_P, curve.gy),
    ]
    return rows


def _q_rows(q: HistoricQ, slug: str, verdict: Verdict) -> list[KnownConstant]:
    rows = [KnownConstant(f"{slug}-qx", q.curve.name, "Qx", verdict, q.provenance, q.x)]
    if q.y is not None:
        rows.append(KnownConstant(f"{slug}-qy", q.curve.name, "Qy", verdict, q.provenance, q.y))
    return rows


def _build() -> tuple[KnownConstant, ...]:
    rows: list[KnownConstant] = []
    for curve in CURVES:
        rows.extend(_curve_rows(curve))
    rows += _q_rows(NIST_Q_P256, "nist-p256", Verdict.KNOWN_GOOD)
    rows += _q_rows(NIST_Q_P384, "nist-p384", Verdict.KNOWN_GOOD)
    rows += _q_rows(NIST_Q_P521, "nist-p521", Verdict.KNOWN_GOOD)
    rows += _q_rows(JUNIPER_QX, "juniper-p256", Verdict.KNOWN_GOOD)
    rows += _q_rows(UNAUTHORIZED_QX, "unauthorized-2012-p256", Verdict.KNOWN_BAD)
    rows.append(KnownConstant(
        "screenos-master-password", None, "admin-password", Verdict.KNOWN_BAD,
        "hdm/juniper-cve-2015-7755 README.md; rapid7/metasploit-framework "
        "modules/auxiliary/scanner/ssh/juniper_backdoor.rb; Fox-IT sid 21001730",
        text=HISTORIC_MASTER_PASSWORD,
    ))
    rows.append(KnownConstant(
        "lab-master-password", None, "admin-password", Verdict.KNOWN_BAD,
        "kleptolab.device.profiles.LAB_MASTER_PASSWORD (the lab's stand-in, default value)",
        text=LAB_MASTER_PASSWORD,
    ))
    return tuple(rows)


CONSTANTS: tuple[KnownConstant, ...] = _build()
"""Every constant the scanner knows, in a stable order."""

_BY_ID = {c.id: c for c in CONSTANTS}


def constant_by_id(ident: str) -> KnownConstant:
    """Return the row called ``ident``; ``KeyError`` with the known ids otherwise."""
    try:
        return _BY_ID[ident]
    except KeyError:
        raise KeyError(f"unknown constant {ident!r}; known: {', '.join(_BY_ID)}") from None
