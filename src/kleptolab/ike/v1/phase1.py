"""Phase 1: Main Mode (RFC 2409 §5) and Aggressive Mode, with PSK or RSA signatures.

Main Mode:  I→R SA,VID*   R→I SA,VID*   I→R KE,Ni,[CR],NAT-D*   R→I KE,Nr,[CR],NAT-D*
            I→R *ID,[CERT],HASH_I|SIG_I   R→I *ID,[CERT],HASH_R|SIG_R   (* encrypted)
Aggressive: I→R SA,KE,Ni,IDii,VID*   R→I SA,KE,Nr,IDir,[CERT],HASH_R|SIG_R,VID*,NAT-D*
            I→R [CERT],HASH_I|SIG_I,NAT-D*   (sent in the clear; accepted either way)
"""

from __future__ import annotations

from collections.abc import Sequence

from kleptolab.ike.common import (
    AuthMethod,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    NatStatus,
    PeerConfig,
)
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.auth import (
    AuthenticationError,
    id_payload,
    identity_of,
    rsa_sign,
    rsa_verify,
    verify_certificate,
)
from kleptolab.ike.v1.constants import DOI_IPSEC, CertEncoding, Exchange, Notify, Protocol
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.message import PayloadChain
from kleptolab.ike.v1.natt import (
    NATT_VENDOR_IDS,
    NatTVersion,
    answer_vendor_id,
    detect_nat,
    natd_payloads,
    natt_version,
)
from kleptolab.ike.v1.payloads import (
    CertPayload,
    CrPayload,
    HashPayload,
    IdPayload,
    KePayload,
    NatDPayload,
    NoncePayload,
    Payload,
    ProposalPayload,
    SaPayload,
    SigPayload,
    VendorIdPayload,
)
from kleptolab.ike.v1.proposals import ike_proposal_from_transform, ike_sa_payload, same_ike
from kleptolab.ike.v1.state import Abort, SaState, State


def _need(chain: PayloadChain, cls: type[Payload], what: str) -> Payload:
    payload = chain.first(cls)
    if payload is None:
        raise Abort(f"{what}: missing {cls.__name__}", Notify.PAYLOAD_MALFORMED)
    return payload


def _matches_id(config: PeerConfig, peer_id: str) -> bool:
    return config.remote_id in ("", "%any", peer_id)


class Phase1(SaState):
    """Phase-1 message builders and handlers; see :mod:`kleptolab.ike.v1.engine`."""

    # --- initiator -----------------------------------------------------------------------

    def _start_phase1(self, config: PeerConfig) -> None:
        self.config = config
        self.cky_i = self._keys.random_bytes(8)
        offers: Sequence[IkeProposal] = config.ike_proposals
        if config.aggressive:
            offers = [p for p in offers if p.dh_group == offers[0].dh_group]
        sa = ike_sa_payload(offers)
        self.sai_b = sa.build()
        vids = self._my_vendor_ids(NATT_VENDOR_IDS if config.nat_t else ())
        if not config.aggressive:
            self._send_plain(Exchange.MAIN_MODE, 0, [sa, *vids])
            self.state = State.MM1_SENT
            return
        self.proposal = offers[0]  # provisional: fixes the group for KE; replaced by the answer
        ke, nonce = self._make_ke_nonce()
        self.g_xi, self.ni = ke.data, nonce.data
        self._send_plain(
            Exchange.AGGRESSIVE, 0, [sa, ke, nonce, id_payload(config.local_id), *vids]
        )
        self.state = State.AM1_SENT

    def _my_vendor_ids(self, natt: Sequence[bytes]) -> list[Payload]:
        return [VendorIdPayload(v) for v in (*self.vendor_ids, *natt)]

    def _make_ke_nonce(self) -> tuple[KePayload, NoncePayload]:
        """Draw the DH private value, then the nonce (the KeySource contract order)."""
        group = self.group
        self._dh_private = self._keys.dh_private(group)
        return KePayload(group.public_value(self._dh_private)), NoncePayload(self._keys.nonce())

    def _accept_answer(self, chain: PayloadChain, what: str) -> None:
        """Check the responder's one-transform SA answer against what we offered."""
        sa = _need(chain, SaPayload, what)
        assert isinstance(sa, SaPayload)
        if len(sa.proposals) != 1 or len(sa.proposals[0].transforms) != 1:
            raise Abort(
                f"{what}: the answer must hold one proposal with one transform",
                Notify.BAD_PROPOSAL_SYNTAX,
            )
        chosen = ike_proposal_from_transform(sa.proposals[0].transforms[0])
        mine = next((p for p in self.conf.ike_proposals if chosen and same_ike(p, chosen)), None)
        if chosen is None or mine is None:
            raise Abort(
                f"{what}: the responder chose a transform we did not offer",
                Notify.NO_PROPOSAL_CHOSEN,
            )
        self.proposal = chosen
        self._note_vendor_ids(chain, offered=self.conf.nat_t)

    def _note_vendor_ids(self, chain: PayloadChain, offered: bool) -> None:
        self.peer_vendor_ids = [v.data for v in chain.all(VendorIdPayload)]
        self.natt = natt_version(self.peer_vendor_ids) if offered else self.natt

    def _on_mm2(self, chain: PayloadChain) -> None:
        self._accept_answer(chain, "MM2")
        ke, nonce = self._make_ke_nonce()
        self.g_xi, self.ni = ke.data, nonce.data
        self._send_plain(Exchange.MAIN_MODE, 0, [ke, nonce, *self._cert_request(), *self._natd()])
        self.state = State.MM3_SENT

    def _on_mm4(self, chain: PayloadChain) -> None:
        self._take_ke_nonce(chain, "MM4")
        self._derive()
        self._check_natd(chain)
        self._send_encrypted(Exchange.MAIN_MODE, 0, self._auth_payloads(True))
        self.state = State.MM5_SENT

    def _on_mm6(self, chain: PayloadChain) -> list[IkeEvent]:
        self._verify_auth(chain, "MM6", by_initiator=False)
        return self._established()

    def _on_am2(self, chain: PayloadChain) -> list[IkeEvent]:
        self._accept_answer(chain, "AM2")
        if self.proposal is None or self.proposal.dh_group != self.conf.ike_proposals[0].dh_group:
            raise Abort("AM2: the responder changed the DH group", Notify.NO_PROPOSAL_CHOSEN)
        self._take_ke_nonce(chain, "AM2")
        self._derive()
        self._check_natd(chain)
        self._verify_auth(chain, "AM2", by_initiator=False)
        self._send_plain(
            Exchange.AGGRESSIVE, 0, [*self._auth_payloads(True, with_id=False), *self._natd()]
        )
        return self._established()

    # --- responder -----------------------------------------------------------------------

    def _select(
        self, chain: PayloadChain, configs: Sequence[PeerConfig], aggressive: bool, peer_id: str
    ) -> None:
        """Pick the first offered transform that one of ``configs`` accepts."""
        sa = _need(chain, SaPayload, "first message")
        assert isinstance(sa, SaPayload)
        if sa.doi != DOI_IPSEC or not sa.proposals or sa.proposals[0].protocol != Protocol.ISAKMP:
            raise Abort(
                "SA payload: not an IPsec-DOI ISAKMP proposal", Notify.BAD_PROPOSAL_SYNTAX, True
            )
        self.sai_b = chain.body_of(SaPayload) or b""
        candidates = [c for c in configs if c.version == 1 and c.aggressive == aggressive]
        if aggressive:
            candidates = [c for c in candidates if _matches_id(c, peer_id)]
        for transform in sa.proposals[0].transforms:
            offer = ike_proposal_from_transform(transform)
            if offer is None:
                continue
            for config in candidates:
                if any(same_ike(offer, p) for p in config.ike_proposals):
                    self.config, self.proposal = config, offer
                    self._note_vendor_ids(chain, offered=config.nat_t)
                    self._answer_sa = SaPayload(
                        sa.doi,
                        sa.situation,
                        (
                            ProposalPayload(
                                sa.proposals[0].number, Protocol.ISAKMP, b"", (transform,)
                            ),
                        ),
                    )
                    return
        raise Abort(
            "no proposal chosen: nothing offered matches a configuration",
            Notify.NO_PROPOSAL_CHOSEN,
            True,
        )

    def _answer_vids(self) -> list[Payload]:
        vid = answer_vendor_id(self.natt, self.peer_vendor_ids)
        return self._my_vendor_ids((vid,) if vid else ())

    def _on_mm1(self, chain: PayloadChain, configs: Sequence[PeerConfig]) -> None:
        self._select(chain, configs, aggressive=False, peer_id="")
        assert self._answer_sa is not None
        self._send_plain(Exchange.MAIN_MODE, 0, [self._answer_sa, *self._answer_vids()])
        self.state = State.MM2_SENT

    def _on_mm3(self, chain: PayloadChain) -> None:
        self._take_ke_nonce(chain, "MM3")
        ke, nonce = self._make_ke_nonce()
        self.g_xr, self.nr = ke.data, nonce.data
        self._derive()
        self._check_natd(chain)
        self._send_plain(Exchange.MAIN_MODE, 0, [ke, nonce, *self._cert_request(), *self._natd()])
        self.state = State.MM4_SENT

    def _on_mm5(self, chain: PayloadChain) -> list[IkeEvent]:
        self._verify_auth(chain, "MM5", by_initiator=True)
        self._send_encrypted(Exchange.MAIN_MODE, 0, self._auth_payloads(False))
        return self._established()

    def _on_am1(self, chain: PayloadChain, configs: Sequence[PeerConfig]) -> None:
        idp = _need(chain, IdPayload, "AM1")
        assert isinstance(idp, IdPayload)
        self._select(chain, configs, aggressive=True, peer_id=identity_of(idp))
        self._take_ke_nonce(chain, "AM1")
        ke, nonce = self._make_ke_nonce()
        self.g_xr, self.nr = ke.data, nonce.data
        self._derive(defer_g_xy=True)
        self.peer_id = identity_of(idp)
        self._idii_b = chain.body_of(IdPayload) or b""
        auth = self._auth_payloads(False)
        assert self._answer_sa is not None
        self._send_plain(
            Exchange.AGGRESSIVE,
            0,
            [self._answer_sa, ke, nonce, *auth, *self._answer_vids(), *self._natd()],
        )
        self.state = State.AM2_SENT

    def _on_am3(self, chain: PayloadChain) -> list[IkeEvent]:
        self._check_natd(chain)
        self._verify_auth(chain, "AM3", by_initiator=True, id_body=self._idii_b)
        self._finish_derive()
        return self._established()

    # --- shared pieces ---------------------------------------------------------------------

    def _take_ke_nonce(self, chain: PayloadChain, what: str) -> None:
        ke, nonce = _need(chain, KePayload, what), _need(chain, NoncePayload, what)
        assert isinstance(ke, KePayload) and isinstance(nonce, NoncePayload)
        try:
            self.group.validate_public(ke.data)
        except ValueError as exc:
            raise Abort(f"{what}: {exc}", Notify.INVALID_KEY_INFORMATION) from None
        if self.initiator:
            self.g_xr, self.nr = ke.data, nonce.data
        else:
            self.g_xi, self.ni = ke.data, nonce.data

    _skeyid_early: bytes | None = None

    def _derive(self, *, defer_g_xy: bool = False) -> None:
        """g^xy, SKEYID (PSK or signature form), SKEYID_d/a/e, Ka, the initial IV and the cipher.

        ``defer_g_xy`` (the Aggressive Mode responder): with a pre-shared key,
        SKEYID = prf(PSK, Ni_b | Nr_b) is all HASH_R needs (RFC 2409 §5.4), so
        only that is computed now; g^xy and the keys made from it wait for
        message 3 (:meth:`_finish_derive`), which echoes our cookie.  A spoofed
        AM request then costs one modular exponentiation instead of two.  The
        bytes on the wire and the PRNG draws are the same either way.
        """
        proposal, prf = self._proposal(), self.prf
        if proposal.auth is AuthMethod.PSK:
            if self.conf.psk is None:
                raise Abort(
                    f"configuration {self.conf.name!r} has no pre-shared key",
                    Notify.AUTHENTICATION_FAILED,
                )
            skeyid = kdf.skeyid_psk(prf, self.conf.psk, self.ni, self.nr)
            if defer_g_xy:
                self._skeyid_early = skeyid
                return
        peer = self.g_xr if self.initiator else self.g_xi
        self.g_xy = self.group.shared_secret(self._dh_private, peer)
        if proposal.auth is not AuthMethod.PSK:
            skeyid = kdf.skeyid_sig(prf, self.ni, self.nr, self.g_xy)
        self.phase1_keys = kdf.derive_phase1(
            prf,
            skeyid,
            self.g_xy,
            self.cky_i,
            self.cky_r,
            self.g_xi,
            self.g_xr,
            proposal.encr,
            proposal.key_size,
        )
        self.cipher = Ikev1Cipher.from_keys(self.phase1_keys, proposal.encr, prf)

    def _finish_derive(self) -> None:
        """Complete a derivation :meth:`_derive` deferred (no-op otherwise)."""
        if self.phase1_keys is None and self._skeyid_early is not None:
            self._derive()

    def _proposal(self) -> IkeProposal:
        if self.proposal is None:
            raise Abort("internal: no proposal")
        return self.proposal

    def _cert_request(self) -> list[Payload]:
        if self._proposal().auth is AuthMethod.RSA_SIG:
            return [CrPayload(CertEncoding.X509_SIGNATURE, b"")]
        return []

    def _natd(self) -> list[Payload]:
        if self.natt is NatTVersion.NONE or self.local is None or self.remote is None:
            return []
        return list(
            natd_payloads(
                self.natt, self.prf, self.cky_i, self.cky_r, self.local, self.remote, self.force_nat
            )
        )

    def _check_natd(self, chain: PayloadChain) -> None:
        hashes = [p.data for p in chain.payloads if isinstance(p, NatDPayload)]
        if not hashes or self.local is None or self.remote is None or self.natt is NatTVersion.NONE:
            return
        nat = detect_nat(self.prf, self.cky_i, self.cky_r, self.local, self.remote, hashes)
        if self.force_nat:
            nat = NatStatus(True, nat.remote_behind_nat)
        self.nat = nat
        self.float_to_4500 = nat.detected

    def _my_hash(self, by_initiator: bool, id_body: bytes) -> bytes:
        args = (
            self.prf,
            self.p1.skeyid
            if self.phase1_keys is not None or self._skeyid_early is None
            else self._skeyid_early,
            self.g_xi,
            self.g_xr,
            self.cky_i,
            self.cky_r,
            self.sai_b,
            id_body,
        )
        return kdf.hash_i(*args) if by_initiator else kdf.hash_r(*args)

    def _auth_payloads(self, by_initiator: bool, with_id: bool = True) -> list[Payload]:
        idp = id_payload(self.conf.local_id)
        out: list[Payload] = [idp] if with_id else []
        digest = self._my_hash(by_initiator, idp.build())
        if self._proposal().auth is AuthMethod.PSK:
            return [*out, HashPayload(digest)]
        if self.conf.rsa_key_pem is None or self.conf.certificate_der is None:
            raise Abort(
                f"configuration {self.conf.name!r} lacks an RSA key or certificate",
                Notify.AUTHENTICATION_FAILED,
            )
        cert = CertPayload(CertEncoding.X509_SIGNATURE, self.conf.certificate_der)
        return [*out, cert, SigPayload(rsa_sign(self.conf.rsa_key_pem, digest))]

    def _verify_auth(
        self, chain: PayloadChain, what: str, by_initiator: bool, id_body: bytes | None = None
    ) -> None:
        if id_body is None:
            idp = _need(chain, IdPayload, what)
            assert isinstance(idp, IdPayload)
            self.peer_id = identity_of(idp)
            if not _matches_id(self.conf, self.peer_id):
                raise Abort(
                    f"{what}: peer ID {self.peer_id!r} is not {self.conf.remote_id!r}",
                    Notify.INVALID_ID_INFORMATION,
                )
            id_body = chain.body_of(IdPayload) or b""
        expected = self._my_hash(by_initiator, id_body)
        if self._proposal().auth is AuthMethod.PSK:
            got = _need(chain, HashPayload, what)
            assert isinstance(got, HashPayload)
            if got.data != expected:
                raise Abort(
                    f"{what}: HASH does not verify (wrong pre-shared key?)",
                    Notify.AUTHENTICATION_FAILED,
                )
            return
        cert, sig = _need(chain, CertPayload, what), _need(chain, SigPayload, what)
        assert isinstance(cert, CertPayload) and isinstance(sig, SigPayload)
        try:
            key = verify_certificate(cert.data, self.conf.trusted_ca_der, self.peer_id)
            rsa_verify(key, sig.data, expected)
        except AuthenticationError as exc:
            raise Abort(f"{what}: {exc}", Notify.AUTHENTICATION_FAILED) from None

    def _established(self) -> list[IkeEvent]:
        self.state = State.ESTABLISHED
        keys = {**self.p1.as_dict(), "g_xy": self.g_xy, "Ni": self.ni, "Nr": self.nr}
        return [IkeSaEstablished(self.cky_i, self.cky_r, 1, self.peer_id, self._proposal(), keys)]
