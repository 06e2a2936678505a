"""Turning lab proposals into SA payloads and back, and choosing among offers.

Pure functions shared by the initiator and the responder: SA payloads for
:class:`~kleptolab.ike.common.IkeProposal` / :class:`~kleptolab.ike.common.ChildProposal`,
proposal selection (responder) and validation of the single chosen proposal
(initiator), identities and traffic selectors.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from kleptolab.ike.common import ChildProposal, IkeProposal
from kleptolab.ike.v2.constants import (
    ATTR_KEY_LENGTH,
    ENCR_IDS,
    FIXED_KEY_ENCR,
    INTEG_IDS,
    PRF_IDS,
    IdType,
    ProtocolId,
    TransformType,
)
from kleptolab.ike.v2.proposals import Attribute, Proposal, SaPayload, Transform
from kleptolab.ike.v2.traffic import TrafficSelector


class NoProposalChosen(ValueError):
    """No offered proposal is acceptable."""


class InvalidKe(ValueError):
    """An acceptable proposal exists, but for another DH group than the KE payload's."""

    def __init__(self, group: int) -> None:
        super().__init__(f"KE payload uses another group; group {group} expected")
        self.group = group


def _encr_transform(encr_id: int, key_size: int, fixed: bool) -> Transform:
    attrs = () if fixed else (Attribute(ATTR_KEY_LENGTH, key_size * 8),)
    return Transform(TransformType.ENCR, encr_id, attrs)


def ike_proposal_transforms(p: IkeProposal) -> tuple[Transform, ...]:
    """ENCR (with key length), PRF, INTEG and DH transforms of one IKE proposal."""
    return (
        _encr_transform(ENCR_IDS[p.encr], p.key_size, p.encr in FIXED_KEY_ENCR),
        Transform(TransformType.PRF, PRF_IDS[p.prf]),
        Transform(TransformType.INTEG, INTEG_IDS[p.integ]),
        Transform(TransformType.DH, p.dh_group),
    )


def child_proposal_transforms(p: ChildProposal, with_dh: bool) -> tuple[Transform, ...]:
    """ENCR, INTEG, [DH when ``with_dh`` and PFS is configured] and ESN=no transforms."""
    out = [
        _encr_transform(ENCR_IDS[p.encr], p.key_size, p.encr in FIXED_KEY_ENCR),
        Transform(TransformType.INTEG, INTEG_IDS[p.integ]),
    ]
    if with_dh and p.pfs_group is not None:
        out.append(Transform(TransformType.DH, p.pfs_group))
    out.append(Transform(TransformType.ESN, 0))
    return tuple(out)


def ike_sa_payload(proposals: Sequence[IkeProposal]) -> SaPayload:
    """The IKE_SA_INIT offer: one numbered proposal per configured IKE proposal."""
    return SaPayload(tuple(
        Proposal(i, ProtocolId.IKE, b"", ike_proposal_transforms(p)) for i, p in enumerate(proposals, 1)
    ))


def child_sa_payload(proposals: Sequence[ChildProposal], spi: bytes, with_dh: bool) -> SaPayload:
    """An ESP offer with our inbound ``spi`` in every proposal."""
    return SaPayload(tuple(
        Proposal(i, ProtocolId.ESP, spi, child_proposal_transforms(p, with_dh))
        for i, p in enumerate(proposals, 1)
    ))


def _has(offer: Proposal, t: Transform) -> bool:
    return any(o.type == t.type and o.id == t.id and o.key_length == t.key_length for o in offer.transforms)


def _ike_matches(offer: Proposal, mine: IkeProposal) -> bool:
    return offer.protocol == ProtocolId.IKE and all(_has(offer, t) for t in ike_proposal_transforms(mine))


def select_ike(offer: SaPayload, ours: Sequence[IkeProposal], ke_group: int) -> tuple[int, IkeProposal]:
    """Responder choice: the first offered proposal matching one of ``ours`` with the KE group.

    Raises :class:`InvalidKe` when matches exist only for other groups, and
    :class:`NoProposalChosen` when nothing matches.
    """
    other_group: int | None = None
    for proposal in offer.proposals:
        for mine in ours:
            if _ike_matches(proposal, mine):
                if mine.dh_group == ke_group:
                    return proposal.number, mine
                other_group = other_group if other_group is not None else mine.dh_group
    if other_group is not None:
        raise InvalidKe(other_group)
    raise NoProposalChosen("no acceptable IKE proposal")


def chosen_ike(reply: SaPayload, ours: Sequence[IkeProposal]) -> IkeProposal:
    """Initiator check: the reply holds one proposal with one transform per type, one we offered."""
    if len(reply.proposals) != 1:
        raise NoProposalChosen(f"responder chose {len(reply.proposals)} proposals, expected 1")
    chosen = reply.proposals[0]
    for mine in ours:
        wanted = ike_proposal_transforms(mine)
        if chosen.protocol == ProtocolId.IKE and len(chosen.transforms) == len(wanted) and all(
            _has(chosen, t) for t in wanted
        ):
            return mine
    raise NoProposalChosen("responder chose a proposal we did not offer")


def _child_matches(offer: Proposal, mine: ChildProposal, with_dh: bool) -> tuple[bool, int | None]:
    """(matches, DH group to use or None for no PFS)."""
    if offer.protocol != ProtocolId.ESP or len(offer.spi) != 4:
        return False, None
    wanted = [t for t in child_proposal_transforms(mine, with_dh=False) if t.type != TransformType.ESN]
    if not all(_has(offer, t) for t in wanted):
        return False, None
    esn = offer.of_type(TransformType.ESN)
    if esn and not any(t.id == 0 for t in esn):
        return False, None
    if not with_dh:
        return True, None
    groups = [t.id for t in offer.of_type(TransformType.DH) if t.id != 0]
    if mine.pfs_group is not None:
        return mine.pfs_group in groups, mine.pfs_group
    return True, groups[0] if groups else None


def select_child(
    offer: SaPayload, ours: Sequence[ChildProposal], with_dh: bool
) -> tuple[Proposal, ChildProposal, int | None]:
    """Responder choice for ESP: (offered proposal, our proposal, DH group or None)."""
    for proposal in offer.proposals:
        for mine in ours:
            ok, group = _child_matches(proposal, mine, with_dh)
            if ok:
                return proposal, mine, group
    raise NoProposalChosen("no acceptable ESP proposal")


def chosen_child(reply: SaPayload, ours: Sequence[ChildProposal], with_dh: bool) -> tuple[Proposal, ChildProposal]:
    """Initiator check of the ESP reply: one proposal, one we offered; returns it with ours."""
    if len(reply.proposals) != 1:
        raise NoProposalChosen(f"responder chose {len(reply.proposals)} ESP proposals, expected 1")
    chosen = reply.proposals[0]
    for mine in ours:
        if _child_matches(chosen, mine, with_dh)[0]:
            return chosen, mine
    raise NoProposalChosen("responder chose an ESP proposal we did not offer")


def reply_proposal(offered: Proposal, transforms: tuple[Transform, ...], spi: bytes) -> SaPayload:
    """The responder's SA: the offered proposal's number with the chosen transforms only."""
    return SaPayload((Proposal(offered.number, offered.protocol, spi, transforms),))


# --- identities and traffic selectors --------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """An ID payload's type and data."""

    kind: int
    data: bytes


def identity_for(text: str) -> Identity:
    """ID_IPV4_ADDR for a dotted quad, ID_RFC822_ADDR when it has '@', else ID_FQDN."""
    try:
        return Identity(IdType.IPV4_ADDR, ipaddress.IPv4Address(text).packed)
    except ValueError:
        pass
    kind = IdType.RFC822_ADDR if "@" in text else IdType.FQDN
    return Identity(kind, text.encode("utf-8"))


def identity_text(kind: int, data: bytes) -> str:
    """A readable form of an ID payload: dotted quad, name, or hex for other types."""
    if kind == IdType.IPV4_ADDR and len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if kind in (IdType.FQDN, IdType.RFC822_ADDR):
        return data.decode("utf-8", errors="replace")
    return data.hex()


def id_matches(config_id: str, peer_text: str) -> bool:
    """Config remote IDs match exactly, or anything with ``%any`` / ``*``."""
    return config_id in ("%any", "*") or config_id == peer_text


def selector_for(network: ipaddress.IPv4Network) -> TrafficSelector:
    """The one selector the lab proposes for a protected network."""
    return TrafficSelector.from_network(network)


def covered(selectors: Sequence[TrafficSelector], network: ipaddress.IPv4Network) -> bool:
    """True when one of ``selectors`` covers all of ``network``."""
    return any(ts.covers(network) for ts in selectors)
