"""Machinery shared by the IKEv2 initiator and responder (sans-I/O, one IKE SA each).

Message IDs, the one outstanding request (window size 1), retransmission of
the last response, SK protection, and the exchanges either side may start
once the IKE SA is up: CREATE_CHILD_SA (with or without PFS) and
INFORMATIONAL (Delete, liveness).  Malformed messages, wrong SPIs, bad
integrity and unexpected message IDs are dropped silently (RFC 7296 §2.21):
``receive`` returns no event and appends the reason to :attr:`dropped`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from kleptolab.ike.common import (
    ChildProposal,
    ChildSaEstablished,
    ChildSaKeys,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    KeySource,
    NatStatus,
    PeerConfig,
    SaDeleted,
)
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.v2.constants import ExchangeType, NotifyType, ProtocolId
from kleptolab.ike.v2.keys import IkeSaKeys, derive_child_keys
from kleptolab.ike.v2.natt import Address
from kleptolab.ike.v2.negotiation import (
    NoProposalChosen,
    child_proposal_transforms,
    child_sa_payload,
    chosen_child,
    select_child,
)
from kleptolab.ike.v2.payloads import (
    AnyPayload,
    DeletePayload,
    Ikev2Message,
    KePayload,
    NoncePayload,
    NotifyPayload,
    build_message,
    parse_message,
)
from kleptolab.ike.v2.proposals import Proposal, SaPayload
from kleptolab.ike.v2.selectors import (
    Selectors,
    answered_selectors,
    narrowed_selectors,
    selector_payloads,
)
from kleptolab.ike.v2.sk import IntegrityError, SkKeys, protect, unprotect
from kleptolab.ike.wire import FLAG_INITIATOR, FLAG_RESPONSE, IkeHeader, WireError

ZERO_SPI = b"\x00" * 8


class Ikev2State(Enum):
    """Where one IKE SA stands."""

    INITIAL = "initial"
    INIT_SENT = "init-sent"
    INIT_DONE = "init-done"  # responder: IKE_SA_INIT answered, waiting for IKE_AUTH
    AUTH_SENT = "auth-sent"
    ESTABLISHED = "established"
    DELETED = "deleted"
    FAILED = "failed"


class Ikev2StateError(RuntimeError):
    """A local call the IKE SA cannot honour now (not established, or a request outstanding)."""


@dataclass(frozen=True)
class Pending:
    """Our outstanding request and what we need to process its response."""

    message_id: int
    exchange: int
    kind: str  # init, auth, child, delete-child, delete-ike, liveness
    raw: bytes
    spi: bytes = b""
    nonce: bytes = b""
    proposals: tuple[ChildProposal, ...] = ()
    dh_group: int | None = None
    dh_private: int | None = None


def first(message: Ikev2Message, kind: type) -> AnyPayload | None:
    """The first payload of exactly class ``kind``, or None."""
    found = message.find(kind)
    return found[0] if found else None


def error_notify(message: Ikev2Message) -> NotifyPayload | None:
    """The first error notify (type below 16384) of a message, if any."""
    for p in message.payloads:
        if isinstance(p, NotifyPayload) and p.notify_type < 16384:
            return p
    return None


def notify_name(value: int) -> str:
    try:
        return NotifyType(value).name
    except ValueError:
        return str(value)


class Ikev2Session:
    """The common core; use :class:`~kleptolab.ike.v2.engine.Ikev2Initiator` or ``Ikev2Responder``."""

    def __init__(
        self, keys: KeySource, original_initiator: bool,
        local: Address | None, remote: Address | None, force_nat: bool,
    ) -> None:
        self._keys = keys
        self._original_initiator = original_initiator
        self.local, self.remote, self.force_nat = local, remote, force_nat
        self.state = Ikev2State.INITIAL
        self.spi_i = b""
        self.spi_r = ZERO_SPI
        self.config: PeerConfig | None = None
        self.proposal: IkeProposal | None = None
        self.ike_keys: IkeSaKeys | None = None
        self.sk_keys: SkKeys | None = None
        self.nat: NatStatus | None = None
        self.child_sas: dict[bytes, ChildSaKeys] = {}
        self.dropped: list[str] = []
        self._out: list[bytes] = []
        self._next_mid = 0
        self._peer_mid = 0
        self._last_reply: tuple[int, bytes, bytes] | None = None
        self._pending: Pending | None = None

    # --- the sans-I/O surface ---------------------------------------------------------

    def outgoing(self) -> list[bytes]:
        """Take the IKE messages waiting to be sent (no non-ESP marker; see :mod:`.natt`)."""
        out, self._out = self._out, []
        return out

    def set_addresses(self, local: Address, remote: Address) -> None:
        """Tell the engine the UDP addresses in use (needed for NAT detection)."""
        self.local, self.remote = local, remote

    @property
    def float_to_4500(self) -> bool:
        """True once NAT-D says to move IKE to UDP 4500 and encapsulate ESP (see :mod:`.natt`)."""
        return self.nat is not None and self.nat.detected

    def retransmit(self) -> bool:
        """Queue our outstanding request again (the caller's timer fired); False if none."""
        if self._pending is None:
            return False
        self._out.append(self._pending.raw)
        return True

    def receive(self, data: bytes) -> list[IkeEvent]:
        """Feed one IKE message (without non-ESP marker); return what happened."""
        try:
            header = IkeHeader.parse(data)
        except WireError as exc:
            return self._drop(f"malformed header: {exc}")
        if self.state in (Ikev2State.DELETED, Ikev2State.FAILED):
            last = self._last_reply
            if not header.is_response and last is not None and (header.message_id, data) == last[:2]:
                self._out.append(last[2])  # RFC 7296 §2.1: the same response again, even now
                return []
            return self._drop(f"IKE SA is {self.state.value}")
        if header.major_version != 2:
            return self._drop(f"major version {header.major_version}")
        if header.is_initiator == self._original_initiator:
            return self._drop("I flag claims the message comes from our side")
        if self.spi_i and header.spi_i != self.spi_i:
            return self._drop("unknown SPIi")
        if header.exchange_type != ExchangeType.IKE_SA_INIT and header.spi_r != self.spi_r:
            return self._drop("unknown SPIr")
        if header.is_response:
            return self._on_response_raw(header, data)
        return self._on_request_raw(header, data)

    # --- plumbing ---------------------------------------------------------------------

    def _drop(self, reason: str) -> list[IkeEvent]:
        self.dropped.append(reason)
        return []

    def _fail(self, reason: str, notify: int | None = None) -> list[IkeEvent]:
        self.state = Ikev2State.FAILED
        self._pending = None
        return [ExchangeFailed(reason, notify)]

    def _decode(self, header: IkeHeader, data: bytes) -> Ikev2Message | str:
        try:
            if header.exchange_type == ExchangeType.IKE_SA_INIT:
                return parse_message(data)
            if self.sk_keys is None:
                return "encrypted message before keys exist"
            return unprotect(data, self.sk_keys)
        except (WireError, IntegrityError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def _on_request_raw(self, header: IkeHeader, data: bytes) -> list[IkeEvent]:
        last = self._last_reply
        if last is not None and header.message_id == last[0]:
            if data == last[1]:
                self._out.append(last[2])
                return []
            return self._drop(f"request {header.message_id} differs from the one already answered")
        if header.message_id != self._peer_mid:
            return self._drop(f"request message ID {header.message_id}, expected {self._peer_mid}")
        message = self._decode(header, data)
        if isinstance(message, str):
            return self._drop(message)
        return self._on_request(message, data)

    def _on_response_raw(self, header: IkeHeader, data: bytes) -> list[IkeEvent]:
        pending = self._pending
        if pending is None or header.message_id != pending.message_id:
            return self._drop(f"unexpected response with message ID {header.message_id}")
        if header.exchange_type != pending.exchange:
            return self._drop(f"response exchange {header.exchange_type}, expected {pending.exchange}")
        message = self._decode(header, data)
        if isinstance(message, str):
            return self._drop(message)
        self._pending = None
        return self._on_response(pending, message, data)

    def _flags(self, response: bool) -> int:
        return (FLAG_INITIATOR if self._original_initiator else 0) | (FLAG_RESPONSE if response else 0)

    def _encode(self, message: Ikev2Message) -> bytes:
        if message.exchange_type == ExchangeType.IKE_SA_INIT:
            return build_message(message)
        if self.sk_keys is None:
            raise Ikev2StateError("no SK keys yet")
        return protect(message, self.sk_keys, self._keys.random_bytes(self.sk_keys.encr.iv_size))

    def _reply(self, request: Ikev2Message, request_raw: bytes, payloads: Sequence[AnyPayload],
               remember: bool = True) -> bytes:
        message = Ikev2Message(self.spi_i, self.spi_r, request.exchange_type, self._flags(True),
                               request.message_id, tuple(payloads))
        raw = self._encode(message)
        self._out.append(raw)
        if remember:
            self._last_reply = (request.message_id, request_raw, raw)
            self._peer_mid = request.message_id + 1
        return raw

    def _request(self, exchange: int, payloads: Sequence[AnyPayload], kind: str, *, spi: bytes = b"",
                 nonce: bytes = b"", proposals: tuple[ChildProposal, ...] = (), dh_group: int | None = None,
                 dh_private: int | None = None) -> Pending:
        if self._pending is not None:
            raise Ikev2StateError("a request is already outstanding (window size 1)")
        message = Ikev2Message(self.spi_i, self.spi_r, exchange, self._flags(False),
                               self._next_mid, tuple(payloads))
        raw = self._encode(message)
        pending = Pending(self._next_mid, exchange, kind, raw, spi, nonce, proposals, dh_group, dh_private)
        self._next_mid += 1
        self._pending = pending
        self._out.append(raw)
        return pending

    def _require_established(self) -> PeerConfig:
        if self.state is not Ikev2State.ESTABLISHED or self.config is None:
            raise Ikev2StateError(f"IKE SA is {self.state.value}, not established")
        return self.config

    # --- dispatch (the subclasses add IKE_SA_INIT and IKE_AUTH) --------------------------

    def _on_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if self.state is not Ikev2State.ESTABLISHED:
            return self._drop(f"exchange {message.exchange_type} request in state {self.state.value}")
        if message.exchange_type == ExchangeType.CREATE_CHILD_SA:
            return self._on_child_request(message, raw)
        if message.exchange_type == ExchangeType.INFORMATIONAL:
            return self._on_info_request(message, raw)
        return self._drop(f"unexpected exchange {message.exchange_type}")

    def _on_response(self, pending: Pending, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if pending.kind == "child":
            return self._on_child_response(pending, message)
        return self._on_info_response(pending)

    # --- child SAs ------------------------------------------------------------------------

    def make_child(
        self, mine: ChildProposal, our_spi: bytes, peer_spi: bytes, ni: bytes, nr: bytes,
        shared: bytes | None, we_initiated: bool, selectors: Selectors | None = None,
    ) -> ChildSaKeys:
        """Derive and record one child SA pair from this endpoint's point of view.

        ``selectors`` are the negotiated (local, remote) networks (default: the config's).
        """
        assert self.proposal is not None and self.ike_keys is not None and self.config is not None
        km = derive_child_keys(self.proposal.prf, self.ike_keys.sk_d, mine.encr, mine.key_size,
                               mine.integ, ni, nr, shared)
        out_keys, in_keys = ((km.encr_i, km.integ_i), (km.encr_r, km.integ_r))
        if not we_initiated:
            out_keys, in_keys = in_keys, out_keys
        child = ChildSaKeys(
            mine.encr, mine.key_size, mine.integ, our_spi, peer_spi, in_keys[0], out_keys[0],
            in_keys[1], out_keys[1], *(selectors or (self.config.local_ts, self.config.remote_ts)),
            udp_encapsulated=self.float_to_4500,
        )
        self.child_sas[our_spi] = child
        return child

    def create_child_sa(self, proposals: Sequence[ChildProposal] | None = None) -> None:
        """Start CREATE_CHILD_SA for a new child SA; PFS when the first proposal has ``pfs_group``.

        Draws: SPI ``random_bytes(4)``, then ``dh_private`` (with PFS), then ``nonce()``.
        """
        config = self._require_established()
        if self._pending is not None:
            raise Ikev2StateError("a request is already outstanding (window size 1)")
        offer = tuple(proposals or config.child_proposals)
        spi = self._keys.random_bytes(4)
        group_no = offer[0].pfs_group
        payloads: list[AnyPayload] = [child_sa_payload(offer, spi, with_dh=True)]
        private = None
        if group_no is not None:
            group = group_by_number(group_no)
            private = self._keys.dh_private(group)
        nonce = self._keys.nonce()
        payloads.append(NoncePayload(nonce))
        if group_no is not None and private is not None:
            payloads.append(KePayload(group_no, group_by_number(group_no).public_value(private)))
        payloads += selector_payloads(config.local_ts, config.remote_ts, True)
        self._request(ExchangeType.CREATE_CHILD_SA, payloads, "child", spi=spi, nonce=nonce,
                      proposals=offer, dh_group=group_no, dh_private=private)

    def _on_child_response(self, pending: Pending, message: Ikev2Message) -> list[IkeEvent]:
        assert self.config is not None
        error = error_notify(message)
        if error is not None:
            return [ExchangeFailed(f"CREATE_CHILD_SA refused: {notify_name(error.notify_type)}", error.notify_type)]
        sa, nonce, ke = first(message, SaPayload), first(message, NoncePayload), first(message, KePayload)
        if not isinstance(sa, SaPayload) or not isinstance(nonce, NoncePayload):
            return [ExchangeFailed("CREATE_CHILD_SA response lacks SA or Nonce", NotifyType.INVALID_SYNTAX)]
        try:
            chosen, mine = chosen_child(sa, pending.proposals, with_dh=True)
        except NoProposalChosen as exc:
            return [ExchangeFailed(str(exc), NotifyType.NO_PROPOSAL_CHOSEN)]
        shared = None
        if pending.dh_group is not None and pending.dh_private is not None:
            if not isinstance(ke, KePayload) or ke.group != pending.dh_group:
                return [ExchangeFailed("CREATE_CHILD_SA response lacks the PFS KE", NotifyType.INVALID_KE_PAYLOAD)]
            try:
                shared = group_by_number(ke.group).shared_secret(pending.dh_private, ke.data)
            except ValueError as exc:
                return [ExchangeFailed(f"bad KE in CREATE_CHILD_SA response: {exc}", NotifyType.INVALID_SYNTAX)]
        selectors = answered_selectors(message, self.config)
        if isinstance(selectors, str):
            return [ExchangeFailed(selectors, NotifyType.TS_UNACCEPTABLE)]
        child = self.make_child(mine, pending.spi, chosen.spi, pending.nonce, nonce.nonce, shared, True,
                                selectors)
        return [ChildSaEstablished(self.spi_i, self.spi_r, child)]

    def _on_child_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        config = self._require_established()
        sa, nonce = first(message, SaPayload), first(message, NoncePayload)
        ke = first(message, KePayload)
        if not isinstance(sa, SaPayload) or not isinstance(nonce, NoncePayload):
            return self._refuse(message, raw, NotifyType.INVALID_SYNTAX, "CREATE_CHILD_SA lacks SA or Nonce")
        if any(p.protocol == ProtocolId.IKE for p in sa.proposals):
            return self._refuse(message, raw, NotifyType.NO_PROPOSAL_CHOSEN, "IKE SA rekeying is not supported")
        try:
            offered, mine, group_no = select_child(sa, config.child_proposals, with_dh=True)
        except NoProposalChosen as exc:
            return self._refuse(message, raw, NotifyType.NO_PROPOSAL_CHOSEN, str(exc))
        if group_no is not None:
            if not isinstance(ke, KePayload) or ke.group != group_no:
                self._reply(message, raw, [NotifyPayload(NotifyType.INVALID_KE_PAYLOAD, group_no.to_bytes(2, "big"))])
                return [ExchangeFailed(f"CREATE_CHILD_SA KE is not group {group_no}", NotifyType.INVALID_KE_PAYLOAD)]
            try:
                group_by_number(group_no).validate_public(ke.data)
            except ValueError as exc:
                return self._refuse(message, raw, NotifyType.INVALID_SYNTAX, str(exc))
        selectors = narrowed_selectors(message, config)
        if selectors is None:
            return self._refuse(message, raw, NotifyType.TS_UNACCEPTABLE, "traffic selectors unacceptable")
        return self._accept_child(message, raw, offered, mine, group_no, ke, nonce.nonce, selectors)

    def _accept_child(self, message: Ikev2Message, raw: bytes, offered: Proposal, mine: ChildProposal,
                      group_no: int | None, ke: AnyPayload | None, ni: bytes,
                      selectors: Selectors) -> list[IkeEvent]:
        """Responder side of CREATE_CHILD_SA. Draws: SPI, then ``dh_private`` (PFS), then ``nonce()``."""
        spi = self._keys.random_bytes(4)
        payloads: list[AnyPayload] = []
        shared = None
        ke_reply: list[AnyPayload] = []
        if group_no is not None and isinstance(ke, KePayload):
            group = group_by_number(group_no)
            private = self._keys.dh_private(group)
            shared = group.shared_secret(private, ke.data)
            ke_reply = [KePayload(group_no, group.public_value(private))]
        nr = self._keys.nonce()
        transforms = child_proposal_transforms(dataclasses.replace(mine, pfs_group=group_no), with_dh=True)
        payloads = [SaPayload((Proposal(offered.number, ProtocolId.ESP, spi, transforms),)),
                    NoncePayload(nr), *ke_reply, *selector_payloads(*selectors, False)]
        child = self.make_child(mine, spi, offered.spi, ni, nr, shared, False, selectors)
        self._reply(message, raw, payloads)
        return [ChildSaEstablished(self.spi_i, self.spi_r, child)]

    def _refuse(self, message: Ikev2Message, raw: bytes, notify: int, reason: str) -> list[IkeEvent]:
        self._reply(message, raw, [NotifyPayload(notify)])
        return [ExchangeFailed(reason, notify)]

    # --- INFORMATIONAL --------------------------------------------------------------------

    def delete_child_sa(self, spi_in: bytes) -> None:
        """Ask the peer to delete the child SA pair whose inbound SPI is ``spi_in``."""
        self._require_established()
        if spi_in not in self.child_sas:
            raise ValueError(f"no child SA with inbound SPI {spi_in.hex()}")
        self._request(ExchangeType.INFORMATIONAL, [DeletePayload(ProtocolId.ESP, (spi_in,))],
                      "delete-child", spi=spi_in)

    def delete_ike_sa(self) -> None:
        """Ask the peer to delete the IKE SA (and with it every child SA)."""
        self._require_established()
        self._request(ExchangeType.INFORMATIONAL, [DeletePayload(ProtocolId.IKE)], "delete-ike")

    def check_liveness(self) -> None:
        """Send an empty INFORMATIONAL request (dead peer detection)."""
        self._require_established()
        self._request(ExchangeType.INFORMATIONAL, [], "liveness")

    def _on_info_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        deletes = [p for p in message.payloads if isinstance(p, DeletePayload)]
        if any(d.protocol == ProtocolId.IKE for d in deletes):
            self._reply(message, raw, [])
            self.state = Ikev2State.DELETED
            self.child_sas.clear()
            return [SaDeleted(self.spi_i, self.spi_r)]
        events: list[IkeEvent] = []
        ours: list[bytes] = []
        for delete in (d for d in deletes if d.protocol == ProtocolId.ESP):
            for spi_out in delete.spis:
                for spi_in, child in list(self.child_sas.items()):
                    if child.spi_out == spi_out:
                        del self.child_sas[spi_in]
                        ours.append(spi_in)
                        events.append(SaDeleted(self.spi_i, self.spi_r, (spi_in, spi_out)))
        self._reply(message, raw, [DeletePayload(ProtocolId.ESP, tuple(ours))] if ours else [])
        return events

    def _on_info_response(self, pending: Pending) -> list[IkeEvent]:
        if pending.kind == "delete-ike":
            self.state = Ikev2State.DELETED
            self.child_sas.clear()
            return [SaDeleted(self.spi_i, self.spi_r)]
        if pending.kind == "delete-child":
            child = self.child_sas.pop(pending.spi, None)
            if child is not None:
                return [SaDeleted(self.spi_i, self.spi_r, (child.spi_in, child.spi_out))]
        return []
