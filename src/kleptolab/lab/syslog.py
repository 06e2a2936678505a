"""A loopback UDP syslog collector: what a SOC's log server would keep from the gateway.

``async with SyslogCollector() as collector:`` binds ``127.0.0.1`` on an
ephemeral port (:attr:`SyslogCollector.address`) and keeps every datagram
as one text line (:attr:`SyslogCollector.lines`), in arrival order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

__all__ = ["SyslogCollector"]

MAX_LINES = 100_000


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, collector: SyslogCollector) -> None:
        self._collector = collector

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._collector._received(data)


class SyslogCollector:
    """Receive syslog datagrams on loopback; bounded to :data:`MAX_LINES` lines."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._bind = (host, port)
        self._transport: asyncio.DatagramTransport | None = None
        self._arrived = asyncio.Event()
        self.lines: list[str] = []
        self.dropped = 0

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); only valid after :meth:`start`."""
        if self._transport is None:
            raise RuntimeError("the syslog collector is not started")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def target(self) -> str:
        """``host:port`` as a gateway configuration's ``syslog.target`` wants it."""
        host, port = self.address
        return f"{host}:{port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=self._bind
        )

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def wait_quiet(self, quiet: float = 0.2, limit: float = 2.0) -> None:
        """Return once no datagram arrived for ``quiet`` seconds (or after ``limit``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(quiet, deadline - loop.time()))
            except TimeoutError:
                return

    def write(self, path: Path) -> None:
        """Save the lines, one per line, as a log server would."""
        path.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")

    def _received(self, data: bytes) -> None:
        if len(self.lines) >= MAX_LINES:
            self.dropped += 1
            return
        self.lines.append(data.decode("utf-8", "replace").rstrip("\r\n\x00"))
        self._arrived.set()

    async def __aenter__(self) -> SyslogCollector:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
