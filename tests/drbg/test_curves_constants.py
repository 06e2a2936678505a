from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kleptolab.drbg import _ec, _reference
from kleptolab.drbg.constants import HISTORIC_QS, JUNIPER_QX, UNAUTHORIZED_QX, nist_q
from kleptolab.drbg.curves import CURVES, P256, P384, P521, curve_by_name


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: c.name)
def test_generator_and_order_agree_with_openssl(curve):
    assert curve.contains(curve.generator)
    assert _reference.mul(curve, curve.n, curve.generator) is None
    assert (
        _reference.add(curve, curve.generator, _reference.mul(curve, curve.n - 1, curve.generator))
        is None
    )
    for k in (1, 2, secrets.randbelow(curve.n - 1) + 1):
        assert _ec.base_mult(curve, k) == _reference.mul(curve, k, curve.generator)
    assert curve.size == (curve.bits + 7) // 8


def test_openssl_and_reference_variable_base_agree():
    point = _ec.base_mult(P384, 12345)
    k = secrets.randbelow(P384.n)
    assert _ec.mult_x(P384, k, point) == _reference.mul_x(P384, k, point)


def test_curve_by_name():
    assert curve_by_name("P-256") is P256
    assert curve_by_name("secp384r1") is P384
    assert curve_by_name(" p521 ") is P521
    with pytest.raises(ValueError, match="unknown curve 'P-224'"):
        curve_by_name("P-224")


def test_lift_x_rejects_non_coordinates():
    x = next(x for x in range(1, 100) if not P256.is_x_coordinate(x))
    with pytest.raises(ValueError, match="not an x-coordinate"):
        P256.lift_x(x)
    with pytest.raises(ValueError, match="out of range"):
        P256.lift_x(P256.p)
    assert not P256.contains((P256.gx, P256.gy + 1))


@pytest.mark.parametrize("q", HISTORIC_QS, ids=lambda q: q.name)
def test_historic_q_lies_on_its_curve(q):
    """Data check only: the historic points are never used for generation or attacks."""
    assert q.curve.is_x_coordinate(q.x)
    ys = q.y_candidates()
    assert all(q.curve.contains((q.x, y)) for y in ys)
    if q.y is not None:
        assert q.y in ys
        ec.EllipticCurvePublicNumbers(
            q.x, q.y, _ec.ec_curve(q.curve)
        ).public_key()  # OpenSSL agrees
    assert q.provenance


def test_screenos_q_data_matches_dossier():
    assert JUNIPER_QX.y_candidates()[0] == int(
        "de9d6f0a151d6d34761bcf35cb11e10de2eb7f7eda212c46473939db2a40ffd4", 16
    )
    assert UNAUTHORIZED_QX.y_candidates()[0] == int(
        "5042b7e66d66a7b38582406a6c19dfa28b2e236038c6c9a78dd91cf4a03c3dda", 16
    )
    assert JUNIPER_QX.firmware_text == JUNIPER_QX.x_hex  # stored lower case
    assert UNAUTHORIZED_QX.firmware_text == UNAUTHORIZED_QX.x_hex.upper()  # stored upper case
    assert nist_q(P521).curve is P521
