"""Pure-Python elliptic-curve arithmetic: the slow, obvious test oracle.

Jacobian coordinates for scalar multiplication, affine results.  ``None`` is
the point at infinity.  Used for known-answer cross-checks of the OpenSSL path
(:mod:`kleptolab.drbg._ec`) and as a portable fallback; never on a hot path.
"""

from __future__ import annotations

from kleptolab.drbg.curves import Curve

Point = tuple[int, int]
_Jac = tuple[int, int, int]


def _to_jac(pt: Point | None) -> _Jac:
    return (1, 1, 0) if pt is None else (pt[0], pt[1], 1)


def _from_jac(curve: Curve, pt: _Jac) -> Point | None:
    x, y, z = pt
    if z == 0:
        return None
    p = curve.p
    zi = pow(z, -1, p)
    zi2 = zi * zi % p
    return (x * zi2 % p, y * zi2 * zi % p)


def _double(curve: Curve, pt: _Jac) -> _Jac:
    x, y, z = pt
    p = curve.p
    if z == 0 or y == 0:
        return (1, 1, 0)
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + curve.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yy * yy) % p
    z3 = 2 * y * z % p
    return (x3, y3, z3)


def _add(curve: Curve, p1: _Jac, p2: _Jac) -> _Jac:
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    p = curve.p
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    if u1 == u2:
        return _double(curve, p1) if s1 == s2 else (1, 1, 0)
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = h * z1 * z2 % p
    return (x3, y3, z3)


def add(curve: Curve, p1: Point | None, p2: Point | None) -> Point | None:
    """``p1 + p2``."""
    return _from_jac(curve, _add(curve, _to_jac(p1), _to_jac(p2)))


def mul(curve: Curve, k: int, point: Point | None) -> Point | None:
    """``k * point`` by double-and-add (k taken mod n; not constant time)."""
    k %= curve.n
    acc: _Jac = (1, 1, 0)
    base = _to_jac(point)
    for bit in bin(k)[2:]:
        acc = _double(curve, acc)
        if bit == "1":
            acc = _add(curve, acc, base)
    return _from_jac(curve, acc)


def mul_x(curve: Curve, k: int, point: Point) -> int:
    """``x(k * point)``; ``ValueError`` when the result is the point at infinity."""
    result = mul(curve, k, point)
    if result is None:
        raise ValueError("scalar multiple is the point at infinity")
    return result[0]
