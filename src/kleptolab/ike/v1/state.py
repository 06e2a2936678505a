"""Shared state of one IKEv1 SA, used by the phase-1 and Quick Mode halves of the engine."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from kleptolab.crypto.algorithms import Prf
from kleptolab.ike.common import (
    ChildProposal,
    ChildSaKeys,
    IkeProposal,
    KeySource,
    NatStatus,
    PeerConfig,
)
from kleptolab.ike.dh import DhGroup, group_by_number
from kleptolab.ike.v1.crypto import Ikev1Cipher
from kleptolab.ike.v1.keys import Phase1Keys
from kleptolab.ike.v1.message import build_message
from kleptolab.ike.v1.natt import Address, NatTVersion
from kleptolab.ike.v1.payloads import Payload


class State(Enum):
    START = "start"
    MM1_SENT = "mm1-sent"
    MM2_SENT = "mm2-sent"
    MM3_SENT = "mm3-sent"
    MM4_SENT = "mm4-sent"
    MM5_SENT = "mm5-sent"
    AM1_SENT = "am1-sent"
    AM2_SENT = "am2-sent"
    ESTABLISHED = "established"
    DELETED = "deleted"
    FAILED = "failed"


class Abort(Exception):
    """Internal: the current exchange cannot go on (``notify`` is sent when ``send_notify``)."""

    def __init__(self, reason: str, notify: int | None = None, send_notify: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notify = notify
        self.send_notify = send_notify


@dataclass
class QuickExchange:
    """One Quick Mode exchange in progress (keyed by message ID)."""

    message_id: int
    initiator: bool
    spi_in: bytes
    ni: bytes
    offered: tuple[ChildProposal, ...] = ()
    local_ts: ipaddress.IPv4Network | None = None
    remote_ts: ipaddress.IPv4Network | None = None
    send_ids: bool = True
    dh_private: int | None = None
    nr: bytes = b""
    pending: ChildSaKeys | None = None


class SaState:
    """Fields and small helpers common to every part of the IKEv1 engine."""

    def __init__(
        self,
        initiator: bool,
        keys: KeySource,
        local: Address | None,
        remote: Address | None,
        force_nat: bool,
        vendor_ids: Sequence[bytes],
    ) -> None:
        self.initiator = initiator
        self._keys = keys
        self.local = local
        self.remote = remote
        self.force_nat = force_nat
        self.vendor_ids = tuple(vendor_ids)
        self.state = State.START
        self.config: PeerConfig | None = None
        self.cky_i = bytes(8)
        self.cky_r = bytes(8)
        self.proposal: IkeProposal | None = None
        self._dh_private = 0
        self.g_xi = b""
        self.g_xr = b""
        self.ni = b""
        self.nr = b""
        self.g_xy = b""
        self.sai_b = b""
        self._idii_b = b""
        self._answer_sa: Payload | None = None
        self.phase1_keys: Phase1Keys | None = None
        self.cipher: Ikev1Cipher | None = None
        self.natt = NatTVersion.NONE
        self.nat: NatStatus | None = None
        self.float_to_4500 = False
        self.peer_id = ""
        self.peer_vendor_ids: list[bytes] = []
        self.children: list[ChildSaKeys] = []
        self._quick: dict[int, QuickExchange] = {}
        self._out: list[bytes] = []
        self._sent_now: list[bytes] = []

    # --- accessors that only make sense once a proposal is chosen ---

    @property
    def prf(self) -> Prf:
        if self.proposal is None:
            raise Abort("internal: no proposal chosen yet")
        return self.proposal.prf

    @property
    def group(self) -> DhGroup:
        if self.proposal is None:
            raise Abort("internal: no proposal chosen yet")
        return group_by_number(self.proposal.dh_group)

    @property
    def p1(self) -> Phase1Keys:
        if self.phase1_keys is None:
            raise Abort("internal: phase-1 keys not derived yet")
        return self.phase1_keys

    @property
    def conf(self) -> PeerConfig:
        if self.config is None:
            raise Abort("internal: no configuration selected yet")
        return self.config

    @property
    def nat_detected(self) -> bool:
        """True when NAT-D showed a NAT (or ``force_nat`` faked one): use UDP-encapsulated ESP."""
        return self.nat is not None and self.nat.detected

    # --- sending ---

    def _send(self, data: bytes) -> None:
        self._out.append(data)
        self._sent_now.append(data)

    def _send_plain(self, exchange: int, message_id: int, payloads: Sequence[Payload]) -> None:
        self._send(build_message(self.cky_i, self.cky_r, exchange, 0, message_id, payloads))

    def _send_encrypted(self, exchange: int, message_id: int, payloads: Sequence[Payload]) -> None:
        if self.cipher is None:
            raise Abort("internal: no phase-1 cipher yet")
        self._send(self.cipher.encrypt(self.cky_i, self.cky_r, exchange, message_id, payloads))

    def _new_message_id(self) -> int:
        """A fresh non-zero message ID (drawn with ``random_bytes(4)``)."""
        while True:
            mid = int.from_bytes(self._keys.random_bytes(4), "big")
            if mid and mid not in self._quick:
                return mid
