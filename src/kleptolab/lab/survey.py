"""The defender's nonce survey of its OWN gateway: many IKE_SA_INIT probes, each abandoned.

The passive fingerprint (CCS 2016 §7-§8) needs hundreds of responder nonces
before byte 0 and byte 30 never being zero convicts a ScreenOS 6.2/6.3 Dual EC
PRNG (589 at alpha = 1 %).  The CCS 2016 authors collected them by scanning
the Internet for 5 days; a defender can collect them from a device it owns in
seconds: :func:`nonce_survey` sends ``count`` IKEv2 IKE_SA_INIT requests over
loopback and never continues any of them (each responder SA stays half-open
until the gateway expires it).  Only the lab's own gateway is ever probed.

The probes are raw IKEv2 messages (fixed KE, fresh SPI and nonce per probe),
so probing costs the defender almost nothing.  A COOKIE answer (the gateway's
half-open bound, RFC 7296 §2.6) is returned once with the cookie, as any
initiator would.  The survey is bounded in count, in outstanding probes and
in wall time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from kleptolab.lab.scenarios import VpnPlan

__all__ = ["SurveyResult", "nonce_survey"]

Address = tuple[str, int]


@dataclass(frozen=True)
class SurveyResult:
    """What the survey sent and got back (the nonces themselves are read from the tap's pcap)."""

    sent: int
    answered: int
    cookies: int
    nonce_lengths: dict[int, int]
    seconds: float
    stopped: str = ""  # why it stopped early ("" when every probe went out)


class _Prober(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[bytes, asyncio.Future[bytes]] = {}

    def datagram_received(self, data: bytes, addr: Address) -> None:
        future = self.waiting.get(data[:8])
        if future is not None and not future.done():
            future.set_result(data)


def _probe(spi_i: bytes, vpn: VpnPlan, ke: tuple[int, bytes], nonce: bytes, cookie: bytes | None) -> bytes:
    from kleptolab.device.proposals import parse_screenos_proposal
    from kleptolab.ike.common import IkeProposal
    from kleptolab.ike.v2.constants import ExchangeType, NotifyType
    from kleptolab.ike.v2.negotiation import ike_sa_payload
    from kleptolab.ike.v2.payloads import (
        AnyPayload,
        Ikev2Message,
        KePayload,
        NoncePayload,
        NotifyPayload,
        build_message,
    )
    from kleptolab.ike.wire import FLAG_INITIATOR

    proposal = parse_screenos_proposal(vpn.ike_proposal)
    assert isinstance(proposal, IkeProposal)
    payloads: list[AnyPayload] = [NotifyPayload(NotifyType.COOKIE, cookie)] if cookie is not None else []
    payloads += [ike_sa_payload([proposal]), KePayload(ke[0], ke[1]), NoncePayload(nonce)]
    return build_message(Ikev2Message(spi_i, bytes(8), ExchangeType.IKE_SA_INIT, FLAG_INITIATOR, 0,
                                      tuple(payloads)))


def _nonce_length(reply: bytes) -> int | None:
    from kleptolab.ike.v2.payloads import NoncePayload, parse_message
    from kleptolab.ike.wire import WireError

    try:
        found = parse_message(reply).find(NoncePayload)
    except (WireError, ValueError):
        return None
    return len(found[0].nonce) if found and isinstance(found[0], NoncePayload) else None


async def nonce_survey(
    target: Address, vpn: VpnPlan, count: int, *, seed: int = 0, window: int = 16,
    timeout: float = 2.0, budget: float = 30.0, tick: Callable[[int, int], None] | None = None,
) -> SurveyResult:
    """Send ``count`` abandoned IKE_SA_INIT probes for ``vpn``'s IKE proposal to ``target``.

    At most ``window`` probes are outstanding; no new probe starts after ``budget`` seconds.
    ``tick(done, count)`` is called as each probe finishes (a progress bar).
    """
    from kleptolab.device.admission import cookie_from_response
    from kleptolab.device.proposals import parse_screenos_proposal
    from kleptolab.ike.common import IkeProposal
    from kleptolab.ike.dh import group_by_number

    if vpn.version != 2:
        raise ValueError(f"the survey speaks IKEv2; VPN {vpn.name!r} is IKEv{vpn.version}")
    if count < 0 or window < 1:
        raise ValueError("count must be >= 0 and window >= 1")
    proposal = parse_screenos_proposal(vpn.ike_proposal)
    assert isinstance(proposal, IkeProposal)
    rng = random.Random(f"kleptolab survey {seed}")
    group = group_by_number(proposal.dh_group)
    ke = (group.number, group.public_value(rng.getrandbits(256) % (group.modulus - 3) + 2))
    loop = asyncio.get_running_loop()
    transport, prober = await loop.create_datagram_endpoint(_Prober, local_addr=("127.0.0.1", 0))
    started = time.perf_counter()
    lengths: dict[int, int] = {}
    counters = {"sent": 0, "answered": 0, "cookies": 0, "done": 0}
    slots = asyncio.Semaphore(window)

    async def exchange(spi: bytes, data: bytes) -> bytes | None:
        future: asyncio.Future[bytes] = loop.create_future()
        prober.waiting[spi] = future
        transport.sendto(data, target)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            prober.waiting.pop(spi, None)

    async def one() -> None:
        try:
            spi, nonce = rng.randbytes(8), rng.randbytes(32)
            reply = await exchange(spi, _probe(spi, vpn, ke, nonce, None))
            cookie = cookie_from_response(reply) if reply is not None else None
            if cookie is not None:
                counters["cookies"] += 1
                reply = await exchange(spi, _probe(spi, vpn, ke, nonce, cookie))
            size = _nonce_length(reply) if reply is not None else None
            if size is not None:
                counters["answered"] += 1
                lengths[size] = lengths.get(size, 0) + 1
        finally:
            slots.release()
            counters["done"] += 1
            if tick is not None:
                tick(counters["done"], count)

    stopped = ""
    tasks: list[asyncio.Task[None]] = []
    try:
        for _ in range(count):
            if time.perf_counter() - started > budget:
                stopped = f"time budget of {budget:.0f} s spent"
                break
            await slots.acquire()  # at most ``window`` probes outstanding
            counters["sent"] += 1
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        transport.close()
    return SurveyResult(counters["sent"], counters["answered"], counters["cookies"], dict(sorted(lengths.items())),
                        time.perf_counter() - started, stopped)
