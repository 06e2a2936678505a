from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kleptolab.drbg.vectors import load_x931_botan, load_x931_rngvs
from kleptolab.drbg.x931 import X931Rng
from tests.conftest import VECTORS


def _run(vectors):
    return [
        v.where
        for v in vectors
        if X931Rng(v.cipher, v.key, v.v).monte_carlo(v.dt, v.iterations) != v.r
    ]


def test_all_512_botan_records():
    vectors = load_x931_botan(VECTORS / "x931_botan.vec")
    assert len(vectors) == 512
    assert _run(vectors) == []


def test_rngvs_samples_including_10000_iteration_mct():
    vectors = load_x931_rngvs(VECTORS / "x931_aes_rngvs_samples.txt")
    assert len(vectors) == 22
    assert _run(vectors) == []


def test_a_wrong_answer_is_detected():
    v = load_x931_botan(VECTORS / "x931_botan.vec")[-1]
    assert v.cipher == "TDES-3KEY"
    rng = X931Rng(v.cipher, v.key, v.v)
    assert rng.step(bytes(8)) != v.r  # a different DT gives a different R


def test_step_updates_v():
    rng = X931Rng("3DES", bytes(range(24)), bytes(8))
    first = rng.step(bytes(8))
    assert rng.v != bytes(8)
    assert rng.step(bytes(8)) != first


@given(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=16, max_size=16),
)
def test_determinism(key, v, dt):
    assert X931Rng("AES-128", key, v).step(dt) == X931Rng("AES-128", key, v).step(dt)


@pytest.mark.parametrize(
    ("cipher", "key", "v", "message"),
    [
        ("RC4", bytes(16), bytes(16), "unknown X9.31 cipher 'RC4'"),
        ("AES-128", bytes(15), bytes(16), "AES-128 needs a 16-byte key, got 15"),
        ("TDES-2KEY", bytes(range(24)), bytes(8), "must repeat K1 as K3"),
        ("TDES-3KEY", bytes(24), bytes(16), "V must be 8 bytes"),
    ],
)
def test_bad_parameters(cipher, key, v, message):
    with pytest.raises(ValueError, match=message):
        X931Rng(cipher, key, v)


def test_bad_dt_and_iterations():
    rng = X931Rng("AES-256", bytes(32), bytes(16))
    with pytest.raises(ValueError, match="DT must be 16 bytes"):
        rng.step(bytes(8))
    with pytest.raises(ValueError, match="at least 1"):
        rng.monte_carlo(bytes(16), 0)
