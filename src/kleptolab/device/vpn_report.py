"""What the VPN core writes to the event log, and its console rows (``get sa``, ``get ike cookies``).

Lines follow ScreenOS's wording where the defender's parsers expect it::

    IKE 192.0.2.2 Phase 1: Completed Main Mode negotiations with a <28800>-second lifetime.
    IKE 192.0.2.2 Phase 2: Completed negotiations with SPI <0a0b0c0d>, tunnel ID <1>, and lifetime <3600> seconds/<0> KB.

Flood-driven lines are rate limited per second, each kind with its own
budget, then one summary line per second ("N more ... not logged"): dropped
packets (``drop_limit``), IKEv2 COOKIE replies and failed negotiations
(``notice_limit``).  A 20k-packet flood therefore writes a few lines per
second, not one per packet, to the log and to the syslog collector; the event
log's own limit (:mod:`kleptolab.device.eventlimit`) caps it further.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kleptolab.device.vpn_events import Address, VpnLog
from kleptolab.ike.common import ChildSaKeys

_INTEG = {"HMAC-SHA1-96": "sha1", "HMAC-MD5-96": "md5", "HMAC-SHA2-256-128": "sha256"}


@dataclass
class _Budget:
    """``limit`` lines per one-second window; the rest counted for a summary line."""

    kind: str
    limit: int
    summary: str  # "{n} more ... not logged"
    window: float = -1.0
    used: int = 0
    suppressed: int = 0

    def take(self, now: float, log: VpnLog) -> bool:
        if now - self.window >= 1.0:
            self.flush(now, log)
            self.window, self.used = now, 0
        if self.used < self.limit:
            self.used += 1
            return True
        self.suppressed += 1
        return False

    def flush(self, now: float, log: VpnLog) -> None:
        if self.suppressed and now - self.window >= 1.0:
            log.record(self.kind, self.summary.format(n=self.suppressed))
            self.suppressed = 0


class VpnReporter:
    """Formats and rate-limits the core's log lines."""

    def __init__(
        self,
        log: VpnLog,
        clock: Callable[[], float],
        drop_limit: int = 50,
        milestones: bool = True,
        notice_limit: int = 10,
    ) -> None:
        self.log = log
        self.milestones = milestones
        """Whether to log phase 1/2 completions and failures (off when the caller logs its own)."""
        self._clock = clock
        self._drops = _Budget("drop", drop_limit, "{n} more dropped packets not logged")
        self._cookies = _Budget("ike", notice_limit, "{n} more IKEv2 COOKIE replies not logged")
        self._failures = _Budget("ike", notice_limit, "{n} more failed negotiations not logged")
        self.dropped = 0
        """Every drop, logged or not."""

    def info(self, kind: str, message: str, **fields: object) -> None:
        if " COOKIE sent" in message and not self._cookies.take(self._clock(), self.log):
            return
        self.log.record(kind, message, **fields)

    def phase1(self, remote: Address, mode: str, lifetime: int, spi_i: bytes, spi_r: bytes) -> None:
        if not self.milestones:
            return
        self.log.record(
            "ike",
            f"IKE {remote[0]} Phase 1: Completed {mode} negotiations with a <{lifetime}>-second lifetime.",
            remote=remote,
            spi_i=spi_i.hex(),
            spi_r=spi_r.hex(),
        )

    def phase2(self, remote: Address, child: ChildSaKeys, tunnel: int, lifetime: int) -> None:
        if not self.milestones:
            return
        self.log.record(
            "tunnel",
            f"IKE {remote[0]} Phase 2: Completed negotiations with SPI <{child.spi_in.hex()}>, "
            f"tunnel ID <{tunnel}>, and lifetime <{lifetime}> seconds/<0> KB.",
            remote=remote,
            spi_out=child.spi_out.hex(),
            selectors=f"{child.local_ts} <-> {child.remote_ts}",
        )

    def failed(self, remote: Address, reason: str, notify: int | None) -> None:
        if not self.milestones or not self._failures.take(self._clock(), self.log):
            return
        self.log.record(
            "ike",
            f"IKE {remote[0]}: Negotiations failed: {reason}.",
            remote=remote,
            notify=notify,
            severity="warn",
        )

    def deleted(self, remote: Address, spis: list[bytes], *, sent: bool = False) -> None:
        what = "the IKE SA" if not spis else "ESP SA SPI " + ", ".join(f"<{s.hex()}>" for s in spis)
        verb = "Sent" if sent else "Received"
        self.log.record("tunnel", f"IKE {remote[0]}: {verb} a delete for {what}.", remote=remote)

    def flush(self) -> None:
        """Write the summaries of rate-limited lines once their second is over."""
        now = self._clock()
        for budget in (self._drops, self._cookies, self._failures):
            budget.flush(now, self.log)

    def drop(self, remote: Address, reason: str) -> None:
        """Log a refused datagram/packet unless this second's budget is spent."""
        self.dropped += 1
        if self._drops.take(self._clock(), self.log):
            self.log.record(
                "drop", f"Dropped packet from {remote[0]}:{remote[1]}: {reason}", remote=remote
            )


def ike_cookie_row(spi_i: bytes, spi_r: bytes, peer: str, mode: str, established: bool) -> str:
    """``<spi_i>/<spi_r> <peer> <mode> done|half-open``."""
    return f"{spi_i.hex()}/{spi_r.hex()} {peer} {mode} {'done' if established else 'half-open'}"


def sa_rows(number: int, remote: Address, child: ChildSaKeys, life_left: int) -> list[str]:
    """Two ``get sa`` rows (``<`` inbound, ``>`` outbound) for one ESP SA pair."""
    encr = child.encr.value.name
    cipher = f"aes{8 * child.key_size}" if encr.startswith("AES") else encr.split("-")[0].lower()
    integ = _INTEG.get(child.integ.value.name, child.integ.value.name.lower())
    algo = f"esp:{cipher}/{integ}"
    return [
        f"{number:08x}{arrow} {remote[0]:>15} {remote[1]:>5} {algo:<15} {spi.hex()} {life_left:>5} unlim A/-  -1 0"
        for arrow, spi in (("<", child.spi_in), (">", child.spi_out))
    ]
