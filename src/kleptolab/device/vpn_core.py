"""The gateway's sans-I/O VPN data path: UDP datagrams in, datagrams and events out.

:class:`VpnCore` owns no socket and no clock of its own.  It reads the IKE
header of every datagram on the 500/4500 roles (stripping the RFC 3948
non-ESP marker on 4500), dispatches by the initiator SPI/cookie to one
engine per IKE SA (IKEv1 or IKEv2 by the header's major version), admits new
SAs through :class:`~kleptolab.device.admission.Admission` (fair, bounded
half-open state: eviction for IKEv1, COOKIEs for IKEv2; embryonic SAs live
``embryonic_timeout`` seconds, those that showed return routability
``half_open_timeout``), turns ``ChildSaEstablished`` into ESP SA pairs, and
decapsulates UDP-encapsulated ESP into :class:`InnerPacket` events.
Anything malformed is dropped and logged, never raised.

IKEv2 IKE SA rekeys (RFC 7296 §2.18) add a slot for the new SA and move the
tunnels to it.  A deleted or failed IKEv2 SA stays *retired* for a while (see
:mod:`kleptolab.device.ike_slots`) so that a retransmitted request, e.g. an
INFORMATIONAL Delete whose answer was lost, gets the very same response
again (RFC 7296 §2.1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from kleptolab.device.admission import EMBRYONIC_TIMEOUT, Admission, Decision, Verdict
from kleptolab.device.engines import DefaultEngines, EngineFactory, engine_floated
from kleptolab.device.ike_slots import IkeSlot, RetiredSas, successor
from kleptolab.device.tunnels import TunnelTable
from kleptolab.device.vpn_events import (
    IKE_PORT,
    NATT_PORT,
    Address,
    Datagram,
    Dropped,
    IkeEventSeen,
    InnerPacket,
    MemoryLog,
    TunnelUp,
    VpnEvent,
    VpnLog,
)
from kleptolab.device.vpn_report import VpnReporter, ike_cookie_row, sa_rows
from kleptolab.esp.packet import NatTKind, demux_nat_t, ike_for_nat_t
from kleptolab.ike.common import (
    ChildSaEstablished,
    ChildSaKeys,
    ExchangeFailed,
    IkeEndpoint,
    IkeEvent,
    IkeSaEstablished,
    KeySource,
    PeerConfig,
    SaDeleted,
)
from kleptolab.ike.v1.engine import Ikev1Initiator, Ikev1Responder
from kleptolab.ike.v2.rekey import IkeSaRekeyed, Ikev2RekeyingSession
from kleptolab.ike.v2.session import Ikev2Session, Ikev2State
from kleptolab.ike.wire import IkeHeader, WireError

KEEPALIVE_INTERVAL = 20.0
EXPIRE_EVERY = 0.1
_V1_FIRST_EXCHANGES = (2, 4)  # Identity Protection (Main Mode), Aggressive
_V2_SA_INIT = 34

__all__ = [
    "IKE_PORT",
    "NATT_PORT",
    "Address",
    "Datagram",
    "Dropped",
    "IkeEventSeen",
    "InnerPacket",
    "MemoryLog",
    "TunnelUp",
    "VpnCore",
    "VpnEvent",
    "VpnLog",
]


class VpnCore:
    """Responder (and initiator) for every configured VPN, without I/O."""

    def __init__(
        self,
        configs: Sequence[PeerConfig],
        keys: KeySource,
        *,
        log: VpnLog | None = None,
        local: Address = ("0.0.0.0", IKE_PORT),
        max_half_open: int = 32,
        max_half_open_per_peer: int | None = None,
        max_half_open_v1: int | None = None,
        half_open_timeout: float = 30.0,
        embryonic_timeout: float = EMBRYONIC_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        engines: EngineFactory | None = None,
        esp_random: Callable[[int], bytes] = os.urandom,
        cookie_secret: bytes | None = None,
    ) -> None:
        self.configs = tuple(configs)
        self.log: VpnLog = log if log is not None else MemoryLog()
        self.report = VpnReporter(self.log, clock)
        self.local = local
        self.local_ports = {IKE_PORT: local[1], NATT_PORT: NATT_PORT}
        """Actual local port of each role (the service fills in what it bound)."""
        self._clock = clock
        self._timeout = half_open_timeout
        self._embryonic_timeout = min(embryonic_timeout, half_open_timeout)
        self._engines = engines if engines is not None else DefaultEngines(self.configs, keys)
        self._esp_random = esp_random
        self._admission = Admission(
            max_half_open,
            cookie_secret or os.urandom(32),
            max_half_open_per_peer,
            v1_budget=max_half_open_v1,
        )
        self._sas: dict[bytes, IkeSlot] = {}
        self._retired = RetiredSas()
        self._last_expire = float("-inf")
        self._tunnels = TunnelTable(esp_random, clock)
        self._out: list[Datagram] = []

    # --- public surface ---------------------------------------------------------------

    @property
    def half_open(self) -> int:
        """IKE SAs created but not yet established."""
        return sum(1 for slot in self._sas.values() if not slot.established)

    @property
    def tunnels(self) -> list[ChildSaKeys]:
        """Child SAs currently installed, oldest first."""
        return [t.child for t in self._tunnels.tunnels]

    def outgoing(self) -> list[Datagram]:
        """Take the datagrams waiting to be sent."""
        out, self._out = self._out, []
        return out

    def receive(self, dgram: Datagram) -> list[VpnEvent]:
        """Handle one received datagram; malformed input becomes a :class:`Dropped` event."""
        try:
            return self._receive(dgram)
        except Exception as exc:
            return [self._drop(dgram.remote, f"{type(exc).__name__}: {exc}")]

    def initiate(self, config_name: str, remote: Address, natt_port: int = NATT_PORT) -> bytes:
        """Start an IKE SA for the configured VPN ``config_name`` towards ``remote`` (its IKE port).

        ``natt_port`` is the peer's NAT-T port, used once the engine floats.
        Returns the new SA's initiator SPI (its key for :meth:`create_child_sa`).
        """
        config = next((c for c in self.configs if c.name == config_name), None)
        if config is None:
            raise ValueError(
                f"no VPN named {config_name!r} (configured: {[c.name for c in self.configs]})"
            )
        engine = self._engines.initiator(config, self.local, remote)
        messages = _outgoing(engine)
        if not messages:
            raise ValueError(f"the {config_name!r} initiator produced no first message")
        spi_i = IkeHeader.parse(messages[0]).spi_i
        slot = IkeSlot(
            spi_i, config.version, engine, remote, IKE_PORT, self._clock(), True, config.name
        )
        slot.peer_natt_port = natt_port
        self._sas[spi_i] = slot
        self._queue(slot, messages)
        self.report.info(
            "ike",
            f"IKE {remote[0]}: initiating IKEv{config.version} SA {config.name!r}",
            spi_i=spi_i.hex(),
        )
        return spi_i

    def create_child_sa(self, spi_i: bytes) -> None:
        """Start an IKEv2 CREATE_CHILD_SA on the established IKE SA ``spi_i``.

        The engine offers its configured child proposals (with a KE payload when
        they name a PFS group); a ``TunnelUp`` event follows when the child is up.
        """
        slot = self._sas.get(spi_i)
        if slot is None or not slot.established:
            raise ValueError(f"no established IKE SA {spi_i.hex()}")
        engine = slot.engine
        if not isinstance(engine, Ikev2Session):
            raise ValueError("CREATE_CHILD_SA needs an IKEv2 SA")
        engine.create_child_sa()
        self._queue(slot, _outgoing(engine))

    def delete_child_sa(self, spi_i: bytes, spi_in: bytes) -> None:
        """Ask the peer of the established IKEv2 SA ``spi_i`` to delete the child SA whose inbound
        SPI is ``spi_in``; its tunnel goes when the peer answers."""
        slot = self._sas.get(spi_i)
        if slot is None or not slot.established or not isinstance(slot.engine, Ikev2Session):
            raise ValueError(f"no established IKEv2 SA {spi_i.hex()}")
        slot.engine.delete_child_sa(spi_in)
        self._queue(slot, _outgoing(slot.engine))

    def rekey_ike_sa(self, spi_i: bytes) -> None:
        """Start rekeying the established IKEv2 SA ``spi_i`` (RFC 7296 §2.18).

        When the peer answers, the new SA gets its own slot (an
        ``IkeEventSeen`` with :class:`~kleptolab.ike.v2.rekey.IkeSaRekeyed`), the
        tunnels move to it and the old SA is deleted.
        """
        slot = self._sas.get(spi_i)
        if slot is None or not slot.established:
            raise ValueError(f"no established IKE SA {spi_i.hex()}")
        if not isinstance(slot.engine, Ikev2RekeyingSession):
            raise ValueError("IKE SA rekeying needs an IKEv2 SA")
        slot.engine.rekey_ike_sa()
        self._queue(slot, _outgoing(slot.engine))

    def delete_ike_sa(self, spi_i: bytes) -> None:
        """Tell the peer that the established IKE SA ``spi_i`` (and its ESP SAs) is gone, and drop it.

        IKEv1 sends an Informational Delete, IKEv2 an INFORMATIONAL request with a
        Delete payload; the SA and its tunnels are removed here without waiting.
        """
        slot = self._sas.get(spi_i)
        if slot is None or not slot.established:
            raise ValueError(f"no established IKE SA {spi_i.hex()}")
        engine = slot.engine
        if isinstance(engine, Ikev2Session):
            engine.delete_ike_sa()
        elif isinstance(engine, Ikev1Initiator | Ikev1Responder):
            engine.delete_ike()
        else:
            raise ValueError(f"cannot delete an SA driven by {type(engine).__name__}")
        self._queue(slot, _outgoing(engine))
        self._remove(slot, retire=True)
        self.report.deleted(slot.remote, [], sent=True)

    def send_inner(self, packet: bytes) -> bool:
        """Encapsulate an inner IPv4 packet into its tunnel (see :meth:`TunnelTable.route`)."""
        try:
            tunnel, esp = self._tunnels.encapsulate(packet)
        except ValueError as exc:
            self.report.drop(self.local, f"inner packet not sent: {exc}")
            return False
        slot = self._sas[tunnel.owner]
        remote = tunnel.esp_remote or (
            slot.remote if slot.local_port == NATT_PORT else (slot.remote[0], slot.peer_natt_port)
        )
        self._out.append(Datagram(esp, remote, NATT_PORT))
        return True

    def tick(self) -> list[VpnEvent]:
        """Expire stale half-open SAs and SAs past their lifetime; send NAT keepalives (initiator, 4500)."""
        now = self._clock()
        self.report.flush()
        events: list[VpnEvent] = []
        for tunnel in self._tunnels.expire():
            self.report.info(
                "tunnel", f"ESP SA SPI <{tunnel.child.spi_in.hex()}> lifetime expired."
            )
        for slot in list(self._sas.values()):
            if not slot.established and now - slot.created > self._half_open_limit(slot):
                self._remove(slot)
                events.append(self._drop(slot.remote, f"half-open SA {slot.spi_i.hex()} timed out"))
            elif now >= slot.expires:
                self._remove(slot)
                self.report.info(
                    "ike", f"IKE {slot.remote[0]}: IKE SA {slot.spi_i.hex()} lifetime expired."
                )
            elif (
                slot.initiator
                and slot.local_port == NATT_PORT
                and now - slot.last_keepalive >= KEEPALIVE_INTERVAL
            ):
                slot.last_keepalive = now
                self._out.append(Datagram(b"\xff", slot.remote, NATT_PORT))
        return events

    def retransmit(self) -> int:
        """Send every outstanding IKEv2 request again (the caller's retransmission timer fired).

        Returns how many were queued; the peer answers each from its response cache.
        """
        count = 0
        for slot in list(self._sas.values()) + self._retired.slots():
            engine = slot.engine
            if isinstance(engine, Ikev2Session) and engine.retransmit():
                self._queue(slot, _outgoing(engine))
                count += 1
        return count

    @property
    def dropped(self) -> int:
        """Datagrams and packets refused so far (logged or rate-limited)."""
        return self.report.dropped

    def ike_cookies(self) -> list[str]:
        """One ``get ike cookies`` row per IKE SA."""
        return [
            ike_cookie_row(
                s.spi_i, s.spi_r, s.remote[0], s.mode or f"IKEv{s.version}", s.established
            )
            for s in self._sas.values()
        ]

    def sa_summaries(self) -> list[str]:
        """Two ``get sa`` rows per ESP SA pair (``<`` inbound, ``>`` outbound)."""
        table = self._tunnels
        return [
            row
            for t in table.tunnels
            for row in sa_rows(t.number, self._sas[t.owner].remote, t.child, table.life_left(t))
        ]

    # --- dispatch -------------------------------------------------------------------------

    def _receive(self, dgram: Datagram) -> list[VpnEvent]:
        if dgram.local_port != NATT_PORT:
            return self._ike_in(dgram.data, dgram.remote, IKE_PORT)
        kind, payload = demux_nat_t(dgram.data)
        if kind is NatTKind.KEEPALIVE:
            return []
        if kind is NatTKind.ESP:
            _tunnel, packet = self._tunnels.decapsulate(payload, dgram.remote)  # errors: Dropped
            return [InnerPacket(dgram.remote, packet)]
        if kind is NatTKind.IKE:
            return self._ike_in(payload, dgram.remote, NATT_PORT)
        return [self._drop(dgram.remote, f"invalid {len(dgram.data)}-byte datagram on UDP 4500")]

    def _ike_in(self, message: bytes, remote: Address, port: int) -> list[VpnEvent]:
        try:
            header = IkeHeader.parse(message)
        except WireError as exc:
            return [self._drop(remote, f"malformed IKE: {exc}")]
        version = header.major_version
        if version not in (1, 2):
            return [self._drop(remote, f"IKE major version {version} not supported")]
        slot = self._sas.get(header.spi_i)
        if slot is None and header.spi_i in self._retired:
            return self._retired_in(header.spi_i, message[: header.length], remote, port)
        admitted: Decision | None = None
        if slot is None:
            created = self._new_responder(header, message, remote, port)
            if isinstance(created, Dropped) or created is None:
                return [created] if created is not None else []
            slot, admitted = created
        elif slot.version != version:
            return [
                self._drop(
                    remote, f"IKEv{version} message for IKEv{slot.version} SA {header.spi_i.hex()}"
                )
            ]
        echoes_spi_r = slot.spi_r != bytes(8) and header.spi_r == slot.spi_r
        try:
            ike_events = slot.engine.receive(message[: header.length])
        except Exception as exc:
            if not slot.established:
                self._remove(slot)
            return [self._drop(remote, f"engine rejected message: {type(exc).__name__}: {exc}")]
        if not any(isinstance(e, ExchangeFailed) for e in ike_events):
            slot.remote, slot.local_port = remote, port  # NAT-T float: answer where it came from
            if echoes_spi_r and not slot.initiator:
                self._admission.table.verify(slot.spi_i)  # return routability shown
        if slot.initiator and slot.local_port == IKE_PORT and engine_floated(slot.engine):
            slot.local_port = NATT_PORT
            slot.remote = (slot.remote[0], slot.peer_natt_port)
        messages = _outgoing(slot.engine)
        if messages and not slot.initiator and slot.spi_r == bytes(8):
            slot.spi_r = _responder_spi(messages[0])
        self._queue(slot, messages)
        events = self._handle(slot, ike_events)
        if admitted is not None and slot.spi_i in self._sas:  # it survived: now make room
            self._evict(admitted)
        return events

    def _retired_in(
        self, spi_i: bytes, message: bytes, remote: Address, port: int
    ) -> list[VpnEvent]:
        """A message for a deleted SA: its engine resends a cached response, or drops it."""
        slot = self._retired.lookup(spi_i, self._clock())
        if slot is None:
            return [self._drop(remote, f"message for deleted SA {spi_i.hex()}")]
        engine = slot.engine
        assert isinstance(engine, Ikev2Session)
        drops = len(engine.dropped)
        try:
            engine.receive(message)
        except Exception as exc:
            return [self._drop(remote, f"engine rejected message: {type(exc).__name__}: {exc}")]
        answers = _outgoing(engine)
        if not answers:
            if len(engine.dropped) > drops:
                return [self._drop(remote, f"deleted SA {spi_i.hex()}: {engine.dropped[-1]}")]
            return []
        slot.remote, slot.local_port = remote, port
        self._queue(slot, answers)
        return []

    def _new_responder(
        self, header: IkeHeader, message: bytes, remote: Address, port: int
    ) -> tuple[IkeSlot, Decision] | Dropped | None:
        version = header.major_version
        first = (
            header.exchange_type in _V1_FIRST_EXCHANGES
            if version == 1
            else header.exchange_type == _V2_SA_INIT
            and not header.is_response
            and header.message_id == 0
        )
        if not first or header.spi_r != bytes(8):
            return self._drop(remote, f"IKEv{version} message for unknown SA {header.spi_i.hex()}")
        self._expire()
        decision = self._admission.decide(version, message, remote[0])
        if decision.verdict is Verdict.DROP:
            return self._drop(remote, decision.reason)
        if decision.verdict is Verdict.SEND_COOKIE:
            data = ike_for_nat_t(decision.reply) if port == NATT_PORT else decision.reply
            self._out.append(Datagram(data, remote, port))
            self.report.info(
                "ike", f"IKE {remote[0]}: IKEv2 COOKIE sent ({decision.reason})", remote=remote
            )
            return None
        engine = self._engines.responder(version, (self.local[0], self.local_ports[port]), remote)
        slot = IkeSlot(header.spi_i, version, engine, remote, port, self._clock(), False)
        self._sas[header.spi_i] = slot
        self._admission.admitted(header.spi_i, remote[0], slot.created, version, decision)
        return slot, decision

    def _evict(self, decision: Decision) -> None:
        for spi in decision.evict:
            victim = self._sas.get(spi)
            if victim is not None and not victim.established:
                self._remove(victim)
                self.report.drop(
                    victim.remote, f"evicted half-open SA {spi.hex()} ({decision.reason})"
                )

    def _handle(self, slot: IkeSlot, ike_events: list[IkeEvent]) -> list[VpnEvent]:
        events: list[VpnEvent] = []
        for event in ike_events:
            events.append(IkeEventSeen(slot.remote, event))
            if isinstance(event, IkeSaRekeyed):
                self._rekeyed(slot, event)
            elif isinstance(event, IkeSaEstablished):
                slot.established = True
                self._admission.table.discard(slot.spi_i)
                slot.spi_r = event.spi_r
                slot.expires = self._clock() + event.proposal.lifetime
                slot.config_name = slot.config_name or _config_for(
                    self.configs, slot.engine, event.peer_id
                )
                slot.mode = (
                    "IKEv2"
                    if event.version == 2
                    else ("Aggressive" if self._aggressive(slot) else "Main")
                )
                long_mode = (
                    "IKEv2 IKE_SA_INIT/IKE_AUTH" if event.version == 2 else f"{slot.mode} Mode"
                )
                self.report.phase1(
                    slot.remote, long_mode, event.proposal.lifetime, event.spi_i, event.spi_r
                )
            elif isinstance(event, ChildSaEstablished):
                try:
                    events.append(self._install(slot, event.child))
                except ValueError as exc:
                    events.append(self._drop(slot.remote, f"child SA not installed: {exc}"))
            elif isinstance(event, SaDeleted):
                self._delete(slot, event)
            elif isinstance(event, ExchangeFailed):
                self.report.failed(slot.remote, event.reason, event.notify)
                if not slot.established:
                    self._remove(slot, retire=True)
        return events

    def _rekeyed(self, slot: IkeSlot, event: IkeSaRekeyed) -> None:
        """A new IKE SA replaces ``slot``'s: give it a slot; move the tunnels when the event says so."""
        new = self._sas.get(event.spi_i)
        if new is None:
            now = self._clock()
            new = successor(slot, event, now)
            self._sas[event.spi_i] = new
            self.report.phase1(
                slot.remote,
                "IKEv2 CREATE_CHILD_SA IKE SA rekey",
                event.proposal.lifetime,
                event.spi_i,
                event.spi_r,
            )
        if event.moves_children:
            self._tunnels.reown(slot.spi_i, new.spi_i)
        self._queue(new, _outgoing(event.session))

    def _aggressive(self, slot: IkeSlot) -> bool:
        config = next((c for c in self.configs if c.name == slot.config_name), None)
        return config is not None and config.aggressive

    def _install(self, slot: IkeSlot, child: ChildSaKeys) -> TunnelUp:
        config = next((c for c in self.configs if c.name == slot.config_name), None)
        lifetime = config.child_proposals[0].lifetime if config and config.child_proposals else 3600
        tunnel = self._tunnels.install(slot.spi_i, child, lifetime)
        self.report.phase2(slot.remote, child, tunnel.number, lifetime)
        return TunnelUp(slot.config_name, slot.remote, child)

    # --- bookkeeping ----------------------------------------------------------------------

    def _queue(self, slot: IkeSlot, messages: list[bytes]) -> None:
        for message in messages:
            data = ike_for_nat_t(message) if slot.local_port == NATT_PORT else message
            self._out.append(Datagram(data, slot.remote, slot.local_port))

    def _expire(self) -> None:
        """Drop stale half-open SAs; under a flood at most every ``EXPIRE_EVERY`` seconds
        (a scan over the table per first message would cost more than the message)."""
        now = self._clock()
        if 0 <= now - self._last_expire < EXPIRE_EVERY:
            return
        self._last_expire = now
        for slot in [
            s
            for s in self._sas.values()
            if not s.established and now - s.created > self._half_open_limit(s)
        ]:
            self._remove(slot)
            self.report.drop(slot.remote, f"half-open SA {slot.spi_i.hex()} timed out")

    def _delete(self, slot: IkeSlot, event: SaDeleted) -> None:
        spis = set(event.esp_spis)
        if not spis:
            self._remove(slot, retire=True)
        else:
            self._tunnels.remove(slot.spi_i, spis)
        self.report.deleted(slot.remote, sorted(spis))

    def _half_open_limit(self, slot: IkeSlot) -> float:
        """Lifetime of a half-open SA: short while embryonic (see :mod:`~kleptolab.device.admission`)."""
        if slot.initiator or self._admission.table.is_verified(slot.spi_i):
            return self._timeout
        return self._embryonic_timeout

    def _remove(self, slot: IkeSlot, retire: bool = False) -> None:
        """Forget the SA and its tunnels; a ``retire``d SA still answers retransmissions for a while."""
        if self._sas.get(slot.spi_i) is slot:
            del self._sas[slot.spi_i]
        self._admission.table.discard(slot.spi_i)
        self._tunnels.remove(slot.spi_i)
        engine = slot.engine
        if (
            retire
            and isinstance(engine, Ikev2Session)
            and (slot.established or engine.state is Ikev2State.FAILED)
        ):
            self._retired.retire(slot, self._clock())

    def _drop(self, remote: Address, reason: str) -> Dropped:
        self.report.drop(remote, reason)
        return Dropped(remote, reason)


def _outgoing(engine: IkeEndpoint) -> list[bytes]:
    return list(engine.outgoing())


def _responder_spi(message: bytes) -> bytes:
    """The responder SPI/cookie our engine put in its first reply (zero if unreadable)."""
    try:
        return IkeHeader.parse(message).spi_r
    except WireError:
        return bytes(8)


def _config_for(configs: Sequence[PeerConfig], engine: IkeEndpoint, peer_id: str) -> str:
    """The config the engine chose (several may name the same peer), else the first naming it."""
    chosen = getattr(engine, "config", None)
    if isinstance(chosen, PeerConfig):
        return chosen.name
    return next((c.name for c in configs if c.remote_id == peer_id), peer_id)
