"""ScreenOS firmware profiles as data (CCS 2016 §3, §9, Table 2; JSA10713).

A profile says how a release behaves: which PRNG it runs, how long its IKE
nonces are, which Dual EC Q it carries, whether the admin master password is
compiled in, and which DH groups it offers.  The lab stands in its own
trapdoor Q wherever the real firmware carried the unauthorized 2012 Q.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

from kleptolab.drbg.screenos import PrngGeneration


class QKind(StrEnum):
    """Which Dual EC Q a release carries."""

    NONE = "none"  # no Dual EC at all (6.1)
    JUNIPER = "juniper"  # Juniper's own 2008 Q (restored by the Dec 2015 fix)
    UNAUTHORIZED = "unauthorized"  # the 2012 replacement; the lab substitutes its own trapdoor Q


_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)r(\d+)(?:\.(\d+))?([a-z]?)\s*$", re.IGNORECASE)


@total_ordering
@dataclass(frozen=True)
class ScreenOsVersion:
    """A ScreenOS release such as ``6.3.0r20`` or the respin ``6.3.0r19b``."""

    major: int
    minor: int
    patch: int
    revision: int
    respin: str = ""

    @classmethod
    def parse(cls, text: str) -> ScreenOsVersion:
        """Parse ``6.3.0r20``, ``6.3.0r19b`` or ``6.2.0r15.0``; ``ValueError`` otherwise."""
        match = _VERSION_RE.match(text)
        if match is None:
            raise ValueError(
                f"not a ScreenOS version: {text!r} (expected e.g. '6.3.0r20' or '6.3.0r19b')"
            )
        major, minor, patch, revision, _build, respin = match.groups()
        return cls(int(major), int(minor), int(patch), int(revision), respin.lower())

    @property
    def release(self) -> tuple[int, int, int]:
        """The release train, e.g. ``(6, 3, 0)``."""
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[int, int, int, int, str]:
        return (self.major, self.minor, self.patch, self.revision, self.respin)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ScreenOsVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}r{self.revision}{self.respin}"


@dataclass(frozen=True)
class FirmwareProfile:
    """Everything that differs between the emulated releases."""

    version: ScreenOsVersion
    prng: PrngGeneration
    nonce_size: int
    q_kind: QKind
    admin_backdoor: bool
    dh_groups: tuple[int, ...]
    build_stamp: str
    reseed_period: int

    @property
    def name(self) -> str:
        """The version string, e.g. ``6.3.0r20``."""
        return str(self.version)

    @property
    def vpn_backdoor(self) -> bool:
        """True when the release carries the replaced Q (CVE-2015-7756)."""
        return self.q_kind is QKind.UNAUTHORIZED

    @property
    def has_dual_ec(self) -> bool:
        return self.prng is PrngGeneration.DUALEC_X931


MODP_GROUPS = (1, 2, 5, 14)
ECP_GROUPS = (19, 20)

# Build stamps seen in HD Moore's strings diffs of 17 Dec 2015; others are lab-made.
_KNOWN_STAMPS = {
    "6.2.0r14": "Wed Apr 25 23:52:48 PDT 2012",
    "6.2.0r15": "Mon Sep 3 03:55:14 PDT 2012",
    "6.3.0r12": "Wed Aug 8 05:12:10 PDT 2012",
    "6.3.0r12b": "Mon Dec 14 02:27:53 PST 2015",
}


def _build_stamp(version: ScreenOsVersion) -> str:
    known = _KNOWN_STAMPS.get(str(version))
    if known is not None:
        return known
    if version.respin:
        return "Mon Dec 14 02:27:53 PST 2015"
    # A deterministic lab stamp: later revisions get later dates.
    day = 1 + (version.revision % 28)
    year = {1: 2008, 2: 2010, 3: 2012}.get(version.minor, 2008) + version.revision // 8
    return f"Mon Jan {day} 12:00:00 PST {year}"


def profile_for(version: ScreenOsVersion | str) -> FirmwareProfile:
    """Return the behaviour of any 6.1/6.2/6.3 release; ``ValueError`` for others."""
    v = ScreenOsVersion.parse(version) if isinstance(version, str) else version
    if v.major != 6 or v.minor not in (1, 2, 3) or v.patch != 0:
        raise ValueError(f"no firmware profile for ScreenOS {v}: the lab emulates 6.1.0, 6.2.0 and 6.3.0")
    if v.minor == 1:
        return FirmwareProfile(
            version=v,
            prng=PrngGeneration.X931_ONLY,
            nonce_size=20,
            q_kind=QKind.NONE,
            admin_backdoor=False,
            dh_groups=MODP_GROUPS,
            build_stamp=_build_stamp(v),
            reseed_period=10_000,
        )
    if v.minor == 2:
        unauthorized = 15 <= v.revision <= 18 and not v.respin
        groups: tuple[int, ...] = MODP_GROUPS
        backdoor = False
    else:
        unauthorized = 12 <= v.revision <= 20 and not v.respin
        groups = MODP_GROUPS + ECP_GROUPS
        backdoor = 17 <= v.revision <= 20 and not v.respin
    return FirmwareProfile(
        version=v,
        prng=PrngGeneration.DUALEC_X931,
        nonce_size=32,
        q_kind=QKind.UNAUTHORIZED if unauthorized else QKind.JUNIPER,
        admin_backdoor=backdoor,
        dh_groups=groups,
        build_stamp=_build_stamp(v),
        reseed_period=1,
    )


NAMED_PROFILES: tuple[str, ...] = (
    "6.1.0r7",
    "6.2.0r14",
    *(f"6.2.0r{r}" for r in range(15, 19)),
    "6.2.0r19",
    "6.3.0r11",
    *(f"6.3.0r{r}" for r in range(12, 21)),
    "6.3.0r21",
    *(f"6.3.0r{r}b" for r in range(12, 20)),
    *(f"6.2.0r{r}b" for r in range(15, 19)),
)
"""The releases the lab ships profiles for (``profile_for`` accepts any 6.x.0 revision)."""

LAB_MASTER_PASSWORD = "<<< %s(lab='%s') = %d"
"""The lab's stand-in for the 2013 master password (CVE-2015-7755; JSA10713).

It mimics the look of a debug format string, as the real one did, but it is a
lab-specific value: the historic string is only a scanner/signature indicator.
Configurable per gateway and per firmware build.
"""
