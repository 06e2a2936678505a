"""In-memory initiator <-> responder pairs: every group and algorithm, PSK and RSA, PFS, errors."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
from functools import cache

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import (
    AuthMethod,
    ChildProposal,
    ChildSaEstablished,
    ChildSaKeys,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    PeerConfig,
    SaDeleted,
)
from kleptolab.ike.v1.auth import LabCredential, issue_certificate, make_lab_ca
from kleptolab.ike.v2 import Ikev2Initiator, Ikev2Responder, Ikev2State, Ikev2StateError
from kleptolab.ike.v2.constants import NotifyType
from kleptolab.ike.v2.cookies import CookieJar
from kleptolab.ike.v2.sk import unprotect
from tests.ike.v2.helpers import pump, seeded_keys

NET_I = ipaddress.IPv4Network("203.0.113.0/24")
NET_R = ipaddress.IPv4Network("198.51.100.0/24")
ADDR_I, ADDR_R = ("192.0.2.2", 500), ("192.0.2.1", 500)
CIPHERS = [(Encr.TDES_CBC, 24), (Encr.AES_CBC, 16), (Encr.AES_CBC, 24), (Encr.AES_CBC, 32), (Encr.AES_CTR, 16)]
INTEGS = [Integ.HMAC_MD5_96, Integ.HMAC_SHA1_96, Integ.HMAC_SHA2_256_128, Integ.HMAC_SHA2_384_192,
          Integ.HMAC_SHA2_512_256]
PRFS = [Prf.HMAC_MD5, Prf.HMAC_SHA1, Prf.HMAC_SHA2_256, Prf.HMAC_SHA2_384, Prf.HMAC_SHA2_512]
GROUPS = [1, 2, 5, 14, 19, 20]


def configs(ike: IkeProposal, child: ChildProposal, **extra: object) -> tuple[PeerConfig, PeerConfig]:
    i = PeerConfig("to-gw", 2, "client.example", "gw.example", (ike,), (child,), NET_I, NET_R, psk=b"lab psk")
    r = PeerConfig("from-client", 2, "gw.example", "client.example", (ike,), (child,), NET_R, NET_I,
                   psk=b"lab psk")
    return dataclasses.replace(i, **extra), dataclasses.replace(r, **extra)  # type: ignore[arg-type]


def pair(ci: PeerConfig, cr: PeerConfig, seed: int = 1, **kw: object) -> tuple[Ikev2Initiator, Ikev2Responder]:
    i = Ikev2Initiator(ci, seeded_keys(seed), local=ADDR_I, remote=ADDR_R)
    r = Ikev2Responder([cr], seeded_keys(seed + 1000), local=ADDR_R, remote=ADDR_I, **kw)  # type: ignore[arg-type]
    return i, r


def of(events: list[IkeEvent], kind: type) -> list[IkeEvent]:
    return [e for e in events if isinstance(e, kind)]


def assert_mirror(a: ChildSaKeys, b: ChildSaKeys) -> None:
    assert (a.spi_in, a.spi_out) == (b.spi_out, b.spi_in)
    assert (a.encr_key_in, a.encr_key_out) == (b.encr_key_out, b.encr_key_in)
    assert (a.integ_key_in, a.integ_key_out) == (b.integ_key_out, b.integ_key_in)
    assert a.encr_key_in != a.encr_key_out and len(a.encr_key_in) == a.encr.keymat_size(a.key_size)
    assert (a.local_ts, a.remote_ts) == (b.remote_ts, b.local_ts)


def full_lifecycle(ike: IkeProposal, child: ChildProposal, pfs_group: int) -> None:
    ci, cr = configs(ike, child)
    i, r = pair(ci, cr)
    ev_i, ev_r = pump(i, r)
    (est_i,), (est_r,) = of(ev_i, IkeSaEstablished), of(ev_r, IkeSaEstablished)
    assert isinstance(est_i, IkeSaEstablished) and isinstance(est_r, IkeSaEstablished)
    assert est_i.keys == est_r.keys and est_i.keys["SK_ei"] != est_i.keys["SK_er"]
    assert {"SKEYSEED", "SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr"} <= set(est_i.keys)
    assert (est_i.peer_id, est_r.peer_id) == ("gw.example", "client.example")
    (c_i,), (c_r,) = of(ev_i, ChildSaEstablished), of(ev_r, ChildSaEstablished)
    assert isinstance(c_i, ChildSaEstablished) and isinstance(c_r, ChildSaEstablished)
    assert_mirror(c_i.child, c_r.child)
    # CREATE_CHILD_SA without, then with PFS, each started by a different side.
    i.create_child_sa()
    ev_i, ev_r = pump(i, r)
    assert len(of(ev_i, ChildSaEstablished)) == len(of(ev_r, ChildSaEstablished)) == 1
    pfs = dataclasses.replace(child, pfs_group=pfs_group)
    r.create_child_sa([pfs])
    ev_i, ev_r = pump(i, r)
    (n_i,), (n_r,) = of(ev_i, ChildSaEstablished), of(ev_r, ChildSaEstablished)
    assert isinstance(n_i, ChildSaEstablished) and isinstance(n_r, ChildSaEstablished)
    assert_mirror(n_i.child, n_r.child)
    assert len(i.child_sas) == len(r.child_sas) == 3
    i.delete_child_sa(c_i.child.spi_in)
    ev_i, ev_r = pump(i, r)
    assert ev_i == [SaDeleted(i.spi_i, i.spi_r, (c_i.child.spi_in, c_i.child.spi_out))]
    assert ev_r == [SaDeleted(i.spi_i, i.spi_r, (c_r.child.spi_in, c_r.child.spi_out))]
    assert c_i.child.spi_in not in i.child_sas and c_r.child.spi_in not in r.child_sas
    r.delete_ike_sa()
    ev_i, ev_r = pump(i, r)
    assert ev_i == ev_r == [SaDeleted(i.spi_i, i.spi_r)]
    assert i.state is r.state is Ikev2State.DELETED
    assert i.dropped == r.dropped == []


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize(("encr", "key_size"), CIPHERS)
def test_every_group_with_every_cipher(group: int, encr: Encr, key_size: int) -> None:
    k = CIPHERS.index((encr, key_size)) + GROUPS.index(group)
    ike = IkeProposal(encr, key_size, INTEGS[k % 5], PRFS[(k + 2) % 5], group)
    full_lifecycle(ike, ChildProposal(encr, key_size, INTEGS[(k + 1) % 5]), pfs_group=group)


@pytest.mark.parametrize("prf", PRFS)
@pytest.mark.parametrize("integ", INTEGS)
def test_every_integrity_with_every_prf(integ: Integ, prf: Prf) -> None:
    k = INTEGS.index(integ) + PRFS.index(prf)
    encr, key_size = CIPHERS[k % 5]
    ike = IkeProposal(encr, key_size, integ, prf, (19, 2, 20)[k % 3])
    full_lifecycle(ike, ChildProposal(encr, key_size, integ), pfs_group=19)


@pytest.mark.slow
def test_full_algorithm_matrix() -> None:
    """All 750 group x cipher x integrity x PRF combinations: IKE_SA_INIT, IKE_AUTH, PFS child (~7 s)."""
    for group, (encr, key_size), integ, prf in itertools.product(GROUPS, CIPHERS, INTEGS, PRFS):
        child = ChildProposal(encr, key_size, integ)
        i, r = pair(*configs(IkeProposal(encr, key_size, integ, prf, group), child))
        ev_i, ev_r = pump(i, r)
        assert [type(e) for e in ev_i] == [type(e) for e in ev_r] == [IkeSaEstablished, ChildSaEstablished]
        i.create_child_sa([dataclasses.replace(child, pfs_group=group)])
        ev_i, ev_r = pump(i, r)
        (c_i,), (c_r,) = ev_i, ev_r
        assert isinstance(c_i, ChildSaEstablished) and isinstance(c_r, ChildSaEstablished)
        assert_mirror(c_i.child, c_r.child)


@cache
def lab_pki() -> tuple[LabCredential, LabCredential, LabCredential]:
    ca = make_lab_ca()
    return ca, issue_certificate(ca, "client.example"), issue_certificate(ca, "gw.example", serial=3)


def rsa_configs(client: LabCredential, gw: LabCredential, ca_der: bytes) -> tuple[PeerConfig, PeerConfig]:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256, 19, auth=AuthMethod.RSA_SIG)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96), psk=None, trusted_ca_der=ca_der)
    return (dataclasses.replace(ci, rsa_key_pem=client.key_pem, certificate_der=client.cert_der),
            dataclasses.replace(cr, rsa_key_pem=gw.key_pem, certificate_der=gw.cert_der))


def test_rsa_signatures_with_certificates() -> None:
    ca, client, gw = lab_pki()
    i, r = pair(*rsa_configs(client, gw, ca.cert_der))
    ev_i, ev_r = pump(i, r)
    assert len(of(ev_i, IkeSaEstablished)) == len(of(ev_r, IkeSaEstablished)) == 1
    (c_i,), (c_r,) = of(ev_i, ChildSaEstablished), of(ev_r, ChildSaEstablished)
    assert isinstance(c_i, ChildSaEstablished) and isinstance(c_r, ChildSaEstablished)
    assert_mirror(c_i.child, c_r.child)


def test_rsa_with_a_certificate_from_another_ca_fails() -> None:
    ca, _client, gw = lab_pki()
    rogue = issue_certificate(make_lab_ca("rogue CA"), "client.example")
    i, r = pair(*rsa_configs(rogue, gw, ca.cert_der))
    ev_i, ev_r = pump(i, r)
    assert ev_r == [ExchangeFailed(ev_r[0].reason, NotifyType.AUTHENTICATION_FAILED)]  # type: ignore[union-attr]
    assert "not issued by the trusted CA" in ev_r[0].reason  # type: ignore[union-attr]
    assert of(ev_i, ExchangeFailed)[0].notify == NotifyType.AUTHENTICATION_FAILED  # type: ignore[union-attr]
    assert i.state is r.state is Ikev2State.FAILED


def test_wrong_psk_fails_on_both_sides() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(dataclasses.replace(ci, psk=b"guess"), cr)
    ev_i, ev_r = pump(i, r)
    assert [e.notify for e in ev_r] == [NotifyType.AUTHENTICATION_FAILED]  # type: ignore[union-attr]
    assert [e.notify for e in ev_i] == [NotifyType.AUTHENTICATION_FAILED]  # type: ignore[union-attr]


def test_unknown_identity_is_refused() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(dataclasses.replace(ci, local_id="mallory.example"), cr)
    _, ev_r = pump(i, r)
    assert "no config for peer identity 'mallory.example'" in ev_r[0].reason  # type: ignore[union-attr]


def test_invalid_ke_payload_retry() -> None:
    p19 = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    p14 = dataclasses.replace(p19, dh_group=14)
    child = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)
    ci, cr = configs(p19, child)
    i, r = pair(dataclasses.replace(ci, ike_proposals=(p19, p14)), dataclasses.replace(cr, ike_proposals=(p14,)))
    first = i.outgoing()
    r.receive(first[0])
    (reply,) = r.outgoing()
    assert r.state is Ikev2State.INITIAL and reply[8:16] == bytes(8)  # stateless, nothing drawn
    i.receive(reply)
    ev_i, _ = pump(i, r)
    (est,) = of(ev_i, IkeSaEstablished)
    assert isinstance(est, IkeSaEstablished) and est.proposal.dh_group == 14


def test_no_proposal_chosen() -> None:
    child = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)
    ci, _ = configs(IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19), child)
    _, cr = configs(IkeProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19), child)
    i, r = pair(ci, cr)
    ev_i, ev_r = pump(i, r)
    assert [e.notify for e in ev_r] == [e.notify for e in ev_i] == [NotifyType.NO_PROPOSAL_CHOSEN]  # type: ignore[union-attr]


def test_child_proposal_mismatch_keeps_the_ike_sa() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    cr = dataclasses.replace(cr, child_proposals=(ChildProposal(Encr.TDES_CBC, 24, Integ.HMAC_MD5_96),))
    i, r = pair(ci, cr)
    ev_i, _ = pump(i, r)
    assert [type(e) for e in ev_i] == [IkeSaEstablished, ExchangeFailed]
    assert i.state is Ikev2State.ESTABLISHED and not i.child_sas


def test_cookie_challenge_then_success() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(ci, cr, cookies=CookieJar(b"k" * 32))
    request = i.outgoing()
    r.receive(request[0])
    (challenge,) = r.outgoing()
    assert r.state is Ikev2State.INITIAL and b"\x40\x06" in challenge  # N(COOKIE)
    i.receive(challenge)
    ev_i, ev_r = pump(i, r)
    assert len(of(ev_i, IkeSaEstablished)) == len(of(ev_r, IkeSaEstablished)) == 1


def test_retransmitted_request_gets_the_same_response() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(ci, cr)
    (init,) = i.outgoing()
    r.receive(init)
    (reply,) = r.outgoing()
    assert r.receive(init) == [] and r.outgoing() == [reply]
    i.receive(reply)
    (auth,) = i.outgoing()
    assert i.retransmit() and i.outgoing() == [auth]
    events = r.receive(auth)
    (auth_reply,) = r.outgoing()
    assert len(events) == 2 and r.receive(auth) == [] and r.outgoing() == [auth_reply]
    assert len(i.receive(auth_reply)) == 2 and i.receive(auth_reply) == []
    assert i.dropped == ["unexpected response with message ID 1"]


def test_tampered_and_foreign_messages_are_dropped() -> None:
    ike = IkeProposal(Encr.AES_CTR, 16, Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(ci, cr)
    pump(i, r)
    i.check_liveness()
    (ping,) = i.outgoing()
    bad = bytearray(ping)
    bad[-1] ^= 1
    assert r.receive(bytes(bad)) == [] and r.outgoing() == []
    assert r.receive(b"\x00" * 10) == [] and r.receive(ping[:8] + b"\x01" * 8 + ping[16:]) == []
    assert r.dropped[0].startswith("IntegrityError") and "malformed header" in r.dropped[1]
    assert r.dropped[2] == "unknown SPIr"
    assert r.receive(ping) == []
    (pong,) = r.outgoing()
    assert unprotect(pong, r.sk_keys).payloads == ()  # type: ignore[arg-type]
    assert i.receive(pong) == [] and i.dropped == []
    with pytest.raises(Ikev2StateError):
        Ikev2Responder([cr], seeded_keys(5)).create_child_sa()


def test_nat_detection_and_force_nat() -> None:
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    i, r = pair(ci, cr)
    ev_i, _ = pump(i, r)
    assert i.nat is not None and not i.float_to_4500 and not r.float_to_4500
    assert not of(ev_i, ChildSaEstablished)[0].child.udp_encapsulated  # type: ignore[union-attr]
    forced = Ikev2Initiator(ci, seeded_keys(7), local=ADDR_I, remote=ADDR_R, force_nat=True)
    r2 = Ikev2Responder([cr], seeded_keys(8), local=ADDR_R, remote=ADDR_I)
    ev_i, ev_r = pump(forced, r2)
    assert forced.nat is not None and forced.nat.local_behind_nat and not forced.nat.remote_behind_nat
    assert r2.nat is not None and r2.nat.remote_behind_nat and r2.float_to_4500
    for event in of(ev_i, ChildSaEstablished) + of(ev_r, ChildSaEstablished):
        assert event.child.udp_encapsulated  # type: ignore[union-attr]
    # a real NAT: the responder sees another source address than the initiator's own
    natted = Ikev2Responder([cr], seeded_keys(9), local=ADDR_R, remote=("198.18.0.1", 40123))
    i3 = Ikev2Initiator(ci, seeded_keys(10), local=("10.0.0.2", 500), remote=ADDR_R)
    pump(i3, natted)
    assert natted.nat is not None and natted.nat.remote_behind_nat and i3.float_to_4500


def test_responder_draw_order() -> None:
    """SPIr, dh_private, nonce for IKE_SA_INIT; then child SPI and the IV for IKE_AUTH."""
    ike = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 19)
    ci, cr = configs(ike, ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96))
    calls: list[str] = []
    inner = seeded_keys(3)

    class Recording:
        def nonce(self) -> bytes:
            calls.append("nonce")
            return inner.nonce()

        def dh_private(self, group: object) -> int:
            calls.append("dh")
            return inner.dh_private(group)  # type: ignore[arg-type]

        def random_bytes(self, size: int) -> bytes:
            calls.append(f"random{size}")
            return inner.random_bytes(size)

    i = Ikev2Initiator(ci, seeded_keys(4))
    r = Ikev2Responder([cr], Recording())
    pump(i, r)
    assert calls == ["random8", "dh", "nonce", "random4", "random16"]
    calls.clear()
    i.create_child_sa([dataclasses.replace(ci.child_proposals[0], pfs_group=19)])
    pump(i, r)
    assert calls == ["random4", "dh", "nonce", "random16"]
