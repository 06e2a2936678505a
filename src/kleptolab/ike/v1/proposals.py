"""Mapping between the shared proposal types and IKEv1 SA/Proposal/Transform payloads.

Phase 1 offers alternatives as transforms of one ISAKMP proposal; Quick Mode
offers one ESP proposal per :class:`ChildProposal`.  Unsupported transforms
map to ``None`` (skipped when choosing), never to an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from kleptolab.crypto.algorithms import Encr
from kleptolab.ike.common import AuthMethod, ChildProposal, IkeProposal
from kleptolab.ike.dh import GROUPS
from kleptolab.ike.v1.attributes import DataAttribute, attribute_map
from kleptolab.ike.v1.constants import (
    DOI_IPSEC,
    ESP_AUTH,
    ESP_ENCR,
    KEY_IKE,
    LIFE_SECONDS,
    P1_ENCR,
    P1_HASH,
    PRF_INTEG,
    SIT_IDENTITY_ONLY,
    EncapMode,
    P1Attr,
    P1Auth,
    P2Attr,
    Protocol,
)
from kleptolab.ike.v1.payloads import ProposalPayload, SaPayload, TransformPayload

_AUTH = {AuthMethod.PSK: P1Auth.PSK, AuthMethod.RSA_SIG: P1Auth.RSA_SIG}
_AUTH_BACK: dict[int, AuthMethod] = {int(v): k for k, v in _AUTH.items()}
_P1_ENCR_BACK = {v: int(k) for k, v in P1_ENCR.items()}
_P1_HASH_BACK = {v: int(k) for k, v in P1_HASH.items()}
_ESP_ENCR_BACK = {v: int(k) for k, v in ESP_ENCR.items()}
_ESP_AUTH_BACK = {v: int(k) for k, v in ESP_AUTH.items()}
_VARIABLE_KEY = (Encr.AES_CBC, Encr.AES_CTR)


def _lifetime(attrs: Sequence[DataAttribute], type_attr: int, duration_attr: int) -> int | None:
    """The duration that follows a life-type=seconds attribute, if any."""
    seconds = False
    for attr in attrs:
        if attr.type == type_attr:
            seconds = attr.as_int == LIFE_SECONDS
        elif attr.type == duration_attr and seconds:
            return attr.as_int
    return None


def ike_transform(number: int, proposal: IkeProposal) -> TransformPayload:
    """The phase-1 transform for ``proposal`` (attribute order as strongSwan sends it)."""
    attrs = [DataAttribute(P1Attr.ENCRYPTION, _P1_ENCR_BACK[proposal.encr])]
    if proposal.encr in _VARIABLE_KEY:
        attrs.append(DataAttribute(P1Attr.KEY_LENGTH, proposal.key_size * 8))
    attrs += [
        DataAttribute(P1Attr.HASH, _P1_HASH_BACK[proposal.prf]),
        DataAttribute(P1Attr.GROUP_DESCRIPTION, proposal.dh_group),
        DataAttribute(P1Attr.AUTH_METHOD, _AUTH[proposal.auth]),
        DataAttribute(P1Attr.LIFE_TYPE, LIFE_SECONDS),
        DataAttribute.number(P1Attr.LIFE_DURATION, proposal.lifetime),
    ]
    return TransformPayload(number, KEY_IKE, tuple(attrs))


def ike_sa_payload(proposals: Sequence[IkeProposal]) -> SaPayload:
    """One ISAKMP proposal whose transforms are the alternatives, in preference order."""
    transforms = tuple(ike_transform(i + 1, p) for i, p in enumerate(proposals))
    return SaPayload(
        DOI_IPSEC, SIT_IDENTITY_ONLY, (ProposalPayload(1, Protocol.ISAKMP, b"", transforms),)
    )


def ike_proposal_from_transform(t: TransformPayload) -> IkeProposal | None:
    """Decode a phase-1 transform, or None when it uses something the lab does not implement."""
    if t.transform_id != KEY_IKE:
        return None
    a = attribute_map(t.attributes)
    encr = P1_ENCR.get(a.get(P1Attr.ENCRYPTION, 0))
    prf = P1_HASH.get(a.get(P1Attr.HASH, 0))
    auth = _AUTH_BACK.get(a.get(P1Attr.AUTH_METHOD, 0))
    group = a.get(P1Attr.GROUP_DESCRIPTION, 0)
    if encr is None or prf is None or auth is None or group not in GROUPS or P1Attr.PRF in a:
        return None
    key_size = _key_size(encr, a.get(P1Attr.KEY_LENGTH))
    if key_size is None:
        return None
    lifetime = _lifetime(t.attributes, P1Attr.LIFE_TYPE, P1Attr.LIFE_DURATION)
    return IkeProposal(
        encr,
        key_size,
        PRF_INTEG[prf],
        prf,
        group,
        auth,
        lifetime if lifetime is not None else 28_800,
    )


def _key_size(encr: Encr, bits: int | None) -> int | None:
    if encr in _VARIABLE_KEY:
        size = 16 if bits is None else bits // 8
        return size if bits is None or (bits % 8 == 0 and size in encr.key_sizes) else None
    if bits is not None and bits != encr.key_sizes[0] * 8:
        return None
    return encr.key_sizes[0]


def same_ike(a: IkeProposal, b: IkeProposal) -> bool:
    """Equal in everything negotiated except the lifetime (the responder accepts the offer's)."""
    return replace(a, lifetime=b.lifetime) == b


@dataclass(frozen=True)
class ChildOffer:
    """One decoded ESP proposal of a Quick Mode SA payload."""

    proposal: ChildProposal
    encap: int
    spi: bytes
    number: int
    transform: TransformPayload


def esp_transform(number: int, child: ChildProposal, encap: int) -> TransformPayload:
    transform_id = _ESP_ENCR_BACK[child.encr]
    attrs = [
        DataAttribute(P2Attr.SA_LIFE_TYPE, LIFE_SECONDS),
        DataAttribute.number(P2Attr.SA_LIFE_DURATION, child.lifetime),
    ]
    if child.pfs_group is not None:
        attrs.append(DataAttribute(P2Attr.GROUP_DESCRIPTION, child.pfs_group))
    attrs += [
        DataAttribute(P2Attr.ENCAPSULATION_MODE, encap),
        DataAttribute(P2Attr.AUTH_ALGORITHM, _ESP_AUTH_BACK[child.integ]),
    ]
    if child.encr in _VARIABLE_KEY:
        attrs.append(DataAttribute(P2Attr.KEY_LENGTH, child.key_size * 8))
    return TransformPayload(number, transform_id, tuple(attrs))


def esp_sa_payload(children: Sequence[ChildProposal], spi: bytes, encap: int) -> SaPayload:
    """One ESP proposal (one transform each) per child proposal, all with our inbound SPI."""
    proposals = tuple(
        ProposalPayload(i + 1, Protocol.ESP, spi, (esp_transform(1, c, encap),))
        for i, c in enumerate(children)
    )
    return SaPayload(DOI_IPSEC, SIT_IDENTITY_ONLY, proposals)


def child_offers(sa: SaPayload) -> list[ChildOffer]:
    """Every ESP transform of an SA payload the lab implements, in the offer's order."""
    out = []
    for prop in sa.proposals:
        if prop.protocol != Protocol.ESP or len(prop.spi) != 4:
            continue
        for t in prop.transforms:
            decoded = child_from_transform(t)
            if decoded is not None:
                out.append(ChildOffer(decoded[0], decoded[1], prop.spi, prop.number, t))
    return out


def child_from_transform(t: TransformPayload) -> tuple[ChildProposal, int] | None:
    a = attribute_map(t.attributes)
    encr = ESP_ENCR.get(t.transform_id)
    integ = ESP_AUTH.get(a.get(P2Attr.AUTH_ALGORITHM, 0))
    encap = a.get(P2Attr.ENCAPSULATION_MODE, EncapMode.TUNNEL)
    group = a.get(P2Attr.GROUP_DESCRIPTION)
    if (
        encr is None
        or integ is None
        or encap not in set(EncapMode)
        or (group is not None and group not in GROUPS)
    ):
        return None
    key_size = _key_size(encr, a.get(P2Attr.KEY_LENGTH))
    if key_size is None:
        return None
    lifetime = _lifetime(t.attributes, P2Attr.SA_LIFE_TYPE, P2Attr.SA_LIFE_DURATION)
    child = ChildProposal(encr, key_size, integ, group, lifetime if lifetime is not None else 3_600)
    return child, encap


def same_child(a: ChildProposal, b: ChildProposal) -> bool:
    return replace(a, lifetime=b.lifetime) == b
