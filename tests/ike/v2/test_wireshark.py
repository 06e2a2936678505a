"""Acceptance: Wireshark 4.0.17's IKEv2 decryption captures with their UAT key table."""

from __future__ import annotations

import pytest

from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.ike.v2.constants import ExchangeType
from kleptolab.ike.v2.payloads import AuthPayload, DeletePayload, build_message, parse_message
from kleptolab.ike.v2.sk import IntegrityError, SkKeys, unprotect
from kleptolab.ike.v2.uat import (
    Ikev2KeyRow,
    format_ikev2_table_row,
    load_ikev2_table,
    parse_ikev2_table,
    write_ikev2_table,
)
from tests.ike.v2.helpers import STRONGSWAN, STRONGSWAN_V2, WIRESHARK, ike_messages, strongswan_case

TABLE = WIRESHARK / "ikev2_decryption_table.tmpl"
CAPTURES = {
    "ikev2-decrypt-3des-sha1_160.pcap": (Encr.TDES_CBC, Integ.HMAC_SHA1_160),
    "ikev2-decrypt-aes192ctr.pcap": (Encr.AES_CTR, Integ.HMAC_SHA2_512_256),
    "ikev2-decrypt-aes256cbc.pcapng": (Encr.AES_CBC, Integ.HMAC_SHA2_256_128),
    "ikev2-decrypt-aes128ccm12.pcap": (Encr.AES_CCM_12, None),
    "ikev2-decrypt-aes128ccm12-2.pcap": (Encr.AES_CTR, None),  # CCM read as CTR, ICD unchecked
    "ikev2-decrypt-aes256ccm16.pcapng": (Encr.AES_CCM_16, None),
    "ikev2-decrypt-aes256gcm16.pcap": (Encr.AES_GCM_16, None),
    "ikev2-decrypt-aes256gcm8.pcap": (Encr.AES_GCM_8, None),
}


def _sk(row: Ikev2KeyRow) -> SkKeys:
    assert row.encr is not None
    return SkKeys(row.encr, row.integ, row.sk_ei, row.sk_er, row.sk_ai, row.sk_ar, row.unchecked_icv_size)


@pytest.fixture(scope="module")
def rows() -> dict[bytes, Ikev2KeyRow]:
    return {row.spi_i: row for row in load_ikev2_table(TABLE)}


def test_table_loads_every_row_but_null(rows: dict[bytes, Ikev2KeyRow]) -> None:
    assert len(rows) == 8
    assert bytes.fromhex("1234567890123456") not in rows  # the NULL row


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_decrypts_with_icd_verified(name: str, rows: dict[bytes, Ikev2KeyRow]) -> None:
    messages = ike_messages(WIRESHARK / name)
    row = rows[messages[0][:8]]
    assert (row.encr, row.integ) == CAPTURES[name]
    keys = _sk(row)
    decrypted = 0
    for raw in messages:
        assert build_message(parse_message(raw)) == raw
        if parse_message(raw).exchange_type == ExchangeType.IKE_SA_INIT:
            continue
        message = unprotect(raw, keys)
        decrypted += 1
        if message.exchange_type == ExchangeType.IKE_AUTH:
            assert any(isinstance(p, AuthPayload) for p in message.payloads)
        elif message.payloads:
            assert isinstance(message.payloads[0], DeletePayload)
    assert decrypted == len(messages) - 2
    if not row.unchecked_icv_size:
        tampered = bytearray(messages[2])
        tampered[40] ^= 0x80
        with pytest.raises(IntegrityError):
            unprotect(bytes(tampered), keys)


def test_wrong_key_fails_integrity(rows: dict[bytes, Ikev2KeyRow]) -> None:
    messages = ike_messages(WIRESHARK / "ikev2-decrypt-aes192ctr.pcap")
    row = rows[messages[0][:8]]
    keys = SkKeys(row.encr or Encr.AES_CTR, row.integ, row.sk_ei, row.sk_er, row.sk_ar, row.sk_ar)
    with pytest.raises(IntegrityError):
        unprotect(messages[2], keys)


def test_formatter_reproduces_wireshark_rows(rows: dict[bytes, Ikev2KeyRow]) -> None:
    lines = [line for line in TABLE.read_text().splitlines() if line and not line.startswith("#")]
    for line in lines[1:]:
        row = next(r for r in rows.values() if line.startswith(r.spi_i.hex()))
        if row.unchecked_icv_size:
            continue  # "ANY 96-bits [No Checking]" is a reader-side convenience only
        assert row.encr is not None
        assert format_ikev2_table_row(row.spi_i, row.spi_r, row.sk_ei, row.sk_er, row.encr, row.key_size,
                                      row.sk_ai, row.sk_ar, row.integ) == line


@pytest.mark.parametrize("name", STRONGSWAN_V2)
def test_formatter_matches_the_strongswan_tables(name: str) -> None:
    case = strongswan_case(name)
    expected = (STRONGSWAN / name / "ikev2_decryption_table").read_text()
    encr, size, integ = ((Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96) if "3des" in name
                         else (Encr.AES_CBC, 16, Integ.HMAC_SHA2_256_128))
    row = format_ikev2_table_row(case.messages[0][:8], case.messages[1][8:16], case.one("Sk_ei secret"),
                                 case.one("Sk_er secret"), encr, size, case.one("Sk_ai secret"),
                                 case.one("Sk_ar secret"), integ)
    assert write_ikev2_table([row]) == expected
    assert parse_ikev2_table(expected)[0].sk_ai == case.one("Sk_ai secret")


def test_formatter_refuses_what_wireshark_cannot_name() -> None:
    spi = bytes(8)
    with pytest.raises(ValueError, match="no IKEv2 name"):
        format_ikev2_table_row(spi, spi, bytes(8), bytes(8), Encr.DES_CBC, 8, bytes(20), bytes(20),
                               Integ.HMAC_SHA1_96)
    with pytest.raises(ValueError, match="must be 20 bytes"):
        format_ikev2_table_row(spi, spi, bytes(16), bytes(16), Encr.AES_CTR, 16, bytes(20), bytes(20),
                               Integ.HMAC_SHA1_96)
    with pytest.raises(ValueError, match="no integrity"):
        format_ikev2_table_row(spi, spi, bytes(20), bytes(20), Encr.AES_GCM_16, 16, b"", b"",
                               Integ.HMAC_SHA1_96)


def test_parser_reports_bad_lines() -> None:
    with pytest.raises(ValueError, match=":1: unknown encryption"):
        parse_ikev2_table('00,00,00,00,"3DES",00,00,"HMAC_SHA1_96 [RFC2404]"\n')
    with pytest.raises(ValueError, match=":2: 3 fields"):
        parse_ikev2_table("# comment\na,b,c\n")
    with pytest.raises(ValueError, match="not hex"):
        parse_ikev2_table('zz,00,00,00,"3DES [RFC2451]",00,00,"HMAC_SHA1_96 [RFC2404]"')
