"""``strings``-style diff of two binaries, with crypto constants singled out.

The way the 2012 change was found in 2015 (HD Moore's strings diffs): list
the printable strings of both images, diff the two lists, and look at what
changed next to the P-256 parameters.  Each changed string is tagged with
what the scanner says about it (known-good/known-bad constant, **replaced
Q**, master password, other hex run), and carries its neighbourhood (the
unchanged strings before and after it).

Packed inputs are unpacked first (:func:`unpacked`): a ScreenOS download is
compared through the image inside its LZMA body, any other file through its
largest carved stream when that holds at least half as many bytes as the
file, so a packed pair gives the same tagged changes as the unpacked pair.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from kleptolab.defend.constants import Verdict
from kleptolab.defend.containers import Budget, Limits, expand, sniff
from kleptolab.defend.engine import Hit, scan_buffer

__all__ = ["Change", "DiffReport", "StringAt", "diff_images", "extract_strings", "unpacked"]

MIN_STRING = 6
NEIGHBOURS = 2
_PRINTABLE = re.compile(rb"[\x20-\x7e]{%d,}" % MIN_STRING)
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{32,}")


@dataclass(frozen=True)
class StringAt:
    """A printable string and its byte offset."""

    offset: int
    text: str


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is ``removed``, ``added`` or ``changed``.

    ``tags`` describe the old and new string (e.g. ``new:replaced-q``,
    ``old:known-good juniper-p256-qx``, ``old:known-bad lab-master-password``,
    ``new:hex-run 64``); ``crypto`` is true when a tag concerns a constant,
    a hex run or a password.
    """

    kind: str
    old: StringAt | None
    new: StringAt | None
    tags: tuple[str, ...]
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def crypto(self) -> bool:
        """True when the change touches a constant, a hex run or a password."""
        return bool(self.tags)

    def to_json(self) -> dict[str, Any]:
        """JSON form of the change."""
        return {
            "kind": self.kind,
            "old": None if self.old is None else {"offset": self.old.offset, "text": self.old.text},
            "new": None if self.new is None else {"offset": self.new.offset, "text": self.new.text},
            "tags": list(self.tags),
            "crypto": self.crypto,
            "before": list(self.before),
            "after": list(self.after),
        }


@dataclass
class DiffReport:
    """All changes between OLD and NEW, plus the headline findings."""

    old_name: str
    new_name: str
    changes: list[Change] = field(default_factory=list)
    old_source: str = ""  # what was compared: the name, or e.g. ``NAME → lzma@0x12C04``
    new_source: str = ""
    warnings: list[str] = field(default_factory=list)

    def tagged(self, tag: str) -> list[Change]:
        """Changes with a tag starting with ``tag`` (e.g. ``new:replaced-q``)."""
        return [c for c in self.changes if any(t.startswith(tag) for t in c.tags)]

    @property
    def headlines(self) -> list[str]:
        """One sentence per security-relevant change."""
        lines: list[str] = []
        for c in self.tagged("new:replaced-q"):
            lines.append(f"Dual EC Qx replaced by an unknown point: {c.new.text if c.new else ''}")
        for c in self.tagged("new:known-good"):
            lines.append(f"known Q restored: {c.new.text if c.new else ''}")
        for c in self.tagged("new:known-bad"):
            lines.append(f"known-bad constant added: {c.new.text if c.new else ''}")
        for c in self.tagged("old:known-bad"):
            if c.kind == "removed":
                lines.append(f"known-bad string removed: {c.old.text if c.old else ''}")
        return lines

    def to_json(self) -> dict[str, Any]:
        """JSON form of the report."""
        return {
            "old": self.old_name,
            "new": self.new_name,
            "old_source": self.old_source or self.old_name,
            "new_source": self.new_source or self.new_name,
            "warnings": self.warnings,
            "headlines": self.headlines,
            "changes": [c.to_json() for c in self.changes],
        }


def extract_strings(data: bytes) -> list[StringAt]:
    """Printable ASCII runs of >= 6 characters, like ``strings -n 6``."""
    return [StringAt(m.start(), m.group().decode("ascii")) for m in _PRINTABLE.finditer(data)]


def _tags(prefix: str, s: StringAt | None, hits: list[Hit]) -> list[str]:
    if s is None:
        return []
    end = s.offset + len(s.text)
    tags: list[str] = []
    for h in hits:
        if s.offset <= h.offset < end and not h.partial:
            name = h.constant.id if h.constant else f"{h.curve} Qx"
            if h.verdict is Verdict.REPLACED_Q:
                tags.append(f"{prefix}:replaced-q {name}")
            else:
                tags.append(f"{prefix}:{h.verdict.value} {name}")
    if not tags:
        tags += [f"{prefix}:hex-run {len(m.group())}" for m in _HEX_RUN.finditer(s.text)]
    return tags


def unpacked(name: str, data: bytes, limits: Limits | None = None) -> tuple[str, bytes, list[str]]:
    """What to compare for ``data``: (path, bytes, warnings); the data itself if nothing is packed."""
    budget = Budget(limits or Limits())
    best: tuple[str, bytes] | None = None
    for location, leaf in expand(name, data, budget):
        if location != name and (best is None or len(leaf) > len(best[1])):
            best = (location, bytes(leaf))
    if best is not None and (sniff(data) == "screenos" or 2 * len(best[1]) >= len(data)):
        return best[0], best[1], budget.warnings
    return name, data, budget.warnings


def diff_images(old: bytes, new: bytes, old_name: str = "OLD", new_name: str = "NEW", *,
                unpack: bool = True) -> DiffReport:
    """Diff the printable strings of ``old`` and ``new`` (unpacked first) and tag the changes."""
    report = DiffReport(old_name, new_name, old_source=old_name, new_source=new_name)
    if unpack:
        report.old_source, old, warn_a = unpacked(old_name, old)
        report.new_source, new, warn_b = unpacked(new_name, new)
        report.warnings = warn_a + warn_b
    a, b = extract_strings(old), extract_strings(new)
    hits_a, hits_b = scan_buffer(old), scan_buffer(new)
    matcher = difflib.SequenceMatcher(a=[s.text for s in a], b=[s.text for s in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        before = tuple(s.text for s in a[max(0, i1 - NEIGHBOURS) : i1])
        after = tuple(s.text for s in a[i2 : i2 + NEIGHBOURS])
        pairs: list[tuple[StringAt | None, StringAt | None]]
        if op == "replace" and len(olds) == len(news):
            pairs = list(zip(olds, news, strict=True))
        else:
            pairs = [(s, None) for s in olds] + [(None, s) for s in news]
        for o, n in pairs:
            kind = "changed" if o is not None and n is not None else "removed" if n is None else "added"
            tags = _tags("old", o, hits_a) + _tags("new", n, hits_b)
            report.changes.append(Change(kind, o, n, tuple(tags), before, after))
    return report
