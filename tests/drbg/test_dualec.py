from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab.drbg import _reference
from kleptolab.drbg.constants import NIST_Q_P256, nist_q
from kleptolab.drbg.curves import P256, P384, P521
from kleptolab.drbg.dualec import DualEcDrbg, dualec32, hash_df, outlen
from kleptolab.drbg.vectors import DualEcVector, load_dualec_vectors
from tests.conftest import VECTORS

NIST_Q = (NIST_Q_P256.x, NIST_Q_P256.y)  # only to reproduce the published vectors
_FILES = ("dualec_p256_openssl_fips2_selftest.txt", "dualec_p256_bouncycastle.txt")
_VECTORS = [v for name in _FILES for v in load_dualec_vectors(VECTORS / name)]


def _run(v: DualEcVector, final_update: bool = True) -> tuple[bytes, bytes]:
    pending = [v.entropy_pr1, v.entropy_pr2]
    drbg = DualEcDrbg(
        v.curve,
        v.hash_name,
        NIST_Q,
        entropy_source=lambda _n: pending.pop(0),
        final_update=final_update,
    )
    drbg.instantiate(v.entropy, v.nonce, v.personalization)
    if v.prediction_resistance:
        first = drbg.generate(
            len(v.returned_bits1), v.additional_input1, prediction_resistance=True
        )
        second = drbg.generate(
            len(v.returned_bits2), v.additional_input2, prediction_resistance=True
        )
        return first, second
    first = drbg.generate(len(v.returned_bits1), v.additional_input1)
    if v.entropy_reseed:
        drbg.reseed(v.entropy_reseed, v.additional_input_reseed)
    return first, drbg.generate(len(v.returned_bits2), v.additional_input2)


def test_every_record_is_loaded():
    assert len(_VECTORS) == 18
    assert {len(v.returned_bits1) for v in _VECTORS} == {30, 60, 120}
    assert any(len(v.returned_bits2) == 119 for v in _VECTORS)  # partial final block


@pytest.mark.parametrize("vector", _VECTORS, ids=lambda v: v.where)
def test_known_answer(vector):
    assert _run(vector) == (vector.returned_bits1, vector.returned_bits2)


def test_vectors_fail_without_the_final_update():
    vector = next(v for v in _VECTORS if len(v.returned_bits1) == 60)
    assert _run(vector, final_update=False) != (vector.returned_bits1, vector.returned_bits2)


def test_hash_df_bit_lengths():
    stream = b"".join(
        hashlib.sha256(bytes([i]) + (521).to_bytes(4, "big") + b"abc").digest() for i in (1, 2, 3)
    )
    assert hash_df("sha256", b"abc", 521) == int.from_bytes(stream[:66], "big") >> 7
    assert hash_df("SHA-256", b"abc", 256).bit_length() <= 256
    with pytest.raises(ValueError, match="unsupported hash 'md5'"):
        hash_df("md5", b"", 256)


@pytest.mark.parametrize("curve", [P384, P521], ids=lambda c: c.name)
def test_larger_curves_match_the_reference_arithmetic(curve):
    q = _reference.mul(curve, 0xC0FFEE, curve.generator)
    assert q is not None
    drbg = DualEcDrbg(curve, "sha512", q)
    drbg.instantiate(bytes(range(32)), b"nonce")
    s = drbg.state
    out = drbg.generate(outlen(curve) + 5)
    size = outlen(curve)
    mask = (1 << (8 * size)) - 1
    s1 = _reference.mul_x(curve, s, curve.generator)
    s2 = _reference.mul_x(curve, s1, curve.generator)
    expected = (_reference.mul_x(curve, s1, q) & mask).to_bytes(size, "big")
    expected += (_reference.mul_x(curve, s2, q) & mask).to_bytes(size, "big")[:5]
    assert out == expected
    assert drbg.state == _reference.mul_x(curve, s2, curve.generator)
    assert outlen(curve) == {384: 46, 521: 63}[curve.bits]


def test_nist_points_for_larger_curves_are_accepted():
    for curve in (P384, P521):
        q = nist_q(curve)
        DualEcDrbg(curve, "sha512", (q.x, q.y)).instantiate(bytes(32))


def test_dualec32_matches_the_reference(trapdoor):
    state = 0xABCDEF
    out, s2 = dualec32(state, trapdoor.q)
    g = P256.generator
    s1 = _reference.mul_x(P256, state, g)
    assert s2 == _reference.mul_x(P256, s1, g)
    r1 = _reference.mul_x(P256, s1, trapdoor.q)
    r2 = _reference.mul_x(P256, s2, trapdoor.q)
    assert out == r1.to_bytes(32, "big")[2:] + r2.to_bytes(32, "big")[2:4]


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=2**256 - 1))
def test_dualec32_is_deterministic_and_chains(state):
    q = _reference.mul(P256, 7, P256.generator)
    assert q is not None
    first = dualec32(state, q)
    assert first == dualec32(state, q)
    assert len(first[0]) == 32
    assert dualec32(first[1], q)[0] != first[0]


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=16, max_size=40), st.binary(max_size=16))
def test_drbg_is_deterministic(entropy, adin):
    outputs = []
    for _ in range(2):
        drbg = DualEcDrbg(P256, "sha256", NIST_Q)
        drbg.instantiate(entropy)
        outputs.append(drbg.generate(45, adin))
    assert outputs[0] == outputs[1]


def test_parameter_errors():
    with pytest.raises(ValueError, match="too weak for P-521"):
        DualEcDrbg(P521, "sha1", nist_q(P521).y_candidates() and (nist_q(P521).x, nist_q(P521).y))
    with pytest.raises(ValueError, match="Q is not a point of P-256"):
        DualEcDrbg(P256, "sha256", (1, 1))
    drbg = DualEcDrbg(P256, "sha256", NIST_Q)
    with pytest.raises(ValueError, match="not instantiated"):
        drbg.generate(1)
    with pytest.raises(ValueError, match="entropy input is too short"):
        drbg.instantiate(bytes(15))
    drbg.instantiate(bytes(16))
    with pytest.raises(ValueError, match="no entropy source"):
        drbg.generate(1, prediction_resistance=True)
    with pytest.raises(ValueError, match="negative"):
        drbg.generate(-1)
    with pytest.raises(ValueError, match="Q is not a point"):
        dualec32(1, (0, 0))
