"""In-memory IKEv1 initiator ↔ responder runs: MM/AM x PSK/RSA, Quick Mode ± PFS, Delete."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import replace
from functools import cache

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import (
    AuthMethod,
    ChildProposal,
    ChildSaEstablished,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    PeerConfig,
    SaDeleted,
    SimpleKeySource,
)
from kleptolab.ike.dh import DhGroup
from kleptolab.ike.v1.auth import LabCredential, issue_certificate, make_lab_ca
from kleptolab.ike.v1.constants import NETSCREEN_VIDS, Exchange, Notify, screenos_vendor_ids
from kleptolab.ike.v1.engine import Ikev1Initiator, Ikev1Responder, State
from kleptolab.ike.v1.message import parse_message

NET_I = ipaddress.IPv4Network("10.1.0.0/16")
NET_R = ipaddress.IPv4Network("10.2.0.0/16")
ADDR_I, ADDR_R = ("192.0.2.2", 500), ("192.0.2.1", 500)
CIPHERS = [
    (Encr.DES_CBC, 8),
    (Encr.TDES_CBC, 24),
    (Encr.AES_CBC, 16),
    (Encr.AES_CBC, 24),
    (Encr.AES_CBC, 32),
]
HASHES = [Prf.HMAC_MD5, Prf.HMAC_SHA1, Prf.HMAC_SHA2_256, Prf.HMAC_SHA2_384, Prf.HMAC_SHA2_512]
INTEG = {
    Prf.HMAC_MD5: Integ.HMAC_MD5_96,
    Prf.HMAC_SHA1: Integ.HMAC_SHA1_96,
    Prf.HMAC_SHA2_256: Integ.HMAC_SHA2_256_128,
    Prf.HMAC_SHA2_384: Integ.HMAC_SHA2_384_192,
    Prf.HMAC_SHA2_512: Integ.HMAC_SHA2_512_256,
}
GROUPS = [1, 2, 5, 14, 19, 20]


def keysource(seed: int) -> SimpleKeySource:
    rng = random.Random(seed)
    return SimpleKeySource(rng.randbytes)


@cache
def credentials() -> tuple[LabCredential, LabCredential, LabCredential]:
    ca = make_lab_ca(key_size=1024)
    return (
        ca,
        issue_certificate(ca, "client.example", 1024),
        issue_certificate(ca, "gw.example", 1024, serial=3),
    )


def configs(
    encr: Encr = Encr.TDES_CBC,
    key_size: int = 24,
    prf: Prf = Prf.HMAC_SHA1,
    group: int = 2,
    auth: AuthMethod = AuthMethod.PSK,
    aggressive: bool = False,
    pfs: int | None = 2,
) -> tuple[PeerConfig, PeerConfig]:
    ike = (IkeProposal(encr, key_size, INTEG[prf], prf, group, auth),)
    child = (ChildProposal(encr, key_size, INTEG[prf], pfs_group=pfs),)
    extra: dict[str, object] = {"psk": b"lab-secret"}
    ca, cred_i, cred_r = credentials() if auth is AuthMethod.RSA_SIG else (None, None, None)
    i = PeerConfig(
        "cl",
        1,
        "client.example",
        "gw.example",
        ike,
        child,
        NET_I,
        NET_R,
        aggressive=aggressive,
        **extra,
    )  # type: ignore[arg-type]
    r = PeerConfig(
        "gw",
        1,
        "gw.example",
        "client.example",
        ike,
        child,
        NET_R,
        NET_I,
        aggressive=aggressive,
        **extra,
    )  # type: ignore[arg-type]
    if ca is not None and cred_i is not None and cred_r is not None:
        i = replace(
            i,
            psk=None,
            rsa_key_pem=cred_i.key_pem,
            certificate_der=cred_i.cert_der,
            trusted_ca_der=ca.cert_der,
        )
        r = replace(
            r,
            psk=None,
            rsa_key_pem=cred_r.key_pem,
            certificate_der=cred_r.cert_der,
            trusted_ca_der=ca.cert_der,
        )
    return i, r


def pump(
    i: Ikev1Initiator, r: Ikev1Responder, rounds: int = 6
) -> tuple[list[IkeEvent], list[IkeEvent]]:
    ev_i: list[IkeEvent] = []
    ev_r: list[IkeEvent] = []
    for _ in range(rounds):
        for m in i.outgoing():
            ev_r += r.receive(m)
        for m in r.outgoing():
            ev_i += i.receive(m)
    return ev_i, ev_r


def pair(
    ci: PeerConfig, cr: PeerConfig, seed: int = 1, **kw: object
) -> tuple[Ikev1Initiator, Ikev1Responder]:
    i = Ikev1Initiator(ci, keysource(seed), local=ADDR_I, remote=ADDR_R, **kw)  # type: ignore[arg-type]
    r = Ikev1Responder([cr], keysource(seed + 1000), local=ADDR_R, remote=ADDR_I)
    return i, r


def check_full_run(ci: PeerConfig, cr: PeerConfig, seed: int) -> None:
    i, r = pair(ci, cr, seed)
    ev_i, ev_r = pump(i, r)
    assert i.state is State.ESTABLISHED and r.state is State.ESTABLISHED, (ev_i, ev_r)
    sa_i = next(e for e in ev_i if isinstance(e, IkeSaEstablished))
    sa_r = next(e for e in ev_r if isinstance(e, IkeSaEstablished))
    assert (
        sa_i.keys == sa_r.keys and sa_i.peer_id == "gw.example" and sa_r.peer_id == "client.example"
    )
    assert sa_i.proposal == sa_r.proposal == ci.ike_proposals[0]
    child_i = next(e for e in ev_i if isinstance(e, ChildSaEstablished)).child
    child_r = next(e for e in ev_r if isinstance(e, ChildSaEstablished)).child
    assert (child_i.spi_in, child_i.spi_out) == (child_r.spi_out, child_r.spi_in)
    assert (child_i.encr_key_in, child_i.encr_key_out) == (
        child_r.encr_key_out,
        child_r.encr_key_in,
    )
    assert (child_i.integ_key_in, child_i.integ_key_out) == (
        child_r.integ_key_out,
        child_r.integ_key_in,
    )
    assert child_i.encr_key_in != child_i.encr_key_out
    assert len(child_i.encr_key_in) == ci.child_proposals[0].key_size
    assert (
        (child_i.local_ts, child_i.remote_ts)
        == (NET_I, NET_R)
        == (child_r.remote_ts, child_r.local_ts)
    )
    i.delete_child(child_i.spi_in)
    ev_i, ev_r = pump(i, r, 1)
    assert ev_r == [SaDeleted(i.cky_i, i.cky_r, (child_i.spi_in,))] and not r.children
    i.delete_ike()
    ev_i, ev_r = pump(i, r, 1)
    assert ev_r == [SaDeleted(i.cky_i, i.cky_r, ())] and r.state is State.DELETED


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("aggressive", [False, True], ids=["main", "aggressive"])
@pytest.mark.parametrize("auth", [AuthMethod.PSK, AuthMethod.RSA_SIG], ids=["psk", "rsa"])
def test_modes_auth_and_groups(group: int, aggressive: bool, auth: AuthMethod) -> None:
    n = GROUPS.index(group)
    encr, key_size = CIPHERS[n % len(CIPHERS)]
    pfs = group if n % 2 == 0 else None
    ci, cr = configs(encr, key_size, HASHES[n % len(HASHES)], group, auth, aggressive, pfs)
    check_full_run(ci, cr, seed=n)


@pytest.mark.parametrize("cipher", CIPHERS, ids=lambda c: f"{c[0].name}-{c[1] * 8}")
@pytest.mark.parametrize("prf", HASHES, ids=lambda p: p.name)
def test_every_cipher_and_hash(cipher: tuple[Encr, int], prf: Prf) -> None:
    pfs = 2 if HASHES.index(prf) % 2 else None
    ci, cr = configs(cipher[0], cipher[1], prf, group=2, pfs=pfs)
    check_full_run(ci, cr, seed=HASHES.index(prf) * 10 + CIPHERS.index(cipher))


class RecordingKeySource(SimpleKeySource):
    def __init__(self, seed: int) -> None:
        super().__init__(random.Random(seed).randbytes)
        self.calls: list[str] = []

    def nonce(self) -> bytes:
        self.calls.append("nonce")
        return super().nonce()

    def dh_private(self, group: DhGroup) -> int:
        self.calls.append(f"dh{group.number}")
        return super().dh_private(group)

    def random_bytes(self, size: int) -> bytes:
        self.calls.append(f"rand{size}")
        return super().random_bytes(size)


@pytest.mark.parametrize("aggressive", [False, True])
def test_responder_draw_order(aggressive: bool) -> None:
    ci, cr = configs(aggressive=aggressive, pfs=2)
    i = Ikev1Initiator(ci, keysource(5))
    ks = RecordingKeySource(6)
    r = Ikev1Responder([cr], ks)
    pump(i, r)
    assert r.state is State.ESTABLISHED and len(r.children) == 1
    assert ks.calls == ["rand8", "dh2", "nonce", "dh2", "nonce", "rand4"]


def test_nat_t_float_and_udp_encapsulation() -> None:
    ci, cr = configs()
    i, r = pair(ci, cr)
    mm1 = parse_message(i.outgoing()[0])
    assert bytes.fromhex("4a131c81070358455c5728f20e95452f") in [
        p.data for p in mm1.chain.payloads[1:]
    ]  # type: ignore[union-attr, attr-defined]
    i = Ikev1Initiator(ci, keysource(1), local=ADDR_I, remote=ADDR_R)
    r = Ikev1Responder([cr], keysource(2), local=ADDR_R, remote=ADDR_I)
    pump(i, r)
    assert not i.nat_detected and not i.float_to_4500 and not r.children[0].udp_encapsulated
    i = Ikev1Initiator(ci, keysource(1), local=("10.0.0.5", 500), remote=ADDR_R)  # behind a NAT
    r = Ikev1Responder([cr], keysource(2), local=ADDR_R, remote=("198.51.100.7", 4500))
    pump(i, r)
    assert i.float_to_4500 and i.nat is not None and i.nat.local_behind_nat
    assert r.nat is not None and r.nat.remote_behind_nat and r.children[0].udp_encapsulated
    i = Ikev1Initiator(ci, keysource(1), local=ADDR_I, remote=ADDR_R, force_nat=True)
    r = Ikev1Responder([cr], keysource(2), local=ADDR_R, remote=ADDR_I)
    pump(i, r)
    assert i.float_to_4500 and r.float_to_4500 and i.children[0].udp_encapsulated


def test_responder_sends_configured_vendor_ids() -> None:
    ci, cr = configs()
    i = Ikev1Initiator(ci, keysource(1))
    r = Ikev1Responder([cr], keysource(2), vendor_ids=screenos_vendor_ids())
    r.receive(i.outgoing()[0])
    mm2 = parse_message(r.outgoing()[0])
    vids = [p.data for p in mm2.chain.payloads[1:]]  # type: ignore[union-attr, attr-defined]
    assert vids[0].startswith(NETSCREEN_VIDS["Netscreen-15"]) and len(vids[0]) == 28


def test_wrong_psk_fails_authentication() -> None:
    ci, cr = configs()
    i, r = pair(ci, replace(cr, psk=b"other"))
    _ev_i, ev_r = pump(i, r)
    assert r.state is State.FAILED and i.state is State.MM5_SENT
    assert any(isinstance(e, ExchangeFailed) for e in ev_r)


def test_no_proposal_chosen_is_notified() -> None:
    ci, cr = configs()
    i, r = pair(ci, replace(cr, ike_proposals=(replace(cr.ike_proposals[0], dh_group=14),)))
    ev_i, ev_r = pump(i, r)
    assert ev_r == [ExchangeFailed(ev_r[0].reason, Notify.NO_PROPOSAL_CHOSEN)]  # type: ignore[union-attr]
    assert ev_i == [ExchangeFailed("peer sent NO_PROPOSAL_CHOSEN", Notify.NO_PROPOSAL_CHOSEN)]
    assert i.state is State.FAILED


def test_peer_id_mismatch_and_config_choice() -> None:
    ci, cr = configs()
    other = replace(
        cr,
        name="other",
        remote_id="someone.else",
        ike_proposals=(replace(cr.ike_proposals[0], dh_group=5),),
    )
    r = Ikev1Responder([other, cr], keysource(2))
    i = Ikev1Initiator(ci, keysource(1))
    pump(i, r)
    assert r.config is cr and r.established
    r = Ikev1Responder([replace(cr, remote_id="someone.else")], keysource(2))
    i = Ikev1Initiator(ci, keysource(1))
    _, ev_r = pump(i, r)
    assert r.state is State.FAILED and ev_r[-1].notify == Notify.INVALID_ID_INFORMATION  # type: ignore[union-attr]


def test_aggressive_mode_selects_config_by_id() -> None:
    ci, cr = configs(aggressive=True)
    decoy = replace(cr, name="decoy", remote_id="x.example", psk=b"decoy")
    r = Ikev1Responder([decoy, cr], keysource(2))
    i = Ikev1Initiator(ci, keysource(1))
    pump(i, r)
    assert r.config is cr and r.established and i.established


def test_retransmitted_request_gets_the_same_answer() -> None:
    ci, cr = configs()
    i, r = pair(ci, cr)
    mm1 = i.outgoing()[0]
    assert r.receive(mm1) == []
    first = r.outgoing()
    assert r.receive(mm1) == [] and r.outgoing() == first


def test_quick_mode_rejects_unacceptable_selectors() -> None:
    ci, cr = configs()
    i, r = pair(replace(ci, local_ts=ipaddress.IPv4Network("10.9.0.0/16")), cr)
    ev_i, ev_r = pump(i, r)
    assert i.established and r.established and not r.children
    assert ev_r[-1] == ExchangeFailed(ev_r[-1].reason, Notify.INVALID_ID_INFORMATION)  # type: ignore[union-attr]
    assert ev_i[-1] == ExchangeFailed(
        "peer sent INVALID_ID_INFORMATION", Notify.INVALID_ID_INFORMATION
    )


def test_quick_mode_accepts_a_subset_of_the_configured_selectors() -> None:
    """IKEv1 has no narrowing: the responder takes IDci/IDcr inside its policy as proposed."""
    ci, cr = configs()
    host, half = ipaddress.IPv4Network("10.1.2.3/32"), ipaddress.IPv4Network("10.2.128.0/17")
    i, r = pair(replace(ci, local_ts=host, remote_ts=half), cr)
    ev_i, ev_r = pump(i, r)
    (c_i,), (c_r,) = r.children, i.children
    assert (c_i.remote_ts, c_i.local_ts) == (host, half) == (c_r.local_ts, c_r.remote_ts)
    assert not [e for e in ev_i + ev_r if isinstance(e, ExchangeFailed)]
    # ...but a proposal reaching beyond the policy is still refused (no narrowing in IKEv1).
    i, r = pair(replace(ci, local_ts=ipaddress.IPv4Network("10.0.0.0/8")), cr)
    _, ev_r = pump(i, r)
    assert not r.children and ev_r[-1].notify == Notify.INVALID_ID_INFORMATION  # type: ignore[union-attr]


def test_dpd_is_answered() -> None:
    ci, cr = configs()
    i, r = pair(ci, cr)
    pump(i, r)
    i.notify(Notify.R_U_THERE, (7).to_bytes(4, "big"))
    pump(i, r, 1)
    assert i.state is State.ESTABLISHED and r.state is State.ESTABLISHED


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m[:20],
        lambda m: m[:-1],
        lambda m: m[:27] + b"\x00" + m[28:] + b"\x00",
        lambda m: m[:28] + b"\x2e" + m[29:],
        lambda m: bytes(40),
        lambda m: m[:16] + b"\x63" + m[17:],
    ],
)
def test_garbage_never_raises(mutate: Callable[[bytes], bytes]) -> None:
    ci, cr = configs()
    i, r = pair(ci, cr)
    events = r.receive(mutate(i.outgoing()[0]))
    assert events and all(isinstance(e, ExchangeFailed) for e in events)
    i2, r2 = pair(ci, cr)
    pump(i2, r2)
    i2.initiate_child()
    qm1 = i2.outgoing()[0]
    assert all(isinstance(e, ExchangeFailed) for e in r2.receive(mutate(qm1)))
    assert r2.established  # a bad message after phase 1 only ends that exchange
    assert parse_message(qm1).header.exchange_type == Exchange.QUICK_MODE
