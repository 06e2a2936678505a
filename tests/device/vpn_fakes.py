"""Test doubles for the VPN core: a toy two-message IKE engine and helpers to build IKE headers."""

from __future__ import annotations

import ipaddress

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.device.admission import IKEV2_NONCE, IKEV2_NOTIFY, NOTIFY_COOKIE
from kleptolab.ike.common import (
    ChildSaEstablished,
    ChildSaKeys,
    IkeEvent,
    IkeProposal,
    IkeSaEstablished,
    PeerConfig,
)
from kleptolab.ike.wire import (
    FLAG_INITIATOR,
    FLAG_RESPONSE,
    IkeHeader,
    RawPayload,
    build_payload_chain,
)

Address = tuple[str, int]
PROPOSAL = IkeProposal(Encr.TDES_CBC, 24, Integ.HMAC_SHA1_96, Prf.HMAC_SHA1, 2)


def ike_message(
    spi_i: bytes,
    spi_r: bytes = bytes(8),
    *,
    version: int = 1,
    exchange: int = 2,
    flags: int = 0,
    message_id: int = 0,
    payloads: list[RawPayload] | None = None,
) -> bytes:
    """A well-formed IKE header plus payload chain."""
    first, chain = build_payload_chain(payloads or [])
    header = IkeHeader(
        spi_i, spi_r, first, version, 0, exchange, flags, message_id, 28 + len(chain)
    )
    return header.build() + chain


def sa_init(spi_i: bytes, nonce: bytes = b"n" * 32, cookie: bytes | None = None) -> bytes:
    """An IKEv2 IKE_SA_INIT request carrying a nonce (and optionally a COOKIE notify first)."""
    payloads = [RawPayload(IKEV2_NONCE, nonce)]
    if cookie is not None:
        payloads.insert(
            0, RawPayload(IKEV2_NOTIFY, b"\x00\x00" + NOTIFY_COOKIE.to_bytes(2, "big") + cookie)
        )
    return ike_message(spi_i, version=2, exchange=34, flags=FLAG_INITIATOR, payloads=payloads)


def child_keys(spi_in: bytes, spi_out: bytes, *, initiator: bool) -> ChildSaKeys:
    """Deterministic 3DES/SHA1 child keys, mirrored between the two sides."""
    k_a, k_b = b"A" * 24, b"B" * 24
    i_a, i_b = b"a" * 20, b"b" * 20
    local = ipaddress.IPv4Network("203.0.113.1/32")
    protected = ipaddress.IPv4Network("198.51.100.0/24")
    return ChildSaKeys(
        Encr.TDES_CBC,
        24,
        Integ.HMAC_SHA1_96,
        spi_in,
        spi_out,
        k_a if initiator else k_b,
        k_b if initiator else k_a,
        i_a if initiator else i_b,
        i_b if initiator else i_a,
        local if initiator else protected,
        protected if initiator else local,
        udp_encapsulated=True,
    )


class ToyEngine:
    """Responder: message 0 → reply with SPIr; message 1 → IKE SA + child SA established."""

    def __init__(self, remote: Address, local: Address) -> None:
        self.remote = remote
        self.local = local
        self._out: list[bytes] = []
        self.seen: list[bytes] = []

    def receive(self, data: bytes) -> list[IkeEvent]:
        self.seen.append(data)
        header = IkeHeader.parse(data)
        if header.message_id == 0:
            self._out.append(
                ike_message(
                    header.spi_i,
                    b"R" * 8,
                    version=header.major_version,
                    exchange=header.exchange_type,
                    flags=FLAG_RESPONSE,
                )
            )
            return []
        if header.message_id == 0xBAD:
            raise RuntimeError("engine bug")
        child = child_keys(b"\x00\x00\x10\x01", b"\x00\x00\x20\x02", initiator=False)
        return [
            IkeSaEstablished(
                header.spi_i, b"R" * 8, header.major_version, "client.example", PROPOSAL
            ),
            ChildSaEstablished(header.spi_i, b"R" * 8, child),
        ]

    def outgoing(self) -> list[bytes]:
        out, self._out = self._out, []
        return out


class ToyEngines:
    """An :class:`EngineFactory` of :class:`ToyEngine` responders."""

    def __init__(self) -> None:
        self.made: list[ToyEngine] = []

    def responder(self, version: int, local: Address, remote: Address) -> ToyEngine:
        engine = ToyEngine(remote, local)
        self.made.append(engine)
        return engine

    def initiator(self, config: PeerConfig, local: Address, remote: Address) -> ToyEngine:
        raise NotImplementedError("the toy factory only makes responders")


def config() -> PeerConfig:
    from kleptolab.device.proposals import parse_child_proposal

    return PeerConfig(
        name="branch",
        version=1,
        local_id="gw.example",
        remote_id="client.example",
        ike_proposals=(PROPOSAL,),
        child_proposals=(parse_child_proposal("g2-esp-3des-sha"),),
        local_ts=ipaddress.IPv4Network("198.51.100.0/24"),
        remote_ts=ipaddress.IPv4Network("203.0.113.1/32"),
        psk=b"not-a-real-secret",
    )
