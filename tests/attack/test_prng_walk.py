"""Recover states from gateway nonces, walk forward, find DH keys (own and earlier nonces)."""

from __future__ import annotations

import pytest

from kleptolab.attack.prng_walk import Anchor, PrngWalker, walk_outputs
from kleptolab.drbg.recover import recover_states
from kleptolab.ike.dh import group_by_number

from .synth import foreign_q, gateway_prng, gateway_queues, lab_trapdoor

G2 = group_by_number(2)
TRAPDOOR = lab_trapdoor()


def _states(nonce: bytes) -> list[int]:
    return recover_states(nonce, TRAPDOOR, workers=2)


@pytest.fixture(scope="module")
def drained() -> dict[str, object]:
    """Dossier §4.2 'drained queue': connection B's key predates B's nonce.

    Boot fills nonces (draws 1-4) then MODP1024 keys (5, 6).  A takes nonce 1
    and key 5; phase-2 exchanges drain nonces 2-4; the timer refills nonces
    7-10; B takes nonce 7 and the stale key 6.
    """
    gw = gateway_queues(TRAPDOOR.q, {2: 2})
    na, xa = gw.nonce(), gw.dh_private(G2)
    for _ in range(3):
        gw.nonce()
    for _ in range(4):
        assert gw.tick() == "nonce"
    nb, xb = gw.nonce(), gw.dh_private(G2)
    draws = {t.value: t.draws for t in gw.taken}
    assert draws[nb] == (7,) and draws[xb] == (6,)
    return {"na": na, "xa": xa, "nb": nb, "xb": xb, "sa": _states(na), "sb": _states(nb)}


def test_walk_reproduces_the_device_outputs() -> None:
    prng = gateway_prng(TRAPDOOR.q, "walk")
    first = prng.generate()
    state = prng.dual_ec_state
    assert state is not None
    expected = [prng.generate() for _ in range(5)]
    assert walk_outputs(state, TRAPDOOR.q, 5, first) == expected


def test_walk_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="steps"):
        walk_outputs(1, TRAPDOOR.q, -1)
    with pytest.raises(ValueError, match="32 bytes"):
        walk_outputs(5, TRAPDOOR.q, 1, b"short")
    with pytest.raises(ValueError, match="at least one step"):
        PrngWalker(TRAPDOOR.q, steps=0)


def test_own_nonce_unlocks_its_key(drained: dict[str, object]) -> None:
    walker = PrngWalker(TRAPDOOR.q, steps=8)
    states = drained["sa"]
    assert isinstance(states, list) and states
    for s in states:
        walker.add(Anchor("A", "A Nr", 1, drained["na"], s))  # type: ignore[arg-type]
    match = walker.find_dh(G2, G2.public_value(drained["xa"]), prefer="A")  # type: ignore[arg-type]
    assert match is not None
    assert match.private == drained["xa"]
    assert match.draw.anchor.session == "A" and match.draw.offset == 4


def test_key_older_than_its_nonce_needs_an_earlier_connection(drained: dict[str, object]) -> None:
    kb = G2.public_value(drained["xb"])  # type: ignore[arg-type]
    alone = PrngWalker(TRAPDOOR.q, steps=16)
    for s in drained["sb"]:  # type: ignore[attr-defined]
        alone.add(Anchor("B", "B Nr", 2, drained["nb"], s))  # type: ignore[arg-type]
    assert alone.find_dh(G2, kb, prefer="B") is None

    both = PrngWalker(TRAPDOOR.q, steps=16)
    for s in drained["sb"]:  # type: ignore[attr-defined]
        both.add(Anchor("B", "B Nr", 2, drained["nb"], s))  # type: ignore[arg-type]
    for s in drained["sa"]:  # type: ignore[attr-defined]
        both.add(Anchor("A", "A Nr", 1, drained["na"], s))  # type: ignore[arg-type]
    match = both.find_dh(G2, kb, prefer="B")
    assert match is not None and match.private == drained["xb"]
    assert match.draw.anchor.session == "A" and match.draw.offset == 5
    # A's walk also predicts B's nonce (draw 7): that confirms B's state.
    refs = both.find_output(drained["nb"])  # type: ignore[arg-type]
    assert [(r.anchor.session, r.offset) for r in refs] == [("A", 6)]


def test_false_candidates_predict_nothing() -> None:
    """A nonce from a gateway with another Q: whatever survives the filter predicts no key."""
    gw = gateway_queues(foreign_q(), {2: 2}, seed_label="juniper")
    nonce, x = gw.nonce(), gw.dh_private(G2)
    walker = PrngWalker(TRAPDOOR.q, steps=8)
    for s in _states(nonce):
        walker.add(Anchor("J", "J Nr", 1, nonce, s))
    assert walker.find_dh(G2, G2.public_value(x)) is None
