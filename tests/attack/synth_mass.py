"""Many synthetic captures from many emulated gateways (the mass-decryption tests and benchmark).

Each gateway is one 6.3.0r20-style PRNG behind the device's pre-generation
queues (:func:`synth.gateway_queues`, its own seed) at its own address; each
capture holds a few of its connections (IKEv2 PSK, or IKEv1 Main Mode PSK),
and between two captures the gateway serves ``gap`` unobserved connections,
so a capture's first nonce lies some hundred PRNG calls after the last one
seen.  Addresses are rewritten on the way into the pcap (NAT-T, all UDP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kleptolab.capture.pcapio import LINKTYPE_ETHERNET, PcapWriter
from kleptolab.device.queues import PrngQueues
from kleptolab.ike.dh import group_by_number

from .synth import CLIENT, GATEWAY, gateway_queues, ikev2_session, lab_trapdoor
from .synth_v1 import V1Case, ikev1_session

T0 = 1_700_000_000.0


class Readdressed:
    """A :class:`PcapWriter` stand-in that moves the synthetic peers to other addresses."""

    def __init__(self, writer: PcapWriter, gateway: str, client: str) -> None:
        self.writer = writer
        self.map = {GATEWAY: gateway, CLIENT: client}

    def write_udp(self, t: float, src: str, sport: int, dst: str, dport: int, data: bytes) -> None:
        self.writer.write_udp(t, self.map.get(src, src), sport, self.map.get(dst, dst), dport, data)

    def write_ip(self, t: float, packet: bytes) -> None:
        raise NotImplementedError("mass captures are all NAT-T (UDP); use nat_t=True")


@dataclass
class MassGateway:
    address: str
    queues: PrngQueues
    version: int  # 1 or 2
    sessions: int = 0
    inner: list[bytes] = field(default_factory=list)


def gateway_address(g: int) -> str:
    return f"10.{g // 200}.{g % 200}.1"


def _unobserved(gw: PrngQueues, connections: int) -> None:
    """Connections the tap did not see: each takes a nonce, an exponent and SPIs."""
    group = group_by_number(2)
    for _ in range(connections):
        gw.dh_private(group)
        gw.nonce()
        gw.random_bytes(8, "spi")
        gw.tick()


def mass_captures(
    folder: Path,
    gateways: int,
    captures: int,
    sessions: int = 3,
    *,
    gap: int = 20,
    packets: int = 2,
    payload: int = 0,
    label: str = "mass",
    mixed: bool = True,
) -> tuple[list[Path], list[MassGateway]]:
    """Write ``captures`` pcaps over ``gateways`` gateways (round robin, in time order).

    Gateway g speaks IKEv1 Main Mode PSK when ``mixed`` and g is odd, else IKEv2.
    Returns the capture paths (in time order) and the gateways (with the inner
    packets their tunnels carried, to compare with the plaintext).
    """
    folder.mkdir(parents=True, exist_ok=True)
    trapdoor = lab_trapdoor()
    gws = [
        MassGateway(
            gateway_address(g),
            gateway_queues(trapdoor.q, {2: 2}, seed_label=f"{label}-{g}"),
            1 if mixed and g % 2 else 2,
        )
        for g in range(gateways)
    ]
    paths = []
    for c in range(captures):
        gw = gws[c % gateways]
        if gw.sessions:
            _unobserved(gw.queues, gap)
        path = folder / f"{label}-{c:05d}.pcap"
        t = T0 + 60.0 * c
        with PcapWriter(path, LINKTYPE_ETHERNET) as raw:
            writer = Readdressed(raw, gw.address, f"10.250.{c % 200}.{c // 200 % 200 + 2}")
            for i in range(sessions):
                tag = (1000 * (c % gateways) + gw.sessions) % 65535 + 1  # ICMP ident, client seed
                if gw.version == 1:
                    sent = ikev1_session(writer, gw.queues, t + 2 * i, tag, V1Case(packets=packets))  # type: ignore[arg-type]
                else:
                    sent = ikev2_session(
                        writer,
                        gw.queues,
                        t + 2 * i,
                        tag,
                        packets=packets,  # type: ignore[arg-type]
                        payload_size=payload,
                    )
                gw.inner += sent.inner
                gw.sessions += 1
                gw.queues.tick()
        paths.append(path)
    return paths, gws


def bulk_capture(path: Path, mib: float, *, per_session: int = 2000, payload: int = 1300) -> tuple[int, int]:
    """One gateway, IKEv2 sessions each carrying ``per_session`` bulk ESP echoes each way, until the
    file holds about ``mib`` MiB.  Returns (sessions, inner packets sent)."""
    gw = gateway_queues(lab_trapdoor().q, {2: 2}, seed_label="bulk")
    sessions = inner = 0
    with PcapWriter(path, LINKTYPE_ETHERNET) as writer:
        while path.stat().st_size < mib * (1 << 20) or sessions == 0:
            sent = ikev2_session(writer, gw, T0 + 100.0 * sessions, sessions + 1, packets=per_session,
                                 payload_size=payload)
            sessions += 1
            inner += len(sent.inner)
            gw.tick()
    return sessions, inner
