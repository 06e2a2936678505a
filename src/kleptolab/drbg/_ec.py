"""Fast elliptic-curve x-coordinates through ``cryptography`` (OpenSSL).

``cryptography`` has no "multiply a point" call, but Dual EC only needs
x-coordinates, and those it gives: ``k*G`` is ``derive_private_key(k)``'s
public key, and ``x(k*R)`` is the ECDH shared secret of ``k`` and ``R``.
Scalars are reduced mod n (all NIST curves have cofactor 1); a zero scalar
would give the point at infinity and raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kleptolab.drbg.curves import P256, P384, P521, Curve

try:  # optional: a much faster quadratic-residue test
    import gmpy2
except ImportError:  # pragma: no cover - exercised only without gmpy2
    gmpy2 = None

Point = tuple[int, int]
_ECDH = ec.ECDH()


def x_prefilter(curve: Curve) -> Callable[[int], bool]:
    """A cheap test that rejects most x that are not on ``curve`` (x >= p, or x³+ax+b a non-residue).

    It never rejects a valid x-coordinate; without gmpy2 only the range check runs,
    and decompression rejects the rest.
    """
    p, a, b = curve.p, curve.a, curve.b
    if gmpy2 is None:
        return lambda x: x < p
    jacobi, mpz = gmpy2.jacobi, gmpy2.mpz
    gp, ga, gb = mpz(p), mpz(a), mpz(b)

    def maybe_on_curve(x: int) -> bool:
        if x >= p:
            return False
        gx = mpz(x)
        return bool(jacobi((gx * gx + ga) * gx + gb, gp) != -1)

    return maybe_on_curve


@cache
def ec_curve(curve: Curve) -> ec.EllipticCurve:
    """The ``cryptography`` curve object for ``curve``."""
    if curve == P256:
        return ec.SECP256R1()
    if curve == P384:
        return ec.SECP384R1()
    if curve == P521:
        return ec.SECP521R1()
    raise ValueError(f"curve {curve.name} is not supported by the OpenSSL backend")


def _scalar(curve: Curve, k: int) -> int:
    k %= curve.n
    if k == 0:
        raise ValueError("scalar is 0 mod n: the result is the point at infinity")
    return k


def private_key(curve: Curve, k: int) -> ec.EllipticCurvePrivateKey:
    """An OpenSSL private key for scalar ``k`` (mod n)."""
    return ec.derive_private_key(_scalar(curve, k), ec_curve(curve))


def base_mult(curve: Curve, k: int) -> Point:
    """``k * G`` as an affine point."""
    numbers = private_key(curve, k).public_key().public_numbers()
    return (numbers.x, numbers.y)


def base_mult_x(curve: Curve, k: int) -> int:
    """``x(k * G)`` (fixed-base: OpenSSL's precomputed generator tables)."""
    encoded = (
        private_key(curve, k).public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    )
    return int.from_bytes(encoded[1:], "big")


@lru_cache(maxsize=64)
def public_key(curve: Curve, point: Point) -> ec.EllipticCurvePublicKey:
    """A validated OpenSSL public key for ``point``; ``ValueError`` if not on the curve."""
    if not curve.contains(point):
        raise ValueError(f"point is not on {curve.name}")
    return ec.EllipticCurvePublicNumbers(point[0], point[1], ec_curve(curve)).public_key()


def mult_x(curve: Curve, k: int, point: Point) -> int:
    """``x(k * point)`` for any point of the curve."""
    if point == curve.generator:
        return base_mult_x(curve, k)
    shared = private_key(curve, k).exchange(_ECDH, public_key(curve, point))
    return int.from_bytes(shared, "big")
