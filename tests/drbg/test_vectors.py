from __future__ import annotations

import pytest

from kleptolab.drbg.vectors import (
    VectorFormatError,
    load_dualec_vectors,
    load_x931_botan,
    load_x931_rngvs,
    parse_records,
)
from tests.conftest import VECTORS


def test_parse_records_headers_and_blank_lines():
    records = parse_records("# c\n[A]\n[B = 1]\nX = 00\nY =\n\nX = 01\n[C]\nZ = ff\n", "f")
    assert [r.headers for r in records] == [("A", "B = 1"), ("A", "B = 1"), ("C",)]
    assert records[0].hex("Y") == b"" and records[1].hex("X") == b"\x01"
    assert records[2].where() == "f:9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[A\nX = 00\n", "f:1: unterminated section header"),
        ("[A]\nX 00\n", "f:2: expected 'Name = value'"),
        ("[A]\nX = 00\nX = 01\n", "f:3: duplicate field 'X'"),
    ],
)
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(VectorFormatError, match=message):
        parse_records(text, "f")


def test_record_hex_errors():
    record = parse_records("X = 0g\n", "f")[0]
    with pytest.raises(VectorFormatError, match="f:1: field 'X' is not an even-length hex"):
        record.hex("X")
    with pytest.raises(VectorFormatError, match="no 'Y' field"):
        record.hex("Y")


def test_loaders_count_every_record():
    assert len(load_dualec_vectors(VECTORS / "dualec_p256_openssl_fips2_selftest.txt")) == 10
    assert len(load_dualec_vectors(VECTORS / "dualec_p256_bouncycastle.txt")) == 8
    botan = load_x931_botan(VECTORS / "x931_botan.vec")
    assert len(botan) == 512
    assert {v.cipher for v in botan} == {"AES-128", "AES-192", "AES-256", "TDES-2KEY", "TDES-3KEY"}
    rngvs = load_x931_rngvs(VECTORS / "x931_aes_rngvs_samples.txt")
    assert len(rngvs) == 22 and rngvs[-1].iterations == 10_000


def test_loader_errors(tmp_path):
    with pytest.raises(VectorFormatError, match="vector file not found"):
        load_dualec_vectors(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(VectorFormatError, match=r"empty\.txt: no records"):
        load_x931_botan(empty)
    bad = tmp_path / "bad.txt"
    bad.write_text("[P-256, SHA-256]\nEntropyInput = 00\n")
    with pytest.raises(VectorFormatError, match="PredictionResistance"):
        load_dualec_vectors(bad)
    bad.write_text("[P-999, SHA-256]\n[PredictionResistance = False]\nEntropyInput = 00\n")
    with pytest.raises(VectorFormatError, match=r"bad\.txt:3: unknown curve"):
        load_dualec_vectors(bad)
    bad.write_text("[AES-128]\nDT = 00\n")
    with pytest.raises(VectorFormatError, match="no Key given"):
        load_x931_rngvs(bad)
    bad.write_text("[AES-128]\nIKM = " + "00" * 40 + "\nOut = " + "00" * 16 + "\n")
    with pytest.raises(VectorFormatError, match="does not match section"):
        load_x931_botan(bad)
