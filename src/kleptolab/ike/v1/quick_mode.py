"""Quick Mode (RFC 2409 §5.5, with and without PFS) and Informational exchanges (§5.7).

QM:    I→R HASH(1),SA,Ni,[KE],[IDci,IDcr]   R→I HASH(2),SA,Nr,[KE],[IDci,IDcr]   I→R HASH(3)
Info:  HASH(1),N|D   — every message encrypted under the phase-1 keys.

Draws: a QM initiator takes the message ID and its SPI with ``random_bytes(4)``,
then ``dh_private`` (PFS) and ``nonce()``; a QM responder takes ``dh_private``
(PFS), then ``nonce()``, then its SPI with ``random_bytes(4)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kleptolab.ike.common import ChildProposal, ChildSaEstablished, ChildSaKeys, IkeEvent
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.auth import ts_id_payload, ts_of
from kleptolab.ike.v1.constants import (
    DOI_IPSEC,
    UDP_ENCAP_MODES,
    EncapMode,
    Exchange,
    Notify,
    Protocol,
)
from kleptolab.ike.v1.crypto import DecryptedMessage
from kleptolab.ike.v1.message import encode_chain
from kleptolab.ike.v1.natt import udp_encap_mode
from kleptolab.ike.v1.payloads import (
    DeletePayload,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    ProposalPayload,
    SaPayload,
)
from kleptolab.ike.v1.phase1 import Phase1
from kleptolab.ike.v1.proposals import ChildOffer, child_offers, esp_sa_payload, same_child
from kleptolab.ike.v1.state import Abort, QuickExchange, State


class QuickMode(Phase1):
    """Quick Mode and Informational handling on top of an established phase 1."""

    # --- initiating ------------------------------------------------------------------------

    def initiate_child(self, children: Sequence[ChildProposal] | None = None) -> None:
        """Start a Quick Mode exchange offering ``children`` (default: the configuration's)."""
        offered = tuple(children if children is not None else self.conf.child_proposals)
        if not offered:
            raise ValueError("no child proposals to offer")
        if len({c.pfs_group for c in offered}) != 1:
            raise ValueError("all child proposals of one Quick Mode must share the PFS group")
        mid = self._new_message_id()
        qx = QuickExchange(
            mid,
            True,
            self._keys.random_bytes(4),
            b"",
            offered,
            self.conf.local_ts,
            self.conf.remote_ts,
        )
        after: list[Payload] = [esp_sa_payload(offered, qx.spi_in, self._encap_mode())]
        pfs = offered[0].pfs_group
        ke: list[Payload] = []
        if pfs is not None:
            group = group_by_number(pfs)
            qx.dh_private = self._keys.dh_private(group)
            ke = [KePayload(group.public_value(qx.dh_private))]
        qx.ni = self._keys.nonce()
        after += [
            NoncePayload(qx.ni),
            *ke,
            ts_id_payload(self.conf.local_ts),
            ts_id_payload(self.conf.remote_ts),
        ]
        digest = kdf.qm_hash1(self.prf, self.p1.skeyid_a, mid, encode_chain(after)[1])
        self._quick[mid] = qx
        self._send_encrypted(Exchange.QUICK_MODE, mid, [HashPayload(digest), *after])

    def _encap_mode(self) -> int:
        return udp_encap_mode(self.natt) if self.nat_detected else EncapMode.TUNNEL

    # --- receiving -------------------------------------------------------------------------

    def _on_quick(self, msg: DecryptedMessage) -> list[IkeEvent]:
        mid = msg.header.message_id
        qx = self._quick.get(mid)
        chain = msg.chain
        first = chain.payloads[0] if chain.payloads else None
        if not isinstance(first, HashPayload):
            raise Abort("Quick Mode message does not start with HASH", Notify.PAYLOAD_MALFORMED)
        if qx is None:
            return self._on_qm1(mid, first.data, msg)
        if qx.initiator and qx.pending is None:
            return self._on_qm2(qx, first.data, msg)
        if not qx.initiator and qx.pending is not None:
            return self._on_qm3(qx, first.data)
        raise Abort(f"Quick Mode {mid:#x}: unexpected message")

    def _on_qm1(self, mid: int, digest: bytes, msg: DecryptedMessage) -> list[IkeEvent]:
        chain = msg.chain
        if digest != kdf.qm_hash1(self.prf, self.p1.skeyid_a, mid, chain.after_first()):
            raise Abort("QM1: HASH(1) does not verify", Notify.INVALID_HASH_INFORMATION)
        sa, nonce, ke = chain.first(SaPayload), chain.first(NoncePayload), chain.first(KePayload)
        if sa is None or nonce is None:
            raise Abort("QM1: SA and Nonce are required", Notify.PAYLOAD_MALFORMED)
        ids = chain.all(IdPayload)
        if len(ids) not in (0, 2):
            raise Abort("QM1: client IDs come in pairs", Notify.INVALID_ID_INFORMATION)
        remote_ts = ts_of(ids[0]) if ids else self.conf.remote_ts
        local_ts = ts_of(ids[1]) if ids else self.conf.local_ts
        if not (
            remote_ts.subnet_of(self.conf.remote_ts) and local_ts.subnet_of(self.conf.local_ts)
        ):
            raise Abort(
                f"QM1: selectors {remote_ts} ↔ {local_ts} are not allowed",
                Notify.INVALID_ID_INFORMATION,
                True,
            )
        offer = self._choose_child(child_offers(sa), ke is not None)
        dh_private = None
        my_ke: list[Payload] = []
        g_qm_xy = b""
        if offer.proposal.pfs_group is not None:
            assert ke is not None
            group = group_by_number(offer.proposal.pfs_group)
            dh_private = self._keys.dh_private(group)
            g_qm_xy = group.shared_secret(dh_private, ke.data)
            my_ke = [KePayload(group.public_value(dh_private))]
        nr = self._keys.nonce()
        spi_in = self._keys.random_bytes(4)
        answer = SaPayload(
            DOI_IPSEC,
            sa.situation,
            (ProposalPayload(offer.number, Protocol.ESP, spi_in, (offer.transform,)),),
        )
        after: list[Payload] = [answer, NoncePayload(nr), *my_ke, *ids]
        qx = QuickExchange(
            mid,
            False,
            spi_in,
            nonce.data,
            (offer.proposal,),
            local_ts,
            remote_ts,
            bool(ids),
            dh_private,
            nr,
        )
        qx.pending = self._child_keys(offer, qx, spi_in, offer.spi, g_qm_xy)
        digest = kdf.qm_hash2(self.prf, self.p1.skeyid_a, mid, nonce.data, encode_chain(after)[1])
        self._quick[mid] = qx
        self._send_encrypted(Exchange.QUICK_MODE, mid, [HashPayload(digest), *after])
        return []

    def _choose_child(self, offers: list[ChildOffer], has_ke: bool) -> ChildOffer:
        for offer in offers:
            if (offer.proposal.pfs_group is not None) != has_ke:
                continue
            if any(same_child(offer.proposal, mine) for mine in self.conf.child_proposals):
                return offer
        raise Abort("QM1: no acceptable ESP proposal", Notify.NO_PROPOSAL_CHOSEN, True)

    def _on_qm2(self, qx: QuickExchange, digest: bytes, msg: DecryptedMessage) -> list[IkeEvent]:
        chain = msg.chain
        if digest != kdf.qm_hash2(
            self.prf, self.p1.skeyid_a, qx.message_id, qx.ni, chain.after_first()
        ):
            raise Abort("QM2: HASH(2) does not verify", Notify.INVALID_HASH_INFORMATION)
        sa, nonce, ke = chain.first(SaPayload), chain.first(NoncePayload), chain.first(KePayload)
        if sa is None or nonce is None:
            raise Abort("QM2: SA and Nonce are required", Notify.PAYLOAD_MALFORMED)
        offers = child_offers(sa)
        if len(sa.proposals) != 1 or len(offers) != 1:
            raise Abort("QM2: the answer must hold one ESP proposal", Notify.BAD_PROPOSAL_SYNTAX)
        offer = offers[0]
        if not any(same_child(offer.proposal, mine) for mine in qx.offered):
            raise Abort(
                "QM2: the responder chose a proposal we did not offer", Notify.NO_PROPOSAL_CHOSEN
            )
        g_qm_xy = b""
        if offer.proposal.pfs_group is not None:
            if ke is None or qx.dh_private is None:
                raise Abort("QM2: PFS negotiated but no KE", Notify.PAYLOAD_MALFORMED)
            g_qm_xy = group_by_number(offer.proposal.pfs_group).shared_secret(
                qx.dh_private, ke.data
            )
        qx.nr = nonce.data
        child = self._child_keys(offer, qx, qx.spi_in, offer.spi, g_qm_xy)
        qx.pending = child
        digest3 = kdf.qm_hash3(self.prf, self.p1.skeyid_a, qx.message_id, qx.ni, qx.nr)
        self._send_encrypted(Exchange.QUICK_MODE, qx.message_id, [HashPayload(digest3)])
        return self._child_done(qx, child)

    def _on_qm3(self, qx: QuickExchange, digest: bytes) -> list[IkeEvent]:
        if digest != kdf.qm_hash3(self.prf, self.p1.skeyid_a, qx.message_id, qx.ni, qx.nr):
            raise Abort("QM3: HASH(3) does not verify", Notify.INVALID_HASH_INFORMATION)
        assert qx.pending is not None
        return self._child_done(qx, qx.pending)

    def _child_done(self, qx: QuickExchange, child: ChildSaKeys) -> list[IkeEvent]:
        del self._quick[qx.message_id]
        self.children.append(child)
        return [ChildSaEstablished(self.cky_i, self.cky_r, child)]

    def _child_keys(
        self, offer: ChildOffer, qx: QuickExchange, spi_in: bytes, spi_out: bytes, g_qm_xy: bytes
    ) -> ChildSaKeys:
        """Both SAs of the pair: KEYMAT uses the SPI its *receiver* chose."""
        p = offer.proposal
        args = (qx.ni, qx.nr, p.encr, p.key_size, p.integ, g_qm_xy)
        k_in = kdf.esp_sa_keys(self.prf, self.p1.skeyid_d, spi_in, *args)
        k_out = kdf.esp_sa_keys(self.prf, self.p1.skeyid_d, spi_out, *args)
        assert qx.local_ts is not None and qx.remote_ts is not None
        return ChildSaKeys(
            p.encr, p.key_size, p.integ, spi_in, spi_out, k_in.encr_key, k_out.encr_key,
            k_in.integ_key, k_out.integ_key, qx.local_ts, qx.remote_ts, offer.encap in UDP_ENCAP_MODES,
        )  # fmt: skip

    # --- informational -----------------------------------------------------------------------

    def send_informational(self, payloads: Sequence[Payload]) -> None:
        """Send an encrypted Informational exchange: HASH(1) then ``payloads``."""
        mid = self._new_message_id()
        digest = kdf.informational_hash(self.prf, self.p1.skeyid_a, mid, encode_chain(payloads)[1])
        self._send_encrypted(Exchange.INFORMATIONAL, mid, [HashPayload(digest), *payloads])

    def delete_child(self, spi_in: bytes) -> None:
        """Delete the child SA whose inbound SPI is ``spi_in`` and tell the peer."""
        self.send_informational([DeletePayload(DOI_IPSEC, Protocol.ESP, 4, (spi_in,))])
        self.children = [c for c in self.children if c.spi_in != spi_in]

    def delete_ike(self) -> None:
        """Delete the IKE SA (Delete with SPI = CKY-I | CKY-R) and stop."""
        self.send_informational(
            [DeletePayload(DOI_IPSEC, Protocol.ISAKMP, 16, (self.cky_i + self.cky_r,))]
        )
        self.state = State.DELETED

    def notify(self, notify_type: int, data: bytes = b"") -> None:
        """Send one Notify in an encrypted Informational exchange."""
        self.send_informational(
            [NotifyPayload(DOI_IPSEC, Protocol.ISAKMP, notify_type, self.cky_i + self.cky_r, data)]
        )
