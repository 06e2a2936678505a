"""EspSa: real captures, an independent RFC 4303 construction, round trips and every rejection."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kleptolab import netpkt
from kleptolab.capture import EspPacket, classify_all, read_capture
from kleptolab.crypto.algorithms import Encr, Integ, encrypt
from kleptolab.esp.errors import (
    BadIcv,
    BadPadding,
    EspError,
    ReplayedPacket,
    SequenceExhausted,
    TruncatedPacket,
    UnknownSpi,
)
from kleptolab.esp.sa import EspSa, InboundSad, sa_pair_from_child
from kleptolab.esp.uat import load_esp_sa
from kleptolab.ike.common import ChildSaKeys
from tests.conftest import CAPTURES

STRONGSWAN = sorted(p.parent for p in (CAPTURES / "strongswan-5.9.8").glob("*/keys.json"))
SPI = b"\x11\x22\x33\x44"
CIPHERS = [(Encr.DES_CBC, 8), (Encr.TDES_CBC, 24), (Encr.AES_CBC, 16), (Encr.AES_CBC, 24),
           (Encr.AES_CBC, 32), (Encr.AES_CTR, 16), (Encr.AES_CTR, 32)]
INTEGS = [None, Integ.HMAC_MD5_96, Integ.HMAC_SHA1_96, Integ.HMAC_SHA1_160,
          Integ.HMAC_SHA2_256_128, Integ.HMAC_SHA2_384_192, Integ.HMAC_SHA2_512_256]


def counter_rng() -> Callable[[int], bytes]:
    state = [0]

    def rng(n: int) -> bytes:
        state[0] += 1
        return (state[0].to_bytes(4, "big") * (n // 4 + 1))[:n]

    return rng


def make_pair(
    encr: Encr = Encr.AES_CBC, key_size: int = 16, integ: Integ | None = Integ.HMAC_SHA1_96,
    window: int | None = 64,
) -> tuple[EspSa, EspSa]:
    key = bytes(range(7, 7 + key_size + encr.salt_size))
    ikey = bytes(range(40, 40 + integ.key_size)) if integ else b""
    out = EspSa(SPI, encr, key, integ, ikey, random_bytes=counter_rng())
    return out, EspSa(SPI, encr, key, integ, ikey, replay_window=window)


PING = netpkt.build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 7, 1, bytes(range(56)))


# --- real traffic --------------------------------------------------------------------------


def _case_sas(case: Path) -> dict[bytes, tuple[EspSa, str, str]]:
    keys = json.loads((case / "keys.json").read_text())
    encr = Encr.TDES_CBC if "3DES" in keys["esp_proposal"] else Encr.AES_CBC
    sas = {}
    for sa in keys["esp_sas"].values():
        spi = int(sa["spi"], 16).to_bytes(4, "big")
        esp = EspSa(spi, encr, bytes.fromhex(sa["encr_key"]), Integ.HMAC_SHA1_96,
                    bytes.fromhex(sa["integ_key"]))
        sas[spi] = (esp, sa["src"], sa["dst"])
    return sas


@pytest.mark.parametrize("case", [c for c in STRONGSWAN if "noesp" not in c.name], ids=lambda c: c.name)
def test_strongswan_esp_decrypts_to_pings(case: Path) -> None:
    sas = _case_sas(case)
    packets = [p for p in classify_all(read_capture(next(case.glob("*.pcap"))).datagrams)
               if isinstance(p, EspPacket)]
    assert len(packets) == 6
    echoes = []
    for p in packets:
        sa, src, dst = sas[p.spi]
        assert (p.datagram.src, p.datagram.dst) == (src, dst)
        inner = netpkt.parse_ipv4(sa.decapsulate(p.data))  # verifies the IPv4 checksum
        echo = netpkt.parse_icmp_echo(inner.payload)  # verifies the ICMP checksum
        echoes.append((inner.src, inner.dst, echo.type, echo.seq))
    assert echoes == [
        ("203.0.113.1", "198.51.100.1", 8, 1), ("198.51.100.1", "203.0.113.1", 0, 1),
        ("203.0.113.1", "198.51.100.1", 8, 2), ("198.51.100.1", "203.0.113.1", 0, 2),
        ("203.0.113.1", "198.51.100.1", 8, 3), ("198.51.100.1", "203.0.113.1", 0, 3),
    ]
    # replaying the capture through the same (windowed) SAs is rejected
    sa, _, _ = sas[packets[0].spi]
    with pytest.raises(ReplayedPacket, match="sequence number 1 rejected: duplicate"):
        sa.decapsulate(packets[0].data)


def test_wireshark_esp_bug_12671_decrypts() -> None:
    wireshark = CAPTURES / "wireshark-4.0.17"
    sad = InboundSad()
    for record in load_esp_sa(wireshark / "esp_sa.tmpl"):
        sad.add(record.to_sa(replay_window=64))
    packets = classify_all(read_capture(wireshark / "esp-bug-12671.pcapng.gz").datagrams)
    inner = [netpkt.parse_ipv4(sad.decapsulate(p.data)) for p in packets if isinstance(p, EspPacket)]
    assert len(inner) == 6
    for ip in inner:
        echo = netpkt.parse_icmp_echo(ip.payload)
        assert bytes.fromhex("08090a0b0c0d0e0f") in echo.data


# --- an independent RFC 4303 construction ---------------------------------------------------


def manual_esp(
    encr: Encr, key: bytes, integ: Integ, ikey: bytes, seq: int, iv: bytes, plaintext: bytes
) -> bytes:
    """SPI | seq | IV | E(plaintext) | ICV, built from the crypto façade alone."""
    body = SPI + seq.to_bytes(4, "big") + iv + encrypt(encr, key, iv, plaintext)
    return body + integ.compute(ikey, body)


KEY, IKEY, IV = bytes(range(16)), bytes(range(20)), bytes(range(100, 116))


def test_manual_packet_decrypts() -> None:
    sa = EspSa(SPI, Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY)
    inner = PING
    pad = -(len(inner) + 2) % 16
    esp = manual_esp(Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY, 5, IV,
                     inner + bytes(range(1, pad + 1)) + bytes([pad, 4]))
    result = sa.unprotect(esp)
    assert (result.seq, result.next_header, result.payload, result.pad_length) == (5, 4, inner, pad)


@pytest.mark.parametrize(
    ("plaintext", "error", "message"),
    [
        (bytes(12) + b"\x01\x03\x02\x04", BadPadding, r"not 1, 2, 3, \.\.\. \(got 0103"),
        (bytes(14) + b"\x20\x04", BadPadding, "pad length 32 exceeds the 14-byte payload"),
        (bytes(20) + b"\x00\x04", TruncatedPacket, "not a whole number of 16-byte blocks"),
    ],
)
def test_bad_trailers(plaintext: bytes, error: type[EspError], message: str) -> None:
    sa = EspSa(SPI, Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY)
    if len(plaintext) % 16:
        body = SPI + (1).to_bytes(4, "big") + IV + plaintext  # not encryptable: raw bytes
        esp = body + Integ.HMAC_SHA1_96.compute(IKEY, body)
    else:
        esp = manual_esp(Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY, 1, IV, plaintext)
    with pytest.raises(error, match=message):
        sa.unprotect(esp)


def test_transport_mode_next_header_is_refused_by_decapsulate() -> None:
    sa = EspSa(SPI, Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY)
    esp = manual_esp(Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY, 1, IV, bytes(14) + b"\x00\x06")
    with pytest.raises(EspError, match="next header 6 is not a tunnel-mode inner IP packet"):
        sa.decapsulate(esp)
    dummy = manual_esp(Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, IKEY, 2, IV, bytes(14) + b"\x00\x3b")
    assert sa.unprotect(dummy).next_header == 59


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(CIPHERS), st.sampled_from(INTEGS), st.binary(min_size=1, max_size=1500),
    st.binary(min_size=36, max_size=36),
)
def test_round_trip(cipher: tuple[Encr, int], integ: Integ | None, inner: bytes, keys: bytes) -> None:
    encr, size = cipher
    key = (keys * 2)[: size + encr.salt_size]
    ikey = (keys * 2)[: integ.key_size] if integ else b""
    out = EspSa(SPI, encr, key, integ, ikey, random_bytes=os.urandom)
    back = EspSa(SPI, encr, key, integ, ikey)
    for _ in range(2):
        esp = out.encapsulate(inner)
        align = 4 if encr is Encr.AES_CTR else encr.block_size
        assert (len(esp) - 8 - encr.iv_size - (integ.icv_size if integ else 0)) % align == 0
        result = back.unprotect(esp)
        assert result.payload == inner and result.seq == out.seq
        assert result.next_header == (41 if inner[0] >> 4 == 6 else 4)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_flipped_bit_is_rejected(inner: bytes, data: st.DataObject) -> None:
    out, _ = make_pair()
    back = EspSa(SPI, Encr.AES_CBC, out.encr_key, Integ.HMAC_SHA1_96, out.integ_key, replay_window=None)
    esp = bytearray(out.encapsulate(inner))
    pos = data.draw(st.integers(0, len(esp) - 1))
    esp[pos] ^= 1 << data.draw(st.integers(0, 7))
    expected = UnknownSpi if pos < 4 else BadIcv
    with pytest.raises(expected):
        back.unprotect(bytes(esp))


def test_outbound_sequence_and_ivs() -> None:
    out, back = make_pair()
    packets = [out.encapsulate(PING) for _ in range(3)]
    assert [int.from_bytes(p[4:8], "big") for p in packets] == [1, 2, 3]
    assert len({p[8:24] for p in packets}) == 3  # a fresh IV per packet
    assert [back.decapsulate(p) for p in reversed(packets)] == [PING] * 3  # reordering is fine
    out.seq = 0xFFFFFFFF
    with pytest.raises(SequenceExhausted, match="rekey"):
        out.encapsulate(PING)


def test_icv_checked_before_window_moves() -> None:
    out, back = make_pair()
    first = out.encapsulate(PING)
    forged = bytearray(out.encapsulate(PING))
    forged[4:8] = (1000).to_bytes(4, "big")
    with pytest.raises(BadIcv, match="ICV mismatch on SPI 0x11223344 sequence 1000"):
        back.decapsulate(bytes(forged))
    assert back.replay is not None and back.replay.top == 0
    assert back.decapsulate(first) == PING


def test_truncated_and_unknown_spi() -> None:
    out, back = make_pair()
    esp = out.encapsulate(PING)
    with pytest.raises(TruncatedPacket, match="shorter than the 52-byte minimum"):
        back.decapsulate(esp[:40])
    sad = InboundSad()
    sad.add(back)
    assert sad.decapsulate(esp) == PING and len(sad) == 1
    with pytest.raises(UnknownSpi, match="no inbound SA for SPI 0x99999999"):
        sad.decapsulate(b"\x99" * 4 + esp[4:])
    with pytest.raises(TruncatedPacket):
        sad.decapsulate(b"\x01\x02")
    sad.remove(SPI)
    with pytest.raises(UnknownSpi):
        sad.lookup(SPI)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="SPI must be 4 bytes"):
        EspSa(b"\x01", Encr.AES_CBC, KEY, None)
    with pytest.raises(ValueError, match="reserved"):
        EspSa(b"\x00\x00\x00\x07", Encr.AES_CBC, KEY, None)
    with pytest.raises(ValueError, match="AES-CBC key must be one of"):
        EspSa(SPI, Encr.AES_CBC, bytes(15), None)
    with pytest.raises(ValueError, match="HMAC-SHA1-96 key must be 20 bytes"):
        EspSa(SPI, Encr.AES_CBC, KEY, Integ.HMAC_SHA1_96, bytes(16))
    with pytest.raises(EspError, match="no random source"):
        EspSa(SPI, Encr.AES_CBC, KEY, None).encapsulate(PING)


def test_sa_pair_from_child() -> None:
    net = ipaddress.IPv4Network
    gw = ChildSaKeys(
        Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, spi_in=b"\xaa\x00\x00\x01", spi_out=b"\xbb\x00\x00\x02",
        encr_key_in=bytes(range(24)), encr_key_out=bytes(range(1, 25)),
        integ_key_in=bytes(20), integ_key_out=bytes(range(20)),
        local_ts=net("198.51.100.0/24"), remote_ts=net("203.0.113.0/24"), udp_encapsulated=True,
    )
    peer = ChildSaKeys(
        gw.encr, 24, gw.integ, spi_in=gw.spi_out, spi_out=gw.spi_in, encr_key_in=gw.encr_key_out,
        encr_key_out=gw.encr_key_in, integ_key_in=gw.integ_key_out, integ_key_out=gw.integ_key_in,
        local_ts=gw.remote_ts, remote_ts=gw.local_ts,
    )
    gw_out, gw_in = sa_pair_from_child(gw, os.urandom)
    peer_out, peer_in = sa_pair_from_child(peer, os.urandom)
    assert gw_out.spi == b"\xbb\x00\x00\x02" and gw_in.spi == b"\xaa\x00\x00\x01"
    assert gw_out.udp_encapsulated and gw_in.replay is not None and gw_out.replay is None
    assert peer_in.decapsulate(gw_out.encapsulate(PING)) == PING
    assert gw_in.decapsulate(peer_out.encapsulate(PING)) == PING
