"""The installed ESP tunnels: SPI lookup, selector checks and routing of inner packets.

Each :class:`Tunnel` belongs to one IKE SA (``owner``: its initiator SPI)
and holds the (outbound, inbound) :class:`~kleptolab.esp.sa.EspSa` pair built
from the negotiated :class:`~kleptolab.ike.common.ChildSaKeys`.  Inbound
packets must fall inside the child SA's traffic selectors (source in the
peer's, destination in ours), or they are refused.

Outbound routing when several SAs match an inner packet: the most specific
negotiated selectors win (longest remote prefix, then longest local
prefix); among equals, the SA on which that destination's traffic last
arrived (a bounded table of the last inbound SA per inner source address),
else the newest SA.  So two clients narrowed to /32s inside one configured
/24, or two clients using the very same selector, each get their own replies.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from kleptolab.esp.sa import EspSa, sa_pair_from_child
from kleptolab.ike.common import ChildSaKeys
from kleptolab.netpkt import parse_ipv4


class TunnelError(ValueError):
    """An ESP packet or inner packet that no tunnel accepts."""


@dataclass
class Tunnel:
    owner: bytes
    child: ChildSaKeys
    outbound: EspSa
    inbound: EspSa
    number: int
    installed: float
    lifetime: int
    esp_remote: tuple[str, int] | None = None  # where the peer's ESP last came from


class TunnelTable:
    """Tunnels by inbound SPI, newest last; ``max_sources`` bounds the last-inbound table."""

    def __init__(
        self,
        esp_random: Callable[[int], bytes],
        clock: Callable[[], float],
        max_sources: int = 4096,
    ) -> None:
        self._random = esp_random
        self._clock = clock
        self._by_spi: dict[bytes, Tunnel] = {}
        self._all: list[Tunnel] = []
        self._count = 0
        self._last_in: OrderedDict[ipaddress.IPv4Address, Tunnel] = OrderedDict()
        self._max_sources = max_sources

    @property
    def tunnels(self) -> list[Tunnel]:
        """Installed tunnels, oldest first."""
        return list(self._all)

    def install(self, owner: bytes, child: ChildSaKeys, lifetime: int) -> Tunnel:
        """Build the ESP SA pair for ``child``; ``ValueError`` for unusable keys or SPIs."""
        outbound, inbound = sa_pair_from_child(child, self._random)
        self._count += 1
        tunnel = Tunnel(owner, child, outbound, inbound, self._count, self._clock(), lifetime)
        self._all.append(tunnel)
        self._by_spi[child.spi_in] = tunnel
        return tunnel

    def decapsulate(self, esp: bytes, remote: tuple[str, int]) -> tuple[Tunnel, bytes]:
        """Return (tunnel, inner IPv4 packet) of ESP from ``remote``; ``TunnelError``/``EspError`` otherwise.

        A packet that authenticates and passes the selectors updates the
        tunnel's ``esp_remote``: replies go where the peer's ESP comes from.
        """
        tunnel = self._by_spi.get(esp[:4])
        if tunnel is None:
            raise TunnelError(f"ESP for unknown SPI {esp[:4].hex()}")
        packet = tunnel.inbound.decapsulate(esp)
        ip = parse_ipv4(packet)
        src, dst = ipaddress.IPv4Address(ip.src), ipaddress.IPv4Address(ip.dst)
        if src not in tunnel.child.remote_ts or dst not in tunnel.child.local_ts:
            raise TunnelError(f"inner packet {ip.src} -> {ip.dst} outside the tunnel's selectors")
        tunnel.esp_remote = remote
        self._last_in[src] = tunnel
        self._last_in.move_to_end(src)
        while len(self._last_in) > self._max_sources:
            self._last_in.popitem(last=False)
        return tunnel, packet

    def encapsulate(self, packet: bytes) -> tuple[Tunnel, bytes]:
        """Protect an inner IPv4 packet with the tunnel :meth:`route` picks for it."""
        ip = parse_ipv4(packet)
        tunnel = self.route(ipaddress.IPv4Address(ip.src), ipaddress.IPv4Address(ip.dst))
        if tunnel is None:
            raise TunnelError(f"no tunnel for inner packet {ip.src} -> {ip.dst}")
        return tunnel, tunnel.outbound.encapsulate(packet)

    def route(self, src: ipaddress.IPv4Address, dst: ipaddress.IPv4Address) -> Tunnel | None:
        """The tunnel for an inner packet ``src`` -> ``dst`` (see the module docstring), or None."""
        matching = [t for t in self._all if dst in t.child.remote_ts and src in t.child.local_ts]
        if not matching:
            return None
        best = max((t.child.remote_ts.prefixlen, t.child.local_ts.prefixlen) for t in matching)
        tied = [
            t for t in matching if (t.child.remote_ts.prefixlen, t.child.local_ts.prefixlen) == best
        ]
        last = self._last_in.get(dst)
        return last if any(last is t for t in tied) else tied[-1]

    def remove(self, owner: bytes, spis: set[bytes] | None = None) -> int:
        """Remove the owner's tunnels (only those with an SPI in ``spis`` if given); return how many."""
        doomed = [
            t
            for t in self._all
            if t.owner == owner and (spis is None or {t.child.spi_in, t.child.spi_out} & spis)
        ]
        self._drop(doomed)
        return len(doomed)

    def reown(self, owner: bytes, new_owner: bytes) -> int:
        """Hand ``owner``'s tunnels to another IKE SA (an IKE SA rekey); return how many."""
        moved = [t for t in self._all if t.owner == owner]
        for tunnel in moved:
            tunnel.owner = new_owner
        return len(moved)

    def expire(self) -> list[Tunnel]:
        """Remove and return the tunnels whose lifetime is over."""
        done = [t for t in self._all if self.life_left(t) == 0]
        self._drop(done)
        return done

    def _drop(self, tunnels: list[Tunnel]) -> None:
        for tunnel in tunnels:
            self._all.remove(tunnel)
            self._by_spi.pop(tunnel.child.spi_in, None)
        if tunnels:
            gone = {id(t) for t in tunnels}
            for src in [s for s, t in self._last_in.items() if id(t) in gone]:
                del self._last_in[src]

    def life_left(self, tunnel: Tunnel) -> int:
        """Seconds of the tunnel's lifetime left."""
        return max(0, int(tunnel.lifetime - (self._clock() - tunnel.installed)))
