"""A 6.3.0r20 gateway's IKE nonces carry the 30+2 Dual EC structure: the lab trapdoor breaks them.

From the responder nonce seen on the wire (Main Mode message 4), the
Shumow-Ferguson recovery yields the Dual EC state; stepping the generator
forward predicts the responder's DH private value, whose public value must
equal the KE payload sent in the same message.
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from kleptolab.device.client import VpnClient
from kleptolab.device.profiles import profile_for
from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.device.queues import PrngQueues, queue_sizes
from kleptolab.device.vpn import VpnService
from kleptolab.device.vpn_core import Datagram
from kleptolab.drbg import _ec
from kleptolab.drbg.curves import P256
from kleptolab.drbg.dualec import dualec_blocks
from kleptolab.drbg.recover import SCREENOS_30_2, predict_output, recover_states
from kleptolab.drbg.screenos import ScreenOsPrng
from kleptolab.drbg.trapdoor import Trapdoor
from kleptolab.ike.common import PeerConfig
from kleptolab.ike.dh import DhGroup, group_by_number
from kleptolab.ike.wire import IkeHeader, WireError, iter_payloads

pytestmark = [pytest.mark.network, pytest.mark.slow]

KE_V1, NONCE_V1 = 4, 10
LAB_E = 0x6B6C6570746F6C6162206C6162207472617064F06F72206E6F7420666F722075
"""A fixed lab trapdoor scalar (Q = e*P) so the run is reproducible."""


def lab_trapdoor() -> Trapdoor:
    q = _ec.base_mult(P256, LAB_E)
    return Trapdoor(P256, q, pow(LAB_E, -1, P256.n), LAB_E)


def responder_ke_nonce(message: bytes) -> tuple[bytes, bytes] | None:
    """(KE data, nonce) of an IKEv1 Main Mode KE+Nonce message in the clear, else None."""
    try:
        header = IkeHeader.parse(message)
        if header.major_version != 1 or header.exchange_type != 2 or header.flags & 1:
            return None
        payloads = dict(iter_payloads(header.next_payload, message[28 : header.length]))
    except WireError:
        return None
    if KE_V1 not in payloads or NONCE_V1 not in payloads:
        return None
    return payloads[KE_V1], payloads[NONCE_V1]


def predict_dh(
    nonce: bytes, ke: bytes, trapdoor: Trapdoor, group: DhGroup, steps: int = 64
) -> int | None:
    """Recover the state from ``nonce``; return how many PRNG calls later the KE's private was drawn."""
    return dh_step(
        recover_states(nonce, trapdoor, SCREENOS_30_2, workers=2), ke, trapdoor, group, steps
    )


def dh_step(
    states: list[int], ke: bytes, trapdoor: Trapdoor, group: DhGroup, steps: int = 64
) -> int | None:
    """Walk each candidate state forward; the step whose output makes ``ke`` (first 20 bytes: MODP exponent)."""
    for state in states:
        for step in range(1, steps + 1):
            output = predict_output(state, trapdoor)
            private = group.private_from_prng(lambda out=output: out, 20)
            if group.public_value(private) == ke:
                return step
            state = dualec_blocks(state, trapdoor.q, trapdoor.curve)[2]
    return None


class WireClient(VpnClient):
    """A client that keeps every datagram it received."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wire: list[bytes] = []

    def _received(self, dgram: Datagram) -> None:
        self.wire.append(dgram.data[4:] if dgram.data[:4] == bytes(4) else dgram.data)
        super()._received(dgram)


def test_responder_nonce_reveals_the_next_dh_private() -> None:
    trapdoor = lab_trapdoor()
    profile = profile_for("6.3.0r20")
    assert profile.vpn_backdoor and profile.nonce_size == 32
    peer = PeerConfig(
        "branch",
        1,
        "gw.example",
        "client.example",
        (parse_ike_proposal("pre-g2-3des-sha"),),
        (parse_child_proposal("g2-esp-3des-sha"),),
        ipaddress.IPv4Network("198.51.100.0/24"),
        ipaddress.IPv4Network("203.0.113.1/32"),
        psk=b"not-a-real-secret",
    )
    prng = ScreenOsPrng(profile.prng, q=trapdoor.q, seed=0x1234_5678_9ABC_DEF0_1122_3344)
    queues = PrngQueues(prng, queue_sizes([peer]), nonce_size=profile.nonce_size)
    queues.fill()

    async def scenario() -> list[bytes]:
        service = VpnService([peer], queues, host="127.0.0.1", ike_port=0, natt_port=0)
        await service.start()
        ike, natt = service.bound
        client = WireClient(
            "127.0.0.1", psk=b"not-a-real-secret", ike_port=ike[1], natt_port=natt[1]
        )
        try:
            await client.connect(timeout=10)
            assert await client.ping("198.51.100.1") != [None]
        finally:
            await client.close()
            await service.stop()
        return client.wire

    wire = asyncio.run(scenario())
    found = [kn for kn in map(responder_ke_nonce, wire) if kn is not None]
    assert len(found) == 1, "exactly one Main Mode message 4 on the wire"
    ke, nonce = found[0]
    assert len(nonce) == 32  # 30 bytes of one Dual EC block + 2 of the next
    states = recover_states(nonce, trapdoor, SCREENOS_30_2, workers=2)
    assert states, "no Dual EC state explains the responder nonce"
    step = dh_step(states, ke, trapdoor, group_by_number(2))
    assert step is not None, "the recovered Dual EC state does not predict the responder's DH value"
    other_ke = group_by_number(2).public_value(12345)
    assert dh_step(states, other_ke, trapdoor, group_by_number(2)) is None  # the check can fail
    # the queues say which PRNG calls made this nonce and this DH value: the step must match
    (nonce_taken,) = [t for t in queues.taken if t.kind == "nonce" and t.value == nonce]
    (dh_taken,) = [
        t
        for t in queues.taken
        if t.kind == "dh:2" and group_by_number(2).public_value(t.value) == ke
    ]  # type: ignore[arg-type]
    assert step == dh_taken.draws[0] - nonce_taken.draws[0]
