"""Predict before sweeping: nonces an earlier state's walk predicts cost no 2^16 sweep."""

from __future__ import annotations

import os
from pathlib import Path

from kleptolab.attack.anchoring import CACHE, PREDICTED, SWEEP, Sighting, anchor_nonces
from kleptolab.attack.decryptor import decrypt_capture
from kleptolab.attack.engine import make_engine
from kleptolab.attack.prng_walk import Anchor, PrngWalker, walk_outputs
from kleptolab.attack.recovery import StateCache
from kleptolab.device.queues import PrngQueues
from kleptolab.drbg.screenos import ScreenOsPrng
from kleptolab.ike.dh import group_by_number

from .conftest import TRAPDOOR
from .synth import gateway_prng, gateway_queues, ikev2_capture

G2 = group_by_number(2)


class RecordingPrng:
    """The gateway PRNG, remembering the Dual EC state after each output (the test's oracle)."""

    def __init__(self, prng: ScreenOsPrng) -> None:
        self.prng = prng
        self.state_after: dict[bytes, int] = {}

    def generate(self) -> bytes:
        out = self.prng.generate()
        assert self.prng.dual_ec_state is not None
        self.state_after[out] = self.prng.dual_ec_state
        return out


def _recording_gateway(label: str) -> tuple[RecordingPrng, PrngQueues]:
    prng = RecordingPrng(gateway_prng(TRAPDOOR.q, label))
    gw = PrngQueues(prng, {2: 2}, nonce_size=32, clock=lambda: 0.0)
    gw.fill()
    return prng, gw


def _nonce_draws(gw: PrngQueues) -> dict[bytes, int]:
    return {t.value: t.draws[0] for t in gw.taken if t.kind == "nonce" and isinstance(t.value, bytes)}


def test_one_sweep_then_every_later_nonce_is_predicted() -> None:
    """A fake sweep hands over the true state of the first nonce; the walk predicts the rest."""
    prng, gw = _recording_gateway("anchoring-unit")
    nonces = []
    for _ in range(6):  # a responder's order: DH value, nonce, SPI; the timer refills between
        gw.dh_private(G2)
        nonces.append(gw.nonce())
        gw.random_bytes(8, "spi")
        gw.tick()
    swept: list[list[bytes]] = []

    def sweep(batch: list[bytes]) -> dict[bytes, list[int]]:
        swept.append(batch)
        return {n: [prng.state_after[n]] for n in batch}

    walker = PrngWalker(TRAPDOOR.q, steps=16)
    sightings = [Sighting(f"s{i}", "Nr", n, i) for i, n in enumerate(nonces)]
    found = anchor_nonces(list(reversed(sightings)), walker, sweep, StateCache())
    assert swept == [[nonces[0]]]  # capture order, whatever order the sightings came in
    draws = _nonce_draws(gw)
    assert found[nonces[0]].how == SWEEP and found[nonces[0]].describe() == "sweep"
    for i, n in enumerate(nonces[1:], start=1):
        rec = found[n]
        assert rec.how == PREDICTED and rec.source is not None and rec.states == 1
        assert rec.source.anchor.session == f"s{i - 1}"  # the latest earlier walk predicts it
        assert rec.source.offset == draws[n] - draws[nonces[i - 1]]
        assert rec.describe() == f"predicted from s{i - 1} draw {rec.source.offset}"
        assert rec.to_json()["draw"] == rec.source.offset
    # the predicted anchor's walk equals a fresh walk from the true state
    last = next(a for a in walker.anchors if a.nonce == nonces[-1])
    assert last.state == prng.state_after[nonces[-1]]


def test_unrelated_nonces_are_swept_in_doubling_batches() -> None:
    walker = PrngWalker(TRAPDOOR.q, steps=4)
    nonces = [os.urandom(32) for _ in range(10)]
    cache = StateCache()
    cache.put(nonces[3], [12345])
    batches: list[int] = []

    def sweep(batch: list[bytes]) -> dict[bytes, list[int]]:
        batches.append(len(batch))
        return {n: [] for n in batch}

    found = anchor_nonces([Sighting(f"s{i}", "Nr", n, i) for i, n in enumerate(nonces)], walker, sweep, cache)
    assert batches == [1, 2, 4, 2]
    assert found[nonces[3]].how == CACHE and found[nonces[3]].states == 1
    assert sum(r.how == SWEEP for r in found.values()) == 9
    assert [a.state for a in walker.anchors] == [12345]


def test_reanchored_walk_reuses_the_predicting_walk() -> None:
    prng = gateway_prng(TRAPDOOR.q, "reuse")
    first = prng.generate()
    state = prng.dual_ec_state
    assert state is not None
    outputs = [prng.generate() for _ in range(16)]
    walker = PrngWalker(TRAPDOOR.q, steps=8)
    walker.add(Anchor("A", "Nr", 1, first, state))
    [anchor] = walker.reanchor(outputs[4], "B", "Nr", 2)
    assert walker.source(anchor) is not None and walker.source(anchor).offset == 5  # type: ignore[union-attr]
    assert walk_outputs(anchor.state, TRAPDOOR.q, 8, outputs[4]) == outputs[5:13]
    # B's walk = A's outputs 6..8 reused + 5 new calls, and the new ones match the device
    assert {(r.anchor.session, r.offset) for r in walker.find_output(outputs[12])} == {("B", 8)}
    assert {(r.anchor.session, r.offset) for r in walker.find_output(outputs[7])} == {("A", 8), ("B", 3)}
    assert walker.predicts(outputs[11]) and not walker.predicts(first)


def test_capture_of_one_gateway_costs_one_sweep_and_the_cache_spares_it(tmp_path: Path) -> None:
    gw_sessions = 6
    gw = gateway_queues(TRAPDOOR.q, {2: 2}, seed_label="one-sweep")
    cap = tmp_path / "c.pcap"
    sent = ikev2_capture(cap, gw, gw_sessions)
    cache = StateCache(tmp_path / "cache.json")
    result = decrypt_capture(cap, TRAPDOOR, make_engine("local", 2), cache)
    report = result.report
    assert report["nonce_recovery"] == {SWEEP: 1, PREDICTED: gw_sessions - 1, CACHE: 0}
    sessions = report["sessions"]
    draws = _nonce_draws(gw)
    by_id = {s["id"]: s for s in sessions}
    assert sessions[0]["recovered_by"] == "sweep"
    for s in sessions[1:]:
        assert "failure" not in s, s
        src = s["recovery"]["from_session"]
        assert src in by_id and by_id[src]["first_frame"] < s["first_frame"]
        offset = draws[bytes.fromhex(s["nr"])] - draws[bytes.fromhex(by_id[src]["nr"])]
        assert s["recovered_by"] == f"predicted from {src} draw {offset}"
    assert sorted(p for _, p in result.plaintext) == sorted(p for s in sent for p in s.inner)

    cache.save()
    again = decrypt_capture(cap, TRAPDOOR, make_engine("local", 2), StateCache(cache.path))
    assert again.report["nonce_recovery"] == {SWEEP: 0, PREDICTED: gw_sessions - 1, CACHE: 1}
    assert again.report["timings"]["sweep_s"] == 0
    assert len(StateCache(cache.path)) == gw_sessions  # the SQLite store kept every nonce's state
    assert sorted(p for _, p in again.plaintext) == sorted(p for _, p in result.plaintext)
