"""Verify a forward-sealed ScreenOS event log (or its syslog copy) with the verification key.

:class:`SealVerifier` reads the events of each source in file order, one at a
time (constant work per line; keys derived forward once per epoch), and turns
what it sees into :class:`~kleptolab.defend.logrules.Alert` rows:

* ``seal-deleted`` (high): sequence numbers missing, "entries 41-42 removed
  after sealing (epoch 7)", the last entries of an epoch included (the seal
  states the epoch's count, next sequence number and last MAC);
* ``seal-truncated`` (high): no seal for longer than the device's interval up
  to the log's end or the collector's clock (``now``): the tail was cut;
* ``seal-mac`` (high): an entry whose MAC fails (edited; a recomputed
  ``chain=`` changes nothing here) or from another device or key;
* ``seal-stripped`` (high): entries without ``mac=``; ``seal-forged`` (high):
  a seal that does not verify; ``seal-order`` (high): reordered, replayed or
  duplicated entries or seals; ``seal-gap`` (high): timer seals missing;
* ``seal-rotated`` (medium): entries missing below the ring-eviction watermark
  a verified seal states (the device's ring was full);
* ``seal-open`` (low): entries after the last seal, which an intruder holding
  the device's current key could still rewrite.

An intruder who takes the device at time t learns only the current epoch key:
everything sealed before t is protected (Bellare-Yee forward security).
Limits, as in any forward-secure log: entries of the epoch still open at t
are not protected; a cut tail shows only once a seal was due (verify with the
collector's clock, ``now``, at least one interval after t); and an intruder
can flood the device's bounded ring so that sealed entries rotate out
(``seal-rotated``, medium) — the syslog collector's copy and
:func:`cross_check` keep those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes, hmac

from kleptolab.defend.eventlog_format import Event
from kleptolab.defend.logrules import Alert
from kleptolab.device.sealing import (
    MAC_HEX,
    SealFields,
    VerifyKey,
    evolve,
    mac_key,
    parse_mac_field,
    parse_seal_message,
)

__all__ = ["SealVerifier", "cross_check", "seal_tag_ok", "verify_events"]

MAX_EPOCH_JUMP = 1_000_000
"""An epoch number further ahead than this is reported, not derived (bounded work)."""
MAX_GAPS = 1000
MAX_EVIDENCE = 20


def _span(a: int, b: int) -> str:
    return f"{a}" if a == b else f"{a}-{b}"


def _entries(a: int, b: int) -> str:
    return f"entry {a}" if a == b else f"entries {a}-{b} ({b - a + 1})"


@dataclass
class _Gap:
    first: int
    last: int
    epochs: tuple[int, int]
    where: str
    sealed: bool


@dataclass
class _Group:
    """Consecutive findings of one kind, reported once."""

    count: int = 0
    evidence: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class _Source:
    name: str
    epoch: int = 0
    next_seq: int = 1
    count: int = 0
    seals: int = 0
    entries: int = 0
    open_entries: int = 0
    evicted: int = 0
    last_seal: datetime | None = None
    last_seal_where: str = ""
    first_when: datetime | None = None
    last_when: datetime | None = None
    gaps: list[_Gap] = field(default_factory=list)
    groups: dict[str, _Group] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)


class SealVerifier:
    """Feed events (any number of sources, each in file order), then call :meth:`finish`."""

    def __init__(self, key: VerifyKey, *, now: datetime | None = None) -> None:
        self.key = key
        self.now = now
        self._keys: dict[int, hmac.HMAC] = {}
        self._top_epoch = 0
        self._top_key = key.k0()
        self._keys[0] = hmac.HMAC(mac_key(self._top_key), hashes.SHA256())
        self._sources: dict[str, _Source] = {}

    def _mac_ctx(self, epoch: int) -> hmac.HMAC | None:
        ctx = self._keys.get(epoch)
        if ctx is not None:
            return ctx
        if epoch < 0 or epoch > self._top_epoch + MAX_EPOCH_JUMP:
            return None
        while self._top_epoch < epoch:
            self._top_key = evolve(self._top_key)
            self._top_epoch += 1
            self._keys[self._top_epoch] = hmac.HMAC(mac_key(self._top_key), hashes.SHA256())
        return self._keys[epoch]

    def _mac(self, epoch: int, data: str) -> str | None:
        ctx = self._mac_ctx(epoch)
        if ctx is None:
            return None
        h = ctx.copy()
        h.update(data.encode())
        return h.finalize().hex()

    @staticmethod
    def _note(src: _Source, rule: str, where: str, detail: str) -> None:
        g = src.groups.setdefault(rule, _Group(detail=detail))
        g.count += 1
        if len(g.evidence) < MAX_EVIDENCE:
            g.evidence.append(where)

    def _gap(
        self, src: _Source, first: int, last: int, epochs: tuple[int, int], where: str, sealed: bool
    ) -> None:
        if first > last:
            return
        if len(src.gaps) < MAX_GAPS:
            src.gaps.append(_Gap(first, last, epochs, where, sealed))
        else:
            self._note(src, "seal-deleted", where, "")

    def expect(self, source: str) -> None:
        """Register a source that must hold sealed entries (an empty one is a finding)."""
        self._sources.setdefault(source, _Source(source))

    def feed(self, e: Event) -> None:
        """Check one event of ``e.source``."""
        src = self._sources.get(e.source)
        if src is None:
            src = self._sources[e.source] = _Source(e.source)
        where = f"{e.source}:{e.line}"
        if src.first_when is None:
            src.first_when = e.when
        if src.last_when is None or e.when > src.last_when:
            src.last_when = e.when
        if e.device is not None and e.device != self.key.device_id:
            self._note(
                src, "seal-device", where, f"from device {e.device}, not {self.key.device_id}"
            )
            return
        if e.kind == "seal":
            self._seal(src, e, where)
        else:
            self._entry(src, e, where)

    def _entry(self, src: _Source, e: Event, where: str) -> None:
        parsed = parse_mac_field(e.mac) if e.mac is not None else None
        if parsed is None:
            self._note(src, "seal-stripped", where, "")
            return
        epoch, seq, mac = parsed
        expected = self._mac(epoch, f"{epoch}|{seq}|{e.text}")
        if expected is None or expected[:MAC_HEX] != mac:
            self._note(src, "seal-mac", where, "")
            return
        if epoch < src.epoch or seq < src.next_seq:
            self._note(src, "seal-order", where, f"entry {seq} (epoch {epoch})")
            return
        if epoch > src.epoch:  # the seals of epochs src.epoch .. epoch-1 are missing
            self._gap(src, src.next_seq, seq - 1, (src.epoch, epoch - 1), where, True)
            self._note(src, "seal-gap", where, f"epochs {_span(src.epoch, epoch - 1)}")
            src.epoch, src.count = epoch, 0
        else:
            self._gap(src, src.next_seq, seq - 1, (epoch, epoch), where, False)
        src.next_seq = seq + 1
        src.count += 1
        src.entries += 1
        src.open_entries += 1

    def _seal(self, src: _Source, e: Event, where: str) -> None:
        fields = parse_seal_message(e.message, e.stamp)
        ctx = self._mac_ctx(fields.epoch) if fields is not None else None
        if fields is None or ctx is None or seal_tag_ok(ctx, fields) is False:
            self._note(src, "seal-forged", where, "")
            return
        if fields.epoch < src.epoch:
            self._note(src, "seal-order", where, f"seal of epoch {fields.epoch}")
            return
        if fields.epoch > src.epoch:
            self._note(src, "seal-gap", where, f"epochs {_span(src.epoch, fields.epoch - 1)}")
        if src.next_seq < fields.next_seq:
            self._gap(
                src, src.next_seq, fields.next_seq - 1, (src.epoch, fields.epoch), where, True
            )
        elif src.next_seq > fields.next_seq or (
            fields.epoch == src.epoch and src.count > fields.entries
        ):
            self._note(src, "seal-order", where, f"entries beyond seal {fields.epoch}'s count")
        when = e.when
        if src.last_seal is not None and when - src.last_seal > timedelta(
            seconds=self.key.interval + 1
        ):
            src.alerts.append(
                Alert(
                    "seal-gap",
                    "high",
                    f"{src.name}: no seal between {src.last_seal} and {when}, though the device seals "
                    f"every {self.key.interval} s: seals removed (and what they covered)",
                    None,
                    (src.last_seal_where, where),
                )
            )
        for g in reversed(src.gaps):  # gaps inside this epoch are now sealed ones
            if g.sealed:
                break
            g.sealed, g.epochs = True, (g.epochs[0], fields.epoch)
        src.evicted = max(src.evicted, fields.evicted)
        src.epoch, src.next_seq, src.count = fields.epoch + 1, fields.next_seq, 0
        src.last_seal, src.last_seal_where = when, where
        src.seals += 1
        src.open_entries = 0

    def finish(self) -> list[Alert]:
        """The findings of every source fed so far."""
        out: list[Alert] = []
        for src in self._sources.values():
            out += src.alerts
            out += self._gap_alerts(src)
            out += self._group_alerts(src)
            out += self._tail_alerts(src)
        return out

    def _gap_alerts(self, src: _Source) -> list[Alert]:
        out = []
        for g in src.gaps:
            epochs = (
                f"epoch {g.epochs[0]}"
                if g.epochs[0] == g.epochs[1]
                else f"epochs {g.epochs[0]}-{g.epochs[1]}"
            )
            if g.last <= src.evicted:
                out.append(
                    Alert(
                        "seal-rotated",
                        "medium",
                        f"{src.name}: {_entries(g.first, g.last)} rotated out of "
                        f"the device's ring ({epochs}; a verified seal records the eviction)",
                        None,
                        (g.where,),
                    )
                )
            elif g.sealed:
                out.append(
                    Alert(
                        "seal-deleted",
                        "high",
                        f"{src.name}: {_entries(g.first, g.last)} removed after sealing ({epochs})",
                        None,
                        (g.where,),
                    )
                )
            else:
                out.append(
                    Alert(
                        "seal-deleted",
                        "high",
                        f"{src.name}: {_entries(g.first, g.last)} missing "
                        f"({epochs}, not yet sealed)",
                        None,
                        (g.where,),
                    )
                )
        return out

    def _group_alerts(self, src: _Source) -> list[Alert]:
        texts = {
            "seal-stripped": "entries without a mac= field (stripped, or inserted by someone "
            "without the key)",
            "seal-mac": "entries whose MAC does not verify (edited — a recomputed chain= does not "
            "help — forged, or from another device or key)",
            "seal-forged": "seal lines that do not verify (forged, edited, or another key's)",
            "seal-order": "entries or seals out of order (reordered, replayed or duplicated)",
            "seal-gap": "missing seals",
            "seal-device": "lines from another device",
            "seal-deleted": "more gaps than reported individually",
        }
        out = []
        for rule, g in src.groups.items():
            detail = f" (first: {g.detail})" if g.detail else ""
            out.append(
                Alert(
                    rule,
                    "high",
                    f"{src.name}: {g.count} {texts[rule]}{detail}",
                    None,
                    tuple(g.evidence),
                )
            )
        return out

    def _tail_alerts(self, src: _Source) -> list[Alert]:
        out = []
        if src.first_when is None:
            return [
                Alert(
                    "seal-truncated",
                    "high",
                    f"{src.name}: no entries and no seals at all: "
                    "the log was erased (or is not a sealed log)",
                    None,
                    (f"{src.name}:0",),
                )
            ]
        ends = [t for t in (src.last_when, self.now) if t is not None]
        end = max(ends) if ends else None
        start = src.last_seal or src.first_when
        if (
            end is not None
            and start is not None
            and end - start > timedelta(seconds=self.key.interval + 1)
        ):
            last = (
                f"the last seal (epoch {src.epoch - 1}) is at {src.last_seal}"
                if src.last_seal
                else "the log has no valid seal"
            )
            out.append(
                Alert(
                    "seal-truncated",
                    "high",
                    f"{src.name}: {last}, but the device seals every {self.key.interval} s and the log "
                    f"runs to {end}: the tail after epoch {src.epoch - 1} was cut (entries from "
                    f"{src.next_seq} on removed) or the device stopped logging",
                    None,
                    (src.last_seal_where or f"{src.name}:0",),
                )
            )
        if src.open_entries:
            out.append(
                Alert(
                    "seal-open",
                    "low",
                    f"{src.name}: {src.open_entries} entries after the last seal (epoch "
                    f"{src.epoch} still open): not yet protected against an intruder "
                    "holding the device's current key",
                    None,
                    (),
                )
            )
        return out


def seal_tag_ok(ctx: hmac.HMAC, fields: SealFields) -> bool:
    """Whether ``fields.tag`` verifies under the epoch's MAC context."""
    h = ctx.copy()
    h.update(fields.signed_text().encode())
    return h.finalize().hex() == fields.tag


def verify_events(
    events: Iterable[Event],
    key: VerifyKey,
    *,
    now: datetime | None = None,
    source: str | None = None,
) -> list[Alert]:
    """Verify every event (library API); ``now``: the collector's clock, in the log's time zone.

    ``source``: a file name that must hold a sealed log (an empty one is a high finding).
    """
    verifier = SealVerifier(key, now=now)
    if source is not None:
        verifier.expect(source)
    for e in events:
        verifier.feed(e)
    return verifier.finish()


def _identity(e: Event) -> str | None:
    if e.kind == "seal":
        return f"seal {e.message}"
    return e.mac or e.chain


def cross_check(
    device: Iterable[Event],
    collector: Iterable[Event],
    *,
    device_name: str = "device",
    collector_name: str = "collector",
) -> list[Alert]:
    """Entries (by ``mac=``, else ``chain=``) in one copy but not the other.

    An entry the collector kept but the device lacks was erased on the device
    (high); one the device has but the collector lacks was lost in transit or
    inserted on the device (medium; UDP loses datagrams).  Entries older than
    the collector's first one are not compared.
    """
    have: dict[str, Event] = {}
    for e in device:
        ident = _identity(e)
        if ident is not None:
            have[ident] = e
    seen: set[str] = set()
    missing: list[Event] = []
    first_collected: int | None = None
    for e in collector:
        ident = _identity(e)
        if ident is None:
            continue
        seen.add(ident)
        if first_collected is None:
            first_collected = e.line
        if ident not in have:
            missing.append(e)
    extra = [e for ident, e in have.items() if ident not in seen]
    alerts = []
    if missing:
        alerts.append(
            Alert(
                "copy-mismatch",
                "high",
                f"{len(missing)} entries the collector ({collector_name}) kept are gone "
                f"from the device's copy ({device_name}): erased on the device",
                None,
                tuple(f"{e.source}:{e.line}" for e in missing[:MAX_EVIDENCE]),
            )
        )
    if extra and seen:
        alerts.append(
            Alert(
                "copy-mismatch",
                "medium",
                f"{len(extra)} entries on the device ({device_name}) never reached the "
                f"collector ({collector_name}): lost datagrams, sent before the collector "
                "started, or inserted on the device",
                None,
                tuple(f"{e.source}:{e.line}" for e in extra[:MAX_EVIDENCE]),
            )
        )
    return alerts
