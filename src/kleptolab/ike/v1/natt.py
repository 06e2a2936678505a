"""NAT traversal for IKEv1 (RFC 3947, draft-ietf-ipsec-nat-t-ike-02/03).

What the I/O layer must do (the engine never touches sockets):

* Give the engine both addresses, ``local`` and ``remote`` as ``(ip, port)``,
  as the packets carry them (constructor or ``set_addresses``), before the
  third Main Mode message (or the first Aggressive Mode one).
* When the engine's ``float_to_4500`` turns true, send every later IKE
  message from port 4500 to the peer's port 4500 with the 4-byte zero
  non-ESP marker in front (RFC 3948 §2.2), and strip that marker before
  ``receive``.  The initiator floats after MM4 / AM2; a responder simply
  answers from wherever the last request arrived (4500 once the peer floated).
* When a ChildSaKeys has ``udp_encapsulated``, put ESP in UDP 4500 (RFC 3948).

``force_nat`` fakes our own NAT-D hash (as strongSwan's kernel-libipsec does)
so both ends see a NAT and ESP is always UDP-encapsulated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from enum import Enum

from kleptolab.crypto.algorithms import Prf, hash_bytes
from kleptolab.ike.common import NatStatus
from kleptolab.ike.v1.constants import (
    NATT_DRAFT_VIDS,
    VID_NATT_DRAFT_02,
    VID_NATT_DRAFT_02N,
    VID_NATT_DRAFT_03,
    VID_NATT_RFC3947,
    EncapMode,
)
from kleptolab.ike.v1.payloads import NatDDraftPayload, NatDPayload

Address = tuple[str, int]
FAKE_ADDRESS: Address = ("0.0.0.0", 0)
"""What a faked NAT-D hash covers: no real peer ever has this address."""


class NatTVersion(Enum):
    NONE = "none"
    DRAFT = "draft"  # payload 130, encapsulation modes 61443/61444
    RFC3947 = "rfc3947"  # payload 20, encapsulation modes 3/4


NATT_VENDOR_IDS = (VID_NATT_RFC3947, VID_NATT_DRAFT_03, VID_NATT_DRAFT_02N, VID_NATT_DRAFT_02)
"""The NAT-T vendor IDs an endpoint sends to offer NAT traversal (newest first)."""


def natt_version(vendor_ids: Sequence[bytes]) -> NatTVersion:
    """The best NAT-T version the peer's vendor IDs announce."""
    if VID_NATT_RFC3947 in vendor_ids:
        return NatTVersion.RFC3947
    if any(v in NATT_DRAFT_VIDS for v in vendor_ids):
        return NatTVersion.DRAFT
    return NatTVersion.NONE


def answer_vendor_id(version: NatTVersion, vendor_ids: Sequence[bytes]) -> bytes | None:
    """The single NAT-T vendor ID a responder echoes for ``version``."""
    if version is NatTVersion.RFC3947:
        return VID_NATT_RFC3947
    if version is NatTVersion.DRAFT:
        for vid in (VID_NATT_DRAFT_03, VID_NATT_DRAFT_02N, VID_NATT_DRAFT_02):
            if vid in vendor_ids:
                return vid
    return None


def natd_hash(prf: Prf, cky_i: bytes, cky_r: bytes, address: Address) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash."""
    ip, port = address
    return hash_bytes(
        prf.hash_name, cky_i + cky_r + ipaddress.ip_address(ip).packed + port.to_bytes(2, "big")
    )


def natd_payloads(
    version: NatTVersion,
    prf: Prf,
    cky_i: bytes,
    cky_r: bytes,
    local: Address,
    remote: Address,
    force_nat: bool = False,
) -> list[NatDPayload]:
    """NAT-D payloads: the peer's address first, then ours (faked when ``force_nat``)."""
    cls = NatDPayload if version is NatTVersion.RFC3947 else NatDDraftPayload
    mine = FAKE_ADDRESS if force_nat else local
    return [cls(natd_hash(prf, cky_i, cky_r, remote)), cls(natd_hash(prf, cky_i, cky_r, mine))]


def detect_nat(
    prf: Prf, cky_i: bytes, cky_r: bytes, local: Address, remote: Address, received: Sequence[bytes]
) -> NatStatus:
    """Compare the peer's NAT-D hashes (first: our address as it saw it; rest: its own)."""
    if not received:
        raise ValueError("NAT-D: the peer sent no NAT-D payloads")
    local_behind = received[0] != natd_hash(prf, cky_i, cky_r, local)
    remote_behind = natd_hash(prf, cky_i, cky_r, remote) not in received[1:]
    return NatStatus(local_behind, remote_behind)


def udp_encap_mode(version: NatTVersion, transport: bool = False) -> int:
    """The Quick Mode encapsulation mode for UDP-encapsulated ESP."""
    if version is NatTVersion.DRAFT:
        return EncapMode.UDP_TRANSPORT_DRAFT if transport else EncapMode.UDP_TUNNEL_DRAFT
    return EncapMode.UDP_TRANSPORT if transport else EncapMode.UDP_TUNNEL
