"""What a passive observer reads in clear from a capture: each responder's nonce and KE.

The demo uses this on the tap's pcap: the attacker counts the IKE SAs it is
about to attack, and the report matches the gateway's PRNG draw log against
the values seen on the wire (which draw became which nonce and which key).
IKEv1 (Main/Aggressive Mode) and IKEv2 (IKE_SA_INIT) are both read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kleptolab.capture import IkePacket, classify_all, group_ike_sas, read_capture
from kleptolab.ike.wire import WireError

__all__ = ["ResponderValues", "responder_values"]


@dataclass(frozen=True)
class ResponderValues:
    """One IKE SA's responder nonce and KE public value, as seen on the wire."""

    session: str  # "SPIi:SPIr" in hex, as in the decryptor's report
    version: int
    frame: int
    nonce: bytes
    ke: bytes


def _v1_values(group: list[IkePacket]) -> tuple[bytes, bytes, int] | None:
    from kleptolab.ike.v1.message import parse_message
    from kleptolab.ike.v1.payloads import KePayload, NoncePayload

    first = group[0].datagram
    initiator = (first.src, first.sport)
    for p in group:
        if (p.datagram.src, p.datagram.sport) == initiator:
            continue
        try:
            message = parse_message(p.message)
        except WireError:
            continue
        if message.chain is None:
            continue
        ke, nonce = message.chain.first(KePayload), message.chain.first(NoncePayload)
        if ke is not None and nonce is not None:
            return nonce.data, ke.data, p.datagram.index
    return None


def _v2_values(sid: str, group: list[IkePacket]) -> tuple[bytes, bytes, int] | None:
    from kleptolab.attack.ikev2_attack import AttackFailure, parse_ikev2

    try:
        h = parse_ikev2(sid, group)
    except AttackFailure:
        return None
    return h.nr, h.ke_r, h.nr_order


def responder_values(pcap: Path) -> list[ResponderValues]:
    """Every IKE SA in ``pcap`` whose responder nonce and KE are in clear, in capture order."""
    capture = read_capture(pcap)
    found: list[ResponderValues] = []
    for (spi_i, spi_r), group in group_ike_sas(classify_all(capture.datagrams)).items():
        sid = f"{spi_i.hex()}:{spi_r.hex()}"
        version = group[0].version
        values = _v1_values(group) if version == 1 else _v2_values(sid, group)
        if values is not None:
            nonce, ke, frame = values
            found.append(ResponderValues(sid, version, frame, nonce, ke))
    return found
