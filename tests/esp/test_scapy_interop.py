"""scapy's SecurityAssociation as an independent ESP implementation, in both directions."""

from __future__ import annotations

import os

import pytest

from kleptolab import netpkt
from kleptolab.crypto.algorithms import Encr, Integ
from kleptolab.esp.sa import EspSa

scapy_ipsec = pytest.importorskip("scapy.layers.ipsec")
from scapy.layers.inet import ICMP, IP, UDP  # noqa: E402

CRYPT = {
    "3DES": (Encr.TDES_CBC, 24),
    "DES": (Encr.DES_CBC, 8),
    "AES-CBC-128": (Encr.AES_CBC, 16),
    "AES-CBC-256": (Encr.AES_CBC, 32),
    "AES-CTR-128": (Encr.AES_CTR, 16),
}
AUTH = {
    "HMAC-SHA1-96": Integ.HMAC_SHA1_96,
    "HMAC-MD5-96": Integ.HMAC_MD5_96,
    "SHA2-256-128": Integ.HMAC_SHA2_256_128,
    "SHA2-512-256": Integ.HMAC_SHA2_512_256,
}
CASES = [
    (c, a) for c in CRYPT for a in AUTH
    if a in ("HMAC-SHA1-96", "SHA2-256-128") or c in ("3DES", "AES-CBC-128")
]
OUTER = ("192.0.2.1", "192.0.2.2")


def pair(crypt: str, auth: str, nat_t: bool) -> tuple[EspSa, object]:
    encr, size = CRYPT[crypt]
    key = os.urandom(size + encr.salt_size)
    integ = AUTH[auth]
    ikey = os.urandom(integ.key_size)
    spi = 0x0A0B0C0D
    ours = EspSa(spi.to_bytes(4, "big"), encr, key, integ, ikey, random_bytes=os.urandom)
    theirs = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.ESP, spi=spi, crypt_algo=crypt.rsplit("-", 1)[0] if crypt.startswith("AES") else crypt,
        crypt_key=key, auth_algo=auth, auth_key=ikey,
        tunnel_header=IP(src=OUTER[0], dst=OUTER[1]),
        nat_t_header=UDP(sport=4500, dport=4500) if nat_t else None,
    )
    return ours, theirs


def inner_packet(n: int) -> bytes:
    return netpkt.build_ipv4_icmp_echo("203.0.113.1", "198.51.100.1", 0x4242, n, os.urandom(n * 13 % 300))


@pytest.mark.parametrize("nat_t", [False, True], ids=["raw", "udp4500"])
@pytest.mark.parametrize(("crypt", "auth"), CASES)
def test_scapy_decrypts_ours(crypt: str, auth: str, nat_t: bool) -> None:
    ours, theirs = pair(crypt, auth, nat_t)
    for n in range(1, 5):
        inner = inner_packet(n)
        esp = ours.encapsulate(inner)
        if nat_t:
            outer = netpkt.build_ip_udp(*OUTER[:1], 4500, OUTER[1], 4500, esp)
        else:
            outer = netpkt.build_ipv4(OUTER[0], OUTER[1], netpkt.PROTO_ESP, esp)
        decrypted = theirs.decrypt(IP(outer))  # type: ignore[attr-defined]
        assert bytes(decrypted) == inner
        assert decrypted[ICMP].seq == n


@pytest.mark.parametrize("nat_t", [False, True], ids=["raw", "udp4500"])
@pytest.mark.parametrize(("crypt", "auth"), CASES)
def test_we_decrypt_scapys(crypt: str, auth: str, nat_t: bool) -> None:
    ours, theirs = pair(crypt, auth, nat_t)
    for n in range(1, 5):
        inner = IP(inner_packet(n))
        outer = IP(bytes(theirs.encrypt(inner)))  # type: ignore[attr-defined]
        if nat_t:
            assert outer[UDP].dport == 4500
            esp = bytes(outer[UDP].payload)
        else:
            assert outer.proto == 50
            esp = bytes(outer.payload)
        assert ours.decapsulate(esp) == bytes(inner)
