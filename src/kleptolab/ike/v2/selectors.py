"""Traffic-selector negotiation for child SAs (RFC 7296 §2.9).

The lab's child SAs carry one IPv4 network per side
(:class:`~kleptolab.ike.common.ChildSaKeys` ``local_ts``/``remote_ts``).  A
responder answers with the part of the proposal its policy allows
(:func:`narrow`): all of its configured network when the initiator proposes
more (e.g. 0.0.0.0/0), the initiator's own selector when it is a subset
(e.g. 203.0.113.5/32 inside 203.0.113.0/24), TS_UNACCEPTABLE when they are
disjoint.  The initiator accepts a narrowed answer, never a wider one
(:func:`within`), and installs what was answered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from kleptolab.ike.common import PeerConfig
from kleptolab.ike.v2.negotiation import selector_for
from kleptolab.ike.v2.payloads import AnyPayload, Ikev2Message
from kleptolab.ike.v2.traffic import TrafficSelector, TsiPayload, TsrPayload

Selectors = tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]
"""(local, remote) networks of one child SA, from this endpoint's point of view."""


def narrow(
    selectors: Sequence[TrafficSelector], allowed: ipaddress.IPv4Network
) -> ipaddress.IPv4Network | None:
    """Responder narrowing (RFC 7296 §2.9): the network to answer for a proposed TS payload.

    The result lies inside both ``allowed`` (our policy) and the union of the
    proposed IPv4 any-protocol/any-port ``selectors``: all of ``allowed`` when
    the proposal covers it (e.g. 0.0.0.0/0), the proposal itself when it is a
    subset (e.g. 203.0.113.5/32 inside 203.0.113.0/24).  When the overlap is
    not one CIDR block, the block holding the start of the first overlapping
    selector wins (§2.9: the first selector may name the triggering packet).
    None when nothing overlaps (answer TS_UNACCEPTABLE).
    """
    lo_a, hi_a = int(allowed.network_address), int(allowed.broadcast_address)
    ranges = [r for r in (ts.ipv4_range() for ts in selectors) if r is not None]
    pieces = [(max(lo, lo_a), min(hi, hi_a)) for lo, hi in ranges if lo <= hi_a and hi >= lo_a]
    if not pieces:
        return None
    anchor = pieces[0][0]
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(pieces):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    lo, hi = next((lo, hi) for lo, hi in merged if lo <= anchor <= hi)
    start = ipaddress.IPv4Address(anchor)
    blocks = ipaddress.summarize_address_range(ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi))
    return next(b for b in blocks if start in b)


def within(
    selectors: Sequence[TrafficSelector], proposed: ipaddress.IPv4Network
) -> ipaddress.IPv4Network | None:
    """Initiator check of the responder's TS payload (it may narrow, never widen).

    Returns the first usable reply selector as a network (its first CIDR
    block if it is a bare range); None when a selector reaches outside
    ``proposed`` or none is an IPv4 any-protocol/any-port selector.
    """
    lo_p, hi_p = int(proposed.network_address), int(proposed.broadcast_address)
    found: ipaddress.IPv4Network | None = None
    for ts in selectors:
        span = ts.ipv4_range()
        if span is None:
            continue
        if span[0] < lo_p or span[1] > hi_p:
            return None
        if found is None:
            found = next(
                ipaddress.summarize_address_range(
                    ipaddress.IPv4Address(span[0]), ipaddress.IPv4Address(span[1])
                )
            )
    return found


def _ts(message: Ikev2Message) -> tuple[TsiPayload | None, TsrPayload | None]:
    tsi = next((p for p in message.payloads if isinstance(p, TsiPayload)), None)
    tsr = next((p for p in message.payloads if isinstance(p, TsrPayload)), None)
    return tsi, tsr


def answered_selectors(message: Ikev2Message, config: PeerConfig) -> Selectors | str:
    """Initiator: the (local, remote) networks of the responder's TSi/TSr, or why they are refused.

    The responder may narrow what we proposed (RFC 7296 §2.9), never widen it;
    a reply without TS payloads keeps the proposal.
    """
    tsi, tsr = _ts(message)
    if not isinstance(tsi, TsiPayload) or not isinstance(tsr, TsrPayload):
        return config.local_ts, config.remote_ts
    local, remote = within(tsi.selectors, config.local_ts), within(tsr.selectors, config.remote_ts)
    if local is None or remote is None:
        return (
            f"responder traffic selectors are not inside {config.local_ts} <-> {config.remote_ts}"
        )
    return local, remote


def narrowed_selectors(message: Ikev2Message, config: PeerConfig) -> Selectors | None:
    """Responder: the (local, remote) networks to accept for the request's TSr/TSi, None if disjoint."""
    tsi, tsr = _ts(message)
    if not isinstance(tsi, TsiPayload) or not isinstance(tsr, TsrPayload):
        return None
    remote, local = narrow(tsi.selectors, config.remote_ts), narrow(tsr.selectors, config.local_ts)
    if remote is None or local is None:
        return None
    return local, remote


def selector_payloads(
    local: ipaddress.IPv4Network, remote: ipaddress.IPv4Network, we_initiate: bool
) -> list[AnyPayload]:
    """TSi and TSr for a child SA (TSi names the initiator's side)."""
    i, r = (local, remote) if we_initiate else (remote, local)
    return [TsiPayload((selector_for(i),)), TsrPayload((selector_for(r),))]
