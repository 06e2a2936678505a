"""IKE SA rekeying with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18), for both ends.

A rekey makes a *new* IKE SA: new SPIs from the SA payloads, new nonces, a
fresh Diffie-Hellman exchange, and

    SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)

(prf of the old SA, as strongSwan does; SK_* then come from prf+ of the new
SA's PRF over Ni | Nr | SPIi | SPIr).  Message IDs restart at 0, and the peer
that initiated the rekey is the original initiator of the new SA.  The child
SAs move to the new SA and the rekey initiator deletes the old one.

Simultaneous rekeys (§2.8.1, §2.18): both exchanges complete; the SA made by
the exchange holding the lowest of the four nonces is redundant and is deleted
by the endpoint that initiated that exchange; the winner's initiator deletes
the old SA.  The children end up on the surviving SA.

KeySource draws: initiator ``random_bytes(8)`` (new SPIi), ``dh_private``,
``nonce()``; responder ``random_bytes(8)`` (new SPIr), ``dh_private``,
``nonce()`` (the order of an IKE_SA_INIT responder); then the IV of the
encrypted message, as for every exchange.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from kleptolab.ike.common import ExchangeFailed, IkeEvent, IkeProposal, IkeSaEstablished
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.v2.constants import ExchangeType, NotifyType, ProtocolId
from kleptolab.ike.v2.keys import ike_keys_from_skeyseed, rekeyed_skeyseed
from kleptolab.ike.v2.negotiation import (
    InvalidKe,
    NoProposalChosen,
    chosen_ike,
    ike_proposal_transforms,
    select_ike,
)
from kleptolab.ike.v2.payloads import (
    AnyPayload,
    Ikev2Message,
    KePayload,
    NoncePayload,
    NotifyPayload,
)
from kleptolab.ike.v2.proposals import Proposal, SaPayload
from kleptolab.ike.v2.session import (
    Ikev2Session,
    Ikev2State,
    Ikev2StateError,
    Pending,
    error_notify,
    first,
    notify_name,
)
from kleptolab.ike.v2.sk import SkKeys

__all__ = ["IkeSaRekeyed", "Ikev2RekeyingSession"]


@dataclass(frozen=True)
class IkeSaRekeyed(IkeSaEstablished):
    """A new IKE SA replaced ``old_spi_i``/``old_spi_r`` (``spi_i``/``spi_r`` are the new SPIs).

    ``session`` drives the new SA from now on (route its SPIs to it).  With
    ``moves_children`` the child SAs now belong to it; without (a simultaneous
    rekey still undecided, or the redundant SA of a collision) they stay put.
    """

    old_spi_i: bytes = b""
    old_spi_r: bytes = b""
    session: Any = None
    moves_children: bool = True
    redundant: bool = False


def _offered(current: IkeProposal, configured: tuple[IkeProposal, ...]) -> tuple[IkeProposal, ...]:
    """The current proposal first, then the configured ones, each set of transforms once."""
    unique: dict[object, IkeProposal] = {}
    for p in (current, *configured):
        unique.setdefault(ike_proposal_transforms(p), p)
    return tuple(unique.values())


def _rekey_offer(
    current: IkeProposal, configured: tuple[IkeProposal, ...], spi: bytes
) -> SaPayload:
    """Our IKE offer for the rekey (see :func:`_offered`), every proposal with our new SPI."""
    ordered = _offered(current, configured)
    return SaPayload(
        tuple(
            Proposal(i, ProtocolId.IKE, spi, ike_proposal_transforms(p))
            for i, p in enumerate(ordered, 1)
        )
    )


class Ikev2RekeyingSession(Ikev2Session):
    """:class:`Ikev2Session` plus IKE SA rekeying (both roles, collisions included)."""

    peer_id: str = ""
    rekeyed_from: tuple[bytes, bytes] | None = None
    successor: Ikev2RekeyingSession | None = None
    """The IKE SA that replaced this one (set once the rekey is decided)."""
    _rekey_theirs: Ikev2RekeyingSession | None = None
    _rekey_offer: tuple[IkeProposal, ...] = ()
    _ni: bytes = b""
    _nr: bytes = b""
    _shared: bytes = b""

    # --- initiator ---------------------------------------------------------------------

    def rekey_ike_sa(self) -> None:
        """Start rekeying this IKE SA (CREATE_CHILD_SA with an IKE proposal, KE and Nonce)."""
        config = self._require_established()
        if self._pending is not None:
            raise Ikev2StateError("a request is already outstanding (window size 1)")
        if self.successor is not None:
            raise Ikev2StateError("this IKE SA has already been rekeyed")
        assert self.proposal is not None
        spi = self._keys.random_bytes(8)
        group = group_by_number(self.proposal.dh_group)
        private = self._keys.dh_private(group)
        nonce = self._keys.nonce()
        offer = _rekey_offer(self.proposal, config.ike_proposals, spi)
        self._rekey_offer = _offered(self.proposal, config.ike_proposals)
        payloads: list[AnyPayload] = [
            offer,
            NoncePayload(nonce),
            KePayload(group.number, group.public_value(private)),
        ]
        self._request(
            ExchangeType.CREATE_CHILD_SA,
            payloads,
            "rekey-ike",
            spi=spi,
            nonce=nonce,
            dh_group=group.number,
            dh_private=private,
        )

    def _on_response(self, pending: Pending, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        if pending.kind == "rekey-ike":
            return self._on_rekey_response(pending, message)
        return super()._on_response(pending, message, raw)

    def _on_rekey_response(self, pending: Pending, message: Ikev2Message) -> list[IkeEvent]:
        error = error_notify(message)
        reason = ""
        sa, nonce, ke = (
            first(message, SaPayload),
            first(message, NoncePayload),
            first(message, KePayload),
        )
        if error is not None:
            reason = f"IKE SA rekey refused: {notify_name(error.notify_type)}"
        elif not (
            isinstance(sa, SaPayload)
            and isinstance(nonce, NoncePayload)
            and isinstance(ke, KePayload)
        ):
            reason = "IKE SA rekey response lacks SA, Nonce or KE"
        if (
            reason
            or not isinstance(sa, SaPayload)
            or not isinstance(nonce, NoncePayload)
            or not isinstance(ke, KePayload)
        ):
            return [
                *self._fallback_to_theirs(),
                self._failed(reason, error.notify_type if error else None),
            ]
        try:
            proposal = chosen_ike(sa, self._rekey_offer)
            if (
                ke.group != pending.dh_group
                or proposal.dh_group != ke.group
                or len(sa.proposals[0].spi) != 8
            ):
                raise ValueError("KE group or SPI of the rekey response inconsistent")
            assert pending.dh_private is not None
            shared = group_by_number(ke.group).shared_secret(pending.dh_private, ke.data)
        except (NoProposalChosen, ValueError) as exc:
            return [
                *self._fallback_to_theirs(),
                self._failed(f"IKE SA rekey response: {exc}", NotifyType.INVALID_SYNTAX),
            ]
        ours = self._spawn(
            proposal, shared, pending.nonce, nonce.nonce, pending.spi, sa.proposals[0].spi, True
        )
        theirs = self._rekey_theirs
        # §2.18: the SA made with the lowest of the four nonces is closed by its creator
        if (
            theirs is not None
            and theirs.state is Ikev2State.ESTABLISHED
            and self.successor is None
            and min(ours._ni, ours._nr) < min(theirs._ni, theirs._nr)
        ):
            ours.delete_ike_sa()
            self._move_children(theirs)
            return [
                self._rekeyed(ours, moves=False, redundant=True),
                self._rekeyed(theirs, moves=True),
            ]
        self._move_children(ours)
        self.delete_ike_sa()
        return [self._rekeyed(ours, moves=True)]

    def _fallback_to_theirs(self) -> list[IkeEvent]:
        """Our rekey failed while we answered the peer's: the peer's new SA is the successor."""
        theirs = self._rekey_theirs
        if (
            theirs is None
            or self.successor is not None
            or theirs.state is not Ikev2State.ESTABLISHED
        ):
            return []
        self._move_children(theirs)
        return [self._rekeyed(theirs, moves=True)]

    def _failed(self, reason: str, notify: int | None) -> IkeEvent:
        return ExchangeFailed(reason, notify)

    # --- responder ---------------------------------------------------------------------

    def _on_child_request(self, message: Ikev2Message, raw: bytes) -> list[IkeEvent]:
        sa = first(message, SaPayload)
        if isinstance(sa, SaPayload) and any(p.protocol == ProtocolId.IKE for p in sa.proposals):
            return self._on_rekey_request(message, raw, sa)
        if self.successor is not None:
            return self._refuse(
                message, raw, NotifyType.TEMPORARY_FAILURE, "IKE SA is being rekeyed"
            )
        return super()._on_child_request(message, raw)

    def _on_rekey_request(self, message: Ikev2Message, raw: bytes, sa: SaPayload) -> list[IkeEvent]:
        config = self._require_established()
        assert self.proposal is not None
        nonce, ke = first(message, NoncePayload), first(message, KePayload)
        if self.successor is not None or self._rekey_theirs is not None:
            return self._refuse(
                message, raw, NotifyType.TEMPORARY_FAILURE, "IKE SA already rekeyed"
            )
        if not isinstance(nonce, NoncePayload) or not isinstance(ke, KePayload):
            return self._refuse(
                message, raw, NotifyType.INVALID_SYNTAX, "IKE SA rekey lacks Nonce or KE"
            )
        if not 16 <= len(nonce.nonce) <= 256:
            return self._refuse(
                message, raw, NotifyType.INVALID_SYNTAX, f"nonce of {len(nonce.nonce)} bytes"
            )
        ours = list(dict.fromkeys([self.proposal, *config.ike_proposals]))
        try:
            number, proposal = select_ike(sa, ours, ke.group)
            group = group_by_number(proposal.dh_group)
            group.validate_public(ke.data)
        except InvalidKe as exc:
            self._reply(
                message,
                raw,
                [NotifyPayload(NotifyType.INVALID_KE_PAYLOAD, exc.group.to_bytes(2, "big"))],
            )
            return [
                self._failed(
                    f"IKE SA rekey KE is not group {exc.group}", NotifyType.INVALID_KE_PAYLOAD
                )
            ]
        except NoProposalChosen as exc:
            return self._refuse(message, raw, NotifyType.NO_PROPOSAL_CHOSEN, f"IKE SA rekey: {exc}")
        except ValueError as exc:
            return self._refuse(message, raw, NotifyType.INVALID_SYNTAX, f"IKE SA rekey: {exc}")
        offered = next(p for p in sa.proposals if p.number == number)
        if len(offered.spi) != 8:
            return self._refuse(
                message, raw, NotifyType.INVALID_SYNTAX, "IKE SA rekey SPI is not 8 bytes"
            )
        proposal = dataclasses.replace(proposal, auth=self.proposal.auth)
        spi = self._keys.random_bytes(8)
        private = self._keys.dh_private(group)
        nr = self._keys.nonce()
        new = self._spawn(
            proposal,
            group.shared_secret(private, ke.data),
            nonce.nonce,
            nr,
            offered.spi,
            spi,
            False,
        )
        self._reply(
            message,
            raw,
            [
                SaPayload(
                    (Proposal(number, ProtocolId.IKE, spi, ike_proposal_transforms(proposal)),)
                ),
                NoncePayload(nr),
                KePayload(group.number, group.public_value(private)),
            ],
        )
        self._rekey_theirs = new
        collision = self._pending is not None and self._pending.kind == "rekey-ike"
        if collision:
            return [self._rekeyed(new, moves=False)]
        self._move_children(new)
        return [self._rekeyed(new, moves=True)]

    # --- the new SA --------------------------------------------------------------------

    def _spawn(
        self,
        proposal: IkeProposal,
        shared: bytes,
        ni: bytes,
        nr: bytes,
        spi_i: bytes,
        spi_r: bytes,
        we_initiated: bool,
    ) -> Ikev2RekeyingSession:
        assert self.proposal is not None and self.ike_keys is not None
        seed = rekeyed_skeyseed(self.proposal.prf, self.ike_keys.sk_d, shared, ni, nr)
        keys = ike_keys_from_skeyseed(
            proposal.prf,
            seed,
            proposal.encr,
            proposal.key_size,
            proposal.integ,
            ni,
            nr,
            spi_i,
            spi_r,
        )
        new = Ikev2RekeyingSession(
            self._keys, we_initiated, self.local, self.remote, self.force_nat
        )
        new.state = Ikev2State.ESTABLISHED
        new.spi_i, new.spi_r = spi_i, spi_r
        new.config, new.proposal, new.ike_keys, new.nat = self.config, proposal, keys, self.nat
        new.sk_keys = SkKeys(
            proposal.encr, proposal.integ, keys.sk_ei, keys.sk_er, keys.sk_ai, keys.sk_ar
        )
        new.peer_id, new.rekeyed_from = self.peer_id, (self.spi_i, self.spi_r)
        new._ni, new._nr, new._shared = ni, nr, shared
        return new

    def _move_children(self, new: Ikev2RekeyingSession) -> None:
        self.successor = new
        new.child_sas.update(self.child_sas)
        self.child_sas.clear()

    def _rekeyed(
        self, new: Ikev2RekeyingSession, *, moves: bool, redundant: bool = False
    ) -> IkeSaRekeyed:
        assert new.proposal is not None and new.ike_keys is not None
        keys = new.ike_keys.as_dict() | {"g^ir": new._shared, "Ni": new._ni, "Nr": new._nr}
        return IkeSaRekeyed(
            new.spi_i,
            new.spi_r,
            2,
            self.peer_id,
            new.proposal,
            keys,
            self.spi_i,
            self.spi_r,
            new,
            moves,
            redundant,
        )
