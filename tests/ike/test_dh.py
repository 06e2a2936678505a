"""Diffie-Hellman groups: known primes, agreement, and rejection of invalid public values."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kleptolab.ike.dh import GROUPS, group_by_number


def _probably_prime(n: int, rounds: int = 8) -> bool:
    """Miller-Rabin with fixed bases (deterministic for the test)."""
    if n < 4:
        return n in (2, 3)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in [2, 3, 5, 7, 11, 13, 17, 19][:rounds]:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


MODP_BITS = {1: 768, 2: 1024, 5: 1536, 14: 2048}


@pytest.mark.parametrize("number", sorted(MODP_BITS))
def test_modp_primes_are_the_rfc_safe_primes(number: int) -> None:
    group = group_by_number(number)
    p = group.modulus
    bits = MODP_BITS[number]
    assert p.bit_length() == bits and group.size * 8 == bits
    # RFC 2409/3526 primes: top and bottom 64 bits all ones, p and (p-1)/2 prime
    assert p >> (bits - 64) == 2**64 - 1 and p & (2**64 - 1) == 2**64 - 1
    assert _probably_prime(p) and _probably_prime((p - 1) // 2)
    assert pow(2, (p - 1) // 2, p) == 1  # 2 generates the prime-order subgroup


@pytest.mark.parametrize(("number", "curve"), [(19, ec.SECP256R1()), (20, ec.SECP384R1())])
def test_ecp_groups_match_the_nist_curves(number: int, curve: ec.EllipticCurve) -> None:
    group = group_by_number(number)
    assert group.kind == "ecp" and group.size * 8 == curve.key_size
    assert group.order.bit_length() == curve.key_size and _probably_prime(group.order)


@pytest.mark.parametrize("number", sorted(GROUPS))
def test_agreement(number: int) -> None:
    group = GROUPS[number]
    rng = random.Random(number)
    a = group.private_from_prng(lambda: rng.randbytes(64), 32)
    b = group.private_from_prng(lambda: rng.randbytes(64), 32)
    pa, pb = group.public_value(a), group.public_value(b)
    assert len(pa) == group.public_size
    group.validate_public(pa)
    shared = group.shared_secret(a, pb)
    assert shared == group.shared_secret(b, pa) and len(shared) == group.size


@pytest.mark.parametrize("number", sorted(MODP_BITS))
def test_invalid_modp_publics_are_rejected(number: int) -> None:
    group = GROUPS[number]
    p, size = group.modulus, group.size
    for bad in (0, 1, p - 1, p, p + 1):
        data = bad.to_bytes(size + 1, "big")[-size:] if bad < 1 << (8 * size) else b"\xff" * size
        with pytest.raises(ValueError, match=r"outside \(1, p-1\)"):
            group.shared_secret(2, data)
    with pytest.raises(ValueError, match=f"must be {size} bytes, got {size - 1}"):
        group.validate_public(bytes(size - 1))


@pytest.mark.parametrize("number", [19, 20])
def test_invalid_ecp_publics_are_rejected(number: int) -> None:
    group = GROUPS[number]
    with pytest.raises(ValueError, match="not a point on the curve"):
        group.validate_public(b"\x01" * (2 * group.size))
    with pytest.raises(ValueError, match=r"x ‖ y"):
        group.validate_public(b"\x01" * group.size)


def test_private_values_and_lookup() -> None:
    g2 = GROUPS[2]
    assert g2.private_from_prng(lambda: b"\x00" * 32, 20) == 2  # never 0 or 1
    assert g2.private_from_prng(lambda: bytes(range(32)), 20) == int.from_bytes(
        bytes(range(20)), "big"
    )
    with pytest.raises(ValueError, match="shorter than the 20-byte exponent"):
        g2.private_from_prng(lambda: b"\x01" * 10, 20)
    with pytest.raises(ValueError, match="private value out of range"):
        g2.public_value(0)
    p19 = GROUPS[19].private_from_prng(lambda: b"\xff" * 16)
    assert 1 <= p19 < GROUPS[19].order
    with pytest.raises(
        ValueError, match=r"unsupported DH group 3; supported: \[1, 2, 5, 14, 19, 20\]"
    ):
        group_by_number(3)
