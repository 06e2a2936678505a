"""The lab's VPN initiator: connect to a gateway, send inner UDP and pings, read the replies.

:class:`VpnClient` runs a :class:`~kleptolab.device.vpn_core.VpnCore` with one
initiator configuration over two UDP sockets (the 500 and 4500 roles, on
ephemeral local ports).  Every inner packet it sends is kept in
:attr:`VpnClient.sent` for the demo's side-by-side comparison with what the
passive decryptor recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import time
from dataclasses import dataclass

from kleptolab.device.pki import RsaCredentials, certificate_der, check_credentials, private_key_pem
from kleptolab.device.proposals import parse_child_proposal, parse_ike_proposal
from kleptolab.device.vpn_core import (
    IKE_PORT,
    NATT_PORT,
    Address,
    Datagram,
    Dropped,
    IkeEventSeen,
    InnerPacket,
    MemoryLog,
    TunnelUp,
    VpnCore,
    VpnEvent,
)
from kleptolab.ike.common import (
    AuthMethod,
    ChildSaKeys,
    ExchangeFailed,
    KeySource,
    PeerConfig,
    SimpleKeySource,
)
from kleptolab.ike.v2.rekey import IkeSaRekeyed
from kleptolab.netpkt import (
    PROTO_ICMP,
    PROTO_UDP,
    build_ip_udp,
    build_ipv4_icmp_echo,
    parse_icmp_echo,
    parse_ipv4,
    parse_udp,
)

CONFIG_NAME = "client"


@dataclass(frozen=True)
class SentRecord:
    """One inner packet the client sent: ``kind`` is ``udp`` or ``icmp``."""

    kind: str
    src: str
    dst: str
    payload: bytes
    packet: bytes
    when: float


def _rsa_credentials(
    psk: bytes | None,
    key: bytes | None,
    cert: bytes | None,
    ca: bytes | None,
    local_id: str,
) -> RsaCredentials | None:
    if key is None and cert is None and ca is None:
        if psk is None:
            raise ValueError("give psk, or private_key, certificate and trusted_ca")
        return None
    if psk is not None:
        raise ValueError("give psk or RSA credentials, not both")
    if key is None or cert is None or ca is None:
        raise ValueError("RSA signatures need private_key, certificate and trusted_ca")
    creds = RsaCredentials(
        private_key_pem(key), certificate_der(cert), certificate_der(ca, "trusted CA")
    )
    check_credentials(creds.key_pem, creds.cert_der, local_id, "client credentials")
    return creds


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self, client: VpnClient, role: int) -> None:
        self._client = client
        self._role = role

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._client._received(Datagram(data, (str(addr[0]), int(addr[1])), self._role))


class VpnClient:
    """An IKEv1 (Main/Aggressive) or IKEv2 initiator with an ESP tunnel to one gateway.

    It authenticates with ``psk`` or with RSA signatures (``private_key``,
    ``certificate`` naming ``local_id``, and the ``trusted_ca`` that issued the
    gateway's certificate; PEM or DER bytes).  ``proposal`` defaults to
    ``pre-g2-3des-sha`` or ``rsa-g2-3des-sha`` accordingly.  Inner packets
    come from ``source`` (default: the first address of ``local_ts``).
    ``ValueError`` for inconsistent arguments.
    """

    def __init__(
        self,
        server: str,
        *,
        psk: bytes | None = None,
        ike_port: int = IKE_PORT,
        natt_port: int = NATT_PORT,
        version: int = 1,
        aggressive: bool = False,
        proposal: str | None = None,
        esp_proposal: str = "g2-esp-3des-sha",
        local_id: str = "client.example",
        remote_id: str = "gw.example",
        local_ts: str = "203.0.113.1/32",
        remote_ts: str = "198.51.100.0/24",
        keys: KeySource | None = None,
        bind_host: str = "0.0.0.0",
        private_key: bytes | None = None,
        certificate: bytes | None = None,
        trusted_ca: bytes | None = None,
        source: str | None = None,
    ) -> None:
        if version not in (1, 2):
            raise ValueError(f"IKE version must be 1 or 2, got {version}")
        rsa = _rsa_credentials(psk, private_key, certificate, trusted_ca, local_id)
        ike = parse_ike_proposal(proposal or ("rsa-g2-3des-sha" if rsa else "pre-g2-3des-sha"))
        if (ike.auth is AuthMethod.RSA_SIG) != (rsa is not None):
            raise ValueError(
                f"proposal {proposal!r} does not fit the credentials: 'pre-...' proposals take a "
                "psk, 'rsa-...' proposals a private key, certificate and trusted CA"
            )
        self.config = PeerConfig(
            name=CONFIG_NAME,
            version=version,
            local_id=local_id,
            remote_id=remote_id,
            ike_proposals=(ike,),
            child_proposals=(parse_child_proposal(esp_proposal),),
            local_ts=ipaddress.IPv4Network(local_ts),
            remote_ts=ipaddress.IPv4Network(remote_ts),
            psk=psk,
            aggressive=aggressive,
            rsa_key_pem=rsa.key_pem if rsa else None,
            certificate_der=rsa.cert_der if rsa else None,
            trusted_ca_der=rsa.ca_der if rsa else None,
        )
        self.server: Address = (server, ike_port)
        self.natt_port = natt_port
        self.source = source or str(self.config.local_ts.network_address)
        if ipaddress.IPv4Address(self.source) not in self.config.local_ts:
            raise ValueError(f"source {self.source} is outside local_ts {self.config.local_ts}")
        self.log = MemoryLog()
        self.core = VpnCore(
            [self.config], keys or SimpleKeySource(os.urandom), log=self.log, local=(bind_host, 0)
        )
        self.sent: list[SentRecord] = []
        self.child: ChildSaKeys | None = None
        self.replies = 0  # datagrams received from the gateway (says why a connect timed out)
        self._ike_spi: bytes | None = None
        self._bind_host = bind_host
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._up: asyncio.Future[ChildSaKeys] | None = None
        self._rekeyed: asyncio.Future[bytes] | None = None
        self._waiters: dict[tuple[object, ...], asyncio.Future[bytes]] = {}
        self._next_port = 40000 + int.from_bytes(os.urandom(2), "big") % 20000
        self._ping_id = int.from_bytes(os.urandom(2), "big")

    async def connect(self, timeout: float = 10.0) -> ChildSaKeys:
        """Open the sockets, run the IKE exchanges and return the child SA keys."""
        loop = asyncio.get_running_loop()
        for role in (IKE_PORT, NATT_PORT):
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_ClientProtocol, self, role), local_addr=(self._bind_host, 0)
            )
            self._transports[role] = transport
        name = self._transports[IKE_PORT].get_extra_info("sockname")
        self.core.local = (str(name[0]), int(name[1]))
        self._up = loop.create_future()
        self._ike_spi = self.core.initiate(CONFIG_NAME, self.server, self.natt_port)
        self._flush()
        try:
            self.child = await asyncio.wait_for(self._up, timeout)
        except TimeoutError:
            raise TimeoutError(self._silence(timeout)) from None
        return self.child

    def _silence(self, timeout: float) -> str:
        """Why no tunnel came up when the gateway sent no reason (no failure notify)."""
        where = f"no tunnel to {self.server[0]}:{self.server[1]} within {timeout} s"
        if not self.replies:
            return f"{where}: no answer at all (is a gateway listening on that address and port?)"
        said = f"the gateway answered {self.replies} message(s), then went silent"
        if self.config.version == 1 and not self.config.aggressive:
            what = "pre-shared key" if self.config.psk is not None else "certificate or identity"
            return (
                f"{where}: {said}; in IKEv1 Main Mode that is what a wrong {what} looks like "
                "(the gateway cannot decrypt or verify message 5 and drops it)"
            )
        return f"{where}: {said}"

    async def create_child_sa(self, timeout: float = 10.0) -> ChildSaKeys:
        """IKEv2 only: negotiate another child SA (with a KE payload when the ESP proposal
        names a PFS group) on the established IKE SA; return its keys."""
        if self.child is None or self._ike_spi is None:
            raise RuntimeError("connect() first")
        self._up = asyncio.get_running_loop().create_future()
        self.core.create_child_sa(self._ike_spi)
        self._flush()
        try:
            self.child = await asyncio.wait_for(self._up, timeout)
        except TimeoutError:
            raise TimeoutError(f"no new child SA within {timeout} s") from None
        return self.child

    @property
    def ike_spi(self) -> bytes | None:
        """The initiator SPI of the current IKE SA (it changes with every IKE SA rekey)."""
        return self._ike_spi

    async def rekey_ike_sa(self, timeout: float = 10.0) -> bytes:
        """IKEv2 only: rekey the IKE SA (RFC 7296 §2.18); the tunnels move to the new SA and the
        old one is deleted.  Returns the new SA's initiator SPI."""
        if self.child is None or self._ike_spi is None:
            raise RuntimeError("connect() first")
        self._rekeyed = asyncio.get_running_loop().create_future()
        self.core.rekey_ike_sa(self._ike_spi)
        self._flush()
        try:
            return await asyncio.wait_for(self._rekeyed, timeout)
        except TimeoutError:
            raise TimeoutError(f"no IKE SA rekey within {timeout} s") from None

    async def send_udp(self, dst: Address, payload: bytes, timeout: float = 2.0) -> bytes | None:
        """Send one UDP payload through the tunnel to ``dst``; return the reply payload or None."""
        sport = self._port()
        packet = build_ip_udp(self.source, sport, dst[0], dst[1], payload)
        future = self._expect(("udp", dst[0], dst[1], sport))
        self._send("udp", dst[0], payload, packet)
        return await self._wait(("udp", dst[0], dst[1], sport), future, timeout)

    async def ping(
        self, dst: str, count: int = 1, timeout: float = 2.0, data: bytes = b"kleptolab ping"
    ) -> list[float | None]:
        """Send ``count`` ICMP echo requests to ``dst``; return each round-trip time (None if lost)."""
        results: list[float | None] = []
        for seq in range(1, count + 1):
            key = ("icmp", dst, self._ping_id, seq)
            future = self._expect(key)
            start = time.perf_counter()
            self._send(
                "icmp", dst, data, build_ipv4_icmp_echo(self.source, dst, self._ping_id, seq, data)
            )
            reply = await self._wait(key, future, timeout)
            results.append(None if reply is None else time.perf_counter() - start)
        return results

    async def close(self) -> None:
        """Delete the IKE SA at the gateway (when one is up), then close the sockets."""
        if self.child is not None and self._ike_spi is not None and self._transports:
            with contextlib.suppress(ValueError):
                self.core.delete_ike_sa(self._ike_spi)
                self._flush()
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        for future in self._waiters.values():
            future.cancel()
        self._waiters.clear()

    # --- internals ------------------------------------------------------------------------

    def _port(self) -> int:
        self._next_port = 40000 + (self._next_port - 39999) % 20000
        return self._next_port

    def _expect(self, key: tuple[object, ...]) -> asyncio.Future[bytes]:
        if self.child is None:
            raise RuntimeError("not connected: call connect() first")
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        return future

    async def _wait(
        self, key: tuple[object, ...], future: asyncio.Future[bytes], timeout: float
    ) -> bytes | None:
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(key, None)

    def _send(self, kind: str, dst: str, payload: bytes, packet: bytes) -> None:
        self.sent.append(SentRecord(kind, self.source, dst, payload, packet, time.time()))
        if not self.core.send_inner(packet):
            raise RuntimeError(f"no tunnel covers {dst} (remote selector {self.config.remote_ts})")
        self._flush()

    def _received(self, dgram: Datagram) -> None:
        self.replies += 1
        for event in self.core.receive(dgram):
            self._event(event)
        self._flush()

    def _event(self, event: VpnEvent) -> None:
        if isinstance(event, IkeEventSeen) and isinstance(event.event, IkeSaRekeyed):
            rekey = event.event
            if rekey.moves_children and rekey.old_spi_i == self._ike_spi:
                self._ike_spi = rekey.spi_i
                if self._rekeyed is not None and not self._rekeyed.done():
                    self._rekeyed.set_result(rekey.spi_i)
            return
        if isinstance(event, IkeEventSeen) and isinstance(event.event, ExchangeFailed):
            waiting = self._rekeyed
            if waiting is not None and not waiting.done() and (self._up is None or self._up.done()):
                waiting.set_exception(ConnectionError(f"IKE exchange failed: {event.event.reason}"))
                return
        if isinstance(event, TunnelUp) and self._up is not None and not self._up.done():
            self._up.set_result(event.child)
        elif isinstance(event, IkeEventSeen) and isinstance(event.event, ExchangeFailed):
            if self._up is not None and not self._up.done():
                self._up.set_exception(
                    ConnectionError(f"IKE exchange failed: {event.event.reason}")
                )
        elif isinstance(event, InnerPacket):
            self._inner(event.packet)
        elif isinstance(event, Dropped):
            pass  # already in self.log

    def _inner(self, packet: bytes) -> None:
        try:
            ip = parse_ipv4(packet)
            if ip.proto == PROTO_UDP:
                udp = parse_udp(ip.payload, ip.src, ip.dst)
                key: tuple[object, ...] = ("udp", ip.src, udp.sport, udp.dport)
                payload = udp.payload
            elif ip.proto == PROTO_ICMP:
                echo = parse_icmp_echo(ip.payload)
                key, payload = ("icmp", ip.src, echo.ident, echo.seq), echo.data
            else:
                return
        except ValueError as exc:
            self.log.record("drop", f"malformed inner reply: {exc}")
            return
        future = self._waiters.get(key)
        if future is not None and not future.done():
            future.set_result(payload)

    def _flush(self) -> None:
        for dgram in self.core.outgoing():
            transport = self._transports.get(dgram.local_port)
            if transport is not None:
                transport.sendto(dgram.data, dgram.remote)
