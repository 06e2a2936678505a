"""Sans-I/O IKEv1 endpoints: :class:`Ikev1Initiator` and :class:`Ikev1Responder`.

Each object is one IKE SA.  Feed every received IKE message (non-ESP marker
stripped) to ``receive``; send whatever ``outgoing`` returns.  Randomness
comes only from the :class:`~kleptolab.ike.common.KeySource`, in this order:

* initiator: cookie ``random_bytes(8)`` at construction (MM1/AM1 is queued
  at once); Aggressive Mode then ``dh_private``, ``nonce``; Main Mode draws
  ``dh_private``, ``nonce`` when MM2 arrives.
* responder: cookie ``random_bytes(8)`` on the first message, then for the
  KE+Nonce reply (MM4, AM2) ``dh_private`` then ``nonce``.
* Quick Mode and Informational: see :mod:`kleptolab.ike.v1.quick_mode`.
  Padding and IVs draw nothing.

Responder configuration choice: Main Mode cannot know the peer before the
PSK is needed (SKEYID at MM3/MM4), so the responder takes the first
configuration (``aggressive=False``, version 1) whose proposals match the
offer, then checks the peer's ID in MM5 against ``remote_id`` ("%any" or ""
accept any).  Aggressive Mode selects among ``aggressive=True``
configurations by the IDii in AM1, then by proposal.

Errors: malformed or unacceptable input never raises; ``receive`` returns
``ExchangeFailed``.  Before phase 1 completes that ends the SA
(``state is State.FAILED``); afterwards it ends only that exchange.  A
retransmitted request (byte-identical to the previous one) gets our
previous answer again and no events.

NAT-T: see :mod:`kleptolab.ike.v1.natt` for what the I/O layer must do with
``float_to_4500`` and ``ChildSaKeys.udp_encapsulated``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kleptolab.ike.common import ExchangeFailed, IkeEvent, KeySource, PeerConfig, SaDeleted
from kleptolab.ike.v1 import keys as kdf
from kleptolab.ike.v1.constants import DOI_IPSEC, ERROR_NOTIFY_LIMIT, Exchange, Notify, Protocol
from kleptolab.ike.v1.crypto import DecryptedMessage
from kleptolab.ike.v1.message import PayloadChain, parse_message
from kleptolab.ike.v1.natt import Address
from kleptolab.ike.v1.payloads import DeletePayload, HashPayload, NotifyPayload
from kleptolab.ike.v1.quick_mode import QuickMode
from kleptolab.ike.v1.state import Abort, State
from kleptolab.ike.wire import WireError

__all__ = ["Ikev1Initiator", "Ikev1Responder", "State"]


class _Ikev1Sa(QuickMode):
    def __init__(
        self,
        initiator: bool,
        keys: KeySource,
        local: Address | None,
        remote: Address | None,
        force_nat: bool,
        vendor_ids: Sequence[bytes],
    ) -> None:
        super().__init__(initiator, keys, local, remote, force_nat, vendor_ids)
        self._configs: tuple[PeerConfig, ...] = ()
        self._last_in = b""
        self._last_replies: list[bytes] = []

    # --- the IkeEndpoint surface ---

    def outgoing(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def set_addresses(self, local: Address, remote: Address) -> None:
        """Tell the engine the addresses the packets use (for NAT-D)."""
        self.local, self.remote = local, remote

    @property
    def established(self) -> bool:
        return self.state is State.ESTABLISHED

    def receive(self, data: bytes) -> list[IkeEvent]:
        if data == self._last_in and self._last_replies:
            self._out.extend(self._last_replies)
            return []
        self._sent_now = []
        try:
            events = self._dispatch(data)
        except Abort as exc:
            events = self._abort(exc)
        except (WireError, ValueError) as exc:
            events = self._abort(Abort(str(exc), Notify.PAYLOAD_MALFORMED))
        self._last_in, self._last_replies = data, list(self._sent_now)
        return events

    def _abort(self, exc: Abort) -> list[IkeEvent]:
        if self.state is not State.ESTABLISHED and self.state is not State.DELETED:
            self.state = State.FAILED
        if exc.send_notify and exc.notify is not None:
            notify = NotifyPayload(DOI_IPSEC, Protocol.ISAKMP, exc.notify, self.cky_i + self.cky_r)
            if (
                self.cipher is not None
                and self.phase1_keys is not None
                and self.state is State.ESTABLISHED
            ):
                self.send_informational([notify])
            else:
                self._send_plain(Exchange.INFORMATIONAL, 0, [notify])
        return [ExchangeFailed(exc.reason, exc.notify)]

    # --- dispatch ---

    def _dispatch(self, data: bytes) -> list[IkeEvent]:
        if self.state in (State.FAILED, State.DELETED):
            raise WireError(f"IKE SA is {self.state.value}; message ignored")
        msg = parse_message(data)
        h = msg.header
        if self.state is State.START and not self.initiator:
            if h.exchange_type not in (Exchange.MAIN_MODE, Exchange.AGGRESSIVE) or h.spi_r != bytes(
                8
            ):
                raise Abort(
                    "first message must open Main or Aggressive Mode with a zero responder cookie"
                )
            if msg.chain is None:
                raise Abort("first message must not be encrypted")
            self.cky_i = h.spi_i
            self.cky_r = self._keys.random_bytes(8)
            if h.exchange_type == Exchange.MAIN_MODE:
                self._on_mm1(msg.chain, self._configs)
            else:
                self._on_am1(msg.chain, self._configs)
            return []
        if h.spi_i != self.cky_i:
            raise WireError("initiator cookie does not belong to this IKE SA")
        if self.state in (State.MM1_SENT, State.AM1_SENT) and self.cky_r == bytes(8):
            if h.exchange_type == Exchange.INFORMATIONAL and msg.chain is not None:
                return self._on_plain_informational(msg.chain)
            self.cky_r = h.spi_r
        elif h.spi_r != self.cky_r:
            raise WireError("responder cookie does not belong to this IKE SA")
        if msg.chain is None:
            self._finish_derive()  # an encrypted Aggressive Mode message 3
            if self.cipher is None:
                raise Abort("encrypted message before keys exist", Notify.PAYLOAD_MALFORMED)
            return self._on_encrypted(self.cipher.decrypt(data))
        if h.exchange_type == Exchange.INFORMATIONAL:
            return self._on_plain_informational(msg.chain)
        return self._on_phase1_plain(h.exchange_type, msg.chain)

    def _on_phase1_plain(self, exchange: int, chain: PayloadChain) -> list[IkeEvent]:
        step = (self.state, exchange)
        if step == (State.MM1_SENT, Exchange.MAIN_MODE):
            self._on_mm2(chain)
        elif step == (State.MM2_SENT, Exchange.MAIN_MODE):
            self._on_mm3(chain)
        elif step == (State.MM3_SENT, Exchange.MAIN_MODE):
            self._on_mm4(chain)
        elif step == (State.AM1_SENT, Exchange.AGGRESSIVE):
            return self._on_am2(chain)
        elif step == (State.AM2_SENT, Exchange.AGGRESSIVE):
            return self._on_am3(chain)
        else:
            raise Abort(
                f"unexpected plaintext exchange {exchange} in state {self.state.value}",
                Notify.INVALID_EXCHANGE_TYPE,
            )
        return []

    def _on_encrypted(self, msg: DecryptedMessage) -> list[IkeEvent]:
        exchange, mid = msg.header.exchange_type, msg.header.message_id
        if exchange == Exchange.INFORMATIONAL:
            return self._on_informational(msg)
        if mid == 0 and exchange == Exchange.MAIN_MODE:
            if self.state is State.MM4_SENT:
                return self._on_mm5(msg.chain)
            if self.state is State.MM5_SENT:
                return self._on_mm6(msg.chain)
        if mid == 0 and exchange == Exchange.AGGRESSIVE and self.state is State.AM2_SENT:
            return self._on_am3(msg.chain)
        if exchange == Exchange.QUICK_MODE and mid != 0 and self.state is State.ESTABLISHED:
            return self._on_quick(msg)
        raise Abort(
            f"unexpected encrypted exchange {exchange} (message ID {mid:#x}) in state {self.state.value}"
        )

    # --- informational ---

    def _on_plain_informational(self, chain: PayloadChain) -> list[IkeEvent]:
        """Unauthenticated notifies (e.g. NO-PROPOSAL-CHOSEN to MM1): fatal only before phase 1 ends."""
        events: list[IkeEvent] = []
        for n in chain.all(NotifyPayload):
            if n.notify_type < ERROR_NOTIFY_LIMIT and self.state is not State.ESTABLISHED:
                self.state = State.FAILED
                events.append(
                    ExchangeFailed(f"peer sent {_notify_name(n.notify_type)}", n.notify_type)
                )
        return events

    def _on_informational(self, msg: DecryptedMessage) -> list[IkeEvent]:
        chain, mid = msg.chain, msg.header.message_id
        first = chain.payloads[0] if chain.payloads else None
        if not isinstance(first, HashPayload):
            raise Abort("Informational without HASH", Notify.PAYLOAD_MALFORMED)
        if first.data != kdf.informational_hash(
            self.prf, self.p1.skeyid_a, mid, chain.after_first()
        ):
            raise Abort("Informational HASH does not verify", Notify.INVALID_HASH_INFORMATION)
        events: list[IkeEvent] = []
        for p in chain.payloads[1:]:
            if isinstance(p, DeletePayload):
                events.extend(self._on_delete(p))
            elif isinstance(p, NotifyPayload):
                if p.notify_type == Notify.R_U_THERE:
                    self.notify(Notify.R_U_THERE_ACK, p.data)
                elif p.notify_type < ERROR_NOTIFY_LIMIT:
                    if self.state is not State.ESTABLISHED:
                        self.state = State.FAILED
                    events.append(
                        ExchangeFailed(f"peer sent {_notify_name(p.notify_type)}", p.notify_type)
                    )
        return events

    def _on_delete(self, d: DeletePayload) -> list[IkeEvent]:
        if d.protocol == Protocol.ISAKMP:
            if self.cky_i + self.cky_r not in d.spis:
                return []
            self.state = State.DELETED
            return [SaDeleted(self.cky_i, self.cky_r, ())]
        if d.protocol == Protocol.ESP:
            gone = tuple(s for s in d.spis if any(c.spi_out == s for c in self.children))
            self.children = [c for c in self.children if c.spi_out not in gone]
            return [SaDeleted(self.cky_i, self.cky_r, gone)] if gone else []
        return []


def _notify_name(notify_type: int) -> str:
    try:
        return Notify(notify_type).name
    except ValueError:
        return f"notify {notify_type}"


class Ikev1Initiator(_Ikev1Sa):
    """Initiates one IKE SA for ``config``; MM1/AM1 is queued at construction.

    After phase 1 it starts Quick Mode with ``config.child_proposals`` (when
    ``auto_child``).  ``force_nat`` fakes our NAT-D hash; ``vendor_ids`` are
    sent in the first message (NAT-T VIDs are added when ``config.nat_t``).
    """

    def __init__(
        self,
        config: PeerConfig,
        keys: KeySource,
        *,
        local: Address | None = None,
        remote: Address | None = None,
        force_nat: bool = False,
        vendor_ids: Sequence[bytes] = (),
        auto_child: bool = True,
    ) -> None:
        if config.version != 1 or not config.ike_proposals:
            raise ValueError(
                f"configuration {config.name!r} is not an IKEv1 configuration with proposals"
            )
        super().__init__(True, keys, local, remote, force_nat, vendor_ids)
        self._auto_child = auto_child
        self._start_phase1(config)

    def _established(self) -> list[IkeEvent]:
        events = super()._established()
        if self._auto_child and self.conf.child_proposals:
            self.initiate_child()
        return events


class Ikev1Responder(_Ikev1Sa):
    """Answers one IKE SA, choosing among ``configs`` (see the module docstring)."""

    def __init__(
        self,
        configs: Sequence[PeerConfig],
        keys: KeySource,
        *,
        local: Address | None = None,
        remote: Address | None = None,
        force_nat: bool = False,
        vendor_ids: Sequence[bytes] = (),
    ) -> None:
        super().__init__(False, keys, local, remote, force_nat, vendor_ids)
        self._configs = tuple(configs)
