"""Scripted IKEv1 exchanges (Main/Aggressive Mode, PSK/RSA, Quick Mode ± PFS, NAT-T) in a pcap.

The gateway side draws every nonce, DH exponent, cookie and SPI from the
emulated device's :class:`~kleptolab.device.queues.PrngQueues` in the order
:mod:`kleptolab.ike.v1.phase1` / ``quick_mode`` document (responder: DH
private, then nonce, then SPI).  The client's randomness is a SHAKE stream.
Messages are built with the IKEv1 library's payload classes, key functions
and :class:`~kleptolab.ike.v1.crypto.Ikev1Cipher`; ESP with
:class:`~kleptolab.esp.sa.EspSa`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from kleptolab import netpkt
from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter
from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.device.queues import PrngQueues
from kleptolab.esp.sa import EspSa
from kleptolab.ike.common import AuthMethod, ChildProposal, IkeProposal
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.attributes import DataAttribute
from kleptolab.ike.v1.auth import (
    LabCredential,
    id_payload,
    issue_certificate,
    make_lab_ca,
    rsa_sign,
    ts_id_payload,
)
from kleptolab.ike.v1.constants import (
    VID_NATT_RFC3947,
    CertEncoding,
    EncapMode,
    Exchange,
    P1Attr,
    P1Auth,
)
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.message import build_message, encode_chain
from kleptolab.ike.v1.natt import natd_hash
from kleptolab.ike.v1.payloads import (
    CertPayload,
    CrPayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    Payload,
    SaPayload,
    SigPayload,
    VendorIdPayload,
)
from kleptolab.ike.v1.proposals import esp_sa_payload, ike_sa_payload

from .synth import CLIENT, GATEWAY, INNER_CLIENT, INNER_SERVER, SynthSession, _sender

CLIENT_ID, GATEWAY_ID = "client.example", "gw.example"
PSK = b"correct horse battery staple"


@dataclass(frozen=True)
class V1Case:
    """One IKEv1 connection shape."""

    aggressive: bool = False
    auth: AuthMethod = AuthMethod.PSK
    pfs: bool = False
    nat_t: bool = True
    encr: Encr = Encr.TDES_CBC
    key_size: int = 24
    quick_modes: int = 1
    packets: int = 2
    psk: bytes = PSK

    @property
    def ike(self) -> IkeProposal:
        return IkeProposal(self.encr, self.key_size, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2, self.auth)

    @property
    def child(self) -> ChildProposal:
        return ChildProposal(self.encr, self.key_size, Integ.HMAC_SHA1_96, 2 if self.pfs else None)


@dataclass
class V1Session(SynthSession):
    """What was sent, plus every key the peers derived (for assertions)."""

    ka: bytes = b""
    g_xy: bytes = b""
    esp_keys: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def lab_pki() -> tuple[LabCredential, LabCredential, LabCredential]:
    """A lab CA and 1024-bit certificates for both peers (as in CCS16's RSA test)."""
    ca = make_lab_ca(key_size=1024)
    return ca, issue_certificate(ca, CLIENT_ID, 1024, 2), issue_certificate(ca, GATEWAY_ID, 1024, 3)


class _Wire:
    """Writes IKE (port 500, or 4500 with the marker once floated) and ESP, 10 ms apart."""

    def __init__(self, send: Callable[..., None], t: float) -> None:
        self._send = send
        self.t = t

    def __call__(self, src: str, dst: str, data: bytes, floated: bool) -> None:
        self.t += 0.01
        self._send(self.t, src, dst, data, floated)

    def esp(self, src: str, dst: str, data: bytes) -> None:
        self.t += 0.01
        self._send(self.t, src, dst, data, True, esp=True)


class _Client:
    def __init__(self, tag: int) -> None:
        self._stream = hashlib.shake_256(f"v1-client-{tag}".encode()).digest(4096)
        self._pos = 0

    def take(self, n: int) -> bytes:
        out = self._stream[self._pos : self._pos + n]
        self._pos += n
        return out


def _auth(case: V1Case, digest: bytes, credential: LabCredential | None) -> list[Payload]:
    """HASH_I/HASH_R (PSK) or CERT + SIG over it (RSA signatures)."""
    if credential is None:
        return [HashPayload(digest)]
    return [CertPayload(CertEncoding.X509_SIGNATURE, credential.cert_der),
            SigPayload(rsa_sign(credential.key_pem, digest))]


def ikev1_session(writer: PcapWriter, gw: PrngQueues, t: float, tag: int, case: V1Case) -> V1Session:
    """One IKEv1 phase 1 + ``case.quick_modes`` Quick Modes + ESP echoes each way."""
    cl = _Client(tag)
    send = _sender(writer, case.nat_t)
    group = group_by_number(2)
    prf = Prf.HMAC_SHA1
    _ca, client_cred, gw_cred = lab_pki() if case.auth is AuthMethod.RSA_SIG else (None, None, None)
    cky_i = cl.take(8)
    x_i = int.from_bytes(cl.take(20), "big")
    g_xi, ni = group.public_value(x_i), cl.take(32)
    sa_i = ike_sa_payload([case.ike])
    sai_b = sa_i.build()
    vids: list[Payload] = [VendorIdPayload(VID_NATT_RFC3947)] if case.nat_t else []
    cky_r = gw.random_bytes(8, "cookie")
    exchange = Exchange.AGGRESSIVE if case.aggressive else Exchange.MAIN_MODE
    zero = bytes(8)
    emit = _Wire(send, t)

    def natd() -> list[Payload]:
        if not case.nat_t:
            return []
        fake = natd_hash(prf, cky_i, cky_r, ("0.0.0.0", 0))  # kernel-libipsec style forced NAT
        return [NatDPayload(natd_hash(prf, cky_i, cky_r, (GATEWAY, 500))), NatDPayload(fake)]

    id_i, id_r = id_payload(CLIENT_ID), id_payload(GATEWAY_ID)
    if not case.aggressive:
        emit(CLIENT, GATEWAY, build_message(cky_i, zero, exchange, 0, 0, [sa_i, *vids]), False)
        emit(GATEWAY, CLIENT, build_message(cky_i, cky_r, exchange, 0, 0, [sa_i, *vids]), False)
    x_r = gw.dh_private(group)
    nr = gw.nonce()
    g_xr = group.public_value(x_r)
    g_xy = group.shared_secret(x_r, g_xi)
    if case.auth is AuthMethod.PSK:
        skeyid = kdf.skeyid_psk(prf, case.psk, ni, nr)
    else:
        skeyid = kdf.skeyid_sig(prf, ni, nr, g_xy)
    p1 = kdf.derive_phase1(prf, skeyid, g_xy, cky_i, cky_r, g_xi, g_xr, case.encr, case.key_size)
    cipher = Ikev1Cipher.from_keys(p1, case.encr, prf)
    h_i = kdf.hash_i(prf, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, id_i.build())
    h_r = kdf.hash_r(prf, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, id_r.build())
    cr: list[Payload] = [CrPayload(CertEncoding.X509_SIGNATURE, b"")] if case.auth is AuthMethod.RSA_SIG else []
    if case.aggressive:
        am1 = [sa_i, KePayload(g_xi), NoncePayload(ni), id_i, *vids]
        emit(CLIENT, GATEWAY, build_message(cky_i, zero, exchange, 0, 0, am1), False)
        am2 = [sa_i, KePayload(g_xr), NoncePayload(nr), id_r, *_auth(case, h_r, gw_cred),
               *vids, *natd()]
        emit(GATEWAY, CLIENT, build_message(cky_i, cky_r, exchange, 0, 0, am2), False)
        am3 = [*_auth(case, h_i, client_cred), *natd()]
        emit(CLIENT, GATEWAY, build_message(cky_i, cky_r, exchange, 0, 0, am3), True)
    else:
        emit(CLIENT, GATEWAY, build_message(cky_i, cky_r, exchange, 0, 0,
                                            [KePayload(g_xi), NoncePayload(ni), *cr, *natd()]), False)
        emit(GATEWAY, CLIENT, build_message(cky_i, cky_r, exchange, 0, 0,
                                            [KePayload(g_xr), NoncePayload(nr), *cr, *natd()]), False)
        mm5 = [id_i, *_auth(case, h_i, client_cred)]
        emit(CLIENT, GATEWAY, cipher.encrypt(cky_i, cky_r, exchange, 0, mm5), True)
        mm6 = [id_r, *_auth(case, h_r, gw_cred)]
        emit(GATEWAY, CLIENT, cipher.encrypt(cky_i, cky_r, exchange, 0, mm6), True)
    session = V1Session(cky_i, cky_r, ka=p1.ka, g_xy=g_xy)
    for n in range(case.quick_modes):
        _quick_mode(case, cl, gw, cipher, p1, cky_i, cky_r, emit, session, n, tag)
    return session


def _quick_mode(case: V1Case, cl: _Client, gw: PrngQueues, cipher: Ikev1Cipher, p1: kdf.Phase1Keys,
                cky_i: bytes, cky_r: bytes, emit: _Wire, session: V1Session, n: int, tag: int) -> None:
    prf, group = Prf.HMAC_SHA1, group_by_number(2)
    child = case.child
    encap = EncapMode.UDP_TUNNEL if case.nat_t else EncapMode.TUNNEL
    mid = int.from_bytes(cl.take(4), "big") | 1
    spi_i = b"\xc1" + cl.take(3)
    ids = [ts_id_payload(ipaddress.IPv4Network(INNER_CLIENT)), ts_id_payload(ipaddress.IPv4Network(INNER_SERVER))]
    x_qi = int.from_bytes(cl.take(20), "big")
    ni = cl.take(32)
    ke_i: list[Payload] = [KePayload(group.public_value(x_qi))] if case.pfs else []
    after1 = [esp_sa_payload([child], spi_i, encap), NoncePayload(ni), *ke_i, *ids]
    h1 = kdf.qm_hash1(prf, p1.skeyid_a, mid, encode_chain(after1)[1])
    emit(CLIENT, GATEWAY, cipher.encrypt(cky_i, cky_r, Exchange.QUICK_MODE, mid, [HashPayload(h1), *after1]), True)
    g_qm = b""
    ke_r: list[Payload] = []
    if case.pfs:
        x_qr = gw.dh_private(group)
        ke_r = [KePayload(group.public_value(x_qr))]
        g_qm = group.shared_secret(x_qr, group.public_value(x_qi))
    nr = gw.nonce()
    spi_r = gw.random_bytes(4, "spi")
    after2 = [esp_sa_payload([child], spi_r, encap), NoncePayload(nr), *ke_r, *ids]
    h2 = kdf.qm_hash2(prf, p1.skeyid_a, mid, ni, encode_chain(after2)[1])
    emit(GATEWAY, CLIENT, cipher.encrypt(cky_i, cky_r, Exchange.QUICK_MODE, mid, [HashPayload(h2), *after2]), True)
    h3 = kdf.qm_hash3(prf, p1.skeyid_a, mid, ni, nr)
    emit(CLIENT, GATEWAY, cipher.encrypt(cky_i, cky_r, Exchange.QUICK_MODE, mid, [HashPayload(h3)]), True)
    args = (ni, nr, child.encr, child.key_size, child.integ, g_qm)
    to_gw = kdf.esp_sa_keys(prf, p1.skeyid_d, spi_r, *args)
    to_cl = kdf.esp_sa_keys(prf, p1.skeyid_d, spi_i, *args)
    session.esp_keys[spi_r] = (to_gw.encr_key, to_gw.integ_key)
    session.esp_keys[spi_i] = (to_cl.encr_key, to_cl.integ_key)
    ivs = hashlib.shake_256(f"esp-iv-{tag}-{n}".encode())
    stream = ivs.digest(64 * case.packets)
    pos = [0]

    def iv(size: int) -> bytes:
        pos[0] += size
        return stream[pos[0] - size : pos[0]]

    out = EspSa(spi_r, child.encr, to_gw.encr_key, child.integ, to_gw.integ_key, random_bytes=iv)
    back = EspSa(spi_i, child.encr, to_cl.encr_key, child.integ, to_cl.integ_key, random_bytes=iv)
    for seq in range(1, case.packets + 1):
        ping = netpkt.build_ipv4_icmp_echo(INNER_CLIENT, INNER_SERVER, tag, seq, b"kleptolab v1 %d.%d" % (tag, n))
        pong = netpkt.echo_reply_for(ping)
        emit.esp(CLIENT, GATEWAY, out.encapsulate(ping))
        emit.esp(GATEWAY, CLIENT, back.encapsulate(pong))
        session.inner += [ping, pong]


def ikev1_capture(path: Path, gw: PrngQueues, cases: Sequence[V1Case], t0: float = 1_700_000_000) -> list[V1Session]:
    """Write one session per case (one second apart; the gateway's queues tick in between)."""
    out = []
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        for i, case in enumerate(cases):
            out.append(ikev1_session(writer, gw, t0 + i, 100 + i, case))
            gw.tick()
    return out


def ikev1_pke_session(writer: PcapWriter, gw: PrngQueues, t: float, tag: int) -> tuple[bytes, bytes]:
    """Main Mode with RSA public-key encryption (RFC 2409 §5.2): nonces travel RSA-encrypted.

    Only MM1-MM4 are written (the passive attacker cannot go further anyway).
    """
    cl = _Client(tag)
    send = _sender(writer, False)
    group = group_by_number(2)
    sa = ike_sa_payload([V1Case().ike])
    proposal = sa.proposals[0]
    transform = proposal.transforms[0]
    attrs = tuple(DataAttribute(a.type, P1Auth.RSA_ENC) if a.type == P1Attr.AUTH_METHOD else a
                  for a in transform.attributes)
    sa = SaPayload(sa.doi, sa.situation, (replace(proposal, transforms=(replace(transform, attributes=attrs),)),))
    cky_i, cky_r = cl.take(8), gw.random_bytes(8, "cookie")
    emit = _Wire(send, t)
    emit(CLIENT, GATEWAY, build_message(cky_i, bytes(8), Exchange.MAIN_MODE, 0, 0, [sa]), False)
    emit(GATEWAY, CLIENT, build_message(cky_i, cky_r, Exchange.MAIN_MODE, 0, 0, [sa]), False)
    g_xi = group.public_value(int.from_bytes(cl.take(20), "big"))
    x_r = gw.dh_private(group)
    nr = gw.nonce()
    sealed_r = hashlib.sha512(nr).digest() * 2  # stands in for <Nr_b>PubKey_i (128 bytes)
    mm3 = [KePayload(g_xi), NoncePayload(cl.take(128)), IdPayload(2, 0, 0, cl.take(128))]
    mm4 = [KePayload(group.public_value(x_r)), NoncePayload(sealed_r), IdPayload(2, 0, 0, sealed_r)]
    emit(CLIENT, GATEWAY, build_message(cky_i, cky_r, Exchange.MAIN_MODE, 0, 0, mm3), False)
    emit(GATEWAY, CLIENT, build_message(cky_i, cky_r, Exchange.MAIN_MODE, 0, 0, mm4), False)
    return cky_i, cky_r
