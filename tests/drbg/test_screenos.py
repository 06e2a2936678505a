from __future__ import annotations

import itertools

import pytest

from kleptolab.drbg.dualec import dualec32, dualec_blocks
from kleptolab.drbg.screenos import (
    KAT_SEED,
    PrngGeneration,
    ScreenOsPrng,
    SelfTestError,
    kat_expected,
    self_test,
)
from kleptolab.drbg.x931 import X931Rng
from tests.drbg.conftest import make_trapdoor

DUAL = PrngGeneration.DUALEC_X931
SEED = 0x5EED


def _counter(start: int = 1000):
    values = itertools.count(start, 7919)
    return lambda: next(values)


def _prng(trapdoor, **kwargs):
    kwargs.setdefault("cycle_counter", _counter())
    return ScreenOsPrng(DUAL, q=trapdoor.q, seed=kwargs.pop("seed", SEED), **kwargs)


def test_default_output_is_raw_dual_ec(trapdoor):
    prng = _prng(trapdoor, bn2bin_quirk=False)
    state = SEED
    for _ in range(4):
        expected, state = dualec32(state, trapdoor.q)
        assert prng.generate() == expected
        assert prng.dual_ec_state == state  # no extra update between calls
    assert prng.calls == 4
    assert prng.prng_output_index == 32  # the global index left behind by prng_reseed()


def test_fixing_the_global_index_lets_x931_run(trapdoor):
    buggy = _prng(trapdoor, bn2bin_quirk=False)
    fixed = _prng(trapdoor, bn2bin_quirk=False, fix_cascade_bug=True, cycle_counter=lambda: 42)
    raw = buggy.generate()
    out = fixed.generate()
    assert out != raw
    dt = bytes(4) + (42).to_bytes(4, "big")
    x931 = X931Rng("TDES-3KEY", raw[8:], raw[:8])  # seed = bytes 0-7, key = bytes 8-31
    assert out == b"".join(x931.step(dt) for _ in range(4))


def test_one_stage_rng_stops_reseeding(trapdoor):
    prng = _prng(trapdoor, bn2bin_quirk=False, cycle_counter=lambda: 7)
    first = prng.generate()  # reseeds: raw Dual EC = seed || key
    state = prng.dual_ec_state
    prng.one_stage_rng = True  # as "set key one-stage-rng" at runtime
    second = prng.generate()
    assert prng.dual_ec_state == state  # Dual EC was not called
    x931 = X931Rng("TDES-3KEY", first[8:], first[:8])
    dt = bytes(4) + (7).to_bytes(4, "big")
    assert second == b"".join(x931.step(dt) for _ in range(4))
    prng.one_stage_rng = False
    assert prng.generate() == dualec32(state, trapdoor.q)[0]


def test_cycle_counter_feeds_dt(trapdoor):
    a = _prng(trapdoor, fix_cascade_bug=True, cycle_counter=lambda: 1)
    b = _prng(trapdoor, fix_cascade_bug=True, cycle_counter=lambda: 2)
    assert a.generate() != b.generate()


def _quirk_seed(trapdoor, block: int):
    """A seed whose first dualec32 call has a leading zero byte in block 1 or 2."""
    for seed in range(1, 5000):
        r1, r2, _ = dualec_blocks(seed, trapdoor.q)
        if ((r1, r2)[block] >> 232) & 0xFF == 0:
            return seed
    raise AssertionError("no seed found")


@pytest.mark.parametrize("block", [0, 1])
def test_bn2bin_quirk_never_writes_zero_at_bytes_0_and_30(trapdoor, block):
    seed = _quirk_seed(trapdoor, block)
    padded = _prng(trapdoor, seed=seed, bn2bin_quirk=False)
    quirky = _prng(trapdoor, seed=seed)
    quirky.prng_temporary[:] = b"\xaa" * 32  # previous buffer content
    raw = padded.generate()
    out = quirky.generate()
    offset = 30 * block
    assert raw[offset] == 0 and out[offset] != 0
    if block == 0:
        value = raw[:30].lstrip(b"\x00")
        assert out[: len(value)] == value
        assert out[len(value) : 30] == b"\xaa" * (30 - len(value))  # stale tail
        assert out[30:] == raw[30:]
    else:
        assert out[:30] == raw[:30]
        assert out[30:] != raw[30:]


def test_screenos_61_x931_only_with_periodic_reseed():
    calls = []

    def entropy(n: int) -> bytes:
        calls.append(n)
        return bytes([len(calls)]) * n

    prng = ScreenOsPrng(
        PrngGeneration.X931_ONLY,
        q=None,
        seed=1,
        entropy=entropy,
        cycle_counter=lambda: 3,
        reseed_period=3,
    )
    assert prng.dual_ec_state is None
    assert calls == [32]  # boot
    outs = [prng.generate() for _ in range(3)]
    assert all(len(o) == 20 for o in outs) and calls == [32]
    prng.generate()
    assert calls == [32, 32]
    x931 = X931Rng("TDES-3KEY", bytes([1]) * 24, bytes([1]) * 8)
    dt = bytes(4) + (3).to_bytes(4, "big")
    assert outs[0] == b"".join(x931.step(dt) for _ in range(3))[:20]


def test_screenos_61_default_period_is_10000():
    count = [0]

    def entropy(n: int) -> bytes:
        count[0] += 1
        return bytes(n)

    prng = ScreenOsPrng(
        PrngGeneration.X931_ONLY, q=None, seed=1, entropy=entropy, cycle_counter=lambda: 0
    )
    for _ in range(10_000):
        prng.generate()
    assert count[0] == 1
    prng.generate()
    assert count[0] == 2


def test_constructor_errors(trapdoor):
    with pytest.raises(ValueError, match="needs a Dual EC point Q"):
        ScreenOsPrng(DUAL, q=None, seed=1)
    with pytest.raises(ValueError, match="q must be None"):
        ScreenOsPrng(PrngGeneration.X931_ONLY, q=trapdoor.q, seed=1)
    with pytest.raises(ValueError, match="not a point of P-256"):
        ScreenOsPrng(DUAL, q=(1, 2), seed=1)
    with pytest.raises(ValueError, match="positive 256-bit"):
        ScreenOsPrng(DUAL, q=trapdoor.q, seed=0)


def test_kat_per_q(trapdoor):
    expected = kat_expected(trapdoor.q)
    assert expected == dualec32(KAT_SEED, trapdoor.q)[0]
    self_test(trapdoor.q)
    self_test(trapdoor.q, expected)
    other = make_trapdoor(0xBEEF)
    assert kat_expected(other.q) != expected
    with pytest.raises(SelfTestError, match="Dual EC KAT failed"):
        self_test(other.q, expected)  # Q swapped without updating the stored KAT
