"""NIST prime curves used by Dual_EC_DRBG (FIPS 186-4, D.1.2), as plain data.

A :class:`Curve` is ``y^2 = x^3 + a*x + b`` over GF(p) with base point
``G = (gx, gy)`` of prime order ``n`` (cofactor 1).  Dual EC's point P is the
generator G on every curve.  Points are ``(x, y)`` integer tuples; the point at
infinity is never a valid Dual EC point and has no representation here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CURVES", "P256", "P384", "P521", "Curve", "curve_by_name"]


@dataclass(frozen=True)
class Curve:
    """Domain parameters of a short-Weierstrass prime curve.

    ``size`` is the byte length of a field element (32, 48, 66).
    """

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int
    size: int

    @property
    def generator(self) -> tuple[int, int]:
        """The base point G, which Dual EC uses as P."""
        return (self.gx, self.gy)

    @property
    def bits(self) -> int:
        """Bit length of the field prime (Dual EC's ``seedlen``)."""
        return self.p.bit_length()

    def rhs(self, x: int) -> int:
        """``x^3 + a*x + b mod p``."""
        return (pow(x, 3, self.p) + self.a * x + self.b) % self.p

    def contains(self, point: tuple[int, int]) -> bool:
        """True when ``point`` is an affine point of this curve (coordinates reduced)."""
        x, y = point
        if not (0 <= x < self.p and 0 <= y < self.p):
            return False
        return (y * y - self.rhs(x)) % self.p == 0

    def is_x_coordinate(self, x: int) -> bool:
        """True when some point of the curve has x-coordinate ``x`` (Euler criterion)."""
        if not 0 <= x < self.p:
            return False
        v = self.rhs(x)
        return v == 0 or pow(v, (self.p - 1) // 2, self.p) == 1

    def lift_x(self, x: int, odd: bool = False) -> tuple[int, int]:
        """Return the point with x-coordinate ``x`` and the given y parity.

        Raises ``ValueError`` when ``x`` is not an x-coordinate of the curve.
        All three NIST primes are 3 mod 4, so the square root is one power.
        """
        if not 0 <= x < self.p:
            raise ValueError(f"x-coordinate out of range for {self.name}")
        v = self.rhs(x)
        y = pow(v, (self.p + 1) // 4, self.p)
        if y * y % self.p != v:
            raise ValueError(f"{x:#x} is not an x-coordinate of a {self.name} point")
        if (y & 1) != odd:
            y = (self.p - y) % self.p
        return (x, y)


P256 = Curve(
    name="P-256",
    p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    size=32,
)

_P384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1
P384 = Curve(
    name="P-384",
    p=_P384_P,
    a=_P384_P - 3,
    b=int(
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a"
        "c656398d8a2ed19d2a85c8edd3ec2aef",
        16,
    ),
    n=int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        16,
    ),
    gx=int(
        "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38"
        "5502f25dbf55296c3a545e3872760ab7",
        16,
    ),
    gy=int(
        "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0"
        "0a60b1ce1d7e819d7a431d7c90ea0e5f",
        16,
    ),
    size=48,
)

_P521_P = 2**521 - 1
P521 = Curve(
    name="P-521",
    p=_P521_P,
    a=_P521_P - 3,
    b=int(
        "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef1"
        "09e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b50"
        "3f00",
        16,
    ),
    n=int(
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        "fffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e9138"
        "6409",
        16,
    ),
    gx=int(
        "00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d"
        "3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5"
        "bd66",
        16,
    ),
    gy=int(
        "011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e"
        "662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd1"
        "6650",
        16,
    ),
    size=66,
)

CURVES: tuple[Curve, ...] = (P256, P384, P521)

_ALIASES = {
    "p-256": P256,
    "p256": P256,
    "secp256r1": P256,
    "prime256v1": P256,
    "p-384": P384,
    "p384": P384,
    "secp384r1": P384,
    "p-521": P521,
    "p521": P521,
    "secp521r1": P521,
}


def curve_by_name(name: str) -> Curve:
    """Return the curve called ``name`` ("P-256", "secp384r1", ...); ``ValueError`` otherwise."""
    curve = _ALIASES.get(name.strip().lower())
    if curve is None:
        raise ValueError(f"unknown curve {name!r}: expected one of P-256, P-384, P-521")
    return curve
