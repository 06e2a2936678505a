"""What one demo run produced: the data behind the terminal story, the HTML report and run.json.

Everything here is a pure function of the seed and the scenario, so that
``run.json`` and ``report.html`` come out byte for byte the same for the same
``--seed``.  Wall-clock figures (durations, ephemeral ports) are *volatile*:
they are printed on the terminal and kept in ``timings.json``, never here.
A narration line marks its volatile parts with :func:`volatile`; the
timeline keeps :func:`stable_text` of it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use code points: never in real narration
_VOLATILE = re.compile(f"{_OPEN}[^{_CLOSE}]*{_CLOSE}")


def volatile(text: str) -> str:
    """Mark ``text`` (a duration, an ephemeral port) as shown on the terminal only."""
    return f"{_OPEN}{text}{_CLOSE}"


def stable_text(text: str) -> str:
    """``text`` without its volatile parts (what the timeline, run.json and the report keep)."""
    return _VOLATILE.sub("", text)


def terminal_text(text: str) -> str:
    """``text`` with its volatile parts shown (what the terminal prints)."""
    return text.replace(_OPEN, "").replace(_CLOSE, "")


@dataclass(frozen=True)
class TimelineEvent:
    """Line ``step`` (from 1) of the story, by ``actor``; its wall-clock offset is in timings.json."""

    step: int
    actor: str  # "victim", "attacker" or "defender"
    text: str


@dataclass(frozen=True)
class DrawRecord:
    """One firmware PRNG output and what it became."""

    index: int
    purpose: str
    hex: str
    used_in: str


@dataclass(frozen=True)
class KeyRecord:
    """A key the attacker recovered, and how."""

    session: str
    name: str
    hex: str
    source: str


@dataclass(frozen=True)
class PlaintextPair:
    """A message the client sent beside what the attacker decrypted."""

    session: str
    sent: str
    decrypted: str


@dataclass(frozen=True)
class RecoveryWork:
    """Cost of finding the state behind one responder nonce.

    ``how`` is ``sweep`` (``candidates`` prefixes tried), ``predicted`` (an earlier state's walk
    produced the nonce: no candidate tried) or ``state cache``.  The wall time is in timings.json.
    """

    session: str
    candidates: int
    survivors: int
    how: str = "sweep"
    note: str = ""


@dataclass(frozen=True)
class UnlockRecord:
    """Which connection's nonce unlocked connection ``connection``'s DH key (draws: gateway log)."""

    connection: int  # 1-based, in the order the victim's clients connected
    session: str  # "SPIi:SPIr" as in the decryptor's report
    version: int
    key_draw: int | None  # gateway PRNG call that made the responder's DH private value
    nonce_draw: int | None  # gateway PRNG call that made its responder nonce
    recovered_by: str  # how the attacker got the state behind its own nonce
    unlocked_by: int | None  # connection whose nonce's state predicted the key (None: not unlocked)
    unlocked_by_draw: int | None  # gateway draw of that nonce
    offset: int | None  # PRNG calls from that nonce to the key
    text: str


@dataclass(frozen=True)
class Finding:
    """One defender result."""

    tool: str
    target: str
    severity: str
    finding: str


@dataclass
class PhaseResult:
    """One firmware's half of the demo (backdoored, then patched)."""

    firmware_version: str
    vpn_decrypted: bool = False
    backdoor_login: bool = False
    reason: str = ""
    login_transcript: str = ""
    log_erased: str = ""  # what the attacker's `clear event` answered ("" when nothing was erased)
    draws: list[DrawRecord] = field(default_factory=list)
    keys: list[KeyRecord] = field(default_factory=list)
    plaintext: list[PlaintextPair] = field(default_factory=list)
    recovery: list[RecoveryWork] = field(default_factory=list)
    unlocks: list[UnlockRecord] = field(default_factory=list)


@dataclass
class DemoRun:
    """Everything the demo shows."""

    kleptolab_version: str
    seed: int
    scenario: str
    trapdoor_qx: str
    backdoored: PhaseResult
    patched: PhaseResult | None = None
    timeline: list[TimelineEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole run."""
        return asdict(self)
