"""Independent oracle: tshark 4.0 decrypts what our engines and SK code send, using our UAT rows."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import ChildProposal, IkeProposal
from kleptolab.ike.v2.payloads import Ikev2Message, NoncePayload, VendorIdPayload
from kleptolab.ike.v2.sk import SkKeys, protect
from kleptolab.ike.v2.uat import format_ikev2_table_row
from tests.conftest import require_tool
from tests.ike.v2.helpers import pump
from tests.ike.v2.test_engine import configs, pair

pytestmark = pytest.mark.slow  # runs tshark: about a second per test

def _pcap(path: Path, messages: list[bytes]) -> None:
    from scapy.all import IP, UDP, Raw, wrpcap

    wrpcap(str(path), [IP(src="192.0.2.2", dst="192.0.2.1") / UDP(sport=500, dport=500) / Raw(m)
                       for m in messages])


def _tshark(path: Path, row: str, *args: str) -> str:
    tshark = require_tool("tshark")
    out = subprocess.run([tshark, "-r", str(path), "-o", f"uat:ikev2_decryption_table:{row}", *args],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


@pytest.mark.parametrize(("encr", "key_size", "integ"), [
    (Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96),
    (Encr.AES_CBC, 32, Integ.HMAC_SHA2_512_256),
    (Encr.AES_CTR, 16, Integ.HMAC_SHA2_256_128),
])
def test_tshark_decrypts_an_engine_conversation(tmp_path: Path, encr: Encr, key_size: int, integ: Integ) -> None:
    ike = IkeProposal(encr, key_size, integ, Prf.HMAC_SHA2_256, 19)
    child = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)
    i, r = pair(*configs(ike, child))
    seen: list[bytes] = []

    def record(message: bytes) -> bytes:
        seen.append(message)
        return message

    pump(i, r, tap=record)
    i.create_child_sa([dataclasses.replace(child, pfs_group=19)])
    pump(i, r, tap=record)
    r.delete_ike_sa()
    pump(i, r, tap=record)
    assert len(seen) == 8
    cap = tmp_path / "ikev2.pcap"
    _pcap(cap, seen)
    k = i.ike_keys
    assert k is not None
    row = format_ikev2_table_row(i.spi_i, i.spi_r, k.sk_ei, k.sk_er, encr, key_size, k.sk_ai, k.sk_ar, integ)
    fields = _tshark(cap, row, "-T", "fields", "-e", "isakmp.exchangetype", "-e", "isakmp.typepayload")
    lines = [line.split("\t") for line in fields.splitlines()]
    assert [x[0] for x in lines] == ["34", "34", "35", "35", "36", "36", "37", "37"]
    assert lines[2][1].startswith("46,35,41,36,39,33")  # SK{IDi, N, IDr, AUTH, SA ...}
    assert lines[6][1] == "46,42"  # SK{Delete}
    assert "Integrity Checksum Data is incorrect" not in _tshark(cap, row, "-q", "-z", "expert,warn")
    bad = format_ikev2_table_row(i.spi_i, i.spi_r, k.sk_ei, k.sk_er, encr, key_size, k.sk_ai,
                                 bytes(len(k.sk_ar)), integ)
    assert "Integrity Checksum Data is incorrect" in _tshark(cap, bad, "-q", "-z", "expert,warn")


@pytest.mark.parametrize("encr", [e for e in Encr if e.is_aead])
def test_tshark_decrypts_our_aead(tmp_path: Path, encr: Encr) -> None:
    keymat = encr.keymat_size(16)
    keys = SkKeys(encr, None, bytes(range(keymat)), bytes(range(1, keymat + 1)))
    spi_i, spi_r = b"\x11" * 8, b"\x22" * 8
    payloads = (NoncePayload(b"n" * 32), VendorIdPayload(b"kleptolab"))
    messages = [protect(Ikev2Message(spi_i, spi_r, 37, flags, 3, payloads), keys, b"\x07" * 8)
                for flags in (0x08, 0x20)]
    cap = tmp_path / "aead.pcap"
    _pcap(cap, messages)
    row = format_ikev2_table_row(spi_i, spi_r, keys.sk_ei, keys.sk_er, encr, 16, b"", b"", None)
    fields = _tshark(cap, row, "-T", "fields", "-e", "isakmp.typepayload", "-e", "isakmp.vid_bytes")
    assert fields.splitlines() == ["46,40,43\t6b6c6570746f6c6162"] * 2
