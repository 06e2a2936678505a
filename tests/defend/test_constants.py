"""The constant table: provenance, curve membership, and layout coverage."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from kleptolab.defend.constants import CONSTANTS, Verdict, constant_by_id
from kleptolab.defend.patterns import LIMB_LAYOUTS, binary_layouts, pattern_index
from kleptolab.drbg.curves import curve_by_name

_CRYPTO_CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


def test_ids_unique_and_every_row_has_a_source() -> None:
    ids = [c.id for c in CONSTANTS]
    assert len(ids) == len(set(ids))
    assert all(c.source.strip() for c in CONSTANTS)
    assert {c.verdict for c in CONSTANTS} >= {Verdict.KNOWN_GOOD, Verdict.KNOWN_BAD, Verdict.CURVE}


def test_points_lie_on_their_curves() -> None:
    """Every P/Q with both coordinates is accepted by OpenSSL; x-only values are x-coordinates."""
    by_key = {(c.curve, c.role, c.source): c for c in CONSTANTS}
    checked = 0
    for c in CONSTANTS:
        if c.role not in ("Px", "Qx"):
            continue
        assert c.curve is not None and c.value is not None
        curve = curve_by_name(c.curve)
        assert curve.is_x_coordinate(c.value), c.id
        partner = by_key.get((c.curve, "Py" if c.role == "Px" else "Qy", c.source))
        if partner is not None and partner.value is not None:
            assert curve.contains((c.value, partner.value)), c.id
            ec.EllipticCurvePublicNumbers(c.value, partner.value, _CRYPTO_CURVES[c.curve]).public_key()
            checked += 1
    assert checked == 6  # generator and NIST Q on three curves


def test_curve_parameters_match_openssl() -> None:
    for name, crypto_curve in _CRYPTO_CURVES.items():
        curve = curve_by_name(name)
        slug = name.lower().replace("-", "")
        assert constant_by_id(f"{slug}-n").value == curve.n
        # n-1 times G is -G: this checks n, Gx, Gy (and p through the negation)
        key = ec.derive_private_key(curve.n - 1, crypto_curve).public_key().public_numbers()
        assert (key.x, key.y) == (curve.gx, curve.p - curve.gy)
        assert constant_by_id(f"{slug}-a").value == curve.p - 3


def test_historic_values_are_exact() -> None:
    assert constant_by_id("unauthorized-2012-p256-qx").hex.upper() == (
        "9585320EEAF81044F20D55030A035B11BECE81C785E6C933E4A8A131F6578107")
    assert constant_by_id("juniper-p256-qx").hex == (
        "2c55e5e45edf713dc43475effe8813a60326a64d9ba3d2e39cb639b0f3b0ad10")
    assert constant_by_id("screenos-master-password").text == "<<< %s(un='%s') = %u"
    assert constant_by_id("unauthorized-2012-p256-qx").verdict is Verdict.KNOWN_BAD
    assert constant_by_id("nist-p256-qx").verdict is Verdict.KNOWN_GOOD


def test_layouts_are_permutations_of_the_value() -> None:
    c = constant_by_id("nist-p256-qx")
    layouts = {p.variant: p.data for p in binary_layouts(c)}
    assert set(layouts) == {"be", "le", *LIMB_LAYOUTS}
    assert layouts["le"] == layouts["be"][::-1]
    assert layouts["be32-lslf"][:4] == layouts["be"][-4:]
    assert layouts["le64-mslf"][:8] == layouts["be"][:8][::-1]
    p521 = {p.variant: p.data for p in binary_layouts(constant_by_id("p521-gx"))}
    assert len(p521["be"]) == 65  # leading zero stripped; found with or without it
    assert len(p521["be64-lslf"]) == 72


def test_every_layout_is_guaranteed_by_anchors_or_fallback() -> None:
    index = pattern_index()
    assert index.best_effort == ()
    assert len(index.patterns) > 100
