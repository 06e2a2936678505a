"""Loaders for the DRBG known-answer files (``tests/data/vectors/`` in the repository).

The files share one line format: ``# comment``, ``[section]`` headers,
``Key = hex`` fields, and blank lines between records.  :func:`parse_records`
reads that format; the ``load_*`` functions turn records into typed vectors.
Every defect raises :class:`VectorFormatError` naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kleptolab.drbg.curves import Curve, curve_by_name

__all__ = [
    "DualEcVector",
    "Record",
    "VectorFormatError",
    "X931Vector",
    "load_dualec_vectors",
    "load_x931_botan",
    "load_x931_rngvs",
    "parse_records",
]

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")


class VectorFormatError(ValueError):
    """A vector file that does not follow the format."""


@dataclass(frozen=True)
class Record:
    """One record: the section headers in force, its fields, where it starts."""

    source: str
    line: int
    headers: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def get(self, key: str) -> str | None:
        for name, value in self.fields:
            if name == key:
                return value
        return None

    def hex(self, key: str, required: bool = True) -> bytes:
        """Field ``key`` decoded from hex (``b""`` for an empty or, if optional, missing field)."""
        value = self.get(key)
        if value is None:
            if required:
                raise VectorFormatError(f"{self.where()}: record has no {key!r} field")
            return b""
        if not _HEX.match(value):
            raise VectorFormatError(
                f"{self.where()}: field {key!r} is not an even-length hex string"
            )
        return bytes.fromhex(value)


def parse_records(text: str, source: str = "<string>") -> list[Record]:
    """Split ``text`` into records (headers apply until the next header block)."""
    records: list[Record] = []
    headers: list[str] = []
    headers_open = False  # consecutive header lines extend the same header block
    fields: list[tuple[str, str]] = []
    start = 0

    def flush() -> None:
        nonlocal fields
        if fields:
            records.append(Record(source, start, tuple(headers), tuple(fields)))
            fields = []

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
            headers_open = False
            continue
        if line.startswith("#"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise VectorFormatError(f"{source}:{number}: unterminated section header {line!r}")
            flush()
            if not headers_open:
                headers = []
            headers.append(line[1:-1].strip())
            headers_open = True
            continue
        match = _FIELD.match(line)
        if match is None:
            raise VectorFormatError(f"{source}:{number}: expected 'Name = value', got {line!r}")
        headers_open = False
        if not fields:
            start = number
        name, value = match.groups()
        if any(existing == name for existing, _ in fields):
            raise VectorFormatError(f"{source}:{number}: duplicate field {name!r} in one record")
        fields.append((name, value))
    flush()
    return records


def _read(path: Path | str) -> tuple[str, str]:
    p = Path(path)
    try:
        return p.read_text(encoding="ascii"), p.name
    except FileNotFoundError:
        raise VectorFormatError(f"vector file not found: {p}") from None
    except UnicodeDecodeError as exc:
        raise VectorFormatError(f"{p.name}: not an ASCII text file ({exc.reason})") from None


@dataclass(frozen=True)
class DualEcVector:
    """One Dual EC known answer (call sequence: see the file headers)."""

    where: str
    curve: Curve
    hash_name: str
    prediction_resistance: bool
    entropy: bytes
    nonce: bytes
    personalization: bytes
    additional_input1: bytes
    returned_bits1: bytes
    additional_input2: bytes
    returned_bits2: bytes
    entropy_reseed: bytes = b""
    additional_input_reseed: bytes = b""
    entropy_pr1: bytes = b""
    entropy_pr2: bytes = b""


def _dualec_headers(record: Record) -> tuple[Curve, str, bool]:
    curve: Curve | None = None
    hash_name: str | None = None
    pr: bool | None = None
    for header in record.headers:
        if header.startswith("PredictionResistance"):
            value = header.partition("=")[2].strip()
            if value not in ("True", "False"):
                raise VectorFormatError(f"{record.where()}: bad PredictionResistance {value!r}")
            pr = value == "True"
        elif "," in header:
            curve_name, _, hash_part = header.partition(",")
            try:
                curve = curve_by_name(curve_name)
            except ValueError as exc:
                raise VectorFormatError(f"{record.where()}: {exc}") from None
            hash_name = hash_part.strip()
    if curve is None or hash_name is None or pr is None:
        raise VectorFormatError(
            f"{record.where()}: record needs '[curve, hash]' and '[PredictionResistance = ...]' headers"
        )
    return curve, hash_name, pr


def load_dualec_vectors(path: Path | str) -> list[DualEcVector]:
    """Load a Dual EC known-answer file (OpenSSL FIPS 2.0 or Bouncy Castle transcription)."""
    text, name = _read(path)
    vectors = []
    for record in parse_records(text, name):
        curve, hash_name, pr = _dualec_headers(record)
        vectors.append(
            DualEcVector(
                where=record.where(),
                curve=curve,
                hash_name=hash_name,
                prediction_resistance=pr,
                entropy=record.hex("EntropyInput"),
                nonce=record.hex("Nonce"),
                personalization=record.hex("PersonalizationString"),
                additional_input1=record.hex("AdditionalInput1"),
                returned_bits1=record.hex("ReturnedBits1"),
                additional_input2=record.hex("AdditionalInput2"),
                returned_bits2=record.hex("ReturnedBits2"),
                entropy_reseed=record.hex("EntropyInputReseed", required=False),
                additional_input_reseed=record.hex("AdditionalInputReseed", required=False),
                entropy_pr1=record.hex("EntropyInputPR1", required=pr),
                entropy_pr2=record.hex("EntropyInputPR2", required=pr),
            )
        )
    if not vectors:
        raise VectorFormatError(f"{name}: no records")
    return vectors


@dataclass(frozen=True)
class X931Vector:
    """One X9.31 known answer: ``iterations`` steps from (key, v, dt); ``r`` is the last R."""

    where: str
    cipher: str
    key: bytes
    v: bytes
    dt: bytes
    r: bytes
    iterations: int = 1


def _cipher_for(section: str, key: bytes, where: str) -> str:
    if section.startswith("AES-"):
        bits = section[4:7]
        if bits not in ("128", "192", "256") or len(key) * 8 != int(bits):
            raise VectorFormatError(
                f"{where}: key length {len(key)} does not match section {section!r}"
            )
        return f"AES-{bits}"
    if "TripleDES" in section or section.startswith("TDES"):
        if len(key) != 24:
            raise VectorFormatError(f"{where}: TDES key must be 24 bytes, got {len(key)}")
        return "TDES-2KEY" if key[:8] == key[16:] else "TDES-3KEY"
    raise VectorFormatError(f"{where}: unknown X9.31 section {section!r}")


def load_x931_botan(path: Path | str) -> list[X931Vector]:
    """Load Botan's ``x931.vec`` (``IKM = Key || V || DT``, ``Out = R``)."""
    text, name = _read(path)
    vectors = []
    for record in parse_records(text, name):
        if not record.headers:
            raise VectorFormatError(f"{record.where()}: record outside any [section]")
        section = record.headers[-1]
        ikm, out = record.hex("IKM"), record.hex("Out")
        block = len(out)
        if block not in (8, 16) or len(ikm) <= 2 * block:
            raise VectorFormatError(
                f"{record.where()}: IKM/Out lengths {len(ikm)}/{block} do not fit"
            )
        key = ikm[: -2 * block]
        cipher = _cipher_for(section, key, record.where())
        if (block == 16) != cipher.startswith("AES"):
            raise VectorFormatError(f"{record.where()}: {block}-byte block does not fit {cipher}")
        vectors.append(
            X931Vector(record.where(), cipher, key, ikm[-2 * block : -block], ikm[-block:], out)
        )
    if not vectors:
        raise VectorFormatError(f"{name}: no records")
    return vectors


def load_x931_rngvs(path: Path | str) -> list[X931Vector]:
    """Load RNGVS-style samples: a ``Key`` per section, then ``DT``/``V``/``R`` records."""
    text, name = _read(path)
    vectors = []
    key: bytes | None = None
    section: tuple[str, ...] = ()
    for record in parse_records(text, name):
        if record.headers != section:
            section, key = record.headers, None
        if not section:
            raise VectorFormatError(f"{record.where()}: record outside any [section]")
        if record.get("Key") is not None:
            key = record.hex("Key")
            if record.get("R") is None:
                continue
        if key is None:
            raise VectorFormatError(f"{record.where()}: no Key given for section [{section[-1]}]")
        iterations_text = record.get("Iterations") or "1"
        if not iterations_text.isdigit() or int(iterations_text) < 1:
            raise VectorFormatError(f"{record.where()}: bad Iterations {iterations_text!r}")
        cipher = _cipher_for(section[-1], key, record.where())
        v, dt, r = record.hex("V"), record.hex("DT"), record.hex("R")
        if not len(v) == len(dt) == len(r) == 16:
            raise VectorFormatError(f"{record.where()}: DT, V and R must be 16 bytes each")
        vectors.append(X931Vector(record.where(), cipher, key, v, dt, r, int(iterations_text)))
    if not vectors:
        raise VectorFormatError(f"{name}: no records")
    return vectors
