"""How the VPN core gets one IKE engine per SA (IKEv1 or IKEv2, responder or initiator).

:class:`EngineFactory` is the seam: tests plug in fakes, the gateway uses
:class:`DefaultEngines`, which builds :mod:`kleptolab.ike.v1` and
:mod:`kleptolab.ike.v2` engines over the gateway's :class:`KeySource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kleptolab.ike.common import IkeEndpoint, KeySource, PeerConfig
from kleptolab.ike.v1.constants import screenos_vendor_ids
from kleptolab.ike.v1.engine import Ikev1Initiator, Ikev1Responder
from kleptolab.ike.v2.engine import Ikev2Initiator, Ikev2Responder

Address = tuple[str, int]


class EngineFactory(Protocol):
    """Creates the per-SA engines the core dispatches to."""

    def responder(self, version: int, local: Address, remote: Address) -> IkeEndpoint:
        """A responder for a new IKEv``version`` SA requested by ``remote``."""
        ...

    def initiator(self, config: PeerConfig, local: Address, remote: Address) -> IkeEndpoint:
        """An initiator for ``config`` towards ``remote``; its first message is waiting in ``outgoing()``."""
        ...


_FLOAT_FLAGS = ("float_to_4500", "nat_detected", "nat_t_floated")


def engine_floated(engine: IkeEndpoint) -> bool:
    """True once an initiator engine says to move to UDP 4500 (NAT-T float).

    The engines expose this as a boolean attribute or property; any of
    ``float_to_4500``, ``nat_detected`` or ``nat_t_floated`` counts.
    """
    return any(bool(getattr(engine, flag, False)) for flag in _FLOAT_FLAGS)


class DefaultEngines:
    """The real engines: every responder knows every configured VPN of its IKE version.

    IKEv1 responders announce ScreenOS's vendor IDs (a NetScreen fingerprint,
    Heartbeat Notify, DPD), so ``ike-scan -M`` reports a NetScreen.
    """

    def __init__(
        self,
        configs: Sequence[PeerConfig],
        keys: KeySource,
        vendor_ids: Sequence[bytes] | None = None,
    ) -> None:
        self._configs = tuple(configs)
        self._keys = keys
        self.vendor_ids = tuple(screenos_vendor_ids() if vendor_ids is None else vendor_ids)

    def responder(self, version: int, local: Address, remote: Address) -> IkeEndpoint:
        configs = [c for c in self._configs if c.version == version]
        if version == 1:
            return Ikev1Responder(
                configs, self._keys, local=local, remote=remote, vendor_ids=self.vendor_ids
            )
        return Ikev2Responder(configs, self._keys, local=local, remote=remote)

    def initiator(self, config: PeerConfig, local: Address, remote: Address) -> IkeEndpoint:
        if config.version == 1:
            return Ikev1Initiator(config, self._keys, local=local, remote=remote)
        return Ikev2Initiator(config, self._keys, local=local, remote=remote)
