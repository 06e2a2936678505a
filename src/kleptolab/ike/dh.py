"""Diffie-Hellman groups for IKE: MODP 1, 2, 5, 14 (RFC 2409/3526) and ECP 19, 20 (RFC 5903).

Private values are integers; public values and shared secrets are the wire
encodings (MODP: big-endian, zero-padded to the modulus length; ECP: x ‖ y for
the KE payload and x alone as the shared secret).  ScreenOS drew its private
values from its PRNG: ``private_from_prng`` is that cut, shared by the
gateway and the attacker so both agree byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

_MODP_768 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
    16,
)
_MODP_1024 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)
_MODP_1536 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
    16,
)
_MODP_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)

_EC_CURVES: dict[int, tuple[ec.EllipticCurve, int]] = {
    19: (
        ec.SECP256R1(),
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    20: (
        ec.SECP384R1(),
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
    ),
}


@dataclass(frozen=True)
class DhGroup:
    """One IKE DH group; ``size`` is the byte length of the shared secret."""

    number: int
    name: str
    kind: str  # "modp" or "ecp"
    size: int
    modulus: int = 0  # MODP prime p (generator 2)
    order: int = 0  # ECP group order n

    @property
    def public_size(self) -> int:
        """Length of the KE payload's key exchange data."""
        return self.size if self.kind == "modp" else 2 * self.size

    def public_value(self, private: int) -> bytes:
        """Return the KE data g^x (MODP) or x ‖ y of x·G (ECP)."""
        self._check_private(private)
        if self.kind == "modp":
            return pow(2, private, self.modulus).to_bytes(self.size, "big")
        key = ec.derive_private_key(private, _EC_CURVES[self.number][0])
        numbers = key.public_key().public_numbers()
        return numbers.x.to_bytes(self.size, "big") + numbers.y.to_bytes(self.size, "big")

    def shared_secret(self, private: int, peer_public: bytes) -> bytes:
        """Return g^xy (padded to the modulus) or the x coordinate of x·Y (RFC 5903)."""
        self._check_private(private)
        if self.kind == "modp":
            peer = self._check_modp_public(peer_public)
            return pow(peer, private, self.modulus).to_bytes(self.size, "big")
        curve = _EC_CURVES[self.number][0]
        peer_key = self._load_ec_public(curve, peer_public)
        key = ec.derive_private_key(private, curve)
        return key.exchange(ec.ECDH(), peer_key)

    def validate_public(self, peer_public: bytes) -> None:
        """Raise ``ValueError`` unless ``peer_public`` is a valid public value of this group."""
        if self.kind == "modp":
            self._check_modp_public(peer_public)
        else:
            self._load_ec_public(_EC_CURVES[self.number][0], peer_public)

    def private_from_prng(self, next_output: Callable[[], bytes], exponent_bytes: int = 20) -> int:
        """Cut a private value from PRNG outputs as the emulated firmware does.

        MODP: the first ``exponent_bytes`` bytes of one PRNG output (ScreenOS used
        20-byte exponents; CCS 2016 §5.2).  ECP: as many whole outputs as the
        scalar needs, concatenated, reduced into [1, n-1].
        """
        if self.kind == "modp":
            out = next_output()
            if len(out) < exponent_bytes:
                raise ValueError(
                    f"PRNG output of {len(out)} bytes is shorter than the {exponent_bytes}-byte exponent"
                )
            value = int.from_bytes(out[:exponent_bytes], "big")
            return value if value > 1 else 2
        buf = b""
        while len(buf) < self.size:
            buf += next_output()
        return int.from_bytes(buf[: self.size], "big") % (self.order - 1) + 1

    def _check_private(self, private: int) -> None:
        limit = self.modulus - 1 if self.kind == "modp" else self.order
        if not 1 <= private < limit:
            raise ValueError(f"{self.name} private value out of range")

    def _check_modp_public(self, peer_public: bytes) -> int:
        if len(peer_public) != self.size:
            raise ValueError(
                f"{self.name} public value must be {self.size} bytes, got {len(peer_public)}"
            )
        value = int.from_bytes(peer_public, "big")
        if not 1 < value < self.modulus - 1:
            raise ValueError(f"{self.name} public value is outside (1, p-1)")
        return value

    def _load_ec_public(self, curve: ec.EllipticCurve, peer_public: bytes) -> ec.EllipticCurvePublicKey:
        if len(peer_public) != 2 * self.size:
            raise ValueError(
                f"{self.name} public value must be {2 * self.size} bytes (x ‖ y), got {len(peer_public)}"
            )
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + peer_public)
        except ValueError as exc:
            raise ValueError(f"{self.name} public value is not a point on the curve") from exc


GROUPS: dict[int, DhGroup] = {
    1: DhGroup(1, "MODP-768", "modp", 96, modulus=_MODP_768),
    2: DhGroup(2, "MODP-1024", "modp", 128, modulus=_MODP_1024),
    5: DhGroup(5, "MODP-1536", "modp", 192, modulus=_MODP_1536),
    14: DhGroup(14, "MODP-2048", "modp", 256, modulus=_MODP_2048),
    19: DhGroup(19, "ECP-256", "ecp", 32, order=_EC_CURVES[19][1]),
    20: DhGroup(20, "ECP-384", "ecp", 48, order=_EC_CURVES[20][1]),
}


def group_by_number(number: int) -> DhGroup:
    """Return DH group ``number``; ``ValueError`` for groups the lab does not implement."""
    try:
        return GROUPS[number]
    except KeyError:
        raise ValueError(
            f"unsupported DH group {number}; supported: {sorted(GROUPS)}"
        ) from None
