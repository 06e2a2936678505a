"""IKEv2 initiator and responder state machines (sans-I/O, one IKE SA each).

Bytes in (``receive``), events and bytes out (``outgoing``); every random
value comes from the :class:`~kleptolab.ike.common.KeySource`.  The
initiator queues its IKE_SA_INIT request when it is constructed.  Both ends
then run IKE_AUTH (PSK or RSA signatures with CERT payloads) with a first
child SA; afterwards either side may call ``create_child_sa``,
``delete_child_sa``, ``delete_ike_sa``, ``check_liveness`` or ``rekey_ike_sa`` (see
:class:`~kleptolab.ike.v2.rekey.Ikev2RekeyingSession` and
:class:`~kleptolab.ike.v2.session.Ikev2Session`).

KeySource draw order:

- initiator: SPIi ``random_bytes(8)``, ``dh_private``, ``nonce()`` (again
  ``dh_private`` after INVALID_KE_PAYLOAD); IKE_AUTH: child SPI ``random_bytes(4)``;
- responder IKE_SA_INIT reply: SPIr ``random_bytes(8)``, ``dh_private``,
  ``nonce()`` (nothing for COOKIE / INVALID_KE_PAYLOAD / NO_PROPOSAL_CHOSEN
  replies, which keep no state); IKE_AUTH reply: child SPI ``random_bytes(4)``;
- every encrypted message: its IV via ``random_bytes(iv_size)``, drawn last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kleptolab.ike.common import (
    AuthMethod,
    ChildSaEstablished,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    KeySource,
    PeerConfig,
)
from kleptolab.ike.dh import DhGroup, group_by_number
from kleptolab.ike.v2.auth import (
    METHOD_IDS,
    AuthenticationFailed,
    certreq_for,
    check_auth,
    make_auth,
    our_cert,
)
from kleptolab.ike.v2.constants import ExchangeType, NotifyType, ProtocolId
from kleptolab.ike.v2.cookies import CookieJar, cookie_challenge
from kleptolab.ike.v2.keys import derive_ike_keys, signed_octets
from kleptolab.ike.v2.natt import Address, detect_nat, nat_detection_notifies
from kleptolab.ike.v2.negotiation import (
    InvalidKe,
    NoProposalChosen,
    child_proposal_transforms,
    child_sa_payload,
    chosen_child,
    chosen_ike,
    id_matches,
    identity_for,
    identity_text,
    ike_proposal_transforms,
    ike_sa_payload,
    select_child,
    select_ike,
)
from kleptolab.ike.v2.payloads import (
    AnyPayload,
    AuthPayload,
    CertPayload,
    IdiPayload,
    IdrPayload,
    Ikev2Message,
    KePayload,
    NoncePayload,
    NotifyPayload,
)
from kleptolab.ike.v2.proposals import Proposal, SaPayload
from kleptolab.ike.v2.rekey import Ikev2RekeyingSession
from kleptolab.ike.v2.selectors import answered_selectors, narrowed_selectors, selector_payloads
from kleptolab.ike.v2.session import (
    ZERO_SPI,
    Ikev2State,
    Pending,
    error_notify,
    first,
    notify_name,
)
from kleptolab.ike.v2.sk import SkKeys
from kleptolab.ike.v2.traffic import TsiPayload, TsrPayload
from kleptolab.ike.wire import WireError

MAX_INIT_RETRIES = 3
"""COOKIE and INVALID_KE_PAYLOAD round trips the initiator accepts before giving up."""


class _Ikev2Endpoint(Ikev2RekeyingSession):
    """Key setup and AUTH handling common to both roles."""

    _init_request: bytes = b""
    _init_response: bytes = b""

    def _set_keys(self, proposal: IkeProposal, shared: bytes) -> None:
        self.proposal = proposal
        self.ike_keys = derive_ike_keys(proposal.prf, proposal.encr, proposal.key_size, proposal.integ,
                                        self._ni, self._nr, shared, self.spi_i, self.spi_r)
        k = self.ike_keys
        self.sk_keys = SkKeys(proposal.encr, proposal.integ, k.sk_ei, k.sk_er, k.sk_ai, k.sk_ar)
        self._shared = shared

    def _established(self, peer: tuple[int, bytes]) -> IkeSaEstablished:
        assert self.proposal is not None and self.ike_keys is not None
        self.state = Ikev2State.ESTABLISHED
        keys = self.ike_keys.as_dict() | {"g^ir": self._shared, "Ni": self._ni, "Nr": self._nr}
        self.peer_id = identity_text(*peer)
        return IkeSaEstablished(self.spi_i, self.spi_r, 2, self.peer_id, self.proposal, keys)

    def _auth_method(self, config: PeerConfig, peer_kind: int | None = None) -> AuthMethod:
        """The method of ``config``'s proposal with the chosen transforms (the one the peer used first)."""
        assert self.proposal is not None
        chosen = (self.proposal.encr, self.proposal.key_size, self.proposal.integ,
                  self.proposal.prf, self.proposal.dh_group)
        methods = [p.auth for p in config.ike_proposals
                   if (p.encr, p.key_size, p.integ, p.prf, p.dh_group) == chosen]
        return next((m for m in methods if METHOD_IDS[m] == peer_kind),
                    methods[0] if methods else config.ike_proposals[0].auth)

    def _nat_payloads(self, spi_r: bytes) -> list[AnyPayload]:
        if self.local is None or self.remote is None:
            return []
        return list(nat_detection_notifies(self.spi_i, spi_r, self.local, self.remote, self.force_nat))

    def _detect_nat(self, message: Ikev2Message) -> None:
        if self.local is None or self.remote is None:
            return
        sources = [p.data for p in message.payloads
                   if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP]
        dest = message.notifies().get(NotifyType.NAT_DETECTION_DESTINATION_IP)
        self.nat = detect_nat(message.spi_i, message.spi_r, self.local, self.remote, sources,
                              dest.data if dest else None, self.force_nat)


class Ikev2Initiator(_Ikev2Endpoint):
    """Initiator of one IKE SA for ``config``; the IKE_SA_INIT request is queued at once."""

    def __init__(self, config: PeerConfig, keys: KeySource, *, local: Address | None = None,
                 remote: Address | None = None, force_nat: bool = False) -> None:
        if config.version != 2:
            raise ValueError(f"config {config.name!r} is for IKEv{config.version}, not IKEv2")
        if not config.ike_proposals or not config.child_proposals:
            raise ValueError(f"config {config.name!r} needs IKE and child proposals")
        super().__init__(keys, True, local, remote, force_nat)
        self.config = config
        self.spi_i = keys.random_bytes(8)
        self._group: DhGroup = group_by_number(config.ike_proposals[0].dh_group)
        self._private = keys.dh_private(self._group)
        self._ni = keys.nonce()
        self._cookie: bytes | None = None
        self._retries = 0
        self._send_init()

    def _send_init(self) -> None:
        assert self.config is not None
        payloads: list[AnyPayload] = []
        if self._cookie is not None:
            payloads.append(NotifyPayload(NotifyType.COOKIE, self._cookie))
        payloads += [ike_sa_payload(self.config.ike_proposals),
                     KePayload(self._group.number, self._group.public_value(self._private)),
                     NoncePayload(self._ni)]
        if self.config.nat_t:
            payloads += self._nat_payloads(ZERO_SPI)
        self._next_mid, self._pending = 0, None
        self._init_request = self._request(ExchangeType.IKE_SA_INIT, payloads, "init").raw
        self.state = Ikev2State.INIT_SENT

    def _on_response(self, pending: Pending, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if pending.kind == "init":
            return self._on_init_response(message, raw)
        if pending.kind == "auth":
            return self._on_auth_response(pending, message)
        return super()._on_response(pending, message, raw)

    def _on_init_response(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        assert self.config is not None
        notifies = message.notifies()
        if NotifyType.COOKIE in notifies or NotifyType.INVALID_KE_PAYLOAD in notifies:
            self._retries += 1
            if self._retries > MAX_INIT_RETRIES:
                return self._fail("too many COOKIE / INVALID_KE_PAYLOAD rounds")
            if NotifyType.COOKIE in notifies:
                self._cookie = notifies[NotifyType.COOKIE].data
            else:
                wanted = int.from_bytes(notifies[NotifyType.INVALID_KE_PAYLOAD].data[:2], "big")
                if wanted not in {p.dh_group for p in self.config.ike_proposals}:
                    return self._fail(f"responder wants DH group {wanted}, not offered",
                                      NotifyType.INVALID_KE_PAYLOAD)
                self._group = group_by_number(wanted)
                self._private = self._keys.dh_private(self._group)
            self._send_init()
            return []
        error = error_notify(message)
        if error is not None:
            return self._fail(f"IKE_SA_INIT refused: {notify_name(error.notify_type)}", error.notify_type)
        sa, ke, nonce = first(message, SaPayload), first(message, KePayload), first(message, NoncePayload)
        if not (isinstance(sa, SaPayload) and isinstance(ke, KePayload) and isinstance(nonce, NoncePayload)):
            return self._fail("IKE_SA_INIT response lacks SA, KE or Nonce", NotifyType.INVALID_SYNTAX)
        try:
            proposal = chosen_ike(sa, self.config.ike_proposals)
        except NoProposalChosen as exc:
            return self._fail(str(exc), NotifyType.NO_PROPOSAL_CHOSEN)
        if ke.group != proposal.dh_group or ke.group != self._group.number or message.spi_r == ZERO_SPI:
            return self._fail("IKE_SA_INIT response KE group or SPIr inconsistent", NotifyType.INVALID_SYNTAX)
        try:
            shared = self._group.shared_secret(self._private, ke.data)
        except ValueError as exc:
            return self._fail(f"bad responder KE: {exc}", NotifyType.INVALID_SYNTAX)
        self.spi_r, self._nr, self._init_response = message.spi_r, nonce.nonce, raw
        self._set_keys(proposal, shared)
        self._detect_nat(message)
        self._send_auth()
        return []

    def _send_auth(self) -> None:
        assert self.config is not None and self.proposal is not None and self.ike_keys is not None
        config, method = self.config, self._auth_method(self.config)
        ident = identity_for(config.local_id)
        idi = IdiPayload(ident.kind, ident.data)
        octets = signed_octets(self._init_request, self._nr, self.proposal.prf, self.ike_keys.sk_pi, idi.build())
        spi = self._keys.random_bytes(4)
        payloads: list[AnyPayload] = [idi]
        cert, certreq = our_cert(method, config), certreq_for(config)
        payloads += [p for p in (cert, certreq) if p is not None]
        payloads.append(NotifyPayload(NotifyType.INITIAL_CONTACT))
        if config.remote_id not in ("%any", "*"):
            peer = identity_for(config.remote_id)
            payloads.append(IdrPayload(peer.kind, peer.data))
        payloads += [make_auth(method, config, self.proposal.prf, octets),
                     child_sa_payload(config.child_proposals, spi, with_dh=False),
                     *selector_payloads(config.local_ts, config.remote_ts, True)]
        self._request(ExchangeType.IKE_AUTH, payloads, "auth", spi=spi, proposals=config.child_proposals)
        self.state = Ikev2State.AUTH_SENT

    def _on_auth_response(self, pending: Pending, message: Ikev2Message) -> list[IkeEvent]:
        assert self.config is not None and self.proposal is not None and self.ike_keys is not None
        idr, auth = first(message, IdrPayload), first(message, AuthPayload)
        if not isinstance(idr, IdrPayload) or not isinstance(auth, AuthPayload):
            error = error_notify(message)
            code = error.notify_type if error else NotifyType.INVALID_SYNTAX
            return self._fail(f"IKE_AUTH refused: {notify_name(code)}", code)
        if not id_matches(self.config.remote_id, identity_text(idr.kind, idr.data)):
            return self._fail(f"responder identity {identity_text(idr.kind, idr.data)!r} is not "
                              f"{self.config.remote_id!r}", NotifyType.AUTHENTICATION_FAILED)
        octets = signed_octets(self._init_response, self._ni, self.proposal.prf, self.ike_keys.sk_pr, idr.build())
        certs = [p for p in message.payloads if type(p) is CertPayload]
        try:
            check_auth(self._auth_method(self.config), self.config, self.proposal.prf, octets, auth, certs,
                       (idr.kind, idr.data))
        except AuthenticationFailed as exc:
            return self._fail(f"responder authentication failed: {exc}", NotifyType.AUTHENTICATION_FAILED)
        events: list[IkeEvent] = [self._established((idr.kind, idr.data))]
        error = error_notify(message)
        sa = first(message, SaPayload)
        if error is not None or not isinstance(sa, SaPayload):
            code = error.notify_type if error else NotifyType.NO_PROPOSAL_CHOSEN
            return [*events, ExchangeFailed(f"first child SA refused: {notify_name(code)}", code)]
        try:
            chosen, mine = chosen_child(sa, pending.proposals, with_dh=False)
        except NoProposalChosen as exc:
            return [*events, ExchangeFailed(str(exc), NotifyType.NO_PROPOSAL_CHOSEN)]
        selectors = answered_selectors(message, self.config)
        if isinstance(selectors, str):
            return [*events, ExchangeFailed(selectors, NotifyType.TS_UNACCEPTABLE)]
        child = self.make_child(mine, pending.spi, chosen.spi, self._ni, self._nr, None, True, selectors)
        return [*events, ChildSaEstablished(self.spi_i, self.spi_r, child)]


class Ikev2Responder(_Ikev2Endpoint):
    """Responder for one IKE SA; the peer config is chosen at IKE_AUTH by the initiator's ID.

    With ``cookies``, IKE_SA_INIT requests without a valid COOKIE get the
    stateless N(COOKIE) reply (needs ``remote``).
    """

    def __init__(self, configs: Sequence[PeerConfig], keys: KeySource, *, local: Address | None = None,
                 remote: Address | None = None, force_nat: bool = False,
                 cookies: CookieJar | None = None) -> None:
        super().__init__(keys, False, local, remote, force_nat)
        self.configs = tuple(c for c in configs if c.version == 2 and c.ike_proposals)
        if not self.configs:
            raise ValueError("no IKEv2 peer config with IKE proposals")
        self.cookies = cookies

    def _on_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if message.exchange_type == ExchangeType.IKE_SA_INIT:
            if self.state is not Ikev2State.INITIAL:
                return self._drop("IKE_SA_INIT after the SA was set up")
            return self._on_init_request(message, raw)
        if message.exchange_type == ExchangeType.IKE_AUTH:
            if self.state is not Ikev2State.INIT_DONE:
                return self._drop(f"IKE_AUTH in state {self.state.value}")
            return self._on_auth_request(message, raw)
        return super()._on_request(message, raw)

    def _stateless(self, message: Ikev2Message, raw: bytes, notify: int, data: bytes = b"") -> None:
        reply = Ikev2Message(message.spi_i, ZERO_SPI, ExchangeType.IKE_SA_INIT, self._flags(True), 0,
                             (NotifyPayload(notify, data),))
        self._out.append(self._encode(reply))

    def _on_init_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if message.spi_r != ZERO_SPI or message.message_id != 0:
            return self._drop("IKE_SA_INIT request with SPIr or message ID set")
        if self.cookies is not None and self.remote is not None:
            try:
                challenge = cookie_challenge(raw, self.cookies, self.remote[0])
            except WireError as exc:
                return self._drop(str(exc))
            if challenge is not None:
                self._out.append(challenge)
                return []
        sa, ke, nonce = first(message, SaPayload), first(message, KePayload), first(message, NoncePayload)
        if not (isinstance(sa, SaPayload) and isinstance(ke, KePayload) and isinstance(nonce, NoncePayload)):
            return self._drop("IKE_SA_INIT request lacks SA, KE or Nonce")
        if not 16 <= len(nonce.nonce) <= 256:
            return self._drop(f"nonce of {len(nonce.nonce)} bytes")
        ours = list(dict.fromkeys(p for c in self.configs for p in c.ike_proposals))
        try:
            number, proposal = select_ike(sa, ours, ke.group)
            group = group_by_number(proposal.dh_group)
            group.validate_public(ke.data)
        except InvalidKe as exc:
            self._stateless(message, raw, NotifyType.INVALID_KE_PAYLOAD, exc.group.to_bytes(2, "big"))
            return []
        except NoProposalChosen as exc:
            self._stateless(message, raw, NotifyType.NO_PROPOSAL_CHOSEN)
            return [ExchangeFailed(str(exc), NotifyType.NO_PROPOSAL_CHOSEN)]
        except ValueError as exc:
            return self._drop(f"bad initiator KE: {exc}")
        self.spi_i = message.spi_i
        self.spi_r = self._keys.random_bytes(8)
        private = self._keys.dh_private(group)
        self._ni, self._nr, self._init_request = nonce.nonce, self._keys.nonce(), raw
        self._set_keys(proposal, group.shared_secret(private, ke.data))
        self._detect_nat(message)
        payloads: list[AnyPayload] = [
            SaPayload((Proposal(number, ProtocolId.IKE, b"", ike_proposal_transforms(proposal)),)),
            KePayload(group.number, group.public_value(private)), NoncePayload(self._nr)]
        if self.nat is not None:
            payloads += self._nat_payloads(self.spi_r)
        payloads += list(dict.fromkeys(r for c in self.configs if (r := certreq_for(c)) is not None))
        self._init_response = self._reply(message, raw, payloads)
        self.state = Ikev2State.INIT_DONE
        return []

    def _pick_config(self, peer_text: str, auth_kind: int) -> PeerConfig | None:
        """The first config naming the peer, preferring one whose method is the peer's AUTH method,
        then one that holds the chosen proposal."""
        assert self.proposal is not None
        matching = [c for c in self.configs if id_matches(c.remote_id, peer_text)]

        def rank(c: PeerConfig) -> tuple[bool, bool]:
            return (METHOD_IDS[self._auth_method(c, auth_kind)] != auth_kind,
                    self.proposal not in c.ike_proposals)

        return min(matching, key=rank) if matching else None

    def _on_auth_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        assert self.proposal is not None and self.ike_keys is not None
        idi, auth = first(message, IdiPayload), first(message, AuthPayload)
        if not isinstance(idi, IdiPayload) or not isinstance(auth, AuthPayload):
            return self._auth_failed(message, raw, "IKE_AUTH request lacks IDi or AUTH")
        peer_text = identity_text(idi.kind, idi.data)
        config = self._pick_config(peer_text, auth.kind)
        if config is None:
            return self._auth_failed(message, raw, f"no config for peer identity {peer_text!r}")
        method = self._auth_method(config, auth.kind)
        prf = self.proposal.prf
        octets = signed_octets(self._init_request, self._nr, prf, self.ike_keys.sk_pi, idi.build())
        certs = [p for p in message.payloads if type(p) is CertPayload]
        try:
            check_auth(method, config, prf, octets, auth, certs, (idi.kind, idi.data))
        except AuthenticationFailed as exc:
            return self._auth_failed(message, raw, f"initiator authentication failed: {exc}")
        self.config, self.proposal = config, dataclasses.replace(self.proposal, auth=method)
        ident = identity_for(config.local_id)
        idr = IdrPayload(ident.kind, ident.data)
        ours = signed_octets(self._init_response, self._ni, prf, self.ike_keys.sk_pr, idr.build())
        payloads: list[AnyPayload] = [idr]
        cert = our_cert(method, config)
        payloads += [cert] if cert is not None else []
        payloads.append(make_auth(method, config, prf, ours))
        events: list[IkeEvent] = [self._established((idi.kind, idi.data))]
        child_payloads, child_events = self._first_child(message, config)
        self._reply(message, raw, payloads + child_payloads)
        return events + child_events

    def _first_child(self, message: Ikev2Message, config: PeerConfig) -> tuple[list[AnyPayload], list[IkeEvent]]:
        sa, tsi, tsr = first(message, SaPayload), first(message, TsiPayload), first(message, TsrPayload)
        if not (isinstance(sa, SaPayload) and isinstance(tsi, TsiPayload) and isinstance(tsr, TsrPayload)):
            return [], []
        try:
            offered, mine, _ = select_child(sa, config.child_proposals, with_dh=False)
        except NoProposalChosen as exc:
            code = NotifyType.NO_PROPOSAL_CHOSEN
            return [NotifyPayload(code)], [ExchangeFailed(str(exc), code)]
        selectors = narrowed_selectors(message, config)
        if selectors is None:
            code = NotifyType.TS_UNACCEPTABLE
            return [NotifyPayload(code)], [ExchangeFailed("traffic selectors unacceptable", code)]
        spi = self._keys.random_bytes(4)
        child = self.make_child(mine, spi, offered.spi, self._ni, self._nr, None, False, selectors)
        payloads: list[AnyPayload] = [
            SaPayload((Proposal(offered.number, ProtocolId.ESP, spi, child_proposal_transforms(mine, False)),)),
            *selector_payloads(*selectors, False)]
        return payloads, [ChildSaEstablished(self.spi_i, self.spi_r, child)]

    def _auth_failed(self, message: Ikev2Message, raw: bytes, reason: str) -> list[IkeEvent]:
        self._reply(message, raw, [NotifyPayload(NotifyType.AUTHENTICATION_FAILED)])
        return self._fail(reason, NotifyType.AUTHENTICATION_FAILED)
