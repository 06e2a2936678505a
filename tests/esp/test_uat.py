"""Wireshark esp_sa UAT: load Wireshark's own table, round trip, and tshark decrypting our ESP."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kleptolab import netpkt
from kleptolab.capture import PcapWriter
from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.sa import EspSa
from kleptolab.esp.uat import EspSaRecord, format_esp_sa, load_esp_sa, parse_esp_sa, write_esp_sa
from tests.conftest import CAPTURES, require_tool

TMPL = CAPTURES / "wireshark-4.0.17" / "esp_sa.tmpl"


def test_loads_wireshark_template_and_writes_it_back_identically() -> None:
    records = load_esp_sa(TMPL)
    assert [(r.src, r.dst, r.spi, r.encr, r.integ) for r in records] == [
        ("192.168.0.1", "192.168.0.100", "0x070883c2", Encr.AES_CBC, Integ.HMAC_SHA1_96),
        ("192.168.0.100", "192.168.0.1", "0xc254fe64", Encr.AES_CBC, Integ.HMAC_SHA1_96),
    ]
    assert records[0].encr_key == bytes.fromhex("5de1a4c2c72662c9fda7a7c78cd25623")
    assert format_esp_sa(records) == TMPL.read_text()


@pytest.mark.parametrize("case", sorted((CAPTURES / "strongswan-5.9.8").glob("*/esp_sa")),
                         ids=lambda p: p.parent.name)
def test_strongswan_tables_round_trip(case: Path) -> None:
    records = load_esp_sa(case)
    assert len(records) == 2
    assert format_esp_sa(records) == case.read_text()
    rebuilt = [EspSaRecord.from_sa(r.to_sa(), r.src, r.dst) for r in records]
    assert rebuilt == records


def test_parse_errors_and_comments() -> None:
    good = TMPL.read_text().splitlines()[0]
    assert len(parse_esp_sa("# comment\n\n" + good + "\n")) == 1
    with pytest.raises(ValueError, match=r"esp_sa:2: invalid value 'TripleDes-CBC \[RFC2451\]'"):
        parse_esp_sa("# x\n" + good.replace("AES-CBC [RFC3602]", "TripleDes-CBC [RFC2451]"))
    with pytest.raises(ValueError, match="esp_sa:1: 7 fields"):
        parse_esp_sa(good.rsplit(",", 1)[0])
    with pytest.raises(ValueError, match="is not hex"):
        parse_esp_sa(good.replace('"0x5de1', '"0xzz'))
    ascii_key = parse_esp_sa(good.replace('"0x5de1a4c2c72662c9fda7a7c78cd25623"', '"sixteen byte key"'))
    assert ascii_key[0].encr_key == b"sixteen byte key"
    null = parse_esp_sa(good.replace("AES-CBC [RFC3602]", "NULL"))[0]
    with pytest.raises(ValueError, match="encryption 'NULL' is not supported here"):
        null.to_sa()
    wildcard = parse_esp_sa(good.replace('"0x070883c2"', '"*"'))[0]
    with pytest.raises(ValueError, match="not one 32-bit hex value"):
        wildcard.to_sa()


def test_from_sa_rejects_names_wireshark_lacks() -> None:
    sa = EspSa(b"\x01\x02\x03\x04", Encr.AES_CBC, bytes(16), Integ.HMAC_SHA1_160, bytes(20))
    with pytest.raises(ValueError, match="no ESP name for HMAC-SHA1-160"):
        EspSaRecord.from_sa(sa, "192.0.2.1", "192.0.2.2")


TSHARK_CASES = [
    (Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96),
    (Encr.AES_CBC, 16, Integ.HMAC_SHA1_96),
    (Encr.AES_CBC, 32, Integ.HMAC_SHA2_256_128),
    (Encr.AES_CTR, 16, Integ.HMAC_SHA1_96),
    (Encr.DES_CBC, 8, Integ.HMAC_MD5_96),
]


def test_tshark_decrypts_our_esp_with_our_table(tmp_path: Path) -> None:
    tshark = require_tool("tshark")
    records = []
    with PcapWriter(tmp_path / "esp.pcap", linktype=1) as writer:
        ts = 1_700_000_000.0
        for i, (encr, size, integ) in enumerate(TSHARK_CASES):
            spi = (0x1000 + i).to_bytes(4, "big")
            sa = EspSa(spi, encr, os.urandom(size + encr.salt_size), integ,
                       os.urandom(integ.key_size), random_bytes=os.urandom)
            src, dst = f"192.0.2.{i + 1}", f"198.51.100.{i + 1}"
            records.append(EspSaRecord.from_sa(sa, src, dst))
            for seq in (1, 2):
                inner = netpkt.build_ipv4_icmp_echo("10.0.0.1", "10.0.0.2", i, seq, bytes(range(48)))
                esp = sa.encapsulate(inner)
                ts += 0.001
                if seq == 1:  # RFC 3948 UDP encapsulation
                    writer.write_udp(ts, src, 4500, dst, 4500, esp)
                else:  # plain IP protocol 50
                    writer.write_ip(ts, netpkt.build_ipv4(src, dst, netpkt.PROTO_ESP, esp))
    config = tmp_path / "config"
    config.mkdir()
    write_esp_sa(config / "esp_sa", records)
    result = subprocess.run(
        [tshark, "-r", str(tmp_path / "esp.pcap"),
         "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
         "-T", "fields", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "icmp.type", "-e", "icmp.seq"],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "WIRESHARK_CONFIG_DIR": str(config), "HOME": str(tmp_path)},
    )
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert len(rows) == 2 * len(TSHARK_CASES), result.stdout + result.stderr
    for i, row in enumerate(rows):
        assert row[1] in ("1", "True"), (i, row, result.stderr)
        assert row[2:] == ["8", str(i % 2 + 1)], (i, row)
