"""IKE SA rekeying in memory (RFC 7296 §2.18): keys, children moving, several rekeys, collisions."""

from __future__ import annotations

import pytest

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.common import (
    ChildProposal,
    ChildSaEstablished,
    ExchangeFailed,
    IkeEvent,
    IkeProposal,
    SaDeleted,
)
from kleptolab.ike.v2 import Ikev2State, Ikev2StateError
from kleptolab.ike.v2.constants import NotifyType
from kleptolab.ike.v2.keys import ike_keys_from_skeyseed, rekeyed_skeyseed
from kleptolab.ike.v2.rekey import IkeSaRekeyed, Ikev2RekeyingSession
from kleptolab.ike.wire import IkeHeader
from tests.ike.v2.test_engine import configs, of, pair

IKE = IkeProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA2_256_128, Prf.HMAC_SHA2_256, 14)
CHILD = ChildProposal(Encr.AES_CBC, 16, Integ.HMAC_SHA1_96)


class Side:
    """One endpoint's IKE SAs by initiator SPI, as a gateway routes them."""

    def __init__(self, first: Ikev2RekeyingSession) -> None:
        self.sas: dict[bytes, Ikev2RekeyingSession] = {first.spi_i: first}
        self.first = first
        self.events: list[IkeEvent] = []

    def outgoing(self) -> list[bytes]:
        return [m for sa in list(self.sas.values()) for m in sa.outgoing()]

    def receive(self, data: bytes) -> None:
        spi_i = IkeHeader.parse(data).spi_i
        sa = self.sas.get(spi_i) or self.first
        events = sa.receive(data)
        for e in events:
            if isinstance(e, IkeSaRekeyed):
                self.sas[e.spi_i] = e.session
        self.events += events

    def live(self) -> list[Ikev2RekeyingSession]:
        return [s for s in self.sas.values() if s.state is Ikev2State.ESTABLISHED]


def run(a: Side, b: Side, drop: set[int] | None = None) -> None:
    """Shuttle until quiet; ``drop`` holds indexes (in send order) of messages lost on the way."""
    sent = 0
    for _ in range(40):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for msg in src.outgoing():
                moved = True
                sent += 1
                if drop is None or sent not in drop:
                    dst.receive(msg)
        if not moved:
            return
    raise AssertionError("endpoints did not go quiet")


def established() -> tuple[Side, Side]:
    ci, cr = configs(IKE, CHILD)
    i, r = pair(ci, cr)
    a, b = Side(i), Side(r)
    run(a, b)
    assert i.state is r.state is Ikev2State.ESTABLISHED and len(i.child_sas) == 1
    a.events.clear()
    b.events.clear()
    return a, b


def test_rekey_by_the_initiator_moves_children_and_deletes_the_old_sa() -> None:
    a, b = established()
    old_i, old_r = a.first, b.first
    old_sk_d = old_i.ike_keys.sk_d if old_i.ike_keys else b""
    child_spis = set(old_i.child_sas)
    old_i.rekey_ike_sa()
    run(a, b)
    (new_a,), (new_b,) = of(a.events, IkeSaRekeyed), of(b.events, IkeSaRekeyed)
    assert isinstance(new_a, IkeSaRekeyed) and isinstance(new_b, IkeSaRekeyed)
    assert new_a.keys == new_b.keys and (new_a.spi_i, new_a.spi_r) == (new_b.spi_i, new_b.spi_r)
    assert (new_a.old_spi_i, new_a.old_spi_r) == (old_i.spi_i, old_i.spi_r)
    assert new_a.moves_children and new_b.moves_children
    # SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), then prf+ as in §2.14, independently
    k = new_a.keys
    seed = rekeyed_skeyseed(Prf.HMAC_SHA2_256, old_sk_d, k["g^ir"], k["Ni"], k["Nr"])
    again = ike_keys_from_skeyseed(
        Prf.HMAC_SHA2_256, seed, IKE.encr, 16, IKE.integ, k["Ni"], k["Nr"], new_a.spi_i, new_a.spi_r
    )
    assert again.as_dict() == {n: v for n, v in k.items() if n.startswith("SK")}
    assert old_i.state is old_r.state is Ikev2State.DELETED
    assert (
        of(a.events, SaDeleted) == of(b.events, SaDeleted) == [SaDeleted(old_i.spi_i, old_i.spi_r)]
    )
    ni, nr = new_a.session, new_b.session
    assert set(ni.child_sas) == child_spis and len(nr.child_sas) == 1 and not old_i.child_sas
    # the new SA works: a PFS-less child, then it is rekeyed again by the other side
    ni.create_child_sa()
    run(a, b)
    assert len(ni.child_sas) == len(nr.child_sas) == 2
    nr.rekey_ike_sa()
    a.events.clear()
    b.events.clear()
    run(a, b)
    (third,) = of(b.events, IkeSaRekeyed)
    assert isinstance(third, IkeSaRekeyed) and len(third.session.child_sas) == 2
    assert third.session._original_initiator and not b.first.dropped and not a.first.dropped
    assert ni.state is nr.state is Ikev2State.DELETED


def test_responder_draw_order_for_a_rekey() -> None:
    """New SPIr, DH private, nonce, then the IV — like an IKE_SA_INIT responder."""
    a, b = established()
    calls: list[str] = []
    keys = b.first._keys
    real = (keys.random_bytes, keys.dh_private, keys.nonce)

    def spy(name: str, fn: object) -> object:
        def wrapped(*args: object) -> object:
            calls.append(name)
            return fn(*args)  # type: ignore[operator]

        return wrapped

    keys.random_bytes, keys.dh_private, keys.nonce = (  # type: ignore[method-assign]
        spy("random", real[0]),
        spy("dh", real[1]),
        spy("nonce", real[2]),
    )
    a.first.rekey_ike_sa()
    for msg in a.outgoing():
        b.receive(msg)
    assert calls == ["random", "dh", "nonce", "random"]


def test_simultaneous_rekey_keeps_one_new_sa() -> None:
    a, b = established()
    a.first.rekey_ike_sa()
    b.first.rekey_ike_sa()
    run(a, b)
    live_a, live_b = a.live(), b.live()
    assert len(live_a) == len(live_b) == 1
    (sa_a,), (sa_b,) = live_a, live_b
    assert (sa_a.spi_i, sa_a.spi_r) == (sa_b.spi_i, sa_b.spi_r) and sa_a.sk_keys == sa_b.sk_keys
    assert len(sa_a.child_sas) == len(sa_b.child_sas) == 1
    assert a.first.state is b.first.state is Ikev2State.DELETED
    # the survivor is the SA whose exchange did not hold the lowest nonce
    redundant = [e for e in a.events + b.events if isinstance(e, IkeSaRekeyed) and e.redundant]
    assert len(redundant) == 1
    lost = redundant[0]
    assert min(lost.keys["Ni"], lost.keys["Nr"]) < min(sa_a._ni, sa_a._nr)
    assert not of(a.events + b.events, ExchangeFailed)
    sa_a.create_child_sa()
    run(a, b)
    assert len(of(a.events, ChildSaEstablished)) == 1


def test_retransmitted_delete_is_answered_after_the_sa_is_gone() -> None:
    a, b = established()
    old_r = b.first
    a.first.rekey_ike_sa()
    # lose the gateway's answer to the Delete of the old SA (4th message: req, resp, delete, resp)
    run(a, b, drop={4})
    assert old_r.state is Ikev2State.DELETED and a.first.state is Ikev2State.ESTABLISHED
    answers: list[bytes] = []
    for _ in range(3):
        assert a.first.retransmit()
        (request,) = a.first.outgoing()
        old_r.receive(request)
        answers += old_r.outgoing()
    assert len(answers) == 3 and len(set(answers)) == 1
    a.first.receive(answers[0])
    assert a.first.state is Ikev2State.DELETED


def test_rekey_needs_an_idle_established_sa() -> None:
    a, b = established()
    a.first.create_child_sa()
    with pytest.raises(Ikev2StateError, match="outstanding"):
        a.first.rekey_ike_sa()
    run(a, b)
    a.first.rekey_ike_sa()
    run(a, b)
    assert a.first.state is Ikev2State.DELETED
    with pytest.raises(Ikev2StateError):
        a.first.rekey_ike_sa()


def test_child_request_on_a_rekeyed_sa_gets_temporary_failure() -> None:
    a, b = established()
    old_i, old_r = a.first, b.first
    old_i.rekey_ike_sa()
    for msg in a.outgoing():  # the rekey request only: the responder has moved on, no Delete yet
        b.receive(msg)
    b.outgoing()
    events = old_r.receive(_child_request(old_i))
    assert [e.notify for e in events if isinstance(e, ExchangeFailed)] == [
        NotifyType.TEMPORARY_FAILURE
    ]


def _child_request(initiator: Ikev2RekeyingSession) -> bytes:
    """A CREATE_CHILD_SA request on ``initiator``'s SA, sent as if its rekey had not happened."""
    initiator._pending = None
    initiator.create_child_sa()
    (request,) = initiator.outgoing()
    return request
