"""In-memory lab for the decryptor's tests: a 6.3.0r20-style gateway PRNG with a lab trapdoor.

``lab_trapdoor(label)`` is deterministic (e derived from the label), so test
outcomes do not depend on luck with the BN_bn2bin quirk.  ``gateway_queues``
builds the firmware PRNG (:class:`ScreenOsPrng`) behind the device's own
pre-generation queues (:class:`kleptolab.device.queues.PrngQueues`).
"""

from __future__ import annotations

import hashlib

from kleptolab.device.firmware import q_for_profile
from kleptolab.device.profiles import profile_for
from kleptolab.device.queues import PrngQueues
from kleptolab.drbg import _ec
from kleptolab.drbg.curves import P256
from kleptolab.drbg.screenos import PrngGeneration, ScreenOsPrng
from kleptolab.drbg.trapdoor import Trapdoor

Point = tuple[int, int]


def _scalar(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (P256.n - 1) + 1


def lab_trapdoor(label: str = "attack-tests") -> Trapdoor:
    """A fixed lab trapdoor: Q = e*P, d = e^-1 mod n."""
    e = _scalar("trapdoor:" + label)
    return Trapdoor(P256, _ec.base_mult(P256, e), pow(e, -1, P256.n), e)


def foreign_q(label: str = "juniper-stand-in") -> Point:
    """A Q whose discrete log the tests never use (stands in for Juniper's Q)."""
    return _ec.base_mult(P256, _scalar("foreign:" + label))


def gateway_prng(q: Point | None, seed_label: str = "gw", generation: PrngGeneration = PrngGeneration.DUALEC_X931) -> ScreenOsPrng:
    """The firmware PRNG of an emulated gateway (6.1 when ``q`` is None)."""
    seed = _scalar("seed:" + seed_label)
    if q is None:
        return ScreenOsPrng(PrngGeneration.X931_ONLY, q=None, seed=seed, cycle_counter=lambda: 0)
    return ScreenOsPrng(generation, q=q, seed=seed, cycle_counter=lambda: 0)


def gateway_queues(
    q: Point | None, sizes: dict[int, int], seed_label: str = "gw", fill: bool = True
) -> PrngQueues:
    """The gateway's KeySource: PRNG + pre-generation queues, filled as at boot."""
    prng = gateway_prng(q, seed_label)
    queues = PrngQueues(
        prng,
        sizes,
        nonce_size=20 if q is None else 32,
        nonce_queue=q is not None,
        clock=lambda: 0.0,
    )
    if fill:
        queues.fill()
    return queues


def release_queues(version: str, trapdoor: Trapdoor, sizes: dict[int, int], seed_label: str = "rel") -> PrngQueues:
    """The KeySource of an emulated release: its PRNG design, its Q (Juniper's for 6.3.0r21 and
    6.2.0r14, the lab trapdoor's for the backdoored builds, none for 6.1) and its nonce size."""
    profile = profile_for(version)
    q = q_for_profile(profile, trapdoor.q)
    prng = ScreenOsPrng(profile.prng, q=q, seed=_scalar("seed:" + seed_label), cycle_counter=lambda: 0)
    queues = PrngQueues(prng, sizes, nonce_size=profile.nonce_size, nonce_queue=profile.has_dual_ec,
                        clock=lambda: 0.0)
    queues.fill()
    return queues


# --- A scripted IKEv2 exchange (IKE_SA_INIT + IKE_AUTH + ESP) written to a pcap -------------

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

from kleptolab import netpkt  # noqa: E402
from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter  # noqa: E402
from kleptolab.crypto.algorithms import Encr, Integ, Prf, encrypt  # noqa: E402
from kleptolab.ike.dh import group_by_number  # noqa: E402
from kleptolab.ike.v2.constants import ATTR_KEY_LENGTH, ExchangeType, TransformType  # noqa: E402
from kleptolab.ike.v2.keys import derive_child_keys, derive_ike_keys  # noqa: E402
from kleptolab.ike.v2.payloads import (  # noqa: E402
    IdiPayload,
    IdrPayload,
    Ikev2Message,
    KePayload,
    NoncePayload,
    build_message,
)
from kleptolab.ike.v2.proposals import Attribute, Proposal, SaPayload, Transform  # noqa: E402
from kleptolab.ike.v2.sk import SkKeys, protect  # noqa: E402
from kleptolab.ike.wire import FLAG_INITIATOR, FLAG_RESPONSE  # noqa: E402

CLIENT, GATEWAY = "192.0.2.2", "192.0.2.1"
INNER_CLIENT, INNER_SERVER = "203.0.113.1", "198.51.100.1"


def _proposal(protocol: int, spi: bytes, dh: int | None, ike: bool) -> Proposal:
    transforms = [Transform(TransformType.ENCR, 12, (Attribute(ATTR_KEY_LENGTH, 128),))]
    if ike:
        transforms.append(Transform(TransformType.PRF, 2))
    transforms.append(Transform(TransformType.INTEG, 2))
    if dh is not None:
        transforms.append(Transform(TransformType.DH, dh))
    return Proposal(1, protocol, spi, tuple(transforms))


def _esp(spi: bytes, seq: int, ekey: bytes, ikey: bytes, inner: bytes, iv: bytes) -> bytes:
    pad = (-(len(inner) + 2)) % 16
    plain = inner + bytes(range(1, pad + 1)) + bytes([pad, 4])
    body = spi + seq.to_bytes(4, "big") + iv + encrypt(Encr.AES_CBC, ekey, iv, plain)
    return body + Integ.HMAC_SHA1_96.compute(ikey, body)


@dataclass
class SynthSession:
    """What the client sent inside the tunnel, to compare with the decryptor's plaintext."""

    spi_i: bytes
    spi_r: bytes
    inner: list[bytes] = field(default_factory=list)


def ikev2_session(
    writer: PcapWriter, gw: PrngQueues, t: float, tag: int, *, nat_t: bool = True, packets: int = 2,
    rekey_pfs: bool = False, payload_size: int = 0,
) -> SynthSession:
    """One IKEv2 PSK handshake (AES-128/SHA1, group 2) and ``packets`` ESP echoes each way.

    ``rekey_pfs`` adds a CREATE_CHILD_SA exchange with a group-2 KE (PFS) and
    ``packets`` more echoes each way over the new child SA.  ``payload_size``
    pads the first SA's echo data (bulk traffic for the benchmark).
    """
    group = group_by_number(2)
    rng = hashlib.shake_256(f"client-{tag}".encode()).digest(200)
    spi_i, ni, x_i = rng[:8], rng[8:40], int.from_bytes(rng[40:72], "big") % (group.modulus - 3) + 2
    ke_i = group.public_value(x_i)
    x_r = gw.dh_private(group)  # payload order: KE before Nonce (KeySource contract)
    nr = gw.nonce()
    spi_r = gw.random_bytes(8, "spi")
    ke_r = group.public_value(x_r)
    req = Ikev2Message(spi_i, b"\0" * 8, ExchangeType.IKE_SA_INIT, FLAG_INITIATOR, 0, (
        SaPayload((_proposal(1, b"", 2, True),)), KePayload(2, ke_i), NoncePayload(ni)))
    resp = Ikev2Message(spi_i, spi_r, ExchangeType.IKE_SA_INIT, FLAG_RESPONSE, 0, (
        SaPayload((_proposal(1, b"", 2, True),)), KePayload(2, ke_r), NoncePayload(nr)))
    send = _sender(writer, nat_t)
    send(t, CLIENT, GATEWAY, build_message(req), False)
    send(t + 0.01, GATEWAY, CLIENT, build_message(resp), False)
    shared = group.shared_secret(x_i, ke_r)
    k = derive_ike_keys(Prf.HMAC_SHA1, Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, ni, nr, shared, spi_i, spi_r)
    sk = SkKeys(Encr.AES_CBC, Integ.HMAC_SHA1_96, k.sk_ei, k.sk_er, k.sk_ai, k.sk_ar)
    child_i, child_r = rng[72:76], gw.random_bytes(4, "spi")
    auth_req = Ikev2Message(spi_i, spi_r, ExchangeType.IKE_AUTH, FLAG_INITIATOR, 1, (
        IdiPayload(2, b"client.example"), SaPayload((_proposal(3, child_i, None, False),))))
    auth_resp = Ikev2Message(spi_i, spi_r, ExchangeType.IKE_AUTH, FLAG_RESPONSE, 1, (
        IdrPayload(2, b"gw.example"), SaPayload((_proposal(3, child_r, None, False),))))
    send(t + 0.02, CLIENT, GATEWAY, protect(auth_req, sk, rng[76:92]), True)
    send(t + 0.03, GATEWAY, CLIENT, protect(auth_resp, sk, gw.random_bytes(16, "iv")), True)
    km = derive_child_keys(Prf.HMAC_SHA1, k.sk_d, Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, ni, nr)
    session = SynthSession(spi_i, spi_r)
    for seq in range(1, packets + 1):
        data = (b"kleptolab %d " % tag).ljust(payload_size, b".")
        ping = netpkt.build_ipv4_icmp_echo(INNER_CLIENT, INNER_SERVER, tag, seq, data)
        pong = netpkt.echo_reply_for(ping)
        iv = hashlib.sha256(b"%d-%d" % (tag, seq)).digest()[:16]
        send(t + 0.1 * seq, CLIENT, GATEWAY, _esp(child_r, seq, km.encr_i, km.integ_i, ping, iv), True, esp=True)
        send(t + 0.1 * seq + 0.01, GATEWAY, CLIENT, _esp(child_i, seq, km.encr_r, km.integ_r, pong, iv), True,
             esp=True)
        session.inner += [ping, pong]
    if rekey_pfs:
        _create_child_sa(send, gw, t + 0.5, tag, rng, spi_i, spi_r, sk, k.sk_d, packets, session)
    return session


def _create_child_sa(  # type: ignore[no-untyped-def]
    send, gw: PrngQueues, t: float, tag: int, rng: bytes, spi_i: bytes, spi_r: bytes, sk: SkKeys,
    sk_d: bytes, packets: int, session: SynthSession,
) -> None:
    group = group_by_number(2)
    ni, x_i, child_i = rng[100:132], int.from_bytes(rng[132:152], "big"), rng[152:156]
    req = Ikev2Message(spi_i, spi_r, ExchangeType.CREATE_CHILD_SA, FLAG_INITIATOR, 2, (
        SaPayload((_proposal(3, child_i, 2, False),)), NoncePayload(ni), KePayload(2, group.public_value(x_i))))
    x_r = gw.dh_private(group)
    nr = gw.nonce()
    child_r = gw.random_bytes(4, "spi")
    resp = Ikev2Message(spi_i, spi_r, ExchangeType.CREATE_CHILD_SA, FLAG_RESPONSE, 2, (
        SaPayload((_proposal(3, child_r, 2, False),)), NoncePayload(nr), KePayload(2, group.public_value(x_r))))
    send(t, CLIENT, GATEWAY, protect(req, sk, rng[156:172]), True)
    send(t + 0.01, GATEWAY, CLIENT, protect(resp, sk, gw.random_bytes(16, "iv")), True)
    shared = group.shared_secret(x_r, group.public_value(x_i))
    km = derive_child_keys(Prf.HMAC_SHA1, sk_d, Encr.AES_CBC, 16, Integ.HMAC_SHA1_96, ni, nr, shared)
    for seq in range(1, packets + 1):
        ping = netpkt.build_ipv4_icmp_echo(INNER_CLIENT, INNER_SERVER, tag, 100 + seq, b"rekeyed %d" % tag)
        pong = netpkt.echo_reply_for(ping)
        iv = hashlib.sha256(b"rekey-%d-%d" % (tag, seq)).digest()[:16]
        send(t + 0.1 * seq, CLIENT, GATEWAY, _esp(child_r, seq, km.encr_i, km.integ_i, ping, iv), True, esp=True)
        send(t + 0.1 * seq + 0.01, GATEWAY, CLIENT, _esp(child_i, seq, km.encr_r, km.integ_r, pong, iv), True,
             esp=True)
        session.inner += [ping, pong]


def _sender(writer: PcapWriter, nat_t: bool):  # type: ignore[no-untyped-def]
    def send(t: float, src: str, dst: str, data: bytes, floated: bool, esp: bool = False) -> None:
        if esp and not nat_t:
            writer.write_ip(t, netpkt.build_ipv4(src, dst, netpkt.PROTO_ESP, data))
        elif floated and nat_t:
            writer.write_udp(t, src, 4500, dst, 4500, data if esp else b"\0\0\0\0" + data)
        else:
            writer.write_udp(t, src, 500, dst, 500, data)

    return send


def ikev2_capture(
    path: Path, gw: PrngQueues, sessions: int, variants: list[dict[str, bool]] | None = None, **kw: object
) -> list[SynthSession]:
    """Write ``sessions`` IKEv2 handshakes (one second apart, queues ticking) to ``path``.

    ``variants[i]`` (optional) overrides the keyword arguments of session ``i``.
    """
    out = []
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        for i in range(sessions):
            extra = {**kw, **(variants[i] if variants and i < len(variants) else {})}
            out.append(ikev2_session(writer, gw, 1_700_000_000 + i, i + 1, **extra))  # type: ignore[arg-type]
            gw.tick()
    return out


