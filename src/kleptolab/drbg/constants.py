"""Historic Dual EC constants, as named data with provenance.

DATA ONLY.  These points are never used to generate or attack anything in the
lab: nobody publicly knows their discrete logarithms, and the lab always runs
on its own trapdoor (:mod:`kleptolab.drbg.trapdoor`).  They exist so that the
defender tooling can recognise them (e.g. the Qx strings in a firmware image)
and so that tests can check they lie on their curves.
"""

from __future__ import annotations

from dataclasses import dataclass

from kleptolab.drbg.curves import P256, P384, P521, Curve

__all__ = [
    "HISTORIC_QS",
    "JUNIPER_QX",
    "NIST_Q_P256",
    "NIST_Q_P384",
    "NIST_Q_P521",
    "UNAUTHORIZED_QX",
    "HistoricQ",
    "nist_q",
]

_BC = (
    "NIST SP 800-90A (2012) App. A.1, as carried by Bouncy Castle: bcgit/bc-java "
    "core/src/main/java/org/bouncycastle/crypto/prng/drbg/DualECSP800DRBG.java "
    "@ 02500e63cca1e752f18c2d60bd8d00da4e2359da"
)


@dataclass(frozen=True)
class HistoricQ:
    """A published Dual EC point Q.

    ``y`` is ``None`` when only the x-coordinate is known (ScreenOS stores only
    Qx; the sign of y never changes Dual EC output).  ``firmware_text`` is the
    hex string exactly as it appears in firmware images, when it does.
    """

    name: str
    curve: Curve
    x: int
    y: int | None
    provenance: str
    firmware_text: str | None = None

    def y_candidates(self) -> tuple[int, int]:
        """Both y values for ``x`` (even first); ``ValueError`` if x is not on the curve."""
        even = self.curve.lift_x(self.x, odd=False)[1]
        return (even, self.curve.p - even)

    @property
    def x_hex(self) -> str:
        """Qx as lower-case hex, zero-padded to the field size."""
        return f"{self.x:0{2 * self.curve.size}x}"


NIST_Q_P256 = HistoricQ(
    name="NIST SP 800-90A Q (P-256)",
    curve=P256,
    x=0xC97445F45CDEF9F0D3E05E1E585FC297235B82B5BE8FF3EFCA67C59852018192,
    y=0xB28EF557BA31DFCBDD21AC46E2A91E3C304F44CB87058ADA2CB815151E610046,
    provenance=_BC,
)

NIST_Q_P384 = HistoricQ(
    name="NIST SP 800-90A Q (P-384)",
    curve=P384,
    x=int(
        "8e722de3125bddb05580164bfe20b8b432216a62926c57502ceede31c47816ed"
        "d1e89769124179d0b695106428815065",
        16,
    ),
    y=int(
        "023b1660dd701d0839fd45eec36f9ee7b32e13b315dc02610aa1b636e346df67"
        "1f790f84c5e09b05674dbb7e45c803dd",
        16,
    ),
    provenance=_BC,
)

NIST_Q_P521 = HistoricQ(
    name="NIST SP 800-90A Q (P-521)",
    curve=P521,
    x=int(
        "1b9fa3e518d683c6b65763694ac8efbaec6fab44f2276171a42726507dd08add"
        "4c3b3f4c1ebc5b1222ddba077f722943b24c3edfa0f85fe24d0c8c01591f0be6"
        "f63",
        16,
    ),
    y=int(
        "1f3bdba585295d9a1110d1df1f9430ef8442c5018976ff3437ef91b81dc0b813"
        "2c8d5c39c32d0e004a3092b7d327c0e7a4d26d2c7b69b58f9066652911e45777"
        "9de",
        16,
    ),
    provenance=_BC,
)

JUNIPER_QX = HistoricQ(
    name="Juniper ScreenOS Q (2008-, restored Dec 2015)",
    curve=P256,
    x=0x2C55E5E45EDF713DC43475EFFE8813A60326A64D9BA3D2E39CB639B0F3B0AD10,
    y=None,
    provenance=(
        "ScreenOS 6.2.0r14 and 6.3.0r12b firmware string tables (hdm/juniper-cve-2015-7755 "
        "diffs/ssg500.6.2.0r14.0-15.0.strings.diff, diffs/ssg500.6.3.0r12.0-t12b.0.strings.diff); "
        "Checkoway et al., CCS 2016 slides p.5"
    ),
    firmware_text="2c55e5e45edf713dc43475effe8813a60326a64d9ba3d2e39cb639b0f3b0ad10",
)

UNAUTHORIZED_QX = HistoricQ(
    name="Unauthorized ScreenOS Q (6.2.0r15-r18, 6.3.0r12-r20)",
    curve=P256,
    x=0x9585320EEAF81044F20D55030A035B11BECE81C785E6C933E4A8A131F6578107,
    y=None,
    provenance=(
        "ScreenOS 6.2.0r15 and 6.3.0r12 firmware string tables (hdm/juniper-cve-2015-7755 "
        "README.md and both strings diffs); Checkoway et al., CCS 2016 slides p.5"
    ),
    firmware_text="9585320EEAF81044F20D55030A035B11BECE81C785E6C933E4A8A131F6578107",
)

HISTORIC_QS: tuple[HistoricQ, ...] = (
    NIST_Q_P256,
    NIST_Q_P384,
    NIST_Q_P521,
    JUNIPER_QX,
    UNAUTHORIZED_QX,
)


def nist_q(curve: Curve) -> HistoricQ:
    """The SP 800-90A Q for ``curve`` (only for reproducing the published vectors)."""
    for q in (NIST_Q_P256, NIST_Q_P384, NIST_Q_P521):
        if q.curve == curve:
            return q
    raise ValueError(f"no NIST Dual EC Q for {curve.name}")
