"""Admission control for new IKE SAs: fair, bounded half-open state and IKEv2 COOKIEs.

A half-open SA is *embryonic* until its initiator shows return routability:
a later message carrying the responder SPI we sent (IKEv1 Main/Aggressive
Mode message 3 echoes our cookie CKY-R, RFC 2408 §2.5.3 "anti-clogging";
an IKEv2 request admitted with a valid COOKIE, RFC 7296 §2.6, or its
IKE_AUTH).  Spoofed first messages never get past embryonic.

Budgets: ``max_half_open`` (T) in all and ``max_per_peer`` (P) per source
address, and ``v1_budget`` (E, default :data:`V1_EMBRYONIC_BUDGET`) for
embryonic IKEv1 SAs.  Within them, a new initiator is admitted.  Beyond them:

* IKEv2: the IKE_SA_INIT is admitted only with a valid COOKIE, else it is
  answered statelessly with one (strongSwan's ``cookie_threshold`` and
  ``block_threshold`` play the same roles).
* IKEv1 has no stateless cookie, so instead of refusing (which lets 8 spoofed
  packets from a client's address lock that client out) the new SA is
  admitted and an embryonic IKEv1 one is **evicted** (once the new one has
  survived its first message, so garbage evicts nothing): over P from the same source,
  a *random* embryonic SA of that source (a spoofer sharing the client's
  address only shortens the client's odds, it never blocks it outright);
  over E, the *oldest* embryonic SA of the source holding the most.  A flood
  from many addresses thus evicts its own entries first, and a legitimate
  initiator's fresh entry outlives at least E further first messages: longer
  than one round trip plus the receive backlog of a saturated gateway.

In all, half-open SAs never exceed the hard cap max(2T, T + E) (then the
oldest embryonic one, else the oldest verified one, is evicted), and embryonic ones
live ``embryonic_timeout`` seconds, verified ones the core's half-open
timeout.  This differs from strongSwan (``init_limit_half_open`` and
``block_threshold`` drop new requests) and Libreswan (``max-halfopen-ike``
drops, ``ddos-ike-threshold`` switches IKEv2 to COOKIEs) on purpose: their
refusals are what a spoofed flood turns into a lockout for IKEv1.
Cookies are made and checked by :mod:`kleptolab.ike.v2.cookies`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from kleptolab.ike.v2.cookies import CookieJar, cookie_challenge
from kleptolab.ike.wire import IkeHeader, WireError, parse_payload_chain

IKEV2_SA_INIT = 34
IKEV2_NONCE = 40
IKEV2_NOTIFY = 41
NOTIFY_COOKIE = 16390
EMBRYONIC_TIMEOUT = 5.0
"""Seconds an embryonic SA may wait for its initiator's second message."""
V1_EMBRYONIC_BUDGET = 512
"""Default room for embryonic IKEv1 SAs (E).  It must exceed the receive backlog in
packets (a 208 KiB socket buffer holds a few hundred first messages): under a flood a
legitimate SA outlives E later first messages, so its message 3, queued behind the
backlog, still finds it.  A few KiB each: about 5 MiB in all."""


class Verdict(Enum):
    """What to do with a request for a new IKE SA."""

    ADMIT = "admit"
    SEND_COOKIE = "send-cookie"
    DROP = "drop"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    reply: bytes = b""  # the stateless COOKIE response, for SEND_COOKIE
    evict: tuple[bytes, ...] = ()  # initiator SPIs of half-open SAs to remove first (ADMIT)
    verified: bool = False  # admitted with a valid COOKIE: return routability shown


@dataclass
class _Entry:
    address: str
    created: float
    version: int
    verified: bool = False


class HalfOpenTable:
    """Half-open responder SAs by initiator SPI, indexed by source address, oldest first.

    Only embryonic IKEv1 SAs are candidates for eviction (IKEv2 ones are held
    back by COOKIEs instead); all embryonic SAs count against the budgets.
    """

    def __init__(self) -> None:
        self._entries: dict[bytes, _Entry] = {}
        self._count: dict[str, int] = {}  # embryonic SAs per address, any version
        self._evictable: dict[str, dict[bytes, None]] = {}  # embryonic IKEv1, oldest first
        self._evictable_count = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, spi: object) -> bool:
        return spi in self._entries

    def add(
        self, spi: bytes, address: str, now: float, *, version: int = 1, verified: bool = False
    ) -> None:
        self.discard(spi)
        self._entries[spi] = _Entry(address, now, version, verified)
        if not verified:
            self._index(spi, self._entries[spi])

    def discard(self, spi: bytes) -> None:
        """Forget ``spi`` (established, removed or evicted); unknown SPIs are ignored."""
        entry = self._entries.pop(spi, None)
        if entry is not None and not entry.verified:
            self._unindex(spi, entry)

    def verify(self, spi: bytes) -> None:
        """Mark ``spi`` as having shown return routability."""
        entry = self._entries.get(spi)
        if entry is not None and not entry.verified:
            self._unindex(spi, entry)
            entry.verified = True

    def is_verified(self, spi: bytes) -> bool:
        entry = self._entries.get(spi)
        return entry is not None and entry.verified

    def embryonic(self) -> int:
        return sum(self._count.values())

    def evictable(self) -> int:
        """Embryonic IKEv1 SAs."""
        return self._evictable_count

    def from_address(self, address: str) -> int:
        """Embryonic SAs from ``address``."""
        return self._count.get(address, 0)

    def stale(self, now: float, embryonic_timeout: float, timeout: float) -> list[bytes]:
        """SPIs past their lifetime (embryonic: ``embryonic_timeout``, verified: ``timeout``)."""
        return [
            spi
            for spi, e in self._entries.items()
            if now - e.created > (timeout if e.verified else embryonic_timeout)
        ]

    def random_from(self, address: str, rand_below: Callable[[int], int]) -> bytes | None:
        """A random evictable SA from ``address``."""
        spis = list(self._evictable.get(address, ()))
        return spis[rand_below(len(spis))] if spis else None

    def oldest_of_largest_source(self) -> bytes | None:
        """The oldest evictable SA among the sources holding the most evictable SAs."""
        if not self._evictable:
            return None
        most = max(len(spis) for spis in self._evictable.values())
        heads = [next(iter(s)) for s in self._evictable.values() if len(s) == most]
        return min(heads, key=lambda spi: self._entries[spi].created)

    def oldest(self) -> bytes | None:
        """The oldest embryonic SA, else the oldest verified one."""
        pool = [s for s, e in self._entries.items() if not e.verified] or list(self._entries)
        return min(pool, key=lambda spi: self._entries[spi].created) if pool else None

    def _index(self, spi: bytes, entry: _Entry) -> None:
        self._count[entry.address] = self._count.get(entry.address, 0) + 1
        if entry.version == 1:
            self._evictable.setdefault(entry.address, {})[spi] = None
            self._evictable_count += 1

    def _unindex(self, spi: bytes, entry: _Entry) -> None:
        left = self._count.get(entry.address, 0) - 1
        if left > 0:
            self._count[entry.address] = left
        else:
            self._count.pop(entry.address, None)
        spis = self._evictable.get(entry.address)
        if spis is not None and spi in spis:
            del spis[spi]
            self._evictable_count -= 1
            if not spis:
                del self._evictable[entry.address]


class Admission:
    """Decides whether a new responder SA may be created, and which half-open SAs make room.

    The caller (the VPN core) reports every admitted SA with :meth:`admitted`
    and every SA that leaves the half-open state with :attr:`table`'s
    ``discard``/``verify``.  ``rand_below(n)`` picks in ``range(n)``.
    """

    def __init__(
        self,
        max_half_open: int,
        secret: bytes,
        max_per_peer: int | None = None,
        *,
        v1_budget: int | None = None,
        rand_below: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if max_half_open < 1:
            raise ValueError(f"max_half_open must be at least 1, got {max_half_open}")
        per_peer = max(1, max_half_open // 4) if max_per_peer is None else max_per_peer
        if not 1 <= per_peer <= max_half_open:
            raise ValueError(f"max_per_peer must be between 1 and {max_half_open}, got {per_peer}")
        self.max_half_open = max_half_open
        self.max_per_peer = per_peer
        self.v1_budget = max(max_half_open, V1_EMBRYONIC_BUDGET) if v1_budget is None else v1_budget
        if self.v1_budget < 1:
            raise ValueError(f"v1_budget must be at least 1, got {self.v1_budget}")
        self.jar = CookieJar(secret)
        self.table = HalfOpenTable()
        self._rand_below = rand_below

    @property
    def hard_cap(self) -> int:
        """Half-open SAs never exceed this: max(2T, T + E)."""
        return max(2 * self.max_half_open, self.max_half_open + self.v1_budget)

    def decide(self, version: int, message: bytes, address: str) -> Decision:
        """Judge a first message (IKEv1 MM/AM request or IKEv2 IKE_SA_INIT request) from ``address``."""
        table = self.table
        half_open, from_peer = len(table), table.from_address(address)
        if version == 1:
            if (
                half_open < self.hard_cap
                and table.evictable() < self.v1_budget
                and from_peer < self.max_per_peer
            ):
                return Decision(Verdict.ADMIT, "below the half-open bounds")
            load = f"{half_open} half-open SAs ({from_peer} from {address})"
            return self._evict_for_v1(address, from_peer, load)
        if half_open < self.max_half_open and from_peer < self.max_per_peer:
            return Decision(Verdict.ADMIT, "below the half-open bounds")
        load = f"{half_open} half-open SAs ({from_peer} from {address})"
        try:
            reply = cookie_challenge(message, self.jar, address)
        except WireError as exc:
            return Decision(Verdict.DROP, f"malformed IKE_SA_INIT under load: {exc}")
        if reply is not None:
            return Decision(Verdict.SEND_COOKIE, f"{load}: COOKIE requested", reply)
        victim = table.oldest() if half_open >= self.hard_cap else None
        return Decision(
            Verdict.ADMIT, "valid COOKIE", evict=(victim,) if victim else (), verified=True
        )

    def admitted(
        self, spi: bytes, address: str, now: float, version: int, decision: Decision
    ) -> None:
        """Record the SA created for an ADMIT decision."""
        self.table.add(spi, address, now, version=version, verified=decision.verified)

    def _evict_for_v1(self, address: str, from_peer: int, load: str) -> Decision:
        table = self.table
        victim = None
        if from_peer >= self.max_per_peer:
            victim = table.random_from(address, self._rand_below)
            why = f"{load}: random half-open SA of {address} evicted"
        if victim is None:
            victim = table.oldest_of_largest_source()
            why = f"{load}: oldest half-open SA of the busiest source evicted"
        if victim is None and len(table) >= self.hard_cap:
            victim = table.oldest()
            why = f"{load}: oldest verified half-open SA evicted"
        if victim is None:
            return Decision(Verdict.ADMIT, f"{load}: none evictable, within the hard cap")
        return Decision(Verdict.ADMIT, why, evict=(victim,))


def cookie_from_response(message: bytes) -> bytes | None:
    """The COOKIE data of an IKE_SA_INIT response that asks for one (initiator side), else None."""
    try:
        header = IkeHeader.parse(message)
        if header.exchange_type != IKEV2_SA_INIT or not header.is_response:
            return None
        payloads = parse_payload_chain(header.next_payload, message[IkeHeader.SIZE : header.length])
    except WireError:
        return None
    for payload in payloads:
        body = payload.body
        if (
            payload.type == IKEV2_NOTIFY
            and len(body) >= 4
            and int.from_bytes(body[2:4], "big") == NOTIFY_COOKIE
        ):
            return body[4 + body[1] :]
    return None
