"""The firmware's PRNG consumers and pre-generation queues (CCS 2016 §5.3-5.5, Figures 1-2).

ScreenOS keeps FIFO queues of pre-generated IKE values: one for nonces and one
per DH group.  Each enabled VPN configuration using a group adds 2 to that
group's queue; the nonce queue holds 2 x the sum of the DH queues.  At boot
every queue is filled completely in priority order (nonces, then ECP384,
ECP256, MODP2048, 1536, 1024, 768); afterwards a one-second timer adds ONE
value to the highest-priority queue that is not full.  An empty queue is
served on the spot.  6.1 has DH queues but no nonce queue.

Every other consumer (cookies, SPIs, IVs, padding) takes whole ``generate()``
outputs from the same PRNG, buffered, so the attacker's walk forward from a
recovered state meets exactly what the device produced.  Every PRNG call is
recorded as a :class:`Draw`; every value handed out as a :class:`Taken`.

:class:`PrngQueues` is the gateway's :class:`kleptolab.ike.common.KeySource`.
Time comes from an injected clock; nothing here sleeps.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kleptolab.ike.common import PeerConfig
from kleptolab.ike.dh import DhGroup, group_by_number

__all__ = [
    "PRIORITY",
    "Draw",
    "Prng",
    "PrngQueues",
    "QueuedValue",
    "Taken",
    "queue_sizes",
]

PRIORITY: tuple[int, ...] = (20, 19, 14, 5, 2, 1)
"""DH groups from strongest to weakest: the refill order after the nonce queue."""

NONCE = "nonce"


class Prng(Protocol):
    """What the queues need from the firmware PRNG: one ``prng_generate()`` call."""

    def generate(self) -> bytes:
        """Return one PRNG output (32 bytes on 6.2/6.3, 20 on 6.1)."""
        ...


@dataclass(frozen=True)
class Draw:
    """One PRNG ``generate()`` call: its 1-based ``index``, what it was for, and its bytes."""

    index: int
    purpose: str  # "nonce", "dh:14", "random", "cookie", ...
    when: float
    output: bytes
    group: int | None = None  # the DH group for "dh:*" draws


@dataclass(frozen=True)
class QueuedValue:
    """A pre-generated nonce (bytes) or DH private value (int) and the draws it came from."""

    kind: str  # "nonce" or "dh:<group>"
    value: bytes | int
    draws: tuple[int, ...]
    made: float


@dataclass(frozen=True)
class Taken:
    """A value handed to an IKE exchange: from which draws, when, and whether it was queued."""

    kind: str
    value: bytes | int
    draws: tuple[int, ...]
    when: float
    on_demand: bool


def queue_sizes(configs: Iterable[PeerConfig]) -> dict[int, int]:
    """DH queue sizes: +2 per configuration for each group it uses (IKE or PFS)."""
    sizes: dict[int, int] = {}
    for config in configs:
        groups = {p.dh_group for p in config.ike_proposals}
        groups |= {c.pfs_group for c in config.child_proposals if c.pfs_group is not None}
        for group in groups:
            group_by_number(group)  # ValueError for a group the lab does not implement
            sizes[group] = sizes.get(group, 0) + 2
    return sizes


class PrngQueues:
    """The pre-generation queues over one PRNG; also the gateway's ``KeySource``.

    ``sizes`` maps DH group number to queue capacity (see :func:`queue_sizes`).
    With ``nonce_queue`` false (ScreenOS 6.1) nonces are always made on demand.
    Call :meth:`fill` once at boot and :meth:`advance` from a timer.
    """

    def __init__(
        self,
        prng: Prng,
        sizes: Mapping[int, int],
        *,
        nonce_size: int,
        nonce_queue: bool = True,
        clock: Callable[[], float] = time.time,
        exponent_bytes: int = 20,
        max_log: int = 100_000,
    ) -> None:
        for group, size in sizes.items():
            group_by_number(group)
            if size < 0:
                raise ValueError(f"queue size for DH group {group} must be >= 0, got {size}")
        if nonce_size < 1:
            raise ValueError(f"nonce size must be positive, got {nonce_size}")
        self._prng = prng
        self._clock = clock
        self.nonce_size = nonce_size
        self.exponent_bytes = exponent_bytes
        self.capacity: dict[str, int] = {}
        if nonce_queue:
            self.capacity[NONCE] = 2 * sum(sizes.values())
        for group in PRIORITY:
            if sizes.get(group, 0):
                self.capacity[f"dh:{group}"] = sizes[group]
        self._queues: dict[str, deque[QueuedValue]] = {kind: deque() for kind in self.capacity}
        self.draws: deque[Draw] = deque(maxlen=max_log)
        self.taken: deque[Taken] = deque(maxlen=max_log)
        self.calls = 0
        self._buffer = b""
        self._last_tick: float | None = None

    # -- generation -----------------------------------------------------------------

    def _draw(self, purpose: str, group: int | None = None) -> Draw:
        output = self._prng.generate()
        self.calls += 1
        draw = Draw(self.calls, purpose, self._clock(), output, group)
        self.draws.append(draw)
        return draw

    def _make(self, kind: str) -> QueuedValue:
        if kind == NONCE:
            draw = self._draw(NONCE)
            if len(draw.output) < self.nonce_size:
                raise ValueError(
                    f"PRNG output of {len(draw.output)} bytes is shorter than the "
                    f"{self.nonce_size}-byte nonce"
                )
            return QueuedValue(kind, draw.output[: self.nonce_size], (draw.index,), draw.when)
        group = group_by_number(int(kind.split(":", 1)[1]))
        used: list[Draw] = []

        def next_output() -> bytes:
            used.append(self._draw(kind, group.number))
            return used[-1].output

        value = group.private_from_prng(next_output, exponent_bytes=self.exponent_bytes)
        return QueuedValue(kind, value, tuple(d.index for d in used), used[0].when)

    def _take(self, kind: str) -> QueuedValue:
        queue = self._queues.get(kind)
        on_demand = not queue
        item = queue.popleft() if queue else self._make(kind)
        self.taken.append(Taken(kind, item.value, item.draws, self._clock(), on_demand))
        return item

    # -- KeySource ------------------------------------------------------------------

    def nonce(self) -> bytes:
        """The next nonce: the oldest queued one, or a fresh PRNG call if none is queued."""
        value = self._take(NONCE).value
        assert isinstance(value, bytes)
        return value

    def dh_private(self, group: DhGroup) -> int:
        """The next private value for ``group`` from its queue (or made on the spot)."""
        value = self._take(f"dh:{group.number}").value
        assert isinstance(value, int)
        return value

    def random_bytes(self, size: int, purpose: str = "random") -> bytes:
        """``size`` bytes for cookies, SPIs, IVs or padding, cut from buffered PRNG outputs."""
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        while len(self._buffer) < size:
            self._buffer += self._draw(purpose).output
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    # -- boot and timer -------------------------------------------------------------

    def fill(self) -> int:
        """Fill every queue completely in priority order (boot); return the values made."""
        made = 0
        for kind, capacity in self.capacity.items():
            queue = self._queues[kind]
            while len(queue) < capacity:
                queue.append(self._make(kind))
                made += 1
        self._last_tick = self._clock()
        return made

    def tick(self) -> str | None:
        """One timer firing: add ONE value to the highest-priority queue that is not full.

        Returns the kind refilled, or ``None`` when every queue is full.
        """
        for kind, capacity in self.capacity.items():
            queue = self._queues[kind]
            if len(queue) < capacity:
                queue.append(self._make(kind))
                return kind
        return None

    def advance(self, now: float | None = None) -> int:
        """Run one :meth:`tick` per whole second elapsed since the last; return ticks run."""
        now = self._clock() if now is None else now
        if self._last_tick is None:
            self._last_tick = now
            return 0
        ticks = int(now - self._last_tick)
        if ticks <= 0:
            return 0
        self._last_tick += ticks
        for _ in range(ticks):
            if self.tick() is None:
                break
        return ticks

    # -- inspection -----------------------------------------------------------------

    def queued(self, kind: str) -> tuple[QueuedValue, ...]:
        """The values waiting in queue ``kind`` ("nonce" or "dh:<group>"), oldest first."""
        return tuple(self._queues.get(kind, ()))

    def levels(self) -> dict[str, tuple[int, int]]:
        """``{kind: (filled, capacity)}`` in priority order."""
        return {kind: (len(self._queues[kind]), cap) for kind, cap in self.capacity.items()}

    def describe(self, last: int = 20) -> list[str]:
        """Debug lines for ``get prng``: queue levels, then the last ``last`` draws."""
        lines = [f"queue {kind:<7} {filled}/{cap}" for kind, (filled, cap) in self.levels().items()]
        taken_by_draw = {d: t for t in self.taken for d in t.draws}
        for draw in list(self.draws)[-last:]:
            use = taken_by_draw.get(draw.index)
            note = f" -> used at {use.when:.0f}" if use is not None else ""
            lines.append(f"draw {draw.index:>6} {draw.purpose:<7} {draw.output.hex()}{note}")
        return lines
