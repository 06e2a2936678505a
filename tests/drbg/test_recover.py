from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.drbg.curves import P256
from kleptolab.drbg.dualec import DualEcDrbg, dualec32, dualec_blocks
from kleptolab.drbg.recover import (
    SCREENOS_30_1,
    SCREENOS_30_2,
    SP800_90A_30_30,
    TRUNCATED_28,
    confirm_states,
    predict_output,
    recover_chunk,
    recover_states,
)
from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
from tests.drbg.conftest import AMBIGUOUS_SEED

WINDOW = 1 << 9  # reduced prefix width for the many-seed tests


def _window(r1: int, width: int = WINDOW) -> range:
    """A 2^9 slice of the 2^16 prefixes that holds the true one (reduced-width variant)."""
    true_prefix = r1 >> 240
    start = true_prefix - true_prefix % width
    return range(start, start + width)


def test_100_seeds_reduced_width_with_ambiguity(trapdoor):
    rng = random.Random(2015)
    ambiguous = 0
    for _ in range(100):
        seed = rng.getrandbits(256) | 1
        r1, _, s2 = dualec_blocks(seed, trapdoor.q)
        out, _ = dualec32(seed, trapdoor.q)
        nxt, _ = dualec32(s2, trapdoor.q)
        # 31 observed bytes: an 8-bit filter, so false survivors are common.
        found = recover_states(out[:31], trapdoor, SCREENOS_30_1, workers=1, prefixes=_window(r1))
        assert s2 in found
        ambiguous += len(found) > 1
        assert confirm_states(found, trapdoor, next_output=nxt) == [s2]
        strict = recover_states(out, trapdoor, workers=1, prefixes=_window(r1))
        assert s2 in strict and set(strict) <= set(found)
    assert ambiguous >= 20  # the ambiguous path was really exercised


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=1, max_value=2**256 - 1))
def test_recovery_predicts_the_next_block(trapdoor, seed):
    prng = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=trapdoor.q, seed=seed, bn2bin_quirk=False)
    nonce = prng.generate()
    r1, _, _ = dualec_blocks(seed, trapdoor.q)
    found = recover_states(nonce, trapdoor, workers=1, prefixes=_window(r1, 256))
    assert any(predict_output(s, trapdoor) == prng.generate() for s in found)


def test_confirm_with_predicate(trapdoor):
    _, s2 = dualec32(99, trapdoor.q)
    assert confirm_states([s2, s2 + 1], trapdoor, predicate=lambda s: s == s2) == [s2]
    with pytest.raises(ValueError, match="needs next_output, predicate, or both"):
        confirm_states([s2], trapdoor)


def test_recover_chunk_is_a_pure_work_unit(trapdoor):
    r1, _, s2 = dualec_blocks(1234, trapdoor.q)
    out, _ = dualec32(1234, trapdoor.q)
    window = _window(r1, 64)
    data = trapdoor.to_json()
    assert s2 in recover_chunk(out, data, window.start, window.stop)
    assert recover_chunk(out, data, window.start, window.stop) == recover_chunk(
        out, data, window.start, window.stop
    )
    assert recover_chunk(out, data, window.stop, window.stop + 64) == []


def test_layout_costs_and_refusals(trapdoor):
    assert SCREENOS_30_2.candidates == 2**16 and SCREENOS_30_2.mults_per_candidate == 2
    assert SP800_90A_30_30.mults_per_candidate == 3
    assert TRUNCATED_28.candidates == 2**32
    assert TRUNCATED_28.estimate_seconds() > 3600 > SCREENOS_30_2.estimate_seconds() * 100
    with pytest.raises(ValueError, match="raise max_candidates"):
        recover_states(bytes(28), trapdoor, TRUNCATED_28)
    with pytest.raises(ValueError, match="needs 32 observed bytes, got 31"):
        recover_states(bytes(31), trapdoor)
    with pytest.raises(ValueError, match="contiguous sub-range"):
        recover_states(bytes(32), trapdoor, prefixes=range(0, 2**17))


@pytest.mark.slow
def test_full_sweep_keeps_every_candidate(trapdoor):
    out, s2 = dualec32(AMBIGUOUS_SEED, trapdoor.q)
    nxt, _ = dualec32(s2, trapdoor.q)
    seen = []
    found = recover_states(
        out, trapdoor, workers=2, progress=lambda done, total: seen.append((done, total))
    )
    assert s2 in found and len(found) == 3  # never just the first hit
    assert seen[-1] == (2**16, 2**16) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert confirm_states(found, trapdoor, next_output=nxt) == [s2]


@pytest.mark.slow
def test_full_sweep_two_separate_sp800_90a_calls(trapdoor):
    drbg = DualEcDrbg(P256, "sha256", trapdoor.q)
    drbg.instantiate(bytes(range(16)), b"nonce")
    observed = drbg.generate(30) + drbg.generate(30)
    found = recover_states(observed, trapdoor, SP800_90A_30_30)
    assert found == [drbg.state]
    assert predict_output(found[0], trapdoor, SP800_90A_30_30) == drbg.generate(30)


@pytest.mark.slow
def test_full_sweep_under_the_bn2bin_quirk(trapdoor):
    seed = next(s for s in range(1, 5000) if (dualec_blocks(s, trapdoor.q)[0] >> 232) & 0xFF == 0)
    prng = ScreenOsPrng(PrngGeneration.DUALEC_X931, q=trapdoor.q, seed=seed)
    nonce = prng.generate()
    s2 = prng.dual_ec_state
    assert nonce[0] != 0
    assert s2 not in recover_states(nonce, trapdoor)  # the padded reading misses it
    found = recover_states(nonce, trapdoor, quirk_shifts=1)
    assert s2 in found
    assert confirm_states(found, trapdoor, next_output=prng.generate()) == [s2]
