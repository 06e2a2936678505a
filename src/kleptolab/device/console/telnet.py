"""The Telnet admin console: a sans-I/O codec (:class:`TelnetCodec`) and an asyncio server.

The server greets with ``Remote Management Console\\r\\n`` (the first bytes on
the wire, as the Fox-IT rule expects), asks ``login: `` and ``password: ``
(announcing WILL ECHO so the client hides the password), and then prompts
``<hostname>-> ``.  Negotiation bytes are answered at most once per option
(no loops); subnegotiations are skipped; lines are capped; any byte sequence
is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from kleptolab.device.console.service import AdminService

__all__ = ["BANNER", "TelnetCodec", "TelnetConsole"]

BANNER = b"Remote Management Console\r\n"
_TOO_MANY = b"Too many management sessions, try again later.\r\n"

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3
_MAX_SB = 1024


class TelnetCodec:
    """Bytes in, text lines out; negotiation replies collected in :meth:`data_to_send`."""

    def __init__(self, max_line: int = 512) -> None:
        self.max_line = max_line
        self._line = bytearray()
        self._lines: deque[str] = deque()
        self._out = bytearray()
        self._state = "data"  # data, iac, opt, sb, sb_iac
        self._command = 0
        self._sb_len = 0
        self._skip_lf = False
        self._answered: set[tuple[int, int]] = set()
        self.echo = False  # we announced WILL ECHO

    def feed(self, data: bytes) -> list[str]:
        """Consume received bytes; return the complete lines they finished."""
        for byte in data:
            self._byte(byte)
        lines = list(self._lines)
        self._lines.clear()
        return lines

    def data_to_send(self) -> bytes:
        """Negotiation bytes owed to the peer."""
        out, self._out = bytes(self._out), bytearray()
        return out

    def set_echo(self, on: bool) -> bytes:
        """Return the bytes announcing (WILL) or withdrawing (WONT) server echo."""
        if on == self.echo:
            return b""
        self.echo = on
        return bytes([IAC, WILL if on else WONT, ECHO])

    def _byte(self, b: int) -> None:
        state = self._state
        if state == "data":
            if b == IAC:
                self._state = "iac"
            elif b in (0x0D, 0x0A):
                if b == 0x0A and self._skip_lf:
                    self._skip_lf = False
                    return
                self._skip_lf = b == 0x0D
                self._end_line()
            elif b == 0x00 and self._skip_lf:
                self._skip_lf = False  # CR NUL
            elif b in (0x08, 0x7F):
                self._skip_lf = False
                if self._line:
                    self._line.pop()
            else:
                self._skip_lf = False
                if len(self._line) < self.max_line:
                    self._line.append(b)
        elif state == "iac":
            self._state = "data"
            if b == IAC and len(self._line) < self.max_line:
                self._line.append(b)
            elif b in (WILL, WONT, DO, DONT):
                self._command, self._state = b, "opt"
            elif b == SB:
                self._state, self._sb_len = "sb", 0
        elif state == "opt":
            self._state = "data"
            self._negotiate(self._command, b)
        elif state == "sb":
            self._sb_len += 1
            if b == IAC:
                self._state = "sb_iac"
            elif self._sb_len > _MAX_SB:
                self._state = "data"
        else:  # sb_iac
            self._state = "data" if b == SE else "sb"

    def _negotiate(self, command: int, option: int) -> None:
        if command == DO:
            if option == ECHO and self.echo:
                return  # acknowledges our WILL ECHO
            reply = WILL if option == SGA else WONT
        elif command == DONT:
            if option == ECHO:
                self.echo = False
            reply = WONT
        elif command == WILL:
            reply = DO if option == SGA else DONT
        else:  # WONT
            return
        if (reply, option) not in self._answered:
            self._answered.add((reply, option))
            self._out += bytes([IAC, reply, option])

    def _end_line(self) -> None:
        self._lines.append(self._line.decode("utf-8", "replace"))
        self._line.clear()


class _Closed(Exception):
    pass


class TelnetConsole:
    """The asyncio Telnet server around an :class:`AdminService`."""

    def __init__(self, service: AdminService) -> None:
        self.service = service
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 = any free port); return the bound port."""
        self.server = await asyncio.start_server(self._spawn, host, port, limit=4096)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop listening and end every open session."""
        if self.server is not None:
            self.server.close()
        for writer in list(self._writers):
            writer.close()  # the session sees EOF and ends on its own
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
        if self.server is not None:
            await self.server.wait_closed()

    async def _spawn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._session(reader, writer)
        except (_Closed, ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio's stream callback would report a cancelled task)
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limits = self.service.limits
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        ip, port = str(peer[0]), int(peer[1])
        slot = self.service.connect(ip, writer.close)
        if slot is None:
            writer.write(BANNER + _TOO_MANY)
            await writer.drain()
            return
        try:
            codec = TelnetCodec(limits.max_line)
            lines: deque[str] = deque()

            async def read_line(timeout: float) -> str:
                while not lines:
                    data = await asyncio.wait_for(reader.read(4096), timeout)
                    if not data:
                        raise _Closed
                    lines.extend(codec.feed(data))
                    reply = codec.data_to_send()
                    if reply:
                        writer.write(reply)
                return lines.popleft()

            async def send(data: bytes) -> None:
                writer.write(data)
                await writer.drain()

            await send(BANNER + b"login: ")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + limits.login_timeout
            for attempt in range(limits.max_login_attempts):
                user = await read_line(max(0.0, deadline - loop.time()))
                await send(codec.set_echo(True) + b"password: ")
                password = await read_line(max(0.0, deadline - loop.time()))
                await send(codec.set_echo(False) + b"\r\n")
                result = await self.service.authenticate_async(
                    user.strip(), password, via="Telnet", ip=ip, port=port, local_port=self.port
                )
                if result.ok:
                    if not self.service.logged_in(slot):
                        await send(_TOO_MANY)
                        return
                    break
                last = attempt == limits.max_login_attempts - 1
                await send(b"### Login failed\r\n" + (b"" if last else b"login: "))
            else:
                return
            cli = self.service.open_cli(result, via="Telnet", ip=ip, port=port)
            while True:
                await send(cli.prompt.encode())
                try:
                    line = await read_line(limits.idle_timeout)
                except TimeoutError:
                    self.service.timed_out(cli)
                    await send(b"\r\nSession timed out.\r\n")
                    return
                reply = cli.execute(line)
                if reply.text:
                    await send(
                        reply.text.replace("\n", "\r\n").encode("utf-8", "replace") + b"\r\n"
                    )
                if reply.close:
                    return
        finally:
            self.service.disconnect(slot)
