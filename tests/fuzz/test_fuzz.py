"""Every fuzz target of :mod:`kleptolab.fuzz`, briefly, through Hypothesis (seeded with the project's own files).

CI runs ``KLEPTOLAB_FUZZ_EXAMPLES`` (default 60) mutated seeds and 30 raw
byte strings per target, a few seconds each; set it higher for a longer local
run (see the module docstring of :mod:`kleptolab.fuzz`).
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kleptolab.fuzz import TARGETS, mutate, run_one, seeds

EXAMPLES = int(os.environ.get("KLEPTOLAB_FUZZ_EXAMPLES", "60"))
NAMES = sorted(TARGETS)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_hold_the_contract(name: str) -> None:
    pool = seeds(name)
    assert pool, f"no seeds for {name}"
    for data in pool:
        run_one(name, data)


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(data=st.data())
def test_mutated_seeds_hold_the_contract(name: str, data: st.DataObject) -> None:
    pool = seeds(name)
    seed = data.draw(st.sampled_from(pool), label="seed")
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="rng"))
    run_one(name, mutate(rng, seed, pool))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=max(10, EXAMPLES // 2), deadline=None, database=None)
@given(blob=st.binary(max_size=512))
def test_raw_bytes_hold_the_contract(name: str, blob: bytes) -> None:
    run_one(name, blob)


def test_the_loop_entry_point_runs_bounded(tmp_path: object) -> None:
    from kleptolab.fuzz.__main__ import main

    assert main(["firmware", "--seconds", "0.5", "--out", str(tmp_path)]) == 0
