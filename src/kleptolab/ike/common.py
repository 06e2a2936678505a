"""Types shared by the IKEv1 and IKEv2 engines and their users.

The engines are sans-I/O: bytes in, events out.  They never read a clock or
an RNG of their own; every random value comes from a :class:`KeySource`.
The gateway backs it with the firmware PRNG and its pre-generation queues,
so the emulated device's nonces and DH keys are exactly the PRNG draws the
attacker later predicts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from kleptolab.crypto.algorithms import Encr, Integ, Prf
from kleptolab.ike.dh import DhGroup


class KeySource(Protocol):
    """Randomness for one IKE endpoint.

    Call order contract for a responder building its KE+Nonce reply: it asks
    for the DH private value first, then the nonce (payload order).  Cookies,
    SPIs, IVs and padding come from :meth:`random_bytes`.
    """

    def nonce(self) -> bytes:
        """Return the next nonce (32 bytes on Dual EC ScreenOS, 20 on 6.1)."""
        ...

    def dh_private(self, group: DhGroup) -> int:
        """Return the next DH private value for ``group``."""
        ...

    def random_bytes(self, size: int) -> bytes:
        """Return ``size`` bytes for cookies, SPIs, IVs or padding."""
        ...


class SimpleKeySource:
    """A :class:`KeySource` over one byte generator (for clients and tests)."""

    def __init__(self, rng: Callable[[int], bytes], nonce_size: int = 32, exponent_bytes: int = 32) -> None:
        self._rng = rng
        self._nonce_size = nonce_size
        self._exponent_bytes = exponent_bytes

    def nonce(self) -> bytes:
        return self._rng(self._nonce_size)

    def dh_private(self, group: DhGroup) -> int:
        return group.private_from_prng(lambda: self._rng(max(32, self._exponent_bytes)), self._exponent_bytes)

    def random_bytes(self, size: int) -> bytes:
        return self._rng(size)


class AuthMethod(Enum):
    """Phase-1 authentication methods the lab implements."""

    PSK = "psk"
    RSA_SIG = "rsa-sig"


@dataclass(frozen=True)
class IkeProposal:
    """An IKE SA proposal, e.g. ScreenOS ``pre-g2-3des-sha``."""

    encr: Encr
    key_size: int
    integ: Integ
    prf: Prf
    dh_group: int
    auth: AuthMethod = AuthMethod.PSK
    lifetime: int = 28_800


@dataclass(frozen=True)
class ChildProposal:
    """An ESP proposal, e.g. ScreenOS ``g2-esp-3des-sha`` (PFS group 2)."""

    encr: Encr
    key_size: int
    integ: Integ
    pfs_group: int | None = None
    lifetime: int = 3_600


@dataclass(frozen=True)
class PeerConfig:
    """One configured VPN: who the peer is, how to authenticate, what to offer."""

    name: str
    version: int  # 1 or 2
    local_id: str
    remote_id: str
    ike_proposals: tuple[IkeProposal, ...]
    child_proposals: tuple[ChildProposal, ...]
    local_ts: ipaddress.IPv4Network
    remote_ts: ipaddress.IPv4Network
    psk: bytes | None = None
    aggressive: bool = False  # IKEv1 Aggressive Mode instead of Main Mode
    rsa_key_pem: bytes | None = None  # our private key, for RSA signatures
    certificate_der: bytes | None = None  # our certificate
    trusted_ca_der: bytes | None = None  # CA that signs peer certificates
    nat_t: bool = True


@dataclass(frozen=True)
class NatStatus:
    """Outcome of NAT detection for one IKE SA, from this endpoint's view (both IKE versions)."""

    local_behind_nat: bool
    remote_behind_nat: bool

    @property
    def detected(self) -> bool:
        """True when either side is (or pretends to be) behind a NAT: float to 4500 and encapsulate."""
        return self.local_behind_nat or self.remote_behind_nat


@dataclass(frozen=True)
class ChildSaKeys:
    """Keys of one negotiated ESP SA pair, from this endpoint's point of view.

    ``spi_in`` is the SPI this endpoint chose (peers send to it); ``*_out``
    protect what this endpoint sends.
    """

    encr: Encr
    key_size: int
    integ: Integ
    spi_in: bytes
    spi_out: bytes
    encr_key_in: bytes
    encr_key_out: bytes
    integ_key_in: bytes
    integ_key_out: bytes
    local_ts: ipaddress.IPv4Network
    remote_ts: ipaddress.IPv4Network
    udp_encapsulated: bool = False


@dataclass(frozen=True)
class IkeSaEstablished:
    """Phase 1 / IKE_SA_INIT+IKE_AUTH finished; ``keys`` names every derived key."""

    spi_i: bytes
    spi_r: bytes
    version: int
    peer_id: str
    proposal: IkeProposal
    keys: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildSaEstablished:
    """A Quick Mode / CREATE_CHILD_SA / IKE_AUTH child SA is ready."""

    spi_i: bytes
    spi_r: bytes
    child: ChildSaKeys


@dataclass(frozen=True)
class SaDeleted:
    """The peer deleted an SA (IKE SA when ``esp_spis`` is empty)."""

    spi_i: bytes
    spi_r: bytes
    esp_spis: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class ExchangeFailed:
    """The exchange cannot go on; ``notify`` is the notify type sent or received, if any."""

    reason: str
    notify: int | None = None


IkeEvent = IkeSaEstablished | ChildSaEstablished | SaDeleted | ExchangeFailed


class IkeEndpoint(Protocol):
    """The sans-I/O surface of one IKE SA, initiator or responder."""

    def receive(self, data: bytes) -> list[IkeEvent]:
        """Feed one IKE message (without any non-ESP marker); return what happened."""
        ...

    def outgoing(self) -> list[bytes]:
        """Take the IKE messages waiting to be sent (without non-ESP markers)."""
        ...
