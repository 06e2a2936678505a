"""The lab's own Dual EC trapdoor: Q = e*P with d = e^-1 mod n, so d*Q = P.

The attacker file keeps the secret d (and Q, the curve and a format version);
the public part (Q only) is what the emulated firmware carries.  Loading
validates everything (well-formed hex, on-curve Q, right curve, d*Q == P) and
raises ``ValueError`` with a precise message on any defect.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleptolab.drbg import _ec, _reference
from kleptolab.drbg.curves import P256, Curve, curve_by_name

__all__ = [
    "FORMAT_PUBLIC",
    "FORMAT_TRAPDOOR",
    "FORMAT_VERSION",
    "Trapdoor",
    "generate_trapdoor",
    "load_public_q",
    "load_trapdoor",
]

FORMAT_TRAPDOOR = "kleptolab-dualec-trapdoor"
FORMAT_PUBLIC = "kleptolab-dualec-public-q"
FORMAT_VERSION = 1

Point = tuple[int, int]


@dataclass(frozen=True)
class Trapdoor:
    """A Dual EC backdoor key: public Q and the secrets d (d*Q = P) and e = d^-1 (Q = e*P)."""

    curve: Curve
    q: Point
    d: int = field(repr=False)
    e: int = field(repr=False)

    def __post_init__(self) -> None:
        n = self.curve.n
        if not 0 < self.d < n:
            raise ValueError(f"d is out of range for {self.curve.name} (need 0 < d < n)")
        if not 0 < self.e < n or self.d * self.e % n != 1:
            raise ValueError("e is not the inverse of d mod n")
        if not self.curve.contains(self.q):
            raise ValueError(f"Q is not a point of {self.curve.name}")
        if _reference.mul(self.curve, self.d, self.q) != self.curve.generator:
            raise ValueError("d*Q != P: this d is not the trapdoor of this Q")

    @classmethod
    def from_d(cls, curve: Curve, q: Point, d: int) -> Trapdoor:
        """Build (and validate) a trapdoor from Q and d; e is recomputed."""
        if not 0 < d < curve.n:
            raise ValueError(f"d is out of range for {curve.name} (need 0 < d < n)")
        return cls(curve, q, d, pow(d, -1, curve.n))

    def public_json(self) -> dict[str, Any]:
        """The firmware's part: curve and Q only."""
        return {
            "format": FORMAT_PUBLIC,
            "version": FORMAT_VERSION,
            "curve": self.curve.name,
            "q": _point_json(self.curve, self.q),
        }

    def to_json(self) -> dict[str, Any]:
        """The attacker's file: curve, Q and the secret d."""
        data = self.public_json()
        data["format"] = FORMAT_TRAPDOOR
        data["d"] = f"{self.d:0{2 * self.curve.size}x}"
        return data

    @classmethod
    def from_json(cls, data: object) -> Trapdoor:
        """Parse and validate an attacker file's JSON object."""
        obj = _expect_format(data, FORMAT_TRAPDOOR)
        curve, q = _curve_and_q(obj)
        return cls.from_d(curve, q, _hex_int(obj, "d", curve))

    def save(self, path: Path | str, *, public_path: Path | str | None = None) -> None:
        """Write the attacker file (mode 0600) and, if asked, the public Q file."""
        _write_json(Path(path), self.to_json(), private=True)
        if public_path is not None:
            _write_json(Path(public_path), self.public_json(), private=False)


def generate_trapdoor(curve: Curve = P256) -> Trapdoor:
    """Pick e uniformly in [1, n-1] (secrets), set Q = e*P and d = e^-1 mod n."""
    e = secrets.randbelow(curve.n - 1) + 1
    q = _ec.base_mult(curve, e)
    d = pow(e, -1, curve.n)
    trapdoor = Trapdoor(curve, q, d, e)  # __post_init__ asserts d*Q == P
    return trapdoor


def load_trapdoor(path: Path | str) -> Trapdoor:
    """Load an attacker file; ``ValueError`` when missing, corrupt or inconsistent."""
    return Trapdoor.from_json(_read_json(Path(path)))


def load_public_q(path: Path | str) -> tuple[Curve, Point]:
    """Load Q from a public file (or from an attacker file, ignoring d)."""
    data = _read_json(Path(path))
    if isinstance(data, dict) and data.get("format") == FORMAT_TRAPDOOR:
        trapdoor = Trapdoor.from_json(data)
        return trapdoor.curve, trapdoor.q
    return _curve_and_q(_expect_format(data, FORMAT_PUBLIC))


def _point_json(curve: Curve, point: Point) -> dict[str, str]:
    width = 2 * curve.size
    return {"x": f"{point[0]:0{width}x}", "y": f"{point[1]:0{width}x}"}


def _expect_format(data: object, expected: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("key file must hold a JSON object")
    fmt = data.get("format")
    if fmt != expected:
        raise ValueError(f"key file format is {fmt!r}, expected {expected!r}")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"unsupported key file version {version!r} (this build reads {FORMAT_VERSION})"
        )
    return data


def _hex_int(obj: dict[str, Any], key: str, curve: Curve) -> int:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} is missing or not a string")
    if (
        not value
        or len(value) > 2 * curve.size
        or any(c not in "0123456789abcdefABCDEF" for c in value)
    ):
        raise ValueError(f"field {key!r} is not a hex number of at most {2 * curve.size} digits")
    return int(value, 16)


def _curve_and_q(obj: dict[str, Any]) -> tuple[Curve, Point]:
    name = obj.get("curve")
    if not isinstance(name, str):
        raise ValueError("field 'curve' is missing or not a string")
    curve = curve_by_name(name)
    q = obj.get("q")
    if not isinstance(q, dict):
        raise ValueError("field 'q' is missing or not an object with 'x' and 'y'")
    point = (_hex_int(q, "x", curve), _hex_int(q, "y", curve))
    if not curve.contains(point):
        raise ValueError(f"Q is not a point of {curve.name}")
    return curve, point


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"key file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read key file {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"key file {path} is not valid JSON: {exc}") from None


def _write_json(path: Path, data: dict[str, Any], *, private: bool) -> None:
    text = json.dumps(data, indent=2) + "\n"
    if private:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
