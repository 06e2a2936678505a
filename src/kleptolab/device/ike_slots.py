"""The VPN core's bookkeeping of IKE SAs: one :class:`IkeSlot` per SA, and the retired ones.

A slot holds an SA's engine and where its peer is.  An IKEv2 IKE SA rekey
(RFC 7296 §2.18) gets a :func:`successor` slot.  A deleted or failed IKEv2 SA
is kept in :class:`RetiredSas` for :data:`RETIRED_KEEP` seconds (at most
:data:`MAX_RETIRED` of them, oldest dropped first), so that a retransmitted
request, e.g. an INFORMATIONAL Delete whose answer was lost, still gets the
very same response (RFC 7296 §2.1).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from kleptolab.device.vpn_events import NATT_PORT, Address
from kleptolab.ike.common import IkeEndpoint
from kleptolab.ike.v2.rekey import IkeSaRekeyed

__all__ = ["MAX_RETIRED", "RETIRED_KEEP", "IkeSlot", "RetiredSas", "successor"]

RETIRED_KEEP = 300.0
"""Seconds a deleted IKE SA still answers retransmitted requests (charon gives up after ~165 s)."""
MAX_RETIRED = 1024


@dataclass
class IkeSlot:
    """One IKE SA as the core sees it: its engine, peer address and role, and its state."""

    spi_i: bytes
    version: int
    engine: IkeEndpoint
    remote: Address
    local_port: int
    created: float
    initiator: bool
    config_name: str = ""
    established: bool = False
    last_keepalive: float = 0.0
    peer_natt_port: int = NATT_PORT
    spi_r: bytes = bytes(8)
    mode: str = ""
    expires: float = float("inf")


def successor(slot: IkeSlot, event: IkeSaRekeyed, now: float) -> IkeSlot:
    """The slot of the IKE SA that ``event`` says replaced ``slot``'s (same peer, port and role)."""
    return IkeSlot(
        event.spi_i,
        2,
        event.session,
        slot.remote,
        slot.local_port,
        now,
        slot.initiator,
        slot.config_name,
        True,
        now,
        slot.peer_natt_port,
        event.spi_r,
        "IKEv2",
        now + event.proposal.lifetime,
    )


class RetiredSas:
    """Deleted IKE SAs by initiator SPI, each until its deadline; bounded in number."""

    def __init__(self, keep: float = RETIRED_KEEP, limit: int = MAX_RETIRED) -> None:
        self._keep = keep
        self._limit = limit
        self._slots: OrderedDict[bytes, tuple[IkeSlot, float]] = OrderedDict()

    def __contains__(self, spi_i: object) -> bool:
        return spi_i in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def retire(self, slot: IkeSlot, now: float) -> None:
        """Keep ``slot`` until ``now + keep``; forget the expired and the oldest beyond the limit."""
        self._slots[slot.spi_i] = (slot, now + self._keep)
        self._slots.move_to_end(slot.spi_i)
        while self._slots and (
            len(self._slots) > self._limit or next(iter(self._slots.values()))[1] < now
        ):
            self._slots.popitem(last=False)

    def lookup(self, spi_i: bytes, now: float) -> IkeSlot | None:
        """The retired slot for ``spi_i`` if it is still kept (an expired one is forgotten)."""
        found = self._slots.get(spi_i)
        if found is None:
            return None
        if now > found[1]:
            del self._slots[spi_i]
            return None
        return found[0]

    def slots(self) -> list[IkeSlot]:
        """Every retired slot, oldest first."""
        return [slot for slot, _ in self._slots.values()]
