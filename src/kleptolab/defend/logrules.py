"""Detection rules over ScreenOS events, their alerts, and their Sigma export.

* ``jsa10713-system-logon`` (critical): 00515 "Admin user system has logged
  on" and an 00528 password success from the same source IP within one
  minute, either order (JSA10713; LogRhythm's correlation rule);
* ``unexpected-source`` (high): an admin logon from outside the allowed
  networks (default: loopback and RFC 1918 / ULA);
* ``failed-login-burst`` (medium): >= 5 failed admin logins (00518) from one
  source within one minute;
* ``chain-break`` (high) / ``chain-gap`` (medium): a line whose ``chain=``
  value does not follow from the previous line's, or an unchained line inside
  a chained log (deleted/edited lines, or lost syslog datagrams);
  ``chain-anchor`` (low) when the first chained line does not start from the
  genesis value (rotated log, or its oldest lines deleted).

The unkeyed chain cannot stop an intruder who recomputes it, nor see a
trimmed tail: with a verification key, :mod:`kleptolab.defend.logseal`
checks the forward-secure seals instead.  Every rule is linear (one pass,
admin-login lines sorted per source address).
"""

from __future__ import annotations

import hashlib
import ipaddress
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kleptolab.defend.eventlog_format import Event

__all__ = ["DEFAULT_ALLOWED", "Alert", "Evaluation", "evaluate", "evaluate_stream", "export_sigma"]

WINDOW = timedelta(minutes=1)
BURST = 5
GENESIS = "0" * 64
DEFAULT_ALLOWED = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)


@dataclass(frozen=True)
class Alert:
    """One alert: the rule, its severity, a message and the lines (``file:line``) behind it."""

    rule: str
    severity: str
    message: str
    source_ip: str | None
    evidence: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "source_ip": self.source_ip,
            "evidence": list(self.evidence),
        }


def _where(e: Event) -> str:
    return f"{e.source}:{e.line}"


def _system_logon(logons: Sequence[Event], oks: Sequence[Event]) -> list[Alert]:
    """Pair each 'system' logon with the nearest 00528 from its host within :data:`WINDOW`.

    O((logons + oks) log oks): the 00528 times are sorted once per host and searched.
    """
    by_ip: defaultdict[str, list[Event]] = defaultdict(list)
    for ok in oks:
        if ok.ip is not None:
            by_ip[ok.ip].append(ok)
    times: dict[str, list[datetime]] = {}
    for ip, items in by_ip.items():
        items.sort(key=lambda o: o.when)
        times[ip] = [o.when for o in items]
    alerts: list[Alert] = []
    for logon in logons:
        host = (logon.ip or "").split("%")[0]
        paired = by_ip.get(host)
        if not paired:
            continue
        stamps = times[host]
        lo = bisect_left(stamps, logon.when - WINDOW)
        hi = bisect_right(stamps, logon.when + WINDOW)
        if lo >= hi:
            continue
        # the nearest in time, ties to the later one; only the neighbours of logon.when compete
        mid = bisect_left(stamps, logon.when, lo, hi)
        before = bisect_left(stamps, stamps[mid - 1], lo, hi) if mid > lo else -1
        # equal times keep file order (stable sort): the first of each tied run competes
        candidates = [paired[k] for k in (before, mid) if lo <= k < hi]
        ok = min(candidates, key=lambda o: (abs(o.when - logon.when), o.when < logon.when))
        alerts.append(
            Alert(
                "jsa10713-system-logon",
                "critical",
                f"admin logon as 'system' via {logon.via} from {host} paired with password "
                f"success for '{ok.user}' (CVE-2015-7755 master password, JSA10713)",
                host,
                (_where(logon), _where(ok)),
            )
        )
    return alerts


def _unexpected(logons: Sequence[Event], allowed: Sequence[str]) -> list[Alert]:
    nets = [ipaddress.ip_network(n, strict=False) for n in allowed]
    alerts: list[Alert] = []
    for e in logons:
        if e.ip is None:
            continue
        try:
            address = ipaddress.ip_address(e.ip)
        except ValueError:
            continue
        if not any(address.version == n.version and address in n for n in nets):
            alerts.append(
                Alert(
                    "unexpected-source",
                    "high",
                    f"admin '{e.user}' logged on via {e.via} from {e.ip}, outside the "
                    "allowed management networks",
                    e.ip,
                    (_where(e),),
                )
            )
    return alerts


def _burst(failures: Sequence[Event]) -> list[Alert]:
    by_ip: defaultdict[str, list[Event]] = defaultdict(list)
    for e in failures:
        if e.ip:
            by_ip[e.ip].append(e)
    alerts: list[Alert] = []
    for ip, failed in by_ip.items():
        failed.sort(key=lambda e: e.when)
        start = 0
        for end in range(len(failed)):
            while failed[end].when - failed[start].when > WINDOW:
                start += 1
            if end - start + 1 >= BURST:
                window = failed[start : end + 1]
                alerts.append(
                    Alert(
                        "failed-login-burst",
                        "medium",
                        f"{len(window)} failed admin logins from {ip} within one minute",
                        ip,
                        tuple(_where(e) for e in window),
                    )
                )
                break
    return alerts


def _link(previous: str, e: Event) -> str:
    return hashlib.sha256((previous + e.text).encode("utf-8")).hexdigest()


@dataclass
class _ChainState:
    previous: str | None = None
    started: bool = False
    pinned: bool = False


def _pinned(e: Event) -> bool:
    """Boot (00009) and critical lines: the gateway keeps them when its ring rotates."""
    return (e.msg_id == 9 and e.module == "system") or e.severity in ("emer", "alert", "crit")


class _ChainCheck:
    """Verify ``chain=`` links per source file, in file order, one event at a time."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._state: dict[str, _ChainState] = {}

    def feed(self, e: Event) -> None:
        st = self._state.get(e.source)
        if st is None:
            st = self._state[e.source] = _ChainState()
        source = e.source
        if e.chain is None:
            if st.started:
                self.alerts.append(
                    Alert(
                        "chain-gap",
                        "medium",
                        f"{source}: unchained line inside a hash-chained log",
                        None,
                        (_where(e),),
                    )
                )
            return
        if not st.started:
            st.started = True
            if _link(GENESIS, e) != e.chain:
                self.alerts.append(
                    Alert(
                        "chain-anchor",
                        "low",
                        f"{source}: the first chained line "
                        "does not chain from the genesis value (log rotated, or "
                        "its oldest lines deleted)",
                        None,
                        (_where(e),),
                    )
                )
        elif st.previous is not None and _link(st.previous, e) != e.chain and st.pinned:
            self.alerts.append(
                Alert(
                    "chain-anchor",
                    "low",
                    f"{source}: the chain restarts after a pinned boot/critical line (the "
                    "device's ring rotated, or lines after it were deleted: verify the seals "
                    "to tell which)",
                    None,
                    (_where(e),),
                )
            )
        elif st.previous is not None and _link(st.previous, e) != e.chain:
            self.alerts.append(
                Alert(
                    "chain-break",
                    "high",
                    f"{source}: chain value does not follow from the previous "
                    "line (line deleted, inserted or edited, or a lost syslog "
                    "datagram)",
                    None,
                    (_where(e),),
                )
            )
        st.previous = e.chain
        st.pinned = _pinned(e)


@dataclass
class Evaluation:
    """Alerts plus how many events were seen."""

    alerts: list[Alert]
    events: int


def evaluate_stream(
    events: Iterable[Event],
    *,
    allowed: Sequence[str] = DEFAULT_ALLOWED,
    observe: Callable[[Event], None] | None = None,
) -> Evaluation:
    """Run every rule over ``events`` in one pass, keeping only admin-login events in memory.

    ``observe`` (e.g. the seal verifier) sees every event too.  O(1) work per
    event except the admin-login lines, which are sorted per source address.
    """
    logons: list[Event] = []
    oks: list[Event] = []
    failures: list[Event] = []
    chain = _ChainCheck()
    count = 0
    for e in events:
        count += 1
        if e.kind == "logon":
            logons.append(e)
        elif e.kind == "password-ok":
            oks.append(e)
        elif e.kind == "login-failed":
            failures.append(e)
        chain.feed(e)
        if observe is not None:
            observe(e)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    system = [e for e in logons if e.user == "system"]
    alerts = (
        _system_logon(system, oks) + _unexpected(logons, allowed) + _burst(failures) + chain.alerts
    )
    return Evaluation(sorted(alerts, key=lambda a: (order[a.severity], a.evidence)), count)


def evaluate(events: Iterable[Event], *, allowed: Sequence[str] = DEFAULT_ALLOWED) -> list[Alert]:
    """Run every rule; alerts sorted by severity then evidence."""
    return evaluate_stream(events, allowed=allowed).alerts


_SIGMA_BASE = """\
title: ScreenOS admin logon as internal user 'system'
id: 6f1b6c2e-6a43-4d59-9a57-1d2f8e0a5150
name: screenos_admin_logon_system
status: experimental
description: JSA10713 log evidence for CVE-2015-7755 (message 00515 naming user 'system').
references:
    - https://kb.juniper.net/InfoCenter/index?page=content&id=JSA10713
author: kleptolab
date: 2026-11-23
tags:
    - attack.initial-access
    - cve.2015-7755
logsource:
    product: juniper
    service: screenos
detection:
    selection:
        msg_id: '00515'
        message|contains: 'Admin user system has logged on via'
    condition: selection
fields:
    - src_ip
level: high
---
title: ScreenOS admin password authentication successful
id: 0c9b2f43-3d4e-4c1b-8f0e-52800000a528
name: screenos_ssh_password_ok
status: experimental
description: Message 00528; alone it is a normal logon.
logsource:
    product: juniper
    service: screenos
detection:
    selection:
        msg_id: '00528'
        message|contains: 'Password authentication successful for admin user'
    condition: selection
fields:
    - src_ip
    - user
level: informational
---
title: ScreenOS master-password logon (00515 system + 00528 within 1 minute)
id: 3a7d5e1c-9b2f-4d8e-a6c1-7f0e2d4b5152
status: experimental
description: LogRhythm/JSA10713 pairing from the same source within one minute.
correlation:
    type: temporal
    rules:
        - screenos_admin_logon_system
        - screenos_ssh_password_ok
    group-by:
        - src_ip
    timespan: 1m
level: critical
---
title: ScreenOS failed admin login
id: 8e2c4a61-5f3b-4b7d-9c0e-00518a1b2c3d
name: screenos_admin_login_failed
status: experimental
logsource:
    product: juniper
    service: screenos
detection:
    selection:
        msg_id: '00518'
        message|contains: 'login attempt for'
    condition: selection
level: low
---
title: ScreenOS burst of failed admin logins
id: 5d1e7b90-2c4a-4e6f-8a3b-9d0c1e2f3a4b
status: experimental
correlation:
    type: event_count
    rules:
        - screenos_admin_login_failed
    group-by:
        - src_ip
    timespan: 1m
    condition:
        gte: {burst}
level: medium
"""


def export_sigma() -> str:
    """The rules as a multi-document Sigma YAML file (base rules plus correlations)."""
    return _SIGMA_BASE.replace("{burst}", str(BURST))
